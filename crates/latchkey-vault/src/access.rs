//! Releasing and forgetting the key: prepare (a new sign-in), unlock, lock, and erasing the vault.

use super::files::{self, KEY_FILE};
use super::fsutil::FileLock;
use super::key_file::write_json;
use super::{Credential, ProtectorError, Vault, VaultError, VaultKey};

impl Vault {
    /// Starts a new vault for a new sign-in: generates a fresh key and wraps it with
    /// `credential` (a new PIN, or a biometric prompt). Nothing on disk changes until the first
    /// save, so a sign-in that fails leaves any previous vault as it was.
    pub fn prepare(&self, credential: &Credential) -> Result<(), VaultError> {
        let key = VaultKey::generate();
        let wrapped = self.protector.wrap(&key, credential)?;
        self.discard_staged_biometric();
        let mut state = self.state();
        state.forget();
        state.key = Some(key);
        state.staged = Some(wrapped);
        Ok(())
    }

    /// Releases the key with `credential`, under the vault's lock.
    ///
    /// A [`Credential::Prompt`] on a vault with a biometric protector (and a PIN protector that
    /// can't take prompts) goes to the biometric wrap: its failures are
    /// [`VaultError::Biometric`], never counted, never erasing (see `dual.rs`). After a
    /// PIN unlock a lost biometric wrap is made again.
    ///
    /// The PIN unlock's lock is let go before a lost biometric wrap is made again (which may
    /// prompt).
    ///
    /// A credential the protector can't take at all (a prompt for a PIN vault, a PIN shorter
    /// than [`super::MIN_PIN_LEN`], a PIN for biometrics) is refused with
    /// [`VaultError::CredentialNotAccepted`] before anything is counted. A vault already unlocked
    /// with the key on disk stays unlocked: nothing is counted or derived again. With a PIN, each
    /// failure is counted (written before the attempt, so killing the process doesn't reset it)
    /// and the vault erases itself after the limit.
    pub fn unlock(&self, credential: &Credential) -> Result<(), VaultError> {
        if let (Credential::Prompt(_), Some(bio)) = (credential, &self.biometric) {
            if self.protector.accepts(credential).is_err() {
                if self.is_unlocked_with_the_key_on_disk() {
                    return Ok(());
                }
                return self.unlock_biometric(bio, credential);
            }
        }
        self.protector
            .accepts(credential)
            .map_err(|source| VaultError::CredentialNotAccepted {
                method: self.protector.method(),
                source,
            })?;
        if self.is_unlocked_with_the_key_on_disk() {
            return Ok(());
        }
        {
            let (_lock, key, from) = self.release_counted(credential)?;
            self.adopt(key, from)?;
        }
        // After the lock is let go: setting biometric unlock up again may prompt, and no other
        // process should wait for that.
        self.renew_biometric();
        Ok(())
    }

    /// Releases the key from the key file with `credential` (the PIN), under the vault's lock,
    /// which is handed back with the key and the wrapped form it came from. Each failure is
    /// counted (written before the attempt, so killing the process doesn't reset it) and the
    /// vault erases itself after the limit. [`Vault::unlock`] and turning a protector on
    /// (`dual.rs`) go through here, so a PIN check can't be had uncounted.
    pub(super) fn release_counted(
        &self,
        credential: &Credential,
    ) -> Result<(FileLock, VaultKey, serde_json::Value), VaultError> {
        // The attempt counter is read, incremented and written as one step under the lock, so
        // concurrent unlocks can't lose a count.
        let lock = self.exclusive()?;
        let key_path = self.path(KEY_FILE);
        let mut file = self.read_key_file()?.ok_or(VaultError::NotInitialized)?;
        let counted = self.protector.limits_attempts();
        if counted {
            if file.failed_attempts >= self.max_attempts {
                self.erase()?;
                return Err(VaultError::TooManyAttempts);
            }
            file.failed_attempts += 1;
            write_json(&key_path, &file)?;
        }
        match self.protector.release(&file.wrapped, credential) {
            Ok(key) => {
                if counted {
                    file.failed_attempts = 0;
                    write_json(&key_path, &file)?;
                }
                Ok((lock, key, file.wrapped))
            }
            Err(ProtectorError::KeyInvalidated) => {
                // The platform key can never be released again: the vault is useless, and
                // keeping it would leave the user on an unlock screen with no way through.
                tracing::warn!("the platform key was invalidated; erasing the vault");
                self.erase()?;
                Err(ProtectorError::KeyInvalidated.into())
            }
            Err(ProtectorError::WrongCredential) if counted => {
                let remaining = self.max_attempts.saturating_sub(file.failed_attempts);
                if remaining == 0 {
                    self.erase()?;
                    Err(VaultError::TooManyAttempts)
                } else {
                    Err(VaultError::WrongPin { remaining })
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the key in memory was released from the key file that is on disk now.
    fn is_unlocked_with_the_key_on_disk(&self) -> bool {
        let ours = {
            let state = self.state();
            match (&state.key, &state.staged, &state.released_from) {
                (Some(_), None, Some(ours)) => ours.clone(),
                _ => return false,
            }
        };
        matches!(self.read_key_file(), Ok(Some(file)) if file.wrapped == ours)
    }

    /// Forgets the key (zeroized on drop) and the cached session (wiped). The vault stays on
    /// disk; rotations journaled since the snapshot was written (more than one) are folded into it
    /// first, if no one holds the vault's lock at this instant (never waits; see `journal.rs`). A sign-in that
    /// ends here (failed, cancelled) also deletes the platform material of the biometric wrap it
    /// staged, so no keyring or keychain item outlives it.
    pub fn lock(&self) {
        self.fold_if_free();
        self.discard_staged_biometric();
        self.state().forget();
    }

    /// Erases the vault, whoever's it is: the platform key material, the wrapped key, the
    /// snapshot, the metadata, snapshots kept aside and temp files; the empty lock file stays.
    /// Takes the vault's lock, so it never removes
    /// files another process is writing; gives up with [`VaultError::Busy`] after the lock
    /// timeout.
    pub fn destroy(&self) -> Result<(), VaultError> {
        let _lock = self.exclusive()?;
        self.erase()
    }

    /// [`latchkey_core::SecretStore::clear`]: erases the vault unless another process signed in anew
    /// since this vault's key was released ([`VaultError::KeyChanged`]: that vault is not this
    /// session's to erase). Locked, or staging a new sign-in, it erases what is there.
    /// The caller holds the vault's lock.
    pub(super) fn clear_session(&self) -> Result<(), VaultError> {
        let ours = {
            let state = self.state();
            state.staged.is_none().then(|| state.released_from.clone())
        };
        if let Some(Some(ours)) = ours {
            if matches!(self.read_key_file()?, Some(file) if file.wrapped != ours) {
                return Err(VaultError::KeyChanged);
            }
        }
        self.erase()
    }

    /// Erases, the caller holding the lock.
    fn erase(&self) -> Result<(), VaultError> {
        if let Ok(Some(file)) = self.read_key_file() {
            if let Err(e) = self.protector.forget(&file.wrapped) {
                tracing::warn!(error = %e, "could not delete the platform key material");
            }
            self.forget_biometric(&file);
        }
        files::erase_all(&self.dir)?;
        self.lock();
        Ok(())
    }
}
