#!/usr/bin/env bash
# Cargo's runner for x86_64-pc-windows-gnu (CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER): puts the
# ProcessPrng shim (bcryptprimitives.dll, built by platform-checks.sh) beside the executable and
# runs it under Wine. The CLI binary the tests start sits in the same target directory, so it
# finds the shim as well.
set -euo pipefail
exe="$1"
shift
dir="$(dirname "$exe")"
shim="${LATCHKEY_PRNG_SHIM:?LATCHKEY_PRNG_SHIM names the shim DLL}"
for d in "$dir" "$dir/.."; do
  cmp -s "$shim" "$d/bcryptprimitives.dll" 2>/dev/null || cp "$shim" "$d/bcryptprimitives.dll"
done
# Debian's wine64 package installs the loader under /usr/lib/wine (the `wine` wrapper package is
# not needed).
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
# Tells tests that need Wine's missing Windows Hello that they run here (vault::hello_windows).
export LATCHKEY_UNDER_WINE=1
exec "$wine" "$exe" "$@"
