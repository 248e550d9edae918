#!/usr/bin/env bash
# Platform checks (part of the test command): the engine (latchkey-core, latchkey-vault, the
# latchkey facade), the plugin
# (tauri-plugin-latchkey) and the app (latchkey-app) type-check with warnings as errors for
# Android, iOS, macOS and Windows; Windows also builds and links the CLI and both Tauri apps (the
# reference app and the quickstart), runs the engine's unit tests and the CLI's offline tests
# under Wine, and starts each app under Wine, where it must report the missing WebView2 Runtime in
# a message box (scripts/platform/webview2-missing.sh). Installs what it needs itself: rustup
# targets, Debian packages (via scripts/deps.sh), a mingw libsodium built from the crate's own
# source tarball, a ProcessPrng shim DLL for Wine.
# Any failing target fails the script.
#   PLATFORM_TARGETS="aarch64-apple-ios ..."   limits the type-check targets (default: all four)
#   PLATFORM_SKIP_WINE=1                        skips the Windows links and the Wine runs
set -euo pipefail

# One function, so bash has read the whole script before it runs any of it.
main() {
cd "$(dirname "$0")/.."
root="$PWD"
step() { printf '\n==> %s\n' "$*"; }
started=$SECONDS

bash scripts/deps.sh --platform
# tauri::generate_context! embeds the built UI: build it when the test command hasn't yet.
[ -f ui/dist/index.html ] || npm run build:ui
[ -f examples/quickstart/dist/index.html ] || npx --no-install vite build examples/quickstart

step "the mobile redirect scheme agrees in tauri.conf.json, Info.ios.plist and the app's identifier"
node - <<'JS'
const fs = require('fs');
const conf = JSON.parse(fs.readFileSync('tauri.conf.json', 'utf8'));
const fromConf = conf.plugins['deep-link'].mobile.flatMap((d) => d.scheme).sort();
const plist = fs.readFileSync('Info.ios.plist', 'utf8');
const schemes = plist.match(/<key>CFBundleURLSchemes<\/key>\s*<array>([\s\S]*?)<\/array>/);
const fromPlist = schemes ? [...schemes[1].matchAll(/<string>([^<]+)<\/string>/g)].map((m) => m[1]).sort() : [];
// The plugin's mobile redirect URI is `<identifier>:/callback` (its platform/mobile_redirect.rs).
const code = fs.readFileSync('crates/tauri-plugin-latchkey/src/platform/mobile_redirect.rs', 'utf8');
if (!code.includes('format!("{}:{CALLBACK_PATH}", app.config().identifier)')) process.exit(1);
const fromCode = [conf.identifier];
const all = { 'tauri.conf.json': fromConf, 'Info.ios.plist': fromPlist, identifier: fromCode };
const same = Object.values(all).every((v) => JSON.stringify(v) === JSON.stringify(fromCode));
console.log(same ? `scheme ${fromCode[0]} everywhere` : `schemes differ: ${JSON.stringify(all)}`);
process.exit(same ? 0 : 1);
JS

targets=(${PLATFORM_TARGETS:-aarch64-linux-android aarch64-apple-ios aarch64-apple-darwin x86_64-pc-windows-gnu})
step "rustup targets: ${targets[*]}"
rustup target add "${targets[@]}" x86_64-pc-windows-gnu

target_dir="${CARGO_TARGET_DIR:-$root/target}"
work="$target_dir/platform"
mkdir -p "$work/empty-sdk" "$work/empty-sodium"
stubs="$root/scripts/platform/stub-include"

# Cross C for ring (no NDK or Apple SDK here): clang-22 with tiny stub headers is enough for a
# check; nothing for these targets is linked. libsodium-sys-stable only emits link flags when
# SODIUM_LIB_DIR is set, so an empty directory suffices for a check.
mobile_env() {
  local t="$1" u="${1//-/_}"
  export "CC_$u=clang-22" "AR_$u=llvm-ar-22"
  export "CFLAGS_$u=-ffreestanding -nostdlibinc -isystem $stubs"
  export SODIUM_LIB_DIR="$work/empty-sodium"
  case "$t" in
    *apple*) export SDKROOT="$work/empty-sdk" ;;
  esac
}

windows_sodium() {
  step "libsodium for mingw, from libsodium-sys-stable's own source tarball"
  SODIUM_LIB_DIR="$(bash scripts/platform/libsodium-mingw.sh "$work/libsodium-mingw" | tail -1)"
  export SODIUM_LIB_DIR
}

check() {
  local t="$1"
  step "clippy -D warnings: latchkey-core + latchkey-vault + latchkey + tauri-plugin-latchkey + the apps for $t"
  (
    if [ "$t" = x86_64-pc-windows-gnu ]; then windows_sodium; else mobile_env "$t"; fi
    # Clippy's lints (and rustc's, missing_docs among them) as errors for our crates only.
    cargo clippy --locked --target "$t" -p latchkey-core -p latchkey-vault -p latchkey \
      -p tauri-plugin-latchkey -p latchkey-app -p quickstart -- -D warnings
  )
}

for t in "${targets[@]}"; do
  check "$t"
done

# The mobile crate types (staticlib + cdylib) are switched on by scripts/platform/mobile-crate-types.sh
# for a device build (the manifests keep desktop builds rlib-only); the apps' libs, the reference
# app's and the quickstart's, are checked with them.
if [[ " ${targets[*]} " == *" aarch64-linux-android "* ]]; then
  step "mobile crate types (staticlib, cdylib) for aarch64-linux-android (check only)"
  (
    mobile_env aarch64-linux-android
    for app in latchkey-app quickstart; do
      cargo rustc --locked --target aarch64-linux-android -p "$app" --lib \
        --crate-type staticlib --crate-type cdylib --profile check -- -D warnings
    done
  )
fi

if [ -z "${PLATFORM_SKIP_WINE:-}" ]; then
  windows_sodium
  step "ProcessPrng shim for Wine 8 (mingw)"
  shim="$work/bcryptprimitives.dll"
  if [ ! -f "$shim" ] || [ "$root/scripts/platform/processprng-shim.c" -nt "$shim" ]; then
    x86_64-w64-mingw32-gcc -shared -O2 -o "$shim" "$root/scripts/platform/processprng-shim.c" -ladvapi32
  fi
  export LATCHKEY_PRNG_SHIM="$shim"
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$root/scripts/platform/wine-runner.sh"
  export WINEPREFIX="$work/wine" WINEDEBUG=-all WINEDLLOVERRIDES="bcryptprimitives=n,b;mscoree,mshtml="
  mkdir -p "$WINEPREFIX"

  step "Windows: build and link the CLI (latchkey.exe)"
  cargo build --locked --target x86_64-pc-windows-gnu -p latchkey-cli
  ls -l "$target_dir/x86_64-pc-windows-gnu/debug/latchkey.exe"

  step "Windows under Wine: latchkey-core, latchkey-vault and latchkey unit tests"
  cargo test --locked --target x86_64-pc-windows-gnu -p latchkey-core -p latchkey-vault -p latchkey --lib 2>&1 |
    tee "$work/wine-core.log" | grep -E '^test result:|FAILED|panicked' || true
  # One "test result" line per crate, every one of them ok.
  [ "$(grep -c '^test result: ok' "$work/wine-core.log")" -eq 3 ] && ! grep -q '^test result: FAILED' "$work/wine-core.log" ||
    { tail -40 "$work/wine-core.log"; exit 1; }

  # The CLI's tests that need no IdP (the latchkey.exe binary run under Wine); the others start
  # the Node dev IdP, which a Windows test binary can't launch here.
  step "Windows under Wine: the CLI's offline tests"
  cargo test --locked --target x86_64-pc-windows-gnu -p latchkey-cli --test cli_config -- \
    --skip the_config_file_is_read --skip a_command_that_needs_a_session 2>&1 |
    tee "$work/wine-cli.log" | grep -E '^test result:|FAILED|panicked' || true
  grep -q '^test result: ok' "$work/wine-cli.log" || { tail -40 "$work/wine-cli.log"; exit 1; }

  # The Tauri apps, linked with the GNU toolchain: -Wl,--exclude-all-symbols (.cargo/config.toml)
  # keeps ld's export table within its ordinals; webview2-com-sys links WebView2Loader.dll, which
  # tauri-build copies beside the exes. One cargo run for both: they share every dependency.
  step "Windows: build and link the apps (latchkey-app.exe, quickstart.exe)"
  t=$SECONDS
  cargo build --locked --target x86_64-pc-windows-gnu -p latchkey-app -p quickstart
  bin="$target_dir/x86_64-pc-windows-gnu/debug"
  for f in latchkey-app.exe quickstart.exe WebView2Loader.dll; do
    [ "$(head -c2 "$bin/$f" 2>/dev/null)" = MZ ] || { echo "no Windows binary $bin/$f" >&2; exit 1; }
  done
  # tauri-build found each app's icons/icon.ico and embedded it (the exe's resource script).
  for app in latchkey-app quickstart; do
    grep -qs 'ICON ".*/icons/icon.ico"' "$bin"/build/"$app"-*/out/resource.rc ||
      { echo "$app.exe: no icons/icon.ico in its resources" >&2; exit 1; }
  done
  ls -l "$bin/latchkey-app.exe" "$bin/quickstart.exe" "$bin/WebView2Loader.dll"
  echo "the apps' build: $((SECONDS - t)) s"

  # Wine has no WebView2 Runtime: each app must say so in a message box (screenshot) and on
  # stderr, and exit 3 when it is closed.
  step "Windows under Wine: the apps started without WebView2 show the WebView2-missing box"
  shots="${LATCHKEY_SHOTS:-$root/target/e2e-screenshots}"
  xvfb-run -a bash scripts/platform/webview2-missing.sh "$bin/latchkey-app.exe" "$shots/40-windows-webview2-missing.png"
  xvfb-run -a bash scripts/platform/webview2-missing.sh "$bin/quickstart.exe"
  echo "the apps' build and start-up checks: $((SECONDS - t)) s"
fi

step "platform checks passed in $((SECONDS - started)) s"
}

main "$@"
