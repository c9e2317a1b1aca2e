#!/usr/bin/env bash
# Benchmark of `treecast delta` and `treecast apply` against the delta tools a
# user already has (issue 3, "Benchmark"). Not part of the test suite. See
# tools/bench/README.md.
#
#   tools/bench/delta.sh                          # full size: typescript, /etc, 1 GiB file
#   RUNS=1 SIZE_MB=64 tools/bench/delta.sh        # quick smoke run, a few minutes
#   SETS=ts RUNS=3 tools/bench/delta.sh           # the typescript pairs only
#
# Settings (environment):
#   RUNS=5            timed runs per tool and pair; the tables show medians
#   SETS="ts etc big" the data sets, any of:
#                       ts   typescript 5.3.3, 5.4.5, 5.5.4, 5.6.3 (npm pack, tarballs
#                            cached in build/bench-cache/); pairs 5.3.3->5.4.5,
#                            5.4.5->5.5.4, 5.5.4->5.6.3 and 5.3.3->5.6.3
#                       etc  a copy of /etc, then 20 files edited, 5 added, 5 deleted
#                            and 1 renamed (fixed choices from the sorted file list)
#                       big  one SIZE_MB file, then 50 edits of 100 bytes at fixed
#                            offsets and a 4 KiB insertion near its start
#   SIZE_MB=1024      size of the big file (set big); at least 2
#   BIG_ZSTD19=0      1 also runs zstd -19 --patch-from on the big file (minutes
#                     per run at 1 GiB); 0 prints n/a in that row
#   WORK=             work folder; default: a new mktemp -d under /var/tmp.
#                     Must be empty or absent: it is removed at exit.
#   KEEP=0            KEEP=1 keeps the work folder (trees, tars, deltas, logs)
#   RESULTS=          where the markdown results are copied at the end;
#                     default: build/bench-results/delta-<time>.md
#   TREECAST=         benchmark this binary instead of building one
#   CMD_TIMEOUT=1800  seconds after which any one measured command is killed
#
# Every timed command runs under /usr/bin/time -f '%M %U %S' (peak RSS) and
# timeout; times come from bash's $EPOCHREALTIME around the command (no fork to
# read the clock). Within each run every tool generates, then applies, in turn
# on the same pair, so drift from other load on the machine hits all alike.
# Every applied result is checked against the new tree (or file) byte for byte.
#
# The inline scripts of `bash -c` below take their arguments as "$1"...:
# shellcheck disable=SC2016
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-5}
SETS=${SETS:-ts etc big}
SIZE_MB=${SIZE_MB:-1024}
BIG_ZSTD19=${BIG_ZSTD19:-0}
KEEP=${KEEP:-0}
CMD_TIMEOUT=${CMD_TIMEOUT:-1800}
STAMP=$(date +%Y%m%dT%H%M%S)
RESULTS=${RESULTS:-$ROOT/build/bench-results/delta-$STAMP.md}
CACHE=$ROOT/build/bench-cache
TS_VERSIONS=(5.3.3 5.4.5 5.5.4 5.6.3)

say() { printf '%s\n' "$*" >&2; }
die() {
  say "delta.sh: $*"
  exit 1
}

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ $SIZE_MB =~ ^[0-9]+$ ]] || die "SIZE_MB must be an integer (MiB)"
[[ $BIG_ZSTD19 == [01] ]] || die "BIG_ZSTD19 must be 0 or 1"
[[ $CMD_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "CMD_TIMEOUT must be a positive integer (seconds)"
declare -A want_set=()
for s in $SETS; do
  case $s in
    ts | etc | big) want_set[$s]=1 ;;
    *) die "SETS: unknown data set '$s' (known: ts etc big)" ;;
  esac
done
((${#want_set[@]} > 0)) || die "SETS is empty (known: ts etc big)"
if [[ -n ${want_set[big]:-} ]] && ((SIZE_MB < 2)); then
  die "SIZE_MB must be at least 2 for the big set (the insertion is at 1 MiB)"
fi

# ---- work folder, removed at exit unless KEEP=1; the rsync daemon is stopped

DAEMON_PID=
if [[ -z ${WORK:-} ]]; then
  WORK=$(mktemp -d /var/tmp/treecast-bench.XXXXXX)
else
  mkdir -p "$WORK"
  [[ -z $(ls -A "$WORK") ]] || die "WORK=$WORK is not empty (it is removed at exit)"
fi
WORK=$(cd "$WORK" && pwd)
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $DAEMON_PID ]]; then
    kill "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
  fi
  if [[ $KEEP == 1 ]]; then
    say "KEEP=1: the work folder stays: $WORK"
  else
    rm -rf -- "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TREES=$WORK/trees  # every old and new tree; also the rsync daemon's module
TARS=$WORK/tars    # deterministic tars of the trees, for the tar-based peers
PAIRS=$WORK/pairs  # per pair: deltas, stores, targets
LOG=$WORK/log      # every timed command's stdout, stderr and /usr/bin/time output
RAW=$WORK/runs.tsv # every timed command: pair, tool, phase, run, us, max RSS KiB, cpu s, bytes
OUT=$WORK/results.md
EDITS=$WORK/etc-edits.txt
mkdir -p "$TREES" "$TARS" "$PAIRS" "$LOG" "$CACHE"
printf 'pair\ttool\tphase\trun\tus\tmaxrss_kib\tcpu_s\tbytes\n' >"$RAW"

# The tar-based peers' tars: names sorted, so a tree always makes the same tar,
# and each entry's mtime (whole seconds) and owner kept, as a mirror must
# restore them and treecast's deltas carry them.
TAR_FLAGS=(--sort=name)
# A tree's signature leaves times and owners out: the trees the tools apply
# are compared on content, modes and links.
SIG_TAR_FLAGS=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner)

# ---- tools and the binary

say "== setup: tools/setup.sh --bench"
"$ROOT/tools/setup.sh" --bench

if [[ -n ${TREECAST:-} ]]; then
  [[ -x $TREECAST ]] || die "TREECAST=$TREECAST is not executable"
  build_note="given by TREECAST"
else
  say "== build: tools/build.sh release"
  if "$ROOT/tools/build.sh" release; then
    TREECAST=$ROOT/build/release/src/cli/treecast
    build_note="tools/build.sh release"
  else
    # As in snapshot.sh: the benchmark only needs the binary.
    say "!! tools/build.sh release FAILED; building the treecast binary alone in build/bench" \
      "(Release, tests off, -Wno-restrict). Fix the release build."
    cmake -S "$ROOT" -B "$ROOT/build/bench" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DTREECAST_TESTS=OFF -DCMAKE_CXX_FLAGS=-Wno-restrict >/dev/null
    cmake --build "$ROOT/build/bench" --target treecast --parallel "$(nproc)"
    TREECAST=$ROOT/build/bench/src/cli/treecast
    build_note="FALLBACK: tools/build.sh release failed; Release build of the treecast target in build/bench with -Wno-restrict"
  fi
fi
# A private copy: the shared build folder may be rebuilt while we measure.
cp "$TREECAST" "$WORK/treecast"
TC=$WORK/treecast
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain -- src CMakeLists.txt 2>/dev/null) ]]; then
  commit="$commit + uncommitted changes in src/"
fi

# The treecast rows need `treecast delta` and `treecast apply`; until they are
# built, every treecast cell says so and the peers are measured all the same.
TC_DELTA=0
TC_APPLY=0
TC_NA="n/a (treecast delta not built yet)"
TC_APPLY_NA="n/a (treecast apply not built yet)"
if "$TC" delta --help >/dev/null 2>&1; then TC_DELTA=1; fi
if "$TC" apply --help >/dev/null 2>&1; then TC_APPLY=1; fi
if ((TC_DELTA)); then
  tc_state="treecast delta available"
  if ((TC_APPLY == 0)); then tc_state="$tc_state; treecast apply not built yet"; fi
else
  tc_state="treecast delta not built yet: the treecast cells are n/a"
fi
say "== $tc_state"

# ---- data

# The first N bytes of a command's output (head closing the pipe early is fine).
first_bytes() {
  local n=$1
  shift
  (
    set +o pipefail
    "$@" 2>/dev/null | head -c "$n"
  )
}

# Realistic, partly compressible content (as in snapshot.sh): rounds of 3 MiB
# taken in turn from a pool of real binaries and real text, then 1 MiB from
# /dev/urandom.
make_big() {
  local out=$1 size=$(($2 << 20))
  local pool=$WORK/pool.bin
  local pool_bytes=$((size < (384 << 20) ? size : 384 << 20))
  {
    first_bytes $((pool_bytes / 2)) bash -c \
      'find /usr/bin /usr/sbin /usr/lib -xdev -type f -size +32k -print0 | sort -z | xargs -0 cat'
    first_bytes $((pool_bytes / 2)) bash -c \
      'find /usr/share /usr/include -xdev -type f \( -name "*.txt" -o -name "*.html" -o -name "*.h" \
         -o -name "*.py" -o -name "*.pm" -o -name "*.xml" -o -name "*.css" -o -name "*.js" \
         -o -name "*.json" -o -name "*.c" -o -name "*.md" \) -size +4k -print0 | sort -z | xargs -0 cat'
  } >"$pool"
  pool_bytes=$(stat -c %s "$pool")
  ((pool_bytes >= (3 << 20))) || die "could not gather 3 MiB of real content for the big file"
  local written=0 offset=0
  {
    while ((written < size)); do
      ((offset + (3 << 20) <= pool_bytes)) || offset=0
      dd if="$pool" iflag=skip_bytes,count_bytes skip="$offset" count=$((3 << 20)) \
        bs=1M status=none
      head -c $((1 << 20)) /dev/urandom
      offset=$((offset + (3 << 20)))
      written=$((written + (4 << 20)))
    done
  } >"$out"
  truncate -s "$size" "$out"
  rm -f "$pool"
}

# N printable bytes from a fixed sequence (an exact LCG, the same on any awk).
det_text() {
  awk -v x="$1" -v n="$2" 'BEGIN {
    for (i = 0; i < n; i++) { x = (x * 75 + 74) % 65537; printf "%c", 32 + x % 95 }
  }'
}

# The big file's new version: a 4 KiB insertion at 1 MiB + 123 bytes, then 50
# edits of 100 bytes at fixed offsets spread over the file (none block-aligned).
edit_big() {
  local old=$1 new=$2 size ins=$(((1 << 20) + 123)) i off
  size=$(stat -c %s "$old")
  {
    head -c "$ins" "$old"
    det_text 1 4096
    tail -c +$((ins + 1)) "$old"
  } >"$new"
  for ((i = 0; i < 50; i++)); do
    off=$(((2 * i + 1) * (size / 100) + 4321 + 17 * i))
    det_text $((i + 2)) 100 | dd of="$new" bs=100 seek="$off" oflag=seek_bytes conv=notrunc status=none
  done
}

# The config tree's new version, deterministic for a given /etc: among the text
# files of 64 B to 1 MiB, sorted by path, 30 are picked at fixed fractions of the
# list; in turn one is deleted, one is the base of an added file, four are edited
# (half get two lines appended, half their middle line replaced). Then the
# largest regular file not picked is renamed. Each change is listed in $EDITS.
edit_etc() {
  local dir=$1 n j idx f e=0 a=0 m lines nf entry
  local -a cand big
  local -A used=()
  mapfile -d '' cand < <(cd "$dir" && find . -type f -size +63c -size -1025k -print0 | sort -z |
    xargs -0 -r grep -IlZ -e '' --)
  n=${#cand[@]}
  ((n >= 31)) || die "only $n text files in the copy of /etc; the edits need at least 31"
  : >"$EDITS"
  for ((j = 0; j < 30; j++)); do
    idx=$(((2 * j + 1) * n / 60))
    f=${cand[idx]#./}
    used[$f]=1
    case $((j % 6)) in
      0)
        rm -f -- "${dir:?}/$f"
        echo "deleted: $f" >>"$EDITS"
        ;;
      1)
        nf=$(dirname -- "$f")/treecast-added-$a.conf
        nf=${nf#./}
        {
          printf '# treecast bench: added file %d, derived from %s\n' "$a" "$f"
          head -n 40 -- "$dir/$f"
          printf 'bench_added_%d = yes\n' "$a"
        } >"$dir/$nf"
        chmod 644 "$dir/$nf"
        echo "added: $nf (the first 40 lines of $f and 2 lines)" >>"$EDITS"
        a=$((a + 1))
        ;;
      *)
        if ((e % 2 == 0)); then
          printf '\n# treecast bench: appended block %d\nbench_option_%d = %d\n' "$e" "$e" $((7 * e)) >>"$dir/$f"
          echo "edited: $f (2 lines appended)" >>"$EDITS"
        else
          lines=$(wc -l <"$dir/$f")
          m=$((lines / 2 + 1))
          awk -v m="$m" -v e="$e" 'NR == m { print "# treecast bench: line " m " replaced (edit " e ")"; next } { print }' \
            "$dir/$f" >"$WORK/edit.tmp"
          cat "$WORK/edit.tmp" >"$dir/$f"
          echo "edited: $f (line $m of $lines replaced)" >>"$EDITS"
        fi
        e=$((e + 1))
        ;;
    esac
  done
  rm -f "$WORK/edit.tmp"
  mapfile -d '' big < <(cd "$dir" && find . -type f -printf '%s\t%P\0' | sort -z -t $'\t' -k1,1nr -k2,2)
  for entry in "${big[@]}"; do
    f=${entry#*$'\t'}
    [[ -z ${used[$f]:-} ]] || continue
    nf=$(dirname -- "$f")/treecast-renamed-$(basename -- "$f")
    nf=${nf#./}
    mv -- "$dir/$f" "$dir/$nf"
    echo "renamed: $f -> $nf (${entry%%$'\t'*} bytes, the largest file not picked above)" >>"$EDITS"
    return 0
  done
  die "no file left to rename in the copy of /etc"
}

fetch_ts() {
  local v=$1 tgz tmp
  tgz=$CACHE/typescript-$v.tgz
  if [[ ! -s $tgz ]]; then
    say "== data: npm pack typescript@$v -> $CACHE"
    tmp=$(mktemp -d "$CACHE/.pack.XXXXXX")
    if ! (cd "$tmp" && npm pack --silent "typescript@$v" >/dev/null); then
      rm -rf -- "$tmp"
      die "npm pack typescript@$v failed"
    fi
    mv "$tmp/typescript-$v.tgz" "$tgz"
    rmdir "$tmp"
  fi
  mkdir -p "$TREES/ts-$v"
  tar -xzf "$tgz" -C "$TREES/ts-$v" --strip-components=1 --no-same-owner
}

# Disk: the trees are small next to the big file, which exists as old, new, a
# copy for rsync's other side, an applied copy, a rebuilt file and treecast's
# stores (base and a per-run copy).
need_kib=$((1024 * 1024))
if [[ -n ${want_set[big]:-} ]]; then need_kib=$((need_kib + 9 * SIZE_MB * 1024)); fi
free_kib=$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')
((free_kib > need_kib)) ||
  die "$WORK has $((free_kib / 1024)) MiB free; this run needs about $((need_kib / 1024)) MiB"

# Pairs: id -> old tree, new tree, kind (tree: the peers work on tars; file:
# the file itself plays the role of the tar), label.
PAIR_IDS=()
declare -A PAIR_OLD PAIR_NEW PAIR_KIND PAIR_LABEL
add_pair() {
  PAIR_IDS+=("$1")
  PAIR_OLD[$1]=$2
  PAIR_NEW[$1]=$3
  PAIR_KIND[$1]=$4
  PAIR_LABEL[$1]=$5
}
declare -A DATA_NOTE

if [[ -n ${want_set[ts]:-} ]]; then
  for v in "${TS_VERSIONS[@]}"; do fetch_ts "$v"; done
  add_pair ts-5.3.3-5.4.5 ts-5.3.3 ts-5.4.5 tree "typescript 5.3.3 -> 5.4.5 (successive)"
  add_pair ts-5.4.5-5.5.4 ts-5.4.5 ts-5.5.4 tree "typescript 5.4.5 -> 5.5.4 (successive)"
  add_pair ts-5.5.4-5.6.3 ts-5.5.4 ts-5.6.3 tree "typescript 5.5.4 -> 5.6.3 (successive)"
  add_pair ts-5.3.3-5.6.3 ts-5.3.3 ts-5.6.3 tree "typescript 5.3.3 -> 5.6.3 (arbitrary)"
  DATA_NOTE[ts]="typescript ${TS_VERSIONS[*]}: \`npm pack\` tarballs (cached in build/bench-cache/), extracted"
fi

if [[ -n ${want_set[etc]:-} ]]; then
  say "== data: rsync -a /etc/ -> $TREES/etc-old (unreadable files skipped)"
  rc=0
  rsync -a /etc/ "$TREES/etc-old/" 2>"$LOG/etc-copy.err" || rc=$?
  # 23: some files could not be read (not root); 24: files vanished meanwhile.
  if ((rc != 0 && rc != 23 && rc != 24)); then
    cat "$LOG/etc-copy.err" >&2
    die "copying /etc failed (rsync exit $rc)"
  fi
  skipped=$(grep -c 'Permission denied' "$LOG/etc-copy.err" || true)
  cp -a "$TREES/etc-old" "$TREES/etc-new"
  edit_etc "$TREES/etc-new"
  add_pair etc etc-old etc-new tree "/etc copy -> 20 edited, 5 added, 5 deleted, 1 renamed"
  DATA_NOTE[etc]="/etc: \`rsync -a /etc/\` ($skipped unreadable entries skipped), then $(grep -c '^edited' "$EDITS") files edited, $(grep -c '^added' "$EDITS") added, $(grep -c '^deleted' "$EDITS") deleted, $(grep -c '^renamed' "$EDITS") renamed (list at the end)"
fi

if [[ -n ${want_set[big]:-} ]]; then
  say "== data: $SIZE_MB MiB file -> $TREES/big-old, and its edited version -> $TREES/big-new"
  mkdir -p "$TREES/big-old" "$TREES/big-new"
  make_big "$TREES/big-old/big.bin" "$SIZE_MB"
  edit_big "$TREES/big-old/big.bin" "$TREES/big-new/big.bin"
  big_ratio=$(zstd -3 -T2 -c "$TREES/big-old/big.bin" | wc -c |
    awk -v r="$((SIZE_MB << 20))" '{ printf "%.2f", r / $1 }')
  add_pair big big-old big-new file "$SIZE_MB MiB file -> 50 edits of 100 bytes, 4 KiB inserted at 1 MiB"
  DATA_NOTE[big]="big: one $SIZE_MB MiB file (real binaries and text, 1 MiB random every 4 MiB, as in snapshot.sh; zstd -3 ratio $big_ratio); new version: 4096 bytes inserted at offset 1048699, then 50 edits of 100 bytes at offsets (2i+1)*size/100+4321+17i"
fi

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# A tree's content, owners and times aside: what every applied tree must match.
tree_sig() {
  tar -cf - "${SIG_TAR_FLAGS[@]}" --hard-dereference -C "$1" . | xxhsum -H2 - | cut -d' ' -f1
}

say "== data: deterministic tars of the trees, signatures of the new trees"
declare -A SIG TREE_DESC
for id in "${PAIR_IDS[@]}"; do
  for name in "${PAIR_OLD[$id]}" "${PAIR_NEW[$id]}"; do
    [[ -z ${TREE_DESC[$name]:-} ]] || continue
    d=$TREES/$name
    files=$(find "$d" -type f | wc -l)
    dirs=$(find "$d" -type d | wc -l)
    links=$(find "$d" -type l | wc -l)
    bytes=$(find "$d" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }')
    TREE_DESC[$name]="$files files, $dirs folders, $links symlinks, $(mib "$bytes") MiB"
    if [[ ${PAIR_KIND[$id]} == tree ]]; then
      tar -cf "$TARS/$name.tar" "${TAR_FLAGS[@]}" -C "$d" .
      TREE_DESC[$name]+="; tar $(mib "$(stat -c %s "$TARS/$name.tar")") MiB"
    fi
  done
  SIG[${PAIR_NEW[$id]}]=$(tree_sig "$TREES/${PAIR_NEW[$id]}")
done

say "== warm cache: reading every tree and tar; sync"
tar -C "$WORK" -cf - trees tars | cat >/dev/null
sync

# ---- the rsync daemon on 127.0.0.1, serving $TREES as module "bench"

DAEMON_PORT=
DAEMON_NOTE=
start_daemon() {
  local conf=$WORK/rsyncd.conf port try
  cat >"$conf" <<EOF
use chroot = no
munge symlinks = no
uid = $(id -u)
gid = $(id -g)
log file = $LOG/rsyncd.log

[bench]
  path = $TREES
  read only = yes
EOF
  for ((try = 1; try <= 5; try++)); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi # taken
    rsync --daemon --no-detach --config="$conf" --address=127.0.0.1 --port="$port" \
      >>"$LOG/rsyncd.out" 2>&1 &
    DAEMON_PID=$!
    for _ in {1..50}; do
      kill -0 "$DAEMON_PID" 2>/dev/null || break
      if rsync --list-only "rsync://127.0.0.1:$port/bench/" >/dev/null 2>&1; then
        DAEMON_PORT=$port
        return 0
      fi
      sleep 0.1
    done
    kill "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
    DAEMON_PID=
  done
  DAEMON_NOTE="n/a (no rsync daemon: it did not start on 127.0.0.1)"
  return 1
}
say "== rsync daemon on 127.0.0.1"
if start_daemon; then
  say "   listening on port $DAEMON_PORT (pid $DAEMON_PID)"
else
  say "!! $DAEMON_NOTE; see below"
  cat "$LOG/rsyncd.out" "$LOG/rsyncd.log" >&2 2>/dev/null || true
fi

# ---- measuring

# run_timed PAIR TOOL PHASE RUN CMD...: times CMD, leaves the microseconds in
# $us, the max RSS in $rss (KiB), user+sys in $cpu. CMD's stdout goes to
# $LOG/PAIR-TOOL-PHASE-RUN.out. A failure ends the benchmark, unless SOFT=1:
# then it returns 1.
us=0
rss=0
cpu=0
SOFT=0
run_timed() {
  local pair=$1 tool=$2 phase=$3 run=$4
  shift 4
  local base=$LOG/$pair-$tool-$phase-$run
  sync # dirty pages of the setup steps are not the measured command's
  local t0 t1 rc=0
  t0=$EPOCHREALTIME
  timeout "$CMD_TIMEOUT" /usr/bin/time -f "%M %U %S" -o "$base.rss" "$@" >"$base.out" 2>"$base.err" || rc=$?
  t1=$EPOCHREALTIME
  if ((rc != 0)); then
    say "!! $pair/$tool $phase run $run failed (exit $rc): $*"
    cat "$base.err" >&2
    if ((SOFT)); then return 1; fi
    exit 1
  fi
  us=$((10#${t1/./} - 10#${t0/./}))
  read -r rss cpu < <(tail -n 1 "$base.rss" | awk '{ printf "%d %.2f\n", $1, $2 + $3 }')
}

# record PAIR TOOL PHASE RUN BYTES: one row of $RAW, from the last run_timed.
record() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$us" "$rss" "$cpu" "$5" >>"$RAW"
  printf '   %-15s %-6s %-5s run %d: %8.3f s  (cpu %6.2f s)  %7.1f MiB%s\n' "$1" "$2" "$3" "$4" \
    "$(awk -v u="$us" 'BEGIN { print u / 1e6 }')" "$cpu" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" \
    "$([[ $5 == - ]] || printf '  %s bytes' "$5")" >&2
}

size_of() { stat -c %s "$1"; }

# The current pair (set by bench_pair): PAIR, KIND, OLD and NEW (trees), OLD_T and
# NEW_T (their tars, or the file), XB (xdelta3 -B), MEM (zstd --memory, MB).
PAIR='' KIND='' OLD='' NEW='' OLD_T='' NEW_T='' NEW_NAME='' XB=0 MEM=0 P=''

check_tree() {
  [[ $(tree_sig "$1") == "${SIG[$NEW_NAME]}" ]] ||
    die "$PAIR/$2: the applied tree $1 differs from $NEW (KEEP=1 keeps both)"
}
check_file() {
  cmp -s -- "$1" "$NEW_T" || die "$PAIR/$2: the rebuilt $1 differs from $NEW_T (KEEP=1 keeps both)"
}
# A fresh copy of the old tree (untimed; synced by run_timed).
fresh_old() {
  rm -rf -- "$1"
  cp -a -- "$OLD" "$1"
}

# Per tool: NAME RUN; each generates, records, applies, checks, records.
declare -A NA # pair:tool -> why the row is n/a

t_tc() {
  local r=$1 out=$P/tc.delta root=$P/tc-follower
  rm -rf -- "$P/store" "$out"
  cp -a -- "$P/store-base" "$P/store" # a delta cached in the store by a previous run must not count
  run_timed "$PAIR" tc gen "$r" "$TC" delta --from 1 --to 2 -o "$out" --store "$P/store" --channel bench
  record "$PAIR" tc gen "$r" "$(size_of "$out")"
  rm -rf -- "$P/store"
  if ((TC_APPLY)); then
    # The follower: version 1 written by treecast itself, so that whatever
    # treecast records about a follower's version is there.
    rm -rf -- "$root"
    mkdir -p "$root"
    "$TC" checkout 1 "$root/tree" --store "$P/store-base" --channel bench >/dev/null
    run_timed "$PAIR" tc apply "$r" "$TC" apply "$out" "$root/tree"
    record "$PAIR" tc apply "$r" -
    check_tree "$root/tree" tc
    rm -rf -- "$root"
  fi
  rm -f -- "$out"
}

t_full() {
  local r=$1 out=$P/full.zst t=$P/full-target
  if [[ $KIND == file ]]; then
    run_timed "$PAIR" full gen "$r" zstd -3 -T2 -q -f "$NEW_T" -o "$out"
    record "$PAIR" full gen "$r" "$(size_of "$out")"
    run_timed "$PAIR" full apply "$r" zstd -d -q -f "$out" -o "$P/rebuilt"
    record "$PAIR" full apply "$r" -
    check_file "$P/rebuilt" full
    rm -f -- "$P/rebuilt"
  else
    run_timed "$PAIR" full gen "$r" bash -o pipefail -c \
      'tar -cf - "${@:3}" -C "$1" . | zstd -3 -T2 -q -c >"$2"' _ "$NEW" "$out" "${TAR_FLAGS[@]}"
    record "$PAIR" full gen "$r" "$(size_of "$out")"
    rm -rf -- "$t"
    mkdir -p "$t"
    run_timed "$PAIR" full apply "$r" bash -o pipefail -c 'zstd -d -q -c "$1" | tar -xf - -C "$2"' _ "$out" "$t"
    record "$PAIR" full apply "$r" -
    check_tree "$t" full
    rm -rf -- "$t"
  fi
  rm -f -- "$out"
}

RSYNC_FLAGS=(-a --delete -c --no-whole-file)

t_rb() {
  local r=$1 out=$P/rsync.batch t=$P/rb-target
  rm -f -- "$out" "$out.sh"
  run_timed "$PAIR" rb gen "$r" rsync "${RSYNC_FLAGS[@]}" --only-write-batch="$out" "$NEW/" "$P/rsync-old/"
  record "$PAIR" rb gen "$r" "$(size_of "$out")"
  fresh_old "$t"
  run_timed "$PAIR" rb apply "$r" rsync -a --delete --read-batch="$out" "$t/"
  record "$PAIR" rb apply "$r" -
  check_tree "$t" rb
  rm -rf -- "$t" "$out" "$out.sh"
}

t_rbz() {
  local r=$1 out=$P/rsyncz.batch t=$P/rbz-target
  rm -f -- "$out" "$out.sh" "$out.zst"
  run_timed "$PAIR" rbz gen "$r" bash -c \
    'rsync "${@:4}" --only-write-batch="$1" "$2/" "$3/" && zstd -3 -q -f --rm "$1" -o "$1.zst"' \
    _ "$out" "$NEW" "$P/rsync-old" "${RSYNC_FLAGS[@]}"
  record "$PAIR" rbz gen "$r" "$(size_of "$out.zst")"
  fresh_old "$t"
  run_timed "$PAIR" rbz apply "$r" bash -o pipefail -c \
    'zstd -d -q -c "$1" | rsync -a --delete --read-batch=- "$2/"' _ "$out.zst" "$t"
  record "$PAIR" rbz apply "$r" -
  check_tree "$t" rbz
  rm -rf -- "$t" "$out" "$out.sh" "$out.zst"
}

t_rd() {
  local r=$1 t=$P/rd-target wire
  if [[ -z $DAEMON_PORT ]]; then
    NA[$PAIR:rd]=$DAEMON_NOTE
    return 0
  fi
  [[ -z ${NA[$PAIR:rd]:-} ]] || return 0
  fresh_old "$t"
  if ! SOFT=1 run_timed "$PAIR" rd gen "$r" rsync "${RSYNC_FLAGS[@]}" -z --zc=zstd --zl=3 --stats \
    "rsync://127.0.0.1:$DAEMON_PORT/bench/$NEW_NAME/" "$t/"; then
    NA[$PAIR:rd]="n/a (the pull from the rsync daemon failed, see the log)"
    rm -rf -- "$t"
    return 0
  fi
  # "sent 1,234 bytes  received 56,789 bytes  ...": both directions.
  wire=$(sed -n 's/^sent \([0-9,]*\) bytes *received \([0-9,]*\) bytes.*/\1 \2/p' \
    "$LOG/$PAIR-rd-gen-$r.out" | tr -d , | awk '{ print $1 + $2 }')
  [[ -n $wire ]] || die "$PAIR/rd: no 'sent ... received ...' line in $LOG/$PAIR-rd-gen-$r.out"
  record "$PAIR" rd gen "$r" "$wire"
  check_tree "$t" rd
  rm -rf -- "$t"
}

t_x() {
  local r=$1 out=$P/xdelta3.vcdiff
  run_timed "$PAIR" x gen "$r" xdelta3 -e -f -s "$OLD_T" "$NEW_T" "$out"
  record "$PAIR" x gen "$r" "$(size_of "$out")"
  run_timed "$PAIR" x apply "$r" xdelta3 -d -f -s "$OLD_T" "$out" "$P/rebuilt"
  record "$PAIR" x apply "$r" -
  check_file "$P/rebuilt" x
  rm -f -- "$out" "$P/rebuilt"
}

t_x9() {
  local r=$1 out=$P/xdelta3-9.vcdiff
  run_timed "$PAIR" x9 gen "$r" xdelta3 -e -f -9 -S lzma -B "$XB" -s "$OLD_T" "$NEW_T" "$out"
  record "$PAIR" x9 gen "$r" "$(size_of "$out")"
  run_timed "$PAIR" x9 apply "$r" xdelta3 -d -f -B "$XB" -s "$OLD_T" "$out" "$P/rebuilt"
  record "$PAIR" x9 apply "$r" -
  check_file "$P/rebuilt" x9
  rm -f -- "$out" "$P/rebuilt"
}

# t_zpatch TOOL LEVEL RUN
t_zpatch() {
  local tool=$1 level=$2 r=$3 out=$P/$1.zst
  if [[ $tool == z19 && $KIND == file && $BIG_ZSTD19 != 1 ]]; then
    NA[$PAIR:z19]="n/a (skipped on the big file: minutes per run; BIG_ZSTD19=1 runs it)"
    return 0
  fi
  run_timed "$PAIR" "$tool" gen "$r" zstd "-$level" -q -f --long=31 --memory="${MEM}MB" \
    --patch-from="$OLD_T" "$NEW_T" -o "$out"
  record "$PAIR" "$tool" gen "$r" "$(size_of "$out")"
  run_timed "$PAIR" "$tool" apply "$r" zstd -d -q -f --long=31 --memory="${MEM}MB" \
    --patch-from="$OLD_T" "$out" -o "$P/rebuilt"
  record "$PAIR" "$tool" apply "$r" -
  check_file "$P/rebuilt" "$tool"
  rm -f -- "$out" "$P/rebuilt"
}

TOOLS=(tc full rb rbz rd x x9 z3 z19)
declare -A LABEL=(
  [tc]="treecast delta / apply"
  [full]="tar \\| zstd -3 -T2 (no delta)"
  [rb]="rsync --only-write-batch"
  [rbz]="rsync batch, then zstd -3"
  [rd]="rsync daemon pull, -z --zc=zstd --zl=3 (wire bytes, both ways)"
  [x]="xdelta3 (defaults)"
  [x9]="xdelta3 -9 -S lzma -B (old size)"
  [z3]="zstd -3 --long=31 --patch-from"
  [z19]="zstd -19 --long=31 --patch-from"
)

bench_pair() {
  local id=$1 r
  PAIR=$id
  KIND=${PAIR_KIND[$id]}
  NEW_NAME=${PAIR_NEW[$id]}
  OLD=$TREES/${PAIR_OLD[$id]}
  NEW=$TREES/$NEW_NAME
  P=$PAIRS/$id
  if [[ $KIND == file ]]; then
    OLD_T=$OLD/big.bin
    NEW_T=$NEW/big.bin
  else
    OLD_T=$TARS/${PAIR_OLD[$id]}.tar
    NEW_T=$TARS/$NEW_NAME.tar
  fi
  local old_bytes new_bytes
  old_bytes=$(size_of "$OLD_T")
  new_bytes=$(size_of "$NEW_T")
  XB=$((old_bytes > (64 << 20) ? old_bytes : 64 << 20))
  XB=$((XB < (1 << 31) ? XB : 1 << 31))
  # zstd's memory limit: the dictionary (old) when compressing, the window
  # (which covers new) when decoding; 128 MiB is zstd's default.
  MEM=$(((old_bytes > new_bytes ? old_bytes : new_bytes) / (1 << 20) + 1))
  MEM=$((MEM > 128 ? MEM : 128))
  mkdir -p "$P"
  say "== pair $id: ${PAIR_LABEL[$id]}"
  cp -a -- "$OLD" "$P/rsync-old" # the other side of --only-write-batch (only read)
  if ((TC_DELTA)); then
    say "   (treecast: snapshots of old and new into $P/store-base, untimed)"
    "$TC" snapshot "$OLD" --channel bench --store "$P/store-base" >/dev/null
    "$TC" snapshot "$NEW" --channel bench --store "$P/store-base" >/dev/null
  else
    NA[$id:tc]=$TC_NA
  fi
  for ((r = 1; r <= RUNS; r++)); do
    if ((TC_DELTA)); then t_tc "$r"; fi
    t_full "$r"
    t_rb "$r"
    t_rbz "$r"
    t_rd "$r"
    t_x "$r"
    t_x9 "$r"
    t_zpatch z3 3 "$r"
    t_zpatch z19 19 "$r"
  done
  rm -rf -- "$P/rsync-old" "$P/store-base"
}

for id in "${PAIR_IDS[@]}"; do bench_pair "$id"; done

# ---- the report

# stat_of PAIR TOOL PHASE WHAT: median|min|max (seconds), cpu (median s), rss
# (max KiB), bytes (median), bvar (1 when the bytes differ between runs), n.
stat_of() {
  awk -F '\t' -v p="$1" -v t="$2" -v ph="$3" -v what="$4" '
    function sort(a, n,   i, j, x) {
      for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
    }
    function median(a, n) { sort(a, n); return (n % 2) ? a[int(n / 2)] : (a[n / 2 - 1] + a[n / 2]) / 2 }
    BEGIN { n = 0; rss = 0 }
    $1 == p && $2 == t && $3 == ph { us[n] = $5; cpu[n] = $7; b[n] = $8; if ($6 > rss) rss = $6; n++ }
    END {
      if (what == "n") { print n; exit }
      if (n == 0) { print ""; exit }
      if (what == "rss") { print rss; exit }
      if (what == "cpu") { printf "%.2f", median(cpu, n); exit }
      if (what == "bytes") { printf "%.0f", median(b, n); exit }
      if (what == "bvar") { sort(b, n); print (b[0] != b[n - 1]) ? 1 : 0; exit }
      sort(us, n)
      if (what == "median") v = median(us, n)
      if (what == "min") v = us[0]
      if (what == "max") v = us[n - 1]
      printf "%.6f", v / 1e6
    }' "$RAW"
}

human() {
  awk -v b="$1" 'BEGIN {
    if (b < 1024) printf "%d B", b
    else if (b < 1048576) printf "%.1f KiB", b / 1024
    else printf "%.2f MiB", b / 1048576
  }'
}
fmt_s() { awk -v s="$1" 'BEGIN { if (s < 10) printf "%.3f", s; else printf "%.2f", s }'; }
rss_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { q = a / b; printf (q < 0.1 ? "%.3f" : "%.2f"), q }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# Figures per pair and tool: bytes, gen and apply medians, peak RSS.
declare -A BYTES GEN APP RSSG RSSA BVAR
for id in "${PAIR_IDS[@]}"; do
  for t in "${TOOLS[@]}"; do
    [[ -z ${NA[$id:$t]:-} ]] || continue
    if [[ $(stat_of "$id" "$t" gen n) == 0 ]]; then
      NA[$id:$t]="n/a (not measured)"
      continue
    fi
    BYTES[$id:$t]=$(stat_of "$id" "$t" gen bytes)
    BVAR[$id:$t]=$(stat_of "$id" "$t" gen bvar)
    GEN[$id:$t]=$(stat_of "$id" "$t" gen median)
    RSSG[$id:$t]=$(stat_of "$id" "$t" gen rss)
    if [[ $(stat_of "$id" "$t" apply n) != 0 ]]; then
      APP[$id:$t]=$(stat_of "$id" "$t" apply median)
      RSSA[$id:$t]=$(stat_of "$id" "$t" apply rss)
    fi
  done
done
peak_of() { # max of the gen and apply RSS of PAIR:TOOL, KiB
  local g=${RSSG[$1]:-0} a=${RSSA[$1]:-0}
  echo $((g > a ? g : a))
}

# Targets, per pair: met / **MISSED** / n/a, with the figure behind it.
tc_ok() { [[ -z ${NA[$1:tc]:-} && -n ${BYTES[$1:tc]:-} ]]; }
target_smaller() { # smaller than every rsync and xdelta3 variant
  local id=$1 t v best='' bt=0 tb
  tc_ok "$id" || { echo "n/a"; return; }
  tb=${BYTES[$id:tc]}
  for t in rb rbz rd x x9; do
    v=${BYTES[$id:$t]:-}
    [[ -n $v ]] || continue
    if [[ -z $best ]] || ((v < bt)); then best=$t bt=$v; fi
  done
  [[ -n $best ]] || { echo "n/a"; return; }
  if ((tb < bt)); then echo "met: $(ratio "$tb" "$bt")x of $best"; else echo "**MISSED**: $(ratio "$tb" "$bt")x of $best"; fi
}
target_z19_size() {
  local id=$1
  [[ ${PAIR_KIND[$id]} == tree ]] || { echo "-"; return; }
  if ! tc_ok "$id" || [[ -z ${BYTES[$id:z19]:-} ]]; then echo "n/a"; return; fi
  local q
  q=$(ratio "${BYTES[$id:tc]}" "${BYTES[$id:z19]}")
  if le "$q" 1.10; then echo "met: ${q}x"; else echo "**MISSED**: ${q}x"; fi
}
target_z19_speed() {
  local id=$1
  [[ ${PAIR_KIND[$id]} == tree ]] || { echo "-"; return; }
  if ! tc_ok "$id" || [[ -z ${GEN[$id:z19]:-} ]]; then echo "n/a"; return; fi
  local q
  q=$(ratio "${GEN[$id:z19]}" "${GEN[$id:tc]}")
  if le 5 "$q"; then echo "met: ${q}x faster"; else echo "**MISSED**: ${q}x faster"; fi
}
target_big_size() {
  local id=$1
  [[ ${PAIR_KIND[$id]} == file ]] || { echo "-"; return; }
  if ! tc_ok "$id" || [[ -z ${BYTES[$id:z3]:-} ]]; then echo "n/a"; return; fi
  local a=${BYTES[$id:tc]} b=${BYTES[$id:z3]}
  if ((a <= b)); then echo "met: $(ratio "$a" "$b")x"; else echo "**MISSED**: $(ratio "$a" "$b")x"; fi
}
target_big_mem() {
  local id=$1
  [[ ${PAIR_KIND[$id]} == file ]] || { echo "-"; return; }
  if ! tc_ok "$id" || [[ -z ${BYTES[$id:z3]:-} ]]; then echo "n/a"; return; fi
  local a b
  a=$(peak_of "$id:tc")
  b=$(peak_of "$id:z3")
  if ((3 * a <= b)); then echo "met: $(ratio "$a" "$b")x"; else echo "**MISSED**: $(ratio "$a" "$b")x"; fi
}
overall() { # the cells of one target row -> met / **MISSED** / n/a
  local c any=0 miss=0 na=0
  for c in "$@"; do
    case $c in
      met*) any=1 ;;
      "**MISSED**"*) miss=1 ;;
      n/a*) na=1 ;;
    esac
  done
  if ((miss)); then
    echo "**MISSED**"
  elif ((any && !na)); then
    echo "met"
  elif ((any)); then
    echo "met where measured"
  else
    echo "n/a"
  fi
}

# A row of the per-pair table.
pair_row() {
  local id=$1 t=$2 k=$1:$2 b g a m q
  if [[ -n ${NA[$k]:-} ]]; then
    printf '| %s | %s | %s | %s | %s | %s |\n' "${LABEL[$t]}" "${NA[$k]}" n/a n/a n/a n/a
    return
  fi
  b=$(human "${BYTES[$k]}")
  if [[ ${BVAR[$k]} == 1 ]]; then b="$b (varies)"; fi
  g=$(fmt_s "${GEN[$k]}")
  if [[ $t == rd ]]; then
    a="incl."
    m="$(rss_mib "${RSSG[$k]}") (client)"
  elif [[ -n ${APP[$k]:-} ]]; then
    a=$(fmt_s "${APP[$k]}")
    m="$(rss_mib "${RSSG[$k]}") / $(rss_mib "${RSSA[$k]}")"
  else
    a=$TC_APPLY_NA
    m="$(rss_mib "${RSSG[$k]}") / n/a"
  fi
  q=n/a
  if tc_ok "$id"; then q=$(ratio "${BYTES[$id:tc]}" "${BYTES[$k]}"); fi
  printf '| %s | %s | %s | %s | %s | %s |\n' "${LABEL[$t]}" "$b" "$g" "$a" "$m" "$q"
}

{
  echo "# treecast delta benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)," \
    "$(uname -sr), load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- treecast: commit $commit; binary: $build_note; $tc_state"
  echo "- peers: $(rsync --version | sed -n '1s/  */ /gp'); $(xdelta3 -V 2>&1 | sed -n '1s/,.*//p');" \
    "$(zstd --version | sed 's/^\*\*\* *//; s/ *\*\*\*$//; s/, by.*//')"
  for s in ts etc big; do
    if [[ -n ${DATA_NOTE[$s]:-} ]]; then echo "- data, ${DATA_NOTE[$s]}"; fi
  done
  echo "- each figure: median of $RUNS runs; within a run every tool generates, then applies, in" \
    "turn on the same pair. Time = wall clock around \`timeout /usr/bin/time -f '%M %U %S' CMD\`;" \
    "page cache warm (everything read once first), an untimed sync before every timed command."
  echo "- tar-based peers (xdelta3, zstd --patch-from) work on deterministic tars of the trees" \
    "(\`tar ${TAR_FLAGS[*]}\`: mtimes and owners kept, as treecast keeps them), made beforehand, untimed; their apply rebuilds the new tar" \
    "from the old one, not the tree. On the big file the file itself plays the tar's role."
  echo "- rsync, \`tar | zstd\` and treecast apply to a tree: a fresh copy of the old tree" \
    "(treecast: \`treecast checkout 1\`; rsync: \`cp -a\`; tar: an empty folder), made untimed." \
    "Every result was checked byte for byte against the new tree or tar."
  echo "- rsync daemon row: the bytes on the wire in both directions (the client's --stats" \
    "\"sent ... received\"); its time is the whole pull, so apply is included; RSS is the client's."
  echo "- peak RSS: max over the runs, generate / apply, MiB (\`/usr/bin/time -f %M\`: the largest" \
    "process of the command). \`treecast / this\`: treecast's delta bytes over the row's." \
    "\"(varies)\": the runs made deltas of different sizes (rsync seeds its checksums with the" \
    "time); the median is shown."
  echo
  echo "## Targets (issue 3)"
  echo
  printf '| target |'
  for id in "${PAIR_IDS[@]}"; do printf ' %s |' "$id"; done
  printf ' overall |\n|---|'
  for id in "${PAIR_IDS[@]}"; do printf -- '---|'; done
  printf -- '---|\n'
  for tgt in smaller z19_size z19_speed big_size big_mem; do
    case $tgt in
      smaller) title="smaller than every rsync and xdelta3 variant, every pair (figure: treecast / the smallest of them)" ;;
      z19_size) title="tree pairs: within 10% of zstd -19 --patch-from's size (treecast / zstd -19)" ;;
      z19_speed) title="tree pairs: at least 5x faster to generate than zstd -19 --patch-from" ;;
      big_size) title="big file: no larger than zstd -3 --long=31 --patch-from (treecast / zstd -3)" ;;
      big_mem) title="big file: at most a third of zstd -3 --long=31 --patch-from's peak memory (max of generate and apply; treecast / zstd)" ;;
    esac
    cells=()
    for id in "${PAIR_IDS[@]}"; do cells+=("$("target_$tgt" "$id")"); done
    printf '| %s |' "$title"
    for c in "${cells[@]}"; do printf ' %s |' "$c"; done
    printf ' %s |\n' "$(overall "${cells[@]}")"
  done
  printf '| applying bounded by disk speed | '
  for id in "${PAIR_IDS[@]}"; do printf -- '- | '; done
  printf 'not judged here: compare apply s with the rows that only write |\n'
  echo
  for id in "${PAIR_IDS[@]}"; do
    echo "## $id: ${PAIR_LABEL[$id]}"
    echo
    echo "old: ${TREE_DESC[${PAIR_OLD[$id]}]}; new: ${TREE_DESC[${PAIR_NEW[$id]}]}"
    echo
    echo "| tool | delta bytes | generate s | apply s | peak RSS MiB (gen / apply) | treecast / this |"
    echo "|---|---:|---:|---:|---:|---:|"
    for t in "${TOOLS[@]}"; do pair_row "$id" "$t"; done
    echo
  done
  echo "## Summary: delta bytes"
  echo
  printf '| tool |'
  for id in "${PAIR_IDS[@]}"; do printf ' %s |' "$id"; done
  printf '\n|---|'
  for id in "${PAIR_IDS[@]}"; do printf -- '---:|'; done
  echo
  for t in "${TOOLS[@]}"; do
    printf '| %s |' "${LABEL[$t]}"
    for id in "${PAIR_IDS[@]}"; do
      if [[ -n ${BYTES[$id:$t]:-} ]]; then printf ' %s |' "$(human "${BYTES[$id:$t]}")"; else printf ' n/a |'; fi
    done
    echo
  done
  echo
  echo "## Summary: seconds to generate / apply"
  echo
  printf '| tool |'
  for id in "${PAIR_IDS[@]}"; do printf ' %s |' "$id"; done
  printf '\n|---|'
  for id in "${PAIR_IDS[@]}"; do printf -- '---:|'; done
  echo
  for t in "${TOOLS[@]}"; do
    printf '| %s |' "${LABEL[$t]}"
    for id in "${PAIR_IDS[@]}"; do
      if [[ -n ${GEN[$id:$t]:-} ]]; then
        if [[ $t == rd ]]; then a=incl.; elif [[ -n ${APP[$id:$t]:-} ]]; then a=$(fmt_s "${APP[$id:$t]}"); else a=n/a; fi
        printf ' %s / %s |' "$(fmt_s "${GEN[$id:$t]}")" "$a"
      else
        printf ' n/a |'
      fi
    done
    echo
  done
  echo
  echo "## Commands measured"
  echo
  echo "OLD, NEW: the trees; OLD.tar, NEW.tar: their tars (the big file itself for the big pair);"
  echo "B = max(64 MiB, size of OLD.tar), at most 2 GiB; M = max(128, 1 + the larger tar's size in MiB)."
  echo
  echo '```'
  echo "treecast snapshot OLD --channel bench --store BASE; treecast snapshot NEW ...   (once per pair, untimed)"
  echo "treecast delta --from 1 --to 2 -o D --store S --channel bench                  (S: a fresh copy of BASE each run)"
  echo "treecast apply D T                                      (T: treecast checkout 1 T --store BASE, untimed)"
  echo "tar -cf - ${TAR_FLAGS[*]} -C NEW . | zstd -3 -T2 -c >D   (big: zstd -3 -T2 NEW -o D)"
  echo "zstd -d -c D | tar -xf - -C EMPTY                          (big: zstd -d D -o OUT)"
  echo "rsync ${RSYNC_FLAGS[*]} --only-write-batch=D NEW/ OLDCOPY/"
  echo "rsync -a --delete --read-batch=D T/                        (T: cp -a OLD T, untimed)"
  echo "rsync ${RSYNC_FLAGS[*]} --only-write-batch=D NEW/ OLDCOPY/ && zstd -3 --rm D -o D.zst"
  echo "zstd -d -c D.zst | rsync -a --delete --read-batch=- T/"
  echo "rsync ${RSYNC_FLAGS[*]} -z --zc=zstd --zl=3 --stats rsync://127.0.0.1:PORT/bench/NEW/ T/"
  echo "    (daemon: rsync --daemon --no-detach --address=127.0.0.1, use chroot = no, munge symlinks = no)"
  echo "xdelta3 -e -f -s OLD.tar NEW.tar D;  xdelta3 -d -f -s OLD.tar D OUT"
  echo "xdelta3 -e -f -9 -S lzma -B B -s OLD.tar NEW.tar D;  xdelta3 -d -f -B B -s OLD.tar D OUT"
  echo "zstd -3 -f --long=31 --memory=MMB --patch-from=OLD.tar NEW.tar -o D"
  echo "zstd -19 -f --long=31 --memory=MMB --patch-from=OLD.tar NEW.tar -o D"
  echo "zstd -d -f --long=31 --memory=MMB --patch-from=OLD.tar D -o OUT"
  echo '```'
  if [[ -s $EDITS && -n ${want_set[etc]:-} ]]; then
    echo
    echo "## The edits of the etc pair"
    echo
    sed 's/^/- /' "$EDITS"
  fi
} >"$OUT"

mkdir -p "$(dirname "$RESULTS")"
cp "$OUT" "$RESULTS"
cp "$RAW" "${RESULTS%.md}.runs.tsv"
echo
cat "$OUT"
echo
say "results: $RESULTS (every run: ${RESULTS%.md}.runs.tsv)"
