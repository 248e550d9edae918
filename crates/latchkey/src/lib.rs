//! # latchkey
//!
//! Native OAuth 2.0 / OpenID Connect sign-in for desktop and mobile apps: the facade a front end
//! holds. [`Latchkey`] combines the engine's [`Session`] (`latchkey-core`: tokens, refresh,
//! DPoP, sign-out) with the [`Vault`] (`latchkey-vault`: the stored refresh token and the key a
//! PIN or the platform's biometric check releases), and runs the background tasks (refresh
//! before expiry, lock after idle time), so that every user action — sign in, unlock, lock, call
//! the API, sign out — is one call. Tauri apps hold it through `tauri-plugin-latchkey`; the
//! `latchkey` command-line client holds it directly.
//!
//! # Every action checks the state it runs in
//! The front end may be untrusted (a WebView can run injected script), so no action relies on it
//! having looked first:
//! - sign-in is refused while a session exists (signed in or locked): it would replace the live
//!   vault key and the provider; the user signs out first;
//! - unlock on a signed-in session does nothing; on no session it touches nothing (no attempt is
//!   counted);
//! - reconfiguring (another issuer, client or API) is refused while a session exists
//!   ([`Latchkey::check_reconfigure`]).

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub use latchkey_core::{
    app_link, applink, authorize, config, discovery, dpop, http, loopback, redirect,
    refresh_margin, secret, session, step_up, store, user_agent, ApiRequest, ApiRequestError,
    ApiResponse, AppLinkRedirect, AppLinkSender, AutoRefresh, Config, ConfigError, MemoryStore,
    PartialConfig, Redirect, RefreshGuard, RefreshTrigger, RevocationOutcome, SecretStore, Session,
    SessionEvent, SessionHint, SessionState, SessionStatus, SignOutOptions, SignOutReport,
    StatusWatch, StoreError, StoreId, StoredSession, SystemBrowser, UserAgent, UserAgentError,
    MAX_TRUSTED_LIFETIME, MIN_REFRESH_INTERVAL,
};
/// The vault: Stronghold, the key protectors and the platforms' biometric backends.
pub use latchkey_vault as vault;
pub use latchkey_vault::{
    Credential, PinProtector, UnlockMethod, Vault, VaultError, VaultMetadata,
};

pub mod error;
pub use error::{CoreError, CoreResult, Error, ErrorKind, ReauthReason, Result};

mod account_set;
pub mod accounts;
mod biometric;
pub mod registry;
pub use account_set::{AccountSet, AccountSummary, OpenAccount};
pub use accounts::{AccountError, AccountName};
pub use biometric::BiometricChange;
mod confirm;
mod idle;
mod sign_in;
pub mod verbs;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use latchkey_vault::KeyProtector;

use idle::{spawn_idle_locker, Activity, IdleLocker};

/// Latchkey for one configured client: session + vault + background tasks.
pub struct Latchkey {
    session: Session,
    vault: Arc<Vault>,
    cancel: Notify,
    activity: Arc<Activity>,
    background: Mutex<Option<(AutoRefresh, Option<IdleLocker>)>>,
    /// The idle-lock time given to [`Latchkey::start`], if any.
    idle_lock: Mutex<Option<Duration>>,
}

impl std::fmt::Debug for Latchkey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latchkey")
            .field("session", &self.session)
            .field("vault", &self.vault)
            .finish_non_exhaustive()
    }
}

impl Latchkey {
    /// Opens the vault in `vault_dir` (locked) for `config`. No network.
    pub fn open(
        config: Config,
        vault_dir: &Path,
        protector: Arc<dyn KeyProtector>,
    ) -> Result<Self> {
        let vault = Arc::new(Vault::open(vault_dir, protector)?);
        let session = Session::new(config, vault.clone())?;
        Ok(Self {
            session,
            vault,
            cancel: Notify::new(),
            activity: Arc::new(Activity::default()),
            background: Mutex::new(None),
            idle_lock: Mutex::new(None),
        })
    }

    /// The session (for status and events).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The vault.
    pub fn vault(&self) -> &Arc<Vault> {
        &self.vault
    }

    /// The configuration this facade was opened with (no secrets: a public client has none).
    pub fn config(&self) -> &Config {
        self.session.config()
    }

    /// How the user unlocks on this platform.
    pub fn unlock_method(&self) -> UnlockMethod {
        self.vault.method()
    }

    /// The current status.
    pub fn status(&self) -> SessionStatus {
        self.session.status()
    }

    /// The status each time it changes: what a front end renders.
    pub fn watch_status(&self) -> crate::session::StatusWatch {
        self.session.watch_status()
    }

    /// Session events from now on (what happened, for a timeline; the state itself comes
    /// through [`Latchkey::watch_status`]).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<SessionEvent> {
        self.session.subscribe()
    }

    /// At launch: finds the stored session (`Locked` when there is one), and starts the
    /// background refresher and, with `idle_lock`, the idle locker.
    pub async fn start(&self, idle_lock: Option<Duration>) -> Result<SessionStatus> {
        let status = self.session.resume().await?;
        let refresher = self.session.spawn_auto_refresh();
        let idle = idle_lock.map(|idle| {
            let (session, vault) = (self.session.clone(), self.vault.clone());
            spawn_idle_locker(self.activity.clone(), idle, move || {
                let (session, vault) = (session.clone(), vault.clone());
                // The session first: a refresh in flight still saves its rotated token.
                async move {
                    session.lock_with(|| vault.lock()).await;
                }
            })
        });
        if let Ok(mut background) = self.background.lock() {
            *background = Some((refresher, idle));
        }
        if let Ok(mut slot) = self.idle_lock.lock() {
            *slot = idle_lock;
        }
        Ok(status)
    }

    /// Stops the background tasks (a refresh under way still completes and stores its result)
    /// and locks. For a front end replacing this facade (new settings) or shutting down.
    pub async fn shutdown(&self) -> SessionStatus {
        let background = self.background.lock().ok().and_then(|mut b| b.take());
        if let Some((refresher, idle)) = background {
            drop(idle);
            refresher.stop().await;
        }
        self.lock().await
    }

    /// Refuses, while a session exists (signed in, or stored and locked), a change of the
    /// configuration this facade was opened with: another issuer, client or API would receive
    /// the session's tokens or replace its provider. Signed out, anything goes.
    ///
    /// # Errors
    /// [`CoreError::SessionExists`].
    pub fn check_reconfigure(&self) -> Result<()> {
        let stored = self.vault.is_initialized();
        match self.session.status().state {
            SessionState::SignedIn | SessionState::Locked => Err(CoreError::SessionExists {
                action: "changing the provider or the API",
            }
            .into()),
            _ if stored => Err(CoreError::SessionExists {
                action: "changing the provider or the API",
            }
            .into()),
            _ => Ok(()),
        }
    }

    /// Cancels a sign-in in progress (the loopback listener closes).
    pub fn cancel_sign_in(&self) {
        self.cancel.notify_waiters();
    }

    /// Unlocks the vault and resumes silently: one refresh, no browser.
    ///
    /// Offline (or with the server failing) the unlock still succeeds: the session is signed in
    /// with `offline` set in its status, and the background refresher retries with backoff. Only
    /// a wrong credential, or a server that ends the session, is an error.
    pub async fn unlock(&self, credential: Credential) -> Result<SessionStatus> {
        match self.session.status().state {
            SessionState::Locked => {}
            // Nothing to unlock: no attempt is counted, no key derived.
            SessionState::SignedIn => return Ok(self.session.status()),
            SessionState::SignedOut | SessionState::ReauthRequired => {
                return Err(CoreError::NotSignedIn.into())
            }
        }
        // Off the async threads: Argon2id takes a fraction of a second, and the vault may wait
        // (bounded) for another process's lock.
        let vault = self.vault.clone();
        let unlocked = tokio::task::spawn_blocking(move || vault.unlock(&credential))
            .await
            .map_err(|e| CoreError::Internal(format!("unlock task: {e}")))?;
        if let Err(e) = unlocked {
            if !self.vault.is_initialized() {
                // The stored session is gone: tell the user to sign in again rather than leave
                // an unlock screen for a vault that no longer exists. Either another process
                // signed out, or this unlock erased it (too many wrong PINs, a platform key
                // invalidated for good).
                let reason = if matches!(e, crate::vault::VaultError::NotInitialized) {
                    crate::ReauthReason::EndedElsewhere
                } else {
                    crate::ReauthReason::StoredSessionErased
                };
                self.session.end_while_locked(reason).await;
            }
            return Err(e.into());
        }
        self.session.resume().await?;
        self.activity.touch();
        match self.session.fresh_access_token().await {
            Ok(_) => {}
            Err(e) if e.is_transient() => {
                tracing::info!(error = %e, "unlocked while the server is unreachable; will retry");
            }
            Err(e) => return Err(e.into()),
        }
        Ok(self.session.status())
    }

    /// Locks: the session forgets its tokens and the vault its key.
    ///
    /// The session goes first: it waits for a refresh in flight, whose rotated refresh token
    /// must still reach the vault, and saves one whose earlier save failed. Locking the vault
    /// first would make that save fail and lose the only live refresh token.
    pub async fn lock(&self) -> SessionStatus {
        self.activity.clear();
        self.session.lock_with(|| self.vault.lock()).await
    }

    /// Calls the configured API (`api_url`) with a fresh access token.
    pub async fn call_api(&self) -> Result<ApiResponse> {
        let url = self
            .session
            .config()
            .api_url
            .clone()
            .ok_or(ConfigError::missing("api_url"))?;
        self.get(&url).await
    }

    /// The userinfo claims. Not user activity (see [`Latchkey::user_present`]): locks instead if
    /// the idle time has passed.
    pub async fn userinfo(&self) -> Result<serde_json::Value> {
        self.lock_if_idle().await?;
        Ok(self.session.userinfo().await?)
    }

    /// The user is here: their own input, observed by native code (a window gaining focus, a
    /// key or pointer event the front end's native side sees). Resets the idle clock, unless the
    /// idle time has already passed (a machine that slept through it): then the idle locker locks
    /// as it would have.
    ///
    /// # Security
    /// Never call this from a command a WebView can invoke, nor from any API call: script would
    /// then keep an unattended session unlocked forever. The idle clock is reset only by this, a
    /// sign-in and an unlock (which take the user's PIN or biometric).
    pub fn user_present(&self) {
        let idle_lock = self.idle_lock.lock().ok().and_then(|slot| *slot);
        if idle_lock.is_some_and(|idle| self.activity.is_idle(idle)) {
            return;
        }
        if self.session.status().state == SessionState::SignedIn {
            self.activity.touch();
        }
    }

    /// When the idle clock was last reset (a sign-in, an unlock, [`Latchkey::user_present`]);
    /// `None` when nothing is unlocked. For a front end showing "locks in …", and for tests
    /// that show which calls reset it.
    pub fn last_user_activity(&self) -> Option<tokio::time::Instant> {
        self.activity.last_at()
    }

    /// Before an action the front end asked for (an API call, userinfo, a refresh): if the
    /// session has been idle past the idle-lock time (the machine slept through it and the idle
    /// locker hasn't looked yet), locks now and fails as locked. Doesn't reset the idle clock.
    async fn lock_if_idle(&self) -> Result<()> {
        let idle_lock = self.idle_lock.lock().ok().and_then(|slot| *slot);
        if idle_lock.is_some_and(|idle| self.activity.is_idle(idle)) {
            self.activity.clear();
            self.lock().await;
            return Err(crate::StoreError::Locked.into());
        }
        Ok(())
    }

    /// Signs out: revokes at the server when the refresh token is at hand, then erases the vault
    /// and its key whatever happened at the server.
    pub async fn sign_out(&self) -> Result<SignOutReport> {
        self.sign_out_with(None).await
    }

    /// [`Latchkey::sign_out`], and with `end_session_in`, also ends the browser session at the
    /// server (OIDC RP-initiated logout: the end-session page opens there), so that the next
    /// sign-in asks who is signing in instead of silently reusing the browser's session.
    pub async fn sign_out_with(
        &self,
        end_session_in: Option<&dyn UserAgent>,
    ) -> Result<SignOutReport> {
        // The session clears the store (the vault erases itself, under its lock; locked, it
        // erases what is there): one owner for erasing, and never another process's new sign-in.
        self.activity.clear();
        Ok(self
            .session
            .sign_out(SignOutOptions { end_session_in })
            .await?)
    }
}

/// For a front end without a usable configuration (so without a [`Latchkey`]): refuses a change
/// of configuration while the vault in `vault_dir` still holds a session, as
/// [`Latchkey::check_reconfigure`] does.
///
/// # Errors
/// [`CoreError::SessionExists`].
pub fn check_no_stored_session(vault_dir: &Path) -> Result<()> {
    if vault_dir.join(crate::vault::KEY_FILE).exists() {
        return Err(CoreError::SessionExists {
            action: "changing the provider or the API",
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
