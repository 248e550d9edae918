//! Linux biometric unlock against the real daemons: fprintd with libfprint's virtual reader on a
//! private system bus (polkit mocked by python-dbusmock) gating the vault key kept in
//! gnome-keyring's Secret Service on a private session bus. See testkit's `fprint_rig`.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use latchkey_core::store::{SecretStore, StoredSession};
use latchkey_core::vault::{
    BiometricFailure, BiometricStatus, FingerprintProtector, Fprintd, KdfParams,
    SecretServiceStorage,
};
use latchkey_core::{Credential, PinProtector, Vault, VaultError};
use latchkey_testkit::fprint_rig::{self, FprintRig, GOOD};
use zeroize::Zeroizing;

fn pin() -> Credential {
    Credential::Pin(Zeroizing::new("pin-246810".into()))
}

fn finger() -> Credential {
    Credential::Prompt("Unlock your Latchkey session".into())
}

fn session() -> StoredSession {
    StoredSession {
        issuer: "https://idp.example".into(),
        client_id: "app".into(),
        scopes: vec!["openid".into()],
        refresh_token: openidconnect::RefreshToken::new("RT-fingerprint".into()),
        id_token: None,
        nonce: None,
        subject: Some("alice".into()),
        display_name: Some("Alice".into()),
        auth_time: None,
        dpop_key: None,
    }
}

fn open(rig: &FprintRig, dir: &std::path::Path) -> Vault {
    let biometric = FingerprintProtector::new(
        Fprintd::on_bus(rig.system_bus()),
        SecretServiceStorage::on_bus(rig.session_bus()),
    );
    Vault::open(
        dir,
        Arc::new(PinProtector::with_params(KdfParams::OWASP_MINIMUM)),
    )
    .unwrap()
    .with_biometric(Arc::new(biometric), "Unlock your Latchkey session")
}

/// Unlocks with the finger while `id` is placed on the reader from another thread.
fn unlock_with(rig: &FprintRig, vault: &Vault, id: &str) -> Result<(), VaultError> {
    std::thread::scope(|s| {
        s.spawn(|| rig.scan(id));
        vault.unlock(&finger())
    })
}

fn failure(result: Result<(), VaultError>) -> BiometricFailure {
    match result {
        Err(VaultError::Biometric { failure, .. }) => failure,
        other => panic!("expected a biometric failure, got {other:?}"),
    }
}

/// One rig for the whole journey: starting fprintd and enrolling takes seconds.
#[test]
fn the_fingerprint_journey_on_real_fprintd_and_gnome_keyring() {
    if !fprint_rig::available() {
        panic!(
            "the fingerprint rig needs fprintd, python3-dbusmock, gnome-keyring (scripts/deps.sh)"
        );
    }
    let rig = FprintRig::start();
    let dir = tempfile::tempdir().unwrap();

    // Sign-in: biometric unlock chosen, a PIN as fallback.
    let vault = open(&rig, dir.path());
    vault.prepare(&pin()).unwrap();
    vault.enable_biometric().unwrap();
    vault.save(&session()).unwrap();
    vault.lock();
    assert_eq!(vault.biometric_status(), BiometricStatus::Ready);
    let key_file = std::fs::read_to_string(dir.path().join("vault.key.json")).unwrap();

    // Next day, a new process: the enrolled finger releases the key.
    let next_day = open(&rig, dir.path());
    unlock_with(&rig, &next_day, GOOD).unwrap();
    assert_eq!(
        next_day.load().unwrap().unwrap().refresh_token.secret(),
        "RT-fingerprint"
    );

    // A finger that is not enrolled is refused: the vault stays locked.
    next_day.lock();
    assert_eq!(
        failure(unlock_with(&rig, &next_day, "bad")),
        BiometricFailure::NoMatch
    );
    assert!(next_day.is_locked());
    assert!(next_day.load().is_err());

    // The enrolment is removed: the finger can't unlock ("changed"), the PIN can, and wraps the
    // key again once a finger is enrolled anew.
    rig.remove_enrolment();
    assert_eq!(
        failure(next_day.unlock(&finger())),
        BiometricFailure::Changed
    );
    assert!(next_day.is_initialized(), "the session is kept");
    assert_eq!(next_day.biometric_status(), BiometricStatus::NeedsPin);
    rig.enrol();
    next_day.unlock(&pin()).unwrap();
    assert_eq!(next_day.biometric_status(), BiometricStatus::Ready);
    assert_ne!(
        std::fs::read_to_string(dir.path().join("vault.key.json")).unwrap(),
        key_file,
        "a new biometric wrap was written"
    );
    next_day.lock();
    unlock_with(&rig, &next_day, GOOD).unwrap();
    assert_eq!(
        next_day.load().unwrap().unwrap().refresh_token.secret(),
        "RT-fingerprint"
    );
}

#[test]
fn choosing_the_pin_while_the_reader_waits_cancels_the_prompt_and_the_pin_unlocks() {
    if !fprint_rig::available() {
        panic!(
            "the fingerprint rig needs fprintd, python3-dbusmock, gnome-keyring (scripts/deps.sh)"
        );
    }
    let rig = FprintRig::start();
    let dir = tempfile::tempdir().unwrap();
    let vault = open(&rig, dir.path());
    vault.prepare(&pin()).unwrap();
    vault.enable_biometric().unwrap();
    vault.save(&session()).unwrap();
    vault.lock();

    let result = std::thread::scope(|s| {
        let waiting = s.spawn(|| vault.unlock(&finger()));
        // No finger comes; the user presses "use PIN instead" (repeated until the prompt, which
        // starts on the other thread, has seen it).
        while !waiting.is_finished() {
            vault.cancel_biometric_prompt();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        waiting.join().unwrap()
    });
    assert_eq!(failure(result), BiometricFailure::Cancelled);
    assert!(vault.is_locked());
    vault.unlock(&pin()).unwrap();
    assert_eq!(
        vault.load().unwrap().unwrap().refresh_token.secret(),
        "RT-fingerprint"
    );
    assert_eq!(vault.biometric_status(), BiometricStatus::Ready);
}
