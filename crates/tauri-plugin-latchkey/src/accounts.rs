//! The accounts, by name: managed state. The default account keeps today's files (`<base>/vault`
//! and the settings file beside it); every other account lives in `<base>/accounts/<name>/` with
//! its own vault (own key, PIN wrap, biometric wrap, DPoP key, lock file) and its own facade
//! (own scheduler and idle lock), listed in latchkey-core's account registry with the provider
//! it was added with.
//!
//! Script may add an account (with the builder's provider or one the host named with
//! [`crate::Builder::account_provider`]) and sign it in, and sign one out. It can never change an
//! existing account's provider or protection: adding a name that holds a session is refused.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use latchkey::accounts::{account_dir, vault_dir};
use latchkey::registry::Registry;
use latchkey::vault::KeyProtector;
use latchkey::AccountName;
use latchkey::{PartialConfig, SessionState};

use crate::builder::Options;
use crate::error::{Error, ErrorKind};
use crate::models::{AccountId, Status};
use crate::state::{AccountState, AppPaths};

/// Every account of the app's data directory.
pub struct Accounts {
    base: PathBuf,
    options: Arc<Options>,
    protector: Arc<dyn KeyProtector>,
    biometric: Option<Arc<dyn KeyProtector>>,
    registry: Registry,
    accounts: RwLock<BTreeMap<AccountId, Arc<AccountState>>>,
    _instance: crate::instance::InstanceLock,
}

impl Accounts {
    /// The default account and every account the registry lists in `base`, holding the instance
    /// lock for `base`.
    pub fn open(
        base: PathBuf,
        options: Arc<Options>,
        protector: Arc<dyn KeyProtector>,
        biometric: Option<Arc<dyn KeyProtector>>,
    ) -> Result<Self, crate::instance::InstanceError> {
        let instance = crate::instance::InstanceLock::claim(&base)?;
        let registry = Registry::new(&base);
        let this = Self {
            base,
            options,
            protector,
            biometric,
            registry,
            accounts: RwLock::new(BTreeMap::new()),
            _instance: instance,
        };
        this.insert(&AccountName::default(), PartialConfig::default());
        match this.registry.list() {
            Ok(known) => {
                for account in known.into_iter().filter(|a| !a.name.is_default()) {
                    this.insert(&account.name, account.provider);
                }
            }
            Err(e) => tracing::error!(error = %e, "the account registry could not be read"),
        }
        Ok(this)
    }

    fn insert(&self, name: &AccountName, provider: PartialConfig) -> Arc<AccountState> {
        let dir = account_dir(&self.base, name);
        let paths = AppPaths {
            settings: self.options.settings_file.as_ref().map(|f| dir.join(f)),
            vault: vault_dir(&self.base, name),
        };
        let id = AccountId::new(name.as_str());
        let state = Arc::new(AccountState::new(
            id.clone(),
            paths,
            provider,
            self.options.clone(),
            self.protector.clone(),
            self.biometric.clone(),
        ));
        self.write().insert(id, state.clone());
        state
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<AccountId, Arc<AccountState>>> {
        self.accounts.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<AccountId, Arc<AccountState>>> {
        self.accounts.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The account named `id`.
    pub fn get(&self, id: &AccountId) -> Result<Arc<AccountState>, Error> {
        self.read().get(id).cloned().ok_or_else(|| {
            Error::new(
                ErrorKind::UnknownAccount,
                format!("there is no account named {id:?}"),
            )
        })
    }

    /// Every account, the default first.
    pub fn all(&self) -> Vec<Arc<AccountState>> {
        let mut all: Vec<_> = self.read().values().cloned().collect();
        all.sort_by_key(|a| (a.id.as_str() != AccountId::DEFAULT, a.id.clone()));
        all
    }

    /// Every account's status, the default first (no token in any).
    pub async fn statuses(&self) -> Vec<Status> {
        let mut statuses = Vec::new();
        for account in self.all() {
            statuses.push(account.view().await);
        }
        statuses
    }

    /// Adds the account `name`, signed out, with the app's provider (the builder's values and
    /// the stored settings) or the one the host named `provider`; the caller starts it and the user signs it in with its own PIN.
    ///
    /// # Errors
    /// `configuration` for an invalid name or a provider the host didn't name; `wrong_state`
    /// when the name is taken (its provider and protection stay as they are).
    pub fn add(&self, name: &str, provider: Option<&str>) -> Result<Arc<AccountState>, Error> {
        let name = AccountName::new(name)?;
        let chosen = match provider {
            None => PartialConfig::default(),
            Some(p) => self.options.providers.get(p).cloned().ok_or_else(|| {
                Error::new(
                    ErrorKind::Configuration,
                    format!("{p:?} is not a provider this app offers for a new account"),
                )
            })?,
        };
        if name.is_default() || self.read().contains_key(&AccountId::new(name.as_str())) {
            return Err(Error::new(
                ErrorKind::WrongState,
                format!("an account named {:?} already exists", name.as_str()),
            ));
        }
        // The provider as it is now, recorded: a later change of the builder's values or the
        // app's settings never moves an existing account to another provider. Without a named
        // provider: the app's own (the builder's values and the settings the host stored).
        let host = self.get(&AccountId::default())?.settings()?;
        let recorded = self.options.base.clone().merge(host).merge(chosen);
        // Checked as the account will be opened (the environment layer, when on, applies last).
        let env = if self.options.env {
            PartialConfig::from_env(std::env::vars())?
        } else {
            PartialConfig::default()
        };
        recorded.clone().merge(env).finish()?;
        self.registry.register(&name, &recorded)?;
        Ok(self.insert(&name, recorded))
    }

    /// After `id` signed out: forgets its registry entry and, unless it is the default account
    /// (which stays, signed out, as the first-run state), the account itself.
    pub async fn forget(&self, id: &AccountId) -> Result<(), Error> {
        let name = AccountName::new(id.as_str())?;
        let state = self.get(id)?;
        if let Ok(latchkey) = state.latchkey().await {
            if latchkey.status().state == SessionState::SignedIn
                || latchkey.vault().is_initialized()
            {
                return Ok(());
            }
            if !name.is_default() {
                latchkey.shutdown().await;
            }
        }
        self.registry.remove(&name)?;
        if !name.is_default() {
            self.write().remove(id);
        }
        Ok(())
    }
}
