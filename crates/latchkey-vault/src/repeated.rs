//! What a biometric unlock leaves in the key file besides the wraps: a success resets the PIN's
//! failure count, and the same unrecognised failure coming back unlock after unlock is counted
//! until biometric unlock is reported as needing to be set up again
//! ([`super::BiometricStatus::SetUpAgain`]).
//!
//! A platform error the vault doesn't recognise is [`super::BiometricFailure::Unavailable`]:
//! transient as far as the vault can tell, so the slot stays `Ready` and, if the error is in fact
//! permanent (a keystore entry broken in a way the platform reports with a message nobody mapped),
//! every unlock would fail the same way forever. Three in a row, with the same message for the
//! same wrap, is the threshold ([`super::SET_UP_AGAIN_AFTER`]): one or two are what a busy sensor,
//! a closed laptop lid or a reader being plugged in produce, and a wrong "set up again" costs the
//! user a PIN and a prompt, never the session. Any answered prompt (a match, no match, a cancel)
//! shows the platform works and clears the count. Only digests are written: no platform message
//! reaches the disk.

use sha2::{Digest, Sha256};

use super::files::KEY_FILE;
use super::key::ProtectorError;
use super::key_file::{write_json, KeyFile, RepeatedFailure};
use super::{Vault, VaultError, SET_UP_AGAIN_AFTER};

fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn wrap_digest(wrapped: &serde_json::Value) -> String {
    digest(wrapped.to_string().as_bytes())
}

/// Whether `file`'s biometric wrap failed the same way [`SET_UP_AGAIN_AFTER`] times in a row.
pub(super) fn needs_setting_up_again(file: &KeyFile) -> bool {
    let (Some(slot), Some(repeated)) = (&file.biometric, &file.biometric_repeated) else {
        return false;
    };
    slot.wrapped
        .as_ref()
        .is_some_and(|w| wrap_digest(w) == repeated.wrap && repeated.count >= SET_UP_AGAIN_AFTER)
}

impl Vault {
    /// After a biometric success from the key file whose PIN wrap is `from`: the user is proven,
    /// so the PIN's failure count and any repeated biometric failure are reset (under the lock,
    /// only if the key file is still that one). Best effort: the unlock stands either way.
    pub(super) fn after_biometric_success(&self, seen: &KeyFile) {
        if seen.failed_attempts == 0 && seen.biometric_repeated.is_none() {
            return;
        }
        let reset = self.update_key_file(&seen.wrapped, |file| {
            let changed = file.failed_attempts != 0 || file.biometric_repeated.is_some();
            file.failed_attempts = 0;
            file.biometric_repeated = None;
            changed
        });
        if let Err(e) = reset {
            tracing::warn!(error = %e, "could not reset the failure counts after a biometric unlock");
        }
    }

    /// After a failed biometric unlock of `wrapped` (from the key file `seen`): an unrecognised
    /// failure (`unrecognised`) is counted if it repeats the last one, anything else clears the
    /// count. Best effort.
    pub(super) fn after_biometric_failure(
        &self,
        seen: &KeyFile,
        wrapped: &serde_json::Value,
        unrecognised: Option<&ProtectorError>,
    ) {
        if unrecognised.is_none() && seen.biometric_repeated.is_none() {
            return;
        }
        let noted = self.update_key_file(&seen.wrapped, |file| {
            let Some(e) = unrecognised else {
                return file.biometric_repeated.take().is_some();
            };
            let (wrap, failure) = (wrap_digest(wrapped), digest(e.to_string().as_bytes()));
            let count = match &file.biometric_repeated {
                Some(r) if r.wrap == wrap && r.failure == failure => r.count.saturating_add(1),
                _ => 1,
            };
            file.biometric_repeated = Some(RepeatedFailure {
                wrap,
                failure,
                count,
            });
            true
        });
        if let Err(e) = noted {
            tracing::warn!(error = %e, "could not note the biometric failure");
        }
    }

    /// Applies `change` to the key file under the lock if its PIN wrap is still `from`; writes
    /// only if `change` says it changed something.
    fn update_key_file(
        &self,
        from: &serde_json::Value,
        change: impl FnOnce(&mut KeyFile) -> bool,
    ) -> Result<(), VaultError> {
        let _lock = self.exclusive()?;
        match self.read_key_file()? {
            Some(mut file) if file.wrapped == *from => {
                if change(&mut file) {
                    write_json(&self.path(KEY_FILE), &file)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
