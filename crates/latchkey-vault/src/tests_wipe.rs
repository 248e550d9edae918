//! What is wiped: the cached session in memory, every vault file on erase.

use super::testing::{pin, session};
use super::tests::{corrupt_snapshot, new_vault};
use super::*;
use latchkey_core::store::SecretStore;

#[test]
fn the_cached_session_is_wiped_when_the_vault_locks_or_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), "pin-246810", "RT-1");
    let before = wipes_on_this_thread();
    v.save(&v.lock_for_refresh().unwrap(), &session("RT-2"))
        .unwrap(); // replaces the cached RT-1
    assert_eq!(wipes_on_this_thread(), before + 1);
    v.lock(); // drops the cached RT-2
    assert_eq!(wipes_on_this_thread(), before + 2);
}

#[test]
fn a_wiped_stored_session_holds_no_secret_and_clones_and_serialises_as_before() {
    let mut s = session("RT-SECRET-0123456789");
    s.nonce = Some(latchkey_core::secret::SecretString::new(
        "NONCE-SECRET".into(),
    ));
    let copy = s.clone();
    let json = serde_json::to_string(&copy).unwrap();
    assert!(json.contains("RT-SECRET-0123456789"));
    s.zeroize_secrets();
    assert_eq!(s.refresh_token.secret(), "");
    assert!(s.id_token.is_none() && s.nonce.is_none());
    assert_eq!(copy.refresh_token.secret(), "RT-SECRET-0123456789");
    let back: StoredSession = serde_json::from_str(&json).unwrap();
    assert_eq!(back.refresh_token.secret(), "RT-SECRET-0123456789");
}

#[test]
fn erasing_a_vault_with_a_kept_aside_snapshot_and_temp_files_leaves_no_vault_file() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), "pin-246810", "RT");
    v.lock();
    // A snapshot that failed to decrypt, kept aside by a new sign-in.
    corrupt_snapshot(dir.path());
    assert!(v.unlock(&pin("pin-246810")).is_err());
    v.prepare(&pin("pin-135790")).unwrap();
    v.save(&v.lock_for_refresh().unwrap(), &session("RT-2"))
        .unwrap();
    // Leftovers of crashed writes (young: `open` keeps them).
    std::fs::write(
        dir.path().join("vault.meta.json.tmp-0123456789abcdef"),
        b"x",
    )
    .unwrap();
    std::fs::write(dir.path().join("vault.stronghold.a1b2c3d4e5f6"), b"x").unwrap();
    let files = |d: &Path| -> Vec<String> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != LOCK_FILE)
            .collect()
    };
    assert!(files(dir.path()).iter().any(|n| n.contains("unreadable")));

    v.destroy().unwrap();
    assert!(files(dir.path()).is_empty(), "{:?}", files(dir.path()));
}
