//! Turning a protector on or off is the user's decision, proved in Rust: script that can call
//! every command (the WebView is untrusted) must not put the key in a new place or change how
//! the vault opens with a bare call. And prompts never run under the vault's lock.

use super::testing::pin;
use super::tests_dual::{biometric_failure, open, prompt, signed_in, FakeBiometrics};
use super::tests_sharing::read_failed_attempts;
use super::*;
use latchkey_core::store::SecretStore;

#[test]
fn turning_biometric_unlock_on_without_the_pin_is_refused_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bio = FakeBiometrics::new();
    let v = open(dir.path(), &bio);
    v.prepare(&pin("pin-246810")).unwrap();
    v.save(
        &v.lock_for_refresh().unwrap(),
        &super::testing::session("RT"),
    )
    .unwrap();
    assert_eq!(v.biometric_status(), BiometricStatus::Off);

    // Unlocked, but no PIN: a bare "turn it on" (what script can send) changes nothing.
    let err = v.enable_biometric(&prompt(), Keep::ThisRun).unwrap_err();
    assert!(
        matches!(err, VaultError::CredentialNotAccepted { .. }),
        "{err:?}"
    );
    // A wrong PIN is refused and counted like an unlock attempt (no free PIN oracle).
    let err = v
        .enable_biometric(&pin("999999"), Keep::ThisRun)
        .unwrap_err();
    assert!(matches!(err, VaultError::WrongPin { .. }), "{err:?}");
    assert_eq!(read_failed_attempts(dir.path()), 1);
    assert!(bio.items.lock().unwrap().is_empty(), "no key was stored");
    assert_eq!(v.biometric_status(), BiometricStatus::Off);

    // The user's PIN turns it on (and resets the count).
    v.enable_biometric(&pin("pin-246810"), Keep::ThisRun)
        .unwrap();
    assert_eq!(read_failed_attempts(dir.path()), 0);
    assert_eq!(v.biometric_status(), BiometricStatus::Ready);
    v.lock();
    v.unlock(&prompt()).unwrap();
}

#[test]
fn locked_biometric_unlock_can_be_turned_neither_on_nor_off() {
    let dir = tempfile::tempdir().unwrap();
    let bio = FakeBiometrics::new();
    let v = signed_in(dir.path(), &bio);
    let before = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
    assert!(matches!(v.disable_biometric(), Err(VaultError::Locked)));
    assert!(matches!(
        v.enable_biometric(&pin("pin-246810"), Keep::AcrossRestarts),
        Err(VaultError::Locked)
    ));
    assert_eq!(
        std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap(),
        before
    );
    assert_eq!(v.biometric_status(), BiometricStatus::Ready);
    assert_eq!(bio.forgotten.lock().unwrap().len(), 0);
}

#[test]
fn a_sign_in_turns_biometric_unlock_on_only_with_its_own_pin() {
    let dir = tempfile::tempdir().unwrap();
    let bio = FakeBiometrics::new();
    let v = open(dir.path(), &bio);
    v.prepare(&pin("pin-246810")).unwrap();
    assert!(v.enable_biometric(&prompt(), Keep::ThisRun).is_err());
    assert!(v
        .enable_biometric(&pin("pin-135790"), Keep::ThisRun)
        .is_err());
    assert!(bio.items.lock().unwrap().is_empty());
    v.enable_biometric(&pin("pin-246810"), Keep::ThisRun)
        .unwrap();
    v.save(
        &v.lock_for_refresh().unwrap(),
        &super::testing::session("RT"),
    )
    .unwrap();
    assert_eq!(v.biometric_status(), BiometricStatus::Ready);
}

#[test]
fn wrapping_after_a_pin_unlock_and_turning_it_on_prompt_without_the_vault_lock() {
    let dir = tempfile::tempdir().unwrap();
    let bio = FakeBiometrics::new();
    let v = signed_in(dir.path(), &bio);
    *bio.lock_probe.lock().unwrap() = Some(dir.path().join(files::LOCK_FILE));

    // The wrap is lost (enrolment changed); the PIN unlock wraps again.
    bio.change_enrolment();
    assert_eq!(
        biometric_failure(v.unlock(&prompt()).unwrap_err()),
        BiometricFailure::Changed
    );
    v.unlock(&pin("pin-246810")).unwrap();
    assert_eq!(v.biometric_status(), BiometricStatus::Ready);
    // Turned off and on again.
    v.disable_biometric().unwrap();
    v.enable_biometric(&pin("pin-246810"), Keep::ThisRun)
        .unwrap();
    assert_eq!(
        *bio.lock_free_while_wrapping.lock().unwrap(),
        vec![true, true],
        "another process could take the vault's lock during both prompts"
    );
}
