//! What the app holds: the Latchkey facade for the current settings (replaced when the settings
//! change), where its files live, and the platform's unlock method.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use latchkey_core::vault::{BiometricStatus, KeyProtector};
use latchkey_core::{Latchkey, PartialConfig, SessionStatus, UnlockMethod};
use serde::Serialize;
use tokio::sync::RwLock;

use crate::error::IpcError;

/// The vault locks itself after this long without user activity.
pub const IDLE_LOCK: Duration = Duration::from_secs(15 * 60);

/// Where the app keeps its files.
#[derive(Debug, Clone)]
pub struct AppPaths {
    /// The data directory (one app instance per directory).
    pub base: PathBuf,
    /// settings.toml: issuer, client_id, scopes, params, api_url.
    pub settings: PathBuf,
    /// The vault directory.
    pub vault: PathBuf,
}

/// The app's state.
pub struct AppState {
    /// Where the files live.
    pub paths: AppPaths,
    protector: Arc<dyn KeyProtector>,
    /// The platform's biometric protector (a second wrap of the vault key), if it has one.
    biometric: Option<Arc<dyn KeyProtector>>,
    latchkey: RwLock<Result<Arc<Latchkey>, IpcError>>,
    /// Forwards the current facade's status and events to the UI; replaced with the facade.
    forwarder: std::sync::Mutex<Option<crate::events::Forwarder>>,
}

/// Everything the UI renders. Holds no token.
#[derive(Debug, Clone, Serialize)]
pub struct AppView {
    /// False until the settings name an issuer and a client.
    pub configured: bool,
    /// Why the settings are not usable, if they aren't.
    pub config_error: Option<String>,
    /// The session, when configured.
    pub session: Option<SessionStatus>,
    /// How this platform unlocks the vault.
    pub unlock_method: UnlockMethod,
    /// The word for it in the UI ("PIN", "Touch ID", "fingerprint").
    pub unlock_label: &'static str,
    /// Whether a protected API is configured for "Call API".
    pub has_api: bool,
    /// What biometric unlock can do now (`not_offered` where the platform has none).
    pub biometric: BiometricStatus,
    /// The word for the biometric unlock ("fingerprint"), where there is one.
    pub biometric_label: Option<&'static str>,
}

impl AppState {
    /// Loads the settings (the file, then `LATCHKEY_*` environment) and opens the vault.
    pub fn new(paths: AppPaths, protector: Arc<dyn KeyProtector>) -> Self {
        let latchkey = open(&paths, &protector, None);
        Self {
            paths,
            protector,
            biometric: None,
            latchkey: RwLock::new(latchkey),
            forwarder: std::sync::Mutex::new(None),
        }
    }

    /// Adds the platform's biometric protector (reopening the facade with it).
    pub fn with_biometric(mut self, biometric: Option<Arc<dyn KeyProtector>>) -> Self {
        if biometric.is_some() {
            self.latchkey = RwLock::new(open(&self.paths, &self.protector, biometric.as_ref()));
            self.biometric = biometric;
        }
        self
    }

    /// The facade, or why there is none (unusable settings, a vault directory that can't be
    /// opened), with its own kind.
    pub async fn latchkey(&self) -> Result<Arc<Latchkey>, IpcError> {
        self.latchkey.read().await.clone()
    }

    /// The facade, without waiting: `None` while settings are being replaced (the window-event
    /// handler runs on the main thread and must not block).
    pub fn latchkey_now(&self) -> Option<Arc<Latchkey>> {
        self.latchkey.try_read().ok()?.as_ref().ok().cloned()
    }

    /// Keeps `forwarder` running (dropping the previous one, which belonged to a replaced facade).
    pub fn keep_forwarder(&self, forwarder: crate::events::Forwarder) {
        let mut slot = self.forwarder.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(forwarder);
    }

    /// The settings as stored (file only, without the environment overlay).
    pub fn settings(&self) -> Result<PartialConfig, IpcError> {
        if self.paths.settings.exists() {
            Ok(PartialConfig::from_file(&self.paths.settings)?)
        } else {
            Ok(PartialConfig::default())
        }
    }

    /// Validates and stores new settings, then reopens Latchkey with them.
    ///
    /// Refused while a session exists (signed in, or locked in the vault): the WebView calls
    /// this, and new settings would send the session's tokens to another API or swap its
    /// provider. Settings that would lower DPoP below the policy in effect are refused whatever
    /// the state ([`latchkey_core::config::check_dpop_not_lowered`]). Signed out, the old facade
    /// is shut down (its background tasks stopped) before
    /// the new one replaces it.
    pub async fn replace_settings(
        &self,
        settings: PartialConfig,
    ) -> Result<Arc<Latchkey>, IpcError> {
        let mut slot = self.latchkey.write().await;
        match &*slot {
            Ok(current) => current.check_reconfigure()?,
            // Unusable settings: no facade, but the vault may still hold a session.
            Err(_) => latchkey_core::app::check_no_stored_session(&self.paths.vault)?,
        }
        settings.clone().finish()?; // refuse invalid settings before writing them
                                    // DPoP can be raised from here, never lowered (the environment still applies on top).
        let env = PartialConfig::from_env(std::env::vars())?;
        let in_effect = self.settings()?.merge(env.clone()).dpop.unwrap_or_default();
        let requested = settings.clone().merge(env).dpop.unwrap_or_default();
        latchkey_core::config::check_dpop_not_lowered(in_effect, requested)?;
        settings.save_to_file(&self.paths.settings)?;
        if let Ok(old) = &*slot {
            old.shutdown().await;
        }
        *slot = open(&self.paths, &self.protector, self.biometric.as_ref());
        slot.clone()
    }

    /// The view of the current state.
    pub async fn view(&self) -> AppView {
        let (unlock_method, unlock_label) = crate::platform::unlock_wording();
        match &*self.latchkey.read().await {
            Ok(latchkey) => AppView {
                configured: true,
                config_error: None,
                session: Some(latchkey.status()),
                unlock_method,
                unlock_label,
                has_api: latchkey.config().api_url.is_some(),
                biometric: latchkey.biometric_status(),
                biometric_label: crate::platform::biometric_label(),
            },
            Err(e) => AppView {
                configured: false,
                config_error: Some(e.message.clone()),
                session: None,
                unlock_method,
                unlock_label,
                has_api: false,
                biometric: BiometricStatus::NotOffered,
                biometric_label: crate::platform::biometric_label(),
            },
        }
    }
}

fn open(
    paths: &AppPaths,
    protector: &Arc<dyn KeyProtector>,
    biometric: Option<&Arc<dyn KeyProtector>>,
) -> Result<Arc<Latchkey>, IpcError> {
    let file = if paths.settings.exists() {
        PartialConfig::from_file(&paths.settings)?
    } else {
        PartialConfig::default()
    };
    let env = PartialConfig::from_env(std::env::vars())?;
    let config = file.merge(env).finish()?;
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
