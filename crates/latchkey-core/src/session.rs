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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openidconnect::core::CoreIdToken;
use openidconnect::{AccessToken, Nonce, OAuth2TokenResponse};
use rand::Rng;
use serde::Serialize;
use tokio::sync::{broadcast, Mutex, Notify, OnceCell};
use tokio::time::Instant;
use url::Url;

use crate::authorize::{CallbackOutcome, PendingAuthorization};
use crate::config::Config;
use crate::discovery::Provider;
use crate::error::{Endpoint, Error, ErrorKind, ReauthReason, Result};
use crate::http::{is_secure_or_loopback, BodyResponse, HttpClient};
use crate::loopback::{Accepted, LoopbackListener};
use crate::secret::SecretString;
use crate::store::{SecretStore, SessionHint, StoreError, StoredSession};
use crate::tokens::{
    accept_token_response, fingerprint, is_fingerprint_of, is_invalid_grant, map_token_error,
    Tokens,
};
use crate::user_agent::UserAgent;

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// No session.
    SignedOut,
    /// A session is stored but the vault is locked: unlock to resume.
    Locked,
    /// Signed in (the access token may be due for refresh).
    SignedIn,
    /// The session ended at the server; sign in again.
    ReauthRequired,
}

/// What started a refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshTrigger {
    /// The background scheduler, before expiry.
    Scheduled,
    /// A caller needed a fresh token.
    OnDemand,
    /// A resource server answered 401.
    Unauthorized,
    /// Requested explicitly.
    Forced,
}

/// A snapshot of the session for front ends. Holds no token.
#[derive(Debug, Clone, Serialize)]
pub struct SessionStatus {
    /// Where the session is.
    pub state: SessionState,
    /// The configured issuer.
    pub issuer: String,
    /// The ID token's `sub`.
    pub subject: Option<String>,
    /// A display name from userinfo.
    pub display_name: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Whether a refresh token is held.
    pub has_refresh_token: bool,
    /// Seconds until the access token expires (None: no token or no expiry given).
    pub access_token_expires_in_secs: Option<u64>,
    /// When the access token expires, as Unix seconds.
    pub access_token_expires_at: Option<u64>,
    /// The access token's lifetime as issued, in seconds.
    pub access_token_lifetime_secs: Option<u64>,
    /// Seconds until the next scheduled refresh.
    pub next_refresh_in_secs: Option<u64>,
    /// Successful refreshes in this process.
    pub refresh_count: u64,
    /// Refreshes that rotated the refresh token.
    pub rotation_count: u64,
    /// When the last successful refresh happened, as Unix seconds.
    pub last_refresh_at: Option<u64>,
    /// True while the last refresh attempt failed for a transient reason.
    pub offline: bool,
    /// Why re-authentication is required, when it is.
    pub reauth_reason: Option<ReauthReason>,
}

/// Something that happened to the session. Serializable for the CLI's `watch` and the app's UI.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SessionEvent {
    /// A sign-in completed.
    SignedIn {
        /// The new status.
        status: Box<SessionStatus>,
    },
    /// A refresh succeeded.
    Refreshed {
        /// What started it.
        trigger: RefreshTrigger,
        /// Whether the refresh token was rotated.
        rotated: bool,
        /// The new status.
        status: Box<SessionStatus>,
    },
    /// A refresh failed without ending the session.
    RefreshFailed {
        /// What started it.
        trigger: RefreshTrigger,
        /// The classification.
        kind: ErrorKind,
        /// A readable message.
        message: String,
        /// When the scheduler will try again.
        retry_in_secs: Option<u64>,
    },
    /// The store could not save rotated tokens; they are kept in memory.
    StoreFailed {
        /// A readable message.
        message: String,
    },
    /// The session ended at the server.
    SessionEnded {
        /// Why.
        reason: ReauthReason,
    },
    /// The session was locked (on request or after idle time): tokens forgotten, vault locked.
    Locked,
    /// The user signed out.
    SignedOut,
}

/// What sign-out did at the server. Local state is forgotten in every case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "revocation", content = "detail", rename_all = "snake_case")]
pub enum RevocationOutcome {
    /// The server confirmed revocation (RFC 7009 §2.2: 200).
    Revoked,
    /// The server has no revocation endpoint.
    NotSupported,
    /// There was no token to revoke.
    NothingToRevoke,
    /// Revocation failed (e.g. offline, or 503: the token may still be valid at the server).
    Failed(String),
}

/// Options for [`Session::sign_out`].
#[derive(Default)]
pub struct SignOutOptions<'a> {
    /// Also end the browser session (OIDC RP-initiated logout) by opening the server's
    /// `end_session_endpoint` with `id_token_hint` in this user agent.
    pub end_session_in: Option<&'a dyn UserAgent>,
}

/// How the authorization response comes back to the app.
#[derive(Debug)]
pub enum Redirect {
    /// A loopback listener on 127.0.0.1 (and [::1]), an ephemeral port: desktop (RFC 8252 §7.3).
    Loopback,
    /// A claimed https link or a private-use scheme the OS hands to the app: mobile (§7.1, §7.2).
    AppLink(crate::applink::AppLinkRedirect),
}

/// What [`Session::sign_out`] did.
#[derive(Debug, Clone, Serialize)]
pub struct SignOutReport {
    /// Revocation at the server.
    #[serde(flatten)]
    pub revocation: RevocationOutcome,
    /// Whether the browser was sent to the end-session endpoint.
    pub end_session_opened: bool,
}

/// A response from a protected API.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: Option<String>,
    /// The body (within the configured cap).
    pub body: Vec<u8>,
}

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
    expires_at: Option<Instant>,
    lifetime: Option<Duration>,
    next_refresh: Option<Instant>,
}

struct Inner {
    config: Config,
    http: HttpClient,
    store: Arc<dyn SecretStore>,
    provider: OnceCell<Arc<Provider>>,
    tokens: Mutex<TokenState>,
    attempts: AtomicU64,
    last_failure: StdMutex<Option<(u64, Arc<Error>)>>,
    meta: StdMutex<Meta>,
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

/// Stops the background refresher when dropped.
#[derive(Debug)]
pub struct AutoRefresh {
    handle: tokio::task::JoinHandle<()>,
}

impl Drop for AutoRefresh {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl Session {
    /// Creates a signed-out session. No network traffic until it is needed.
    pub fn new(config: Config, store: Arc<dyn SecretStore>) -> Result<Self> {
        let http = HttpClient::new(config.http_timeout, config.max_response_bytes)
            .map_err(|e| Error::http(Endpoint::Discovery, e))?;
        let (events, _) = broadcast::channel(64);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                http,
                store,
                provider: OnceCell::new(),
                tokens: Mutex::new(TokenState::SignedOut),
                attempts: AtomicU64::new(0),
                last_failure: StdMutex::new(None),
                meta: StdMutex::new(Meta::default()),
                events,
                wake: Notify::new(),
            }),
        })
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

    /// Signs in: opens the authorization URL in `user_agent`, waits on the loopback redirect,
    /// exchanges the code (PKCE), validates the ID token, stores the refresh token.
    ///
    /// # Errors
    /// [`Error::Cancelled`] if the user declined; [`Error::SignInTimedOut`] if no valid callback
    /// came; protocol errors if a check failed. Dropping the future cancels the sign-in and
    /// closes the listener.
    pub async fn sign_in(&self, user_agent: &dyn UserAgent) -> Result<SessionStatus> {
        self.sign_in_with(user_agent, Redirect::Loopback).await
    }

    /// [`Session::sign_in`] with the response coming back through `redirect`: the loopback
    /// listener (desktop), or an app link the operating system hands to the app (mobile).
    #[tracing::instrument(skip_all)]
    pub async fn sign_in_with(
        &self,
        user_agent: &dyn UserAgent,
        redirect: Redirect,
    ) -> Result<SessionStatus> {
        let provider = self.provider().await?;
        let config = &self.inner.config;
        let (pending, outcome) = match redirect {
            Redirect::Loopback => {
                let listener = LoopbackListener::bind(&config.redirect_path).await?;
                let pending =
                    PendingAuthorization::new(&provider, config, listener.redirect_uri()?);
                user_agent.open(pending.url())?;
                tracing::info!(port = listener.port(), "waiting for the browser to return");
                let outcome = listener
                    .wait(config.login_timeout, |params| {
                        pending.check(params).map(|outcome| Accepted {
                            success: matches!(outcome, CallbackOutcome::Code(_)),
                            value: outcome,
                        })
                    })
                    .await?;
                (pending, outcome)
            }
            Redirect::AppLink(link) => {
                let pending =
                    PendingAuthorization::new(&provider, config, link.redirect_uri().clone());
                user_agent.open(pending.url())?;
                tracing::info!("waiting for the app link to return");
                let outcome = link
                    .wait(config.login_timeout, |params| pending.check(params))
                    .await?;
                (pending, outcome)
            }
        };
        let code = match outcome {
            CallbackOutcome::Code(code) => code,
            CallbackOutcome::Error { error, .. } if error == "access_denied" => {
                return Err(Error::Cancelled)
            }
            CallbackOutcome::Error { error, description } => {
                return Err(Error::AuthorizationRefused { error, description })
            }
        };

        let redirect_uri = pending.redirect_uri().clone();
        let nonce = pending.nonce().clone();
        let sent_at = Instant::now();
        let sent_wall = SystemTime::now();
        let response = provider
            .client
            .exchange_code(code)
            .set_pkce_verifier(pending.into_verifier())
            .set_redirect_uri(std::borrow::Cow::Owned(redirect_uri))
            .request_async(&self.inner.http)
            .await
            .map_err(map_token_error)?;
        let issued = accept_token_response(&response, sent_at)?;

        let (id_token, subject, auth_time) = match response.extra_fields().id_token() {
            Some(id_token) => {
                let claims = provider
                    .verify_id_token(&self.inner.http, id_token, {
                        let nonce = nonce.clone();
                        move |n: Option<&Nonce>| match n {
                            Some(n) if crate::secret::ct_str_eq(n.secret(), nonce.secret()) => {
                                Ok(())
                            }
                            Some(_) => Err("nonce mismatch".into()),
                            None => Err("nonce missing".into()),
                        }
                    })
                    .await?;
                Provider::check_auth_time(&claims, config.max_age(), chrono::Utc::now())?;
                (
                    Some(SecretString::new(id_token.to_string())),
                    Some(claims.subject().to_string()),
                    claims.auth_time().map(|t| t.timestamp()),
                )
            }
            None if config.is_openid() => return Err(Error::IdTokenMissing),
            None => (None, None, None),
        };

        let mut tokens = Tokens {
            access: Some(issued.access),
            expires_at: issued.expires_at,
            lifetime: issued.lifetime,
            obtained_at: sent_at,
            obtained_wall: sent_wall,
            refresh: issued.refresh,
            id_token,
            nonce: Some(SecretString::new(nonce.secret().clone())),
            subject,
            scopes: issued.scopes.unwrap_or_else(|| config.scopes.clone()),
            auth_time,
            synced: None,
        };

        // Persist before the session is usable; a new sign-in replaces whatever was stored.
        match self.stored_session(&tokens, None) {
            Some(stored) => self.inner.store.save(&stored)?,
            None => self.inner.store.clear()?,
        }
        tokens.mark_synced();
        {
            let mut state = self.inner.tokens.lock().await;
            *state = TokenState::Active(Box::new(tokens));
            self.update_meta(&state, |m| {
                *m = Meta::default();
            });
        }
        self.inner.wake.notify_one();
        tracing::info!("signed in");

        // The display name is a nicety: a failure here doesn't fail the sign-in.
        if self.provider().await?.metadata.userinfo_endpoint.is_some() {
            if let Err(e) = self.userinfo().await {
                tracing::warn!(error = %e, "userinfo after sign-in failed");
            }
        }
        let status = self.status();
        self.emit(SessionEvent::SignedIn {
            status: Box::new(status.clone()),
        });
        Ok(status)
    }

    /// Restores a session from the store (the access token is obtained on first use). Returns
    /// the status: `Locked` (with who is signed in) when the store's key is not released yet,
    /// `SignedOut` when the store is empty or holds another issuer's or client's session.
    pub async fn resume(&self) -> Result<SessionStatus> {
        let stored = match self.inner.store.load() {
            Ok(stored) => stored,
            Err(e) if e.is_locked() => {
                let hint = self
                    .inner
                    .store
                    .hint()?
                    .filter(|h| self.is_ours(&h.issuer, &h.client_id));
                let mut state = self.inner.tokens.lock().await;
                *state = match hint {
                    Some(hint) => TokenState::Locked(hint),
                    None => TokenState::SignedOut,
                };
                self.update_meta(&state, |m| *m = Meta::default());
                return Ok(self.status());
            }
            Err(e) => return Err(e.into()),
        };
        let Some(stored) = stored else {
            return Ok(self.status());
        };
        if !self.is_ours(&stored.issuer, &stored.client_id) {
            tracing::info!("the stored session belongs to another issuer or client; ignoring it");
            return Ok(self.status());
        }
        let display_name = stored.display_name.clone();
        let tokens = tokens_from_stored(stored);
        let mut state = self.inner.tokens.lock().await;
        *state = TokenState::Active(Box::new(tokens));
        self.update_meta(&state, |m| {
            *m = Meta {
                display_name,
                ..Meta::default()
            }
        });
        drop(state);
        self.inner.wake.notify_one();
        Ok(self.status())
    }

    /// Forgets the tokens in memory (zeroized) and reports `Locked`; the stored session stays.
    /// Lock the vault too, so the refresh token can't be read back without the user (or use
    /// [`Session::lock_with`]).
    pub async fn lock(&self) -> SessionStatus {
        self.lock_with(|| {}).await
    }

    /// [`Session::lock`], running `forget_key` (e.g. locking the vault) after the session has
    /// saved what it must and forgotten its tokens, and before anyone hears `Locked`: a listener
    /// that sees the event finds the key gone too.
    pub async fn lock_with(&self, forget_key: impl FnOnce()) -> SessionStatus {
        let mut state = self.inner.tokens.lock().await;
        if let TokenState::Active(t) = &mut *state {
            if t.unsaved() {
                // The last chance to keep a rotation whose save failed: after this the only copy
                // of the live refresh token is gone. (Lock the session before the vault.)
                self.save_if_store_unchanged(t).await;
            }
        }
        let hint = match &*state {
            TokenState::Active(t) => Some(SessionHint {
                issuer: self.inner.config.issuer.clone(),
                client_id: self.inner.config.client_id.clone(),
                subject: t.subject.clone(),
                display_name: self.meta().display_name.clone(),
            }),
            TokenState::Locked(h) => Some(h.clone()),
            _ => None,
        };
        let locked_now = hint.is_some() && !matches!(&*state, TokenState::Locked(_));
        if let Some(hint) = hint {
            *state = TokenState::Locked(hint);
            self.update_meta(&state, |m| *m = Meta::default());
        }
        drop(state);
        forget_key();
        self.inner.wake.notify_one();
        if locked_now {
            self.emit(SessionEvent::Locked);
        }
        self.status()
    }

    fn is_ours(&self, issuer: &str, client_id: &str) -> bool {
        issuer == self.inner.config.issuer && client_id == self.inner.config.client_id
    }

    /// A valid access token, refreshing first if it is expired or about to be.
    ///
    /// # Security warning
    /// The token is for an `Authorization` header sent by Rust code; never log it or send it to
    /// a WebView.
    pub async fn fresh_access_token(&self) -> Result<AccessToken> {
        let seen = self.inner.attempts.load(Ordering::SeqCst);
        let mut state = self.inner.tokens.lock().await;
        let now = Instant::now();
        match &*state {
            TokenState::SignedOut => return Err(Error::NotSignedIn),
            TokenState::Locked(_) => return Err(StoreError::Locked.into()),
            TokenState::Ended(reason) => return Err(Error::ReauthRequired(reason.clone())),
            TokenState::Active(t) if t.is_fresh(now) => {
                if let Some(at) = &t.access {
                    return Ok(at.clone());
                }
            }
            TokenState::Active(_) => {}
        }
        // We waited on the lock while another caller's refresh ran and failed: share its result
        // rather than sending another request.
        if self.inner.attempts.load(Ordering::SeqCst) != seen {
            if let Some(err) = self.failure_since(seen) {
                return self.usable_or(&state, Error::Shared(err));
            }
        }
        match self
            .refresh_locked(&mut state, RefreshTrigger::OnDemand)
            .await
        {
            Ok(()) => self.current_access(&state),
            Err(e) if e.is_transient() => self.usable_or(&state, e),
            Err(e) => Err(e),
        }
    }

    /// Refreshes now, whatever the token's age.
    pub async fn refresh(&self) -> Result<SessionStatus> {
        let mut state = self.inner.tokens.lock().await;
        self.refresh_locked(&mut state, RefreshTrigger::Forced)
            .await?;
        drop(state);
        Ok(self.status())
    }

    /// GET `url` with the access token. A 401 forces one refresh and one retry; the response of
    /// the retry is returned whatever its status.
    ///
    /// # Errors
    /// [`Error::InsecureUrl`] for a URL that is neither https nor loopback http: the access
    /// token is never sent in clear over a network.
    pub async fn get(&self, url: &Url) -> Result<ApiResponse> {
        self.get_at(url, Endpoint::Api).await
    }

    async fn get_at(&self, url: &Url, endpoint: Endpoint) -> Result<ApiResponse> {
        if !is_secure_or_loopback(url) {
            let mut shown = url.clone();
            shown.set_query(None);
            return Err(Error::InsecureUrl {
                what: "an API URL",
                url: shown.to_string(),
            });
        }
        let token = self.fresh_access_token().await?;
        let response = self.send(url, &token, endpoint).await?;
        if response.status != 401 {
            return Ok(response);
        }
        tracing::info!(%endpoint, "401 from the resource server; refreshing once and retrying");
        {
            let mut state = self.inner.tokens.lock().await;
            let still_current = matches!(&*state, TokenState::Active(t)
                if t.access.as_ref().is_some_and(|a| crate::secret::ct_str_eq(a.secret(), token.secret())));
            if still_current {
                self.refresh_locked(&mut state, RefreshTrigger::Unauthorized)
                    .await?;
            }
        }
        let token = self.fresh_access_token().await?;
        self.send(url, &token, endpoint).await
    }

    async fn send(
        &self,
        url: &Url,
        token: &AccessToken,
        endpoint: Endpoint,
    ) -> Result<ApiResponse> {
        let BodyResponse {
            status,
            content_type,
            body,
            ..
        } = self
            .inner
            .http
            .get_with_bearer(url, token.secret())
            .await
            .map_err(|e| Error::http(endpoint, e))?;
        Ok(ApiResponse {
            status,
            content_type,
            body,
        })
    }

    /// Calls the userinfo endpoint, checks that its `sub` is the ID token's (OIDC Core §5.3.2),
    /// remembers the display name, and returns the claims.
    pub async fn userinfo(&self) -> Result<serde_json::Value> {
        let provider = self.provider().await?;
        let url = provider
            .metadata
            .userinfo_endpoint
            .clone()
            .ok_or(Error::MissingEndpoint("userinfo_endpoint"))?;
        let response = self.get_at(&url, Endpoint::UserInfo).await?;
        if response.status >= 500 || response.status == 429 {
            // The IdP is down or busy: transient, like its token endpoint.
            return Err(Error::http(
                Endpoint::UserInfo,
                crate::http::HttpError::ServerUnavailable {
                    status: response.status,
                },
            ));
        }
        if response.status != 200 {
            return Err(Error::InvalidResponse {
                endpoint: Endpoint::UserInfo,
                problem: format!("HTTP {}", response.status),
            });
        }
        let claims: serde_json::Map<String, serde_json::Value> =
            crate::discovery::parse_json(Endpoint::UserInfo, &response.body)?;
        let sub = claims.get("sub").and_then(|v| v.as_str());
        let expected = self.status().subject;
        if let (Some(expected), got) = (expected.as_deref(), sub) {
            if got != Some(expected) {
                return Err(Error::UserInfoSubjectMismatch);
            }
        }
        let name = ["name", "preferred_username", "email"]
            .iter()
            .find_map(|k| claims.get(*k).and_then(|v| v.as_str()))
            .map(|s| s.chars().take(128).collect::<String>());
        if let Some(name) = name {
            self.remember_display_name(name).await;
        }
        Ok(serde_json::Value::Object(claims))
    }

    async fn remember_display_name(&self, name: String) {
        let mut state = self.inner.tokens.lock().await;
        let changed = {
            let mut meta = self.meta();
            let changed = meta.display_name.as_deref() != Some(name.as_str());
            meta.display_name = Some(name.clone());
            changed
        };
        if let (true, TokenState::Active(t)) = (changed, &mut *state) {
            // Saved with the tokens (and the name just put in meta), unless another process
            // changed the store since: its session must not be overwritten with ours.
            self.save_if_store_unchanged(t).await;
        }
    }

    /// Signs out: revokes the refresh token (or the access token when there is none) per
    /// RFC 7009, optionally ends the browser session, and forgets everything local even when
    /// the server can't be reached.
    pub async fn sign_out(&self, options: SignOutOptions<'_>) -> Result<SignOutReport> {
        let previous = {
            let mut state = self.inner.tokens.lock().await;
            let previous = std::mem::replace(&mut *state, TokenState::SignedOut);
            self.update_meta(&state, |m| *m = Meta::default());
            previous
        };
        let cleared = self.inner.store.clear();
        self.inner.wake.notify_one();

        let tokens = match previous {
            TokenState::Active(t) => Some(t),
            _ => None,
        };
        let revocation = match &tokens {
            Some(t) => self.revoke(t).await,
            None => RevocationOutcome::NothingToRevoke,
        };
        let mut end_session_opened = false;
        if let (Some(ua), Some(t)) = (options.end_session_in, &tokens) {
            match self.end_session_url(t).await {
                Ok(Some(url)) => match ua.open(&url) {
                    Ok(()) => end_session_opened = true,
                    Err(e) => tracing::warn!(error = %e, "could not open the end-session page"),
                },
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "no end-session URL"),
            }
        }
        self.emit(SessionEvent::SignedOut);
        cleared?;
        Ok(SignOutReport {
            revocation,
            end_session_opened,
        })
    }

    /// RFC 7009 revocation. Done with our HTTP client rather than oauth2's revocation request,
    /// which refuses plain-http endpoints even on loopback (the dev IdP); the endpoint passed the
    /// same https-or-loopback check as every other.
    async fn revoke(&self, tokens: &Tokens) -> RevocationOutcome {
        let (token, hint) = match (&tokens.refresh, &tokens.access) {
            (Some(rt), _) => (rt.secret().as_str(), "refresh_token"),
            (None, Some(at)) => (at.secret().as_str(), "access_token"),
            (None, None) => return RevocationOutcome::NothingToRevoke,
        };
        let provider = match self.provider().await {
            Ok(p) => p,
            Err(e) => return RevocationOutcome::Failed(e.to_string()),
        };
        let Some(url) = provider.metadata.revocation_endpoint.clone() else {
            return RevocationOutcome::NotSupported;
        };
        let fields = [
            ("token", token),
            ("token_type_hint", hint),
            ("client_id", self.inner.config.client_id.as_str()),
        ];
        let outcome = match self.inner.http.post_form(&url, &fields).await {
            Ok(r) if r.status == 200 => return RevocationOutcome::Revoked,
            // RFC 7009 §2.2.1: on 503 the token must be assumed to still exist.
            Ok(r) => format!("the revocation endpoint answered HTTP {}", r.status),
            Err(e) => Error::http(Endpoint::Revocation, e).to_string(),
        };
        tracing::warn!(%outcome, "revocation failed; local state is wiped anyway");
        RevocationOutcome::Failed(outcome)
    }

    async fn end_session_url(&self, tokens: &Tokens) -> Result<Option<Url>> {
        let provider = self.provider().await?;
        let Some(mut url) = provider.metadata.end_session_endpoint.clone() else {
            return Ok(None);
        };
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.inner.config.client_id);
            if let Some(id_token) = &tokens.id_token {
                q.append_pair("id_token_hint", id_token.expose());
            }
        }
        Ok(Some(url))
    }

    /// A snapshot of the session (never blocks on a refresh in flight).
    pub fn status(&self) -> SessionStatus {
        let meta = self.meta();
        let now = Instant::now();
        let wall = SystemTime::now();
        let unix = |t: SystemTime| t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs());
        let (state, view) = match (&meta.view, &meta.ended, &meta.locked) {
            (Some(v), _, _) => (SessionState::SignedIn, Some(v.clone())),
            (None, Some(_), _) => (SessionState::ReauthRequired, None),
            (None, None, Some(hint)) => (
                SessionState::Locked,
                Some(View {
                    subject: hint.subject.clone(),
                    scopes: Vec::new(),
                    has_refresh: true,
                    expires_at: None,
                    lifetime: None,
                    next_refresh: None,
                }),
            ),
            (None, None, None) => (SessionState::SignedOut, None),
        };
        let expires_in = view
            .as_ref()
            .and_then(|v| v.expires_at)
            .map(|at| at.saturating_duration_since(now));
        SessionStatus {
            state,
            issuer: self.inner.config.issuer.clone(),
            subject: view.as_ref().and_then(|v| v.subject.clone()),
            display_name: meta.display_name.clone(),
            scopes: view.as_ref().map(|v| v.scopes.clone()).unwrap_or_default(),
            has_refresh_token: view.as_ref().is_some_and(|v| v.has_refresh),
            access_token_expires_in_secs: expires_in.map(|d| d.as_secs()),
            access_token_expires_at: expires_in.and_then(|d| unix(wall + d)),
            access_token_lifetime_secs: view.as_ref().and_then(|v| v.lifetime).map(|d| d.as_secs()),
            next_refresh_in_secs: view
                .as_ref()
                .and_then(|v| v.next_refresh)
                .map(|at| meta.retry_at.map_or(at, |r| r.max(at)))
                .map(|at| at.saturating_duration_since(now).as_secs()),
            refresh_count: meta.refresh_count,
            rotation_count: meta.rotation_count,
            last_refresh_at: meta.last_refresh_at.and_then(unix),
            offline: meta.offline,
            reauth_reason: meta.ended.clone(),
        }
    }

    /// Starts the background refresher: it refreshes a margin before expiry, and after a
    /// transient failure retries with exponential backoff (1 s doubling to 60 s) and jitter. It
    /// stops when the returned guard is dropped.
    pub fn spawn_auto_refresh(&self) -> AutoRefresh {
        let session = self.clone();
        AutoRefresh {
            handle: tokio::spawn(async move { session.auto_refresh_loop().await }),
        }
    }

    async fn auto_refresh_loop(self) {
        loop {
            let due = {
                let state = self.inner.tokens.lock().await;
                let due = match &*state {
                    TokenState::Active(t) => t.refresh_due(),
                    _ => None,
                };
                let retry_at = self.meta().retry_at;
                due.map(|d| retry_at.map_or(d, |r| r.max(d)))
            };
            let wake = self.inner.wake.notified();
            match due {
                Some(at) => {
                    // Wake at least every RECHECK_EVERY: a sleep on the monotonic clock doesn't
                    // notice the machine was suspended, `refresh_due` does.
                    let until = at.min(Instant::now() + RECHECK_EVERY);
                    tokio::select! {
                        _ = tokio::time::sleep_until(until) => {}
                        _ = wake => continue,
                    }
                }
                None => {
                    wake.await;
                    continue;
                }
            }
            let mut state = self.inner.tokens.lock().await;
            // Someone may have refreshed while we slept.
            let still_due = matches!(&*state, TokenState::Active(t)
                if t.refresh_due().is_some_and(|d| d <= Instant::now()));
            if still_due {
                // Failures are reported through events and the backoff state.
                let _ = self
                    .refresh_locked(&mut state, RefreshTrigger::Scheduled)
                    .await;
            }
        }
    }

    // ----- internals -----

    async fn refresh_locked(&self, state: &mut TokenState, trigger: RefreshTrigger) -> Result<()> {
        let _cross_process = self.adopt_stored_session(state).await?;
        let tokens = match state {
            TokenState::SignedOut => return Err(Error::NotSignedIn),
            TokenState::Locked(_) => return Err(StoreError::Locked.into()),
            TokenState::Ended(reason) => return Err(Error::ReauthRequired(reason.clone())),
            TokenState::Active(t) => t,
        };
        let Some(refresh_token) = tokens.refresh.clone() else {
            // No refresh token: a still-valid access token is used until it expires; after that
            // (or once a resource server rejects it) only a new sign-in helps.
            let usable = tokens.is_usable(Instant::now());
            match trigger {
                RefreshTrigger::Unauthorized => {}
                _ if !usable => {}
                RefreshTrigger::Forced => {
                    return Err(Error::ReauthRequired(ReauthReason::NoRefreshToken))
                }
                RefreshTrigger::Scheduled | RefreshTrigger::OnDemand => return Ok(()),
            }
            self.end_session(state, ReauthReason::NoRefreshToken);
            return Err(Error::ReauthRequired(ReauthReason::NoRefreshToken));
        };
        let provider = match self.provider().await {
            Ok(provider) => provider,
            Err(e) => {
                // Discovery failed (offline at launch): a failed attempt like any other, with
                // backoff, so the scheduler doesn't retry in a tight loop.
                let attempt = self.inner.attempts.fetch_add(1, Ordering::SeqCst) + 1;
                return Err(self.refresh_failed(attempt, trigger, e));
            }
        };
        let sent_at = Instant::now();
        let sent_wall = SystemTime::now();
        tracing::debug!(?trigger, "refreshing the access token");
        let result = provider
            .client
            .exchange_refresh_token(&refresh_token)
            .request_async(&self.inner.http)
            .await;
        let attempt = self.inner.attempts.fetch_add(1, Ordering::SeqCst) + 1;

        let response = match result {
            Ok(response) => response,
            Err(e) => {
                if let Some(description) = is_invalid_grant(&e) {
                    tracing::warn!("refresh token rejected (invalid_grant); ending the session");
                    self.end_session(
                        state,
                        ReauthReason::RefreshTokenRejected(description.clone()),
                    );
                    return Err(Error::ReauthRequired(ReauthReason::RefreshTokenRejected(
                        description,
                    )));
                }
                return Err(self.refresh_failed(attempt, trigger, map_token_error(e)));
            }
        };

        // The server may have rotated the refresh token: the old one is dead from this instant,
        // so the new one is stored before anything else can fail (a bad ID token, a bad field),
        // keeping the window in which a crash loses the session as small as it can be.
        let new_refresh = response
            .refresh_token()
            .filter(|rt| !rt.secret().is_empty())
            .cloned();
        let rotated = new_refresh
            .as_ref()
            .is_some_and(|new| !crate::secret::ct_str_eq(new.secret(), refresh_token.secret()));
        if let (true, Some(new_rt)) = (rotated, new_refresh) {
            tokens.refresh = Some(new_rt);
            self.save_or_report(tokens);
        }

        let issued = match accept_token_response(&response, sent_at) {
            Ok(i) => i,
            Err(e) => return Err(self.refresh_failed(attempt, trigger, e)),
        };
        let id_token = match response.extra_fields().id_token() {
            Some(id_token) => {
                match self
                    .check_refreshed_id_token(&provider, tokens, id_token)
                    .await
                {
                    // Kept in memory; stored with the next save.
                    Ok(()) => Some(SecretString::new(id_token.to_string())),
                    Err(e) => return Err(self.refresh_failed(attempt, trigger, e)),
                }
            }
            None => None,
        };

        let mut next = (**tokens).clone();
        next.access = Some(issued.access);
        next.expires_at = issued.expires_at;
        next.lifetime = issued.lifetime;
        next.obtained_at = sent_at;
        next.obtained_wall = sent_wall;
        if let Some(id) = id_token {
            next.id_token = Some(id);
        }
        if let Some(scopes) = issued.scopes {
            next.scopes = scopes;
        }
        **tokens = next;
        self.update_meta(state, |m| {
            m.refresh_count += 1;
            if rotated {
                m.rotation_count += 1;
            }
            m.last_refresh_at = Some(SystemTime::now());
            m.offline = false;
            m.consecutive_failures = 0;
            m.retry_at = None;
        });
        tracing::info!(?trigger, rotated, "access token refreshed");
        self.emit(SessionEvent::Refreshed {
            trigger,
            rotated,
            status: Box::new(self.status()),
        });
        self.inner.wake.notify_one();
        Ok(())
    }

    async fn check_refreshed_id_token(
        &self,
        provider: &Provider,
        tokens: &Tokens,
        id_token: &CoreIdToken,
    ) -> Result<()> {
        let original = tokens.nonce.clone();
        // OIDC Core §12.2: a nonce SHOULD NOT be present; if it is, it MUST be the original one.
        let claims = provider
            .verify_id_token(&self.inner.http, id_token, move |n: Option<&Nonce>| match (
                n, &original,
            ) {
                (None, _) => Ok(()),
                (Some(n), Some(orig)) if orig.ct_eq(n.secret()) => Ok(()),
                (Some(_), _) => Err("refreshed ID token carries a different nonce".into()),
            })
            .await?;
        // ... `sub` MUST be the same ...
        if let Some(sub) = &tokens.subject {
            if claims.subject().as_str() != sub {
                return Err(Error::IdTokenInvalid(
                    "refreshed ID token is for another subject".into(),
                ));
            }
        }
        // ... and an `auth_time`, if present, MUST be the original authentication's.
        if let (Some(original), Some(now)) = (tokens.auth_time, claims.auth_time()) {
            if now.timestamp() != original {
                return Err(Error::IdTokenInvalid(
                    "refreshed ID token claims another authentication time".into(),
                ));
            }
        }
        Ok(())
    }

    fn refresh_failed(&self, attempt: u64, trigger: RefreshTrigger, error: Error) -> Error {
        let error = Arc::new(error);
        if let Ok(mut last) = self.inner.last_failure.lock() {
            *last = Some((attempt, error.clone()));
        }
        let retry_in = {
            let mut meta = self.meta();
            if error.is_transient() {
                meta.offline = true;
            }
            meta.consecutive_failures = meta.consecutive_failures.saturating_add(1);
            let delay = backoff(meta.consecutive_failures);
            meta.retry_at = Some(Instant::now() + delay);
            delay
        };
        tracing::warn!(error = %error, ?trigger, "refresh failed; the session is kept");
        self.emit(SessionEvent::RefreshFailed {
            trigger,
            kind: error.kind(),
            message: error.to_string(),
            retry_in_secs: Some(retry_in.as_secs()),
        });
        Error::Shared(error)
    }

    fn failure_since(&self, seen: u64) -> Option<Arc<Error>> {
        let last = self.inner.last_failure.lock().ok()?;
        match &*last {
            Some((attempt, err)) if *attempt > seen => Some(err.clone()),
            _ => None,
        }
    }

    fn usable_or(&self, state: &TokenState, error: Error) -> Result<AccessToken> {
        match state {
            TokenState::Active(t) if t.is_usable(Instant::now()) => match &t.access {
                Some(at) => Ok(at.clone()),
                None => Err(error),
            },
            _ => Err(error),
        }
    }

    /// Takes the store's cross-process refresh lock and re-reads the store: another process may
    /// have rotated the refresh token (adopt it) or ended the session (end ours). The returned
    /// guard must be held until the refresh's result is stored.
    async fn adopt_stored_session(
        &self,
        state: &mut TokenState,
    ) -> Result<Option<crate::store::RefreshGuard>> {
        let TokenState::Active(tokens) = state else {
            return Ok(None);
        };
        let Some(ours) = tokens.refresh.clone() else {
            return Ok(None);
        };
        let store = self.inner.store.clone();
        let guard = tokio::task::spawn_blocking(move || store.lock_for_refresh())
            .await
            .map_err(|e| Error::Internal(format!("refresh lock task: {e}")))??;
        match self.inner.store.load()? {
            Some(stored)
                if crate::secret::ct_str_eq(stored.refresh_token.secret(), ours.secret()) =>
            {
                tokens.mark_synced();
            }
            Some(stored)
                if tokens
                    .synced
                    .is_some_and(|synced| is_fingerprint_of(&synced, &stored.refresh_token)) =>
            {
                // The store still holds the token this session last read or saved, so no other
                // process rotated it: ours is newer, from a rotation whose save failed. It is the
                // live one (the stored one is dead at the server); save it now, under the lock.
                tracing::warn!("saving a rotated refresh token whose earlier save failed");
                self.save_or_report(tokens);
            }
            Some(stored) => {
                tracing::info!("another process rotated the refresh token; adopting it");
                let display_name = stored.display_name.clone();
                let adopted = tokens_from_stored(stored);
                tokens.refresh = adopted.refresh.clone();
                tokens.id_token = adopted.id_token.clone();
                tokens.synced = adopted.synced;
                if display_name.is_some() {
                    self.meta().display_name = display_name;
                }
            }
            None => {
                self.end_session(state, ReauthReason::EndedElsewhere);
                return Err(Error::ReauthRequired(ReauthReason::EndedElsewhere));
            }
        }
        Ok(Some(guard))
    }

    fn current_access(&self, state: &TokenState) -> Result<AccessToken> {
        match state {
            TokenState::Active(t) => t.access.clone().ok_or(Error::NotSignedIn),
            TokenState::Locked(_) => Err(StoreError::Locked.into()),
            TokenState::SignedOut => Err(Error::NotSignedIn),
            TokenState::Ended(r) => Err(Error::ReauthRequired(r.clone())),
        }
    }

    /// Ends a locked session whose store is gone (the vault erased itself, or another process
    /// signed out): the front end shows `reason` and offers a new sign-in.
    pub(crate) async fn end_while_locked(&self, reason: ReauthReason) {
        let mut state = self.inner.tokens.lock().await;
        if matches!(&*state, TokenState::Locked(_)) {
            self.end_session(&mut state, reason);
        }
    }

    fn end_session(&self, state: &mut TokenState, reason: ReauthReason) {
        *state = TokenState::Ended(reason.clone());
        if let Err(e) = self.inner.store.clear() {
            tracing::error!(error = %e, "could not clear the store after the session ended");
        }
        self.update_meta(state, |m| {
            m.offline = false;
            m.retry_at = None;
        });
        self.emit(SessionEvent::SessionEnded { reason });
    }

    /// Saves `tokens` under the cross-process lock, but only if the store still holds what this
    /// session last read or saved (or already holds our refresh token). If another process
    /// signed out, signed in or rotated since, the store is theirs and is left alone.
    async fn save_if_store_unchanged(&self, tokens: &mut Tokens) {
        let store = self.inner.store.clone();
        let _guard = match tokio::task::spawn_blocking(move || store.lock_for_refresh()).await {
            Ok(Ok(guard)) => guard,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not take the store's lock; not saving");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "the store's lock task failed; not saving");
                return;
            }
        };
        let unchanged = match self.inner.store.load() {
            Ok(Some(stored)) => {
                tokens
                    .synced
                    .is_some_and(|synced| is_fingerprint_of(&synced, &stored.refresh_token))
                    || tokens.refresh.as_ref().is_some_and(|ours| {
                        crate::secret::ct_str_eq(ours.secret(), stored.refresh_token.secret())
                    })
            }
            Ok(None) | Err(_) => false,
        };
        if unchanged {
            self.save_or_report(tokens);
        } else {
            tracing::info!("the store was changed by another process; leaving it as it is");
        }
    }

    /// Saves `tokens`; on success they are what the store holds. A failure is logged and sent as
    /// [`SessionEvent::StoreFailed`]: the tokens stay in memory, still marked unsaved, and the
    /// next refresh (or locking) saves them again.
    fn save_or_report(&self, tokens: &mut Tokens) {
        let Some(stored) = self.stored_session(tokens, None) else {
            return;
        };
        match self.inner.store.save(&stored) {
            Ok(()) => tokens.mark_synced(),
            Err(e) => {
                tracing::error!(error = %e, "could not persist the refresh token; keeping it in memory until a save succeeds");
                self.emit(SessionEvent::StoreFailed {
                    message: e.to_string(),
                });
            }
        }
    }

    fn stored_session(&self, t: &Tokens, display_name: Option<String>) -> Option<StoredSession> {
        let refresh_token = t.refresh.clone()?;
        Some(StoredSession {
            issuer: self.inner.config.issuer.clone(),
            client_id: self.inner.config.client_id.clone(),
            scopes: t.scopes.clone(),
            refresh_token,
            id_token: t.id_token.clone(),
            nonce: t.nonce.clone(),
            subject: t.subject.clone(),
            display_name: display_name.or_else(|| self.meta().display_name.clone()),
            auth_time: t.auth_time,
        })
    }

    fn meta(&self) -> std::sync::MutexGuard<'_, Meta> {
        // Meta holds plain values assigned whole; a poisoned lock is still consistent.
        self.inner.meta.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update_meta(&self, state: &TokenState, f: impl FnOnce(&mut Meta)) {
        let mut meta = self.meta();
        f(&mut meta);
        match state {
            TokenState::Active(t) => {
                meta.view = Some(View {
                    subject: t.subject.clone(),
                    scopes: t.scopes.clone(),
                    has_refresh: t.refresh.is_some(),
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

    fn emit(&self, event: SessionEvent) {
        // No receivers is fine.
        let _ = self.inner.events.send(event);
    }
}

fn tokens_from_stored(stored: StoredSession) -> Tokens {
    Tokens {
        synced: Some(fingerprint(&stored.refresh_token)),
        access: None,
        expires_at: None,
        lifetime: None,
        obtained_at: Instant::now(),
        obtained_wall: SystemTime::now(),
        refresh: Some(stored.refresh_token),
        id_token: stored.id_token,
        nonce: stored.nonce,
        subject: stored.subject,
        scopes: stored.scopes,
        auth_time: stored.auth_time,
    }
}

/// The background refresher looks at the clock at least this often, so a refresh that fell due
/// while the machine slept happens within this long of waking.
const RECHECK_EVERY: Duration = Duration::from_secs(30);

/// Exponential backoff with jitter: 1 s, 2 s, 4 s … capped at 60 s, each scaled by 0.5–1.0.
fn backoff(failures: u32) -> Duration {
    let base =
        Duration::from_secs(1u64 << failures.saturating_sub(1).min(6)).min(Duration::from_secs(60));
    let jitter: f64 = rand::thread_rng().gen_range(0.5..=1.0);
    base.mul_f64(jitter).max(Duration::from_millis(500))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped_with_jitter() {
        for _ in 0..50 {
            let first = backoff(1);
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
            let third = backoff(3);
            assert!(third >= Duration::from_secs(2) && third <= Duration::from_secs(4));
            let many = backoff(40);
            assert!(many >= Duration::from_secs(30) && many <= Duration::from_secs(60));
        }
    }
}
