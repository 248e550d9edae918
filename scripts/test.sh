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

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (core, vault, dev-IdP and hostile-input scenarios, CLI, app shell)"
cargo test --workspace --locked
# The CLI's --fingerprint journey needs its test-rig build (reads the rig's private buses; a
# release build with it does not compile).
cargo test --locked -p latchkey-cli --features test-rig --test cli_fingerprint

disk

step "hostile-input suites: what was tried and what was accepted"
cargo test --locked -p latchkey-core --test hostile_loopback --test hostile_app_links --test refresh_policy \
  --test id_tokens -- --nocapture 2>&1 | grep -E '^hostile '

step "window test (tauri-driver + WebKitWebDriver under Xvfb)"
bash scripts/e2e.sh

step "fuzz smoke run (cargo-fuzz, 10 s per target)"
FUZZ_SECONDS="${FUZZ_SECONDS:-10}" bash scripts/fuzz.sh

step "platform checks: Android, iOS, macOS, Windows type-check (-D warnings); Windows CLI linked, tests under Wine"
bash scripts/platform-checks.sh

disk
step "all checks passed"
