#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the app build and the demo need (WebKitGTK and friends), the
# window tests (Xvfb, WebKitWebDriver, Chromium and ChromeDriver), skipping what is already
# installed.
#   bash scripts/deps.sh --tests      also the fingerprint rig's: fprintd with libfprint's virtual
#                                     reader, python3-dbusmock, gnome-keyring, dbus (the test
#                                     command and the benchmarks; the demo doesn't need them)
#   bash scripts/deps.sh --platform   also the platform checks': clang/llvm for ring's C on the
#                                     mobile and Apple targets, mingw-w64 for Windows, Wine, and
#                                     xdotool + ImageMagick (import) for the Windows app's start-up
#                                     box under Wine
#   bash scripts/deps.sh [...] --list prints the packages, one a line, and installs nothing
set -euo pipefail

packages=(libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev
  libsoup-3.0-dev build-essential pkg-config libssl-dev xvfb xauth webkit2gtk-driver
  chromium chromium-driver)
list=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tests) packages+=(dbus fprintd libfprint-2-2 python3-dbusmock gnome-keyring) ;;
    --platform) packages+=(clang-22 llvm-22 gcc-mingw-w64-x86-64 wine64 xdotool imagemagick) ;;
    --list) list=1 ;;
    *) echo "deps.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$list" ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi
# Installed means dpkg's status says so ("dpkg -s" also succeeds for a removed package whose
# configuration files remain).
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  printf '\n==> apt-get install %s\n' "${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
