//! The vault: the refresh token (and what goes with it) in a Stronghold snapshot whose key is
//! released only by a [`KeyProtector`]: the PIN through Argon2id always, and optionally a second,
//! biometric wrap of the same key (`dual.rs`, [`Vault::enable_biometric`]). It is the
//! [`SecretStore`] behind `latchkey-core`'s session; the `latchkey` facade combines the two.
//!
//! Files, in a private (0700) directory, each private (0600):
//!
//! | file | content | secret? |
//! |---|---|---|
//! | `vault.stronghold` | the stored session (refresh token, ID token, issuer, scopes) | encrypted with the vault key |
//! | `vault.key.json` | the vault key wrapped by the protector (and the biometric wrap, if on); failed-attempt counter | wrapped |
//! | `vault.meta.json` | who is signed in, where, how to unlock, when last used | no |
//! | `vault.journal` | rotations since the snapshot was written: whole sessions, newest last (`journal.rs`) | sealed with a key derived from the vault key |
//! | `vault.lock` | an advisory lock: one writer across processes at a time | empty |
//!
//! Crash safety: every file but the journal is replaced atomically (temp + fsync + rename +
//! directory fsync). A rotation appends one sealed record to the journal (`fdatasync`) and
//! rewrites nothing; a torn record is ignored on open, and the last complete one wins. The
//! journal is folded into the snapshot when the vault is locked or dropped, or after
//! `journal::FOLD_AFTER` records. A new sign-in stages a new key in
//! memory and writes it on the first save: snapshot first, then key file; a crash between those two
//! renames (a first sign-in only) leaves an unreadable vault, which is reported and kept for
//! inspection, and the user signs in again. Erasing removes the key file first.
//!
//! # Several processes on one vault
//! The app and the CLI may share a vault directory. Rules:
//! - **Every write happens under `vault.lock`**, and types say so: `save` and `clear` take the
//!   [`RefreshGuard`] that [`SecretStore::lock_for_refresh`] returned for this `Vault` (a guard
//!   of another store is refused), and never lock again (`flock` on a second handle would block
//!   even in the same process: a holder that locked twice would wait for itself). The engine
//!   takes the guard once around every read-modify-write (refresh, sign-in save, sign-out), so
//!   its re-read and its write are one step, and passes it down. The vault's own writes —
//!   [`Vault::destroy`], [`Vault::unlock`] (its attempt counter), turning biometric unlock on
//!   or off — take the lock themselves; two tasks of one process wait for each other as two
//!   processes do.
//! - **Bounded waits**: the lock is taken by polling, for at most [`Vault::with_lock_timeout`]
//!   (default [`DEFAULT_LOCK_TIMEOUT`]), then [`VaultError::Busy`] (transient). The timeout must
//!   exceed the HTTP timeout: the engine holds the lock across one token request.
//! - **The key on disk is checked**: the vault remembers which wrapped key its key came from.
//!   `load` and `save` re-read the key file; if another process signed in anew since, they return
//!   [`VaultError::KeyChanged`] without decrypting, keeping aside or writing; if another process
//!   signed out, `load` finds no session and `save` returns [`VaultError::KeyRemoved`]. `clear`
//!   refuses to erase another process's new sign-in ([`VaultError::KeyChanged`]).
//!
//! Stronghold is deprecated upstream and will not ship with Tauri v3 (plugins-workspace #3494).
//! Nothing outside this crate knows it is there: the engine sees a [`SecretStore`], and an
//! OS-keychain-backed store can replace this one.

mod access;
mod dual;
mod error;
mod files;
mod fingerprint;
#[cfg(target_os = "linux")]
mod fprintd;
mod fsutil;
mod held;
mod hello;
#[cfg(windows)]
mod hello_windows;
mod journal;
mod key;
mod key_file;
mod keychain;
#[cfg(any(target_os = "macos", target_os = "ios"))]
mod keychain_apple;
mod lock;
mod pin;
mod pin_policy;
mod platform;
mod records;
mod repeated;
#[cfg(target_os = "linux")]
mod secret_service;
mod state;
mod stronghold;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use files::KEY_FILE;
use files::META_FILE;
use latchkey_core::store::{
    RefreshGuard, SecretStore, SessionHint, StoreError, StoreId, StoredSession,
};
use state::State;

pub use dual::{BiometricStatus, SET_UP_AGAIN_AFTER};
pub use error::{BiometricFailure, VaultError};
pub use fingerprint::{FingerGate, FingerprintProtector};
#[cfg(target_os = "linux")]
pub use fprintd::{system_fingerprint, Fprintd, SYSTEM_BUS_ADDRESS, VERIFY_TIMEOUT};
pub use fsutil::{FileLock, LockError};
#[cfg(target_os = "linux")]
pub use held::process_is_non_dumpable;
pub use held::HeldInMemory;
pub use hello::{wrapping_key as hello_wrapping_key, HelloProtector, HelloSigner};
#[cfg(windows)]
pub use hello_windows::WindowsHello;
pub use key::{Credential, Keep, KeyProtector, ProtectorError, UnlockMethod, VaultKey};
pub use key_file::BiometricSlot;
pub use keychain::{classify_keychain_status, KeychainCall, KeychainProtector};
#[cfg(any(target_os = "macos", target_os = "ios"))]
pub use keychain_apple::BiometricKeychain;
pub use pin::{KdfParams, PinProtector, MIN_PIN_LEN};
pub use pin_policy::{new_pin_is_strong_enough, MIN_PIN_SPACE, NEW_PIN_RULE};
pub use platform::{BiometricCipher, CipherProtector, KeyStorage};
#[cfg(target_os = "linux")]
pub use secret_service::SecretServiceStorage;

/// Temp files older than this are leftovers of a crashed write.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(600);

/// Wrong PINs allowed before the vault wipes itself.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// How long the vault waits for another process's lock before [`VaultError::Busy`]. Longer than
/// the default HTTP timeout (10 s) with room for a slow token response: the engine holds the lock
/// across one token request.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// What anyone may know without the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultMetadata {
    /// The issuer.
    pub issuer: String,
    /// The client.
    pub client_id: String,
    /// The ID token's `sub`.
    pub subject: Option<String>,
    /// A display name ("Welcome back, Alice").
    pub display_name: Option<String>,
    /// How to unlock.
    pub unlock_method: UnlockMethod,
    /// Unix seconds of the last save (sign-in or refresh).
    pub last_used_at: u64,
}

/// The vault. A [`SecretStore`]: `load` and `save` need it unlocked; `hint` works locked.
pub struct Vault {
    dir: PathBuf,
    protector: Arc<dyn KeyProtector>,
    /// The second, optional wrap's protector (biometrics): see [`dual`].
    biometric: Option<dual::Biometric>,
    max_attempts: u32,
    lock_timeout: Duration,
    /// Which store the guards this vault hands out belong to (see [`lock`]).
    id: StoreId,
    state: Mutex<State>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("dir", &self.dir)
            .field("method", &self.protector.method())
            .field("biometric", &self.biometric_method())
            .field("locked", &self.is_locked())
            .finish()
    }
}

impl Drop for Vault {
    /// Folds the journal into the snapshot if nobody holds the lock at this instant (never waits).
    fn drop(&mut self) {
        self.fold_if_free();
    }
}

impl Vault {
    /// Opens (creating the directory, 0700) a vault in `dir`, locked. Temp files left by a writer
    /// that crashed more than [`STALE_TEMP_AGE`] ago are removed (younger ones may belong to
    /// another process writing right now).
    pub fn open(dir: &Path, protector: Arc<dyn KeyProtector>) -> Result<Self, VaultError> {
        fsutil::ensure_private_dir(dir).map_err(|e| VaultError::io("created", dir, e))?;
        files::remove_stale_temps(dir, STALE_TEMP_AGE);
        Ok(Self {
            dir: dir.to_owned(),
            protector,
            biometric: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            id: StoreId::new(),
            state: Mutex::new(State::default()),
        })
    }

    /// Sets how many wrong PINs are allowed (default 5).
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Sets how long to wait for the cross-process lock held by another process before giving
    /// up with [`VaultError::Busy`] (default [`DEFAULT_LOCK_TIMEOUT`]). Keep it above the HTTP
    /// timeout: the engine holds the lock across one token request. Zero tries once.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How this vault is unlocked.
    pub fn method(&self) -> UnlockMethod {
        self.protector.method()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // State is assigned whole; a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn key(&self) -> Result<VaultKey, VaultError> {
        self.state().key.clone().ok_or(VaultError::Locked)
    }

    /// True when a wrapped key exists (someone signed in and a session was stored).
    pub fn is_initialized(&self) -> bool {
        self.path(KEY_FILE).exists()
    }

    /// True while the key is not in memory.
    pub fn is_locked(&self) -> bool {
        self.state().key.is_none()
    }

    /// The non-secret metadata, readable while locked.
    pub fn metadata(&self) -> Result<Option<VaultMetadata>, VaultError> {
        Self::metadata_in(&self.dir)
    }

    /// The non-secret metadata of the vault in `dir`, read without opening it (nothing is
    /// created): a front end may need to know whose session is stored before it has the
    /// configuration to open a facade with.
    pub fn metadata_in(dir: &Path) -> Result<Option<VaultMetadata>, VaultError> {
        key_file::read_json(&dir.join(META_FILE))
    }
}

impl SecretStore for Vault {
    /// The stored session. Errors with [`VaultError::KeyChanged`] when another process signed in
    /// anew since this vault's key was released; `None` when another process signed out.
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        Ok(self.load_session()?)
    }

    /// Saves under the vault's lock (see the module docs); refuses with
    /// [`VaultError::KeyChanged`] / [`VaultError::KeyRemoved`] to write over another process's
    /// sign-in or sign-out.
    fn save(&self, held: &RefreshGuard, session: &StoredSession) -> Result<(), StoreError> {
        held.check(self.id)?;
        Ok(self.save_session(session)?)
    }

    /// Erases the vault under its lock, unless another process signed in anew since
    /// ([`VaultError::KeyChanged`]).
    fn clear(&self, held: &RefreshGuard) -> Result<(), StoreError> {
        held.check(self.id)?;
        Ok(self.clear_session()?)
    }

    fn hint(&self) -> Result<Option<SessionHint>, StoreError> {
        Ok(self.metadata()?.map(|m| SessionHint {
            issuer: m.issuer,
            client_id: m.client_id,
            subject: m.subject,
            display_name: m.display_name,
        }))
    }

    /// Takes `vault.lock`, waiting at most the lock timeout ([`VaultError::Busy`], transient).
    /// Writes ([`SecretStore::save`], [`SecretStore::clear`]) take the guard.
    fn lock_for_refresh(&self) -> Result<RefreshGuard, StoreError> {
        Ok(self.refresh_guard()?)
    }
}

#[cfg(test)]
use files::{LOCK_FILE, SNAPSHOT};
#[cfg(test)]
use state::wipes_on_this_thread;
#[cfg(test)]
use {latchkey_core::ErrorKind, std::time::SystemTime, zeroize::Zeroizing};

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_attempts;
#[cfg(test)]
mod tests_dual;
#[cfg(test)]
mod tests_journal;
#[cfg(test)]
mod tests_proof;
#[cfg(test)]
mod tests_sharing;
#[cfg(test)]
mod tests_unlock;
#[cfg(test)]
mod tests_wipe;
