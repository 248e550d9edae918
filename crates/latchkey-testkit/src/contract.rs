//! The IPC contract files (`contract.gen.ts`): samples serialized by the Rust types, each array
//! declared `satisfies` its TypeScript type, so that `npm run typecheck` proves the two equal; and
//! the check that the committed file is the generated one.

use std::path::Path;

use serde::Serialize;

/// `export const {name} = [samples as JSON] satisfies {ty}[];`
pub fn section<T: Serialize>(name: &str, ty: &str, samples: &[T]) -> String {
    let json = serde_json::to_string_pretty(samples).expect("samples serialize");
    format!("export const {name} = {json} satisfies {ty}[];\n")
}

/// Panics unless the file at `path` holds `text`. With `UPDATE_CONTRACT` set (never under
/// `CI=true`: rewriting would make the check pass whatever the file held) it writes `text`
/// first. `package` names the crate whose test regenerates it.
pub fn check_generated(path: &Path, text: &str, package: &str) {
    if std::env::var_os("UPDATE_CONTRACT").is_some() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "UPDATE_CONTRACT rewrites the contract instead of checking it: not under CI=true"
        );
        std::fs::write(path, text).expect("the contract file is writable");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is stale: regenerate with UPDATE_CONTRACT=1 cargo test -p {package} contract",
        path.display()
    );
}
