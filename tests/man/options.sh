#!/usr/bin/env bash
# The man pages describe the binary they ship with:
#  - every command of `treecast --help` has a page, treecast-COMMAND(1),
#    listed in treecast(1)'s COMMANDS, and every such page a command;
#  - a command's OPTIONS lists (one .TP each) exactly the options of
#    `treecast COMMAND --help`, short and long;
#  - a command's page has NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS,
#    EXAMPLES and SEE ALSO, in that order, and its NAME names it;
#  - every reference to a treecast page, such as treecast\-push (1), names
#    a page in MANDIR.
# An option listed in PENDING ("COMMAND OPTION" a line, # comments) may be
# missing from its page for now: it is reported, not failed; and a line
# there that is no longer true (the page lists it, or the binary has no
# such option) fails, so that the list only shrinks.
#
# usage: options.sh TREECAST MANDIR [PENDING]
set -uo pipefail

if (($# < 2 || $# > 3)); then
  echo "usage: $0 TREECAST MANDIR [PENDING]" >&2
  exit 2
fi
treecast=$1
mandir=$2
pending=()
if (($# == 3)); then
  mapfile -t pending < <(sed -e 's/#.*//' -e 's/[[:space:]]\+/ /g' -e 's/^ //' -e 's/ $//' "$3" | grep -v '^$')
fi
failed=0
problem() {
  echo "FAIL: $*" >&2
  failed=$((failed + 1))
}

# The commands, from the Subcommands list of --help.
mapfile -t commands < <("$treecast" --help | awk '
  /^Subcommands:/ { in_list = 1; next }
  in_list && /^  [a-z]/ { print $1 }
  in_list && /^$/ { exit }
')
((${#commands[@]} > 0)) || { echo "options: no commands in '$treecast --help'" >&2; exit 1; }

# The options of one command's --help, one a line: -h, --help, ...
help_options() {
  "$treecast" "$1" --help | awk '
    /^Options:/ { in_list = 1; next }
    in_list && /^$/ { exit }
    in_list && /^  -/ {
      n = split($1, names, ",")
      for (i = 1; i <= n; i++) if (names[i] ~ /^-/) print names[i]
    }
  ' | sort -u
}

# The options a page's OPTIONS section lists: the tags of its .TP
# paragraphs, font escapes dropped.
page_options() {
  awk '
    /^\.SH[ \t]/ { sect = $0; sub(/^\.SH[ \t]+/, "", sect); gsub(/"/, "", sect); next }
    sect != "OPTIONS" { next }
    /^\.TP/ { tag = 1; next }
    tag {
      tag = 0
      line = $0
      gsub(/\\-/, "-", line)
      gsub(/\\f(\[[^]]*\]|\(..|.)/, "", line)
      sub(/^\.[A-Z]+[ \t]*/, " ", line)
      while (match(line, /(^|[ \t"|,\[])--?[A-Za-z][A-Za-z0-9-]*/)) {
        opt = substr(line, RSTART, RLENGTH)
        sub(/^[^-]*/, "", opt)
        print opt
        line = substr(line, RSTART + RLENGTH)
      }
    }
  ' "$1" | sort -u
}

overview=$mandir/treecast.1
[[ -f $overview ]] || problem "$overview is missing"

for c in "${commands[@]}"; do
  page=$mandir/treecast-$c.1
  if [[ ! -f $page ]]; then
    problem "treecast $c has no page: $page is missing"
    continue
  fi
  if ! grep -q "^\.BR treecast\\\\-$c (1)\$" "$overview"; then
    problem "treecast.1 does not list treecast\\-$c (1) (its COMMANDS: .BR treecast\\-$c (1))"
  fi

  want=$(help_options "$c")
  have=$(page_options "$page")
  while read -r opt; do
    [[ -n $opt ]] || continue
    if printf '%s\n' "${pending[@]}" | grep -qxF -- "$c $opt"; then
      echo "pending: $(basename "$page") does not describe $opt yet (tests/man/pending-options.txt)"
    else
      problem "$(basename "$page"): OPTIONS lacks $opt, which 'treecast $c --help' lists"
    fi
  done < <(comm -23 <(echo "$want") <(echo "$have"))
  for p in "${pending[@]}"; do
    [[ $p == "$c "* ]] || continue
    opt=${p#* }
    grep -qxF -- "$opt" <<<"$want" ||
      problem "pending-options.txt lists '$p', but 'treecast $c --help' has no $opt: remove the line"
    grep -qxF -- "$opt" <<<"$have" &&
      problem "pending-options.txt lists '$p', but $(basename "$page") describes it now: remove the line"
  done
  while read -r opt; do
    [[ -n $opt ]] && problem "$(basename "$page"): OPTIONS lists $opt, which 'treecast $c --help' does not have"
  done < <(comm -13 <(echo "$want") <(echo "$have"))

  sections=$(awk '/^\.SH[ \t]/ { s = $0; sub(/^\.SH[ \t]+/, "", s); gsub(/"/, "", s); print s }' "$page" |
    grep -xE 'NAME|SYNOPSIS|DESCRIPTION|OPTIONS|EXIT STATUS|EXAMPLES|SEE ALSO' | paste -sd '|')
  if [[ $sections != "NAME|SYNOPSIS|DESCRIPTION|OPTIONS|EXIT STATUS|EXAMPLES|SEE ALSO" ]]; then
    problem "$(basename "$page"): sections are $sections; want NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS, EXAMPLES, SEE ALSO, in this order"
  fi
  name_line=$(awk '/^\.SH[ \t]+NAME/ { getline; print; exit }' "$page")
  if [[ $name_line != "treecast\\-$c \\- "* ]]; then
    problem "$(basename "$page"): its NAME line should start 'treecast\\-$c \\- ', not '$name_line'"
  fi
done

for page in "$mandir"/treecast-*.1; do
  c=${page##*/treecast-}
  c=${c%.1}
  printf '%s\n' "${commands[@]}" | grep -qx -- "$c" ||
    problem "$(basename "$page") documents '$c', which 'treecast --help' does not list"
done

# References to treecast's own pages, in the text and in .BR.
for page in "$mandir"/*.[1-8]; do
  while read -r ref; do
    target=${ref%%(*}
    target=${target%% *}
    section=${ref##*(}
    section=${section%)}
    [[ -f $mandir/$target.$section ]] ||
      problem "$(basename "$page") refers to $target($section), which is not in $mandir"
  done < <(sed 's/\\-/-/g' "$page" | grep -oE 'treecast(-[a-z]+|\.toml)? ?\([1-8]\)' | sort -u)
done

echo "options: ${#commands[@]} commands, $failed problems"
((failed == 0))
