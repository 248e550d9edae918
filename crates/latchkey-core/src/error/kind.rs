//! [`ErrorKind`]: what a front end should do about an error.
//!
//! A leaf on purpose: it imports nothing from the rest of the crate, so the modules whose errors
//! classify themselves (the secret store, the vault) can depend on it without depending on
//! [`crate::error::Error`], which wraps their errors in turn.

use serde::Serialize;

/// What a front end should do about an error. Stable, serializable, small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is wrong or incomplete: fix it, retrying won't help.
    Configuration,
    /// The user cancelled (closed the browser flow, denied consent, pressed Cancel).
    Cancelled,
    /// The session has ended (refresh token invalid, revoked or absent): sign in again.
    ReauthRequired,
    /// A protected API asked for a stronger or more recent sign-in (RFC 9470): offer "Confirm
    /// it's you"; the session goes on for other calls.
    StepUpRequired,
    /// There is no session: sign in.
    NotSignedIn,
    /// The network or the server is unavailable right now: the session is kept; retry later.
    Transient,
    /// The vault is locked or could not be unlocked.
    Locked,
    /// The server answered something a correct server would not, or a security check failed
    /// (state, issuer, ID token). Nothing was accepted.
    Protocol,
    /// The action doesn't fit the session's state (sign in while a session exists, change the
    /// provider while signed in): nothing was changed; show the current state.
    WrongState,
    /// A bug or an environment failure (I/O, a crashed task).
    Internal,
}
