//! The facade's error: the engine's ([`latchkey_core::Error`]) or the vault's ([`VaultError`]),
//! each kept whole so that a front end can match on the situation (a wrong PIN and the attempts
//! left, a cancelled biometric prompt, a refused token), and one [`ErrorKind`] for both.

pub use latchkey_core::error::{
    full_message, CallbackRejection, Endpoint, ErrorKind, ReauthReason,
};
pub use latchkey_core::Error as CoreError;
use latchkey_core::{ConfigError, StoreError};
use latchkey_vault::VaultError;

/// What a [`crate::Latchkey`] call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine failed: configuration, the provider, the network, the session's state.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The vault failed: locked, a wrong PIN, a cancelled prompt, an unreadable file.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// What the engine's own calls ([`crate::Session`]) return.
pub type CoreResult<T> = std::result::Result<T, CoreError>;

/// The facade's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The classification a front end acts on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Core(e) => e.kind(),
            Error::Vault(e) => e.kind(),
        }
    }

    /// True when the session is over and only a new sign-in helps.
    pub fn requires_reauthentication(&self) -> bool {
        self.kind() == ErrorKind::ReauthRequired
    }

    /// True for network and server-availability failures that keep the session.
    pub fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }

    /// The vault's error, wherever it is: this error itself, or the one the engine met in the
    /// vault (behind its [`latchkey_core::SecretStore`] seam, during a refresh or a sign-out).
    pub fn vault(&self) -> Option<&VaultError> {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cause {
            if let Some(v) = e.downcast_ref::<VaultError>() {
                return Some(v);
            }
            cause = e.source();
        }
        None
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Core(e.into())
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Core(e.into())
    }
}
