//! Parsing the browser's request to the loopback redirect URI. Pure functions over bytes, so they
//! are unit-tested and fuzzed without sockets.
//!
//! What is accepted: one HTTP/1.x `GET` whose origin-form target has exactly the registered path,
//! with the RFC 6749 response parameters each at most once. Everything else is a
//! [`CallbackRejection`], which the listener answers with a 400 while it keeps waiting.

use openidconnect::{AuthorizationCode, CsrfToken};

use crate::error::CallbackRejection;

/// The largest request head (request line + headers) the listener reads.
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// The most headers a callback request may have.
const MAX_HEADERS: usize = 48;

/// The parameters of an authorization response (RFC 6749 §4.1.2 / §4.1.2.1, RFC 9207).
/// `Debug` redacts `code` and `state`.
#[derive(Default)]
pub struct CallbackParams {
    /// `code`
    pub code: Option<AuthorizationCode>,
    /// `state`
    pub state: Option<CsrfToken>,
    /// RFC 9207 `iss`
    pub iss: Option<String>,
    /// `error`
    pub error: Option<String>,
    /// `error_description`
    pub error_description: Option<String>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackParams")
            .field("code", &self.code.as_ref().map(|_| "[redacted]"))
            .field("state", &self.state.as_ref().map(|_| "[redacted]"))
            .field("iss", &self.iss)
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish()
    }
}

/// Parses a request head. `Ok(None)`: more bytes are needed (and may still fit the limit).
pub fn parse_request_head(buf: &[u8]) -> Result<Option<(String, String)>, CallbackRejection> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Complete(_)) => {
            let method = request.method.ok_or(CallbackRejection::MalformedRequest)?;
            let target = request.path.ok_or(CallbackRejection::MalformedRequest)?;
            Ok(Some((method.to_owned(), target.to_owned())))
        }
        Ok(httparse::Status::Partial) if buf.len() < MAX_REQUEST_HEAD => Ok(None),
        Ok(httparse::Status::Partial) | Err(_) => Err(CallbackRejection::MalformedRequest),
    }
}

/// Checks method and path and extracts the parameters (without judging `state` or `iss`: that
/// is [`crate::authorize::PendingAuthorization::check`]'s job).
pub fn parse_callback(
    method: &str,
    target: &str,
    expected_path: &str,
) -> Result<CallbackParams, CallbackRejection> {
    if method != "GET" {
        return Err(CallbackRejection::WrongMethod);
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target, ""),
    };
    if path != expected_path {
        return Err(CallbackRejection::WrongPath);
    }
    parse_query(query)
}

/// Extracts the RFC 6749 response parameters from a query string; each may appear at most once.
pub fn parse_query(query: &str) -> Result<CallbackParams, CallbackRejection> {
    let mut params = CallbackParams::default();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let value = value.into_owned();
        let duplicate = match key.as_ref() {
            "code" => replace(&mut params.code, AuthorizationCode::new(value)),
            "state" => replace(&mut params.state, CsrfToken::new(value)),
            "iss" => replace(&mut params.iss, value),
            "error" => replace(&mut params.error, value),
            "error_description" => replace(&mut params.error_description, value),
            _ => false,
        };
        if duplicate {
            return Err(CallbackRejection::DuplicateParameter);
        }
    }
    Ok(params)
}

/// Sets `slot`; true if it was already set.
fn replace<T>(slot: &mut Option<T>, value: T) -> bool {
    slot.replace(value).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_get_request_head_is_parsed() {
        let head = b"GET /callback?code=c&state=s HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n";
        let (method, target) = parse_request_head(head).unwrap().unwrap();
        assert_eq!(method, "GET");
        assert_eq!(target, "/callback?code=c&state=s");
    }

    #[test]
    fn a_partial_head_asks_for_more_until_the_limit() {
        assert_eq!(
            parse_request_head(b"GET /callback HTTP/1.1\r\nHo").unwrap(),
            None
        );
        let mut big = b"GET /callback HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_REQUEST_HEAD + 1, b'a');
        assert_eq!(
            parse_request_head(&big),
            Err(CallbackRejection::MalformedRequest)
        );
    }

    #[test]
    fn junk_bytes_are_a_malformed_request() {
        assert_eq!(
            parse_request_head(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
            Err(CallbackRejection::MalformedRequest)
        );
    }

    #[test]
    fn the_wrong_method_or_path_is_rejected() {
        assert_eq!(
            parse_callback("POST", "/callback?code=x", "/callback").unwrap_err(),
            CallbackRejection::WrongMethod
        );
        for target in [
            "/",
            "/callback/",
            "/Callback?code=x",
            "/callbackx",
            "http://evil/callback",
        ] {
            assert_eq!(
                parse_callback("GET", target, "/callback").unwrap_err(),
                CallbackRejection::WrongPath,
                "{target}"
            );
        }
    }

    #[test]
    fn a_repeated_protocol_parameter_is_rejected() {
        assert_eq!(
            parse_callback("GET", "/callback?code=a&state=s&state=t", "/callback").unwrap_err(),
            CallbackRejection::DuplicateParameter
        );
        // Unknown parameters may repeat: they are ignored.
        assert!(parse_callback("GET", "/callback?x=1&x=2&code=a", "/callback").is_ok());
    }

    #[test]
    fn parameters_are_percent_decoded() {
        let p = parse_callback(
            "GET",
            "/callback?code=a%2Bb&state=s&iss=http%3A%2F%2F127.0.0.1%3A9&error_description=x+y",
            "/callback",
        )
        .unwrap();
        assert_eq!(p.code.unwrap().secret(), "a+b");
        assert_eq!(p.iss.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(p.error_description.as_deref(), Some("x y"));
    }

    #[test]
    fn debug_output_of_callback_params_redacts_code_and_state() {
        let p = parse_callback(
            "GET",
            "/callback?code=SECRETCODE&state=SECRETSTATE",
            "/callback",
        )
        .unwrap();
        let printed = format!("{p:?}");
        assert!(
            !printed.contains("SECRETCODE") && !printed.contains("SECRETSTATE"),
            "{printed}"
        );
    }
}
