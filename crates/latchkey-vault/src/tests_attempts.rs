//! The PIN's attempt counter and strength, and repeated biometric failures: what a biometric
//! success resets, what an edited or rolled-back key file does, which new PINs are refused, and
//! that key files written before these rules still open.

use super::testing::{pin, protector, session};
use super::tests_dual::{FakeBiometrics, Finger};
use super::tests_sharing::read_failed_attempts;
use super::*;
use latchkey_core::store::SecretStore;

const PIN: &str = "pin-246810";

fn prompt() -> Credential {
    Credential::Prompt("Unlock".into())
}

fn open(dir: &Path, bio: &Arc<FakeBiometrics>) -> Vault {
    Vault::open(dir, protector())
        .unwrap()
        .with_biometric(bio.clone(), "Unlock")
}

fn signed_in(dir: &Path, bio: &Arc<FakeBiometrics>) -> Vault {
    let v = open(dir, bio);
    v.prepare(&pin(PIN)).unwrap();
    v.enable_biometric(&pin(PIN), Keep::ThisRun).unwrap();
    v.save(&v.lock_for_refresh().unwrap(), &session("RT"))
        .unwrap();
    v.lock();
    v
}

fn set_failed_attempts(dir: &Path, n: u32) {
    let path = dir.join(KEY_FILE);
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    file["failed_attempts"] = n.into();
    std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
}

#[test]
fn a_biometric_success_resets_the_pin_failure_count() {
    let dir = tempfile::tempdir().unwrap();
    let bio = FakeBiometrics::new();
    let v = signed_in(dir.path(), &bio);
    for _ in 0..DEFAULT_MAX_ATTEMPTS - 1 {
        assert!(matches!(
            v.unlock(&pin("not-the-pin")),
            Err(VaultError::WrongPin { .. })
        ));
    }
    assert_eq!(read_failed_attempts(dir.path()), 4);

    v.unlock(&prompt()).unwrap();
    assert_eq!(
        read_failed_attempts(dir.path()),
        0,
        "the finger proved the user"
    );

    // So the next wrong PIN is the first of five again, not the last.
    v.lock();
    assert!(matches!(
        v.unlock(&pin("not-the-pin")),
        Err(VaultError::WrongPin { remaining: 4 })
    ));
    v.unlock(&pin(PIN)).unwrap();
}

#[test]
fn three_identical_unrecognised_biometric_failures_ask_for_biometric_unlock_to_be_set_up_again() {
    let dir = tempfile::tempdir().unwrap();
    let bio = FakeBiometrics::new();
    let v = signed_in(dir.path(), &bio);
    bio.next(Finger::NoReader);
    for _ in 1..SET_UP_AGAIN_AFTER {
        assert!(v.unlock(&prompt()).is_err());
        assert_eq!(v.biometric_status(), BiometricStatus::Ready);
    }
    assert!(v.unlock(&prompt()).is_err());
    assert_eq!(v.biometric_status(), BiometricStatus::SetUpAgain);
    assert!(v.is_initialized(), "nothing is erased");
    assert_eq!(
        read_failed_attempts(dir.path()),
        0,
        "and no PIN attempt counted"
    );

    // Another process sees it too: the count is in the key file, so it survives a restart.
    assert_eq!(
        open(dir.path(), &bio).biometric_status(),
        BiometricStatus::SetUpAgain
    );

    // The PIN still opens the vault, and setting biometric unlock up again clears it.
    v.unlock(&pin(PIN)).unwrap();
    assert_eq!(v.biometric_status(), BiometricStatus::SetUpAgain);
    bio.next(Finger::Match);
    v.enable_biometric(&pin(PIN), Keep::ThisRun).unwrap();
    assert_eq!(v.biometric_status(), BiometricStatus::Ready);
    v.lock();
    v.unlock(&prompt()).unwrap();
}

#[test]
fn only_consecutive_identical_failures_count_towards_setting_biometrics_up_again() {
    let dir = tempfile::tempdir().unwrap();
    let bio = FakeBiometrics::new();
    let v = signed_in(dir.path(), &bio);
    for between in [Finger::Cancel, Finger::NoMatch, Finger::Match] {
        bio.next(Finger::NoReader);
        for _ in 1..SET_UP_AGAIN_AFTER {
            assert!(v.unlock(&prompt()).is_err());
        }
        // A prompt the user answered (or a success) shows the platform works.
        bio.next(between);
        let _ = v.unlock(&prompt());
        v.lock();
        bio.next(Finger::NoReader);
        assert!(v.unlock(&prompt()).is_err());
        assert_eq!(v.biometric_status(), BiometricStatus::Ready);
        bio.next(Finger::Match);
        v.unlock(&prompt()).unwrap();
        v.lock();
    }
}

#[test]
fn a_new_pin_below_the_minimum_is_refused_in_rust_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let v = Vault::open(dir.path(), protector()).unwrap();
    for weak in [
        "246810",
        "12345678901",
        "abcdefgh",
        "a1b2c3d",
        "111111111111111",
    ] {
        let err = v.prepare(&pin(weak)).unwrap_err();
        assert!(
            matches!(
                err,
                VaultError::Protector(ProtectorError::UnsuitableCredential(_))
            ),
            "{weak}: {err:?}"
        );
        assert!(err.to_string().contains("12 digits"), "{err}");
    }
    assert!(!v.is_initialized());
    for strong in ["246813579024", "abcdefghi", "pin-2468", "Horse7Battery"] {
        v.prepare(&pin(strong)).unwrap();
    }
}

#[test]
fn a_key_file_written_before_the_new_pin_rule_still_opens_with_its_six_digit_pin() {
    let dir = tempfile::tempdir().unwrap();
    let v = Vault::open(dir.path(), protector()).unwrap();
    v.prepare(&pin(PIN)).unwrap();
    v.save(&v.lock_for_refresh().unwrap(), &session("RT"))
        .unwrap();
    let key = v.key().unwrap();
    drop(v);
    // The key file exactly as the previous release wrote it: a 6-digit PIN, no other fields.
    let old = serde_json::json!({
        "version": 1,
        "method": "pin",
        "wrapped": pin::tests::legacy_wrap(&key, "246810"),
        "failed_attempts": 1,
    });
    std::fs::write(
        dir.path().join(KEY_FILE),
        serde_json::to_vec_pretty(&old).unwrap(),
    )
    .unwrap();

    let v = Vault::open(dir.path(), protector()).unwrap();
    assert!(matches!(
        v.unlock(&pin("135790")),
        Err(VaultError::WrongPin { remaining: 3 })
    ));
    v.unlock(&pin("246810")).unwrap();
    assert_eq!(v.load().unwrap().unwrap().refresh_token.secret(), "RT");
    assert_eq!(read_failed_attempts(dir.path()), 0);
}

#[test]
fn a_key_file_rolled_back_to_an_earlier_copy_gives_the_attempts_back() {
    // The limit guards the app and the CLI, not the file: a program that can write the vault
    // directory can restore an earlier copy (this test), and can also read it and search
    // offline. See docs/SECURITY.md ("The PIN's attempt limit").
    let dir = tempfile::tempdir().unwrap();
    let v = Vault::open(dir.path(), protector()).unwrap();
    v.prepare(&pin(PIN)).unwrap();
    v.save(&v.lock_for_refresh().unwrap(), &session("RT"))
        .unwrap();
    v.lock();
    let copy = std::fs::read(dir.path().join(KEY_FILE)).unwrap();
    for _ in 0..DEFAULT_MAX_ATTEMPTS - 1 {
        assert!(v.unlock(&pin("not-the-pin")).is_err());
    }
    std::fs::write(dir.path().join(KEY_FILE), &copy).unwrap();
    assert!(matches!(
        v.unlock(&pin("not-the-pin")),
        Err(VaultError::WrongPin { remaining: 4 })
    ));
}

#[test]
fn a_counter_set_to_the_limit_by_another_program_erases_at_the_next_unlock_without_trying_the_pin()
{
    // Forcing an erase this way is no more than deleting the files, which such a program can do
    // anyway; the vault does not try the PIN (a right one would not rescue it).
    let dir = tempfile::tempdir().unwrap();
    let v = Vault::open(dir.path(), protector()).unwrap();
    v.prepare(&pin(PIN)).unwrap();
    v.save(&v.lock_for_refresh().unwrap(), &session("RT"))
        .unwrap();
    v.lock();
    set_failed_attempts(dir.path(), DEFAULT_MAX_ATTEMPTS);
    assert!(matches!(
        v.unlock(&pin(PIN)),
        Err(VaultError::TooManyAttempts)
    ));
    assert!(!v.is_initialized());
    assert!(!dir.path().join(SNAPSHOT).exists());
}
