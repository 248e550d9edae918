#!/usr/bin/env bash
# Proves the demo's set-up path (`npm run demo` with a display) is complete and idempotent on this
# machine without a second app build. The test command runs it right after scripts/deps.sh:
#  1. demo.sh's app path installs the system packages (scripts/deps.sh) before it builds the UI and
#     the app: checked on its own plan (DEMO=app DEMO_DRY_RUN=1), not by reading its source;
#  2. a second scripts/deps.sh installs nothing (no "apt-get install" line), and every package it
#     lists is installed per dpkg;
#  3. what the app build and the window test need is present: pkg-config finds webkit2gtk-4.1,
#     javascriptcoregtk-4.1 and libsoup-3.0; xvfb-run and WebKitWebDriver are on PATH.
# Prints one summary line, or what is wrong and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "demo setup: $*" >&2; exit 1; }

# 1. The order of the app path's steps.
plan=$(DEMO=app DEMO_DRY_RUN=1 bash scripts/demo.sh) || fail "DEMO_DRY_RUN=1 bash scripts/demo.sh failed"
line_of() { # the line number of the first plan line equal to "step: $1", or 0
  local n=0 l
  while IFS= read -r l; do
    n=$((n + 1))
    [ "$l" = "step: $1" ] && { echo "$n"; return; }
  done <<<"$plan"
  echo 0
}
deps=$(line_of "bash scripts/deps.sh")
ui=$(line_of "npm run build:ui")
app=$(line_of "cargo build --locked -p latchkey-app")
[ "$deps" -gt 0 ] || fail "demo.sh's app path does not run scripts/deps.sh; its plan:"$'\n'"$plan"
[ "$app" -gt 0 ] || fail "demo.sh's app path does not build latchkey-app; its plan:"$'\n'"$plan"
[ "$ui" -gt 0 ] || fail "demo.sh's app path does not build the UI; its plan:"$'\n'"$plan"
[ "$deps" -lt "$ui" ] && [ "$deps" -lt "$app" ] && [ "$ui" -lt "$app" ] ||
  fail "demo.sh's app path must run deps.sh, then build:ui, then the app build; its plan:"$'\n'"$plan"

# 2. A second deps.sh run installs nothing, and all it lists is installed.
out=$(bash scripts/deps.sh 2>&1) || fail "scripts/deps.sh failed on its second run:"$'\n'"$out"
! grep -q 'apt-get install' <<<"$out" || fail "scripts/deps.sh installed again on its second run:"$'\n'"$out"
mapfile -t packages < <(bash scripts/deps.sh --list)
[ ${#packages[@]} -gt 0 ] || fail "scripts/deps.sh --list printed no packages"
not_installed=()
for p in "${packages[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || not_installed+=("$p")
done
[ ${#not_installed[@]} -eq 0 ] || fail "listed by scripts/deps.sh but not installed: ${not_installed[*]}"

# 3. The app build's and the window test's prerequisites.
for module in webkit2gtk-4.1 javascriptcoregtk-4.1 libsoup-3.0; do
  pkg-config --exists "$module" || fail "pkg-config does not find $module (the app build needs it)"
done
for cmd in xvfb-run WebKitWebDriver; do
  command -v "$cmd" >/dev/null || fail "$cmd is not on PATH (the window test needs it)"
done

echo "demo setup: deps complete (${#packages[@]} packages), idempotent, app build prerequisites present"
