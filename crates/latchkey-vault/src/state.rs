//! What a [`super::Vault`] holds in memory: the released or staged key, which wrapped key it came
//! from, and the session as last read or written (wiped when let go).

use std::path::Path;
use std::time::SystemTime;

use super::journal::{Generation, Tail};
use super::key::VaultKey;
use latchkey_core::store::StoredSession;

#[derive(Default)]
pub(super) struct State {
    pub(super) key: Option<VaultKey>,
    /// A new key's wrapped form, written with the first save after [`super::Vault::prepare`].
    pub(super) staged: Option<serde_json::Value>,
    /// The staged key's biometric wrap, written with it ([`super::Vault::enable_biometric`]).
    pub(super) staged_biometric: Option<super::key_file::BiometricSlot>,
    /// The wrapped form on disk that `key` was released from (or that a staged save wrote): the
    /// vault's identity. If the key file no longer holds it, another process signed in anew.
    pub(super) released_from: Option<serde_json::Value>,
    /// The snapshot failed to decrypt: keep it aside rather than overwrite it.
    pub(super) quarantine_on_save: bool,
    /// The session as last read or written, with the snapshot file's identity at that moment:
    /// a re-read of an unchanged file (the common case under the refresh lock) costs a `stat`.
    pub(super) cache: Option<Cached>,
}

impl State {
    /// Forgets the key, its identity and the cached session (wiped).
    pub(super) fn forget(&mut self) {
        self.key = None;
        self.staged = None;
        self.staged_biometric = None;
        self.released_from = None;
        self.cache = None;
    }
}

/// A cached session: its secrets are wiped when it is replaced or dropped. It is the snapshot's
/// session with the journal replayed over it, as of the two files' stamps.
pub(super) struct Cached {
    pub(super) stamp: FileStamp,
    /// The journal's stamp (`None`: no journal file).
    pub(super) journal: Option<FileStamp>,
    /// The snapshot's generation (a digest of its bytes).
    pub(super) generation: Generation,
    /// Where the journal ends for that generation.
    pub(super) tail: Tail,
    pub(super) session: StoredSession,
}

impl Drop for Cached {
    fn drop(&mut self) {
        self.session.zeroize_secrets();
        #[cfg(test)]
        WIPES.with(|w| w.set(w.get() + 1));
    }
}

#[cfg(test)]
thread_local! {
    static WIPES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many cached sessions this thread has wiped (tests observe the `Drop` above).
#[cfg(test)]
pub(super) fn wipes_on_this_thread() -> usize {
    WIPES.with(|w| w.get())
}

/// What identifies one version of the snapshot file: every save is a rename of a new file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: u64,
}

impl FileStamp {
    /// The length of the file at `path` (0 if it is missing).
    pub(super) fn of(path: &Path) -> Option<Self> {
        let m = std::fs::metadata(path).ok()?;
        Some(Self {
            len: m.len(),
            modified: m.modified().ok(),
            #[cfg(unix)]
            inode: std::os::unix::fs::MetadataExt::ino(&m),
        })
    }
}
