#!/usr/bin/env bash
# Benchmark of `treecast snapshot` against the tools a user already has
# (issue 2, "Benchmark"). Not part of the test suite. See tools/bench/README.md.
#
#   tools/bench/snapshot.sh                              # full size: /usr/share + 2 GiB file
#   SUBSET=/usr/share/doc SIZE_MB=64 RUNS=3 tools/bench/snapshot.sh   # quick smoke run
#
# Settings (environment):
#   RUNS=5            timed runs per case; the table shows medians
#   SUBSET=/usr/share the tree that is copied (cp -a) into the work folder
#   SIZE_MB=2048      size of the big, partly compressible file put in the tree
#   CHANGE_PCT=1      share of the files edited before each run of case b
#   WORK=             work folder; default: a new mktemp -d under /var/tmp.
#                     Must be empty or absent: it is removed at exit.
#   KEEP=0            KEEP=1 keeps the work folder (data, stores, logs)
#   RESULTS=          where the markdown results are copied at the end;
#                     default: build/bench-results/snapshot-<time>.md
#   TREECAST=         benchmark this binary instead of building one
#   CMD_TIMEOUT=1800  seconds after which any one measured command is killed
#
# Every timed command runs under /usr/bin/time -f %M (peak RSS) and timeout;
# times come from bash's $EPOCHREALTIME around the command (no fork to read
# the clock). Treecast and its peer alternate within each run, in the same
# tree state, so drift from other load on the machine hits both alike.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-5}
SUBSET=${SUBSET:-/usr/share}
SIZE_MB=${SIZE_MB:-2048}
CHANGE_PCT=${CHANGE_PCT:-1}
KEEP=${KEEP:-0}
CMD_TIMEOUT=${CMD_TIMEOUT:-1800}
STAMP=$(date +%Y%m%dT%H%M%S)
RESULTS=${RESULTS:-$ROOT/build/bench-results/snapshot-$STAMP.md}

say() { printf '%s\n' "$*" >&2; }
die() {
  say "snapshot.sh: $*"
  exit 1
}

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ $SIZE_MB =~ ^[0-9]+$ ]] || die "SIZE_MB must be an integer (MiB)"
[[ $CHANGE_PCT =~ ^[0-9]+([.][0-9]+)?$ ]] || die "CHANGE_PCT must be a number"
[[ -d $SUBSET ]] || die "SUBSET=$SUBSET is not a folder"

# ---- work folder, removed at exit unless KEEP=1

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

TREE=$WORK/tree            # the measured tree
COPY=$WORK/copy            # an identical copy, rsync's other side
BIG=$TREE/treecast-bench-big.bin
STORE_A=$WORK/store-first  # case a: recreated before every run
STORE=$WORK/store          # cases b, c, d: one store, versions accumulate
LOG=$WORK/log              # treecast output (--json) and peer stderr, per run
RAW=$WORK/runs.tsv         # every timed run: case, tool, run, microseconds, max RSS KiB
OUT=$WORK/results.md
mkdir -p "$LOG"
printf 'case\ttool\trun\tus\tmaxrss_kib\tcpu_s\n' >"$RAW"

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
    # The release build (which includes the test suite) failed. The benchmark
    # only needs the binary: build it alone, Release flags, in build/bench,
    # silencing the one GCC 12 -O3 false positive seen so far (-Wrestrict).
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

# ---- data

subset_kib=$(du -sk "$SUBSET" | cut -f1)
need_kib=$((3 * subset_kib + 3 * SIZE_MB * 1024 + 1024 * 1024))
free_kib=$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')
((free_kib > need_kib)) ||
  die "$WORK has $((free_kib / 1024)) MiB free; this run needs about $((need_kib / 1024)) MiB"

say "== data: cp -a $SUBSET -> $TREE"
cp -a -- "$SUBSET" "$TREE"

# The first N bytes of a command's output (head closing the pipe early is fine).
first_bytes() {
  local n=$1
  shift
  (
    set +o pipefail
    "$@" 2>/dev/null | head -c "$n"
  )
}

# Realistic, partly compressible content: rounds of 3 MiB taken in turn from a
# pool of real binaries and real text, then 1 MiB from /dev/urandom.
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
if ((SIZE_MB > 0)); then
  say "== data: $SIZE_MB MiB file -> $BIG"
  make_big "$BIG" "$SIZE_MB"
fi

say "== data: identical copy for rsync -> $COPY"
cp -a -- "$TREE" "$COPY"

files=$(find "$TREE" -type f | wc -l)
dirs=$(find "$TREE" -type d | wc -l)
links=$(find "$TREE" -type l | wc -l)
bytes=$(find "$TREE" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }')  # not %d: mawk caps it at 2^31-1
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
big_ratio=n/a
if ((SIZE_MB > 0)); then
  big_ratio=$(zstd -3 -T2 -c "$BIG" | wc -c | awk -v r="$((SIZE_MB << 20))" '{ printf "%.2f", r / $1 }')
fi
# Candidates for case b's edits: every regular file except the big one.
find "$TREE" -type f ! -path "$BIG" -print0 >"$WORK/candidates"
candidates=$(tr -cd '\0' <"$WORK/candidates" | wc -c)
edits=$(awk -v n="$candidates" -v p="$CHANGE_PCT" 'BEGIN { k = int(n * p / 100 + 0.999); print (k < 1 ? 1 : k) }')

say "== warm cache: reading every file of the tree, stat-walking the copy; sync"
tar -C "$WORK" -cf - tree | cat >/dev/null
find "$COPY" >/dev/null
sync

# ---- measuring

# run_timed CASE TOOL RUN CMD...: times CMD, appends a row to $RAW, leaves the
# microseconds in $us. CMD's stdout goes to $LOG/CASE-TOOL-RUN.out.
us=0
run_timed() {
  local case=$1 tool=$2 run=$3
  shift 3
  local base=$LOG/$case-$tool-$run
  sync # dirty pages of the setup steps are not the measured command's
  local t0 t1 rc=0
  t0=$EPOCHREALTIME
  timeout "$CMD_TIMEOUT" /usr/bin/time -f "%M %U %S" -o "$base.rss" "$@" >"$base.out" 2>"$base.err" || rc=$?
  t1=$EPOCHREALTIME
  if ((rc != 0)); then
    say "!! $case/$tool run $run failed (exit $rc): $*"
    cat "$base.err" >&2
    exit 1
  fi
  us=$((10#${t1/./} - 10#${t0/./}))
  local rss cpu
  read -r rss cpu < <(tail -n 1 "$base.rss" | awk '{ printf "%d %.2f\n", $1, $2 + $3 }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$case" "$tool" "$run" "$us" "$rss" "$cpu" >>"$RAW"
  printf '   %-3s %-9s run %d: %8.3f s  (cpu %6.2f s)  %7.1f MiB\n' "$case" "$tool" "$run" \
    "$(awk -v u="$us" 'BEGIN { print u / 1e6 }')" "$cpu" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" >&2
}

# A JSON field of treecast's --json output of one run.
json_field() { sed -n "s/^ *\"$2\": *\\([^,]*\\),\\{0,1\\}$/\\1/p" "$LOG/$1.out"; }

# Sanity of a treecast run: fails the benchmark when it did not do the work
# the case is about.
expect() {
  local run=$1 field=$2 op=$3 want=$4 got
  got=$(json_field "$run" "$field")
  if ! awk -v g="$got" -v w="$want" "BEGIN { exit !(g $op w) }"; then
    die "$run: expected $field $op $want, got '$got' (see $LOG/$run.out)"
  fi
}

# median / min / max of a case+tool's times in seconds, max of its RSS in KiB.
stat_of() {
  awk -F '\t' -v c="$1" -v t="$2" -v what="$3" '
    BEGIN { n = 0 }
    $1 == c && $2 == t { cpu[n] = $6; us[n++] = $4; if ($5 > rss) rss = $5 }
    END {
      if (what == "rss") { print rss; exit }
      if (what == "cpu") {
        for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (cpu[j] < cpu[i]) { x = cpu[i]; cpu[i] = cpu[j]; cpu[j] = x }
        printf "%.2f", (n % 2) ? cpu[int(n / 2)] : (cpu[n / 2 - 1] + cpu[n / 2]) / 2
        exit
      }
      for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (us[j] < us[i]) { x = us[i]; us[i] = us[j]; us[j] = x }
      if (what == "median") v = (n % 2) ? us[int(n / 2)] : (us[n / 2 - 1] + us[n / 2]) / 2
      if (what == "min") v = us[0]
      if (what == "max") v = us[n - 1]
      printf "%.6f", v / 1e6
    }' "$RAW"
}

declare -A shown
show_cmd() { shown[$1]+="$2"$'\n'; say "   \$ $2"; }

# -- a. first snapshot into an empty store vs tar | zstd -3 -T2
tar_cmd="tar -cf - -C $WORK tree | zstd -3 -T2 >/dev/null"
say "== a. first snapshot into an empty store (fresh --store each run) vs tar | zstd"
show_cmd a "treecast snapshot $TREE --channel bench --store $STORE_A --json   (after rm -rf $STORE_A)"
show_cmd a "$tar_cmd"
for ((r = 1; r <= RUNS; r++)); do
  rm -rf -- "$STORE_A"
  run_timed a treecast "$r" "$TC" snapshot "$TREE" --channel bench --store "$STORE_A" --json
  expect "a-treecast-$r" files_read == "$files"
  expect "a-treecast-$r" new_objects '>' 0
  run_timed a tar-zstd "$r" bash -o pipefail -c "$tar_cmd"
done
store_kib=$(du -sk "$STORE_A" | cut -f1)
store_objects=$(find "$STORE_A/objects" -type f | wc -l)
rm -rf -- "$STORE_A"

# -- b. 1% of the files changed, store holds the previous version, vs rsync -an
rsync_cmd="rsync -an --delete $TREE/ $COPY/"
say "== b. snapshot after $CHANGE_PCT% of the files changed ($edits of $candidates files) vs rsync -an"
say "   (seeding the store with a first version, untimed)"
"$TC" snapshot "$TREE" --channel bench --store "$STORE" >/dev/null

# Edits $edits random files, new edits every run, all with bash builtins: half
# append a line (size changes), half overwrite their first 8 bytes in place
# (same size: treecast hashes first, then compresses the new content).
edit_files() {
  local run=$1 i=0 f
  local -a picked
  mapfile -d '' picked < <(shuf -z -n "$edits" "$WORK/candidates")
  for f in "${picked[@]}"; do
    if ((i % 2 == 0)) && (($(stat -c %s -- "$f") >= 8)); then
      printf 'b%03d%04d' "$((run % 1000))" "$((i % 10000))" 1<>"$f"
    else
      printf '\ntreecast bench edit: run %d, file %d, %s\n' "$run" "$i" "$RANDOM$RANDOM" >>"$f"
    fi
    i=$((i + 1))
  done
}
show_cmd b "treecast snapshot $TREE --channel bench --store $STORE --json   (after editing $edits files)"
show_cmd b "$rsync_cmd   (same edited tree; then untimed rsync -a to make the copy identical again)"
for ((r = 1; r <= RUNS; r++)); do
  edit_files "$r"
  run_timed b treecast "$r" "$TC" snapshot "$TREE" --channel bench --store "$STORE" --json
  expect "b-treecast-$r" recorded == true
  expect "b-treecast-$r" files_read '>=' "$edits"
  run_timed b rsync "$r" rsync -an --delete "$TREE/" "$COPY/"
  rsync -a --delete "$TREE/" "$COPY/"
done

# -- c. unchanged tree vs rsync -an
say "== c. re-snapshot of the unchanged tree vs rsync -an (one untimed warm-up run each)"
show_cmd c "treecast snapshot $TREE --channel bench --store $STORE --json"
show_cmd c "$rsync_cmd"
"$TC" snapshot "$TREE" --channel bench --store "$STORE" >/dev/null
rsync -an --delete "$TREE/" "$COPY/"
for ((r = 1; r <= RUNS; r++)); do
  run_timed c treecast "$r" "$TC" snapshot "$TREE" --channel bench --store "$STORE" --json
  expect "c-treecast-$r" recorded == false
  expect "c-treecast-$r" files_read == 0
  run_timed c rsync "$r" rsync -an --delete "$TREE/" "$COPY/"
done

# -- d. every file touched: all re-hashed, nothing new, vs xxhsum -H2
xxh_cmd="find $TREE -type f -print0 | xargs -0 xxhsum -H2 >/dev/null"
say "== d. snapshot after touch of every file vs xxhsum -H2 over the same files"
show_cmd d "treecast snapshot $TREE --channel bench --store $STORE --json   (after touching every file)"
show_cmd d "$xxh_cmd"
for ((r = 1; r <= RUNS; r++)); do
  find "$TREE" -type f -print0 | xargs -0 touch --
  run_timed d treecast "$r" "$TC" snapshot "$TREE" --channel bench --store "$STORE" --json
  expect "d-treecast-$r" recorded == false
  expect "d-treecast-$r" files_read == "$files"
  expect "d-treecast-$r" new_objects == 0
  run_timed d xxhsum "$r" bash -o pipefail -c "$xxh_cmd"
done

# ---- the report

fmt_s() { awk -v s="$1" 'BEGIN { if (s < 10) printf "%.3f s", s; else printf "%.2f s", s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v v="$1" -v t="$3" "BEGIN { r = (v $2 t) ? \"met\" : \"**MISSED**\"; print r }"; }
rss_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
throughput() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.0f", b / 1048576 / s }'; }

declare -A med mn mx rss cpu
for key in a:treecast a:tar-zstd b:treecast b:rsync c:treecast c:rsync d:treecast d:xxhsum; do
  med[$key]=$(stat_of "${key%%:*}" "${key#*:}" median)
  mn[$key]=$(stat_of "${key%%:*}" "${key#*:}" min)
  mx[$key]=$(stat_of "${key%%:*}" "${key#*:}" max)
  rss[$key]=$(stat_of "${key%%:*}" "${key#*:}" rss)
  cpu[$key]=$(stat_of "${key%%:*}" "${key#*:}" cpu)
done
ra=$(ratio "${med[a:treecast]}" "${med[a:tar-zstd]}")
rb=$(ratio "${med[b:treecast]}" "${med[b:rsync]}")
rc=$(ratio "${med[c:treecast]}" "${med[c:rsync]}")
tp_tc=$(throughput "${med[d:treecast]}")
tp_xx=$(throughput "${med[d:xxhsum]}")
rd=$(ratio "$tp_tc" "$tp_xx")
max_rss=0
for key in a:treecast b:treecast c:treecast d:treecast; do
  if ((rss[$key] > max_rss)); then max_rss=${rss[$key]}; fi
done

{
  echo "# treecast snapshot benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)," \
    "$(uname -sr), load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- treecast: commit $commit; binary: $build_note"
  echo "- tree: cp -a of $SUBSET plus a $SIZE_MB MiB file (real binaries and text, 1 MiB" \
    "random every 4 MiB; zstd -3 ratio $big_ratio): $files files, $dirs folders, $links symlinks," \
    "$(mib "$bytes") MiB in files"
  echo "- page cache WARM: every file was read once before measuring, and each timed command" \
    "is preceded by an untimed sync; no cache was dropped."
  echo "- each figure: median of $RUNS runs (min-max below); treecast and peer alternate in" \
    "every run. Time = wall clock around \`timeout /usr/bin/time -f '%M %U %S' CMD\`."
  echo "- case a store: $store_objects objects, $((store_kib / 1024)) MiB on disk after the" \
    "first snapshot"
  echo
  echo "| case | treecast | peer | peer time | treecast / peer | target | result |"
  echo "|---|---:|---|---:|---:|---|---|"
  echo "| a. first snapshot, empty store | $(fmt_s "${med[a:treecast]}") | tar \\| zstd -3 -T2 |" \
    "$(fmt_s "${med[a:tar-zstd]}") | $ra | <= 1.0 | $(verdict "$ra" '<=' 1.0) |"
  echo "| b. $CHANGE_PCT% of files changed ($edits) | $(fmt_s "${med[b:treecast]}") | rsync -an |" \
    "$(fmt_s "${med[b:rsync]}") | $rb | (none) | - |"
  echo "| c. unchanged tree | $(fmt_s "${med[c:treecast]}") | rsync -an |" \
    "$(fmt_s "${med[c:rsync]}") | $rc | <= 0.5 | $(verdict "$rc" '<=' 0.5) |"
  echo "| d. every file touched: re-hash | $(fmt_s "${med[d:treecast]}") = $tp_tc MiB/s |" \
    "xxhsum -H2 | $(fmt_s "${med[d:xxhsum]}") = $tp_xx MiB/s | throughput $rd | >= 0.9 |" \
    "$(verdict "$rd" '>=' 0.9) |"
  echo
  echo "Peak memory (max RSS over the runs, /usr/bin/time -f %M; peer: its largest process):"
  echo
  echo "| case | treecast max RSS | peer max RSS | target | result |"
  echo "|---|---:|---:|---|---|"
  for c in a b c d; do
    case $c in a) p=tar-zstd ;; b | c) p=rsync ;; d) p=xxhsum ;; esac
    echo "| $c | $(rss_mib "${rss[$c:treecast]}") MiB | $(rss_mib "${rss[$c:$p]}") MiB ($p) |" \
      "< 100 MiB | $(verdict "${rss[$c:treecast]}" '<' 102400) |"
  done
  echo
  echo "Spread (min-max of the $RUNS runs, wall seconds) and median CPU seconds (user+sys," \
    "all threads and child processes):"
  echo
  echo "| case | treecast wall | treecast CPU | peer wall | peer CPU |"
  echo "|---|---|---:|---|---:|"
  for c in a b c d; do
    case $c in a) p=tar-zstd ;; b | c) p=rsync ;; d) p=xxhsum ;; esac
    printf '| %s | %.3f-%.3f | %s | %.3f-%.3f | %s |\n' "$c" "${mn[$c:treecast]}" \
      "${mx[$c:treecast]}" "${cpu[$c:treecast]}" "${mn[$c:$p]}" "${mx[$c:$p]}" "${cpu[$c:$p]}"
  done
  echo
  echo "Commands measured:"
  echo
  for c in a b c d; do
    echo "$c:"
    echo
    echo '```'
    printf '%s' "${shown[$c]}"
    echo '```'
    echo
  done
  echo "Memory target overall: treecast peaked at $(rss_mib "$max_rss") MiB:" \
    "$(verdict "$max_rss" '<' 102400)."
} >"$OUT"

mkdir -p "$(dirname "$RESULTS")"
cp "$OUT" "$RESULTS"
cp "$RAW" "${RESULTS%.md}.runs.tsv"
echo
cat "$OUT"
echo
say "results: $RESULTS (every run: ${RESULTS%.md}.runs.tsv)"
