#!/usr/bin/env bash
# The switch for the app library's crate types. Desktop builds (and the test command) use rlib only:
# the staticlib and cdylib a phone build needs cost ~1 GB and minutes per build. Before
# `tauri ios build` / `tauri android build` (or `... dev`), turn them on; turn them off afterwards.
#   bash scripts/platform/mobile-crate-types.sh on|off|status
set -euo pipefail
cd "$(dirname "$0")/../.."
desktop='crate-type = ["rlib"]'
mobile='crate-type = ["staticlib", "cdylib", "rlib"]'
case "${1:-status}" in
  on) sed -i "s/^${desktop//[/\\[}\$/${mobile//[/\\[}/" Cargo.toml ;;
  off) sed -i "s/^${mobile//[/\\[}\$/${desktop//[/\\[}/" Cargo.toml ;;
  status) ;;
  *) echo "usage: $0 on|off|status" >&2; exit 2 ;;
esac
grep -E '^crate-type = ' Cargo.toml
