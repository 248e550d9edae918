//! The dual wrap with a fake biometric platform: a keychain-like store whose items a finger
//! releases, and which an enrolment change empties.

use super::testing::{pin, protector, session};
pub(crate) use super::testing::{FakeBiometrics, Finger};
use super::tests::new_vault;
use super::tests_sharing::read_failed_attempts;
use super::*;
use latchkey_core::store::SecretStore;

pub(super) fn prompt() -> Credential {
    Credential::Prompt("Unlock".into())
}

pub(super) fn open(dir: &Path, bio: &Arc<FakeBiometrics>) -> Vault {
    Vault::open(dir, protector())
        .unwrap()
        .with_biometric(bio.clone(), "Unlock")
}

/// A sign-in choosing biometric unlock with a PIN as fallback, then locked.
pub(super) fn signed_in(dir: &Path, bio: &Arc<FakeBiometrics>) -> Vault {
    let v = open(dir, bio);
    v.prepare(&pin("pin-246810")).unwrap();
    v.enable_biometric(&pin("pin-246810"), Keep::ThisRun)
        .unwrap();
    v.save(&v.lock_for_refresh().unwrap(), &session("RT"))
        .unwrap();
    v.lock();
    v
}

pub(super) fn biometric_failure(e: VaultError) -> BiometricFailure {
    match e {
        VaultError::Biometric { failure, .. } => failure,
        other => panic!("expected a biometric failure, got {other:?}"),
    }
}

#[test]
fn a_sign_in_sets_up_both_wraps_and_either_opens_the_vault() {
    let dir = tempfile::tempdir().unwrap();
    let bio = FakeBiometrics::new();
    let v = signed_in(dir.path(), &bio);
    assert_eq!(v.biometric_status(), BiometricStatus::Ready);

    v.unlock(&prompt()).unwrap();
    assert_eq!(v.load().unwrap().unwrap().refresh_token.secret(), "RT");
    v.lock();
    v.unlock(&pin("pin-246810")).unwrap();
    assert_eq!(v.load().unwrap().unwrap().refresh_token.secret(), "RT");

    // A second process opening the same directory unlocks with the finger too.
    let other = open(dir.path(), &bio);
    other.unlock(&prompt()).unwrap();
    assert_eq!(other.load().unwrap().unwrap().refresh_token.secret(), "RT");
}

#[test]
fn no_match_cancel_and_a_missing_reader_leave_the_vault_locked_uncounted_and_the_pin_working() {
    let dir = tempfile::tempdir().unwrap();
    let bio = FakeBiometrics::new();
    let v = signed_in(dir.path(), &bio);
    let cases = [
        (Finger::NoMatch, BiometricFailure::NoMatch),
        (Finger::Cancel, BiometricFailure::Cancelled),
        (Finger::NoReader, BiometricFailure::Unavailable),
    ];
    for _ in 0..DEFAULT_MAX_ATTEMPTS + 1 {
        for (finger, expected) in cases {
            bio.next(finger);
            let err = v.unlock(&prompt()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Locked);
            assert_eq!(biometric_failure(err), expected);
            assert!(v.is_locked());
        }
    }
    assert_eq!(read_failed_attempts(dir.path()), 0);
    assert_eq!(v.biometric_status(), BiometricStatus::Ready);
    v.unlock(&pin("pin-246810")).unwrap();
    bio.next(Finger::Match);
    v.lock();
    v.unlock(&prompt()).unwrap();
}

#[test]
fn a_changed_enrolment_falls_back_to_the_pin_which_wraps_the_key_again() {
    let dir = tempfile::tempdir().unwrap();
    let bio = FakeBiometrics::new();
    let v = signed_in(dir.path(), &bio);
    let before = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();

    bio.change_enrolment();
    let err = v.unlock(&prompt()).unwrap_err();
    assert_eq!(biometric_failure(err), BiometricFailure::Changed);
    assert!(v.is_initialized(), "the session is not erased");
    assert!(v.is_locked());
    assert_eq!(v.biometric_status(), BiometricStatus::NeedsPin);
    // Until the PIN is given, the finger keeps saying "changed".
    assert_eq!(
        biometric_failure(v.unlock(&prompt()).unwrap_err()),
        BiometricFailure::Changed
    );

    v.unlock(&pin("pin-246810")).unwrap();
    assert_eq!(v.biometric_status(), BiometricStatus::Ready);
    let after = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
    assert_ne!(before, after, "a new biometric wrap was written");
    v.lock();
    v.unlock(&prompt()).unwrap();
    assert_eq!(v.load().unwrap().unwrap().refresh_token.secret(), "RT");
}

#[test]
fn wrapping_again_keeps_the_vault_identity_so_another_unlocked_process_still_saves() {
    let dir = tempfile::tempdir().unwrap();
    let bio = FakeBiometrics::new();
    let a = signed_in(dir.path(), &bio);
    a.unlock(&pin("pin-246810")).unwrap();

    let b = open(dir.path(), &bio);
    bio.change_enrolment();
    assert!(b.unlock(&prompt()).is_err());
    b.unlock(&pin("pin-246810")).unwrap();

    a.save(&a.lock_for_refresh().unwrap(), &session("RT-2"))
        .unwrap();
    assert_eq!(b.load().unwrap().unwrap().refresh_token.secret(), "RT-2");
}

#[test]
fn turning_biometrics_off_deletes_the_wrap_and_its_material_and_the_pin_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let bio = FakeBiometrics::new();
    let v = signed_in(dir.path(), &bio);
    v.unlock(&pin("pin-246810")).unwrap();
    v.disable_biometric().unwrap();
    v.lock();
    assert_eq!(v.biometric_status(), BiometricStatus::Off);
    assert!(bio.items.lock().unwrap().is_empty());
    assert_eq!(bio.forgotten.lock().unwrap().len(), 1);
    assert_eq!(
        biometric_failure(v.unlock(&prompt()).unwrap_err()),
        BiometricFailure::Off
    );
    v.unlock(&pin("pin-246810")).unwrap();
    assert_eq!(
        v.biometric_status(),
        BiometricStatus::Off,
        "not renewed when off"
    );

    // And on again, while signed in, with the PIN.
    v.enable_biometric(&pin("pin-246810"), Keep::ThisRun)
        .unwrap();
    v.lock();
    v.unlock(&prompt()).unwrap();
}

#[test]
fn a_pin_only_vault_answers_a_prompt_with_off_and_erasing_forgets_the_biometric_material() {
    let dir = tempfile::tempdir().unwrap();
    let bio = FakeBiometrics::new();
    new_vault(dir.path(), "pin-246810", "RT").lock();
    let v = open(dir.path(), &bio);
    assert_eq!(v.biometric_status(), BiometricStatus::Off);
    assert_eq!(
        biometric_failure(v.unlock(&prompt()).unwrap_err()),
        BiometricFailure::Off
    );

    let other_dir = tempfile::tempdir().unwrap();
    let signed = signed_in(other_dir.path(), &bio);
    assert_eq!(bio.items.lock().unwrap().len(), 1);
    signed.destroy().unwrap();
    assert!(bio.items.lock().unwrap().is_empty());
}

#[test]
fn a_failed_sign_in_deletes_the_wrap_it_staged_and_leaves_the_previous_one_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let bio = FakeBiometrics::new();
    let v = signed_in(dir.path(), &bio);
    let before = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
    let previous: Vec<String> = bio.items.lock().unwrap().keys().cloned().collect();
    v.prepare(&pin("pin-135790")).unwrap();
    v.enable_biometric(&pin("pin-135790"), Keep::ThisRun)
        .unwrap();
    assert_eq!(bio.items.lock().unwrap().len(), 2, "the new wrap is staged");
    v.lock(); // the sign-in failed: nothing was saved
    assert_eq!(
        std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap(),
        before
    );
    let left: Vec<String> = bio.items.lock().unwrap().keys().cloned().collect();
    assert_eq!(
        left, previous,
        "the staged item was deleted, the previous one kept"
    );
    v.unlock(&prompt()).unwrap();
    assert_eq!(v.load().unwrap().unwrap().refresh_token.secret(), "RT");
}

#[test]
fn biometric_unlock_needs_a_biometric_protector() {
    let dir = tempfile::tempdir().unwrap();
    let v = new_vault(dir.path(), "pin-246810", "RT");
    assert_eq!(v.biometric_status(), BiometricStatus::NotOffered);
    assert!(matches!(
        v.enable_biometric(&pin("pin-246810"), Keep::ThisRun),
        Err(VaultError::Biometric {
            failure: BiometricFailure::Off,
            ..
        })
    ));
}
