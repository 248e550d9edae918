#!/usr/bin/env bash
# The README's demo command (`npm run demo`): starts the bundled dev IdP on 127.0.0.1 with a short
# access-token lifetime, then
# - with a display: builds and opens the Latchkey app against it (sign in in your browser with any
#   password as alice or bob; watch the token timeline; Lock; quit and relaunch; unlock);
# - without one (or with DEMO=cli): walks the journey with the `latchkey` CLI, one process per
#   step: sign in (choosing a PIN) → a new process finds the vault locked → unlock with the PIN,
#   silent refresh, call the protected API → watch background refreshes and rotations.
#
#   DEMO_TTL=10          access-token lifetime in seconds (default 10)
#   DEMO_REFRESHES=N     stop watching after N refreshes (default: until Ctrl-C)
#   DEMO_PIN=...         the PIN the demo uses (default demo-pin-2468)
#   BROWSER=...          how to open the sign-in page; without it and without a display, the
#                        headless login driver signs in as alice (LATCHKEY_DEV_USER to change)
#   DEMO_DRY_RUN=1       print the set-up and build steps it would take ("step: COMMAND", in
#                        order), then stop: nothing is installed, built or started
#                        (scripts/check-demo-setup.sh checks the order)
# The demo's vault lives in target/demo-data, not in your real data directory.
set -euo pipefail
cd "$(dirname "$0")/.."

dry_run="${DEMO_DRY_RUN:-}"
# Each set-up and build step goes through here, so a dry run lists exactly what a real run does.
step() {
  if [ "$dry_run" = 1 ]; then echo "step: $*"; else "$@"; fi
}

mode="${DEMO:-}"
if [ -z "$mode" ]; then
  if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ "$(uname)" = Darwin ]; then mode=app; else mode=cli; fi
fi
[ "$dry_run" = 1 ] && echo "mode: $mode"
[ -d node_modules/oidc-provider ] || step npm ci --no-audit --no-fund
if [ "$mode" = app ]; then
  # WebKitGTK and friends, as the test command installs them (skips what is there).
  step bash scripts/deps.sh
  step npm run build:ui
  step cargo build --locked -p latchkey-app
else
  step cargo build --locked -p latchkey-cli
fi
[ "$dry_run" = 1 ] && exit 0
bin=target/debug/latchkey
pin="${DEMO_PIN:-demo-pin-2468}"

ready=$(mktemp)
trap 'kill "$idp_pid" 2>/dev/null || true; rm -f "$ready"' EXIT
DEV_IDP_ACCESS_TOKEN_TTL="${DEMO_TTL:-10}" DEV_IDP_CLOCK_TOLERANCE=0 DEV_IDP_QUIET=1 \
  node dev-idp/server.mjs >"$ready" &
idp_pid=$!
for _ in $(seq 1 100); do
  [ -s "$ready" ] && break
  sleep 0.1
done
issuer=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).issuer)' "$ready")
echo "dev IdP: $issuer (access tokens live ${DEMO_TTL:-10} s)"

if [ "$mode" = app ]; then
  export LATCHKEY_ISSUER="$issuer" LATCHKEY_CLIENT_ID=latchkey-native LATCHKEY_PARAMS="prompt=consent"
  export LATCHKEY_API_URL="$issuer/me" LATCHKEY_DATA_DIR="$PWD/target/demo-app-data"
  echo "opening the Latchkey app (its data: $LATCHKEY_DATA_DIR); close it to stop the demo"
  target/debug/latchkey-app
  exit 0
fi

if [ -z "${BROWSER:-}" ] && [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$(uname)" = Linux ]; then
  export BROWSER="node $PWD/dev-idp/login-driver.mjs %s"
  echo "no display: signing in with the headless login driver as ${LATCHKEY_DEV_USER:-alice}"
fi

export LATCHKEY_ISSUER="$issuer" LATCHKEY_CLIENT_ID=latchkey-native LATCHKEY_PARAMS="prompt=consent"
export LATCHKEY_DATA_DIR="$PWD/target/demo-data"
rm -rf "$LATCHKEY_DATA_DIR"

echo; echo "== 1. sign in (PIN: $pin)"
printf '%s\n' "$pin" | "$bin" --pin-stdin login
echo; echo "== 2. a new process: the vault is locked, but it knows who"
"$bin" status
echo; echo "== 3. the next day: unlock with the PIN, one silent refresh, call the API (no browser)"
printf '%s\n' "$pin" | BROWSER=false "$bin" --pin-stdin call "$issuer/api/hello"
echo; echo "== 4. stay signed in: background refreshes and rotations"
watch_args=(watch)
[ -n "${DEMO_REFRESHES:-}" ] && watch_args+=(--count "$DEMO_REFRESHES")
printf '%s\n' "$pin" | "$bin" --pin-stdin "${watch_args[@]}"
