#!/usr/bin/env bash
# The README's test command (`npm test`): installs what the suite needs, then runs every check.
# Works on a fresh Debian/Ubuntu machine with Node.js 20 (or a later LTS) and a Rust toolchain; CI
# runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
disk() { printf 'disk: %s free; target/ %s\n' "$(df -h --output=avail . | tail -1 | tr -d ' ')" \
  "$(du -sh target 2>/dev/null | cut -f1 || echo 0)"; }

# CI builds once from a clean clone: incremental state would only take disk (GBs) and time.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi
disk

# What this run leaves out. The variables below shrink the suite; each one set is named on the
# last line instead of "all checks passed". Tests that can't run on this machine append a line
# to $LATCHKEY_SKIP_LOG (under CI=true they fail instead).
left_out=()
if [ -n "${UPDATE_CONTRACT:-}" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "UPDATE_CONTRACT is set: it rewrites the IPC contract file instead of checking it; not under CI=true" >&2
    exit 1
  fi
  left_out+=("the IPC contract check (UPDATE_CONTRACT rewrote ui/src/ipc/contract.gen.ts)")
fi
if [ -n "${PLATFORM_SKIP_WINE:-}" ]; then
  left_out+=("the Windows link and Wine test run (PLATFORM_SKIP_WINE)")
fi
if [ -n "${PLATFORM_TARGETS:-}" ]; then
  left_out+=("type-checks for targets not in PLATFORM_TARGETS=\"$PLATFORM_TARGETS\"")
fi
if [ -n "${LATCHKEY_APP:-}" ]; then
  left_out+=("the window tests of this build (they drove LATCHKEY_APP=$LATCHKEY_APP)")
fi
skip_log=$(mktemp)
trap 'rm -f "$skip_log" "$skip_log.rig"' EXIT

# WebKitGTK and friends for the Tauri app, Xvfb and WebKitWebDriver for the window test.
bash scripts/deps.sh --tests
# The demo's set-up path: deps.sh runs before the app build, a second run installs nothing, and the
# app build's prerequisites are present (seconds; no second app build).
bash scripts/check-demo-setup.sh

step "npm ci (dev IdP, UI tooling, Tauri CLI, WebDriver client)"
npm ci --no-audit --no-fund

step "UI: typecheck, unit tests with mocked IPC, build"
npm run typecheck
npm run test:ui
npm run build:ui

step "quickstart (examples/quickstart): typecheck and build with the root's TypeScript and vite; README's section matches its diff"
npx --no-install tsc -p examples/quickstart
npx --no-install vite build examples/quickstart
node --test examples/

step "packaging: cargo package (every publishable library crate), npm pack (the plugin's guest-js)"
bash scripts/package-check.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (core, vault, dev-IdP and hostile-input scenarios, CLI, app shell)"
LATCHKEY_SKIP_LOG="$skip_log" cargo test --workspace --locked
# The CLI's --fingerprint journey needs its test-rig build (reads the rig's private buses; a
# release build with it does not compile).
LATCHKEY_SKIP_LOG="$skip_log" cargo test --locked -p latchkey-cli --features test-rig --test cli_fingerprint
skips=$(wc -l <"$skip_log")
echo "skipped tests: $skips"
if [ "$skips" -gt 0 ]; then
  sed 's/^/  skipped: /' "$skip_log"
  left_out+=("$skips skipped test(s): $(cut -d: -f1 "$skip_log" | paste -sd, -)")
fi

# The test-rig builds trust buses named in the environment; a release build of either must not
# compile. A release build is one without debug assertions, which is all the guard looks at, so
# the check turns them off for that one package (seconds, where a release check of every
# dependency takes minutes; clippy, so the clippy step's checked dependencies are reused) and
# expects exactly the compile_error!.
refused_as_release() { # package, the guard's message
  step "$1 --features test-rig built as a release: refused"
  if cargo clippy --locked -p "$1" --features test-rig \
    --config "profile.dev.package.$1.debug-assertions=false" >"$skip_log.rig" 2>&1; then
    echo "a release build of $1 with the test-rig feature compiled" >&2
    exit 1
  fi
  grep -F "$2" "$skip_log.rig" ||
    { tail -20 "$skip_log.rig"; echo "the release test-rig check of $1 failed for another reason" >&2; exit 1; }
  rm -f "$skip_log.rig"
}
refused_as_release tauri-plugin-latchkey "the \`test-rig\` feature is for the window test's debug build only, never a release"
refused_as_release latchkey-cli "the \`test-rig\` feature is for the CLI's fingerprint test build only, never a release"

disk

step "hostile-input suites: what was tried and what was accepted"
cargo test --locked -p latchkey-core --test hostile_loopback --test hostile_app_links --test refresh_policy \
  --test id_tokens -- --nocapture 2>&1 | grep -E '^hostile '

step "window test (tauri-driver + WebKitWebDriver under Xvfb)"
bash scripts/e2e.sh

step "fuzz smoke run (cargo-fuzz, 10 s per target)"
FUZZ_SECONDS="${FUZZ_SECONDS:-10}" bash scripts/fuzz.sh

step "platform checks: Android, iOS, macOS, Windows type-check (-D warnings); Windows CLI and apps linked, tests and the apps' start-up under Wine"
bash scripts/platform-checks.sh

disk
if [ ${#left_out[@]} -eq 0 ]; then
  step "all checks passed"
else
  step "the checks that ran passed; left out: $(printf '%s; ' "${left_out[@]}" | sed 's/; $//')"
fi
