//! The vault's errors and their classification.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::key::{ProtectorError, UnlockMethod};
use latchkey_core::store::StoreError;
use latchkey_core::ErrorKind;

/// A vault failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The key has not been released.
    #[error("the vault is locked")]
    Locked,
    /// There is no vault (nobody signed in with a stored session).
    #[error("there is no stored session; sign in first")]
    NotInitialized,
    /// The PIN was wrong.
    #[error("wrong PIN: {remaining} attempt(s) left before the stored session is erased")]
    WrongPin {
        /// Attempts left.
        remaining: u32,
    },
    /// Too many wrong PINs: the vault was erased.
    #[error("too many wrong PINs: the stored session was erased; sign in again")]
    TooManyAttempts,
    /// The credential is not one this vault's protector can take (a biometric prompt for a PIN
    /// vault, a PIN shorter than any PIN that can be set). Nothing was counted.
    #[error("this vault is unlocked by {method:?}: {source}")]
    CredentialNotAccepted {
        /// How this vault is unlocked.
        method: UnlockMethod,
        /// Why the credential was refused.
        #[source]
        source: ProtectorError,
    },
    /// Another process signed in anew: the key file on disk is no longer the one this vault's key
    /// came from. Nothing was read or written; this process's session has ended elsewhere.
    #[error("another process signed in anew: this session's vault key was replaced")]
    KeyChanged,
    /// Another process signed out (erased the vault) while this one was unlocked. Nothing was
    /// written.
    #[error("another process signed out: the vault this session used was erased")]
    KeyRemoved,
    /// Another process holds the vault's lock for longer than the lock timeout (a refresh in
    /// flight, or a process suspended while holding it).
    #[error("the vault at {path} is busy in another process (waited {} ms); try again", waited.as_millis())]
    Busy {
        /// The lock file.
        path: String,
        /// How long this process waited.
        waited: Duration,
    },
    /// A biometric unlock did not open the vault. The session goes on: try again or use the PIN.
    #[error("{}", biometric_message(*failure))]
    Biometric {
        /// What happened.
        failure: BiometricFailure,
        /// The protector's error, when there was one.
        #[source]
        source: Option<ProtectorError>,
    },
    /// The protector failed.
    #[error(transparent)]
    Protector(#[from] ProtectorError),
    /// A vault file can't be read (wrong key, corruption). It is kept for inspection.
    #[error(
        "the vault file {path} is unreadable: {reason}; it was kept; sign in again to replace it"
    )]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// File I/O failed.
    #[error("vault file {path} could not be {action}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Stronghold failed.
    #[error("Stronghold: {0}")]
    Stronghold(String),
}

impl VaultError {
    pub(super) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        VaultError::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }

    /// The classification.
    pub fn kind(&self) -> ErrorKind {
        match self {
            VaultError::Locked
            | VaultError::WrongPin { .. }
            | VaultError::TooManyAttempts
            | VaultError::CredentialNotAccepted { .. }
            | VaultError::Biometric { .. } => ErrorKind::Locked,
            VaultError::NotInitialized => ErrorKind::NotSignedIn,
            VaultError::Protector(ProtectorError::KeyInvalidated)
            | VaultError::Unreadable { .. }
            | VaultError::KeyChanged
            | VaultError::KeyRemoved => ErrorKind::ReauthRequired,
            VaultError::Busy { .. } => ErrorKind::Transient,
            VaultError::Protector(ProtectorError::Malformed(_)) => ErrorKind::Internal,
            VaultError::Protector(_) => ErrorKind::Locked,
            VaultError::Io { .. } | VaultError::Stronghold(_) => ErrorKind::Internal,
        }
    }
}

impl From<VaultError> for StoreError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::Locked => StoreError::Locked,
            VaultError::KeyChanged | VaultError::KeyRemoved => StoreError::Replaced(Box::new(e)),
            other => StoreError::Backend {
                kind: other.kind(),
                source: Box::new(other),
            },
        }
    }
}

fn biometric_message(failure: BiometricFailure) -> &'static str {
    match failure {
        BiometricFailure::Off => "biometric unlock is not set up for this session; use the PIN",
        BiometricFailure::Cancelled => "the biometric check was cancelled; try again or use the PIN",
        BiometricFailure::NoMatch => "no match; try again or use the PIN",
        BiometricFailure::Unavailable => {
            "the biometric check is unavailable right now; use the PIN"
        }
        BiometricFailure::PinFirst => {
            "biometric unlock starts once the PIN has opened the vault in this run of the app; use the PIN"
        }
        BiometricFailure::Changed => {
            "biometrics changed since unlock was set up; use the PIN (biometric unlock is set up again after it)"
        }
    }
}

/// Why a biometric unlock did not open the vault. None of these end the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BiometricFailure {
    /// Biometric unlock is not on for this vault (or not offered here).
    Off,
    /// The user cancelled the prompt.
    Cancelled,
    /// The finger (face) did not match.
    NoMatch,
    /// The reader or service is not available right now.
    Unavailable,
    /// The platform key is gone (enrolment changed, item deleted): use the PIN, which sets
    /// biometric unlock up again.
    Changed,
    /// The key is held only in the memory of the process that set biometric unlock up (Linux's
    /// default), and this process is not that one (the app restarted, or another program opened
    /// the vault): the PIN opens it once, which sets biometric unlock up here.
    PinFirst,
}

impl BiometricFailure {
    pub(super) fn of(e: &ProtectorError) -> Self {
        match e {
            ProtectorError::Cancelled => Self::Cancelled,
            ProtectorError::WrongCredential => Self::NoMatch,
            ProtectorError::KeyInvalidated | ProtectorError::Malformed(_) => Self::Changed,
            _ => Self::Unavailable,
        }
    }
}
