#!/usr/bin/env bash
# The main job of treecast on a built-in example, from a fresh clone:
# installs what is missing, builds the Release flavour, then records an
# nginx-like configuration tree as version 1, edits it, records version 2,
# shows the log, the differences and a version, checks version 1 out into a
# new folder and verifies that it equals the tree as it was, byte for byte,
# with its modes, symlinks, empty folders and times; then carries that
# folder to version 2 with one delta, shows drift, and undoes the apply.
# Last, a fleet on loopback: a master and two followers, one with a check
# hook; three pushes, one of them refused by the check and aborted
# everywhere; the status; then everything started is stopped.
#
# Everything happens in a temporary folder, removed at exit. Exits non-zero
# if any step fails or any check does not hold.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

step() { printf '\n== %s\n' "$*"; }

step "install what is missing"
tools/setup.sh
step "build treecast (Release)"
tools/build.sh release
bin=$repo/build/release/src/cli/treecast

work=$(mktemp -d "${TMPDIR:-/tmp}/treecast-demo.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

# Shows a treecast command the way a user would type it, then runs it.
treecast() {
  local shown="\$ treecast" arg
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./:=-]+$ ]]; then
      shown+=" $arg"
    else
      shown+=" '$arg'"
    fi
  done
  printf '%s\n' "$shown"
  "$bin" "$@"
}
fail() {
  printf 'demo: FAILED: %s\n' "$*" >&2
  exit 1
}

step "build an example tree: an nginx configuration"
mkdir -p nginx/conf.d nginx/sites-available nginx/sites-enabled nginx/snippets nginx/scripts
cat >nginx/nginx.conf <<'EOF'
user www-data;
worker_processes auto;
pid /run/nginx.pid;

events {
    worker_connections 768;
}

http {
    include /etc/nginx/mime.types;
    include /etc/nginx/conf.d/*.conf;
    include /etc/nginx/sites-enabled/*;
}
EOF
cat >nginx/conf.d/gzip.conf <<'EOF'
gzip on;
gzip_types text/plain text/css application/json application/javascript;
EOF
cat >nginx/conf.d/upstreams.conf <<'EOF'
upstream app {
    server 10.0.0.11:8080;
    server 10.0.0.12:8080;
}
EOF
cat >nginx/sites-available/default <<'EOF'
server {
    listen 80 default_server;
    return 444;
}
EOF
cat >nginx/sites-available/example.org <<'EOF'
server {
    listen 80;
    server_name example.org;
    location / { proxy_pass http://app; }
}
EOF
ln -s ../sites-available/example.org nginx/sites-enabled/example.org
cat >nginx/scripts/check-and-reload.sh <<'EOF'
#!/bin/sh
nginx -t && systemctl reload nginx
EOF
chmod 0755 nginx/scripts/check-and-reload.sh
# An editor's backup file, left out with --exclude below.
cp nginx/nginx.conf 'nginx/nginx.conf~'
# nginx/snippets stays empty: empty folders are part of a version too.
find nginx | sort

step "snapshot the example tree (version 1)"
treecast snapshot nginx --store store --channel nginx --exclude '*~' -m "initial configuration"
# A pristine copy of the tree as version 1 recorded it, to compare with later.
cp -a nginx pristine-v1

step "edit the tree: modify a file, add one, rename one, chmod one"
sed -i 's/worker_connections 768/worker_connections 4096/' nginx/nginx.conf
cat >nginx/conf.d/ratelimit.conf <<'EOF'
limit_req_zone $binary_remote_addr zone=perip:10m rate=10r/s;
EOF
mv nginx/conf.d/gzip.conf nginx/conf.d/compression.conf
chmod 0640 nginx/conf.d/upstreams.conf

step "snapshot again (version 2)"
treecast snapshot nginx --store store --channel nginx --exclude '*~' -m "more workers, rate limit"

step "snapshot the unchanged tree: nothing is recorded"
out=$(treecast snapshot nginx --store store --channel nginx --exclude '*~')
printf '%s\n' "$out"
[[ $out == *unchanged* ]] || fail "a snapshot of an unchanged tree recorded a version"

step "the channel's versions, newest first"
treecast log --store store --channel nginx

step "what changed from v1 to v2"
treecast diff v1 v2 --store store --channel nginx

step "the same, as counts"
treecast diff v1 v2 --stat --store store --channel nginx

step "the latest version in full"
treecast show latest --store store --channel nginx

step "check v1 out into a new folder"
treecast checkout v1 checkout-v1 --store store --channel nginx

step "verify: the checkout equals the tree as version 1 recorded it"
# Contents, and symlinks compared as links (never followed).
diff -r --no-dereference --exclude='*~' pristine-v1 checkout-v1 ||
  fail "the checkout's contents differ from version 1"
# Type, permission bits, owner, modification time and link target of every
# entry (the tree's own root folder is not part of a version).
listing() {
  (cd "$1" && find . -mindepth 1 -not -name '*~' -printf '%y %m %u:%g %T@ %p -> %l\n' | LC_ALL=C sort)
}
diff <(listing pristine-v1) <(listing checkout-v1) ||
  fail "the checkout's modes, owners, times or symlinks differ from version 1"
[[ -L checkout-v1/sites-enabled/example.org ]] || fail "the symlink was not checked out as one"
[[ -d checkout-v1/snippets && -z "$(ls -A checkout-v1/snippets)" ]] ||
  fail "the empty folder was not checked out"
[[ $(stat -c %a checkout-v1/scripts/check-and-reload.sh) == 755 ]] ||
  fail "the script lost its mode 0755"
[[ ! -e 'checkout-v1/nginx.conf~' ]] || fail "an excluded file was recorded"
echo "checkout-v1 equals version 1: $(find checkout-v1 -mindepth 1 | wc -l) entries, contents, modes, owners, times and symlinks"

step "the checkout is a follower at v1: carry it to v2 with one delta"
treecast delta --from v1 --to v2 -o v1-v2.delta --store store --channel nginx
treecast apply v1-v2.delta checkout-v1
treecast verify checkout-v1
diff <(cd nginx && find . -mindepth 1 -not -name '*~' -printf '%y %m %T@ %p -> %l\n' | LC_ALL=C sort) \
  <(cd checkout-v1 && find . -mindepth 1 -printf '%y %m %T@ %p -> %l\n' | LC_ALL=C sort) ||
  fail "the follower's tree differs from version 2"
diff -r --no-dereference --exclude='*~' nginx checkout-v1 ||
  fail "the follower's contents differ from version 2"
echo "checkout-v1 equals version 2"

step "a hand edit is drift: verify names it (and apply would refuse the tree)"
echo "# edited by hand" >>checkout-v1/nginx.conf
if treecast verify checkout-v1; then fail "verify missed a hand edit"; fi

step "undo: back to v1 in one swap (the edit went with v2's tree)"
treecast undo checkout-v1
diff <(listing pristine-v1) <(listing checkout-v1) || fail "undo did not bring version 1 back"
echo "checkout-v1 equals version 1 again"

# A port P with P and P+1 free on loopback.
free_ports() {
  local p
  for ((p = 20000 + RANDOM % 20000; ; p += 2)); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null &&
      ! (exec 3<>"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}
# Waits up to 30 s for a command to succeed.
wait_for() {
  local i
  for ((i = 0; i < 300; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}
alive_followers() {
  [[ $("$bin" status --store store --json | grep -c '"alive": true') -ge $1 ]]
}

step "a fleet on loopback: a master and two followers (web-2 checks nginx.conf)"
port=$(free_ports)
echo "\$ treecast serve --store store --channel nginx=nginx --exclude '*~' --bind 127.0.0.1:$port &"
"$bin" serve --store store --channel nginx=nginx --exclude '*~' --bind "127.0.0.1:$port" 2>serve.log &
pids+=($!)
check='grep -Eq "^worker_processes (auto|[0-9]+);" "$TREECAST_STAGE/nginx.conf" || { echo "nginx.conf: worker_processes must be auto or a number" >&2; exit 1; }'
echo "\$ treecast follow --master 127.0.0.1:$port --channel nginx --dir web-1 --id web-1 &"
"$bin" follow --master "127.0.0.1:$port" --channel nginx --dir web-1 --id web-1 2>web-1.log &
pids+=($!)
echo "\$ treecast follow --master 127.0.0.1:$port --channel nginx --dir web-2 --id web-2 --check '...' &"
"$bin" follow --master "127.0.0.1:$port" --channel nginx --dir web-2 --id web-2 --check "$check" 2>web-2.log &
pids+=($!)
wait_for alive_followers 2 || fail "the followers did not reach the master: $(cat serve.log)"

step "push: the folder is v2; every follower fetches one delta, stages it, checks it, votes; v2 commits everywhere"
treecast push nginx --store store
for f in web-1 web-2; do
  diff -r --no-dereference --exclude='*~' nginx "$f" || fail "$f differs from the master's tree"
done
echo "web-1 and web-2 equal the master's tree"

step "a bad edit: web-2's check refuses it, so nobody takes it (exit 7)"
cp nginx/nginx.conf nginx.conf.good
sed -i 's/^worker_processes auto;/worker_processes many;/' nginx/nginx.conf
rc=0
treecast push nginx --store store --timeout 20s || rc=$?
[[ $rc == 7 ]] || fail "push of a refused version exited $rc, not 7"
grep -q "worker_processes auto;" web-1/nginx.conf || fail "web-1 took the refused version"
echo "push exited 7; web-1 and web-2 still hold v2"

step "fixed: the next push commits everywhere"
cp nginx.conf.good nginx/nginx.conf
sed -i 's/^worker_processes auto;/worker_processes 4;/' nginx/nginx.conf
treecast push nginx --store store -m "four workers"
for f in web-1 web-2; do
  wait_for diff -r --no-dereference --exclude='*~' nginx "$f" || fail "$f did not take the fix"
done
treecast status --store store

step "stop the master and the followers"
for pid in "${pids[@]}"; do kill "$pid"; done
for pid in "${pids[@]}"; do wait "$pid" || true; done
pids=()
echo "stopped"

step "drop all but the newest version, and the content only v1 used"
treecast gc --keep 1 --store store --channel nginx
treecast log --store store --channel nginx

printf '\ndemo passed\n'
