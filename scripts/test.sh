#!/usr/bin/env bash
# The README's test command (`npm test`): installs what the suite needs, then runs every check.
# Works on a fresh Debian/Ubuntu machine with Node 20+ and a Rust toolchain; CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "npm ci (the dev IdP: oidc-provider)"
npm ci --no-audit --no-fund

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (unit, dev-IdP scenarios, hostile-server scenarios, CLI)"
cargo test --workspace --locked

step "all checks passed"
