//! Stores that misbehave on purpose: a [`MemoryStore`] wrapped in a [`TestStore`] whose
//! [`Misbehaviour`] may fail or hold a save or the refresh lock. Tests read what was really
//! stored through `inner`.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;

use latchkey::{MemoryStore, RefreshGuard, SecretStore, SessionHint, StoreError, StoredSession};

/// What a [`TestStore`] does before the [`MemoryStore`] it wraps: by default, nothing.
pub trait Misbehaviour: Send + Sync {
    /// Runs before a save; an error fails the save (nothing is written).
    fn before_save(&self, _session: &StoredSession) -> Result<(), StoreError> {
        Ok(())
    }
    /// Runs before the refresh lock is taken; an error fails the lock.
    fn before_lock(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A [`MemoryStore`] with a [`Misbehaviour`]; derefs to the misbehaviour (its counters and
/// channels).
pub struct TestStore<M> {
    /// What was really stored.
    pub inner: MemoryStore,
    misbehaviour: M,
}

impl<M: Misbehaviour> TestStore<M> {
    /// An empty store that misbehaves as `misbehaviour` says.
    pub fn new(misbehaviour: M) -> Self {
        Self {
            inner: MemoryStore::new(),
            misbehaviour,
        }
    }
}

impl<M> std::ops::Deref for TestStore<M> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.misbehaviour
    }
}

impl<M: Misbehaviour> SecretStore for TestStore<M> {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        self.inner.load()
    }
    fn save(&self, held: &RefreshGuard, session: &StoredSession) -> Result<(), StoreError> {
        self.misbehaviour.before_save(session)?;
        self.inner.save(held, session)
    }
    fn clear(&self, held: &RefreshGuard) -> Result<(), StoreError> {
        self.inner.clear(held)
    }
    fn hint(&self) -> Result<Option<SessionHint>, StoreError> {
        self.inner.hint()
    }
    fn lock_for_refresh(&self) -> Result<RefreshGuard, StoreError> {
        self.misbehaviour.before_lock()?;
        self.inner.lock_for_refresh()
    }
}

/// Fails to save the refresh token `refresh_token` the first `failures` times (a full disk, say).
pub struct SaveFails {
    refresh_token: &'static str,
    failures: AtomicU32,
}

/// A store that fails to save `refresh_token` the first `times` times.
pub type FlakyStore = TestStore<SaveFails>;

impl FlakyStore {
    /// Fails to save `refresh_token` the first `times` times.
    pub fn failing_to_save(refresh_token: &'static str, times: u32) -> Self {
        Self::new(SaveFails {
            refresh_token,
            failures: times.into(),
        })
    }
}

impl Misbehaviour for SaveFails {
    fn before_save(&self, session: &StoredSession) -> Result<(), StoreError> {
        let failing = session.refresh_token.secret() == self.refresh_token
            && self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        if failing {
            return Err(StoreError::Io {
                action: "written",
                source: std::io::Error::other("no space left on device"),
            });
        }
        Ok(())
    }
}

/// Holds every save of one refresh token until the test releases it.
pub struct SaveGate {
    refresh_token: &'static str,
    saving: Mutex<Sender<()>>,
    release: Mutex<Receiver<()>>,
}

/// A store whose save of one refresh token blocks until the test releases it.
pub type GatedStore = TestStore<SaveGate>;

impl GatedStore {
    /// Blocks each save of `refresh_token`: the receiver hears when one starts, the sender lets it
    /// go on.
    pub fn gating(refresh_token: &'static str) -> (Self, Receiver<()>, Sender<()>) {
        let (saving_tx, saving_rx) = channel();
        let (release_tx, release_rx) = channel();
        let store = Self::new(SaveGate {
            refresh_token,
            saving: Mutex::new(saving_tx),
            release: Mutex::new(release_rx),
        });
        (store, saving_rx, release_tx)
    }
}

impl Misbehaviour for SaveGate {
    fn before_save(&self, session: &StoredSession) -> Result<(), StoreError> {
        if session.refresh_token.secret() == self.refresh_token {
            self.saving.lock().unwrap().send(()).unwrap();
            self.release.lock().unwrap().recv().unwrap();
        }
        Ok(())
    }
}

/// A cross-process lock that can't be taken once armed (a vault directory gone, another instance
/// holding it), counting the attempts.
#[derive(Default)]
pub struct LockRefused {
    /// How many times the lock was asked for.
    pub attempts: AtomicUsize,
    /// Told once the attempts pass 100: a scheduler that doesn't back off spins.
    pub spinning: tokio::sync::Notify,
    /// The lock fails only once armed (after the sign-in, which takes it too).
    pub armed: AtomicBool,
}

/// A store whose refresh lock always fails.
pub type LockFails = TestStore<LockRefused>;

impl Default for LockFails {
    fn default() -> Self {
        Self::new(LockRefused::default())
    }
}

impl Misbehaviour for LockRefused {
    fn before_lock(&self) -> Result<(), StoreError> {
        if !self.armed.load(Ordering::SeqCst) {
            return Ok(());
        }
        if self.attempts.fetch_add(1, Ordering::SeqCst) == 100 {
            self.spinning.notify_one();
        }
        Err(StoreError::Io {
            action: "locked",
            source: std::io::Error::other("the vault directory is gone"),
        })
    }
}
