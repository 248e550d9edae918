//! The vault: the refresh token (and what goes with it) in a Stronghold snapshot whose key is
//! released only by a [`KeyProtector`]: biometrics where the platform can bind a key to them, a
//! PIN through Argon2id elsewhere.
//!
//! Files, in a private (0700) directory, each private (0600):
//!
//! | file | content | secret? |
//! |---|---|---|
//! | `vault.stronghold` | the stored session (refresh token, ID token, issuer, scopes) | encrypted with the vault key |
//! | `vault.key.json` | the vault key wrapped by the protector; failed-attempt counter | wrapped |
//! | `vault.meta.json` | who is signed in, where, how to unlock, when last used | no |
//! | `vault.lock` | an advisory lock: one refresh across processes at a time | empty |
//!
//! Crash safety: every file is replaced atomically (temp + fsync + rename + directory fsync). A
//! rotation rewrites only the snapshot, with the same key. A new sign-in stages a new key in
//! memory and writes it on the first save: snapshot first, then key file; a crash between those two
//! renames (a first sign-in only) leaves an unreadable vault, which is reported and kept for
//! inspection, and the user signs in again.
//!
//! Stronghold is deprecated upstream and will not ship with Tauri v3 (plugins-workspace #3494).
//! Nothing outside this module knows it is there: the engine sees a [`SecretStore`], and an
//! OS-keychain-backed store can replace this one.

mod fsutil;
mod key;
mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::ErrorKind;
use crate::store::{RefreshGuard, SecretStore, SessionHint, StoreError, StoredSession};

pub use fsutil::FileLock;
pub use key::{
    BiometricCipher, CipherProtector, Credential, KdfParams, KeyProtector, KeyStorage,
    PinProtector, PresenceCheck, PresenceKeychainProtector, ProtectorError, UnlockMethod, VaultKey,
    MIN_PIN_LEN,
};

/// Temp files older than this are leftovers of a crashed write.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(600);

/// Wrong PINs allowed before the vault wipes itself.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

const SNAPSHOT: &str = "vault.stronghold";
/// The wrapped vault key: its presence means a session is stored.
pub const KEY_FILE: &str = "vault.key.json";
const META_FILE: &str = "vault.meta.json";
const LOCK_FILE: &str = "vault.lock";

/// A vault failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The key has not been released.
    #[error("the vault is locked")]
    Locked,
    /// There is no vault (nobody signed in with a stored session).
    #[error("there is no stored session; sign in first")]
    NotInitialized,
    /// The PIN was wrong.
    #[error("wrong PIN: {remaining} attempt(s) left before the stored session is erased")]
    WrongPin {
        /// Attempts left.
        remaining: u32,
    },
    /// Too many wrong PINs: the vault was erased.
    #[error("too many wrong PINs: the stored session was erased; sign in again")]
    TooManyAttempts,
    /// The protector failed.
    #[error(transparent)]
    Protector(#[from] ProtectorError),
    /// A vault file can't be read (wrong key, corruption). It is kept for inspection.
    #[error(
        "the vault file {path} is unreadable: {reason}; it was kept; sign in again to replace it"
    )]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// File I/O failed.
    #[error("vault file {path} could not be {action}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Stronghold failed.
    #[error("Stronghold: {0}")]
    Stronghold(String),
}

impl VaultError {
    fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        VaultError::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }

    /// The classification.
    pub fn kind(&self) -> ErrorKind {
        match self {
            VaultError::Locked | VaultError::WrongPin { .. } | VaultError::TooManyAttempts => {
                ErrorKind::VaultLocked
            }
            VaultError::NotInitialized => ErrorKind::NotSignedIn,
            VaultError::Protector(ProtectorError::KeyInvalidated)
            | VaultError::Unreadable { .. } => ErrorKind::ReauthRequired,
            VaultError::Protector(ProtectorError::Malformed(_)) => ErrorKind::Internal,
            VaultError::Protector(_) => ErrorKind::VaultLocked,
            VaultError::Io { .. } | VaultError::Stronghold(_) => ErrorKind::Internal,
        }
    }
}

impl From<VaultError> for StoreError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::Locked => StoreError::Locked,
            other => StoreError::Vault(Box::new(other)),
        }
    }
}

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

#[derive(Serialize, Deserialize)]
struct KeyFile {
    version: u32,
    method: UnlockMethod,
    wrapped: serde_json::Value,
    failed_attempts: u32,
}

/// When the key was last used, on both clocks (see [`Vault::is_idle`]).
#[derive(Debug, Clone, Copy)]
struct Activity {
    at: Instant,
    wall: SystemTime,
}

impl Activity {
    fn now() -> Self {
        Self {
            at: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// The longer of the two clocks' readings (a wall clock set back counts as no time).
    fn elapsed(&self) -> Duration {
        let wall = self.wall.elapsed().unwrap_or(Duration::ZERO);
        self.at.elapsed().max(wall)
    }
}

#[derive(Default)]
struct State {
    key: Option<VaultKey>,
    /// A new key's wrapped form, written with the first save after [`Vault::prepare`].
    staged: Option<serde_json::Value>,
    last_activity: Option<Activity>,
    /// The snapshot failed to decrypt: keep it aside rather than overwrite it.
    quarantine_on_save: bool,
    /// The session as last read or written, with the snapshot file's identity at that moment:
    /// a re-read of an unchanged file (the common case under the refresh lock) costs a `stat`.
    cache: Option<(FileStamp, StoredSession)>,
}

/// What identifies one version of the snapshot file: every save is a rename of a new file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: u64,
}

impl FileStamp {
    fn of(path: &Path) -> Option<Self> {
        let m = std::fs::metadata(path).ok()?;
        Some(Self {
            len: m.len(),
            modified: m.modified().ok(),
            #[cfg(unix)]
            inode: std::os::unix::fs::MetadataExt::ino(&m),
        })
    }
}

/// The vault. A [`SecretStore`]: `load` and `save` need it unlocked; `hint` works locked.
pub struct Vault {
    dir: PathBuf,
    protector: Arc<dyn KeyProtector>,
    max_attempts: u32,
    state: Mutex<State>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("dir", &self.dir)
            .field("method", &self.protector.method())
            .field("locked", &self.is_locked())
            .finish()
    }
}

impl Vault {
    /// Opens (creating the directory, 0700) a vault in `dir`, locked. Temp files left by a writer
    /// that crashed more than [`STALE_TEMP_AGE`] ago are removed (younger ones may belong to
    /// another process writing right now).
    pub fn open(dir: &Path, protector: Arc<dyn KeyProtector>) -> Result<Self, VaultError> {
        fsutil::ensure_private_dir(dir).map_err(|e| VaultError::io("created", dir, e))?;
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let stronghold_temp = name
                    .strip_prefix("vault.stronghold.")
                    .is_some_and(|s| s.len() == 12 && s.bytes().all(|b| b.is_ascii_hexdigit()));
                let stale = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age >= STALE_TEMP_AGE);
                if (name.contains(".tmp-") || stronghold_temp) && stale {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            protector,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            state: Mutex::new(State::default()),
        })
    }

    /// Sets how many wrong PINs are allowed (default 5).
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
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
        read_json(&dir.join(META_FILE))
    }

    /// Starts a new vault for a new sign-in: generates a fresh key and wraps it with
    /// `credential` (a new PIN, or a biometric prompt). Nothing on disk changes until the first
    /// save, so a sign-in that fails leaves any previous vault as it was.
    pub fn prepare(&self, credential: &Credential) -> Result<(), VaultError> {
        let key = VaultKey::generate();
        let wrapped = self.protector.wrap(&key, credential)?;
        let mut state = self.state();
        state.key = Some(key);
        state.staged = Some(wrapped);
        state.last_activity = Some(Activity::now());
        Ok(())
    }

    /// Releases the key with `credential`. With a PIN, each failure is counted (the count is
    /// written before the attempt, so killing the process doesn't reset it) and the vault erases
    /// itself after the limit.
    pub fn unlock(&self, credential: &Credential) -> Result<(), VaultError> {
        // Serialise with other processes: the attempt counter is read, incremented and written
        // as one step, so concurrent unlocks can't lose a count.
        let lock_path = self.path(LOCK_FILE);
        let _lock =
            FileLock::acquire(&lock_path).map_err(|e| VaultError::io("locked", &lock_path, e))?;
        let key_path = self.path(KEY_FILE);
        let mut file: KeyFile = read_json(&key_path)?.ok_or(VaultError::NotInitialized)?;
        let counted = self.protector.limits_attempts();
        if counted {
            if file.failed_attempts >= self.max_attempts {
                self.destroy()?;
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
                {
                    let mut state = self.state();
                    state.key = Some(key);
                    state.staged = None;
                    state.cache = None;
                }
                // Prove the key opens the snapshot before calling the vault unlocked (this read
                // also fills the cache, so resuming doesn't decrypt twice).
                if let Err(e) = self.load_session() {
                    self.lock();
                    return Err(e);
                }
                self.state().last_activity = Some(Activity::now());
                Ok(())
            }
            Err(ProtectorError::KeyInvalidated) => {
                // The platform key can never be released again: the vault is useless, and
                // keeping it would leave the user on an unlock screen with no way through.
                tracing::warn!("the platform key was invalidated; erasing the vault");
                self.destroy()?;
                Err(ProtectorError::KeyInvalidated.into())
            }
            Err(ProtectorError::WrongCredential) if counted => {
                let remaining = self.max_attempts.saturating_sub(file.failed_attempts);
                if remaining == 0 {
                    self.destroy()?;
                    Err(VaultError::TooManyAttempts)
                } else {
                    Err(VaultError::WrongPin { remaining })
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Forgets the key (zeroized on drop). The vault stays on disk.
    pub fn lock(&self) {
        let mut state = self.state();
        state.key = None;
        state.staged = None;
        state.last_activity = None;
        state.cache = None;
    }

    /// Whether the key is released and nothing used it for `idle`, by either clock: the
    /// monotonic one (immune to clock changes) or the wall clock (which, unlike the monotonic
    /// clock on Linux and macOS, keeps counting while the machine sleeps, so a laptop opened the
    /// next morning counts as idle).
    pub fn is_idle(&self, idle: Duration) -> bool {
        let state = self.state();
        match &state.last_activity {
            Some(activity) => state.key.is_some() && activity.elapsed() >= idle,
            None => false,
        }
    }

    /// Moves the last activity `by` back on the wall clock only, as a suspended machine sees it.
    #[cfg(test)]
    pub(crate) fn pretend_asleep_for(&self, by: Duration) {
        if let Some(activity) = &mut self.state().last_activity {
            activity.wall -= by;
        }
    }

    /// Erases the vault: the platform key material, the wrapped key, the snapshot, the metadata.
    pub fn destroy(&self) -> Result<(), VaultError> {
        if let Ok(Some(file)) = read_json::<KeyFile>(&self.path(KEY_FILE)) {
            if let Err(e) = self.protector.forget(&file.wrapped) {
                tracing::warn!(error = %e, "could not delete the platform key material");
            }
        }
        for name in [SNAPSHOT, KEY_FILE, META_FILE] {
            let path = self.path(name);
            fsutil::remove_if_exists(&path).map_err(|e| VaultError::io("removed", &path, e))?;
        }
        fsutil::fsync_dir(&self.dir).map_err(|e| VaultError::io("synced", &self.dir, e))?;
        self.lock();
        Ok(())
    }

    fn key(&self) -> Result<VaultKey, VaultError> {
        self.state().key.clone().ok_or(VaultError::Locked)
    }

    /// Records user activity for [`Vault::is_idle`] (background refreshes don't count).
    pub fn touch(&self) {
        let mut state = self.state();
        if state.key.is_some() {
            state.last_activity = Some(Activity::now());
        }
    }

    fn save_session(&self, session: &StoredSession) -> Result<(), VaultError> {
        let key = self.key()?;
        let snapshot = self.path(SNAPSHOT);
        let (staged, quarantine) = {
            let state = self.state();
            (state.staged.clone(), state.quarantine_on_save)
        };
        if quarantine && snapshot.exists() {
            let kept = self.path(&format!("vault.stronghold.unreadable-{}", unix_now()));
            std::fs::rename(&snapshot, &kept)
                .map_err(|e| VaultError::io("kept aside", &snapshot, e))?;
            tracing::warn!(kept = %kept.display(), "kept the unreadable vault aside");
        }
        let plaintext = Zeroizing::new(
            serde_json::to_vec(session).map_err(|e| VaultError::Stronghold(e.to_string()))?,
        );
        snapshot::write(&snapshot, &key, &plaintext)?;
        self.state().cache = FileStamp::of(&snapshot).map(|stamp| (stamp, session.clone()));
        if let Some(wrapped) = staged {
            write_json(
                &self.path(KEY_FILE),
                &KeyFile {
                    version: 1,
                    method: self.protector.method(),
                    wrapped,
                    failed_attempts: 0,
                },
            )?;
            let mut state = self.state();
            state.staged = None;
            state.quarantine_on_save = false;
        }
        let meta = VaultMetadata {
            issuer: session.issuer.clone(),
            client_id: session.client_id.clone(),
            subject: session.subject.clone(),
            display_name: session.display_name.clone(),
            unlock_method: self.protector.method(),
            last_used_at: unix_now(),
        };
        // Metadata changes rarely; `last_used_at` is kept to the minute, which saves a second
        // fsync'd write on most rotations.
        let current = self.metadata().ok().flatten();
        let fresh_enough = current.as_ref().is_some_and(|c| {
            VaultMetadata {
                last_used_at: meta.last_used_at,
                ..c.clone()
            } == meta
                && meta.last_used_at.saturating_sub(c.last_used_at) < 60
        });
        if fresh_enough {
            Ok(())
        } else {
            write_json(&self.path(META_FILE), &meta)
        }
    }

    fn load_session(&self) -> Result<Option<StoredSession>, VaultError> {
        let key = self.key()?;
        if self.state().staged.is_some() {
            // A new vault being prepared: the old snapshot is not ours to read.
            return Ok(None);
        }
        let snapshot = self.path(SNAPSHOT);
        let Some(stamp) = FileStamp::of(&snapshot) else {
            self.state().cache = None;
            return Ok(None);
        };
        if let Some((cached_stamp, cached)) = &self.state().cache {
            if *cached_stamp == stamp {
                return Ok(Some(cached.clone()));
            }
        }
        let bytes = snapshot::read(&snapshot, &key).inspect_err(|_| {
            self.state().quarantine_on_save = true;
        })?;
        let session: StoredSession =
            serde_json::from_slice(&bytes).map_err(|e| VaultError::Unreadable {
                path: snapshot.display().to_string(),
                reason: format!("the stored session does not parse ({})", e.classify_name()),
            })?;
        self.state().cache = Some((stamp, session.clone()));
        Ok(Some(session))
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

impl SecretStore for Vault {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        Ok(self.load_session()?)
    }

    fn save(&self, session: &StoredSession) -> Result<(), StoreError> {
        Ok(self.save_session(session)?)
    }

    fn clear(&self) -> Result<(), StoreError> {
        Ok(self.destroy()?)
    }

    fn hint(&self) -> Result<Option<SessionHint>, StoreError> {
        Ok(self.metadata()?.map(|m| SessionHint {
            issuer: m.issuer,
            client_id: m.client_id,
            subject: m.subject,
            display_name: m.display_name,
        }))
    }

    fn lock_for_refresh(&self) -> Result<RefreshGuard, StoreError> {
        let path = self.path(LOCK_FILE);
        let lock = FileLock::acquire(&path).map_err(|e| VaultError::io("locked", &path, e))?;
        Ok(RefreshGuard::new(lock))
    }
}

/// Locks the vault and the session once nothing has called [`Vault::touch`] for `idle`
/// (background refreshes don't count as activity). Checks every quarter of `idle`, between once
/// a second and every 30 s (so a machine waking from sleep locks soon). Stops when the returned
/// guard is dropped.
pub fn spawn_idle_lock(vault: Arc<Vault>, session: crate::Session, idle: Duration) -> IdleLock {
    let period = (idle / 4).clamp(Duration::from_secs(1), Duration::from_secs(30));
    IdleLock {
        handle: tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            loop {
                ticks.tick().await;
                if vault.is_idle(idle) {
                    tracing::info!("locking after {} s idle", idle.as_secs());
                    // The session first: a refresh in flight still saves its rotated token.
                    session.lock_with(|| vault.lock()).await;
                }
            }
        }),
    }
}

/// Stops the idle locker when dropped.
#[derive(Debug)]
pub struct IdleLock {
    handle: tokio::task::JoinHandle<()>,
}

impl Drop for IdleLock {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, VaultError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| VaultError::Unreadable {
                path: path.display().to_string(),
                reason: format!("not valid JSON ({})", e.classify_name()),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(VaultError::io("read", path, e)),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), VaultError> {
    let bytes =
        serde_json::to_vec_pretty(value).map_err(|e| VaultError::Stronghold(e.to_string()))?;
    fsutil::write_atomic(path, &bytes).map_err(|e| VaultError::io("written", path, e))
}

#[cfg(test)]
mod tests;
