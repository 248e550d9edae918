#!/usr/bin/env bash
# The switch for the app libraries' crate types (the reference app's, in the root Cargo.toml, and
# the quickstart's, in examples/quickstart/src-tauri). Desktop builds (and the test command) use rlib only:
# the staticlib and cdylib a phone build needs cost ~1 GB and minutes per build. Before
# `tauri ios build` / `tauri android build` (or `... dev`), turn them on; turn them off afterwards.
#   bash scripts/platform/mobile-crate-types.sh on|off|status
set -euo pipefail
cd "$(dirname "$0")/../.."
desktop='crate-type = ["rlib"]'
mobile='crate-type = ["staticlib", "cdylib", "rlib"]'
manifests=(Cargo.toml examples/quickstart/src-tauri/Cargo.toml)
case "${1:-status}" in
  on) sed -i "s/^${desktop//[/\\[}\$/${mobile//[/\\[}/" "${manifests[@]}" ;;
  off) sed -i "s/^${mobile//[/\\[}\$/${desktop//[/\\[}/" "${manifests[@]}" ;;
  status) ;;
  *) echo "usage: $0 on|off|status" >&2; exit 2 ;;
esac
grep -E '^crate-type = ' "${manifests[@]}"
