//! The vault's cross-process lock (`vault.lock`): who takes it, and for how long at most.
//!
//! `flock` locks belong to an open file, not to a process: a second `flock` on a new handle
//! blocks even in the process that holds the first, so a holder that took it again would wait
//! for itself. Types rule that out: the engine's writes ([`SecretStore::save`],
//! [`SecretStore::clear`]) take the [`RefreshGuard`] that [`SecretStore::lock_for_refresh`]
//! returned, and never lock; the vault's own operations (unlock's attempt counter, turning
//! biometric unlock on or off, destroy) take the lock themselves, for their own duration, and are
//! never called with a guard held. Two tasks of one process exclude each other as two processes
//! do.
//!
//! [`SecretStore::save`]: latchkey_core::store::SecretStore::save
//! [`SecretStore::clear`]: latchkey_core::store::SecretStore::clear
//! [`SecretStore::lock_for_refresh`]: latchkey_core::store::SecretStore::lock_for_refresh

use super::files::LOCK_FILE;
use super::fsutil::{FileLock, LockError};
use super::{Vault, VaultError};
use latchkey_core::store::RefreshGuard;

impl Vault {
    /// Takes `vault.lock`, waiting at most the lock timeout ([`VaultError::Busy`]), for one of
    /// the vault's own operations; held until the returned value is dropped.
    pub(super) fn exclusive(&self) -> Result<FileLock, VaultError> {
        let path = self.path(LOCK_FILE);
        FileLock::acquire_timeout(&path, self.lock_timeout).map_err(|e| match e {
            LockError::Busy { waited } => {
                tracing::warn!(
                    waited_ms = waited.as_millis() as u64,
                    "the vault is locked by another process; giving up"
                );
                VaultError::Busy {
                    path: path.display().to_string(),
                    waited,
                }
            }
            LockError::Io(source) => VaultError::io("locked", &path, source),
        })
    }

    /// The lock for the engine's read-modify-write (a refresh, a sign-in's save, a sign-out):
    /// the guard its writes take.
    pub(super) fn refresh_guard(&self) -> Result<RefreshGuard, VaultError> {
        Ok(RefreshGuard::new(self.id, self.exclusive()?))
    }
}
