//! Server-provided DPoP nonces (RFC 9449 §8, §9), remembered per endpoint.
//!
//! Keyed by the endpoint (the proof's `htu`: origin and path), not by the origin alone: an
//! authorization server and a resource server may share an origin and keep separate nonces (the
//! dev IdP and its demo API do), and one's nonce sent to the other would cost a challenge on
//! every alternation. The price is one extra challenge per endpoint on a server whose endpoints
//! share nonces.

use std::collections::HashMap;
use std::sync::Mutex;

use url::Url;

/// The latest `DPoP-Nonce` each endpoint sent. Shared by all of a session's requests.
#[derive(Debug, Default)]
pub struct NonceCache {
    by_origin: Mutex<HashMap<String, String>>,
}

impl NonceCache {
    /// The nonce last received from `url`'s endpoint (its query and fragment don't count).
    pub fn get(&self, url: &Url) -> Option<String> {
        let map = self.by_origin.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&super::htu(url)).cloned()
    }

    /// Remembers a `DPoP-Nonce` header value from `url`'s endpoint; a value that isn't a valid
    /// nonce (RFC 9449 §8.1: 1*NQCHAR, bounded here at 512) is ignored. Returns whether it was
    /// kept.
    pub fn remember(&self, url: &Url, nonce: &str) -> bool {
        let valid = !nonce.is_empty()
            && nonce.len() <= 512
            && nonce
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if valid {
            let mut map = self.by_origin.lock().unwrap_or_else(|p| p.into_inner());
            map.insert(super::htu(url), nonce.to_owned());
        }
        valid
    }
}

/// Whether a `WWW-Authenticate` value is a DPoP challenge with `error="use_dpop_nonce"`.
pub fn is_nonce_challenge(www_authenticate: &str) -> bool {
    let lower = www_authenticate.to_ascii_lowercase();
    lower.trim_start().starts_with("dpop")
        && (lower.contains("error=\"use_dpop_nonce\"") || lower.contains("error=use_dpop_nonce"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_kept_per_endpoint_and_invalid_ones_are_ignored() {
        let cache = NonceCache::default();
        let a = Url::parse("https://as.example/token").unwrap();
        let a2 = Url::parse("https://as.example/token?x=1").unwrap();
        let same_origin_api = Url::parse("https://as.example/api/hello").unwrap();
        let b = Url::parse("https://api.example/v1").unwrap();
        assert!(cache.remember(&a, "n-1"));
        assert_eq!(cache.get(&a2).as_deref(), Some("n-1"));
        assert_eq!(cache.get(&same_origin_api), None);
        assert_eq!(cache.get(&b), None);
        assert!(!cache.remember(&a, "has space"));
        assert!(!cache.remember(&a, "quo\"te"));
        assert!(!cache.remember(&a, ""));
        assert_eq!(cache.get(&a).as_deref(), Some("n-1"));
    }

    #[test]
    fn only_a_dpop_use_dpop_nonce_challenge_counts() {
        assert!(is_nonce_challenge(
            r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#
        ));
        assert!(!is_nonce_challenge(r#"DPoP error="invalid_token""#));
        assert!(!is_nonce_challenge(r#"Bearer error="use_dpop_nonce""#));
    }
}
