//! Several accounts side by side (work and personal), each its own [`Latchkey`](super::Latchkey)
//! over its own directory: its own Stronghold snapshot, wrapped vault key, PIN attempt counter,
//! biometric wrap, DPoP key, lock file, scheduler and idle lock. Isolation follows from separate
//! keys and files: nothing one account holds can open, refresh or sign out another.
//!
//! # Layout
//! | account | its directory | its vault |
//! |---|---|---|
//! | `default` | `<base>` | `<base>/vault` (today's single-account layout: no migration) |
//! | any other name | `<base>/accounts/<name>` | `<base>/accounts/<name>/vault` |
//!
//! `<base>/accounts.json` (the [`registry`](super::registry)) lists the accounts and each one's
//! provider settings; it never holds a secret.

use std::path::{Path, PathBuf};

use crate::config::{Config, PartialConfig};

/// The longest account name.
pub const MAX_NAME_LEN: usize = 32;

/// The sub-directory of the base directory that holds the named (non-default) accounts.
pub const ACCOUNTS_DIR: &str = "accounts";

/// An account's name: 1 to [`MAX_NAME_LEN`] of `a-z`, `0-9`, `-`, `_`, starting with a letter or
/// digit. Lowercase only, so that two names never share a directory on a case-insensitive file
/// system; no separators or dots, so a name is always one directory below `<base>/accounts`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct AccountName(String);

impl AccountName {
    /// The name of the account today's single-account data directory holds.
    pub const DEFAULT: &'static str = "default";

    /// The default account.
    pub fn default_account() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    /// Validates `name`.
    ///
    /// # Errors
    /// [`AccountError::InvalidName`], saying what is wrong.
    pub fn new(name: &str) -> Result<Self, AccountError> {
        let invalid = |why: &'static str| AccountError::InvalidName {
            name: name.chars().take(MAX_NAME_LEN + 8).collect(),
            why,
        };
        if name.is_empty() {
            return Err(invalid("it is empty"));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(invalid("it is longer than 32 characters"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(invalid("only a-z, 0-9, - and _ are allowed"));
        }
        if !name.as_bytes()[0].is_ascii_alphanumeric() {
            return Err(invalid("it must start with a letter or a digit"));
        }
        // Names Windows refuses as a file or directory name whatever the extension.
        let reserved = ["con", "prn", "aux", "nul"].contains(&name)
            || ((name.starts_with("com") || name.starts_with("lpt"))
                && name.len() == 4
                && name.as_bytes()[3].is_ascii_digit());
        if reserved {
            return Err(invalid("it is a reserved device name on Windows"));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the default account (today's single-account layout).
    pub fn is_default(&self) -> bool {
        self.0 == Self::DEFAULT
    }
}

impl Default for AccountName {
    fn default() -> Self {
        Self::default_account()
    }
}

impl std::fmt::Display for AccountName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for AccountName {
    type Err = AccountError;
    fn from_str(s: &str) -> Result<Self, AccountError> {
        Self::new(s)
    }
}

impl<'de> serde::Deserialize<'de> for AccountName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Self::new(&name).map_err(serde::de::Error::custom)
    }
}

/// The directory holding `name`'s files (its vault, and a front end's settings for it).
pub fn account_dir(base: &Path, name: &AccountName) -> PathBuf {
    if name.is_default() {
        base.to_owned()
    } else {
        base.join(ACCOUNTS_DIR).join(name.as_str())
    }
}

/// `name`'s vault directory.
pub fn vault_dir(base: &Path, name: &AccountName) -> PathBuf {
    account_dir(base, name).join("vault")
}

/// The provider settings of `config`, as a layer the registry keeps (issuer, client, scopes,
/// parameters, API, DPoP policy; timeouts and redirect settings stay the front end's).
pub fn provider_of(config: &Config) -> PartialConfig {
    PartialConfig {
        issuer: Some(config.issuer.clone()),
        client_id: Some(config.client_id.clone()),
        scopes: Some(config.scopes.clone()),
        params: config.extra_params.iter().cloned().collect(),
        api_url: config.api_url.as_ref().map(|u| u.to_string()),
        dpop: Some(config.dpop),
        ..PartialConfig::default()
    }
}

/// What can go wrong choosing, adding or removing an account.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The name can't be an account's.
    #[error("{name:?} is not a valid account name: {why}")]
    InvalidName {
        /// The name given (cut to a bounded length).
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// No account has this name.
    #[error("there is no account named {name:?}")]
    Unknown {
        /// The name asked for.
        name: AccountName,
    },
    /// Adding an account under a name that already holds a session: its provider and
    /// protection stay as they are; sign it out first.
    #[error("the account {name:?} already exists with a stored session; sign it out first")]
    Exists {
        /// The name.
        name: AccountName,
    },
    /// The registry file could not be read or written.
    #[error("the account registry {path} could not be {action}")]
    Registry {
        /// What was being done ("read", "written", "locked").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The registry file is not one this version reads.
    #[error("the account registry {path} is not readable: {reason}")]
    RegistryCorrupt {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// The account's engine failed.
    #[error(transparent)]
    Engine(#[from] crate::Error),
}

impl AccountError {
    /// The engine's classification, for front ends mapping errors to exit codes or screens.
    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            Self::Engine(e) => e.kind(),
            Self::InvalidName { .. } | Self::Unknown { .. } | Self::RegistryCorrupt { .. } => {
                crate::ErrorKind::Configuration
            }
            Self::Exists { .. } => crate::ErrorKind::WrongState,
            Self::Registry { .. } => crate::ErrorKind::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_stay_one_directory_below_the_accounts_directory() {
        for bad in [
            "", ".", "..", "a/b", "a\\b", "../x", "Work", "wörk", "a b", "-x", "_x", "con", "com1",
            "lpt9", "x.y",
        ] {
            assert!(AccountName::new(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(AccountName::new(&"a".repeat(33)).is_err());
        for good in ["work", "personal", "a", "w0rk-2_x", "console", "com10"] {
            assert_eq!(AccountName::new(good).unwrap().as_str(), good);
        }
        assert!(AccountName::new(&"a".repeat(32)).is_ok());
    }

    #[test]
    fn the_default_account_keeps_todays_vault_directory_and_others_get_their_own() {
        let base = Path::new("/data");
        assert_eq!(
            vault_dir(base, &AccountName::default()),
            Path::new("/data/vault")
        );
        let work = AccountName::new("work").unwrap();
        assert_eq!(
            vault_dir(base, &work),
            Path::new("/data/accounts/work/vault")
        );
    }

    #[test]
    fn a_registry_entry_with_an_invalid_name_does_not_deserialize() {
        assert!(serde_json::from_str::<AccountName>("\"../etc\"").is_err());
        assert!(serde_json::from_str::<AccountName>("\"work\"").is_ok());
    }
}
