//! # latchkey-core
//!
//! A native OAuth 2.0 / OpenID Connect client engine with no Tauri dependency: everything a
//! desktop or mobile app needs to sign a user in the way RFC 8252 prescribes and keep them signed
//! in, and every security decision that goes with it.
//!
//! # Contents
//! - [`config`]: issuer, client_id, scopes, extra parameters; from TOML, env and flags.
//! - [`discovery`]: server metadata, issuer and PKCE-downgrade checks, JWKS, ID token validation.
//! - [`authorize`]: the authorization request (PKCE S256, state, nonce) and its response checks.
//! - [`redirect`] and [`loopback`]: the loopback redirect listener and its request parser.
//! - [`user_agent`]: the system browser (and the `BROWSER` convention).
//! - [`session`]: sign-in, single-flight refresh, the refresh scheduler, API calls, sign-out.
//! - [`step_up`]: RFC 9470 step-up challenges and the checks of their sign-in.
//! - [`store`]: the [`store::SecretStore`] seam, where a session is kept, and an in-memory store.
//!   The Stronghold vault whose key biometrics or a PIN release implements it in `latchkey-vault`;
//!   the `latchkey` crate's facade combines the two.
//! - [`error`]: typed errors and the [`error::ErrorKind`] classification front ends act on.
//!
//! # Flow
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use latchkey_core::{Config, MemoryStore, Session, SystemBrowser};
//!
//! let config = Config::new("https://login.example.com", "my-native-app")?;
//! let session = Session::new(config, Arc::new(MemoryStore::new()))?;
//! session.sign_in(&SystemBrowser::from_env()).await?;
//! let _refresher = session.spawn_auto_refresh();
//! let profile = session.userinfo().await?;
//! let api = session.get(&"https://api.example.com/me".parse()?).await?;
//! # Ok(()) }
//! ```
//!
//! # Security warning
//! - Sign-in happens in the system browser (or an in-app browser tab on mobile), never in a
//!   WebView: RFC 8252 §8.12.
//! - The HTTP client follows no redirects, times out, and caps response sizes.
//! - `state` is compared (in constant time) before anything else in a callback; RFC 9207 `iss`
//!   is compared with the issuer; the ID token's signature, `iss`, `aud`, `exp`/`iat` and nonce
//!   are validated.
//! - Tokens, codes, verifiers and `state` have redacted `Debug`, are never logged, and are never
//!   part of an error message. Keep it that way in front ends: give a WebView
//!   [`session::SessionStatus`], never a token.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod applink;
pub mod authorize;
pub mod config;
pub mod discovery;
pub mod dpop;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod loopback;
pub mod redirect;
pub mod secret;
pub mod session;
pub mod step_up;
pub mod store;
#[cfg(test)]
mod test_skip;
mod token_endpoint;
mod tokens;
pub mod user_agent;

pub use applink::{app_link, AppLinkRedirect, AppLinkSender};
pub use config::{Config, ConfigError, PartialConfig};
pub use error::{Error, ErrorKind, ReauthReason, Result};
pub use http::{ApiRequest, ApiRequestError};
pub use session::{
    ApiResponse, AutoRefresh, Redirect, RefreshTrigger, RevocationOutcome, Session, SessionEvent,
    SessionState, SessionStatus, SignOutOptions, SignOutReport, StatusWatch,
};
pub use store::{
    MemoryStore, RefreshGuard, SecretStore, SessionHint, StoreError, StoreId, StoredSession,
};
pub use tokens::{refresh_margin, MAX_TRUSTED_LIFETIME, MIN_REFRESH_INTERVAL};
pub use user_agent::{SystemBrowser, UserAgent, UserAgentError};
