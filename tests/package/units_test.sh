#!/usr/bin/env bash
# The systemd units of packaging/:
# - every option of an ExecStart= line is an option of that treecast
#   subcommand (`treecast COMMAND --help`), so a renamed flag breaks this test
#   rather than a service;
# - the daemons are Type=notify with a watchdog, read
#   /etc/treecast/treecast.toml, and run sandboxed;
# - `systemd-analyze verify` finds nothing to say (with /usr/bin/treecast
#   pointed at the built binary), and `systemd-analyze security --offline`
#   rates each service's exposure below a bound, so the sandbox does not
#   erode unnoticed. Skipped (77) when systemd-analyze is not installed.
#   units_test.sh TREECAST SOURCE_DIR
set -euo pipefail

treecast=$(realpath "$1")
packaging=$2/packaging
# shellcheck source=tests/package/lib.sh
source "$(dirname "$0")/lib.sh"

units=(treecast-master.service treecast-follower@.service treecast-push@.service treecast-push@.timer)
for u in "${units[@]}"; do
  [[ -f $packaging/$u ]] || fail "packaging/$u is missing"
done

# The ExecStart= options against the binary's help.
for u in "${units[@]}"; do
  line=$(sed -n 's/^ExecStart=//p' "$packaging/$u")
  [[ -n $line || $u == *.timer ]] || fail "$u: no ExecStart="
  [[ -n $line ]] || continue
  read -ra words <<<"$line"
  [[ ${words[0]} == /usr/bin/treecast ]] || fail "$u: ExecStart= does not run /usr/bin/treecast"
  help=$("$treecast" "${words[1]}" --help) || fail "$u: treecast ${words[1]} is not a subcommand"
  for w in "${words[@]:2}"; do
    if [[ $w == --* ]]; then
      grep -Eq -- "(^|[ ,])$w( |$)" <<<"$help" || fail "$u: treecast ${words[1]} has no option $w"
    fi
  done
done

# setting UNIT KEY=VALUE: the unit has that exact line.
setting() {
  grep -qxF -- "$2" "$packaging/$1" || fail "$1: no line $2"
}
for u in treecast-master.service treecast-follower@.service; do
  setting "$u" Type=notify
  setting "$u" NotifyAccess=main
  setting "$u" WatchdogSec=30s
  setting "$u" StateDirectory=treecast
  setting "$u" RuntimeDirectory=treecast
  setting "$u" RuntimeDirectoryPreserve=yes
  grep -q -- '--config /etc/treecast/treecast.toml' "$packaging/$u" || fail "$u: not the default config"
done
for u in treecast-master.service treecast-follower@.service treecast-push@.service; do
  setting "$u" ProtectSystem=strict
  setting "$u" NoNewPrivileges=yes
  setting "$u" PrivateTmp=yes
done
setting treecast-master.service ProtectHome=read-only
setting treecast-push@.service Type=oneshot
setting treecast-push@.timer Persistent=true
grep -q '^OnCalendar=' "$packaging/treecast-push@.timer" || fail "the timer has no OnCalendar="
grep -q '^RandomizedDelaySec=' "$packaging/treecast-push@.timer" || fail "the timer is not randomized"
# The follower's drop-in is documented where the operator looks.
grep -q 'ReadWritePaths=/etc$' "$packaging/treecast-follower@.service" ||
  fail "treecast-follower@.service does not document its drop-in"

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed (Debian package systemd): units not verified"
  exit 77
fi
mkdir "$tmp/units"
for u in "${units[@]}"; do
  sed "s#/usr/bin/treecast#$treecast#g" "$packaging/$u" >"$tmp/units/$u"
done
out=$(cd "$tmp/units" && systemd-analyze verify --man=no "${units[@]/#/./}" 2>&1) ||
  fail "systemd-analyze verify: $out"
[[ -z $out ]] || fail "systemd-analyze verify: $out"
echo "systemd-analyze verify: ${units[*]}"

# Exposure, 0 (none) to 10 (all); the bounds are a little above today's.
for bound in treecast-master.service:2.5 treecast-follower@.service:3.5 treecast-push@.service:1.5; do
  u=${bound%:*}
  threshold=${bound#*:}
  threshold=${threshold/./}
  out=$(cd "$tmp/units" && systemd-analyze security --offline=yes --no-pager "./$u" 2>&1 | tail -n 1)
  if ! (cd "$tmp/units" && systemd-analyze security --offline=yes --threshold="$threshold" \
    --no-pager "./$u" >/dev/null 2>&1); then
    fail "$u: exposure above ${bound#*:}: $out"
  fi
  echo "$out"
done
