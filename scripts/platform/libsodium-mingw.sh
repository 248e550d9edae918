#!/usr/bin/env bash
# Builds a static libsodium for x86_64-pc-windows-gnu from the source tarball that the
# libsodium-sys-stable crate ships (LATEST.tar.gz in its crates.io package), with Debian's mingw-w64.
# The crate itself downloads a prebuilt archive for Windows targets, which fails offline; pointing
# SODIUM_LIB_DIR at the result avoids that.
#   bash scripts/platform/libsodium-mingw.sh <out-dir>   prints the lib dir on its last line
# Skips the build when <out-dir>/lib/libsodium.a exists for the same tarball.
set -euo pipefail
out="${1:?usage: libsodium-mingw.sh <out-dir>}"
cd "$(dirname "$0")/../.."

# The crate version the lockfile resolves, found in cargo's registry (fetched if missing).
version=$(awk '/^name = "libsodium-sys-stable"$/{getline; gsub(/"/,"",$3); print $3}' Cargo.lock)
[ -n "$version" ] || { echo "libsodium-sys-stable is not in Cargo.lock" >&2; exit 1; }
cargo fetch --locked >/dev/null
tarball=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"libsodium-sys-stable-$version"/LATEST.tar.gz | head -1)
[ -f "$tarball" ] || { echo "no LATEST.tar.gz in libsodium-sys-stable $version" >&2; exit 1; }

stamp="$out/.source-sha256"
sum=$(sha256sum "$tarball" | cut -d' ' -f1)
if [ -f "$out/lib/libsodium.a" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then
  echo "$out/lib"
  exit 0
fi
rm -rf "$out"
mkdir -p "$out/src"
tar xzf "$tarball" -C "$out/src"
src="$out/src/libsodium-stable"
(
  cd "$src"
  # --disable-ssp as the crate's own source build uses; the full library (the crate's default
  # features, as on Linux); no --enable-opt (-march=native).
  ./configure --host=x86_64-w64-mingw32 --prefix="$out" --disable-ssp \
    --disable-shared --enable-static --disable-dependency-tracking >"$out/configure.log" 2>&1 ||
    { tail -30 "$out/configure.log" >&2; exit 1; }
  make -j"$(nproc)" install >"$out/make.log" 2>&1 || { tail -30 "$out/make.log" >&2; exit 1; }
)
rm -rf "$out/src"
echo "$sum" >"$stamp"
echo "$out/lib"
