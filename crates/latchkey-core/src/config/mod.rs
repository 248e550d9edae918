//! Client configuration: issuer, client_id, scopes, extra authorization parameters, timeouts.
//!
//! Built in layers, each overriding the one before: defaults → a TOML file → `LATCHKEY_*`
//! environment variables → explicit values (CLI flags, app settings). [`PartialConfig`] is one
//! layer; [`PartialConfig::finish`] validates the merged result and names the setting at fault in
//! a [`ConfigError`] a person can read, whichever front end shows it.
//!
//! `layers` reads and merges the layers, `validate` holds the check for each setting, and
//! `error` the error and the words its messages use.
//!
//! ```toml
//! issuer = "https://login.example.com"
//! client_id = "my-native-app"
//! scopes = ["openid", "profile", "offline_access"]
//! http_timeout_secs = 10
//! login_timeout_secs = 300
//! # Only for providers that match loopback redirect URIs exactly; tried in order.
//! redirect_ports = [8765, 8766]
//! # DPoP-bound tokens: "auto" (default: when the provider offers them), "required", "off".
//! dpop = "auto"
//! # Pushed authorization requests (RFC 9126): "auto" (default: when the provider lists the
//! # endpoint), "required" (refuse a provider without one), "off" (unless the provider requires them).
//! par = "auto"
//!
//! [params]
//! prompt = "consent"
//! ```

mod error;
mod layers;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

pub use error::ConfigError;
pub use layers::parse_param;

/// The scopes used when none are configured.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "profile", "offline_access"];

/// Authorization-request parameters configuration may not set (compared case-insensitively):
/// the ones the engine sets itself (`client_id`, `response_type`, `redirect_uri`, `scope` — set
/// through `scopes` — `state`, `nonce`, PKCE's `code_challenge` and `code_challenge_method`,
/// `response_mode`, DPoP's `dpop_jkt`), the ones that would replace the whole request with one
/// the engine never checked (JAR's `request`, JAR's and PAR's `request_uri`), and client
/// credentials a public client never sends (`client_secret`, `client_assertion*`). Settings a
/// WebView may write must not be able to send one twice or switch a protection off.
pub const RESERVED_PARAMS: &[&str] = &[
    "client_id",
    "response_type",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
    "dpop_jkt",
    "request",
    "request_uri",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

/// Refuses a settings change that would lower DPoP below the policy in effect (`required` to
/// `auto` or `off`, `auto` to `off`). Settings a WebView may write can raise it; lowering it is a
/// protection switched off, which takes the settings file or `LATCHKEY_DPOP`, not the app's
/// window.
///
/// # Errors
/// [`ConfigError::Invalid`] naming `dpop`.
pub fn check_dpop_not_lowered(
    current: DpopPolicy,
    requested: DpopPolicy,
) -> Result<(), ConfigError> {
    let rank = |p: DpopPolicy| match p {
        DpopPolicy::Off => 0,
        DpopPolicy::Auto => 1,
        DpopPolicy::Required => 2,
    };
    if rank(requested) < rank(current) {
        return Err(ConfigError::invalid(
            "dpop",
            format!(
                "can't be lowered from {current:?} to {requested:?} here; edit the settings file or set LATCHKEY_DPOP"
            ),
        ));
    }
    Ok(())
}

/// Refuses a settings change that would lower PAR below the policy in effect (`required` to
/// `auto` or `off`, `auto` to `off`), like [`check_dpop_not_lowered`]: the app's window may
/// raise it, never lower it.
///
/// # Errors
/// [`ConfigError::Invalid`] naming `par`.
pub fn check_par_not_lowered(current: ParPolicy, requested: ParPolicy) -> Result<(), ConfigError> {
    let rank = |p: ParPolicy| match p {
        ParPolicy::Off => 0,
        ParPolicy::Auto => 1,
        ParPolicy::Required => 2,
    };
    if rank(requested) < rank(current) {
        return Err(ConfigError::invalid(
            "par",
            format!(
                "can't be lowered from {current:?} to {requested:?} here; edit the settings file or set LATCHKEY_PAR"
            ),
        ));
    }
    Ok(())
}

/// When the authorization request is pushed to the provider first (RFC 9126), the browser then
/// carrying only `client_id` and `request_uri`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParPolicy {
    /// When the provider lists a `pushed_authorization_request_endpoint` (the default).
    #[default]
    Auto,
    /// Always: a provider without the endpoint is refused at sign-in.
    Required,
    /// Never, unless the provider requires it (`require_pushed_authorization_requests`).
    Off,
}

impl std::str::FromStr for ParPolicy {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim() {
            "auto" => Ok(Self::Auto),
            "required" => Ok(Self::Required),
            "off" => Ok(Self::Off),
            _ => Err(ConfigError::invalid(
                "par",
                format!("must be \"auto\", \"required\" or \"off\", got {s:?}"),
            )),
        }
    }
}

/// Validated client configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The issuer identifier, exactly as configured: the server's metadata and RFC 9207 `iss`
    /// must equal it by simple string comparison (so `https://x` and `https://x/` differ).
    pub issuer: String,
    /// The public client's id (no client secret: RFC 8252 §8.5).
    pub client_id: String,
    /// Scopes requested at sign-in.
    pub scopes: Vec<String>,
    /// Extra authorization parameters (e.g. `prompt=consent`), in order.
    pub extra_params: Vec<(String, String)>,
    /// The loopback redirect path (default `/callback`).
    pub redirect_path: String,
    /// Fixed loopback redirect ports, tried in order; empty (the default) lets the system choose
    /// an ephemeral port, as RFC 8252 §7.3 recommends. For providers that compare redirect URIs
    /// byte for byte and so can't accept a port chosen at sign-in.
    pub redirect_ports: Vec<u16>,
    /// Timeout for each HTTP request.
    pub http_timeout: Duration,
    /// How long a sign-in waits for the browser to come back.
    pub login_timeout: Duration,
    /// The largest response body accepted from any endpoint.
    pub max_response_bytes: usize,
    /// The protected API the app's "Call API" button calls (configuration, never the WebView,
    /// decides where the access token goes).
    pub api_url: Option<Url>,
    /// Whether tokens are bound to a DPoP key (RFC 9449).
    pub dpop: DpopPolicy,
    /// Whether authorization requests are pushed first (RFC 9126).
    pub par: ParPolicy,
}

/// When the session binds its tokens to a DPoP key (RFC 9449).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DpopPolicy {
    /// When the provider's metadata offers ES256 DPoP proofs (the default).
    #[default]
    Auto,
    /// Always: a provider that doesn't offer DPoP is refused at discovery.
    Required,
    /// Never: plain bearer tokens.
    Off,
}

impl std::str::FromStr for DpopPolicy {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.trim() {
            "auto" => Ok(Self::Auto),
            "required" => Ok(Self::Required),
            "off" => Ok(Self::Off),
            _ => Err(ConfigError::invalid(
                "dpop",
                format!("must be \"auto\", \"required\" or \"off\", got {s:?}"),
            )),
        }
    }
}

impl Config {
    /// The `max_age` sent at sign-in, if configured: the ID token must then carry an
    /// `auth_time` no older than this (OIDC Core §3.1.3.7).
    pub fn max_age(&self) -> Option<Duration> {
        self.extra_params
            .iter()
            .find(|(k, _)| k == "max_age")
            .and_then(|(_, v)| v.parse().ok())
            .map(Duration::from_secs)
    }

    /// A configuration with defaults for everything but the issuer and client_id.
    pub fn new(issuer: &str, client_id: impl Into<String>) -> Result<Self, ConfigError> {
        PartialConfig {
            issuer: Some(issuer.to_owned()),
            client_id: Some(client_id.into()),
            ..PartialConfig::default()
        }
        .finish()
    }

    /// True when the configured scopes include `openid`.
    pub fn is_openid(&self) -> bool {
        self.scopes.iter().any(|s| s == "openid")
    }
}

/// One layer of configuration; every field optional. Deserializes from the TOML file format.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PartialConfig {
    /// See [`Config::issuer`].
    pub issuer: Option<String>,
    /// See [`Config::client_id`].
    pub client_id: Option<String>,
    /// See [`Config::scopes`].
    pub scopes: Option<Vec<String>>,
    /// See [`Config::extra_params`].
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// See [`Config::redirect_path`].
    pub redirect_path: Option<String>,
    /// See [`Config::redirect_ports`]; absent or empty means an ephemeral port.
    pub redirect_ports: Option<Vec<u16>>,
    /// See [`Config::http_timeout`], in seconds.
    pub http_timeout_secs: Option<u64>,
    /// See [`Config::login_timeout`], in seconds.
    pub login_timeout_secs: Option<u64>,
    /// See [`Config::max_response_bytes`].
    pub max_response_bytes: Option<usize>,
    /// See [`Config::api_url`].
    pub api_url: Option<String>,
    /// See [`Config::dpop`].
    pub dpop: Option<DpopPolicy>,
    /// See [`Config::par`].
    pub par: Option<ParPolicy>,
}

impl PartialConfig {
    /// Validates and fills in defaults. The checks run in field order and stop at the first
    /// problem, so a person fixes one setting at a time and the message names it.
    pub fn finish(self) -> Result<Config, ConfigError> {
        let issuer = self.issuer.ok_or_else(|| ConfigError::missing("issuer"))?;
        validate::issuer(&issuer)?;

        let client_id = self
            .client_id
            .ok_or_else(|| ConfigError::missing("client_id"))?;
        validate::client_id(&client_id)?;

        let scopes = match self.scopes {
            Some(s) => s,
            None => DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
        };
        validate::scopes(&scopes)?;

        let extra_params = validate::extra_params(self.params)?;

        let redirect_path = self.redirect_path.unwrap_or_else(|| "/callback".into());
        validate::redirect_path(&redirect_path)?;
        let redirect_ports = self.redirect_ports.unwrap_or_default();
        validate::redirect_ports(&redirect_ports)?;

        let http_timeout =
            validate::seconds("http_timeout_secs", self.http_timeout_secs, 10, 1..=300)?;
        let login_timeout =
            validate::seconds("login_timeout_secs", self.login_timeout_secs, 300, 1..=3600)?;
        let max_response_bytes = self.max_response_bytes.unwrap_or(1024 * 1024);
        validate::max_response_bytes(max_response_bytes)?;

        let api_url = match self.api_url.filter(|u| !u.trim().is_empty()) {
            None => None,
            Some(raw) => Some(validate::api_url(&raw)?),
        };

        Ok(Config {
            api_url,
            dpop: self.dpop.unwrap_or_default(),
            par: self.par.unwrap_or_default(),
            issuer,
            client_id,
            scopes,
            extra_params,
            redirect_path,
            redirect_ports,
            http_timeout,
            login_timeout,
            max_response_bytes,
        })
    }
}
