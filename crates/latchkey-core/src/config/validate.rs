//! The checks [`PartialConfig::finish`](super::PartialConfig::finish) runs on each merged value.
//!
//! Each refusal is a [`ConfigError::Invalid`] whose reason is worded to follow the setting's
//! name ("the issuer must use https …"), so the message reads as a sentence in any front end.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use url::Url;

use super::{ConfigError, RESERVED_PARAMS};
use crate::http::is_secure_or_loopback;

/// The issuer is kept as written (metadata and `iss` are compared with it as strings), so this
/// only checks it; nothing is normalized.
pub(super) fn issuer(raw: &str) -> Result<(), ConfigError> {
    let url = Url::parse(raw)
        .map_err(|e| ConfigError::invalid("issuer", format!("is not a valid URL ({e})")))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::invalid(
            "issuer",
            "must not have a query or fragment (OIDC Discovery §2)",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::invalid(
            "issuer",
            "must not contain a user name or password",
        ));
    }
    if !is_secure_or_loopback(&url) {
        return Err(ConfigError::invalid(
            "issuer",
            "must use https (plain http is allowed only on the loopback addresses 127.0.0.1 and [::1])",
        ));
    }
    Ok(())
}

pub(super) fn client_id(client_id: &str) -> Result<(), ConfigError> {
    if client_id.trim().is_empty() || client_id.chars().any(char::is_control) {
        return Err(ConfigError::invalid(
            "client_id",
            "must not be empty or contain control characters",
        ));
    }
    Ok(())
}

/// Checked here rather than left to the server, whose refusal would come back through the
/// browser as an opaque `invalid_scope`.
pub(super) fn scopes(scopes: &[String]) -> Result<(), ConfigError> {
    if scopes.is_empty() {
        return Err(ConfigError::invalid("scopes", "must not be empty"));
    }
    for scope in scopes {
        // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        let ok = !scope.is_empty()
            && scope
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
        if !ok {
            return Err(ConfigError::invalid(
                "scopes",
                format!(
                    "include {scope:?}, which is not a valid scope (printable ASCII without \
                     spaces, quotes or backslashes: RFC 6749 §3.3)"
                ),
            ));
        }
    }
    Ok(())
}

/// Refuses the parameters the engine sets itself: letting configuration fix `state`, `nonce`
/// or the PKCE challenge would quietly switch off the checks they exist for.
pub(super) fn extra_params(
    params: BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut extra_params = Vec::with_capacity(params.len());
    for (key, value) in params {
        if RESERVED_PARAMS
            .iter()
            .any(|reserved| reserved.eq_ignore_ascii_case(&key))
        {
            return Err(ConfigError::invalid(
                format!("params.{key}"),
                "is set by Latchkey itself and cannot be configured",
            ));
        }
        if key.is_empty() || key.chars().any(char::is_control) {
            return Err(ConfigError::invalid(
                "params",
                "include one with an empty name or a name with control characters",
            ));
        }
        if key == "max_age" && value.parse::<u64>().is_err() {
            return Err(ConfigError::invalid(
                "params.max_age",
                "must be a whole number of seconds (OIDC Core §3.1.2.1)",
            ));
        }
        extra_params.push((key, value));
    }
    Ok(extra_params)
}

pub(super) fn redirect_path(path: &str) -> Result<(), ConfigError> {
    if !path.starts_with('/')
        || path.contains(['?', '#'])
        || path.chars().any(|c| c.is_control() || c == ' ')
    {
        return Err(ConfigError::invalid(
            "redirect_path",
            "must start with / and have no query, fragment or spaces",
        ));
    }
    Ok(())
}

/// The most redirect ports a configuration may list. Each must be registered with the provider
/// as its own redirect URI, so a longer list is more likely a mistake than a need.
pub(super) const MAX_REDIRECT_PORTS: usize = 10;

/// Port 0 is refused rather than read as "any port": an ephemeral port is what leaving the
/// setting out means, and a 0 inside a list of fixed ports would silently undo them.
pub(super) fn redirect_ports(ports: &[u16]) -> Result<(), ConfigError> {
    if ports.len() > MAX_REDIRECT_PORTS {
        return Err(ConfigError::invalid(
            "redirect_ports",
            format!("must list at most {MAX_REDIRECT_PORTS} ports"),
        ));
    }
    if ports.contains(&0) {
        return Err(ConfigError::invalid(
            "redirect_ports",
            "must be port numbers from 1 to 65535 (to let the system choose a port, leave the \
             setting out)",
        ));
    }
    for (i, port) in ports.iter().enumerate() {
        if ports[..i].contains(port) {
            return Err(ConfigError::invalid(
                "redirect_ports",
                format!("list port {port} more than once"),
            ));
        }
    }
    Ok(())
}

/// A number of seconds within `range`, `default` when unset.
pub(super) fn seconds(
    field: &'static str,
    value: Option<u64>,
    default: u64,
    range: RangeInclusive<u64>,
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

pub(super) fn max_response_bytes(bytes: usize) -> Result<(), ConfigError> {
    if !(4096..=64 * 1024 * 1024).contains(&bytes) {
        return Err(ConfigError::invalid(
            "max_response_bytes",
            "must be between 4096 and 67108864 bytes",
        ));
    }
    Ok(())
}

/// The API gets the access token, so it is held to the issuer's transport rule.
pub(super) fn api_url(raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw)
        .map_err(|e| ConfigError::invalid("api_url", format!("is not a valid URL ({e})")))?;
    if !is_secure_or_loopback(&url) {
        return Err(ConfigError::invalid(
            "api_url",
            "must use https (plain http is allowed only on loopback)",
        ));
    }
    Ok(url)
}
