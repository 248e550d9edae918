//! The error shape that crosses IPC: `{ kind, message }` with a closed set of kinds (see
//! `ui/src/ipc/types.ts`). The UI branches on `kind`, never on the message. No message carries a
//! token: latchkey-core's errors never include one.

use latchkey_core::ErrorKind;
use serde::Serialize;

/// `{ kind, message }`; `kind` is latchkey-core's [`ErrorKind`] (snake_case: configuration,
/// cancelled, reauth_required, not_signed_in, transient, vault_locked, protocol, wrong_state,
/// internal).
#[derive(Debug, Clone, Serialize)]
pub struct IpcError {
    /// What to do about it.
    pub kind: ErrorKind,
    /// A readable sentence.
    pub message: String,
}

impl IpcError {
    /// An error of `kind` (the shell's own errors come from core's; tests build samples).
    #[cfg(test)]
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<latchkey_core::Error> for IpcError {
    fn from(e: latchkey_core::Error) -> Self {
        let kind = e.kind();
        let message = latchkey_core::error::full_message(&e);
        tracing::warn!(?kind, %message, "command failed");
        Self { kind, message }
    }
}

impl From<latchkey_core::ConfigError> for IpcError {
    fn from(e: latchkey_core::ConfigError) -> Self {
        latchkey_core::Error::from(e).into()
    }
}
