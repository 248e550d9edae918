use super::testing::{pin, protector, session};
use super::*;
use latchkey_core::store::SecretStore;

pub(crate) fn new_vault(dir: &Path, p: &str, rt: &str) -> Vault {
    let v = Vault::open(dir, protector()).unwrap();
    v.prepare(&pin(p)).unwrap();
    v.save(&v.lock_for_refresh().unwrap(), &session(rt))
        .unwrap();
    v
}

/// Flips a byte near the end of the snapshot in `dir` (it no longer decrypts); returns what the
/// file now holds.
pub(crate) fn corrupt_snapshot(dir: &Path) -> Vec<u8> {
    let snap = dir.join(SNAPSHOT);
    let mut bytes = std::fs::read(&snap).unwrap();
    let n = bytes.len();
    bytes[n - 20] ^= 0xff;
    std::fs::write(&snap, &bytes).unwrap();
    bytes
}

#[test]
fn a_saved_session_reads_back_after_lock_and_unlock_with_the_pin() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), "pin-246810", "RT-ONE-abcdefghijkl");
    v.lock();
    assert!(v.is_locked());
    assert!(matches!(v.load(), Err(StoreError::Locked)));
    v.unlock(&pin("pin-246810")).unwrap();
    let s = v.load().unwrap().unwrap();
    assert_eq!(s.refresh_token.secret(), "RT-ONE-abcdefghijkl");
    assert_eq!(s.display_name.as_deref(), Some("Alice Example"));
}

#[test]
fn a_new_process_opens_the_vault_locked_and_knows_who_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    drop(new_vault(dir.path(), "pin-246810", "RT-ONE-abcdefghijkl"));
    let v = Vault::open(dir.path(), protector()).unwrap();
    assert!(v.is_locked() && v.is_initialized());
    let hint = v.hint().unwrap().unwrap();
    assert_eq!(hint.display_name.as_deref(), Some("Alice Example"));
    assert_eq!(
        v.metadata().unwrap().unwrap().unlock_method,
        UnlockMethod::Pin
    );
}

#[test]
fn wrong_pins_count_down_and_the_limit_erases_the_vault() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), "pin-246810", "RT").with_max_attempts(3);
    v.lock();
    assert!(matches!(
        v.unlock(&pin("000000")),
        Err(VaultError::WrongPin { remaining: 2 })
    ));
    // A new process sees the same count: it was written before the attempt.
    let v = Vault::open(dir.path(), protector())
        .unwrap()
        .with_max_attempts(3);
    assert!(matches!(
        v.unlock(&pin("111111")),
        Err(VaultError::WrongPin { remaining: 1 })
    ));
    let err = v.unlock(&pin("222222")).unwrap_err();
    assert!(matches!(err, VaultError::TooManyAttempts), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Locked);
    assert!(!v.is_initialized());
    assert!(!dir.path().join(SNAPSHOT).exists());
    assert!(matches!(
        v.unlock(&pin("pin-246810")),
        Err(VaultError::NotInitialized)
    ));
}

#[test]
fn the_right_pin_resets_the_failure_count() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), "pin-246810", "RT").with_max_attempts(2);
    v.lock();
    assert!(v.unlock(&pin("000000")).is_err());
    v.unlock(&pin("pin-246810")).unwrap();
    v.lock();
    assert!(matches!(
        v.unlock(&pin("000000")),
        Err(VaultError::WrongPin { remaining: 1 })
    ));
}

#[test]
fn a_corrupt_snapshot_is_a_clear_error_and_is_kept_when_the_user_signs_in_again() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), "pin-246810", "RT");
    v.lock();
    let snap = dir.path().join(SNAPSHOT);
    let bytes = corrupt_snapshot(dir.path());

    let err = v.unlock(&pin("pin-246810")).unwrap_err();
    assert!(matches!(err, VaultError::Unreadable { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::ReauthRequired);
    assert_eq!(
        std::fs::read(&snap).unwrap(),
        bytes,
        "the file is untouched"
    );

    // Signing in again writes a new vault and keeps the unreadable one aside.
    v.prepare(&pin("pin-135790")).unwrap();
    v.save(&v.lock_for_refresh().unwrap(), &session("RT-2"))
        .unwrap();
    let kept: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("unreadable"))
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(std::fs::read(kept[0].path()).unwrap(), bytes);
    v.lock();
    v.unlock(&pin("pin-135790")).unwrap();
    assert_eq!(v.load().unwrap().unwrap().refresh_token.secret(), "RT-2");
}

#[test]
fn a_key_that_does_not_open_the_snapshot_is_reported_not_trusted() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    drop(new_vault(a.path(), "pin-246810", "RT-A"));
    drop(new_vault(b.path(), "pin-246810", "RT-B"));
    // Vault A's snapshot with vault B's wrapped key: the PIN is right, the key is wrong.
    std::fs::copy(b.path().join(KEY_FILE), a.path().join(KEY_FILE)).unwrap();
    let v = Vault::open(a.path(), protector()).unwrap();
    let err = v.unlock(&pin("pin-246810")).unwrap_err();
    assert!(matches!(err, VaultError::Unreadable { .. }), "{err:?}");
    assert!(v.is_locked());
}

#[test]
fn a_sign_in_that_never_saves_leaves_the_previous_vault_intact() {
    let dir = tempfile::tempdir().unwrap();
    drop(new_vault(dir.path(), "pin-246810", "RT-OLD"));
    let v = Vault::open(dir.path(), protector()).unwrap();
    v.prepare(&pin("pin-999999")).unwrap();
    drop(v); // the sign-in failed; nothing was saved
    let v = Vault::open(dir.path(), protector()).unwrap();
    v.unlock(&pin("pin-246810")).unwrap();
    assert_eq!(v.load().unwrap().unwrap().refresh_token.secret(), "RT-OLD");
}

#[test]
fn no_file_the_vault_writes_contains_the_refresh_token_the_id_token_or_the_pin_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), "pin-246810", "RT-SECRET-0123456789");
    v.save(
        &v.lock_for_refresh().unwrap(),
        &session("RT-ROTATED-9876543210"),
    )
    .unwrap();
    v.lock();
    let _ = v.lock_for_refresh().unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for needle in ["RT-SECRET", "RT-ROTATED", "ID-TOKEN", "pin-246810"] {
            assert!(!text.contains(needle), "{needle} found in clear");
        }
    }
}

#[cfg(unix)]
#[test]
fn every_vault_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let vault_dir = dir.path().join("data/vault");
    let v = new_vault(&vault_dir, "pin-246810", "RT");
    // A rotation, so the journal is there too.
    v.save(&v.lock_for_refresh().unwrap(), &session("RT-2"))
        .unwrap();
    assert!(vault_dir.join(files::JOURNAL).exists());
    let _guard = v.lock_for_refresh().unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&vault_dir), 0o700);
    for entry in std::fs::read_dir(&vault_dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
}

#[test]
fn a_save_by_another_process_is_seen_by_the_next_load() {
    let dir = tempfile::tempdir().unwrap();
    let a = new_vault(dir.path(), "pin-246810", "RT-1");
    assert_eq!(a.load().unwrap().unwrap().refresh_token.secret(), "RT-1");
    let b = Vault::open(dir.path(), protector()).unwrap();
    b.unlock(&pin("pin-246810")).unwrap();
    b.save(&b.lock_for_refresh().unwrap(), &session("RT-2"))
        .unwrap();
    assert_eq!(a.load().unwrap().unwrap().refresh_token.secret(), "RT-2");
}

#[test]
fn locking_forgets_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), "pin-246810", "RT");
    v.lock();
    assert!(v.is_locked());
    assert!(matches!(
        v.save(&v.lock_for_refresh().unwrap(), &session("x")),
        Err(StoreError::Locked)
    ));
}

#[test]
fn stale_temp_files_from_a_crash_are_cleaned_on_open_and_young_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    drop(new_vault(dir.path(), "pin-246810", "RT"));
    let old = SystemTime::now() - STALE_TEMP_AGE - Duration::from_secs(1);
    for name in [
        "vault.meta.json.tmp-0123456789abcdef",
        "vault.stronghold.a1b2c3d4e5f6",
    ] {
        let f = std::fs::File::create(dir.path().join(name)).unwrap();
        f.set_modified(old).unwrap();
    }
    // Another process's write in flight: young, so it is left alone.
    std::fs::write(dir.path().join("vault.key.json.tmp-fedcba9876543210"), b"x").unwrap();
    let v = Vault::open(dir.path(), protector()).unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("0123456789abcdef") || n == "vault.stronghold.a1b2c3d4e5f6"),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.contains("fedcba9876543210")),
        "{names:?}"
    );
    v.unlock(&pin("pin-246810")).unwrap();
}

#[test]
fn clear_erases_everything_and_a_new_sign_in_can_start_over() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), "pin-246810", "RT");
    v.clear(&v.lock_for_refresh().unwrap()).unwrap();
    assert!(!v.is_initialized() && v.is_locked());
    assert!(v.hint().unwrap().is_none());
    v.prepare(&pin("pin-135790")).unwrap();
    v.save(&v.lock_for_refresh().unwrap(), &session("RT-NEW"))
        .unwrap();
    assert_eq!(v.load().unwrap().unwrap().refresh_token.secret(), "RT-NEW");
}

#[test]
fn a_biometric_vault_refuses_a_pin_and_does_not_count_it() {
    struct Refuse;
    impl BiometricCipher for Refuse {
        fn encrypt(&self, _: &str, p: &[u8]) -> Result<Vec<u8>, ProtectorError> {
            Ok(p.to_vec())
        }
        fn decrypt(&self, _: &str, _: &[u8]) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
            Err(ProtectorError::Cancelled)
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let v = Vault::open(dir.path(), Arc::new(CipherProtector::new(Refuse))).unwrap();
    v.prepare(&Credential::Prompt("Sign in".into())).unwrap();
    v.save(&v.lock_for_refresh().unwrap(), &session("RT"))
        .unwrap();
    v.lock();
    for _ in 0..10 {
        let err = v.unlock(&Credential::Prompt("Unlock".into())).unwrap_err();
        assert!(
            matches!(err, VaultError::Protector(ProtectorError::Cancelled)),
            "{err:?}"
        );
    }
    assert!(
        v.is_initialized(),
        "cancelled prompts never erase the vault"
    );
}

#[test]
fn a_biometric_key_invalidated_by_re_enrollment_erases_the_vault_on_unlock() {
    use std::sync::atomic::{AtomicBool, Ordering};
    struct Enrollment(Arc<AtomicBool>);
    impl BiometricCipher for Enrollment {
        fn encrypt(&self, _: &str, p: &[u8]) -> Result<Vec<u8>, ProtectorError> {
            Ok(p.to_vec())
        }
        fn decrypt(&self, _: &str, c: &[u8]) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
            if self.0.load(Ordering::SeqCst) {
                Err(ProtectorError::KeyInvalidated)
            } else {
                Ok(Zeroizing::new(c.to_vec()))
            }
        }
    }
    let changed = Arc::new(AtomicBool::new(false));
    let dir = tempfile::tempdir().unwrap();
    let cipher = CipherProtector::new(Enrollment(changed.clone()));
    let v = Vault::open(dir.path(), Arc::new(cipher)).unwrap();
    v.prepare(&Credential::Prompt("Sign in".into())).unwrap();
    v.save(&v.lock_for_refresh().unwrap(), &session("RT"))
        .unwrap();
    v.lock();
    v.unlock(&Credential::Prompt("Unlock".into())).unwrap();
    v.lock();

    changed.store(true, Ordering::SeqCst); // a new fingerprint was enrolled
    let err = v.unlock(&Credential::Prompt("Unlock".into())).unwrap_err();
    assert!(
        matches!(err, VaultError::Protector(ProtectorError::KeyInvalidated)),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::ReauthRequired);
    assert!(!v.is_initialized(), "the useless vault is erased");
    assert!(!dir.path().join(SNAPSHOT).exists());
}
