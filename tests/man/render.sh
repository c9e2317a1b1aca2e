#!/usr/bin/env bash
# Every man page renders without a warning: man --warnings prints nothing on
# standard error (groff's warnings, man's own errors); and mandb can read
# its NAME line (lexgrog), for whatis and apropos.
#
# usage: render.sh MANDIR [PAGE...]
set -uo pipefail

if (($# < 1)); then
  echo "usage: $0 MANDIR [PAGE...]" >&2
  exit 2
fi
mandir=$1
shift
pages=("$@")
if ((${#pages[@]} == 0)); then
  pages=("$mandir"/*.[1-8])
fi
for tool in man groff; do
  command -v "$tool" >/dev/null || { echo "render: $tool is missing (tools/setup.sh installs it)" >&2; exit 2; }
done

failed=0
err=$(mktemp)
trap 'rm -f "$err"' EXIT
for page in "${pages[@]}"; do
  if ! LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" >/dev/null 2>"$err" || [[ -s $err ]]; then
    echo "FAIL: $page: man --warnings says:" >&2
    sed 's/^/    /' "$err" >&2
    failed=$((failed + 1))
  fi
  if command -v lexgrog >/dev/null && ! lexgrog "$page" >"$err" 2>&1; then
    echo "FAIL: $page: lexgrog cannot read its NAME section:" >&2
    sed 's/^/    /' "$err" >&2
    failed=$((failed + 1))
  fi
done
echo "render: ${#pages[@]} pages, $failed failed"
((failed == 0))
