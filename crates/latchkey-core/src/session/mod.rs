//! The session: sign-in, fresh access tokens, silent refresh, API calls, sign-out.
//!
//! # Concurrency model
//! All token state sits behind one `tokio::sync::Mutex` ([`Inner::tokens`]). It is an async mutex
//! because a refresh holds it across the token request: that is what makes refresh single-flight.
//! However many callers ask [`Session::fresh_access_token`] for an expired token, the first takes
//! the lock and refreshes; the others queue on the lock and find a fresh token when they get it
//! (AppAuth's `performActionWithFreshTokens` semantics). A caller that queued behind a refresh
//! that *failed* gets that failure ([`Error::Shared`]) instead of starting another request, so an
//! outage costs one request, not one per caller.
//!
//! The status shown to front ends lives in a separate `std::sync::Mutex` so that reading it never
//! waits for a refresh in flight.
//!
//! # Failure policy
//! - `invalid_grant` on refresh: the session ends ([`ErrorKind::ReauthRequired`]), the store is
//!   cleared.
//! - Transport errors, timeouts, 5xx, 429: the session is kept; a still-unexpired access token is
//!   still handed out; the scheduler retries with exponential backoff and jitter.
//! - A rotated refresh token is saved to the store *before* the new access token is used. If the
//!   save fails, the new tokens are kept in memory (the old refresh token is already dead at the
//!   server) and a `StoreFailed` event is sent; the session remembers which token the store
//!   holds (a fingerprint), so the next refresh, or locking, saves the live one again instead of
//!   mistaking the store's stale copy for another process's rotation.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{broadcast, watch, Mutex, Notify, OnceCell};
use tokio::time::Instant;

use crate::config::Config;
use crate::discovery::Provider;
use crate::error::{Endpoint, Error, ReauthReason, Result};
use crate::http::HttpClient;
use crate::store::{SecretStore, SessionHint, StoredSession};
use crate::tokens::{fingerprint, Tokens};

mod refresh;
mod refresh_grant;
mod resource;
mod scheduler;
mod sign_in;
mod sign_out;
mod status;
mod step_up;
mod store_sync;
mod types;

pub use scheduler::AutoRefresh;
pub use status::StatusWatch;
pub use types::{
    ApiResponse, Redirect, RefreshTrigger, RevocationOutcome, SessionEvent, SessionState,
    SessionStatus, SignOutOptions, SignOutReport,
};

enum TokenState {
    SignedOut,
    Locked(SessionHint),
    Active(Box<Tokens>),
    Ended(ReauthReason),
}

#[derive(Default)]
struct Meta {
    display_name: Option<String>,
    refresh_count: u64,
    rotation_count: u64,
    last_refresh_at: Option<SystemTime>,
    offline: bool,
    consecutive_failures: u32,
    retry_at: Option<Instant>,
    /// Mirror of the token state for lock-free status reads.
    view: Option<View>,
    ended: Option<ReauthReason>,
    locked: Option<SessionHint>,
}

#[derive(Clone)]
struct View {
    subject: Option<String>,
    scopes: Vec<String>,
    has_refresh: bool,
    key_bound: bool,
    expires_at: Option<Instant>,
    lifetime: Option<Duration>,
    next_refresh: Option<Instant>,
}

struct Inner {
    config: Config,
    http: HttpClient,
    store: Arc<dyn SecretStore>,
    provider: OnceCell<Arc<Provider>>,
    tokens: Arc<Mutex<TokenState>>,
    attempts: AtomicU64,
    /// Refusals in a row that don't end a session by themselves (see `refresh_grant.rs`).
    streaks: StdMutex<refresh_grant::Streaks>,
    /// Set by a front end that runs one action and exits ([`Session::set_one_shot`]).
    one_shot: std::sync::atomic::AtomicBool,
    /// The latest DPoP nonce from each server.
    dpop_nonces: crate::dpop::NonceCache,
    /// Each origin's clock offset, for proof `iat` (in memory only).
    dpop_clocks: crate::dpop::ServerClocks,
    last_failure: StdMutex<Option<(u64, Arc<Error>)>>,
    /// The latest step-up an API asked for, and the call that asked (see `step_up.rs`).
    step_up: StdMutex<Option<step_up::PendingStepUp>>,
    /// The one route state takes to front ends: every transition is published here.
    meta: watch::Sender<Meta>,
    events: broadcast::Sender<SessionEvent>,
    wake: Notify,
}

/// The session engine. Cheap to clone; clones share one session.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("issuer", &self.inner.config.issuer)
            .field("state", &self.status().state)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Creates a signed-out session. No network traffic until it is needed.
    pub fn new(config: Config, store: Arc<dyn SecretStore>) -> Result<Self> {
        let http = HttpClient::new(config.http_timeout, config.max_response_bytes)
            .map_err(|e| Error::http(Endpoint::Discovery, e))?;
        Ok(Self::with_http_client(config, store, http))
    }

    /// [`Session::new`] with the HTTP client given (e.g. one with a
    /// [`crate::http::Transport`] that answers from a script, for tests without sockets).
    pub fn with_http_client(config: Config, store: Arc<dyn SecretStore>, http: HttpClient) -> Self {
        let (events, _) = broadcast::channel(64);
        Self {
            inner: Arc::new(Inner {
                config,
                http,
                store,
                provider: OnceCell::new(),
                tokens: Arc::new(Mutex::new(TokenState::SignedOut)),
                attempts: AtomicU64::new(0),
                streaks: StdMutex::new(refresh_grant::Streaks::default()),
                one_shot: std::sync::atomic::AtomicBool::new(false),
                dpop_nonces: crate::dpop::NonceCache::default(),
                dpop_clocks: crate::dpop::ServerClocks::default(),
                last_failure: StdMutex::new(None),
                step_up: StdMutex::new(None),
                meta: watch::Sender::new(Meta::default()),
                events,
                wake: Notify::new(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Session events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SessionEvent> {
        self.inner.events.subscribe()
    }

    /// The discovered provider (discovery runs once; a failure is retried on the next call).
    pub async fn provider(&self) -> Result<Arc<Provider>> {
        self.inner
            .provider
            .get_or_try_init(|| async {
                Provider::discover(&self.inner.http, &self.inner.config)
                    .await
                    .map(Arc::new)
            })
            .await
            .cloned()
    }

    /// The published state (a read lock: don't publish while holding it).
    fn meta(&self) -> watch::Ref<'_, Meta> {
        self.inner.meta.borrow()
    }

    /// Publishes a change that leaves the token state as it is (backoff, display name).
    fn modify_meta(&self, f: impl FnOnce(&mut Meta)) {
        self.inner.meta.send_modify(f);
    }

    /// The transition function: publishes `state` (and what `f` changes alongside) to every
    /// status reader and watcher at once.
    fn publish(&self, state: &TokenState, f: impl FnOnce(&mut Meta)) {
        self.inner.meta.send_modify(|meta| {
            f(meta);
            meta.follow(state);
        });
    }

    fn emit(&self, event: SessionEvent) {
        // No receivers is fine.
        let _ = self.inner.events.send(event);
    }
}

impl Meta {
    /// Mirrors the token state (its non-secret parts) for lock-free status reads.
    fn follow(&mut self, state: &TokenState) {
        let meta = self;
        match state {
            TokenState::Active(t) => {
                meta.view = Some(View {
                    subject: t.subject.clone(),
                    scopes: t.scopes.clone(),
                    has_refresh: t.refresh.is_some(),
                    key_bound: t.dpop.is_some(),
                    expires_at: t.expires_at,
                    lifetime: t.lifetime,
                    next_refresh: t.refresh_due(),
                });
                meta.ended = None;
                meta.locked = None;
            }
            TokenState::SignedOut => {
                meta.view = None;
                meta.ended = None;
                meta.locked = None;
            }
            TokenState::Locked(hint) => {
                meta.view = None;
                meta.ended = None;
                meta.display_name = hint.display_name.clone();
                meta.locked = Some(hint.clone());
            }
            TokenState::Ended(reason) => {
                meta.view = None;
                meta.ended = Some(reason.clone());
                meta.locked = None;
            }
        }
    }
}

/// The session's tokens from what the store held. The secrets are moved out, not copied: what
/// is left in `stored` is wiped when it drops.
fn tokens_from_stored(mut stored: StoredSession) -> Tokens {
    let refresh = std::mem::replace(
        &mut stored.refresh_token,
        openidconnect::RefreshToken::new(String::new()),
    );
    Tokens {
        synced: Some(fingerprint(&refresh)),
        access: None,
        expires_at: None,
        lifetime: None,
        obtained_at: Instant::now(),
        obtained_wall: SystemTime::now(),
        refresh: Some(refresh),
        id_token: stored.id_token.take(),
        nonce: stored.nonce.take(),
        subject: stored.subject.take(),
        scopes: std::mem::take(&mut stored.scopes),
        auth_time: stored.auth_time,
        dpop: stored.dpop_key.take().and_then(|material| {
            crate::dpop::DpopKey::from_material(&material)
                .map_err(|e| tracing::warn!(error = %e, "the stored DPoP key is unusable"))
                .ok()
        }),
    }
}

#[cfg(test)]
mod tests;
