#!/usr/bin/env bash
# The window test: builds the UI and the app, then drives it in a real WebKitGTK window under Xvfb
# with tauri-driver + WebKitWebDriver. Needs the Debian packages scripts/test.sh installs.
# Screenshots go to target/e2e-screenshots (the committed ones are in docs/screenshots).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "==> installing tauri-driver"
  cargo install tauri-driver --version '^2' --locked
fi
command -v WebKitWebDriver >/dev/null || { echo "WebKitWebDriver missing: install webkit2gtk-driver"; exit 1; }

npm run build:ui
cargo build --locked -p latchkey-app
xvfb-run -a -s "-screen 0 1280x800x24" node e2e/app.e2e.mjs
