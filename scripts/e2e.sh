#!/usr/bin/env bash
# The window tests: builds the UI and the app, then drives it in a real WebKitGTK window under Xvfb
# with tauri-driver + WebKitWebDriver: e2e/app.e2e.mjs (the headless login driver as the browser),
# then e2e/real-browser.e2e.mjs (Debian's Chromium as the browser, started by the app through
# BROWSER, its IdP forms filled through ChromeDriver), e2e/accounts.e2e.mjs (the account switcher,
# alice and bob), e2e/step-up.e2e.mjs ("Confirm it's you" for an API that asks for a step-up),
# then e2e/quickstart.e2e.mjs (the
# quickstart example: sign in, relaunch, PIN unlock), then e2e/fingerprint.e2e.mjs (the next-day
# journey with libfprint's virtual reader, the `test-rig` build). Needs the Debian packages scripts/deps.sh
# installs. Screenshots go to target/e2e-screenshots (the committed ones are in docs/screenshots).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "==> installing tauri-driver"
  cargo install tauri-driver --version '^2' --locked
fi
command -v WebKitWebDriver >/dev/null || { echo "WebKitWebDriver missing: install webkit2gtk-driver"; exit 1; }
for bin in /usr/bin/chromium /usr/bin/chromedriver; do
  [ -x "$bin" ] || { echo "$bin missing: install chromium chromium-driver (scripts/deps.sh)"; exit 1; }
done

npm run build:ui
cargo build --locked -p latchkey-app
# The binary cargo just built, wherever CARGO_TARGET_DIR puts it.
export LATCHKEY_APP="${LATCHKEY_APP:-${CARGO_TARGET_DIR:-target}/debug/latchkey-app}"
xvfb-run -a -s "-screen 0 1280x800x24" node e2e/app.e2e.mjs
# The account switcher: alice and bob side by side in one window (e2e/accounts.e2e.mjs).
xvfb-run -a -s "-screen 0 1280x800x24" node e2e/accounts.e2e.mjs
# "Confirm it's you" for an API that asks for a step-up (e2e/step-up.e2e.mjs).
xvfb-run -a -s "-screen 0 1280x800x24" node e2e/step-up.e2e.mjs
xvfb-run -a -s "-screen 0 1280x800x24" node e2e/real-browser.e2e.mjs
# The quickstart (examples/quickstart, a workspace member): its UI built with the root's vite,
# then sign-in, quit, relaunch and PIN unlock with no browser (e2e/quickstart.e2e.mjs).
npx --no-install vite build examples/quickstart
# tauri/custom-protocol, as `tauri build` passes it: the app serves the built UI (frontendDist),
# not the scaffold's devUrl (vite's dev server, for `tauri dev`).
cargo build --locked -p quickstart --features tauri/custom-protocol
export QUICKSTART_APP="${QUICKSTART_APP:-${CARGO_TARGET_DIR:-target}/debug/quickstart}"
xvfb-run -a -s "-screen 0 1280x800x24" node e2e/quickstart.e2e.mjs
# The fingerprint journey: the test-rig build (fprintd and the Secret Service on the rig's private
# buses) and the rig that runs them (real fprintd, dbusmock polkitd, gnome-keyring).
cargo build --locked -p latchkey-app --features test-rig
cargo build --locked -p latchkey-testkit --bin fprint-rig
export LATCHKEY_FPRINT_RIG="${CARGO_TARGET_DIR:-target}/debug/fprint-rig"
xvfb-run -a -s "-screen 0 1280x800x24" node e2e/fingerprint.e2e.mjs
