//! The layers below [`PartialConfig::finish`]: a TOML file, the `LATCHKEY_*` environment, and
//! the overlay that merges them with whatever a front end supplies on top.
//!
//! Reading a layer checks only what it must to produce one (a file must parse, a number must be
//! a number); whether the merged values make sense is [`super::validate`]'s job, so an early
//! layer may leave a setting for a later one to provide.

use std::path::Path;

use super::{ConfigError, PartialConfig};

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

    /// Writes this layer as a TOML file, through a temporary file and a rename so a crash
    /// mid-write leaves the old settings rather than half of the new ones.
    pub fn save_to_file(&self, path: &Path) -> Result<(), ConfigError> {
        let text = toml::to_string_pretty(self).map_err(|e| {
            ConfigError::invalid("settings", format!("cannot be written as TOML ({e})"))
        })?;
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("toml.tmp");
            std::fs::write(&tmp, text.as_bytes())?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|source| ConfigError::Write {
            path: path.display().to_string(),
            source,
        })
    }

    /// Reads `LATCHKEY_ISSUER`, `LATCHKEY_CLIENT_ID`, `LATCHKEY_SCOPES` (space-separated),
    /// `LATCHKEY_PARAMS` (`k=v` pairs separated by `&`), `LATCHKEY_REDIRECT_PATH`,
    /// `LATCHKEY_REDIRECT_PORTS` (port numbers separated by commas or spaces; empty means an
    /// ephemeral port, overriding a list in the file),
    /// `LATCHKEY_API_URL`, `LATCHKEY_HTTP_TIMEOUT_SECS`, `LATCHKEY_LOGIN_TIMEOUT_SECS` and
    /// `LATCHKEY_MAX_RESPONSE_BYTES` from the given variables (pass `std::env::vars()`; tests
    /// pass their own, so they never touch the process environment).
    ///
    /// A value that can't be read is reported under the variable's name, not the setting's:
    /// the variable is what the person has to correct.
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
                        let (k, v) = parse_param(pair).map_err(|reason| {
                            ConfigError::invalid(
                                "LATCHKEY_PARAMS",
                                format!("must hold key=value pairs separated by & ({reason})"),
                            )
                        })?;
                        layer.params.insert(k, v);
                    }
                }
                "LATCHKEY_REDIRECT_PATH" => layer.redirect_path = Some(value),
                "LATCHKEY_REDIRECT_PORTS" => {
                    layer.redirect_ports = Some(parse_ports(&key, &value)?)
                }
                "LATCHKEY_API_URL" => layer.api_url = Some(value),
                "LATCHKEY_DPOP" => {
                    layer.dpop = Some(value.parse().map_err(|_| {
                        ConfigError::invalid(
                            key.as_str(),
                            format!("must be auto, required or off, got {value:?}"),
                        )
                    })?)
                }
                "LATCHKEY_PAR" => {
                    layer.par = Some(value.parse().map_err(|_| {
                        ConfigError::invalid(
                            key.as_str(),
                            format!("must be auto, required or off, got {value:?}"),
                        )
                    })?)
                }
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

    /// Overlays `other` on `self`: every value `other` has wins; params are merged key by key,
    /// so a later layer can change one parameter without restating the others.
    pub fn merge(mut self, other: PartialConfig) -> Self {
        self.issuer = other.issuer.or(self.issuer);
        self.client_id = other.client_id.or(self.client_id);
        self.scopes = other.scopes.or(self.scopes);
        self.params.extend(other.params);
        self.redirect_path = other.redirect_path.or(self.redirect_path);
        // The list is one setting: a later layer replaces it whole rather than adding ports.
        self.redirect_ports = other.redirect_ports.or(self.redirect_ports);
        self.http_timeout_secs = other.http_timeout_secs.or(self.http_timeout_secs);
        self.login_timeout_secs = other.login_timeout_secs.or(self.login_timeout_secs);
        self.max_response_bytes = other.max_response_bytes.or(self.max_response_bytes);
        self.api_url = other.api_url.or(self.api_url);
        self.dpop = other.dpop.or(self.dpop);
        self.par = other.par.or(self.par);
        self
    }
}

/// Parses one `key=value` extra parameter, as `LATCHKEY_PARAMS` holds them and as a front end
/// may take them from its user. Public so front ends split them the same way.
pub fn parse_param(pair: &str) -> Result<(String, String), String> {
    match pair.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("expected key=value, got {pair:?}")),
    }
}

fn parse_number<T: std::str::FromStr>(variable: &str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| {
        ConfigError::invalid(variable, format!("must be a whole number, got {value:?}"))
    })
}

/// Port numbers separated by commas, spaces or both ("8765,8766", "8765 8766"). Only the
/// numbers are read here; which ones are acceptable is [`super::validate`]'s to say.
fn parse_ports(variable: &str, value: &str) -> Result<Vec<u16>, ConfigError> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse().map_err(|_| {
                ConfigError::invalid(
                    variable,
                    format!(
                        "must hold port numbers from 1 to 65535 separated by commas or spaces, \
                         got {p:?}"
                    ),
                )
            })
        })
        .collect()
}
