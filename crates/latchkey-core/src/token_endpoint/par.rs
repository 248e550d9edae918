//! Pushed authorization requests (RFC 9126): the request goes to the provider first, and the
//! browser carries only `client_id` and `request_uri`.
//!
//! - **When**: [`endpoint_for`] decides from the provider's metadata and the `par` policy. A
//!   provider that requires pushed requests (`require_pushed_authorization_requests`) without
//!   listing the endpoint, or a configuration that requires them from a provider that has none,
//!   fails closed ([`Error::ParUnavailable`]): a front-channel request would be refused, or would
//!   put the request's parameters in the URL after all.
//! - **How**: the request's parameters (PKCE challenge, `state`, `nonce`, `dpop_jkt`, a step-up's
//!   `acr_values` / `max_age`) are POSTed as a form, with a DPoP proof when the session binds its
//!   tokens (RFC 9449 §10.1), one retry on a nonce challenge ([`Capture::send`]).
//! - **The answer** must be `201` (`200` is tolerated) with a JSON object whose `request_uri` is
//!   a non-empty printable string of at most [`MAX_REQUEST_URI_LEN`] characters and whose
//!   `expires_in` is a positive integer. An OAuth error (400/401 with a JSON `error`) is
//!   [`Error::PushRefused`]; 5xx/429 are transient; anything else (a redirect, which the client
//!   never follows, a 404, an HTML page, a body that isn't what RFC 9126 §2.2 says) is an invalid
//!   response. Nothing falls back to the front channel.

use openidconnect::HttpRequest;
use serde_json::Value;
use url::Url;

use super::{printable, Capture, WireError};
use crate::authorize::PendingAuthorization;
use crate::config::ParPolicy;
use crate::discovery::ServerMetadata;
use crate::error::{Endpoint, Error, Result};
use crate::http::HttpError;

/// The longest `request_uri` accepted.
pub(crate) const MAX_REQUEST_URI_LEN: usize = 2048;

/// Where to push the authorization request, if it is to be pushed.
///
/// # Errors
/// [`Error::ParUnavailable`] when the provider or the configuration requires a push and the
/// provider lists no endpoint.
pub(crate) fn endpoint_for(metadata: &ServerMetadata, policy: ParPolicy) -> Result<Option<&Url>> {
    let endpoint = metadata.pushed_authorization_request_endpoint.as_ref();
    let by_provider = metadata.require_pushed_authorization_requests;
    match (endpoint, policy) {
        (None, _) if by_provider => Err(Error::ParUnavailable { by_provider: true }),
        (None, ParPolicy::Required) => Err(Error::ParUnavailable { by_provider: false }),
        (None, _) => Ok(None),
        (Some(_), ParPolicy::Off) if !by_provider => Ok(None),
        (Some(e), _) => Ok(Some(e)),
    }
}

/// Pushes `pending`'s parameters to `endpoint` and points its URL at `authorization_endpoint`
/// with only `client_id` and the `request_uri` the provider answered.
pub(crate) async fn push(
    capture: &Capture<'_>,
    endpoint: &Url,
    authorization_endpoint: &Url,
    client_id: &str,
    pending: &mut PendingAuthorization,
) -> Result<()> {
    let params = pending.parameters();
    let body = zeroize::Zeroizing::new(
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish()
            .into_bytes(),
    );
    drop(params);
    let request: HttpRequest = http::Request::builder()
        .method(http::Method::POST)
        .uri(endpoint.as_str())
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json")
        .body(body.to_vec())
        .map_err(|e| {
            Error::http(
                Endpoint::PushedAuthorization,
                HttpError::BadRequest(e.to_string()),
            )
        })?;
    let response = capture
        .send(request)
        .await
        .map_err(|e| Error::http(Endpoint::PushedAuthorization, e))?;
    let request_uri = read(response.status, &response.body)?;
    tracing::debug!("the authorization request was pushed");
    pending.use_request_uri(authorization_endpoint, client_id, &request_uri);
    Ok(())
}

fn invalid(problem: impl Into<String>) -> Error {
    Error::InvalidResponse {
        endpoint: Endpoint::PushedAuthorization,
        problem: problem.into(),
    }
}

/// Reads the push's answer: the `request_uri`, or why there is none.
pub(crate) fn read(status: u16, body: &[u8]) -> Result<String> {
    match status {
        200 | 201 => {}
        408 | 429 | 500..=599 => {
            return Err(Error::http(
                Endpoint::PushedAuthorization,
                HttpError::ServerUnavailable { status },
            ))
        }
        400 | 401 | 403 => {
            return Err(match serde_json::from_slice::<WireError>(body) {
                Ok(e) if !e.error.is_empty() => Error::PushRefused {
                    error: printable(&e.error, 64),
                    description: e.error_description.map(|d| printable(&d, 256)),
                },
                _ => invalid(format!("HTTP {status} without an OAuth error")),
            })
        }
        other => return Err(invalid(format!("HTTP {other}"))),
    }
    let json: Value = serde_json::from_slice(body).map_err(|_| invalid("not JSON"))?;
    let Value::Object(fields) = json else {
        return Err(invalid("not a JSON object"));
    };
    let request_uri = match fields.get("request_uri") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(invalid("request_uri: not a string")),
        None => return Err(invalid("request_uri: missing")),
    };
    if request_uri.is_empty()
        || request_uri.len() > MAX_REQUEST_URI_LEN
        || !request_uri.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(invalid(format!(
            "request_uri: must be 1 to {MAX_REQUEST_URI_LEN} printable characters"
        )));
    }
    match fields.get("expires_in") {
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n > 0) => {}
        Some(_) => return Err(invalid("expires_in: not a positive integer")),
        None => return Err(invalid("expires_in: missing")),
    }
    Ok(request_uri.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(endpoint: bool, required: bool) -> ServerMetadata {
        let mut doc = serde_json::json!({
            "issuer": "https://idp.example.com",
            "authorization_endpoint": "https://idp.example.com/auth",
            "token_endpoint": "https://idp.example.com/token",
            "require_pushed_authorization_requests": required,
        });
        if endpoint {
            doc["pushed_authorization_request_endpoint"] = "https://idp.example.com/par".into();
        }
        serde_json::from_value(doc).unwrap()
    }

    #[test]
    fn the_policy_and_the_provider_decide_whether_to_push_and_fail_closed() {
        use ParPolicy::*;
        let yes = |m: &ServerMetadata, p| endpoint_for(m, p).unwrap().is_some();
        assert!(yes(&metadata(true, false), Auto));
        assert!(yes(&metadata(true, false), Required));
        assert!(!yes(&metadata(true, false), Off));
        assert!(
            yes(&metadata(true, true), Off),
            "the provider's requirement wins over off"
        );
        assert!(!yes(&metadata(false, false), Auto));
        assert!(matches!(
            endpoint_for(&metadata(false, true), Auto),
            Err(Error::ParUnavailable { by_provider: true })
        ));
        assert!(matches!(
            endpoint_for(&metadata(false, false), Required),
            Err(Error::ParUnavailable { by_provider: false })
        ));
    }

    #[test]
    fn a_well_formed_answer_yields_its_request_uri() {
        let body = br#"{"request_uri":"urn:ietf:params:oauth:request_uri:abc","expires_in":60}"#;
        assert_eq!(
            read(201, body).unwrap(),
            "urn:ietf:params:oauth:request_uri:abc"
        );
    }

    #[test]
    fn hostile_answers_are_refused_with_a_typed_error() {
        let long = format!(
            r#"{{"request_uri":"{}","expires_in":60}}"#,
            "u".repeat(5000)
        );
        for (status, body, want) in [
            (201, r#"{"expires_in":60}"#.to_owned(), "missing"),
            (201, long, "printable"),
            (
                201,
                r#"{"request_uri":"","expires_in":60}"#.into(),
                "printable",
            ),
            (
                201,
                r#"{"request_uri":"urn:a b","expires_in":60}"#.into(),
                "printable",
            ),
            (
                201,
                r#"{"request_uri":42,"expires_in":60}"#.into(),
                "not a string",
            ),
            (
                201,
                r#"{"request_uri":"urn:x","expires_in":"60"}"#.into(),
                "positive",
            ),
            (
                201,
                r#"{"request_uri":"urn:x","expires_in":0}"#.into(),
                "positive",
            ),
            (
                201,
                r#"{"request_uri":"urn:x","expires_in":-3}"#.into(),
                "positive",
            ),
            (
                201,
                r#"{"request_uri":"urn:x","expires_in":1.5}"#.into(),
                "positive",
            ),
            (
                201,
                r#"{"request_uri":"urn:x"}"#.into(),
                "expires_in: missing",
            ),
            (201, "<html>hi</html>".into(), "not JSON"),
            (201, "[1]".into(), "not a JSON object"),
            (302, String::new(), "HTTP 302"),
            (404, "{}".into(), "HTTP 404"),
            (400, "<html>WAF</html>".into(), "without an OAuth error"),
        ] {
            match read(status, body.as_bytes()) {
                Err(Error::InvalidResponse {
                    endpoint: Endpoint::PushedAuthorization,
                    problem,
                }) => assert!(problem.contains(want), "{status} {body:.60}: {problem}"),
                other => panic!("{status} {body:.60}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_oauth_error_is_a_refusal_and_a_5xx_is_transient() {
        let e = read(
            400,
            br#"{"error":"invalid_request","error_description":"bad\u0007 scope"}"#,
        )
        .unwrap_err();
        match &e {
            Error::PushRefused { error, description } => {
                assert_eq!(error, "invalid_request");
                assert_eq!(description.as_deref(), Some("bad scope"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.kind(), crate::ErrorKind::Protocol);
        assert!(read(503, b"").unwrap_err().is_transient());
    }
}
