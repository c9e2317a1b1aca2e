#!/usr/bin/env bash
# Builds the Debian package of treecast: a Release build in build/package
# (the treecast command only, no tests), then cpack -G DEB. Prints the path
# of the .deb. What it holds and how to use it: packaging/README.md.
#   tools/package.sh
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
cmake -S . -B build/package -G Ninja -DCMAKE_BUILD_TYPE=Release -DTREECAST_TESTS=OFF \
  -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build build/package --target treecast --parallel "$(nproc)"
rm -f build/package/*.deb
(cd build/package && cpack -G DEB >cpack.log 2>&1) || {
  cat build/package/cpack.log >&2
  exit 1
}
ls "$PWD"/build/package/*.deb
