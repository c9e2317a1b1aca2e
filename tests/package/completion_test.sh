#!/usr/bin/env bash
# The bash completion (packaging/bash-completion/treecast) against the
# binary's own help, both ways, so the two never drift: every subcommand of
# `treecast --help` and every option of each `treecast COMMAND --help` is
# completed, and nothing else is. Then a few values: --commit, folders for
# --store, serve's --channel NAME=DIR, channel names from a store.
#   completion_test.sh TREECAST SOURCE_DIR
set -euo pipefail

treecast=$1
script=$2/packaging/bash-completion/treecast
# shellcheck source=tests/package/lib.sh
source "$(dirname "$0")/lib.sh"

bash_completion=/usr/share/bash-completion/bash_completion
if [[ ! -r $bash_completion ]]; then
  echo "SKIP: $bash_completion is missing (Debian package bash-completion, tools/setup.sh)"
  exit 77
fi
# shellcheck disable=SC1090 # the files under test
source "$bash_completion"
# shellcheck disable=SC1090
source "$script"
[[ $(complete -p treecast) == *"-F _treecast"* ]] || fail "the script does not register _treecast"

# complete_words WORD...: what pressing TAB after these words (the last one being
# the word under the cursor, maybe empty) offers, one per line, sorted. LINE:
# the command line, when it is not the words joined by spaces.
complete_words() {
  COMP_WORDS=(treecast "$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE=${LINE:-"${COMP_WORDS[*]}"}
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _treecast treecast "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  ((${#COMPREPLY[@]} == 0)) || printf '%s\n' "${COMPREPLY[@]}" | sort -u
}

# The subcommands: the lines under "Subcommands:" in `treecast --help`.
commands=$("$treecast" --help | sed -n '/^Subcommands:/,/^$/{/^  [a-z]/{s/^  \([a-z-]*\).*/\1/;p}}' | sort)
(($(wc -l <<<"$commands") >= 15)) || fail "found only these subcommands in treecast --help: $commands"
offered=$(complete_words "" | grep -v '^-' || true)
if [[ $commands != "$offered" ]]; then
  fail "subcommands: treecast --help and the completion differ (< help, > completion):
$(diff <(echo "$commands") <(echo "$offered") || true)"
fi
for o in --help --version; do
  complete_words - | grep -qx -- "$o" || fail "treecast - does not offer $o"
done

# Each subcommand's options: the first column of its "Options:" lines,
# -j,--jobs giving both.
checked=0
drift=""
for c in $commands; do
  options=$("$treecast" "$c" --help |
    sed -n '/^Options:/,/^$/{/^  -/{s/^  \([^ ]*\).*/\1/;p}}' | tr ',' '\n' | sort -u)
  [[ -n $options ]] || fail "no options found in treecast $c --help"
  offered=$(complete_words "$c" -)
  if [[ $options != "$offered" ]]; then
    drift+="treecast $c: $( (diff <(echo "$options") <(echo "$offered") || true) | grep '^[<>]' | tr '\n' ' ')"$'\n'
  fi
  checked=$((checked + $(wc -l <<<"$options")))
done
[[ -z $drift ]] || fail "the --help of these subcommands and the completion differ (< only in --help, > only completed):
$drift"
echo "$(wc -l <<<"$commands") subcommands and $checked options completed as their --help says"

# Values.
[[ $(complete_words apply --commit "") == $'atomic\ninplace' ]] || fail "apply --commit"
[[ $(complete_words follow --commit i) == inplace ]] || fail "follow --commit i"
[[ $(complete_words checkout --owners r) == restore ]] || fail "checkout --owners r"
mkdir -p "$tmp/store/channels/nginx" "$tmp/store/channels/certs" "$tmp/folder"
touch "$tmp/file"
[[ $(complete_words log --store "$tmp/fo") == "$tmp/folder" ]] || fail "log --store: a folder"
[[ -z $(complete_words log --store "$tmp/fi") ]] || fail "log --store offers a file"
[[ $(complete_words serve --config "$tmp/fi") == "$tmp/file" ]] || fail "serve --config: a file"
[[ $(complete_words push --store "$tmp/store" "") == $'certs\nnginx' ]] ||
  fail "push: the store's channels"
[[ $(complete_words log --store "$tmp/store" --channel n) == nginx ]] ||
  fail "log --channel: the store's channels"
# serve --channel NAME=DIR: bash splits the word at "=".
[[ $(LINE="treecast serve --channel web=$tmp/fo" complete_words serve --channel web = "$tmp/fo") == "$tmp/folder" ]] ||
  fail "serve --channel NAME=DIR: a folder after ="
cat >"$tmp/treecast.toml" <<'EOF'
[follow]
[[follow.channel]]
name = "nginx"
dir = "/etc/nginx"
[[follow.channel]]
name = 'certs'
dir = "/etc/ssl/fleet"
EOF
[[ $(complete_words follow --config "$tmp/treecast.toml" --channel "") == $'certs\nnginx' ]] ||
  fail "follow --channel: the config's channels"
[[ $(complete_words apply "$tmp/fi") == "$tmp/file" ]] || fail "apply FILE"
[[ $(complete_words apply "$tmp/file" "$tmp/fo") == "$tmp/folder" ]] || fail "apply FILE DIR"
[[ -z $(complete_words apply "$tmp/file" "$tmp/folder" "$tmp/") ]] || fail "apply: a third argument"
echo "values completed"
