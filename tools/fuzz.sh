#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz) for a while each, starting from
# the committed corpus. Not part of the test suite: the suite runs the
# targets over the corpus only (fuzz_corpus_test).
#   tools/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
# New inputs go to build/fuzz/corpus/; crashes to build/fuzz/crashes/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

command -v clang++ >/dev/null || { echo "tools/fuzz.sh: needs clang++ (apt-get install clang)" >&2; exit 2; }
CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTREECAST_FUZZ=ON >/dev/null
cmake --build build/fuzz --parallel "$(nproc)" --target delta_fuzzer manifest_fuzzer wire_fuzzer

mkdir -p build/fuzz/crashes
for target in delta manifest wire; do
  mkdir -p "build/fuzz/corpus/$target"
  cp -n tests/fuzz/corpus/$target/* "build/fuzz/corpus/$target/"
  echo "== $target: ${seconds}s"
  "build/fuzz/tests/fuzz/${target}_fuzzer" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=1024 \
    -artifact_prefix="build/fuzz/crashes/$target-" "build/fuzz/corpus/$target"
done
