#!/usr/bin/env bash
# The README's bench command (`npm run bench`): release builds, figures printed, nothing asserted
# on speed. Results with the machine and method go into docs/BENCHMARKS.md.
#   BENCH_KILLS=200        kill -9 iterations during back-to-back refreshes (worst case)
#   BENCH_WATCH_KILLS=50   kill -9 iterations during `watch` (a refresh every ~2 s)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/oidc-provider ] || npm ci --no-audit --no-fund
cargo run --locked --release -p latchkey-bench -- all
echo
echo "crash safety (kill -9 at random instants; the vault must always open):"
LATCHKEY_CHAOS_KILLS="${BENCH_KILLS:-200}" cargo test --locked --release -p latchkey-cli \
  --test cli kill_dash_nine -- --nocapture 2>&1 | grep -E '^chaos:|test result'
LATCHKEY_CHAOS_MODE=watch LATCHKEY_CHAOS_KILLS="${BENCH_WATCH_KILLS:-50}" cargo test --locked \
  --release -p latchkey-cli --test cli kill_dash_nine -- --nocapture 2>&1 | grep -E '^chaos:|test result'
