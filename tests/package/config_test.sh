#!/usr/bin/env bash
# The example configuration (packaging/treecast.toml), run the way the
# systemd units run it: the commands are the units' ExecStart= lines, with
# /usr/bin/treecast, /etc/treecast/treecast.toml and /var/lib/treecast
# pointed into a temporary folder.
#
# 1. The file as shipped (every setting commented out) is a valid config:
#    treecast-master.service's serve starts with it (given a store, a
#    loopback port and a channel) and answers `treecast status`.
# 2. Every key that treecast reads (src/cli/config.cpp's lists of known
#    keys) is in the example, in its table, and no other.
# 3. With every commented setting enabled (its absolute paths moved into the
#    temporary folder, the addresses on a free loopback port, the hooks made
#    harmless), the example is a working fleet: CURVE keys, signed versions,
#    excludes, two channels. serve and one treecast-follower@NAME per channel
#    start, a treecast-push@NAME push commits each channel, the trees equal
#    the master's folders, and everything stops cleanly on SIGTERM.
#   config_test.sh TREECAST SOURCE_DIR
set -euo pipefail

treecast=$1
src=$2
example=$src/packaging/treecast.toml
# shellcheck source=tests/package/lib.sh
source "$(dirname "$0")/lib.sh"

# dump_logs: the daemons' logs, when something failed.
dump_logs() {
  local f
  for f in "$tmp"/*.log; do
    [[ -e $f ]] && { echo "--- $f"; tail -n 30 "$f"; }
  done
  return 0
}
die() {
  dump_logs >&2
  fail "$@"
}

# unit_command UNIT INSTANCE CONFIG ROOT: the unit's ExecStart=, as words,
# into the array cmd.
unit_command() {
  local line
  line=$(sed -n 's/^ExecStart=//p' "$src/packaging/$1")
  [[ -n $line ]] || fail "no ExecStart= in $1"
  line=${line//%i/$2}
  line=${line//%%/%}
  line=${line//\/usr\/bin\/treecast/$treecast}
  line=${line//\/etc\/treecast\/treecast.toml/$3}
  line=${line//\/var\/lib\/treecast/$4\/var\/lib\/treecast}
  read -ra cmd <<<"$line"
}

# start_serve LOG STORE ARGS...: starts cmd (serve) with ARGS on a free port
# pair, retried when the port was taken meanwhile; sets port and serve_pid.
# The config may name the port: it is rewritten by the function config_for,
# if defined, before each try.
start_serve() {
  local log=$1 store=$2
  shift 2
  for _ in 1 2 3 4 5; do
    port=$(free_ports)
    if declare -F config_for >/dev/null; then
      config_for "$port"
    fi
    "${cmd[@]}" "${@//PORT/$port}" 2>"$log" &
    serve_pid=$!
    daemons+=("$serve_pid")
    if wait_for 30 "$treecast" status --store "$store"; then
      return 0
    fi
    if kill -0 "$serve_pid" 2>/dev/null; then
      die "serve runs but treecast status --store $store does not answer"
    fi
    wait "$serve_pid" || true
    grep -q "already in use" "$log" || die "serve did not start"
  done
  die "serve found no free port"
}

# 1. As shipped.
grep -Eq '^\[serve\]' "$example" || fail "the example has no [serve] table"
grep -Eq '^\[follow\]' "$example" || fail "the example has no [follow] table"
mkdir -p "$tmp/shipped/tree"
echo probe >"$tmp/shipped/tree/file"
unit_command treecast-master.service "" "$example" "$tmp/shipped"
start_serve "$tmp/shipped-serve.log" "$tmp/shipped/store" \
  --store "$tmp/shipped/store" --bind 127.0.0.1:PORT --channel "probe=$tmp/shipped/tree"
stop "$serve_pid" || die "serve did not stop cleanly on SIGTERM"
echo "the example as shipped: serve started and stopped"

# 2 and 3. Every setting enabled.
root=$tmp/root
enabled=$tmp/enabled.toml
sed -e 's/^#\([a-z[]\)/\1/' "$example" >"$tmp/uncommented.toml"
# Every key that src/cli/config.cpp reads (its lists of known keys, by
# table) is in the example, in its table.
perl -0ne 'while (/only\(\s*[^,]+,\s*"([a-z._]*)",\s*\{([^}]*)\}/g) {
    my ($table, $keys) = ($1, $2);
    print "$table$1\n" while $table ne "" && $keys =~ /"([a-z_]+)"/g;
  }' "$src/src/cli/config.cpp" | sort -u >"$tmp/known"
(($(wc -l <"$tmp/known") >= 20)) ||
  fail "could not read the known keys from src/cli/config.cpp (its r.only(...) lists): $(cat "$tmp/known")"
awk '/^\[\[.*\]\]$/ { table = substr($0, 3, length($0) - 4) "."; print table; next }
     /^\[.*\]$/ { table = substr($0, 2, length($0) - 2) "."; print table; next }
     /^[a-z_]+ = / && table != "serve.channels." { print table $1 }' "$tmp/uncommented.toml" | sed 's/\.$//' | sort -u >"$tmp/shown"
missing=$(comm -23 "$tmp/known" "$tmp/shown")
[[ -z $missing ]] || fail "keys that treecast reads but the example does not show: $missing"
unknown=$(comm -13 "$tmp/known" "$tmp/shown" | grep -vxE 'serve|follow' || true)
[[ -z $unknown ]] || fail "keys in the example that treecast does not read: $unknown"
mkdir -p "$root/var/lib/prometheus/node-exporter"
config_for() {
  sed -e "s#\"/#\"$root/#g" \
    -e "s#^bind = .*#bind = \"127.0.0.1:$1\"#" \
    -e "s#^master = .*#master = \"127.0.0.1:$1\"#" \
    -e "s#^metrics = .*#metrics = \"127.0.0.1:$(($1 + 2))\"#" \
    -e "s#^exec_splay = .*#exec_splay = \"1s\"#" \
    -e "s#^check = .*#check = 'test -f \"\$TREECAST_STAGE/nginx.conf\"'#" \
    -e "s#^exec = .*#exec = 'echo \"\$TREECAST_CHANNEL\" >>$tmp/exec.out'#" \
    -e "s#^health = .*#health = 'true'#" \
    "$tmp/uncommented.toml" >"$enabled"
}
config_for 7400
keys=$(sed -n 's#^\(key\|master_key\|sign_key\|authorized\) = "\(.*\)"#\2#p' "$enabled")
[[ $keys == *"$root/etc/treecast/"* ]] || fail "the example's keys are not in /etc/treecast"
mkdir -p "$root/etc/treecast/authorized"
"$treecast" keygen master --dir "$root/etc/treecast" >/dev/null
"$treecast" keygen master --sign --dir "$root/etc/treecast" >/dev/null
"$treecast" keygen web-1 --dir "$root/etc/treecast" >/dev/null
cp "$root/etc/treecast/web-1.pub" "$root/etc/treecast/authorized/"
for k in $keys; do
  [[ -e $k ]] || fail "the example names $k, which keygen did not make"
done
mkdir -p "$root/srv/fleet/nginx/conf.d" "$root/srv/fleet/certs"
echo "worker_processes 4;" >"$root/srv/fleet/nginx/nginx.conf"
echo "gzip on;" >"$root/srv/fleet/nginx/conf.d/gzip.conf"
echo "left out" >"$root/srv/fleet/nginx/conf.d/gzip.conf.swp"
echo "CERTIFICATE" >"$root/srv/fleet/certs/fleet.pem"
chmod 0600 "$root/srv/fleet/certs/fleet.pem"

unit_command treecast-master.service "" "$enabled" "$root"
start_serve "$tmp/serve.log" "$root/var/lib/treecast"
channels=(nginx certs)
followers=()
for ch in "${channels[@]}"; do
  unit_command treecast-follower@.service "$ch" "$enabled" "$root"
  "${cmd[@]}" 2>"$tmp/follow-$ch.log" &
  followers+=($!)
  daemons+=($!)
done
# Until both followers are alive at the master; not when one has exited.
deadline=$((SECONDS + 30))
until (($("$treecast" status --store "$root/var/lib/treecast" --json | grep -Ec '"alive": ?true') >= 2)); do
  for pid in "${followers[@]}"; do
    kill -0 "$pid" 2>/dev/null || die "a follower exited"
  done
  ((SECONDS < deadline)) || die "the followers did not reach the master"
  sleep 0.1
done
for ch in "${channels[@]}"; do
  unit_command treecast-push@.service "$ch" "$enabled" "$root"
  out=$("${cmd[@]}" 2>&1) || die "treecast-push@$ch: exit $?: $out"
  [[ $out == *"web-1"*"committed"* ]] || die "treecast-push@$ch: $out"
done
rm "$root/srv/fleet/nginx/conf.d/gzip.conf.swp" # excluded: not sent
diff -r "$root/srv/fleet/nginx" "$root/etc/nginx" || die "/etc/nginx differs from the master's"
diff -r "$root/srv/fleet/certs" "$root/etc/ssl/fleet" || die "/etc/ssl/fleet differs from the master's"
[[ -d $root/etc/.nginx.treecast ]] || die "no state folder beside /etc/nginx"
# exec_splay: the hooks run within a second of the commits.
exec_done() {
  [[ $(sort "$tmp/exec.out") == $'certs\nnginx' ]]
}
wait_for 10 exec_done || die "the exec hooks did not run once each: $(cat "$tmp/exec.out")"
metrics=$(sed -n 's/^metrics_file = "\(.*\)"/\1/p' "$enabled")
wait_for 10 test -s "$metrics" || die "serve did not write $metrics"
for pid in "${followers[@]}"; do
  stop "$pid" || die "a follower did not stop cleanly on SIGTERM"
done
stop "$serve_pid" || die "serve did not stop cleanly on SIGTERM"
# (verify waits for the follower's lock: after it stopped.)
timeout 30 "$treecast" verify "$root/etc/nginx" >/dev/null || die "treecast verify /etc/nginx"
echo "the example with every setting: a master, 2 followers, 2 pushes committed"
