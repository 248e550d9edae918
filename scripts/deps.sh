#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the app build, the window tests and the app benchmark need
# (WebKitGTK and friends, Xvfb, WebKitWebDriver, Chromium and ChromeDriver), skipping what is
# already installed.
set -euo pipefail

packages=(libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev
  libsoup-3.0-dev build-essential pkg-config libssl-dev xvfb xauth webkit2gtk-driver
  chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  printf '\n==> apt-get install %s\n' "${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
