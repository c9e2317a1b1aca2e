# shellcheck shell=bash
# Helpers for the packaging tests (sourced, not run): a temporary folder
# removed at exit, daemons stopped at exit, free loopback ports, waiting.

# fail MESSAGE...: print and exit 1.
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# The temporary folder, and the daemons to stop when the test ends.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/treecast-package-test.XXXXXX")
daemons=()
cleanup() {
  local pid
  for pid in "${daemons[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${daemons[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP # so that cleanup runs

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_ports: prints a port P such that P, P+1 and P+2 look free on
# loopback (serve binds PUB on P, ROUTER on P+1; P+2 is for its metrics).
# Callers retry when a bind fails.
free_ports() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    if port_free "$p" && port_free "$((p + 1))" && port_free "$((p + 2))"; then
      echo "$p"
      return 0
    fi
  done
  fail "no 3 free loopback ports in a row"
}

# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds;
# returns 1 after SECONDS.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# stop PID: SIGTERM, then its exit status, which must be 0 (a clean stop).
stop() {
  local pid=$1 rc=0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || rc=$?
  local kept=()
  for p in "${daemons[@]}"; do
    [[ $p == "$pid" ]] || kept+=("$p")
  done
  daemons=("${kept[@]}")
  return "$rc"
}
