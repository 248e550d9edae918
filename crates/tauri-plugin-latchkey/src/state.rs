//! What the plugin holds per account: the Latchkey facade for the current settings (replaced
//! when the settings change), where its files live, and the platform's unlock method. The map
//! of accounts is in `accounts.rs`.

use std::path::PathBuf;
use std::sync::Arc;

use latchkey::vault::{BiometricStatus, KeyProtector};
use latchkey::{Latchkey, PartialConfig};
use tokio::sync::RwLock;

use crate::builder::Options;
use crate::error::{Error, ErrorKind};
use crate::models::{AccountId, Status};

pub use crate::accounts::Accounts;

/// Where an account keeps its files.
#[derive(Debug, Clone)]
pub struct AppPaths {
    /// The stored settings layer (issuer, client_id, scopes, params, api_url), when the host
    /// keeps one ([`crate::Builder::settings_file`]).
    pub settings: Option<PathBuf>,
    /// The vault directory.
    pub vault: PathBuf,
}

/// One account's state.
pub struct AccountState {
    /// Its name.
    pub id: AccountId,
    /// Where the files live.
    pub paths: AppPaths,
    options: Arc<Options>,
    protector: Arc<dyn KeyProtector>,
    /// The platform's biometric protector (a second wrap of the vault key), if it has one.
    biometric: Option<Arc<dyn KeyProtector>>,
    latchkey: RwLock<Result<Arc<Latchkey>, Error>>,
    /// Forwards the current facade's status and events to subscribers; replaced with the facade.
    forwarder: std::sync::Mutex<Option<crate::subscribers::Forwarder>>,
    /// The channels script subscribed with.
    pub subscribers: crate::subscribers::Subscribers,
    /// The provider settings the account was added with (the registry's; empty for the default
    /// account, which takes the builder's): a layer above the builder's values.
    provider: PartialConfig,
}

impl AccountState {
    /// Loads the settings (the builder's, the file, then `LATCHKEY_*` environment) and opens the
    /// vault.
    pub(crate) fn new(
        id: AccountId,
        paths: AppPaths,
        provider: PartialConfig,
        options: Arc<Options>,
        protector: Arc<dyn KeyProtector>,
        biometric: Option<Arc<dyn KeyProtector>>,
    ) -> Self {
        let latchkey = open(&paths, &provider, &options, &protector, biometric.as_ref());
        Self {
            provider,
            id,
            paths,
            options,
            protector,
            biometric,
            latchkey: RwLock::new(latchkey),
            forwarder: std::sync::Mutex::new(None),
            subscribers: Default::default(),
        }
    }

    /// The facade, or why there is none (unusable settings, a vault directory that can't be
    /// opened), with its own kind.
    pub async fn latchkey(&self) -> Result<Arc<Latchkey>, Error> {
        self.latchkey.read().await.clone()
    }

    /// The facade, without waiting: `None` while settings are being replaced (the window-event
    /// handler runs on the main thread and must not block).
    pub fn latchkey_now(&self) -> Option<Arc<Latchkey>> {
        self.latchkey.try_read().ok()?.as_ref().ok().cloned()
    }

    /// `url` parsed, if its origin is one the host allowed for script's `fetch`
    /// ([`crate::Builder::api_origin`]); script cannot add one.
    pub fn allowed_url(&self, url: &str) -> Result<url::Url, Error> {
        let parsed = url::Url::parse(url)
            .map_err(|e| Error::new(ErrorKind::Configuration, format!("not a URL ({e})")))?;
        let origin = parsed.origin();
        if origin.is_tuple() && self.options.origins.contains(&origin) {
            Ok(parsed)
        } else {
            Err(Error::new(
                ErrorKind::OriginNotAllowed,
                format!(
                    "{} is not an API origin this app allows",
                    origin.ascii_serialization()
                ),
            ))
        }
    }

    /// The idle-lock time the host chose.
    pub fn idle_lock(&self) -> Option<std::time::Duration> {
        self.options.idle_lock
    }

    /// Keeps `forwarder` running (dropping the previous one, which belonged to a replaced facade).
    pub fn keep_forwarder(&self, forwarder: crate::subscribers::Forwarder) {
        let mut slot = self.forwarder.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(forwarder);
    }

    /// The settings as stored (file only, without the builder's values or the environment).
    pub fn settings(&self) -> Result<PartialConfig, Error> {
        match &self.paths.settings {
            Some(path) if path.exists() => Ok(PartialConfig::from_file(path)?),
            _ => Ok(PartialConfig::default()),
        }
    }

    /// Validates and stores new settings, then reopens Latchkey with them.
    ///
    /// Refused while a session exists (signed in, or locked in the vault): new settings would
    /// send the session's tokens to another API or swap its provider. Settings that would lower
    /// DPoP or PAR below the policy in effect are refused whatever the state
    /// ([`latchkey::config::check_dpop_not_lowered`], [`latchkey::config::check_par_not_lowered`]). Signed out, the old facade is shut
    /// down (its background tasks stopped) before the new one replaces it.
    pub async fn replace_settings(&self, settings: PartialConfig) -> Result<Arc<Latchkey>, Error> {
        let Some(path) = &self.paths.settings else {
            return Err(Error::new(
                ErrorKind::Configuration,
                "this app keeps no settings file (tauri_plugin_latchkey::Builder::settings_file)",
            ));
        };
        let mut slot = self.latchkey.write().await;
        match &*slot {
            Ok(current) => current.check_reconfigure()?,
            // Unusable settings: no facade, but the vault may still hold a session.
            Err(_) => latchkey::check_no_stored_session(&self.paths.vault)?,
        }
        // Refuse invalid settings before writing them (checked over the builder's values).
        self.options
            .base
            .clone()
            .merge(self.provider.clone())
            .merge(settings.clone())
            .finish()?;
        // DPoP can be raised from here, never lowered: script may have signed the user out, and
        // the next session must not be weaker (the environment still applies on top).
        let env = if self.options.env {
            PartialConfig::from_env(std::env::vars())?
        } else {
            PartialConfig::default()
        };
        let base = self.options.base.clone().merge(self.provider.clone());
        let in_effect = base.clone().merge(self.settings()?).merge(env.clone());
        let requested = base.merge(settings.clone()).merge(env);
        latchkey::config::check_dpop_not_lowered(
            in_effect.dpop.unwrap_or_default(),
            requested.dpop.unwrap_or_default(),
        )?;
        // PAR likewise (RFC 9126): script may raise it, never turn it off or down.
        latchkey::config::check_par_not_lowered(
            in_effect.par.unwrap_or_default(),
            requested.par.unwrap_or_default(),
        )?;
        settings.save_to_file(path)?;
        if let Ok(old) = &*slot {
            old.shutdown().await;
        }
        *slot = open(
            &self.paths,
            &self.provider,
            &self.options,
            &self.protector,
            self.biometric.as_ref(),
        );
        slot.clone()
    }

    /// The status of the current state.
    pub async fn view(&self) -> Status {
        let (unlock_method, unlock_label) = crate::platform::unlock_wording();
        let biometric_label = self
            .biometric
            .is_some()
            .then(crate::platform::biometric_label)
            .flatten();
        match &*self.latchkey.read().await {
            Ok(latchkey) => Status {
                account: self.id.clone(),
                configured: true,
                config_error: None,
                session: Some(latchkey.status()),
                unlock_method,
                unlock_label,
                has_api: latchkey.config().api_url.is_some(),
                biometric: latchkey.biometric_status(),
                biometric_label,
            },
            Err(e) => Status {
                account: self.id.clone(),
                configured: false,
                config_error: Some(e.message.clone()),
                session: None,
                unlock_method,
                unlock_label,
                has_api: false,
                biometric: BiometricStatus::NotOffered,
                biometric_label,
            },
        }
    }
}

fn open(
    paths: &AppPaths,
    provider: &PartialConfig,
    options: &Options,
    protector: &Arc<dyn KeyProtector>,
    biometric: Option<&Arc<dyn KeyProtector>>,
) -> Result<Arc<Latchkey>, Error> {
    let file = match &paths.settings {
        Some(path) if path.exists() => PartialConfig::from_file(path)?,
        _ => PartialConfig::default(),
    };
    let mut layered = options.base.clone().merge(provider.clone()).merge(file);
    if options.env {
        layered = layered.merge(PartialConfig::from_env(std::env::vars())?);
    }
    let config = layered.finish()?;
    let latchkey = match biometric {
        Some(bio) => Latchkey::open_with_biometric(
            config,
            &paths.vault,
            protector.clone(),
            bio.clone(),
            crate::platform::PROMPT_REASON,
        )?,
        None => Latchkey::open(config, &paths.vault, protector.clone())?,
    };
    Ok(Arc::new(latchkey))
}
