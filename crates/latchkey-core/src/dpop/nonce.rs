//! Server-provided DPoP nonces (RFC 9449 §8, §9), remembered per origin.

use std::collections::HashMap;
use std::sync::Mutex;

use url::Url;

/// The latest `DPoP-Nonce` each server (origin) sent. Shared by all of a session's requests.
#[derive(Debug, Default)]
pub struct NonceCache {
    by_origin: Mutex<HashMap<String, String>>,
}

impl NonceCache {
    /// The nonce last received from `url`'s origin.
    pub fn get(&self, url: &Url) -> Option<String> {
        let map = self.by_origin.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&url.origin().ascii_serialization()).cloned()
    }

    /// Remembers a `DPoP-Nonce` header value from `url`'s origin; a value that isn't a valid
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
            map.insert(url.origin().ascii_serialization(), nonce.to_owned());
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
    fn nonces_are_kept_per_origin_and_invalid_ones_are_ignored() {
        let cache = NonceCache::default();
        let a = Url::parse("https://as.example/token").unwrap();
        let a2 = Url::parse("https://as.example/me?x=1").unwrap();
        let b = Url::parse("https://api.example/v1").unwrap();
        assert!(cache.remember(&a, "n-1"));
        assert_eq!(cache.get(&a2).as_deref(), Some("n-1"));
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
