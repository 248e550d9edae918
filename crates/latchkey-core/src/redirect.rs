//! Parsing the browser's request to the loopback redirect URI. Pure functions over bytes, so they
//! are unit-tested and fuzzed without sockets.
//!
//! What is accepted: one HTTP/1.x `GET` whose origin-form target has exactly the registered path
//! (byte for byte, as the redirect URI carries it) and no fragment, with the RFC 6749 response
//! parameters each at most once. `Cookie` header lines are skipped unstored; folded header lines
//! are refused. Everything else is a [`CallbackRejection`], which the listener answers with a 400
//! while it keeps waiting.

use openidconnect::{AuthorizationCode, CsrfToken};

use crate::error::CallbackRejection;

/// The largest request head (request line + headers) the listener reads, `Cookie` lines not
/// counted.
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// The most bytes of request head the listener reads in all, `Cookie` lines included, so that
/// skipping cookies can't keep it reading without end.
pub const MAX_REQUEST_HEAD_WITH_COOKIES: usize = 64 * 1024;

/// The most headers a callback request may have (`Cookie` lines not counted).
const MAX_HEADERS: usize = 48;

const COOKIE_PREFIX: &[u8] = b"cookie:";

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

/// Parses a request head. `Ok(None)`: more bytes are needed (and may still fit the limits).
pub fn parse_request_head(buf: &[u8]) -> Result<Option<(String, String)>, CallbackRejection> {
    HeadReader::default().feed(buf)
}

/// Reads a request head as it arrives, dropping `Cookie` header lines on the way.
///
/// Browsers send every cookie any local server set for 127.0.0.1 (cookies ignore ports), so a
/// real callback can carry a Cookie header far larger than [`MAX_REQUEST_HEAD`]. The callback
/// needs no cookie, so cookie lines are skipped unread and never stored; everything else counts
/// against [`MAX_REQUEST_HEAD`], and all of it against [`MAX_REQUEST_HEAD_WITH_COOKIES`].
#[derive(Default)]
pub struct HeadReader {
    /// The head so far, without cookie lines.
    kept: Vec<u8>,
    /// Where the current line starts in `kept`.
    line_start: usize,
    /// Every byte taken, cookie lines included.
    seen: usize,
    /// In a cookie line, until its end.
    skipping: bool,
    /// The request line has ended.
    past_request_line: bool,
}

impl HeadReader {
    /// Takes the next bytes. `Ok(Some((method, target)))` once the head is complete (bytes after
    /// it are ignored); `Ok(None)`: more bytes are needed.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Option<(String, String)>, CallbackRejection> {
        for &byte in bytes {
            self.seen += 1;
            if self.seen > MAX_REQUEST_HEAD_WITH_COOKIES {
                return Err(CallbackRejection::MalformedRequest);
            }
            if self.skipping {
                self.skipping = byte != b'\n';
                continue;
            }
            if byte.is_ascii_control() && !matches!(byte, b'\t' | b'\r' | b'\n') {
                // Never valid in a request line or header (RFC 9112 §3, §5): junk such as a TLS
                // ClientHello gets its 400 now, not when the read times out.
                return Err(CallbackRejection::MalformedRequest);
            }
            let at_line_start = self.kept.len() == self.line_start;
            if at_line_start && self.past_request_line && (byte == b' ' || byte == b'\t') {
                // obs-fold (RFC 9112 §5.2): it would continue whatever line came before, perhaps
                // a skipped cookie line, so it is refused rather than reinterpreted.
                return Err(CallbackRejection::MalformedRequest);
            }
            self.kept.push(byte);
            if self.kept.len() > MAX_REQUEST_HEAD {
                return Err(CallbackRejection::MalformedRequest);
            }
            let line = &self.kept[self.line_start..];
            if byte == b'\n' {
                let blank = matches!(line, b"\n" | b"\r\n");
                if blank && self.past_request_line {
                    return self.finish().map(Some);
                }
                // Blank lines before the request line are left for httparse to skip.
                self.past_request_line |= !blank;
                self.line_start = self.kept.len();
            } else if self.past_request_line && line.eq_ignore_ascii_case(COOKIE_PREFIX) {
                // Decided on the name alone: no byte of the value is ever stored.
                self.kept.truncate(self.line_start);
                self.skipping = true;
            }
        }
        Ok(None)
    }

    fn finish(&self) -> Result<(String, String), CallbackRejection> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&self.kept) {
            Ok(httparse::Status::Complete(_)) => {
                let method = request.method.ok_or(CallbackRejection::MalformedRequest)?;
                let target = request.path.ok_or(CallbackRejection::MalformedRequest)?;
                Ok((method.to_owned(), target.to_owned()))
            }
            Ok(httparse::Status::Partial) | Err(_) => Err(CallbackRejection::MalformedRequest),
        }
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
    // A request target has no fragment (RFC 9112 §3.2); one here would be read as part of the
    // last query value.
    if target.contains('#') {
        return Err(CallbackRejection::MalformedRequest);
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

    /// A head as a browser sends it, with `cookie` as its Cookie header.
    fn browser_head(target: &str, cookie: &str) -> Vec<u8> {
        format!(
            "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:49152\r\n\
             User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
             Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
             Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\
             Connection: keep-alive\r\nCookie: {cookie}\r\nUpgrade-Insecure-Requests: 1\r\n\
             Sec-Fetch-Dest: document\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Site: cross-site\r\n\r\n"
        )
        .into_bytes()
    }

    /// `n` bytes of cookies, as local dev servers on other ports leave them for 127.0.0.1.
    fn cookies(n: usize) -> String {
        let mut jar = String::new();
        for i in 0.. {
            if jar.len() >= n {
                break;
            }
            jar.push_str(&format!("dev_session_{i}={}; ", "v".repeat(200)));
        }
        jar
    }

    #[test]
    fn a_head_with_a_large_cookie_header_is_parsed() {
        let head = browser_head("/callback?code=c&state=s", &cookies(40 * 1024));
        assert!(head.len() > 5 * MAX_REQUEST_HEAD);
        let (method, target) = parse_request_head(&head).unwrap().unwrap();
        assert_eq!(
            (method.as_str(), target.as_str()),
            ("GET", "/callback?code=c&state=s")
        );
    }

    #[test]
    fn cookie_values_are_never_stored_and_only_the_cookie_header_is_skipped() {
        let mut reader = HeadReader::default();
        for piece in [
            &b"GET /callback HTTP/1.1\r\nCook"[..],
            b"ie: sid=SECRET",
            b"VALUE; b=MORE\r\nX-Cookie: kept\r\n",
        ] {
            assert_eq!(reader.feed(piece).unwrap(), None);
            let kept = String::from_utf8_lossy(&reader.kept);
            assert!(!kept.contains("SECRET") && !kept.contains("MORE"), "{kept}");
        }
        assert!(String::from_utf8_lossy(&reader.kept).contains("X-Cookie: kept"));

        // A header that merely starts like Cookie counts against the limit.
        let mut head = b"GET /callback HTTP/1.1\r\nCookie2: ".to_vec();
        head.resize(MAX_REQUEST_HEAD + 1, b'a');
        assert_eq!(
            parse_request_head(&head),
            Err(CallbackRejection::MalformedRequest)
        );
    }

    #[test]
    fn cookie_lines_count_against_the_overall_cap() {
        let head = browser_head("/callback?code=c&state=s", &cookies(70 * 1024));
        assert_eq!(
            parse_request_head(&head),
            Err(CallbackRejection::MalformedRequest)
        );
    }

    #[test]
    fn an_obs_folded_header_is_rejected_even_after_a_cookie_line() {
        for head in [
            &b"GET /callback?code=c HTTP/1.1\r\nCookie: a=b\r\n folded\r\n\r\n"[..],
            b"GET /callback?code=c HTTP/1.1\r\nCookie: a=b\r\n\tfolded\r\n\r\n",
            b"GET /callback?code=c HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
            b"GET /callback?code=c HTTP/1.1\r\n folded\r\n\r\n",
        ] {
            assert_eq!(
                parse_request_head(head),
                Err(CallbackRejection::MalformedRequest),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
    }

    #[test]
    fn a_fragment_in_the_request_target_is_rejected() {
        for target in [
            "/callback?code=a&state=s#x",
            "/callback#?code=a&state=s",
            "/callback#",
        ] {
            assert_eq!(
                parse_callback("GET", target, "/callback").unwrap_err(),
                CallbackRejection::MalformedRequest,
                "{target}"
            );
        }
    }

    #[test]
    fn dot_segment_and_encoded_look_alikes_of_the_path_are_rejected() {
        for target in [
            "/./callback?code=x",
            "/x/../callback?code=x",
            "/%2e/callback?code=x",
            "/%63allback?code=x",
            "/callback%2F?code=x",
            "/callback%3Fcode=x",
            "//callback?code=x",
            "\\callback?code=x",
            "/callback;x?code=x",
            "*",
        ] {
            assert_eq!(
                parse_callback("GET", target, "/callback").unwrap_err(),
                CallbackRejection::WrongPath,
                "{target}"
            );
        }
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
