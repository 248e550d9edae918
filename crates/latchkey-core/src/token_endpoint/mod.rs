//! The token endpoint: requests built by oauth2, responses read here.
//!
//! `oauth2` builds the code-exchange and refresh requests (grant parameters, PKCE verifier,
//! `client_id`, no secret) and hands them to [`Capture`], our HTTP client, which sends them and
//! keeps the raw response instead of letting `oauth2` parse it. The response is read here because
//! a strict typed parse is the wrong tool at this one place:
//!
//! - **A rotated refresh token must survive a bad response.** The server retired the old token
//!   the moment it answered 200; if the response then fails a check (a string `expires_in`, a
//!   non-JSON content type, a broken ID token), the new refresh token is the only live one.
//!   [`read`] takes it out of any 200 JSON object first ([`TokenAnswer::Issued::refresh_token`]),
//!   and the other fields are checked after the engine has stored it.
//! - **Liberal where harmless, strict where it matters.** `expires_in` as a numeric string
//!   (`"3600"`) or with a fraction is a number; negative, absent-but-malformed or non-numeric is
//!   an error; `token_type` must be Bearer (case-insensitive, RFC 6749 §5.1); the access token must
//!   be a non-empty string.
//! - **DPoP** (RFC 9449): when the session has a key, [`Capture`] adds a `DPoP` proof to each
//!   request, remembers any `DPoP-Nonce`, and answers a `use_dpop_nonce` 400 with exactly one
//!   retry. The `token_type` must then be `DPoP`; a Bearer token where a bound one was asked for
//!   (or the reverse) is a [`DpopError::TokenTypeMismatch`], not a token to use. A second
//!   `use_dpop_nonce` and `invalid_dpop_proof` are DPoP errors, not refusals of the grant: they
//!   don't end a session.
//! - **Secrets are ours to wipe.** Token strings are moved (not copied) out of the parsed JSON
//!   into zeroizing [`SecretString`]s, and the raw body is zeroized when dropped.
//! - **Only a conformant OAuth error is a refusal.** A 400, 401 or 403 whose body is an RFC 6749
//!   §5.2 error response (a JSON object whose `error` is one of its codes, or RFC 8707's
//!   `invalid_target`) is [`TokenAnswer::Refused`]: the grant is dead. Anything else with those
//!   statuses (an empty body, a CDN's or WAF's `403 text/html`, JSON without a known `error`,
//!   a `401` whose only error is a challenge in `WWW-Authenticate`) is
//!   [`TokenAnswer::Unexplained`]: nobody can say the grant was refused, so the session policy
//!   decides (see `session/refresh_grant.rs`). DPoP errors are read from the body *and* from every
//!   `WWW-Authenticate` challenge (RFC 9449 §7.1 puts them there too). 5xx, 429 and 408 are
//!   transient. Any other status (404, a redirect, which the client never follows) is a
//!   misbehaving endpoint: an invalid response, not a verdict on the grant.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::dpop::DpopError;
use crate::error::{Endpoint, Error};
use crate::http::HttpError;
use crate::secret::SecretString;

mod capture;

pub(crate) use capture::Capture;
pub(crate) mod par;

/// What the token endpoint answered.
#[derive(Debug)]
pub(crate) enum TokenAnswer {
    /// HTTP 200.
    Issued {
        /// A non-empty `refresh_token`, if the body is a JSON object holding one: taken before
        /// any other check so that a rotation is never lost to a malformed response.
        refresh_token: Option<SecretString>,
        /// The rest of the response, checked.
        fields: Result<IssuedFields, Error>,
    },
    /// 400, 401 or 403 with an RFC 6749 §5.2 error: the server refused this grant. Retrying the
    /// same request cannot succeed.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The RFC 6749 §5.2 `error` code.
        error: String,
        /// Its `error_description`.
        description: Option<String>,
    },
    /// 400, 401 or 403 without a conformant OAuth error (an empty or HTML body, JSON without a
    /// known `error`): a refusal nobody can read, perhaps by something in front of the server.
    Unexplained {
        /// The HTTP status.
        status: u16,
    },
}

/// The error codes of RFC 6749 §5.2, and RFC 8707's `invalid_target`: the token endpoint's
/// verdicts on a grant.
const OAUTH_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
];

/// The checked fields of a successful token response (the refresh token is taken separately).
#[derive(Debug)]
pub(crate) struct IssuedFields {
    pub access_token: SecretString,
    pub expires_in: Option<Duration>,
    pub scope: Option<Vec<String>>,
    pub id_token: Option<SecretString>,
}

/// The wire shape, every field optional and untyped so that one bad field can't hide the others.
#[derive(Deserialize)]
struct Wire {
    access_token: Option<Value>,
    token_type: Option<Value>,
    expires_in: Option<Value>,
    refresh_token: Option<Value>,
    scope: Option<Value>,
    id_token: Option<Value>,
}

#[derive(Deserialize)]
pub(crate) struct WireError {
    pub(crate) error: String,
    pub(crate) error_description: Option<String>,
}

/// Reads a token endpoint's raw answer: its status, body and `WWW-Authenticate` values.
///
/// # Errors
/// Transient (`HttpError::ServerUnavailable`) for 5xx, 429 and 408; `InvalidResponse` for any
/// status that is neither 200 nor a refusal (404, a redirect, which the client never follows);
/// a [`DpopError`] for `use_dpop_nonce` or `invalid_dpop_proof`, in the body or a challenge.
pub(crate) fn read(
    status: u16,
    body: &[u8],
    www_authenticate: &[String],
    dpop: bool,
) -> Result<TokenAnswer, Error> {
    match status {
        200 => Ok(read_issued(body, dpop)),
        408 | 429 | 500..=599 => Err(Error::http(
            Endpoint::Token,
            HttpError::ServerUnavailable { status },
        )),
        400 | 401 | 403 => {
            let (error, description) = match serde_json::from_slice::<WireError>(body) {
                Ok(e) => (
                    Some(printable(&e.error, 64)),
                    e.error_description.map(|d| printable(&d, 256)),
                ),
                Err(_) => (None, None),
            };
            let challenges =
                crate::http::parse_challenges(www_authenticate.iter().map(String::as_str));
            let dpop_challenge = |code: &str| {
                challenges
                    .iter()
                    .find(|c| c.is("DPoP") && c.error() == Some(code))
            };
            if error.as_deref() == Some("use_dpop_nonce")
                || dpop_challenge("use_dpop_nonce").is_some()
            {
                return Err(DpopError::NonceDemandedAgain {
                    endpoint: Endpoint::Token,
                }
                .into());
            }
            if error.as_deref() == Some("invalid_dpop_proof") {
                return Err(DpopError::ProofRejected {
                    endpoint: Endpoint::Token,
                    description,
                }
                .into());
            }
            if let Some(c) = dpop_challenge("invalid_dpop_proof") {
                return Err(DpopError::ProofRejected {
                    endpoint: Endpoint::Token,
                    description: c.param("error_description").map(|d| printable(d, 256)),
                }
                .into());
            }
            match error {
                Some(error) if OAUTH_ERRORS.contains(&error.as_str()) => Ok(TokenAnswer::Refused {
                    status,
                    error,
                    description,
                }),
                _ => Ok(TokenAnswer::Unexplained { status }),
            }
        }
        other => Err(Error::InvalidResponse {
            endpoint: Endpoint::Token,
            problem: format!("HTTP {other}"),
        }),
    }
}

fn read_issued(body: &[u8], dpop: bool) -> TokenAnswer {
    let wire = match serde_json::from_slice::<Wire>(body) {
        Ok(wire) => wire,
        Err(e) => {
            return TokenAnswer::Issued {
                refresh_token: None,
                fields: Err(Error::InvalidResponse {
                    endpoint: Endpoint::Token,
                    problem: crate::discovery::describe_json_error(String::new(), &e),
                }),
            }
        }
    };
    let refresh_token = take_secret(wire.refresh_token);
    let fields = check_fields(wire.access_token, wire.token_type, wire.expires_in, dpop).map(
        |(access_token, expires_in)| IssuedFields {
            access_token,
            expires_in,
            scope: match wire.scope {
                Some(Value::String(s)) => Some(s.split_whitespace().map(str::to_owned).collect()),
                _ => None,
            },
            id_token: take_secret(wire.id_token),
        },
    );
    TokenAnswer::Issued {
        refresh_token,
        fields,
    }
}

fn check_fields(
    access_token: Option<Value>,
    token_type: Option<Value>,
    expires_in: Option<Value>,
    dpop: bool,
) -> Result<(SecretString, Option<Duration>), Error> {
    let invalid = |problem: &str| Error::InvalidResponse {
        endpoint: Endpoint::Token,
        problem: problem.to_owned(),
    };
    let asked = if dpop { "DPoP" } else { "Bearer" };
    match token_type {
        Some(Value::String(t)) if t.eq_ignore_ascii_case(asked) => {}
        Some(Value::String(t))
            if t.eq_ignore_ascii_case("bearer") || t.eq_ignore_ascii_case("dpop") =>
        {
            return Err(DpopError::TokenTypeMismatch {
                asked,
                issued: printable(&t, 32),
            }
            .into());
        }
        Some(Value::String(other)) => {
            return Err(Error::UnsupportedTokenType(printable(&other, 32)));
        }
        Some(_) => return Err(invalid("token_type is not a string")),
        None => return Err(invalid("token_type is missing")),
    }
    let access_token = take_secret(access_token).ok_or_else(|| invalid("empty access_token"))?;
    Ok((access_token, read_expires_in(expires_in)?))
}

/// `expires_in` in seconds: a non-negative number, or a string holding one (some providers
/// quote it); a fraction is rounded down. Anything else is an error: guessing a lifetime would
/// make the engine hand out a token it can't vouch for.
fn read_expires_in(value: Option<Value>) -> Result<Option<Duration>, Error> {
    let invalid = |problem: &str| Error::InvalidResponse {
        endpoint: Endpoint::Token,
        problem: problem.to_owned(),
    };
    let seconds = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    }
    .filter(|s| s.is_finite())
    .ok_or_else(|| invalid("expires_in is not a number"))?;
    if seconds < 0.0 {
        return Err(invalid("expires_in is negative"));
    }
    // Clamped later to MAX_TRUSTED_LIFETIME; here only kept representable.
    Ok(Some(Duration::from_secs(
        seconds.min(u32::MAX as f64) as u64
    )))
}

/// Moves a non-empty string out of a JSON value into a zeroizing secret (no copy is left behind).
fn take_secret(value: Option<Value>) -> Option<SecretString> {
    match value {
        Some(Value::String(s)) if !s.is_empty() => Some(SecretString::new(s)),
        Some(Value::String(s)) => {
            drop(Zeroizing::new(s));
            None
        }
        _ => None,
    }
}

/// A server-supplied string fit for a message: printable ASCII, bounded.
pub(crate) fn printable(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests;
