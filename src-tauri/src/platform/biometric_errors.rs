//! What the biometric plugin's Android errors mean for the vault. Compiled and tested on every
//! platform (it is string classification), used by `mobile.rs` on Android.
//!
//! tauri-plugin-biometric 2.5 reports a cipher failure as a message, not a code
//! (`android/src/main/java/BiometricActivity.kt`): a key invalidated by a new biometric
//! enrollment (or the lock screen being removed) fails `Cipher.init` with
//! `KeyPermanentlyInvalidatedException` ("Failed to initialize the cipher: …"), and data sealed
//! with a key the plugin has since replaced fails its authentication tag ("Failed to decrypt the
//! data: AEADBadTagException…"). Other decrypt failures under the same prefix (a keystore hiccup)
//! are not invalidation.
//! Either way the biometric wrap can never be released again: that is `KeyInvalidated`, which
//! drops the biometric wrap only (`vault/dual.rs`): the session stays, the PIN unlocks it and
//! wraps the key for biometrics again. (Only a vault whose *sole* protector is biometric, with no
//! PIN wrap, is erased on it.) Everything else (cancel, lockout, no hardware right now) is
//! `Unavailable`: transient, nothing is dropped or erased (RocketChat PR #7351 treated a
//! transient hardware error as invalidation and logged users out).

use latchkey_core::vault::ProtectorError;

/// Maps a failed `biometric_cipher` call during *decryption* (unlock) to the vault's error.
pub fn classify_unlock_error(message: &str) -> ProtectorError {
    let lower = message.to_ascii_lowercase();
    let invalidated = lower.contains("keypermanentlyinvalidated")
        || lower.contains("permanently invalidated")
        || (lower.contains("failed to initialize the cipher") && lower.contains("invalidated"))
        || (lower.contains("failed to decrypt the data") && lower.contains("aeadbadtag"));
    if invalidated {
        ProtectorError::KeyInvalidated
    } else {
        ProtectorError::Unavailable(message.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_invalidated_by_re_enrollment_is_key_invalidated() {
        for message in [
            "Failed to initialize the cipher: Key permanently invalidated",
            "Failed to initialize the cipher: KeyPermanentlyInvalidatedException",
            "Failed to decrypt the data: AEADBadTagException",
        ] {
            assert!(
                matches!(
                    classify_unlock_error(message),
                    ProtectorError::KeyInvalidated
                ),
                "{message}"
            );
        }
    }

    #[test]
    fn cancel_lockout_and_missing_hardware_are_transient_and_erase_nothing() {
        for message in [
            "Cancel button was pressed",
            "Too many attempts. Try again later.",
            "Biometric hardware unavailable",
            "Failed to initialize the cipher: Keystore operation failed",
            "Failed to decrypt the data: Keystore operation failed",
            "Failed to decrypt the data: bad base-64",
        ] {
            assert!(
                matches!(
                    classify_unlock_error(message),
                    ProtectorError::Unavailable(_)
                ),
                "{message}"
            );
        }
    }
}
