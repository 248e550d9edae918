//! The plugin's error: `{ kind, message, field }` with a closed set of kinds, the same value for
//! the host's Rust and for script (it is what commands reject with; see `guest-js/types.ts`).
//! Script branches on `kind` (and shows a settings error next to its `field`), never on the
//! message. No message carries a token: latchkey-core's errors never include one.

use serde::Serialize;

/// What to do about an error: one name per situation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is wrong or incomplete (or the call itself is malformed): fix it,
    /// retrying won't help.
    Configuration,
    /// The user cancelled (closed the browser flow, denied consent, pressed Cancel).
    Cancelled,
    /// The session has ended: sign in again.
    ReauthRequired,
    /// There is no session: sign in.
    NotSignedIn,
    /// The network or the server is unavailable right now: the session is kept; retry later.
    Transient,
    /// The session is locked (or the unlock failed): unlock.
    Locked,
    /// The server answered something a correct server would not, or a security check failed.
    Protocol,
    /// The action doesn't fit the session's state: nothing was changed.
    WrongState,
    /// A bug or an environment failure.
    Internal,
    /// `fetch` to an origin the host app did not allow in Rust.
    OriginNotAllowed,
    /// No account by that name.
    UnknownAccount,
    /// An API asked for a stronger or more recent sign-in (RFC 9470): offer "Confirm it's you"
    /// (`stepUp`); the session goes on for other calls.
    StepUpRequired,
}

impl From<latchkey::ErrorKind> for ErrorKind {
    fn from(kind: latchkey::ErrorKind) -> Self {
        use latchkey::ErrorKind as Core;
        match kind {
            Core::Configuration => Self::Configuration,
            Core::Cancelled => Self::Cancelled,
            Core::ReauthRequired => Self::ReauthRequired,
            Core::NotSignedIn => Self::NotSignedIn,
            Core::Transient => Self::Transient,
            Core::Locked => Self::Locked,
            Core::Protocol => Self::Protocol,
            Core::WrongState => Self::WrongState,
            Core::StepUpRequired => Self::StepUpRequired,
            _ => Self::Internal,
        }
    }
}

/// `{ kind, message, field }`.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// What to do about it.
    pub kind: ErrorKind,
    /// A readable sentence.
    pub message: String,
    /// For a settings problem, the setting at fault as its settings-file key (`issuer`,
    /// `client_id`, `scopes`, `params.max_age`, `api_url`; latchkey-core's
    /// [`ConfigError::field`](latchkey::ConfigError::field)), so a form can show the message
    /// next to that field. `null` for every other error.
    pub field: Option<String>,
}

/// The plugin's result.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            field: None,
        }
    }

    /// The same error, naming the setting at fault.
    pub fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }
}

impl From<latchkey::Error> for Error {
    fn from(e: latchkey::Error) -> Self {
        let kind = e.kind().into();
        let message = latchkey::error::full_message(&e);
        let field = match &e {
            latchkey::Error::Core(latchkey::CoreError::Config(config)) => {
                config.field().map(str::to_owned)
            }
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

impl From<latchkey::AccountError> for Error {
    fn from(e: latchkey::AccountError) -> Self {
        use latchkey::AccountError;
        match e {
            AccountError::Engine(e) => e.into(),
            AccountError::Unknown { .. } => Error::new(ErrorKind::UnknownAccount, e.to_string()),
            other => Error::new(other.kind().into(), latchkey::error::full_message(&other)),
        }
    }
}

impl From<latchkey::CoreError> for Error {
    fn from(e: latchkey::CoreError) -> Self {
        latchkey::Error::from(e).into()
    }
}

impl From<latchkey::ConfigError> for Error {
    fn from(e: latchkey::ConfigError) -> Self {
        latchkey::Error::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_kind_maps_to_one_plugin_kind_and_locked_has_one_name() {
        use latchkey::ErrorKind as Core;
        let all = [
            (Core::Configuration, "configuration"),
            (Core::Cancelled, "cancelled"),
            (Core::ReauthRequired, "reauth_required"),
            (Core::NotSignedIn, "not_signed_in"),
            (Core::Transient, "transient"),
            (Core::Locked, "locked"),
            (Core::Protocol, "protocol"),
            (Core::WrongState, "wrong_state"),
            (Core::Internal, "internal"),
            (Core::StepUpRequired, "step_up_required"),
        ];
        for (core, name) in all {
            let kind = ErrorKind::from(core);
            assert_eq!(serde_json::to_value(kind).ok(), Some(name.into()));
        }
    }
}
