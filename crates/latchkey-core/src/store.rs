//! Where the long-lived part of a session is kept: the [`SecretStore`] trait.
//!
//! The refresh token and what must go with it (issuer, client_id, scopes, the ID token for
//! logout) are written through this trait and nowhere else; the access token is never stored.
//! [`MemoryStore`] keeps a session for the life of the process; the vault (Stronghold behind a
//! biometric- or PIN-released key) implements the same trait.

use std::sync::Mutex;

use openidconnect::RefreshToken;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::error::kind::ErrorKind;
use crate::secret::SecretString;

/// What a store keeps for one signed-in user. `Debug` redacts the tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredSession {
    /// The issuer the tokens came from.
    pub issuer: String,
    /// The client they were issued to.
    pub client_id: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// The refresh token.
    pub refresh_token: RefreshToken,
    /// The latest ID token. Sent nowhere: the end-session URL carries `client_id` and
    /// `logout_hint` instead of `id_token_hint`, so it never reaches the browser.
    pub id_token: Option<SecretString>,
    /// The nonce of the original authentication (OIDC Core §12.2 check on refreshed ID tokens).
    pub nonce: Option<SecretString>,
    /// The ID token's `sub`.
    pub subject: Option<String>,
    /// A display name from userinfo, for "Welcome back" while locked.
    pub display_name: Option<String>,
    /// The ID token's `auth_time` (Unix seconds): a refreshed ID token must carry the same one
    /// if it carries any (OIDC Core §12.2). Absent in vaults written before it was kept.
    #[serde(default)]
    pub auth_time: Option<i64>,
    /// The private DPoP key the tokens are bound to (RFC 9449), when the session uses DPoP:
    /// released by the same unlock as the refresh token, erased with it. `Debug` redacts it.
    #[serde(default)]
    pub dpop_key: Option<crate::dpop::DpopKeyMaterial>,
}

impl StoredSession {
    /// Wipes the refresh token and drops the ID token and nonce (zeroizing secrets): also done
    /// on drop.
    pub fn zeroize_secrets(&mut self) {
        let token = std::mem::replace(&mut self.refresh_token, RefreshToken::new(String::new()));
        token.into_secret().zeroize();
        self.id_token = None;
        self.nonce = None;
        self.dpop_key = None;
    }
}

impl Drop for StoredSession {
    fn drop(&mut self) {
        self.zeroize_secrets();
    }
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store is locked: its key has not been released.
    #[error("the vault is locked")]
    Locked,
    /// Reading or writing failed.
    #[error("the secret store could not be {action}")]
    Io {
        /// "read", "written", "cleared".
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The stored data could not be decoded (kept in place for inspection).
    #[error("the secret store is unreadable: {0}")]
    Corrupt(String),
    /// The store now holds another sign-in's session, or none: another process signed in anew
    /// or signed out since this session read it. Nothing of this session's is there to read,
    /// write or erase; the store was left as it is.
    #[error("another process signed in or out: {0}")]
    Replaced(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A write was given the lock of another store: a bug in the caller; nothing was written.
    #[error("a write to the secret store was made without holding its lock")]
    NotHeld,
    /// The store's implementation failed (the vault, a keychain), classified by it.
    #[error("{source}")]
    Backend {
        /// What a front end should do about it.
        kind: ErrorKind,
        /// The implementation's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// The classification.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Locked => ErrorKind::Locked,
            StoreError::Io { .. } | StoreError::Corrupt(_) | StoreError::NotHeld => {
                ErrorKind::Internal
            }
            StoreError::Replaced(_) => ErrorKind::ReauthRequired,
            StoreError::Backend { kind, .. } => *kind,
        }
    }

    /// True when the failure is only that the key has not been released.
    pub fn is_locked(&self) -> bool {
        matches!(self, StoreError::Locked)
    }

    /// True when another process signed in anew or signed out underneath this session.
    pub fn is_replaced(&self) -> bool {
        matches!(self, StoreError::Replaced(_))
    }
}

/// What a store may reveal without its key: enough for "Welcome back, Alice — unlock".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionHint {
    /// The issuer.
    pub issuer: String,
    /// The client.
    pub client_id: String,
    /// The subject.
    pub subject: Option<String>,
    /// A display name.
    pub display_name: Option<String>,
}

/// Which store a [`RefreshGuard`] was taken from: unique for the life of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreId(u64);

impl StoreId {
    /// A new identity, for a new store.
    pub fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Self(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}

impl Default for StoreId {
    fn default() -> Self {
        Self::new()
    }
}

/// The store's write lock, held: the only way to write ([`SecretStore::save`] and
/// [`SecretStore::clear`] take it), so that no write happens outside the lock, and a write by the
/// holder never takes the lock a second time (which, for a cross-process lock that is not
/// re-entrant, would wait for itself). Two processes sharing a store never spend the same
/// refresh token: the engine holds one across each read, token request and write. Releases on
/// drop; it is not `Clone`, and it is not taken twice by one holder: the engine passes it down.
pub struct RefreshGuard {
    store: StoreId,
    _held: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl RefreshGuard {
    /// A guard of the store `store`, holding `lock` (e.g. an OS file lock) until dropped.
    pub fn new(store: StoreId, lock: impl std::any::Any + Send + Sync) -> Self {
        Self {
            store,
            _held: Some(Box::new(lock)),
        }
    }

    /// A guard of `store` that holds nothing (stores private to one process).
    pub fn unlocked(store: StoreId) -> Self {
        Self { store, _held: None }
    }

    /// Refuses a guard taken from another store ([`StoreError::NotHeld`]).
    pub fn check(&self, store: StoreId) -> Result<(), StoreError> {
        if self.store == store {
            Ok(())
        } else {
            Err(StoreError::NotHeld)
        }
    }
}

impl std::fmt::Debug for RefreshGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshGuard")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// Persistent storage for the refresh token and its companions.
///
/// Implementations must make `save` atomic (a crash leaves either the old or the new session,
/// never a mix or nothing) and durable before returning: the engine calls it with a rotated
/// refresh token *before* it hands out the new access token.
pub trait SecretStore: Send + Sync {
    /// The stored session, if any.
    fn load(&self) -> Result<Option<StoredSession>, StoreError>;
    /// Replaces the stored session, under this store's lock (`held`, from
    /// [`SecretStore::lock_for_refresh`]; a guard of another store is [`StoreError::NotHeld`]).
    fn save(&self, held: &RefreshGuard, session: &StoredSession) -> Result<(), StoreError>;
    /// Forgets the stored session, under this store's lock.
    fn clear(&self, held: &RefreshGuard) -> Result<(), StoreError>;
    /// Non-secret facts about the stored session, available while locked.
    fn hint(&self) -> Result<Option<SessionHint>, StoreError> {
        Ok(None)
    }
    /// Takes this store's write lock, blocking (for a bounded time) until this caller may write:
    /// stores shared between processes take an OS lock. The engine re-reads the store after
    /// taking it, and holds it until what it read is written back.
    fn lock_for_refresh(&self) -> Result<RefreshGuard, StoreError>;
}

/// An in-process store: the session lives as long as the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    id: StoreId,
    slot: Mutex<Option<StoredSession>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<StoredSession>> {
        // A panic while holding this lock can't leave a half-written value (assignments are
        // whole), so a poisoned lock is still consistent.
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl SecretStore for MemoryStore {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        Ok(self.slot().clone())
    }

    fn save(&self, held: &RefreshGuard, session: &StoredSession) -> Result<(), StoreError> {
        held.check(self.id)?;
        *self.slot() = Some(session.clone());
        Ok(())
    }

    fn clear(&self, held: &RefreshGuard) -> Result<(), StoreError> {
        held.check(self.id)?;
        *self.slot() = None;
        Ok(())
    }

    /// The process is the only one that sees this store: nothing to lock.
    fn lock_for_refresh(&self) -> Result<RefreshGuard, StoreError> {
        Ok(RefreshGuard::unlocked(self.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_stored_session_redacts_the_tokens() {
        let s = StoredSession {
            issuer: "https://idp".into(),
            client_id: "app".into(),
            scopes: vec!["openid".into()],
            refresh_token: RefreshToken::new("RT-SECRET".into()),
            id_token: Some(SecretString::new("IDT-SECRET".into())),
            nonce: Some(SecretString::new("NONCE-SECRET".into())),
            subject: Some("alice".into()),
            display_name: None,
            auth_time: None,
            dpop_key: Some(crate::dpop::DpopKeyMaterial {
                alg: "ES256".into(),
                d: SecretString::new("DPOP-KEY-SECRET".into()),
            }),
        };
        let printed = format!("{s:?}");
        assert!(!printed.contains("SECRET"), "{printed}");
        assert!(printed.contains("alice"));
    }

    fn plain_session() -> StoredSession {
        StoredSession {
            issuer: "i".into(),
            client_id: "c".into(),
            scopes: vec![],
            refresh_token: RefreshToken::new("rt".into()),
            id_token: None,
            nonce: None,
            subject: None,
            display_name: None,
            auth_time: None,
            dpop_key: None,
        }
    }

    #[test]
    fn the_memory_store_round_trips_and_clears() {
        let store = MemoryStore::new();
        assert!(store.load().unwrap().is_none());
        let s = plain_session();
        let held = store.lock_for_refresh().unwrap();
        store.save(&held, &s).unwrap();
        assert_eq!(store.load().unwrap().unwrap().refresh_token.secret(), "rt");
        store.clear(&held).unwrap();
        assert!(store.load().unwrap().is_none());
    }

    #[test]
    fn a_write_with_another_stores_lock_is_refused_and_changes_nothing() {
        let (one, other) = (MemoryStore::new(), MemoryStore::new());
        let s = plain_session();
        let wrong = other.lock_for_refresh().unwrap();
        assert!(matches!(one.save(&wrong, &s), Err(StoreError::NotHeld)));
        assert!(one.load().unwrap().is_none());
        one.save(&one.lock_for_refresh().unwrap(), &s).unwrap();
        assert!(matches!(one.clear(&wrong), Err(StoreError::NotHeld)));
        assert!(one.load().unwrap().is_some());
    }
}
