#!/usr/bin/env bash
# Starts a Tauri app's Windows build under Wine (which has no WebView2 Runtime) on an X display
# (run it under xvfb-run) and checks what the user gets: a message box titled "WebView2 Runtime
# missing" (tauri_plugin_latchkey::require_webview_runtime), the same words on stderr, and exit
# code 3 once the box is closed with Return. No sleeps: xdotool waits for the box.
#   bash scripts/platform/webview2-missing.sh <app.exe> [screenshot.png]
# Needs what platform-checks.sh sets up: WINEPREFIX, WINEDLLOVERRIDES and LATCHKEY_PRNG_SHIM (the
# runner puts the shim beside the exe).
set -euo pipefail
exe="${1:?usage: webview2-missing.sh <app.exe> [screenshot.png]}"
shot="${2:-}"
name=$(basename "$exe")
err=$(mktemp)
trap 'rm -f "$err" "$err.wid"' EXIT
title="WebView2 Runtime missing"

# Bounded, so a box that never comes (or is never closed) fails the check instead of hanging it;
# an app that exits before its box appears fails it at once.
timeout 180 bash "$(dirname "$0")/wine-runner.sh" "$exe" 2>"$err" &
app=$!
timeout 120 xdotool search --sync --onlyvisible --name "^$title\$" >"$err.wid" &
search=$!
wait -n "$app" "$search" || true
wid=$(head -1 "$err.wid")
if [ -z "$wid" ]; then
  kill "$app" "$search" 2>/dev/null || true
  cat "$err" >&2
  echo "$name: no \"$title\" box appeared (the app exited, or 120 s passed)" >&2
  exit 1
fi
if [ -n "$shot" ]; then
  mkdir -p "$(dirname "$shot")"
  import -window "$wid" "$shot"
  echo "$name: screenshot $shot"
fi
xdotool windowfocus --sync "$wid" key --clearmodifiers Return
rc=0
wait "$app" || rc=$?
sed "s/^/  $name stderr: /" "$err"
[ "$rc" -eq 3 ] || { echo "$name: exit code $rc, expected 3 (EXIT_WEBVIEW_MISSING)" >&2; exit 1; }
grep -q "^$title: this app shows its window with Microsoft Edge WebView2" "$err" &&
  grep -qF "https://developer.microsoft.com/microsoft-edge/webview2/" "$err" ||
  { echo "$name: stderr does not say that WebView2 is missing and where to get it" >&2; exit 1; }
echo "$name: the \"$title\" box, closed with Return; exit code 3; the message on stderr"
