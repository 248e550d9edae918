//! What the session shows front ends: its state, status, events and reports. None holds a token.

use serde::Serialize;

use crate::error::{ErrorKind, ReauthReason};
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
    /// Whether the tokens are bound to the session's DPoP key (RFC 9449): a copied refresh or
    /// access token is useless without it. False while locked (not known until unlocked).
    pub key_bound: bool,
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
    /// `end_session_endpoint` with `client_id` and `logout_hint` (never the ID token) in this
    /// user agent.
    pub end_session_in: Option<&'a dyn UserAgent>,
}

/// How the authorization response comes back to the app.
#[derive(Debug)]
pub enum Redirect {
    /// A loopback listener on 127.0.0.1 (and [::1]), an ephemeral port or the configured
    /// `redirect_ports`: desktop (RFC 8252 §7.3).
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
