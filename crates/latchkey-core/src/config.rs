//! Client configuration: issuer, client_id, scopes, extra authorization parameters, timeouts.
//!
//! Built in layers, each overriding the one before: defaults → a TOML file → `LATCHKEY_*`
//! environment variables → explicit values (CLI flags, app settings). [`PartialConfig`] is one
//! layer; [`PartialConfig::finish`] validates the merged result and names the field at fault.
//!
//! ```toml
//! issuer = "https://login.example.com"
//! client_id = "my-native-app"
//! scopes = ["openid", "profile", "offline_access"]
//! http_timeout_secs = 10
//! login_timeout_secs = 300
//!
//! [params]
//! prompt = "consent"
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::http::is_secure_or_loopback;

/// The scopes used when none are configured.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "profile", "offline_access"];

/// Authorization-request parameters the engine sets itself; configuration may not override them.
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
];

/// A configuration problem, naming the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required field has no value in any layer.
    #[error("configuration: `{field}` is required{hint}")]
    Missing {
        /// The field.
        field: &'static str,
        /// How to provide it.
        hint: &'static str,
    },
    /// A field has a value that is not acceptable.
    #[error("configuration: `{field}` {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration file could not be read.
    #[error("configuration: cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML of the expected shape.
    #[error("configuration: {path} is invalid")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message (names the key and line).
        #[source]
        source: toml::de::Error,
    },
}

impl ConfigError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            reason: reason.into(),
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
    /// Timeout for each HTTP request.
    pub http_timeout: Duration,
    /// How long a sign-in waits for the browser to come back.
    pub login_timeout: Duration,
    /// The largest response body accepted from any endpoint.
    pub max_response_bytes: usize,
    /// The protected API the app's "Call API" button calls (configuration, never the WebView,
    /// decides where the access token goes).
    pub api_url: Option<Url>,
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
    /// See [`Config::http_timeout`], in seconds.
    pub http_timeout_secs: Option<u64>,
    /// See [`Config::login_timeout`], in seconds.
    pub login_timeout_secs: Option<u64>,
    /// See [`Config::max_response_bytes`].
    pub max_response_bytes: Option<usize>,
    /// See [`Config::api_url`].
    pub api_url: Option<String>,
}

impl PartialConfig {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    /// Writes this layer as a TOML file (atomically: temp file + rename).
    pub fn save_to_file(&self, path: &Path) -> Result<(), ConfigError> {
        let text = toml::to_string_pretty(self)
            .map_err(|e| ConfigError::invalid("settings", e.to_string()))?;
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("toml.tmp");
            std::fs::write(&tmp, text.as_bytes())?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })
    }

    /// Reads `LATCHKEY_ISSUER`, `LATCHKEY_CLIENT_ID`, `LATCHKEY_SCOPES` (space-separated),
    /// `LATCHKEY_PARAMS` (`k=v` pairs separated by `&`), `LATCHKEY_REDIRECT_PATH`,
    /// `LATCHKEY_HTTP_TIMEOUT_SECS`, `LATCHKEY_LOGIN_TIMEOUT_SECS` and
    /// `LATCHKEY_MAX_RESPONSE_BYTES` from the given variables (pass `std::env::vars()`).
    pub fn from_env<I>(vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut layer = PartialConfig::default();
        for (key, value) in vars {
            match key.as_str() {
                "LATCHKEY_ISSUER" => layer.issuer = Some(value),
                "LATCHKEY_CLIENT_ID" => layer.client_id = Some(value),
                "LATCHKEY_SCOPES" => {
                    layer.scopes = Some(value.split_whitespace().map(str::to_owned).collect())
                }
                "LATCHKEY_PARAMS" => {
                    for pair in value.split('&').filter(|p| !p.is_empty()) {
                        let (k, v) = parse_param(pair)
                            .map_err(|reason| ConfigError::invalid("LATCHKEY_PARAMS", reason))?;
                        layer.params.insert(k, v);
                    }
                }
                "LATCHKEY_REDIRECT_PATH" => layer.redirect_path = Some(value),
                "LATCHKEY_API_URL" => layer.api_url = Some(value),
                "LATCHKEY_HTTP_TIMEOUT_SECS" => {
                    layer.http_timeout_secs = Some(parse_number(&key, &value)?)
                }
                "LATCHKEY_LOGIN_TIMEOUT_SECS" => {
                    layer.login_timeout_secs = Some(parse_number(&key, &value)?)
                }
                "LATCHKEY_MAX_RESPONSE_BYTES" => {
                    layer.max_response_bytes = Some(parse_number(&key, &value)?)
                }
                _ => {}
            }
        }
        Ok(layer)
    }

    /// Overlays `other` on `self`: every value `other` has wins; params are merged key by key.
    pub fn merge(mut self, other: PartialConfig) -> Self {
        self.issuer = other.issuer.or(self.issuer);
        self.client_id = other.client_id.or(self.client_id);
        self.scopes = other.scopes.or(self.scopes);
        self.params.extend(other.params);
        self.redirect_path = other.redirect_path.or(self.redirect_path);
        self.http_timeout_secs = other.http_timeout_secs.or(self.http_timeout_secs);
        self.login_timeout_secs = other.login_timeout_secs.or(self.login_timeout_secs);
        self.max_response_bytes = other.max_response_bytes.or(self.max_response_bytes);
        self.api_url = other.api_url.or(self.api_url);
        self
    }

    /// Validates and fills in defaults.
    pub fn finish(self) -> Result<Config, ConfigError> {
        let issuer_raw = self.issuer.ok_or(ConfigError::Missing {
            field: "issuer",
            hint: " (--issuer, LATCHKEY_ISSUER or `issuer` in the config file)",
        })?;
        let issuer = parse_issuer(&issuer_raw)?;

        let client_id = self.client_id.ok_or(ConfigError::Missing {
            field: "client_id",
            hint: " (--client-id, LATCHKEY_CLIENT_ID or `client_id` in the config file)",
        })?;
        if client_id.trim().is_empty() || client_id.chars().any(char::is_control) {
            return Err(ConfigError::invalid(
                "client_id",
                "must be a non-empty string without control characters",
            ));
        }

        let scopes = match self.scopes {
            Some(s) => s,
            None => DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
        };
        if scopes.is_empty() {
            return Err(ConfigError::invalid("scopes", "must not be empty"));
        }
        for scope in &scopes {
            // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            let ok = !scope.is_empty()
                && scope
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !ok {
                return Err(ConfigError::invalid(
                    "scopes",
                    format!("contains an invalid scope token {scope:?}"),
                ));
            }
        }

        let mut extra_params = Vec::with_capacity(self.params.len());
        for (key, value) in self.params {
            if RESERVED_PARAMS.contains(&key.as_str()) {
                return Err(ConfigError::invalid(
                    format!("params.{key}"),
                    "is set by Latchkey itself and cannot be configured",
                ));
            }
            if key.is_empty() || key.chars().any(char::is_control) {
                return Err(ConfigError::invalid(
                    "params",
                    "has an empty or invalid key",
                ));
            }
            if key == "max_age" && value.parse::<u64>().is_err() {
                return Err(ConfigError::invalid(
                    "params.max_age",
                    "must be a number of seconds (OIDC Core §3.1.2.1)",
                ));
            }
            extra_params.push((key, value));
        }

        let redirect_path = self.redirect_path.unwrap_or_else(|| "/callback".into());
        if !redirect_path.starts_with('/')
            || redirect_path.contains(['?', '#'])
            || redirect_path.chars().any(|c| c.is_control() || c == ' ')
        {
            return Err(ConfigError::invalid(
                "redirect_path",
                "must be an absolute path without query, fragment or spaces",
            ));
        }

        let http_timeout = seconds("http_timeout_secs", self.http_timeout_secs, 10, 1..=300)?;
        let login_timeout = seconds("login_timeout_secs", self.login_timeout_secs, 300, 1..=3600)?;
        let max_response_bytes = self.max_response_bytes.unwrap_or(1024 * 1024);
        if !(4096..=64 * 1024 * 1024).contains(&max_response_bytes) {
            return Err(ConfigError::invalid(
                "max_response_bytes",
                "must be between 4096 and 67108864",
            ));
        }

        let api_url = match self.api_url.filter(|u| !u.trim().is_empty()) {
            None => None,
            Some(raw) => {
                let url = Url::parse(&raw)
                    .map_err(|e| ConfigError::invalid("api_url", format!("is not a URL ({e})")))?;
                if !is_secure_or_loopback(&url) {
                    return Err(ConfigError::invalid(
                        "api_url",
                        "must use https (plain http is allowed only on loopback)",
                    ));
                }
                Some(url)
            }
        };

        Ok(Config {
            api_url,
            issuer,
            client_id,
            scopes,
            extra_params,
            redirect_path,
            http_timeout,
            login_timeout,
            max_response_bytes,
        })
    }
}

/// Parses `key=value` (as given to `--param` or in `LATCHKEY_PARAMS`).
pub fn parse_param(pair: &str) -> Result<(String, String), String> {
    match pair.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("expected key=value, got {pair:?}")),
    }
}

fn parse_number<T: std::str::FromStr>(field: &str, value: &str) -> Result<T, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| ConfigError::invalid(field, format!("must be a number, got {value:?}")))
}

fn seconds(
    field: &'static str,
    value: Option<u64>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    let v = value.unwrap_or(default);
    if !range.contains(&v) {
        return Err(ConfigError::invalid(
            field,
            format!(
                "must be between {} and {} seconds",
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(Duration::from_secs(v))
}

fn parse_issuer(raw: &str) -> Result<String, ConfigError> {
    let url = Url::parse(raw)
        .map_err(|e| ConfigError::invalid("issuer", format!("is not a URL ({e})")))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::invalid(
            "issuer",
            "must not have a query or fragment (OIDC Discovery §2)",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::invalid(
            "issuer",
            "must not contain credentials",
        ));
    }
    if !is_secure_or_loopback(&url) {
        return Err(ConfigError::invalid(
            "issuer",
            "must use https (plain http is allowed only on the loopback addresses 127.0.0.1 and [::1])",
        ));
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> PartialConfig {
        PartialConfig {
            issuer: Some("https://login.example.com".into()),
            client_id: Some("app".into()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_request_openid_profile_and_offline_access() {
        let c = base().finish().unwrap();
        assert_eq!(c.scopes, ["openid", "profile", "offline_access"]);
        assert_eq!(c.redirect_path, "/callback");
        assert!(c.is_openid());
    }

    #[test]
    fn a_missing_issuer_is_an_error_naming_the_field() {
        let err = PartialConfig::default().finish().unwrap_err();
        assert!(err.to_string().contains("`issuer` is required"), "{err}");
    }

    #[test]
    fn plain_http_issuer_is_refused_off_loopback_and_allowed_on_it() {
        let mut p = base();
        p.issuer = Some("http://login.example.com".into());
        let err = p.finish().unwrap_err();
        assert!(err.to_string().contains("`issuer` must use https"), "{err}");

        let mut p = base();
        p.issuer = Some("http://127.0.0.1:9000".into());
        assert!(p.finish().is_ok());
    }

    #[test]
    fn reserved_authorization_parameters_cannot_be_configured() {
        let mut p = base();
        p.params.insert("state".into(), "fixed".into());
        let err = p.finish().unwrap_err();
        assert!(err.to_string().contains("`params.state`"), "{err}");
    }

    #[test]
    fn max_age_must_be_seconds() {
        let mut p = base();
        p.params.insert("max_age".into(), "an hour".into());
        let err = p.finish().unwrap_err();
        assert!(err.to_string().contains("`params.max_age`"), "{err}");
        let mut p = base();
        p.params.insert("max_age".into(), "300".into());
        assert_eq!(
            p.finish().unwrap().max_age(),
            Some(Duration::from_secs(300))
        );
    }

    #[test]
    fn an_invalid_scope_token_is_rejected() {
        let mut p = base();
        p.scopes = Some(vec!["openid".into(), "bad\"scope".into()]);
        assert!(p.finish().unwrap_err().to_string().contains("`scopes`"));
    }

    #[test]
    fn environment_overrides_the_file_and_flags_override_the_environment() {
        let file: PartialConfig = toml::from_str(
            r#"
            issuer = "https://file.example.com"
            client_id = "from-file"
            scopes = ["openid"]
            [params]
            prompt = "login"
            audience = "api"
            "#,
        )
        .unwrap();
        let env = PartialConfig::from_env([
            ("LATCHKEY_CLIENT_ID".to_string(), "from-env".to_string()),
            ("LATCHKEY_PARAMS".to_string(), "prompt=consent".to_string()),
            ("UNRELATED".to_string(), "x".to_string()),
        ])
        .unwrap();
        let flags = PartialConfig {
            scopes: Some(vec!["openid".into(), "email".into()]),
            ..Default::default()
        };
        let c = file.merge(env).merge(flags).finish().unwrap();
        assert_eq!(c.issuer, "https://file.example.com");
        assert_eq!(c.client_id, "from-env");
        assert_eq!(c.scopes, ["openid", "email"]);
        assert_eq!(
            c.extra_params,
            [
                ("audience".to_string(), "api".to_string()),
                ("prompt".to_string(), "consent".to_string())
            ]
        );
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error_not_silently_ignored() {
        let err = toml::from_str::<PartialConfig>("isuer = \"https://x\"").unwrap_err();
        assert!(err.to_string().contains("isuer"), "{err}");
    }

    #[test]
    fn a_non_numeric_timeout_in_the_environment_names_the_variable() {
        let err = PartialConfig::from_env([(
            "LATCHKEY_HTTP_TIMEOUT_SECS".to_string(),
            "ten".to_string(),
        )])
        .unwrap_err();
        assert!(
            err.to_string().contains("LATCHKEY_HTTP_TIMEOUT_SECS"),
            "{err}"
        );
    }

    #[test]
    fn out_of_range_timeouts_are_rejected() {
        let mut p = base();
        p.http_timeout_secs = Some(0);
        assert!(p
            .finish()
            .unwrap_err()
            .to_string()
            .contains("http_timeout_secs"));
    }
}
