//! The error shape that crosses IPC: `{ kind, message }` with a closed set of kinds (see
//! `ui/src/ipc/types.ts`). The UI branches on `kind`, never on the message. No message carries a
//! token: latchkey-core's errors never include one.

use std::error::Error as _;

use serde::Serialize;

/// What the UI may branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IpcErrorKind {
    /// Fix the settings.
    Configuration,
    /// The user cancelled.
    Cancelled,
    /// Sign in again.
    ReauthRequired,
    /// Nobody is signed in.
    NotSignedIn,
    /// Offline or server unavailable; retrying later helps.
    Transient,
    /// The vault is locked, or unlocking failed (wrong PIN).
    VaultLocked,
    /// The server misbehaved or a security check failed.
    Protocol,
    /// Anything else.
    Internal,
}

/// `{ kind, message }`.
#[derive(Debug, Clone, Serialize)]
pub struct IpcError {
    /// What to do about it.
    pub kind: IpcErrorKind,
    /// A readable sentence.
    pub message: String,
}

impl IpcError {
    pub(crate) fn new(kind: IpcErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<latchkey_core::Error> for IpcError {
    fn from(e: latchkey_core::Error) -> Self {
        use latchkey_core::ErrorKind as K;
        let kind = match e.kind() {
            K::Configuration => IpcErrorKind::Configuration,
            K::Cancelled => IpcErrorKind::Cancelled,
            K::ReauthRequired => IpcErrorKind::ReauthRequired,
            K::NotSignedIn => IpcErrorKind::NotSignedIn,
            K::Transient => IpcErrorKind::Transient,
            K::VaultLocked => IpcErrorKind::VaultLocked,
            K::Protocol => IpcErrorKind::Protocol,
            _ => IpcErrorKind::Internal,
        };
        let mut message = e.to_string();
        let mut source = e.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = cause.source();
        }
        tracing::warn!(?kind, %message, "command failed");
        Self { kind, message }
    }
}

impl From<latchkey_core::ConfigError> for IpcError {
    fn from(e: latchkey_core::ConfigError) -> Self {
        latchkey_core::Error::from(e).into()
    }
}
