//! The vault's cross-process lock (`vault.lock`): who takes it, for how long at most, and how a
//! write inside [`SecretStore::lock_for_refresh`] avoids waiting for itself.
//!
//! `flock` locks belong to an open file, not to a process: a second `flock` on a new handle
//! blocks even in the process that holds the first. So the vault counts the refresh guards it has
//! handed out; while one is alive, its own writes (save, clear, destroy, unlock) run under that
//! guard instead of taking the lock again. Without one, each write takes the lock itself for its
//! own duration.
//!
//! [`SecretStore::lock_for_refresh`]: latchkey_core::store::SecretStore::lock_for_refresh

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::files::LOCK_FILE;
use super::fsutil::{FileLock, LockError};
use super::{Vault, VaultError};
use latchkey_core::store::RefreshGuard;

/// A lock taken for [`Vault::refresh_guard`]: counted while alive.
struct CountedLock {
    guards: Arc<AtomicUsize>,
    _lock: FileLock,
}

impl Drop for CountedLock {
    fn drop(&mut self) {
        // Runs before the file lock is released (fields drop after this).
        self.guards.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Vault {
    /// Takes `vault.lock`, waiting at most the lock timeout.
    fn take_lock(&self) -> Result<FileLock, VaultError> {
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

    /// The lock for one write: `None` when a refresh guard from this vault is alive (the caller
    /// holds the lock already), else the lock itself, held until the returned value is dropped.
    pub(super) fn exclusive(&self) -> Result<Option<FileLock>, VaultError> {
        if self.refresh_guards.load(Ordering::SeqCst) > 0 {
            Ok(None)
        } else {
            self.take_lock().map(Some)
        }
    }

    /// The lock for a refresh (or any other read-modify-write the engine does): always a real
    /// lock, so two tasks of one process exclude each other as two processes do.
    pub(super) fn refresh_guard(&self) -> Result<RefreshGuard, VaultError> {
        let lock = self.take_lock()?;
        self.refresh_guards.fetch_add(1, Ordering::SeqCst);
        Ok(RefreshGuard::new(CountedLock {
            guards: self.refresh_guards.clone(),
            _lock: lock,
        }))
    }
}
