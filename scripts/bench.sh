#!/usr/bin/env bash
# The README's bench command (`npm run bench`): builds what it measures, prints every figure next
# to its same-run reference; nothing is asserted on speed. Results with the machine and method
# are in docs/BENCHMARKS.md.
#   BENCH_KILLS=200        kill -9 iterations during back-to-back refreshes (worst case)
#   BENCH_WATCH_KILLS=50   kill -9 iterations during `watch` (a refresh every ~2 s)
#   BENCH_DROP_CACHES=1    drop the page cache before the first app start (needs root), so the
#                          "cold" start reads the binaries and WebKit from disk
#   BENCH_APP=0            skip the app figures (they need two release builds, ~6 min cold)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh --tests
# The load is part of the result: a concurrent build moves every figure (compare ratios).
echo "machine load before: $(uptime)"
[ -d node_modules/oidc-provider ] || npm ci --no-audit --no-fund

# The core's figures use the `measure` profile (opt-level 3, no LTO: quick to build); the app's
# use `release`, the size-optimised profile the app ships with.
cargo build --locked --profile measure -p latchkey-bench
bench=target/measure/latchkey-bench
"$bench" all

echo
echo "crash safety (kill -9 at random instants; the vault must always open):"
LATCHKEY_CHAOS_KILLS="${BENCH_KILLS:-200}" cargo test --locked --profile measure -p latchkey-cli \
  --test cli kill_dash_nine -- --nocapture 2>&1 | grep -E '^chaos:|test result'
LATCHKEY_CHAOS_MODE=watch LATCHKEY_CHAOS_KILLS="${BENCH_WATCH_KILLS:-50}" cargo test --locked \
  --profile measure -p latchkey-cli --test cli kill_dash_nine -- --nocapture 2>&1 \
  | grep -E '^chaos:|test result'

if [ "${BENCH_APP:-1}" != "0" ]; then
  echo
  npm run build:ui >/dev/null
  # Both in one cargo invocation: same dependency builds, same profile, same run.
  cargo build --locked --release -p latchkey-app -p minimal-window
  xvfb-run -a -s "-screen 0 1280x800x24" \
    "$bench" app target/release/latchkey-app target/release/minimal-window
fi

echo
echo "machine load after: $(uptime)"
