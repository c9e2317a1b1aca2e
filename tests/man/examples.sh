#!/usr/bin/env bash
# Runs every example of the man pages (man/README.md says which blocks are
# examples, and what the "example:" comments before them mean): each page in
# a sandbox of its own, with the given treecast first in PATH, loopback only.
#
# usage: examples.sh [--keep] [--verbose] TREECAST MANDIR [PAGE...]
#   --keep     leave the sandboxes (their folder is printed), for a look
#   --verbose  print every example as it ran, and its output
# Exit status 0 when every example ran as it should; 1 otherwise, after
# saying which page, which example, and what it printed.
set -uo pipefail

keep=0
verbose=0
while [[ ${1-} == --* ]]; do
  case $1 in
  --keep) keep=1 ;;
  --verbose) verbose=1 ;;
  *) break ;;
  esac
  shift
done
if (($# < 2)); then
  echo "usage: $0 [--keep] [--verbose] TREECAST MANDIR [PAGE...]" >&2
  exit 2
fi
treecast_bin=$(realpath -- "$1")
mandir=$(realpath -- "$2")
shift 2
pages=()
for p in "$@"; do
  pages+=("$(realpath -- "$p")")
done
if ((${#pages[@]} == 0)); then
  pages=("$mandir"/*.[1-8])
fi
[[ -x $treecast_bin ]] || { echo "examples: $treecast_bin is not executable" >&2; exit 2; }
for tool in groff setsid timeout awk sed flock; do
  command -v "$tool" >/dev/null || { echo "examples: $tool is missing" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/treecast-man.XXXXXX")
[[ $work =~ ^[A-Za-z0-9/._-]+$ ]] || { echo "examples: odd temporary folder $work" >&2; exit 2; }

# Process groups started for the current page (each example, setup and
# daemon runs in a session of its own): stopped when the page ends, or on
# any exit of this script.
groups=()
stop_groups() {
  local g alive deadline=$((SECONDS + 5))
  for g in "${groups[@]}"; do
    kill -TERM -- "-$g" 2>/dev/null
  done
  while ((SECONDS < deadline)); do
    alive=0
    for g in "${groups[@]}"; do
      kill -0 -- "-$g" 2>/dev/null && alive=1
    done
    ((alive)) || break
    sleep 0.05
  done
  for g in "${groups[@]}"; do
    kill -KILL -- "-$g" 2>/dev/null
  done
  groups=()
}
cleanup() {
  stop_groups
  [[ -n ${watchdog-} ]] && kill "$watchdog" 2>/dev/null
  if ((keep)); then
    echo "examples: sandboxes kept in $work" >&2
  else
    rm -rf -- "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Should this script be killed (a ctest timeout sends SIGKILL), a watchdog
# in a session of its own stops what the examples started, and removes the
# sandboxes.
setsid bash -c '
  while kill -0 "$1" 2>/dev/null; do sleep 1; done
  for f in "$2"/*.root/.tc/groups; do
    [[ -f $f ]] || continue
    while read -r g; do kill -KILL -- "-$g" 2>/dev/null; done <"$f"
  done
  (($3)) || rm -rf -- "$2"
' watchdog "$$" "$work" "$keep" </dev/null >/dev/null 2>&1 &
watchdog=$!

# Functions for the examples' hidden setup lines and readiness checks;
# every bash in the sandbox reads this file (BASH_ENV).
cat >"$work/prelude.sh" <<'EOF'
# wait_for COMMAND...: until COMMAND succeeds, 20 s at most.
wait_for() {
  local end=$((SECONDS + 20))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= end)); then
      echo "wait_for: '$*' still fails after 20 s" >&2
      return 1
    fi
    sleep 0.05
  done
}
# stop_daemons: stop what the page's examples started so far (not the
# caller's own process group).
stop_daemons() {
  local own g end=$((SECONDS + 5)) alive
  own=$(awk '{ print $5 }' /proc/$$/stat)
  while read -r g; do
    [[ $g == "$own" ]] && continue
    echo "$g" >>"$TC_ROOT/.tc/stopped"
    kill -TERM -- "-$g" 2>/dev/null || true # gone already, or stopped before
  done <"$TC_ROOT/.tc/groups"
  while ((SECONDS < end)); do
    alive=0
    while read -r g; do
      [[ $g != "$own" ]] && kill -0 -- "-$g" 2>/dev/null && alive=1
    done <"$TC_ROOT/.tc/groups"
    ((alive)) || break
    sleep 0.05
  done
  if ((alive)); then
    echo "stop_daemons: still running after 5 s" >&2
    return 1
  fi
  # A serve's lock goes with its process; wait for that too, so that the
  # next example's serve never finds its store taken.
  local lock
  while read -r lock; do
    while ! flock -n "$lock" true 2>/dev/null; do
      if ((SECONDS >= end)); then
        echo "stop_daemons: $lock still held after 5 s" >&2
        return 1
      fi
      sleep 0.05
    done
  done < <(find "$TC_ROOT" -name serve.lock 2>/dev/null)
  return 0
}
EOF

# serve, follow and sync read /etc/treecast/treecast.toml when no --config
# is given: in the sandbox, they read ROOT/etc/treecast/treecast.toml (or
# none), never the host's.
default_config=0
if "$treecast_bin" serve --help 2>/dev/null | grep -q '/etc/treecast/treecast.toml'; then
  default_config=1
fi

# A free pair of TCP ports (PORT, PORT+1) on this host, below the ephemeral
# range: none in any state in /proc/net/tcp{,6}.
free_port_pair() {
  local used p tries
  used=" $(awk 'FNR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    while read -r h; do printf '%d ' $((16#$h)); done) "
  for ((tries = 0; tries < 200; tries++)); do
    p=$((20000 + RANDOM % 12000))
    if [[ $used != *" $p "* && $used != *" $((p + 1)) "* ]]; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# Fixtures and stand-ins for one page's sandbox ROOT.
make_sandbox() {
  local root=$1
  mkdir -p "$root"/{etc/nginx/conf.d,etc/nginx/sites-available,etc/nginx/sites-enabled} \
    "$root"/{etc/nginx/snippets,etc/ssl,srv/fleet/nginx,srv/fleet/certs,tmp,var/lib,run} \
    "$root"/{home/op/site,bin,.tc}
  : >"$root/.tc/groups"
  : >"$root/.tc/stopped"
  local n=$root/etc/nginx
  cat >"$n/nginx.conf" <<'EOF'
user www-data;
worker_processes 1;
events { worker_connections 512; }
http {
    include mime.types;
    include conf.d/*.conf;
    include sites-enabled/*;
}
EOF
  printf 'types { text/html html; text/css css; }\n' >"$n/mime.types"
  printf 'gzip on;\n' >"$n/conf.d/gzip.conf"
  printf 'upstream app { server 127.0.0.1:8080; }\n' >"$n/conf.d/upstreams.conf"
  printf 'server { listen 80; root /var/www/html; }\n' >"$n/sites-available/default"
  ln -s ../sites-available/default "$n/sites-enabled/default"
  printf 'ssl_protocols TLSv1.2 TLSv1.3;\n' >"$n/snippets/ssl.conf"
  cp -a "$n/." "$root/srv/fleet/nginx/"
  printf -- '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' \
    >"$root/srv/fleet/certs/fleet.pem"
  printf -- '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n' \
    >"$root/srv/fleet/certs/fleet.key"
  chmod 0600 "$root/srv/fleet/certs/fleet.key"
  printf '<h1>hello</h1>\n' >"$root/home/op/site/index.html"

  # treecast: the one under test; for serve, follow and sync, with the
  # sandbox's default configuration file.
  cat >"$root/bin/treecast" <<EOF
#!/usr/bin/env bash
real='$treecast_bin'
i=1
for a in "\$@"; do
  [[ \$a == -* ]] || break
  i=\$((i + 1))
done
case "\${!i-}" in
serve | follow | sync)
  for a in "\$@"; do
    case \$a in --config | --config=*) exec "\$real" "\$@" ;; esac
  done
  if [[ -f \$TC_ROOT/etc/treecast/treecast.toml ]]; then
    exec "\$real" "\${@:1:i}" --config "\$TC_ROOT/etc/treecast/treecast.toml" "\${@:i+1}"
  elif (($default_config)); then
    exec "\$real" "\${@:1:i}" --config '' "\${@:i+1}"
  fi
  ;;
esac
exec "\$real" "\$@"
EOF
  cat >"$root/bin/nginx" <<'EOF'
#!/bin/sh
# nginx, as far as the examples need it: -t checks that the configuration
# exists and knows no "unknown_directive"; anything else is logged.
conf= prefix= test= quiet=
echo "nginx $*" >>"$TC_ROOT/.tc/stand-ins.log"
while [ $# -gt 0 ]; do
  case $1 in
  -t) test=1 ;;
  -q) quiet=1 ;;
  -p) prefix=$2; shift ;;
  -c) conf=$2; shift ;;
  esac
  shift
done
[ -n "$test" ] || exit 0
[ -n "$conf" ] || conf=${prefix:-$TC_ROOT/etc/nginx}/nginx.conf
if [ ! -f "$conf" ]; then
  echo "nginx: [emerg] open() \"$conf\" failed (2: No such file or directory)" >&2
  exit 1
fi
if grep -q unknown_directive "$conf"; then
  echo "nginx: [emerg] unknown directive \"unknown_directive\" in $conf" >&2
  exit 1
fi
[ -n "$quiet" ] || echo "nginx: the configuration file $conf syntax is ok" >&2
exit 0
EOF
  cat >"$root/bin/systemctl" <<'EOF'
#!/bin/sh
echo "systemctl $*" >>"$TC_ROOT/.tc/stand-ins.log"
EOF
  for tool in ssh scp; do
    printf '#!/bin/sh\necho "%s: no other host in the sandbox of the man page examples" >&2\nexit 255\n' \
      "$tool" >"$root/bin/$tool"
  done
  chmod +x "$root"/bin/*
}

# Paths, ports and hosts of an example, moved into the sandbox.
# (A path ends at / or at the end of a word: the rule runs twice, for two
# paths one character apart; @@ROOT@@ keeps it from matching its own work.)
rewrite() {
  local before="(^|[[:space:]\"'=:(,<>|;])"
  local dir="$before/(etc|srv|tmp)(/|\$|[[:space:]\"';)|])"
  sed -E \
    -e "s#$dir#\1@@ROOT@@/\2\3#g" -e "s#$dir#\1@@ROOT@@/\2\3#g" \
    -e "s#$before/(var/lib/treecast|var/lib/prometheus|run/treecast)#\1@@ROOT@@/\2#g" \
    -e "s#@@ROOT@@#$ROOT#g" \
    -e "s#\\b7400\\b#$PORT#g" -e "s#\\b7401\\b#$((PORT + 1))#g" -e "s#\\b9470\\b#$METRICS_PORT#g" \
    -e 's#\b0\.0\.0\.0\b#127.0.0.1#g' -e 's#\bmaster\.example\.com\b#127.0.0.1#g'
}

# The first path outside the sandbox that a rewritten text still names.
unsandboxed() {
  local text=${1//$ROOT/SANDBOX}
  grep -oE "(^|[^[:alnum:]_.~\$/-])/(etc|var|srv|run|tmp|home|root|opt)(/[^[:space:]\"';)]*)?" \
    <<<"$text" | head -n 1
}

# Extract a page's examples into DIR: for example N, N.txt (as rendered),
# N.meta (section, line, then one directive a line) and N.setup.
extract() {
  local page=$1 dir=$2
  awk -v dir="$dir" '
    function flush_meta(   i) {
      printf "%s\n%d\n", sect, start > (dir "/" n ".meta")
      for (i = 1; i <= nd; i++) print dirs[i] > (dir "/" n ".meta")
      close(dir "/" n ".meta")
      printf "" > (dir "/" n ".setup")
      for (i = 1; i <= ns; i++) print setups[i] > (dir "/" n ".setup")
      close(dir "/" n ".setup")
    }
    /^\.SH[ \t]/ {
      sect = $0; sub(/^\.SH[ \t]+/, "", sect); gsub(/"/, "", sect)
    }
    /^\.\\" example: / {
      d = $0; sub(/^\.\\" example: +/, "", d)
      if (d ~ /^setup( |$)/) { sub(/^setup ?/, "", d); setups[++ns] = d }
      else dirs[++nd] = d
      pending = 1
      next
    }
    /^\.EX([ \t]|$)/ { inex = 1; start = FNR; body = ""; next }
    /^\.EE([ \t]|$)/ {
      inex = 0
      if (sect ~ /^EXAMPLES?$/ || pending) {
        n++
        flush_meta()
        roff = roff ".EX\n@@TCBEGIN " n "@@\n" body "@@TCEND@@\n.EE\n"
      }
      nd = 0; ns = 0; pending = 0
      next
    }
    inex { body = body $0 "\n" }
    END {
      if (pending) { print "example: comments after the last block, line " FNR > "/dev/stderr"; exit 1 }
      printf "%d\n", n > (dir "/count")
      printf "%s", roff > (dir "/blocks.body")
    }
  ' "$page" || return 1
  # The escapes for ASCII come out as ASCII; unescaped -, ' and ` come out
  # as typographic characters (not ASCII), as groff renders them on most
  # systems, so that the check below finds them.
  {
    cat <<'EOF'
.TH X 1
.char - \[hy]
.char ' \[cq]
.char ` \[oq]
.char \- \N'45'
.char \(aq \N'39'
.char \(ga \N'96'
.char \(dq \N'34'
.char \(ti \N'126'
.char \(ha \N'94'
EOF
    cat "$dir/blocks.body"
  } >"$dir/blocks.roff"
  # As a reader sees them: unescaped -, ' and ` come out as typographic
  # characters (not ASCII), as groff renders them on most systems.
  GROFF_NO_SGR=1 groff -man -Tutf8 -rLL=250n -P-c -P-b -P-u "$dir/blocks.roff" 2>"$dir/groff.err" |
    awk -v dir="$dir" '
      /^@@TCBEGIN [0-9]+@@$/ { n = $2; sub(/@@$/, "", n); f = dir "/" n ".txt"; printf "" > f; next }
      /^@@TCEND@@$/ { close(f); f = ""; next }
      f != "" { print > f }
    '
}

total_run=0
total_skipped=0
failures=0
skip_report=()

fail() { # page number what output-file...
  local page=$1 n=$2 what=$3
  shift 3
  failures=$((failures + 1))
  {
    echo "FAIL: $page: example $n ($(sed -n 1p "$ex/$n.meta"), line $(sed -n 2p "$ex/$n.meta")): $what"
    echo "--- the example, as rendered:"
    sed 's/^/    /' "$ex/$n.txt"
    local f
    for f in "$@"; do
      [[ -s $f ]] || continue
      echo "--- $(basename "$f"):"
      tail -n 60 "$f" | sed 's/^/    /'
    done
    echo
  } >&2
}

for page in "${pages[@]}"; do
  name=$(basename "$page")
  ex=$work/$name.examples
  mkdir -p "$ex"
  if ! extract "$page" "$ex"; then
    echo "FAIL: $name: cannot read its examples" >&2
    failures=$((failures + 1))
    continue
  fi
  count=$(cat "$ex/count")
  ((count > 0)) || continue

  ROOT=$work/$name.root
  PORT=$(free_port_pair) || { echo "examples: no free port pair" >&2; exit 1; }
  # And one for serve --metrics (9470 in the examples), apart from the pair.
  METRICS_PORT=$(free_port_pair) || { echo "examples: no free port" >&2; exit 1; }
  while ((METRICS_PORT >= PORT - 1 && METRICS_PORT <= PORT + 1)); do
    METRICS_PORT=$(free_port_pair) || { echo "examples: no free port" >&2; exit 1; }
  done
  make_sandbox "$ROOT"
  export TC_ROOT=$ROOT HOME=$ROOT/home/op TREECAST_STORE=$ROOT/var/lib/treecast
  export TMPDIR=$ROOT/tmp BASH_ENV=$work/prelude.sh LC_ALL=C.UTF-8
  export PATH=$ROOT/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  unset JOURNAL_STREAM NOTIFY_SOCKET
  cd "$ROOT/home/op" || exit 1
  run=0
  skipped=0
  daemons=()

  for ((n = 1; n <= count; n++)); do
    out=$ROOT/.tc/$n.out
    : >"$out"
    mapfile -t directives < <(tail -n +3 "$ex/$n.meta")
    kind=run status=0 ready='' file='' reason='' needs=()
    bad=
    for d in "${directives[@]}"; do
      word=${d%% *}
      arg=
      [[ $d == *" "* ]] && arg=${d#* }
      case $word in
      skip) kind=skip reason=$arg; [[ -n $reason ]] || bad="example: skip needs a reason" ;;
      needs) read -ra needs <<<"$arg"; ((${#needs[@]})) || bad="example: needs names no program" ;;
      status) status=$arg; [[ $status =~ ^[0-9]+$ ]] || bad="example: status needs a number" ;;
      daemon) kind=daemon ready=$arg; [[ -n $ready ]] || bad="example: daemon needs a READY command" ;;
      cron) kind=cron ;;
      file) kind=file file=$arg; [[ -n $file ]] || bad="example: file needs a PATH" ;;
      *) bad="unknown comment 'example: $d'" ;;
      esac
    done
    if [[ -n $bad ]]; then
      fail "$name" "$n" "$bad"
      continue
    fi
    if LC_ALL=C grep -q '[^[:print:][:space:]]' "$ex/$n.txt"; then
      LC_ALL=C grep -n '[^[:print:][:space:]]' "$ex/$n.txt" >"$out"
      fail "$name" "$n" "it renders with characters that are not ASCII: write \\- for -, \\(aq for ', \\(ga for \`" "$out"
      continue
    fi
    if [[ $kind == skip ]]; then
      skipped=$((skipped + 1))
      skip_report+=("$name: example $n: $reason")
      continue
    fi
    missing=
    for need in "${needs[@]}"; do
      if [[ $need == *:* ]]; then
        "${need%%:*}" -c "import ${need#*:}" >/dev/null 2>&1 || missing+=" $need"
      else
        command -v "$need" >/dev/null || missing+=" $need"
      fi
    done
    if [[ -n $missing ]]; then
      skipped=$((skipped + 1))
      skip_report+=("$name: example $n: needs$missing, not installed here")
      continue
    fi

    text=$(rewrite <"$ex/$n.txt")
    setup=$(rewrite <"$ex/$n.setup")
    ready=$(rewrite <<<"$ready")
    where=$(unsandboxed "$text"$'\n'"$setup"$'\n'"$ready")
    if [[ -n $where ]]; then
      fail "$name" "$n" "it names a path outside the sandbox, $where (see man/README.md for the paths that are rewritten)"
      continue
    fi

    if [[ -n $setup ]]; then
      setsid timeout -k 5 60 bash -e -o pipefail -c "$setup" >"$ROOT/.tc/$n.setup.out" 2>&1 </dev/null &
      groups+=($!)
      echo "$!" >>"$ROOT/.tc/groups"
      wait $!
      rc=$?
      if ((rc != 0)); then
        printf '%s\n' "$setup" >"$ROOT/.tc/$n.setup"
        fail "$name" "$n" "its hidden setup failed with exit status $rc" "$ROOT/.tc/$n.setup" \
          "$ROOT/.tc/$n.setup.out" "$ROOT"/home/op/*.log
        continue
      fi
    fi

    case $kind in
    file)
      target=$(rewrite <<<"$file")
      [[ $target == /* ]] || target=$HOME/$target
      mkdir -p "$(dirname "$target")"
      printf '%s\n' "$text" >"$target"
      run=$((run + 1))
      ;;
    daemon)
      setsid bash -e -o pipefail -c "$text" >"$out" 2>&1 </dev/null &
      pid=$!
      groups+=("$pid")
      echo "$pid" >>"$ROOT/.tc/groups"
      deadline=$((SECONDS + 20))
      ok=0
      while ((SECONDS < deadline)); do
        if bash -c "$ready" >/dev/null 2>&1; then
          ok=1
          break
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
      done
      if ((ok)) && ! kill -0 "$pid" 2>/dev/null; then
        ok=0
      fi
      if ((!ok)); then
        if kill -0 "$pid" 2>/dev/null; then
          fail "$name" "$n" "the daemon was not ready within 20 s (ready when: $ready)" "$out"
        else
          wait "$pid"
          fail "$name" "$n" "the daemon exited, status $?, before it was ready (ready when: $ready)" "$out"
        fi
        continue
      fi
      daemons+=("$pid:$n")
      run=$((run + 1))
      ;;
    cron)
      cron_ok=1
      while IFS= read -r line; do
        [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
        if [[ $line =~ ^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*= ]]; then
          echo "cron: variables are not supported here: $line" >>"$out"
          cron_ok=0
          break
        fi
        if [[ $line =~ ^[[:space:]]*(@[a-z]+|[^[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+[^[:space:]]+[[:space:]]+[^[:space:]]+)[[:space:]]+([a-z_][a-z0-9_-]*)[[:space:]]+(.+)$ ]]; then
          command=${BASH_REMATCH[3]}
        else
          echo "cron: not a line of /etc/cron.d (time, user, command): $line" >>"$out"
          cron_ok=0
          break
        fi
        if [[ ${command//\\%/} == *%* ]]; then
          echo "cron: an unescaped % ends the command there (cron passes the rest as input): write \\%" >>"$out"
          cron_ok=0
          break
        fi
        command=${command//\\%/%}
        echo "\$ $command" >>"$out"
        setsid timeout -k 5 60 sh -c "$command" >>"$out" 2>&1 </dev/null &
        groups+=($!)
        echo "$!" >>"$ROOT/.tc/groups"
        wait $!
        rc=$?
        if ((rc != 0)); then
          echo "(exit status $rc)" >>"$out"
          cron_ok=0
          break
        fi
      done <<<"$text"
      if ((!cron_ok)); then
        fail "$name" "$n" "a cron line failed" "$out"
        continue
      fi
      run=$((run + 1))
      ;;
    run)
      setsid timeout -k 5 60 bash -e -o pipefail -c "$text" >"$out" 2>&1 </dev/null &
      groups+=($!)
      echo "$!" >>"$ROOT/.tc/groups"
      wait $!
      rc=$?
      if ((rc == 124)); then
        fail "$name" "$n" "it did not finish within 60 s" "$out"
        continue
      fi
      if ((rc != status)); then
        fail "$name" "$n" "exit status $rc, expected $status" "$out"
        continue
      fi
      run=$((run + 1))
      ;;
    esac
    if ((verbose)); then
      echo "--- $name: example $n ($kind):"
      printf '%s\n' "$text" | sed 's/^/    $ /'
      sed 's/^/    /' "$out"
    fi
  done
  # A daemon that died while the page's examples ran failed too.
  for d in "${daemons[@]}"; do
    pid=${d%%:*}
    n=${d#*:}
    if ! kill -0 "$pid" 2>/dev/null && ! grep -qx "$pid" "$ROOT/.tc/stopped"; then
      wait "$pid"
      fail "$name" "$n" "the daemon exited, status $?, while the page's examples ran" "$ROOT/.tc/$n.out"
    fi
  done
  stop_groups
  echo "$name: $run run, $skipped skipped"
  total_run=$((total_run + run))
  total_skipped=$((total_skipped + skipped))
  cd "$work" || exit 1
done

for s in "${skip_report[@]}"; do
  echo "skipped: $s"
done
echo "examples: $total_run run, $total_skipped skipped, $failures failed"
((failures == 0))
