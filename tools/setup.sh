#!/usr/bin/env bash
# Installs what treecast needs to build and test, from Debian's packages only.
# Idempotent and quiet when everything is present; uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libzmq3-dev cppzmq-dev libxxhash-dev libzstd-dev libboost-filesystem-dev
  libgtest-dev libcli11-dev nlohmann-json3-dev libtomlplusplus-dev libsodium-dev
  libsystemd-dev
  clang-format zstd xxhash rsync
  man-db groff-base dpkg-dev bash-completion jq systemd
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(hyperfine time xdelta3)
  # npm (tools/bench/delta.sh fetches packages): Debian's, unless some npm is
  # already there (a nodejs from elsewhere bundles one and conflicts with it).
  if ! command -v npm >/dev/null; then
    packages+=(npm)
  fi
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
((${#missing[@]} == 0)) && exit 0

sudo=()
if ((EUID != 0)); then
  sudo=(sudo)
fi
echo "treecast setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
