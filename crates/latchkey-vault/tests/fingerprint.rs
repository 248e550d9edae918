//! Linux biometric unlock against the real daemons: fprintd with libfprint's virtual reader on a
//! private system bus (polkit mocked by python-dbusmock) gating the vault key, held in this
//! process's memory by default or, opted in, in gnome-keyring's Secret Service on a private
//! session bus. See testkit's `fprint_rig`.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use latchkey_core::store::{SecretStore, StoredSession};
use latchkey_testkit::fprint_rig::{self, FprintRig, GOOD};
use latchkey_vault::{
    process_is_non_dumpable, BiometricFailure, BiometricStatus, FingerGate, FingerprintProtector,
    Fprintd, KdfParams, Keep, SecretServiceStorage,
};
use latchkey_vault::{Credential, PinProtector, Vault, VaultError};
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

fn rig() -> FprintRig {
    if !fprint_rig::available() {
        panic!(
            "the fingerprint rig needs fprintd, python3-dbusmock, gnome-keyring (scripts/deps.sh)"
        );
    }
    FprintRig::start()
}

/// The app's process: each call a new protector, so a new holder of keys in memory (what a
/// restart of the app has).
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

/// Runs `f` while finger `id` is placed on the reader from another thread.
fn with_finger<T>(rig: &FprintRig, id: &str, f: impl FnOnce() -> T) -> T {
    std::thread::scope(|s| {
        s.spawn(|| rig.scan(id));
        f()
    })
}

/// Signs in choosing fingerprint unlock, kept as `keep`: the PIN, then a matching finger.
fn signed_in(rig: &FprintRig, dir: &std::path::Path, keep: Keep) -> Vault {
    let vault = open(rig, dir);
    vault.prepare(&pin()).unwrap();
    with_finger(rig, GOOD, || vault.enable_biometric(&pin(), keep)).unwrap();
    vault
        .save(&vault.lock_for_refresh().unwrap(), &session())
        .unwrap();
    vault.lock();
    vault
}

/// One rig for the whole journey: starting fprintd and enrolling takes seconds.
#[test]
fn the_fingerprint_journey_on_real_fprintd_with_the_key_held_in_memory() {
    let rig = rig();
    let dir = tempfile::tempdir().unwrap();

    // Sign-in: fingerprint unlock chosen (PIN and finger), the PIN as fallback.
    let vault = signed_in(&rig, dir.path(), Keep::ThisRun);
    assert_eq!(vault.biometric_status(), BiometricStatus::Ready);

    // The same run: the enrolled finger releases the key; another finger does not.
    unlock_with(&rig, &vault, GOOD).unwrap();
    assert_eq!(
        vault.load().unwrap().unwrap().refresh_token.secret(),
        "RT-fingerprint"
    );
    vault.lock();
    assert_eq!(
        failure(unlock_with(&rig, &vault, "bad")),
        BiometricFailure::NoMatch
    );
    assert!(vault.is_locked());
    assert!(vault.load().is_err());

    // Next day, a new process: it holds no key, so the PIN opens the vault once and sets
    // fingerprint unlock up again without a finger; then the finger unlocks.
    let next_day = open(&rig, dir.path());
    assert_eq!(next_day.biometric_status(), BiometricStatus::NeedsPin);
    assert_eq!(
        failure(next_day.unlock(&finger())),
        BiometricFailure::PinFirst
    );
    next_day.unlock(&pin()).unwrap();
    assert_eq!(next_day.biometric_status(), BiometricStatus::Ready);
    next_day.lock();
    unlock_with(&rig, &next_day, GOOD).unwrap();
    assert_eq!(
        next_day.load().unwrap().unwrap().refresh_token.secret(),
        "RT-fingerprint"
    );

    // The enrolment is removed: the finger can't unlock ("changed"), the PIN can, and wraps the
    // key again once a finger is enrolled anew.
    next_day.lock();
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
    next_day.lock();
    unlock_with(&rig, &next_day, GOOD).unwrap();
    assert!(rig.keyring_items_another_program_finds().is_empty());
}

#[test]
fn another_program_with_no_finger_and_no_pin_finds_nothing_that_opens_the_vault_by_default() {
    let rig = rig();
    let dir = tempfile::tempdir().unwrap();
    let app = signed_in(&rig, dir.path(), Keep::ThisRun);
    assert_eq!(app.biometric_status(), BiometricStatus::Ready);

    // Another program on the same buses asks the Secret Service: nothing is there.
    assert_eq!(
        rig.keyring_items_another_program_finds(),
        Vec::<String>::new()
    );
    // The key waits only in this process, which other processes of the user can't attach to
    // or read (no ptrace, no /proc/<pid>/mem, no core dump).
    assert!(process_is_non_dumpable());
    // Another program running Latchkey's own code on the same vault and buses gets nothing
    // either: it holds no key, so the reader is not even asked, and only the PIN opens the vault
    // there.
    let other = open(&rig, dir.path());
    assert_eq!(other.biometric_status(), BiometricStatus::NeedsPin);
    assert_eq!(failure(other.unlock(&finger())), BiometricFailure::PinFirst);
    assert!(other.is_locked());
    // The app itself still unlocks with the finger.
    unlock_with(&rig, &app, GOOD).unwrap();
}

#[test]
fn kept_across_restarts_by_choice_the_key_is_in_the_keyring_where_any_program_can_read_it() {
    let rig = rig();
    let dir = tempfile::tempdir().unwrap();
    let app = signed_in(&rig, dir.path(), Keep::AcrossRestarts);
    // What SECURITY.md and the UI say of this choice: any program you run can read it.
    assert_eq!(rig.keyring_items_another_program_finds().len(), 1);

    // Next day, a new process: the finger opens the vault, no PIN.
    let next_day = open(&rig, dir.path());
    assert_eq!(next_day.biometric_status(), BiometricStatus::Ready);
    unlock_with(&rig, &next_day, GOOD).unwrap();
    assert_eq!(
        next_day.load().unwrap().unwrap().refresh_token.secret(),
        "RT-fingerprint"
    );

    // Turned off (unlocked): the keyring item is deleted.
    next_day.disable_biometric().unwrap();
    assert!(rig.keyring_items_another_program_finds().is_empty());
    drop(app);
}

#[test]
fn a_sign_in_that_fails_after_staging_a_keyring_wrap_leaves_no_keyring_item() {
    let rig = rig();
    let dir = tempfile::tempdir().unwrap();
    let vault = open(&rig, dir.path());
    vault.prepare(&pin()).unwrap();
    with_finger(&rig, GOOD, || {
        vault.enable_biometric(&pin(), Keep::AcrossRestarts)
    })
    .unwrap();
    assert_eq!(rig.keyring_items_another_program_finds().len(), 1);
    vault.lock(); // the browser sign-in failed: nothing was saved
    assert!(rig.keyring_items_another_program_finds().is_empty());
    assert!(!vault.is_initialized());
}

#[test]
fn turning_fingerprint_unlock_on_needs_the_pin_and_a_matching_finger() {
    let rig = rig();
    let dir = tempfile::tempdir().unwrap();
    let vault = open(&rig, dir.path());
    vault.prepare(&pin()).unwrap();
    vault
        .save(&vault.lock_for_refresh().unwrap(), &session())
        .unwrap();
    // No PIN: refused before the reader is asked.
    assert!(matches!(
        vault.enable_biometric(&finger(), Keep::AcrossRestarts),
        Err(VaultError::CredentialNotAccepted { .. })
    ));
    // The PIN, but a finger that is not enrolled: refused, nothing stored.
    assert_eq!(
        failure(with_finger(&rig, "bad", || vault
            .enable_biometric(&pin(), Keep::AcrossRestarts))),
        BiometricFailure::NoMatch
    );
    assert_eq!(vault.biometric_status(), BiometricStatus::Off);
    assert!(rig.keyring_items_another_program_finds().is_empty());
}

#[test]
fn choosing_the_pin_while_the_reader_waits_cancels_the_prompt_and_the_pin_unlocks() {
    let rig = rig();
    let dir = tempfile::tempdir().unwrap();
    let vault = signed_in(&rig, dir.path(), Keep::ThisRun);

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

#[test]
fn use_pin_pressed_before_the_reader_starts_still_ends_that_prompt() {
    let rig = rig();
    let gate = Fprintd::on_bus(rig.system_bus());
    // The user presses "use PIN instead" at once: the cancel arrives before verify begins.
    gate.cancel();
    let result = gate.verify("Unlock");
    assert!(
        matches!(result, Err(latchkey_vault::ProtectorError::Cancelled)),
        "{result:?}"
    );
    // The cancel was for that prompt only: the next one waits for a finger and matches.
    with_finger(&rig, GOOD, || gate.verify("Unlock")).unwrap();
}
