#!/usr/bin/env bash
# Configures and builds one flavour of treecast.
#   tools/build.sh release|debug|sanitize   (build folder: build/<flavour>)
set -euo pipefail
cd "$(dirname "$0")/.."

flavour=${1:-release}
case "$flavour" in
  release) args=(-DCMAKE_BUILD_TYPE=Release) ;;
  debug) args=(-DCMAKE_BUILD_TYPE=Debug) ;;
  sanitize) args=(-DCMAKE_BUILD_TYPE=Debug -DTREECAST_SANITIZE=ON) ;;
  *) echo "usage: tools/build.sh release|debug|sanitize" >&2; exit 2 ;;
esac
cmake -S . -B "build/$flavour" -G Ninja "${args[@]}" >/dev/null
cmake --build "build/$flavour" --parallel "$(nproc)"
