#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the app build, the window tests and the app benchmark need
# (WebKitGTK and friends, Xvfb, WebKitWebDriver, Chromium and ChromeDriver; fprintd with libfprint's
# virtual reader, python-dbusmock and gnome-keyring for the fingerprint tests), skipping what is
# already installed.
#   bash scripts/deps.sh --list   prints the packages, one a line, and installs nothing
#   bash scripts/deps.sh --platform [--list]   also the platform checks' packages (clang/llvm for
#     ring's C on the mobile and Apple targets, mingw-w64 for Windows, Wine to run its tests)
set -euo pipefail

packages=(libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev
  libsoup-3.0-dev build-essential pkg-config libssl-dev xvfb xauth webkit2gtk-driver
  chromium chromium-driver
  dbus fprintd libfprint-2-2 python3-dbusmock gnome-keyring)
if [ "${1:-}" = "--platform" ]; then
  packages+=(clang-22 llvm-22 gcc-mingw-w64-x86-64 wine64)
  shift
fi
if [ "${1:-}" = "--list" ]; then
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
