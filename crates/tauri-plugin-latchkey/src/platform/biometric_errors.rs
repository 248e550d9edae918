//! What the biometric plugin's Android failures mean for the vault. Compiled and tested on every
//! platform (it is classification of the plugin's codes and messages), used by `mobile.rs` on
//! Android.
//!
//! tauri-plugin-biometric 2.5 rejects `biometric_cipher` with an `ErrorResponse { code, message }`
//! (`android/src/main/java/BiometricPlugin.kt`, `authenticateResult`):
//! - the prompt's own errors carry a code mapped from `BiometricPrompt`'s: `userCancel` (the
//!   Cancel button, `ERROR_USER_CANCELED`), `systemCancel` (`ERROR_CANCELED`, `ERROR_TIMEOUT`,
//!   `ERROR_NO_SPACE`, `ERROR_UNABLE_TO_PROCESS`, `ERROR_VENDOR`, and the activity being
//!   cancelled), `biometryLockout` (`ERROR_LOCKOUT`, `ERROR_LOCKOUT_PERMANENT`),
//!   `biometryNotAvailable` (`ERROR_HW_NOT_PRESENT`, `ERROR_HW_UNAVAILABLE`),
//!   `biometryNotEnrolled`, `passcodeNotSet`, `invalidContext` (the activity's result was
//!   missing); the message is the system's, localised, so only the code is read;
//! - the cipher's failures come from `BiometricActivity.kt` with error code 0, which the plugin
//!   maps to the code `""`, and a message in English that the plugin writes itself: a key
//!   invalidated by a new enrolment (or the lock screen removed) fails `Cipher.init` with
//!   `KeyPermanentlyInvalidatedException` ("Failed to initialize the cipher: Key permanently
//!   invalidated"), and data sealed with a key the plugin has since replaced fails its tag after
//!   the prompt ("Failed to decrypt the data: AEADBadTagException"). Other failures under those
//!   prefixes (a keystore hiccup) are not invalidation.
//!
//! An invalidated key is `KeyInvalidated`: the biometric wrap is dropped and the PIN, which stays,
//! wraps again. A cancel is `Cancelled`, a lockout `LockedOut`; neither touches the wrap
//! (RocketChat PR #7351 treated a transient hardware error as invalidation and logged users out).
//! A wrap that isn't in the plugin's `data;iv` form is refused before any prompt
//! ([`check_sealed`]): `Malformed`, which drops that wrap like an invalidated one.

use base64::Engine as _;
use latchkey::vault::ProtectorError;

/// Which `biometric_cipher` call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherCall {
    /// Wrapping the vault key (turning biometric unlock on, or again after the PIN).
    Encrypt,
    /// Releasing it (a biometric unlock).
    Decrypt,
}

/// The message the plugin uses for a failed `Cipher.init` (its own English text).
const CIPHER_INIT: &str = "failed to initialize the cipher";
/// The message the plugin uses for a failed `doFinal` after a decrypting prompt.
const CIPHER_DECRYPT: &str = "failed to decrypt the data";

/// Maps a rejected `biometric_cipher` call (the plugin's `code` and `message`) to the vault's
/// error.
pub fn classify(call: CipherCall, code: Option<&str>, message: Option<&str>) -> ProtectorError {
    let message = message.unwrap_or_default();
    match code.unwrap_or_default() {
        "userCancel" | "systemCancel" | "appCancel" => ProtectorError::Cancelled,
        "biometryLockout" => ProtectorError::LockedOut,
        // The plugin's code for a presented but unrecognised biometric (Android lets the user
        // retry inside the prompt, so it is rare).
        "authenticationFailed" => ProtectorError::WrongCredential,
        "biometryNotAvailable" | "biometryNotEnrolled" if call == CipherCall::Encrypt => {
            // The cipher asks for BIOMETRIC_STRONG; the plugin's status() only knows WEAK, so
            // this is where a weak-only device (face unlock of Class 2) shows.
            ProtectorError::Unavailable(format!(
                "this device has no strong (Class 3) biometric enrolled, which Android requires \
                 before a biometric can protect a key ({message})"
            ))
        }
        "passcodeNotSet" => ProtectorError::Unavailable(format!(
            "set a screen lock before turning on biometric unlock ({message})"
        )),
        "" => classify_cipher_message(call, message),
        other => ProtectorError::Unavailable(format!("{message} ({other})")),
    }
}

fn classify_cipher_message(call: CipherCall, message: &str) -> ProtectorError {
    let lower = message.to_ascii_lowercase();
    let invalidated = call == CipherCall::Decrypt
        && ((lower.contains(CIPHER_INIT)
            && (lower.contains("keypermanentlyinvalidated")
                || lower.contains("permanently invalidated")))
            || (lower.contains(CIPHER_DECRYPT) && lower.contains("aeadbadtag")));
    if invalidated {
        ProtectorError::KeyInvalidated
    } else {
        ProtectorError::Unavailable(message.to_owned())
    }
}

/// Checks that a biometric wrap is in the form the plugin writes, `base64(ciphertext);base64(iv)`
/// (`encodeEncryptedData` in `BiometricActivity.kt`: Base64 NO_WRAP, a 12-byte GCM IV, a 16-byte
/// tag after the ciphertext), before it is handed to the plugin: the plugin would otherwise show
/// a prompt for it and then fail in `Cipher.init` with a message that can't be told from a
/// keystore hiccup.
pub fn check_sealed(sealed: &[u8]) -> Result<(), ProtectorError> {
    let malformed = |why: &str| ProtectorError::Malformed(format!("the biometric wrap {why}"));
    let text = std::str::from_utf8(sealed).map_err(|_| malformed("is not text"))?;
    let (data, iv) = text.split_once(';').ok_or_else(|| malformed("has no IV"))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let data = b64.decode(data).map_err(|_| malformed("is not Base64"))?;
    let iv = b64
        .decode(iv)
        .map_err(|_| malformed("has an IV that is not Base64"))?;
    if iv.len() != 12 {
        return Err(malformed("has an IV of the wrong length"));
    }
    if data.len() <= 16 {
        return Err(malformed("is too short to hold a key and its tag"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::CipherCall::{Decrypt, Encrypt};
    use super::*;

    /// The plugin's rejections as they reach Rust: the code from `biometryErrorCodeMap` (`""` for
    /// the activity's own error code 0) and the message.
    fn rejected(call: CipherCall, code: &str, message: &str) -> ProtectorError {
        classify(call, Some(code), Some(message))
    }

    #[test]
    fn a_key_invalidated_by_re_enrolment_or_replaced_by_the_plugin_is_key_invalidated() {
        for message in [
            "Failed to initialize the cipher: Key permanently invalidated",
            "Failed to initialize the cipher: KeyPermanentlyInvalidatedException",
            "Failed to decrypt the data: AEADBadTagException",
        ] {
            assert!(
                matches!(
                    rejected(Decrypt, "", message),
                    ProtectorError::KeyInvalidated
                ),
                "{message}"
            );
        }
    }

    #[test]
    fn the_cancel_button_and_a_system_cancel_are_cancelled_not_unavailable() {
        for (code, message) in [
            ("userCancel", "Cancel button was pressed"),
            ("userCancel", "Authentication canceled by user."),
            ("systemCancel", "The system canceled authentication"),
            ("systemCancel", "Authentication timed out."),
        ] {
            for call in [Encrypt, Decrypt] {
                assert!(
                    matches!(rejected(call, code, message), ProtectorError::Cancelled),
                    "{code} {message}"
                );
            }
        }
    }

    #[test]
    fn a_lockout_is_locked_out_and_never_invalidation() {
        for message in [
            "Too many attempts. Try again later.",
            "Too many attempts. Use screen lock instead.",
        ] {
            for call in [Encrypt, Decrypt] {
                assert!(
                    matches!(
                        rejected(call, "biometryLockout", message),
                        ProtectorError::LockedOut
                    ),
                    "{message}"
                );
            }
        }
    }

    #[test]
    fn enabling_on_a_device_without_a_strong_biometric_says_so() {
        for code in ["biometryNotAvailable", "biometryNotEnrolled"] {
            let e = rejected(
                Encrypt,
                code,
                "No biometric features available on this device.",
            );
            assert!(
                matches!(&e, ProtectorError::Unavailable(m) if m.contains("strong (Class 3)")),
                "{code}: {e}"
            );
        }
        let e = rejected(Encrypt, "passcodeNotSet", "No device credential");
        assert!(matches!(&e, ProtectorError::Unavailable(m) if m.contains("screen lock")));
    }

    #[test]
    fn keystore_hiccups_missing_hardware_and_unknown_codes_are_unavailable_and_erase_nothing() {
        for (call, code, message) in [
            (
                Decrypt,
                "biometryNotAvailable",
                "Biometric hardware unavailable",
            ),
            (
                Decrypt,
                "",
                "Failed to initialize the cipher: Keystore operation failed",
            ),
            (
                Decrypt,
                "",
                "Failed to decrypt the data: Keystore operation failed",
            ),
            (
                Encrypt,
                "",
                "Failed to initialize the cipher: Key permanently invalidated",
            ),
            (
                Encrypt,
                "",
                "Failed to encrypt the data: AEADBadTagException",
            ),
            (
                Decrypt,
                "invalidContext",
                "Missing data in the result of the activity",
            ),
            (Decrypt, "somethingNew", "a code a later plugin adds"),
        ] {
            assert!(
                matches!(
                    rejected(call, code, message),
                    ProtectorError::Unavailable(_)
                ),
                "{call:?} {code} {message}"
            );
        }
        assert!(matches!(
            classify(Decrypt, None, None),
            ProtectorError::Unavailable(_)
        ));
    }

    #[test]
    fn a_wrap_in_the_plugins_form_passes_and_a_corrupt_one_is_malformed_before_any_prompt() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let good = format!("{};{}", b64.encode([7u8; 60]), b64.encode([1u8; 12]));
        assert!(check_sealed(good.as_bytes()).is_ok());
        for bad in [
            b64.encode([7u8; 60]),                                          // no IV
            format!("{};{}", b64.encode([7u8; 60]), "!!"),                  // IV not Base64
            format!("{};{}", b64.encode([7u8; 60]), b64.encode([1u8; 16])), // IV length
            format!("{};{}", b64.encode([7u8; 16]), b64.encode([1u8; 12])), // tag only
            format!("not base64;{}", b64.encode([1u8; 12])),
        ] {
            assert!(
                matches!(
                    check_sealed(bad.as_bytes()),
                    Err(ProtectorError::Malformed(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            check_sealed(&[0xff, 0xfe]),
            Err(ProtectorError::Malformed(_))
        ));
    }
}
