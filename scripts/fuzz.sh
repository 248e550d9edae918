#!/usr/bin/env bash
# Fuzz the callback request parser, the token-response parser and the WWW-Authenticate challenge
# parser with cargo-fuzz (libFuzzer).
#   FUZZ_SECONDS=10   seconds per target (the test command's smoke run); longer runs for the
#                     figures in docs/BENCHMARKS.md
# Prints each target's executions and exits non-zero on any crash.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-10}"

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
# cargo-fuzz needs nightly flags: use the nightly toolchain when the machine has one.
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi

for target in callback_request token_response www_authenticate; do
  corpus="target/fuzz-corpus/$target"
  mkdir -p "$corpus"
  cp -n fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true
  log=$(mktemp)
  if ! cargo "${toolchain[@]}" fuzz run --fuzz-dir fuzz "$target" "$corpus" -- \
      -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz: $target FAILED (crash input under fuzz/artifacts/$target)"
    exit 1
  fi
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
  echo "fuzz: $target: $execs executions in ${seconds} s, 0 crashes"
  rm -f "$log"
done
