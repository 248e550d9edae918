#!/usr/bin/env bash
# Packaging check (part of the test command; nothing is published): every library crate of the
# workspace that may be published — a lib target, no bin target, no `publish = false` — goes
# through `cargo package --no-verify` together (so unpublished siblings resolve by their path
# dependency's `version`), with its metadata complete and no cargo warning; and the plugin's
# guest-js package goes through `npm pack` into a temporary directory, its tarball holding the
# built ESM and type declarations. Takes seconds: no crate is compiled.
set -euo pipefail
cd "$(dirname "$0")/.."

# Which crates, and is each one's metadata complete (description, license, repository, readme)?
mapfile -t crates < <(cargo metadata --no-deps --locked --format-version 1 | node -e '
  const meta = JSON.parse(require("fs").readFileSync(0, "utf8"));
  let bad = 0;
  for (const p of meta.packages) {
    const kinds = p.targets.flatMap((t) => t.kind);
    const lib = kinds.some((k) => ["lib", "rlib", "cdylib", "staticlib"].includes(k));
    const why = Array.isArray(p.publish) && p.publish.length === 0 ? "publish = false"
      : kinds.includes("bin") ? "an application (bin target)" : !lib ? "no library" : null;
    if (why) { console.error(`skip ${p.name}: ${why}`); continue; }
    const missing = ["description", "license", "repository", "readme"].filter((k) => !p[k]);
    if (missing.length) { console.error(`${p.name}: metadata lacks ${missing.join(", ")}`); bad += 1; }
    console.log(p.name);
  }
  process.exit(bad ? 1 : 0);
')
[ "${#crates[@]}" -gt 0 ] || { echo "no library crate to package"; exit 1; }

args=()
for c in "${crates[@]}"; do args+=(-p "$c"); done
log="$(mktemp)"
trap 'rm -f "$log"; [ -n "${npm_out:-}" ] && rm -rf "$npm_out"' EXIT
# --allow-dirty: the check is of the tree as it is (a clean clone in CI; a working tree locally).
cargo package --no-verify --locked --allow-dirty "${args[@]}" 2>&1 | tee "$log"
if grep -E '^(warning|error)' "$log"; then
  echo "cargo package printed the warnings above: fix the manifests"; exit 1
fi
for c in "${crates[@]}"; do
  ls "${CARGO_TARGET_DIR:-target}/package/$c-"*.crate >/dev/null
done
echo "packaged: ${crates[*]}"

# The guest-js package: built (its own build script), then packed for real into a temp dir.
shopt -s nullglob
packages=(crates/*/package.json)
if [ -d crates/tauri-plugin-latchkey ] && [ ! -f crates/tauri-plugin-latchkey/package.json ]; then
  echo "crates/tauri-plugin-latchkey has no package.json (its guest-js package)"; exit 1
fi
for pkg in "${packages[@]}"; do
  dir="$(dirname "$pkg")"
  npm_out="$(mktemp -d)"
  (cd "$dir" && npm run --if-present build >/dev/null && npm pack --pack-destination "$npm_out" --json --silent) >"$npm_out/pack.json"
  node - "$npm_out/pack.json" "$dir" <<'JS'
const [, , packJson, dir] = process.argv;
const [pack] = JSON.parse(require('fs').readFileSync(packJson, 'utf8'));
const manifest = JSON.parse(require('fs').readFileSync(`${dir}/package.json`, 'utf8'));
const files = pack.files.map((f) => f.path);
const problems = [];
for (const entry of [manifest.types, manifest.module ?? manifest.main, ...Object.values(manifest.exports ?? {}).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e)))]) {
  if (entry && !files.includes(entry.replace(/^\.\//, ''))) problems.push(`entry ${entry} is not in the tarball`);
}
if (!files.some((f) => f.endsWith('.d.ts'))) problems.push('no type declarations (.d.ts) in the tarball');
const stray = files.filter((f) => /\.rs$|^src\/|^target\/|node_modules\//.test(f));
if (stray.length) problems.push(`Rust or build files in the tarball: ${stray.join(', ')}`);
if (problems.length) { console.error(`npm pack ${dir}:\n  ${problems.join('\n  ')}`); process.exit(1); }
console.log(`npm pack ${dir}: ${pack.filename}, ${files.length} files, ${pack.size} bytes`);
JS
  rm -rf "$npm_out"
done
