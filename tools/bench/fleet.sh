#!/usr/bin/env bash
# Benchmark of a push to a fleet (issue 4, "Benchmark"): N followers on
# loopback take one typescript release change (5.3.3 -> 5.6.3); treecast's
# push against N rsync clients pulling the same change at once from an rsync
# daemon. Not part of the test suite.
#
#   tools/bench/fleet.sh                 # N = 1, 8, 32; 3 runs each; the 1 GiB follower check
#   FLEET="1 8" RUNS=1 tools/bench/fleet.sh
#   BIG_MB=0 tools/bench/fleet.sh        # without the 1 GiB follower check
#
# Settings (environment):
#   FLEET="1 8 32"  fleet sizes
#   RUNS=3          runs per size and tool; the tables show medians
#   BIG_MB=1024     size of the new file of the memory check: one follower
#                   receives a delta of that much incompressible content and
#                   its peak resident memory (VmHWM) is read; 0 skips it
#   WORK=           work folder (default: mktemp -d under /var/tmp; removed at exit)
#   TREECAST=       benchmark this binary instead of building one
#
# Measured, per run: time to converge (treecast: from push to the push's end,
# which waits for every follower's ack; rsync: from start to the last client's
# end), the master's CPU seconds (treecast serve's utime+stime; the rsync
# daemon's children's cutime+cstime), and bytes sent (treecast: the delta's
# size per follower that fetched it, plus the PREPARE; rsync: each client's
# "total bytes received"). Every follower's tree is checked against 5.6.3.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FLEET=${FLEET:-1 8 32}
RUNS=${RUNS:-3}
BIG_MB=${BIG_MB:-1024}
STAMP=$(date +%Y%m%dT%H%M%S)
RESULTS=${RESULTS:-$ROOT/build/bench-results/fleet-$STAMP.md}
CACHE=$ROOT/build/bench-cache

say() { printf '%s\n' "$*" >&2; }
die() {
  say "fleet.sh: $*"
  exit 1
}

if [[ -z ${WORK:-} ]]; then
  WORK=$(mktemp -d /var/tmp/treecast-fleet.XXXXXX)
fi
mkdir -p "$WORK" "$CACHE" "$(dirname "$RESULTS")"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

say "== setup"
"$ROOT/tools/setup.sh" --bench
if [[ -z ${TREECAST:-} ]]; then
  "$ROOT/tools/build.sh" release >/dev/null
  TREECAST=$ROOT/build/release/src/cli/treecast
fi

fetch_ts() {
  local v=$1 tgz=$CACHE/typescript-$1.tgz tmp
  if [[ ! -s $tgz ]]; then
    tmp=$(mktemp -d "$CACHE/.pack.XXXXXX")
    (cd "$tmp" && npm pack --silent "typescript@$v" >/dev/null) || die "npm pack typescript@$v failed"
    mv "$tmp/typescript-$v.tgz" "$tgz"
    rmdir "$tmp"
  fi
  mkdir -p "$WORK/ts-$v"
  tar -xzf "$tgz" -C "$WORK/ts-$v" --strip-components=1 --no-same-owner
}
fetch_ts 5.3.3
fetch_ts 5.6.3
OLD=$WORK/ts-5.3.3
NEW=$WORK/ts-5.6.3
# npm's tarballs give every file the same time: the files that changed get
# a new one, as an edit gives them (rsync's quick check relies on it).
(cd "$NEW" && find . -type f -print0 | while IFS= read -r -d '' f; do
  cmp -s "$f" "$OLD/$f" || touch -d '2024-09-09 12:00:00' "$f"
done)

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
# CPU seconds of a process (self), or of its reaped children.
ticks=$(getconf CLK_TCK)
cpu_self() { awk -v t="$ticks" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$1/stat"; }
cpu_children() { awk -v t="$ticks" '{ printf "%.3f", ($16 + $17) / t }' "/proc/$1/stat"; }
now() { echo "$EPOCHREALTIME"; }
wait_for() {
  local i
  for ((i = 0; i < 600; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}
alive() { [[ $("$TREECAST" status --store "$1" --json | grep -c '"alive": true') -ge $2 ]]; }
same() { diff -r --no-dereference "$NEW" "$1" >/dev/null; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

RAW=$WORK/runs.tsv
: >"$RAW"

run_treecast() {
  local n=$1 run=$2 d=$WORK/tc-$1-$2 port i t0 t1 c0 c1 delta bytes
  mkdir -p "$d"
  cp -a "$OLD" "$d/src"
  port=$(free_ports)
  "$TREECAST" serve --store "$d/store" --channel "ts=$d/src" --bind "127.0.0.1:$port" 2>"$d/serve.log" &
  local serve=$!
  PIDS+=("$serve")
  for ((i = 0; i < n; i++)); do
    "$TREECAST" follow --master "127.0.0.1:$port" --channel ts --dir "$d/f$i" --id "f$i" 2>"$d/f$i.log" &
    PIDS+=($!)
  done
  wait_for alive "$d/store" "$n" || die "treecast: $n followers did not come"
  "$TREECAST" push ts --store "$d/store" >/dev/null || die "treecast: the first push failed"
  rsync -a --delete --checksum "$NEW/" "$d/src/"
  c0=$(cpu_self "$serve")
  t0=$(now)
  "$TREECAST" push ts --store "$d/store" --timeout 600s >"$d/push.out" || die "treecast: the push failed: $(cat "$d/push.out")"
  t1=$(now)
  c1=$(cpu_self "$serve")
  for ((i = 0; i < n; i++)); do
    wait_for same "$d/f$i" || die "treecast: f$i differs from 5.6.3"
  done
  # The delta of this push: the newest in the cache (the first push's, from
  # nothing, is older).
  delta=$(ls -t "$d/store/deltas" | head -1)
  bytes=$(($(stat -c %s "$d/store/deltas/$delta") * n))
  printf 'treecast\t%s\t%s\t%s\t%s\t%s\n' "$n" "$run" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" \
    "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')" "$bytes" >>"$RAW"
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
  rm -rf "$d"
}

run_rsync() {
  local n=$1 run=$2 d=$WORK/rs-$1-$2 port i t0 t1 c0 c1 bytes=0
  mkdir -p "$d"
  port=$(free_ports)
  cat >"$d/rsyncd.conf" <<EOF
port = $port
address = 127.0.0.1
use chroot = no
max connections = 0
pid file = $d/rsyncd.pid
[ts]
path = $NEW
read only = yes
EOF
  rsync --daemon --no-detach --config="$d/rsyncd.conf" 2>"$d/rsyncd.log" &
  local daemon=$!
  PIDS+=("$daemon")
  wait_for bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || die "rsync daemon did not start"
  for ((i = 0; i < n; i++)); do cp -a "$OLD" "$d/f$i"; done
  c0=$(cpu_children "$daemon")
  t0=$(now)
  for ((i = 0; i < n; i++)); do
    rsync -a --delete -z --zc=zstd --stats "rsync://127.0.0.1:$port/ts/" "$d/f$i/" >"$d/f$i.stats" &
  done
  wait_children() { local p; for p in $(jobs -p); do [[ $p == "$daemon" ]] || wait "$p"; done; }
  for ((i = 0; i < n; i++)); do wait -n || true; done
  t1=$(now)
  sleep 0.2
  c1=$(cpu_children "$daemon")
  for ((i = 0; i < n; i++)); do
    same "$d/f$i" || die "rsync: f$i differs from 5.6.3"
    bytes=$((bytes + $(awk '/^Total bytes received/ { gsub(",", "", $4); print $4 }' "$d/f$i.stats")))
  done
  printf 'rsync\t%s\t%s\t%s\t%s\t%s\n' "$n" "$run" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" \
    "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')" "$bytes" >>"$RAW"
  kill "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
  PIDS=()
  rm -rf "$d"
}

for n in $FLEET; do
  for ((run = 1; run <= RUNS; run++)); do
    say "== $n followers, run $run: treecast"
    run_treecast "$n" "$run"
    say "== $n followers, run $run: rsync"
    run_rsync "$n" "$run"
  done
done

# One follower, a delta of BIG_MB of new content: its peak resident memory.
big_rss=n/a
big_note="skipped (BIG_MB=0)"
if ((BIG_MB > 0)); then
  say "== one follower receives a $BIG_MB MiB delta"
  d=$WORK/big
  mkdir -p "$d/src"
  head -c 1024 /dev/urandom >"$d/src/file"
  port=$(free_ports)
  "$TREECAST" serve --store "$d/store" --channel "big=$d/src" --bind "127.0.0.1:$port" 2>"$d/serve.log" &
  PIDS+=($!)
  "$TREECAST" follow --master "127.0.0.1:$port" --channel big --dir "$d/f" --id f 2>"$d/f.log" &
  follower=$!
  PIDS+=("$follower")
  wait_for alive "$d/store" 1 || die "big: the follower did not come"
  "$TREECAST" push big --store "$d/store" >/dev/null || die "big: the first push failed"
  head -c $((BIG_MB << 20)) /dev/urandom >"$d/src/file"
  t0=$(now)
  "$TREECAST" push big --store "$d/store" --timeout 1800s >"$d/push.out" || die "big: the push failed"
  t1=$(now)
  cmp -s "$d/src/file" "$d/f/file" || die "big: the follower's file differs"
  big_rss=$(awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$follower/status")
  big_delta=$(ls -t "$d/store/deltas" | head -1)
  big_note="delta $(awk -v b="$(stat -c %s "$d/store/deltas/$big_delta")" 'BEGIN { printf "%.1f MiB", b / 1048576 }'), push $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s", b - a }')"
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
  rm -rf "$d"
fi

{
  echo "# treecast fleet benchmark, $STAMP"
  echo
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); $("$TREECAST" --version)"
  echo "- data: typescript 5.3.3 -> 5.6.3 (npm pack), every follower starting at 5.3.3; medians of $RUNS runs"
  echo "- treecast: serve and N follows on loopback; time = \`treecast push\` (snapshot, delta, votes, commits, acks); master CPU = serve's utime+stime during the push; bytes = the delta's size x N"
  echo "- rsync: an rsync daemon on loopback serving 5.6.3; N clients \`rsync -a --delete -z --zc=zstd\` at once; time = until the last ends; master CPU = the daemon's children; bytes = the clients' total bytes received"
  echo
  echo "| followers | tool | converge s | master CPU s | bytes sent | treecast / rsync (time, CPU, bytes) |"
  echo "|---:|---|---:|---:|---:|---|"
  for n in $FLEET; do
    for tool in treecast rsync; do
      t=$(awk -F'\t' -v t="$tool" -v n="$n" '$1 == t && $2 == n { print $4 }' "$RAW" | median)
      c=$(awk -F'\t' -v t="$tool" -v n="$n" '$1 == t && $2 == n { print $5 }' "$RAW" | median)
      b=$(awk -F'\t' -v t="$tool" -v n="$n" '$1 == t && $2 == n { print $6 }' "$RAW" | median)
      declare "T_${tool}_$n=$t" "C_${tool}_$n=$c" "B_${tool}_$n=$b"
      ratio=""
      if [[ $tool == rsync ]]; then
        tt=T_treecast_$n cc=C_treecast_$n bb=B_treecast_$n
        ratio=$(awk -v a="${!tt}" -v b="$t" -v c="${!cc}" -v d="$c" -v e="${!bb}" -v f="$b" \
          'BEGIN { printf "%.2fx, %.2fx, %.3fx", a / b, (d > 0 ? c / d : 0), e / f }')
      fi
      printf '| %s | %s | %s | %s | %s | %s |\n' "$n" "$tool" "$t" "$c" "$b" "$ratio"
    done
  done
  echo
  echo "- one follower receiving a delta of $BIG_MB MiB of new content: peak resident memory $big_rss MiB ($big_note)"
  echo
  echo "Every run: \`$RAW\` (removed with the work folder); the raw lines:"
  echo
  echo '```'
  cat "$RAW"
  echo '```'
} >"$RESULTS"
cat "$RESULTS"
say "results: $RESULTS"
