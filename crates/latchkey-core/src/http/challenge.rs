//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1), every one of them.
//!
//! A response may carry the header several times, and each value may hold several challenges,
//! comma-separated, each with comma-separated parameters whose values are tokens or quoted
//! strings (which may themselves contain commas):
//!
//! ```text
//! WWW-Authenticate: Bearer realm="api", error="insufficient_user_authentication",
//!     acr_values="urn:mace:incommon:iap:silver", DPoP algs="ES256", error="use_dpop_nonce"
//! ```
//!
//! [`parse_challenges`] returns each challenge with its scheme and parameters (names lowercased,
//! values unquoted), for every caller that needs one: the DPoP nonce challenge (RFC 9449 §7.1),
//! a token endpoint's `invalid_dpop_proof` sent in a header, and RFC 9470 step-up
//! (`insufficient_user_authentication`, `acr_values`, `max_age`). Parsing is lenient where it
//! can't hurt: a malformed challenge is skipped up to the next one, never the whole header.

/// At most this many challenges are kept from one response (a hostile server can't make a list
/// grow without bound; headers are already size-capped by the client).
const MAX_CHALLENGES: usize = 32;

/// One challenge: an auth scheme and its parameters (or a token68).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth scheme as sent (compare with [`Challenge::is`]: schemes are case-insensitive).
    pub scheme: String,
    /// The parameters in order, names lowercased, quoted-string values unescaped.
    pub params: Vec<(String, String)>,
    /// A token68 in place of parameters (`Basic dXNlcg==`), if that is what was sent.
    pub token68: Option<String>,
}

impl Challenge {
    /// Whether this challenge's scheme is `scheme` (case-insensitive).
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The first value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `error` parameter (RFC 6750 §3, RFC 9449 §7.1).
    pub fn error(&self) -> Option<&str> {
        self.param("error")
    }
}

/// Every challenge in every `WWW-Authenticate` header value, in order.
pub fn parse_challenges<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out = Vec::new();
    for value in values {
        Parser {
            s: value.as_bytes(),
            i: 0,
        }
        .challenges(&mut out);
        if out.len() >= MAX_CHALLENGES {
            out.truncate(MAX_CHALLENGES);
            break;
        }
    }
    out
}

/// Whether any challenge in `values` is `scheme` with `error` equal to `error`.
pub fn has_error(values: &[String], scheme: &str, error: &str) -> bool {
    parse_challenges(values.iter().map(String::as_str))
        .iter()
        .any(|c| c.is(scheme) && c.error() == Some(error))
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

struct Parser<'s> {
    s: &'s [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// Skips whitespace and empty list elements (`, ,`).
    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn quoted(&mut self) -> Option<String> {
        if self.peek() != Some(b'"') {
            return None;
        }
        self.i += 1;
        let mut value = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(String::from_utf8_lossy(&value).into_owned());
                }
                b'\\' => {
                    self.i += 1;
                    value.push(self.peek()?);
                    self.i += 1;
                }
                b => {
                    value.push(b);
                    self.i += 1;
                }
            }
        }
    }

    /// Skips to just past the next comma outside a quoted string (a malformed element).
    fn recover(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b',' => {
                    self.i += 1;
                    return;
                }
                b'"' => {
                    if self.quoted().is_none() {
                        self.i = self.s.len();
                    }
                }
                _ => self.i += 1,
            }
        }
    }

    /// An `auth-param` at the cursor (`name BWS "=" BWS value`), or None with the cursor unmoved.
    fn auth_param(&mut self) -> Option<(String, String)> {
        let start = self.i;
        let attempt = (|| {
            let name = self.token()?;
            self.skip_ws();
            if self.peek() != Some(b'=') {
                return None;
            }
            self.i += 1;
            self.skip_ws();
            let value = match self.peek() {
                Some(b'"') => self.quoted()?,
                _ => self.token()?,
            };
            self.skip_ws();
            matches!(self.peek(), None | Some(b',')).then(|| (name.to_ascii_lowercase(), value))
        })();
        if attempt.is_none() {
            self.i = start;
        }
        attempt
    }

    /// A token68 at the cursor, ending the challenge (followed by the end or a comma).
    fn token68(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_token68_char) {
            self.i += 1;
        }
        let body = self.i;
        while self.peek() == Some(b'=') {
            self.i += 1;
        }
        self.skip_ws();
        if body > start && matches!(self.peek(), None | Some(b',')) {
            let end = self.s[start..self.i]
                .iter()
                .rposition(|b| *b != b' ' && *b != b'\t')
                .map_or(start, |p| start + p + 1);
            return Some(String::from_utf8_lossy(&self.s[start..end]).into_owned());
        }
        self.i = start;
        None
    }

    fn challenges(&mut self, out: &mut Vec<Challenge>) {
        loop {
            self.skip_separators();
            if self.peek().is_none() || out.len() >= MAX_CHALLENGES {
                return;
            }
            let Some(scheme) = self.token() else {
                self.recover();
                continue;
            };
            let mut challenge = Challenge {
                scheme,
                params: Vec::new(),
                token68: None,
            };
            match self.peek() {
                None | Some(b',') => {
                    out.push(challenge);
                    continue;
                }
                Some(b' ' | b'\t') => self.skip_ws(),
                Some(_) => {
                    // `Bearer"x"`: not a scheme followed by anything RFC 9110 allows.
                    self.recover();
                    continue;
                }
            }
            if let Some(param) = self.auth_param() {
                challenge.params.push(param);
                // More parameters follow a comma; a comma followed by `scheme` (no `=`) starts
                // the next challenge.
                loop {
                    let before = self.i;
                    self.skip_separators();
                    if self.i == before && self.peek().is_some() {
                        break;
                    }
                    match self.auth_param() {
                        Some(param) => challenge.params.push(param),
                        None => break,
                    }
                }
            } else if let Some(t) = self.token68() {
                challenge.token68 = Some(t);
            } else if !matches!(self.peek(), None | Some(b',')) {
                // Neither parameters nor a token68: the challenge is kept with what it had (its
                // scheme), and the rest of the element is skipped.
                self.recover();
            }
            out.push(challenge);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &str) -> Vec<Challenge> {
        parse_challenges([value])
    }

    #[test]
    fn several_challenges_in_one_header_each_with_its_own_params() {
        let cs = one(
            r#"Bearer realm="api", error="insufficient_user_authentication", acr_values="urn:a urn:b", max_age=5, DPoP algs="ES256 EdDSA", error="use_dpop_nonce", error_description="a, b""#,
        );
        assert_eq!(cs.len(), 2, "{cs:?}");
        assert!(cs[0].is("bearer"));
        assert_eq!(cs[0].error(), Some("insufficient_user_authentication"));
        assert_eq!(cs[0].param("ACR_VALUES"), Some("urn:a urn:b"));
        assert_eq!(cs[0].param("max_age"), Some("5"));
        assert!(cs[1].is("DPoP"));
        assert_eq!(cs[1].error(), Some("use_dpop_nonce"));
        assert_eq!(cs[1].param("algs"), Some("ES256 EdDSA"));
        assert_eq!(cs[1].param("error_description"), Some("a, b"));
    }

    #[test]
    fn every_header_value_counts_not_only_the_first() {
        let cs = parse_challenges([r#"Bearer realm="api""#, r#"DPoP error="use_dpop_nonce""#]);
        assert_eq!(cs.len(), 2);
        assert!(cs[1].is("dpop") && cs[1].error() == Some("use_dpop_nonce"));
        assert!(has_error(
            &[
                r#"Basic realm="x""#.into(),
                r#"dpop ERROR = use_dpop_nonce"#.into()
            ],
            "DPoP",
            "use_dpop_nonce"
        ));
    }

    #[test]
    fn schemes_without_params_token68_and_escapes() {
        let cs =
            one(r#"Negotiate, Basic dXNlcjpwYXNz==, Newauth realm="a \"quoted\" \\ one", type=1"#);
        assert_eq!(cs.len(), 3, "{cs:?}");
        assert!(cs[0].is("negotiate") && cs[0].params.is_empty());
        assert_eq!(cs[1].token68.as_deref(), Some("dXNlcjpwYXNz=="));
        assert_eq!(cs[2].param("realm"), Some(r#"a "quoted" \ one"#));
        assert_eq!(cs[2].param("type"), Some("1"));
    }

    #[test]
    fn a_malformed_challenge_is_skipped_and_the_next_one_still_read() {
        for value in [
            r#"Bearer realm="unterminated, DPoP error="use_dpop_nonce""#,
            r#"=junk, DPoP error="use_dpop_nonce""#,
            r#"Bearer @@@, DPoP error="use_dpop_nonce""#,
            r#", , DPoP error="use_dpop_nonce""#,
        ] {
            let cs = one(value);
            // An unterminated quote swallows the rest of its header: nothing to trust there.
            if value.contains("unterminated") {
                assert!(
                    cs.iter().all(|c| c.error() != Some("use_dpop_nonce")),
                    "{cs:?}"
                );
                continue;
            }
            assert!(
                cs.iter()
                    .any(|c| c.is("DPoP") && c.error() == Some("use_dpop_nonce")),
                "{value}: {cs:?}"
            );
        }
        assert!(one("").is_empty());
        assert!(one(" , ").is_empty());
    }

    #[test]
    fn a_flood_of_challenges_is_bounded() {
        let value = "A, ".repeat(1000);
        assert_eq!(one(&value).len(), MAX_CHALLENGES);
    }
}
