//! The accounts of one base directory, each opened as its own [`Latchkey`]: what a front end
//! holds when it offers more than one account. Every account is a separate facade over a
//! separate vault directory, so its cross-process lock, single-flight refresh, scheduler and idle
//! lock are its own: refreshing, locking or signing out one never waits on or touches another.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Mutex;

use super::accounts::{vault_dir, AccountError, AccountName};
use super::registry::{KnownAccount, Registry};
use super::Latchkey;
use crate::config::{Config, PartialConfig};
use crate::session::{SessionState, SignOutReport};

/// Opens one account's facade: its name, its configuration and its vault directory. The front
/// end chooses the protectors (PIN, biometric) here; each call gets a fresh facade.
pub type OpenAccount = dyn Fn(&AccountName, Config, &Path) -> crate::Result<Latchkey> + Send + Sync;

/// An account as a front end lists it: never a token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccountSummary {
    /// Its name.
    pub name: AccountName,
    /// Its issuer.
    pub issuer: Option<String>,
    /// Its client.
    pub client_id: Option<String>,
    /// Its state: `signed_in` only when this front end holds it unlocked; a stored session it
    /// hasn't unlocked is `locked`.
    pub state: SessionState,
    /// Who is signed in (`sub`).
    pub subject: Option<String>,
    /// Their display name.
    pub display_name: Option<String>,
}

/// Several accounts side by side.
pub struct AccountSet {
    registry: Registry,
    opener: Arc<OpenAccount>,
    open: Mutex<BTreeMap<AccountName, Arc<Latchkey>>>,
}

impl std::fmt::Debug for AccountSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountSet")
            .field("base", &self.registry.base())
            .finish_non_exhaustive()
    }
}

impl AccountSet {
    /// The accounts in `base`, each opened (when first asked for) with `opener`. Nothing is read
    /// yet.
    pub fn new(base: &Path, opener: Arc<OpenAccount>) -> Self {
        Self {
            registry: Registry::new(base),
            opener,
            open: Mutex::new(BTreeMap::new()),
        }
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The base directory.
    pub fn base(&self) -> &Path {
        self.registry.base()
    }

    /// `name`'s vault directory.
    pub fn vault_dir(&self, name: &AccountName) -> PathBuf {
        vault_dir(self.base(), name)
    }

    /// Every account (see [`Registry::list`]), with the state of those this set holds open.
    pub async fn list(&self) -> Result<Vec<AccountSummary>, AccountError> {
        let known = self.registry.list()?;
        let open = self.open.lock().await;
        Ok(known
            .into_iter()
            .map(|account| {
                let state = match open.get(&account.name) {
                    Some(latchkey) => latchkey.status().state,
                    None if account.stored => SessionState::Locked,
                    None => SessionState::SignedOut,
                };
                summary(account, state)
            })
            .collect())
    }

    /// The facade of the existing account `name` (opened locked the first time: call
    /// [`Latchkey::start`] or [`Latchkey::resume`] on it).
    ///
    /// # Errors
    /// [`AccountError::Unknown`] when no account has that name.
    pub async fn account(&self, name: &AccountName) -> Result<Arc<Latchkey>, AccountError> {
        let mut open = self.open.lock().await;
        if let Some(latchkey) = open.get(name) {
            return Ok(latchkey.clone());
        }
        let known = self
            .registry
            .find(name)?
            .ok_or_else(|| AccountError::Unknown { name: name.clone() })?;
        let config = known.provider.finish().map_err(crate::Error::from)?;
        let latchkey = Arc::new((self.opener)(name, config, &self.vault_dir(name))?);
        open.insert(name.clone(), latchkey.clone());
        Ok(latchkey)
    }

    /// Adds the account `name` with `provider`'s settings and returns its facade, signed out:
    /// the caller signs it in ([`Latchkey::sign_in`]) with its own PIN. The other accounts are
    /// not touched.
    ///
    /// # Errors
    /// [`AccountError::Exists`] when `name` already holds a session (signed in or locked): its
    /// provider and protection are never replaced from here. A name whose sign-in never
    /// completed (or was signed out) may be added again.
    pub async fn add(
        &self,
        name: &AccountName,
        provider: PartialConfig,
    ) -> Result<Arc<Latchkey>, AccountError> {
        let config = provider.clone().finish().map_err(crate::Error::from)?;
        let mut open = self.open.lock().await;
        let holds_session = match open.get(name) {
            Some(latchkey) => {
                latchkey.check_sign_in().is_err() || latchkey.vault().is_initialized()
            }
            None => self.registry.find(name)?.is_some_and(|a| a.stored),
        };
        if holds_session {
            return Err(AccountError::Exists { name: name.clone() });
        }
        if let Some(old) = open.remove(name) {
            old.shutdown().await;
        }
        self.registry.register(name, &provider)?;
        let latchkey = Arc::new((self.opener)(name, config, &self.vault_dir(name))?);
        open.insert(name.clone(), latchkey.clone());
        Ok(latchkey)
    }

    /// Signs out `name` only: revokes at its server, erases its vault, forgets its registry
    /// entry. Every other account stays as it is (signed in ones keep working, with no prompt).
    /// With the last account gone, the base directory is back at the first-run state.
    pub async fn sign_out(&self, name: &AccountName) -> Result<SignOutReport, AccountError> {
        let latchkey = self.account(name).await?;
        let report = latchkey.sign_out().await?;
        latchkey.shutdown().await;
        self.open.lock().await.remove(name);
        self.registry.remove(name)?;
        Ok(report)
    }

    /// Stops every open account's background tasks and locks it.
    pub async fn shutdown(&self) {
        let open = std::mem::take(&mut *self.open.lock().await);
        for latchkey in open.values() {
            latchkey.shutdown().await;
        }
    }
}

fn summary(account: KnownAccount, state: SessionState) -> AccountSummary {
    AccountSummary {
        name: account.name,
        issuer: account.provider.issuer,
        client_id: account.provider.client_id,
        state,
        subject: account.subject,
        display_name: account.display_name,
    }
}
