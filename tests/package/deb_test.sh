#!/usr/bin/env bash
# The Debian package, made by CPack from the build folder this test belongs
# to (its treecast already built; nothing is compiled here), into a
# temporary folder:
# - its contents (dpkg-deb -c): the binary, every man page of man/ in its
#   section, the systemd units, /etc/treecast/treecast.toml, the bash
#   completion, the documentation; nothing else outside /usr and /etc;
# - its control data (dpkg-deb -I): name, version, section, dependencies
#   computed by dpkg-shlibdeps, the conffile, the maintainer scripts;
# - installed with dpkg into a temporary root (its own dpkg database, as
#   root or not): the binary runs; a changed conffile survives a
#   reinstallation and a removal, not a purge;
# - `cmake --install` into a DESTDIR puts the same files there.
#   deb_test.sh BUILD_DIR SOURCE_DIR VERSION CPACK CMAKE
set -euo pipefail

build=$1
src=$2
version=$3
cpack=$4
cmake=$5
# shellcheck source=tests/package/lib.sh
source "$(dirname "$0")/lib.sh"

for tool in dpkg-deb dpkg dpkg-shlibdeps; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (Debian packages dpkg, dpkg-dev; tools/setup.sh)"
    exit 77
  fi
done

# The package.
timeout 100 "$cpack" --config "$build/CPackConfig.cmake" -G DEB -B "$tmp/cpack" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log" >&2; fail "cpack -G DEB"; }
debs=("$tmp"/cpack/*.deb)
if ((${#debs[@]} != 1)) || [[ ! -f ${debs[0]} ]]; then
  fail "cpack made no single .deb: ${debs[*]}"
fi
deb=${debs[0]}
arch=$(dpkg --print-architecture)
[[ $(basename "$deb") == "treecast_${version}_$arch.deb" ]] || fail "named $(basename "$deb")"

# Its contents.
dpkg-deb -c "$deb" >"$tmp/contents"
awk '{print $6}' "$tmp/contents" | sed 's#^\./#/#; s#/$##' | grep -v '^$' | sort >"$tmp/paths"
expected=(
  /usr/bin/treecast
  /etc/treecast/treecast.toml
  /usr/lib/systemd/system/treecast-master.service
  /usr/lib/systemd/system/treecast-follower@.service
  /usr/lib/systemd/system/treecast-push@.service
  /usr/lib/systemd/system/treecast-push@.timer
  /usr/share/bash-completion/completions/treecast
  /usr/share/doc/treecast/README.md
  /usr/share/doc/treecast/README.packaging.md
  /usr/share/doc/treecast/examples/treecast.cron
  /usr/share/doc/treecast/examples/treecast.toml
)
pages=0
for page in "$src"/man/*.[157]; do
  name=$(basename "$page")
  expected+=("/usr/share/man/man${name##*.}/$name")
  pages=$((pages + 1))
done
((pages >= 4)) || fail "only $pages man pages in $src/man"
for path in "${expected[@]}"; do
  grep -qxF "$path" "$tmp/paths" || fail "the package has no $path"
done
if grep -Ev '^/(usr|etc)(/|$)' "$tmp/paths"; then
  fail "the package has the paths above, outside /usr and /etc"
fi
if grep -E '^/usr/local|/build/|/work/' "$tmp/paths"; then
  fail "the package has the paths above"
fi
awk '$2 != "root/root" {print; bad = 1} END {exit bad}' "$tmp/contents" ||
  fail "files above not owned by root/root"
grep -E '^-rwxr-xr-x .* \./usr/bin/treecast$' "$tmp/contents" >/dev/null || fail "/usr/bin/treecast is not 0755"
echo "contents: ${#expected[@]} paths, $pages of them man pages"

# Its control data.
field() {
  dpkg-deb -f "$deb" "$1"
}
[[ $(field Package) == treecast ]] || fail "Package: $(field Package)"
[[ $(field Version) == "$version" ]] || fail "Version: $(field Version), not $version"
[[ $(field Section) == admin ]] || fail "Section: $(field Section)"
[[ $(field Architecture) == "$arch" ]] || fail "Architecture: $(field Architecture)"
[[ -n $(field Maintainer) ]] || fail "no Maintainer"
depends=$(field Depends)
for lib in libc6 libzmq5 libzstd1 libsodium23; do
  [[ $depends == *"$lib"* ]] || fail "Depends has no $lib (dpkg-shlibdeps): $depends"
done
[[ $(field Description) == *"two-phase"* ]] || fail "Description: $(field Description)"
dpkg-deb -e "$deb" "$tmp/control"
[[ $(cat "$tmp/control/conffiles") == /etc/treecast/treecast.toml ]] ||
  fail "conffiles: $(cat "$tmp/control/conffiles")"
for script in postinst postrm; do
  [[ -x $tmp/control/$script ]] || fail "no executable $script"
  sh -n "$tmp/control/$script" || fail "$script: syntax"
done
[[ ! -e $tmp/control/preinst && ! -e $tmp/control/prerm ]] || fail "unexpected preinst or prerm"
echo "control: $(field Package) $(field Version) $(field Architecture), Depends: $depends"

# Installed into a temporary root, with a dpkg database of its own. The
# maintainer scripts run outside it (there is no shell in it), with DPKG_ROOT
# set: they then do nothing.
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
dpkg_root() {
  timeout 60 dpkg --root="$root" --force-not-root --force-depends --force-script-chrootless \
    --log=/dev/null "$@" >>"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg $*"; }
}
dpkg_root -i "$deb"
[[ $(dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Status}' treecast) == "install ok installed" ]] ||
  fail "not installed: $(dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Status}' treecast)"
[[ $("$root/usr/bin/treecast" --version) == "treecast $version" ]] ||
  fail "the installed treecast --version says: $("$root/usr/bin/treecast" --version)"
cmp "$src/packaging/treecast.toml" "$root/etc/treecast/treecast.toml" || fail "the installed config differs"
for path in "${expected[@]}"; do
  [[ -e $root$path ]] || fail "not installed: $path"
done
echo "# changed by the administrator" >>"$root/etc/treecast/treecast.toml"
dpkg_root -i "$deb"
grep -q "changed by the administrator" "$root/etc/treecast/treecast.toml" ||
  fail "a reinstallation replaced the changed conffile"
dpkg_root -r treecast
[[ ! -e $root/usr/bin/treecast ]] || fail "removed, but /usr/bin/treecast is still there"
grep -q "changed by the administrator" "$root/etc/treecast/treecast.toml" ||
  fail "a removal did not keep the conffile"
dpkg_root -P treecast
[[ ! -e $root/etc/treecast/treecast.toml ]] || fail "purged, but the conffile is still there"
echo "installed, reinstalled, removed and purged in a temporary root"

# cmake --install into a DESTDIR (no packaging): the same files, under the
# build's prefix, and the config under DESTDIR/etc.
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
DESTDIR=$tmp/destdir timeout 60 "$cmake" --install "$build" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install with DESTDIR"; }
for path in "${expected[@]}"; do
  [[ $path == /etc/* ]] || path=$prefix${path#/usr}
  [[ -e $tmp/destdir$path ]] || fail "cmake --install with DESTDIR: no $path"
done
echo "cmake --install: under DESTDIR$prefix and DESTDIR/etc"
