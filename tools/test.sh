#!/usr/bin/env bash
# The whole test suite, as CI runs it: install what is missing, build, run
# every test; then the same suite under AddressSanitizer and
# UndefinedBehaviorSanitizer; then the clang-format check.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh

jobs=$(nproc)
echo "== release build and tests"
tools/build.sh release
ctest --test-dir build/release --output-on-failure --parallel "$jobs" --timeout 600

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
tools/build.sh sanitize
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/sanitize --output-on-failure --parallel "$jobs" --timeout 900

echo "== clang-format check"
tools/format.sh --check
echo "all checks passed"
