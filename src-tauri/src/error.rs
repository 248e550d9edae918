//! The error shape that crosses IPC: `{ kind, message, field }` with a closed set of kinds (see
//! `ui/src/ipc/types.ts`). The UI branches on `kind` (and shows a settings error next to its
//! `field`), never on the message. No message carries a token: latchkey-core's errors never
//! include one.

use latchkey_core::ErrorKind;
use serde::Serialize;

/// `{ kind, message, field }`; `kind` is latchkey-core's [`ErrorKind`] (snake_case: configuration,
/// cancelled, reauth_required, not_signed_in, transient, vault_locked, protocol, wrong_state,
/// internal).
#[derive(Debug, Clone, Serialize)]
pub struct IpcError {
    /// What to do about it.
    pub kind: ErrorKind,
    /// A readable sentence.
    pub message: String,
    /// For a settings problem, the setting at fault as its settings-file key (`issuer`,
    /// `client_id`, `scopes`, `params.max_age`, `api_url`; latchkey-core's
    /// [`ConfigError::field`](latchkey_core::ConfigError::field)), so a form can show the message
    /// next to that field. `null` for every other error.
    pub field: Option<String>,
}

impl IpcError {
    /// An error of `kind` (the shell's own errors come from core's; tests build samples).
    #[cfg(test)]
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            field: None,
        }
    }

    /// The same error, naming the setting at fault (tests build samples).
    #[cfg(test)]
    pub(crate) fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }
}

impl From<latchkey_core::Error> for IpcError {
    fn from(e: latchkey_core::Error) -> Self {
        let kind = e.kind();
        let message = latchkey_core::error::full_message(&e);
        let field = match &e {
            latchkey_core::Error::Config(config) => config.field().map(str::to_owned),
            _ => None,
        };
        tracing::warn!(?kind, %message, ?field, "command failed");
        Self {
            kind,
            message,
            field,
        }
    }
}

impl From<latchkey_core::ConfigError> for IpcError {
    fn from(e: latchkey_core::ConfigError) -> Self {
        latchkey_core::Error::from(e).into()
    }
}
