//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz). Not part of the API: they exist so
//! the fuzzers exercise exactly the code the engine runs, including its private parts.

use std::sync::OnceLock;

use openidconnect::core::CoreJsonWebKeySet;

use crate::authorize::PendingAuthorization;
use crate::config::Config;
use crate::discovery::{Provider, ServerMetadata};
use crate::redirect::{parse_callback, parse_request_head};

fn pending() -> Option<&'static PendingAuthorization> {
    static PENDING: OnceLock<Option<PendingAuthorization>> = OnceLock::new();
    PENDING
        .get_or_init(|| {
            let issuer = "https://idp.example.com";
            let metadata: ServerMetadata = serde_json::from_value(serde_json::json!({
                "issuer": issuer,
                "authorization_endpoint": "https://idp.example.com/auth",
                "token_endpoint": "https://idp.example.com/token",
                "code_challenge_methods_supported": ["S256"],
                "authorization_response_iss_parameter_supported": true,
            }))
            .ok()?;
            let config = Config::new(issuer, "fuzz").ok()?;
            let provider =
                Provider::from_metadata(metadata, &config, CoreJsonWebKeySet::new(vec![])).ok()?;
            let redirect = url::Url::parse("http://127.0.0.1:1/callback").ok()?;
            Some(PendingAuthorization::new(&provider, &config, redirect))
        })
        .as_ref()
}

/// Bytes as they arrive on the loopback listener: request-head parsing, callback parsing, and
/// the state/iss/error/code judgement. The same bytes, read as a URL, go through the mobile
/// redirect's app-link parsing and the same judgement.
#[doc(hidden)]
pub fn callback_request(bytes: &[u8]) {
    if let Ok(Some((method, target))) = parse_request_head(bytes) {
        if let Ok(params) = parse_callback(&method, &target, "/callback") {
            if let Some(pending) = pending() {
                let _ = pending.check(&params);
            }
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
                if let Some(pending) = pending() {
                    let _ = pending.check(&params);
                }
            }
        }
    }
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
