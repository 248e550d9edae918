//! Unlock with a credential the protector can't take, and unlock of an unlocked vault.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::testing::{pin, protector, session};
use super::tests::new_vault;
use super::tests_sharing::read_failed_attempts;
use super::*;
use latchkey_core::store::SecretStore;

#[test]
fn five_prompt_unlocks_on_a_pin_vault_count_nothing_and_the_right_pin_still_unlocks() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), "pin-246810", "RT");
    v.lock();
    for _ in 0..DEFAULT_MAX_ATTEMPTS + 1 {
        let err = v.unlock(&Credential::Prompt("Unlock".into())).unwrap_err();
        assert!(
            matches!(err, VaultError::CredentialNotAccepted { .. }),
            "{err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::Locked);
    }
    assert_eq!(read_failed_attempts(dir.path()), 0);
    assert!(v.is_initialized());
    v.unlock(&pin("pin-246810")).unwrap();
    assert_eq!(v.load().unwrap().unwrap().refresh_token.secret(), "RT");
}

#[test]
fn a_pin_shorter_than_any_pin_that_could_be_set_is_refused_without_counting() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), "pin-246810", "RT");
    v.lock();
    let short = "1".repeat(MIN_PIN_LEN - 1);
    for _ in 0..DEFAULT_MAX_ATTEMPTS + 1 {
        let err = v.unlock(&pin(&short)).unwrap_err();
        assert!(
            matches!(err, VaultError::CredentialNotAccepted { .. }),
            "{err:?}"
        );
    }
    assert_eq!(read_failed_attempts(dir.path()), 0);
    v.unlock(&pin("pin-246810")).unwrap();
}

/// A PIN protector that counts how often it derives a key.
struct Counting {
    inner: PinProtector,
    releases: Arc<AtomicUsize>,
}

impl KeyProtector for Counting {
    fn method(&self) -> UnlockMethod {
        self.inner.method()
    }
    fn wrap(&self, key: &VaultKey, c: &Credential) -> Result<serde_json::Value, ProtectorError> {
        self.inner.wrap(key, c)
    }
    fn release(&self, w: &serde_json::Value, c: &Credential) -> Result<VaultKey, ProtectorError> {
        self.releases.fetch_add(1, Ordering::SeqCst);
        self.inner.release(w, c)
    }
    fn accepts(&self, c: &Credential) -> Result<(), ProtectorError> {
        self.inner.accepts(c)
    }
    fn limits_attempts(&self) -> bool {
        true
    }
}

#[test]
fn unlocking_an_unlocked_vault_neither_counts_nor_derives_again() {
    let dir = tempfile::tempdir().unwrap();
    let releases = Arc::new(AtomicUsize::new(0));
    let counting = Arc::new(Counting {
        inner: PinProtector::with_params(KdfParams::OWASP_MINIMUM),
        releases: releases.clone(),
    });
    let v = Vault::open(dir.path(), counting).unwrap();
    v.prepare(&pin("pin-246810")).unwrap();
    v.save(&v.lock_for_refresh().unwrap(), &session("RT"))
        .unwrap();
    v.lock();
    v.unlock(&pin("pin-246810")).unwrap();
    assert_eq!(releases.load(Ordering::SeqCst), 1);

    v.unlock(&pin("pin-246810")).unwrap();
    v.unlock(&pin("pin-999999")).unwrap();
    assert_eq!(releases.load(Ordering::SeqCst), 1, "no second derivation");
    assert_eq!(read_failed_attempts(dir.path()), 0);
    assert!(!v.is_locked());
    assert_eq!(v.load().unwrap().unwrap().refresh_token.secret(), "RT");
}

#[test]
fn an_unlocked_vault_whose_key_another_process_replaced_unlocks_for_real() {
    let dir = tempfile::tempdir().unwrap();
    let a = new_vault(dir.path(), "pin-246810", "RT-A");
    let b = Vault::open(dir.path(), protector()).unwrap();
    b.prepare(&pin("pin-135790")).unwrap();
    b.save(&b.lock_for_refresh().unwrap(), &session("RT-B"))
        .unwrap();

    assert!(matches!(
        a.unlock(&pin("pin-246810")),
        Err(VaultError::WrongPin { .. })
    ));
    a.unlock(&pin("pin-135790")).unwrap();
    assert_eq!(a.load().unwrap().unwrap().refresh_token.secret(), "RT-B");
}
