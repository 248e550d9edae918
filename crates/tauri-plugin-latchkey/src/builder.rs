//! The host app's configuration of the plugin: the provider, the unlock methods, the API origins
//! script's `fetch` may reach, the idle lock, and the optional settings-file and environment
//! layers. Everything here is decided in Rust: nothing callable from the WebView changes it.

use std::path::PathBuf;
use std::time::Duration;

use latchkey::PartialConfig;
use tauri::plugin::TauriPlugin;
use tauri::Runtime;

/// How the user may unlock the vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unlock {
    /// The PIN only.
    Pin,
    /// The platform's biometric unlock where it has one (Android keystore cipher, Face ID /
    /// Touch ID keychain item, Windows Hello, Linux fprintd), the PIN always the fallback.
    #[default]
    PinOrBiometric,
}

/// The default idle lock: the vault locks after this long without user activity.
pub const DEFAULT_IDLE_LOCK: Duration = Duration::from_secs(15 * 60);

/// What the builder collected (shared by every account).
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// The lowest configuration layer: the builder's own values.
    pub base: PartialConfig,
    /// The settings file's name in the data directory, when the host keeps one.
    pub settings_file: Option<PathBuf>,
    /// Whether `LATCHKEY_*` variables (and `LATCHKEY_DATA_DIR`) apply.
    pub env: bool,
    /// The origins script's `fetch` may reach.
    pub origins: Vec<url::Origin>,
    /// As given to [`Builder::idle_lock`].
    pub idle_lock: Option<Duration>,
    /// As given to [`Builder::unlock`].
    pub unlock: Unlock,
    /// Origins that did not parse (reported when the plugin starts).
    pub bad_origins: Vec<String>,
}

/// Builds the plugin: `.plugin(tauri_plugin_latchkey::Builder::new().issuer(..).client_id(..).build())`.
#[derive(Debug, Clone)]
pub struct Builder {
    options: Options,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// A builder with no provider yet, biometric-or-PIN unlock, a 15-minute idle lock, no API
    /// origins, no settings file and no environment layer.
    pub fn new() -> Self {
        Self {
            options: Options {
                base: PartialConfig::default(),
                settings_file: None,
                env: false,
                origins: Vec::new(),
                idle_lock: Some(DEFAULT_IDLE_LOCK),
                unlock: Unlock::default(),
                bad_origins: Vec::new(),
            },
        }
    }

    /// The whole provider configuration as one layer (latchkey-core's settings-file shape); the
    /// other provider methods overlay it.
    pub fn config(mut self, config: PartialConfig) -> Self {
        self.options.base = self.options.base.merge(config);
        self
    }

    /// The issuer (https, or http on 127.0.0.1 / [::1] for development).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.options.base.issuer = Some(issuer.into());
        self
    }

    /// The public client's id, registered at the provider with the app's redirect URIs.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.options.base.client_id = Some(client_id.into());
        self
    }

    /// The scopes to request (`openid` for an ID token, `offline_access` for a refresh token).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.options.base.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// An extra authorization-request parameter (`prompt`, `max_age`, ...; the protocol's own
    /// parameters are refused when the configuration is checked).
    pub fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.base.params.insert(key.into(), value.into());
        self
    }

    /// An origin (`https://api.example.com`, scheme, host and port) script's `fetch` may send the
    /// access token to. Repeatable. None by default: `fetch` then refuses every URL.
    pub fn api_origin(mut self, origin: impl AsRef<str>) -> Self {
        match url::Url::parse(origin.as_ref()).map(|u| u.origin()) {
            Ok(parsed) if parsed.is_tuple() => self.options.origins.push(parsed),
            _ => self.options.bad_origins.push(origin.as_ref().to_owned()),
        }
        self
    }

    /// The unlock methods.
    pub fn unlock(mut self, unlock: Unlock) -> Self {
        self.options.unlock = unlock;
        self
    }

    /// Lock after this long without user activity (`None`: never).
    pub fn idle_lock(mut self, idle_lock: Option<Duration>) -> Self {
        self.options.idle_lock = idle_lock;
        self
    }

    /// Keep a settings layer in the data directory under `name` (TOML, latchkey-core's settings
    /// shape), above the builder's values; [`crate::Latchkey::reconfigure`] writes it.
    pub fn settings_file(mut self, name: impl Into<PathBuf>) -> Self {
        self.options.settings_file = Some(name.into());
        self
    }

    /// Let `LATCHKEY_*` environment variables (the CLI's) override the configuration, and
    /// `LATCHKEY_DATA_DIR` choose the data directory. Off by default.
    pub fn env_overrides(mut self, enabled: bool) -> Self {
        self.options.env = enabled;
        self
    }

    /// The plugin.
    pub fn build<R: Runtime>(self) -> TauriPlugin<R> {
        crate::plugin(self.options)
    }
}
