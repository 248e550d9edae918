//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz). Not part of the API: they exist so
//! the fuzzers exercise exactly the code the engine runs, including its private parts.
//!
//! The callback target judges what it parses against one pending authorization. Its `state` is
//! random, as in a real sign-in, so an input names it with [`FUZZ_STATE`]: a callback whose
//! `state` is exactly that gets the pending authorization's real one in its place, and goes on
//! to the `iss`, `error` and `code` checks; any other `state` tests the mismatch. The tests below
//! run the seed corpus (`fuzz/corpus/callback_request`) through the entry point and assert that
//! it reaches each of those checks, on the loopback and on the app-link path.

use std::sync::OnceLock;

use openidconnect::core::CoreJsonWebKeySet;
use openidconnect::CsrfToken;

use crate::authorize::{CallbackOutcome, PendingAuthorization};
use crate::config::Config;
use crate::discovery::{Provider, ServerMetadata};
use crate::error::CallbackRejection;
use crate::redirect::{parse_callback, parse_request_head, CallbackParams};

/// The `state` value that stands for the pending authorization's own in fuzz inputs.
pub const FUZZ_STATE: &str = "fuzz-state";

/// How far a callback got in [`PendingAuthorization::check`].
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Judged {
    /// Stopped at `state`.
    StateMismatch,
    /// Passed `state`, stopped at RFC 9207 `iss` (missing or another issuer).
    IssuerRejected,
    /// Passed `state` and `iss`: the server's `error`.
    ServerError,
    /// Passed `state` and `iss`, no `error`, and no usable `code`.
    MissingCode,
    /// Accepted: the code.
    Code,
}

/// What one input did on each path: `None` where it didn't parse as a callback.
#[doc(hidden)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reached {
    /// As bytes on the loopback listener.
    pub loopback: Option<Judged>,
    /// As a mobile redirect's app link.
    pub app_link: Option<Judged>,
}

// A fixture that doesn't build would make every input a no-op: fail loudly instead.
#[allow(clippy::expect_used)]
fn pending() -> &'static (PendingAuthorization, String) {
    static PENDING: OnceLock<(PendingAuthorization, String)> = OnceLock::new();
    PENDING.get_or_init(|| {
        let issuer = "https://idp.example.com";
        let metadata: ServerMetadata = serde_json::from_value(serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": "https://idp.example.com/auth",
            "token_endpoint": "https://idp.example.com/token",
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
        }))
        .expect("the fuzz fixture's metadata parses");
        let config = Config::new(issuer, "fuzz").expect("the fuzz fixture's config is valid");
        let provider = Provider::from_metadata(metadata, &config, CoreJsonWebKeySet::new(vec![]))
            .expect("the fuzz fixture's provider builds");
        let redirect =
            url::Url::parse("http://127.0.0.1:1/callback").expect("the fuzz redirect parses");
        let pending = PendingAuthorization::new(&provider, &config, redirect);
        let state = pending
            .url()
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .expect("the authorization URL carries its state");
        (pending, state)
    })
}

fn judge(mut params: CallbackParams) -> Judged {
    let (pending, state) = pending();
    if params
        .state
        .as_ref()
        .is_some_and(|s| s.secret() == FUZZ_STATE)
    {
        params.state = Some(CsrfToken::new(state.clone()));
    }
    match pending.check(&params) {
        Ok(CallbackOutcome::Code(_)) => Judged::Code,
        Ok(CallbackOutcome::Error { .. }) => Judged::ServerError,
        Err(CallbackRejection::StateMismatch) => Judged::StateMismatch,
        Err(CallbackRejection::MissingIssuer | CallbackRejection::IssuerMismatch) => {
            Judged::IssuerRejected
        }
        Err(_) => Judged::MissingCode,
    }
}

/// Bytes as they arrive on the loopback listener: request-head parsing, callback parsing, and
/// the state/iss/error/code judgement. The same bytes, read as a URL, go through the mobile
/// redirect's app-link parsing and the same judgement.
#[doc(hidden)]
pub fn callback_request(bytes: &[u8]) -> Reached {
    let mut reached = Reached::default();
    if let Ok(Some((method, target))) = parse_request_head(bytes) {
        if let Ok(params) = parse_callback(&method, &target, "/callback") {
            reached.loopback = Some(judge(params));
        }
    }
    if let Some(link) = std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| url::Url::parse(s).ok())
    {
        static REGISTERED: OnceLock<Option<url::Url>> = OnceLock::new();
        let registered =
            REGISTERED.get_or_init(|| url::Url::parse("com.example.app:/callback").ok());
        if let Some(registered) = registered {
            if let Ok(params) = crate::applink::parse_app_link(&link, registered) {
                reached.app_link = Some(judge(params));
            }
        }
    }
    reached
}

/// A token endpoint's body, as the engine reads it: the success shape (the refresh token taken
/// first, then the field checks) and the error shape, at each status class.
#[doc(hidden)]
pub fn token_response(bytes: &[u8]) {
    for status in [200, 400, 401, 503] {
        if let Ok(crate::token_endpoint::TokenAnswer::Issued {
            fields: Ok(fields), ..
        }) = crate::token_endpoint::read(status, bytes, &[], false)
        {
            let _ = crate::tokens::accept_token_response(fields, tokio::time::Instant::now());
        }
    }
    let _ = crate::discovery::parse_json::<ServerMetadata>(crate::error::Endpoint::Token, bytes);
}

/// `WWW-Authenticate` header values, as the engine reads them: every challenge, every header
/// (the input split at newlines into header values).
#[doc(hidden)]
pub fn www_authenticate(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let values: Vec<String> = text.split('\n').map(str::to_owned).collect();
    for challenge in crate::http::parse_challenges(values.iter().map(String::as_str)) {
        let _ = (
            challenge.error(),
            challenge.param("nonce"),
            challenge.is("DPoP"),
        );
    }
    let _ = crate::dpop::is_nonce_challenge(&values);
    let _ = crate::token_endpoint::read(401, b"", &values, true);
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const ALL: [Judged; 5] = [
        Judged::StateMismatch,
        Judged::IssuerRejected,
        Judged::ServerError,
        Judged::MissingCode,
        Judged::Code,
    ];

    /// The seed corpus, compiled in (the test also runs where the repository isn't at hand).
    /// A file added to `fuzz/corpus/callback_request` belongs here too.
    fn corpus() -> Vec<(&'static str, &'static [u8])> {
        macro_rules! seed {
            ($name:literal) => {
                (
                    $name,
                    &include_bytes!(concat!("../../../fuzz/corpus/callback_request/", $name))[..],
                )
            };
        }
        vec![
            seed!("app-link"),
            seed!("app-link-code-missing"),
            seed!("app-link-error"),
            seed!("app-link-iss-mismatch"),
            seed!("app-link-state-mismatch"),
            seed!("code-missing"),
            seed!("error"),
            seed!("iss-mismatch"),
            seed!("iss-missing"),
            seed!("post"),
            seed!("state-mismatch"),
            seed!("success"),
        ]
    }

    #[test]
    fn the_seed_corpus_reaches_every_check_on_both_paths() {
        let (mut loopback, mut app_link) = (HashSet::new(), HashSet::new());
        for (name, bytes) in corpus() {
            let reached = callback_request(bytes);
            println!("{name}: {reached:?}");
            loopback.extend(reached.loopback);
            app_link.extend(reached.app_link);
        }
        for judged in ALL {
            assert!(
                loopback.contains(&judged),
                "no loopback input reaches {judged:?}"
            );
            assert!(
                app_link.contains(&judged),
                "no app-link input reaches {judged:?}"
            );
        }
    }

    #[test]
    fn only_the_placeholder_state_stands_for_ours() {
        let ours = b"GET /callback?code=c&state=fuzz-state&iss=https%3A%2F%2Fidp.example.com HTTP/1.1\r\n\r\n";
        assert_eq!(callback_request(ours).loopback, Some(Judged::Code));
        let other = b"GET /callback?code=c&state=fuzz-statf&iss=https%3A%2F%2Fidp.example.com HTTP/1.1\r\n\r\n";
        assert_eq!(
            callback_request(other).loopback,
            Some(Judged::StateMismatch)
        );
        // The real state is the pending authorization's random one, not the placeholder.
        assert_ne!(pending().1, FUZZ_STATE);
    }
}
