//! Server-provided DPoP nonces (RFC 9449 §8, §9), remembered per endpoint.
//!
//! Keyed by the endpoint (the proof's `htu`: origin and path), not by the origin alone: an
//! authorization server and a resource server may share an origin and keep separate nonces (the
//! dev IdP and its demo API do), and one's nonce sent to the other would cost a challenge on
//! every alternation. The price is one extra challenge per endpoint on a server whose endpoints
//! share nonces.
//!
//! Bounded: an app calling an API with many paths (`/items/1`, `/items/2`, …) would otherwise
//! grow the cache by one entry per path for the life of the session. At most
//! [`PER_ORIGIN`] endpoints per origin and [`ENDPOINTS`] in all are kept, the least recently used
//! forgotten first; a forgotten nonce costs one challenge and retry, never a failed call.

use std::collections::VecDeque;
use std::sync::Mutex;

use url::Url;

/// Endpoints remembered per origin.
pub const PER_ORIGIN: usize = 8;
/// Endpoints remembered in all.
pub const ENDPOINTS: usize = 64;

/// The latest `DPoP-Nonce` each endpoint sent. Shared by all of a session's requests.
#[derive(Debug, Default)]
pub struct NonceCache {
    /// (origin, htu, nonce), the most recently used last.
    entries: Mutex<VecDeque<(String, String, String)>>,
}

impl NonceCache {
    /// The nonce last received from `url`'s endpoint (its query and fragment don't count).
    pub fn get(&self, url: &Url) -> Option<String> {
        let htu = super::htu(url);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let at = entries.iter().position(|(_, h, _)| *h == htu)?;
        let entry = entries.remove(at)?;
        let nonce = entry.2.clone();
        entries.push_back(entry);
        Some(nonce)
    }

    /// How many endpoints are remembered.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
            let htu = super::htu(url);
            let origin = url.origin().ascii_serialization();
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            entries.retain(|(_, h, _)| *h != htu);
            let same_origin = entries.iter().filter(|(o, _, _)| *o == origin).count();
            if same_origin >= PER_ORIGIN {
                if let Some(oldest) = entries.iter().position(|(o, _, _)| *o == origin) {
                    entries.remove(oldest);
                }
            }
            if entries.len() >= ENDPOINTS {
                entries.pop_front();
            }
            entries.push_back((origin, htu, nonce.to_owned()));
        }
        valid
    }
}

/// Whether any challenge in any of the `WWW-Authenticate` values is a DPoP challenge with
/// `error="use_dpop_nonce"` (RFC 9449 §7.1, §9): not only the first header, nor only the first
/// challenge in it.
pub fn is_nonce_challenge(www_authenticate: &[String]) -> bool {
    crate::http::has_error(www_authenticate, "DPoP", "use_dpop_nonce")
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
    fn an_api_with_many_paths_keeps_the_cache_bounded_per_origin_and_in_all() {
        let cache = NonceCache::default();
        for i in 0..1000 {
            let url = Url::parse(&format!("https://api.example/items/{i}")).unwrap();
            assert!(cache.remember(&url, "n"));
        }
        assert_eq!(cache.len(), PER_ORIGIN);
        let latest = Url::parse("https://api.example/items/999").unwrap();
        assert_eq!(cache.get(&latest).as_deref(), Some("n"));
        let token = Url::parse("https://as.example/token").unwrap();
        assert!(cache.remember(&token, "t"));
        // Another origin's flood doesn't push out the token endpoint's nonce while it is used.
        for host in 0..200 {
            let url = Url::parse(&format!("https://h{host}.example/x")).unwrap();
            cache.remember(&url, "n");
            if host % 10 == 0 {
                assert_eq!(cache.get(&token).as_deref(), Some("t"), "{host}");
            }
        }
        assert_eq!(cache.len(), ENDPOINTS);
        assert_eq!(cache.get(&token).as_deref(), Some("t"));
    }

    #[test]
    fn only_a_dpop_use_dpop_nonce_challenge_counts() {
        let v = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(is_nonce_challenge(&v(&[
            r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#
        ])));
        assert!(!is_nonce_challenge(&v(&[r#"DPoP error="invalid_token""#])));
        assert!(!is_nonce_challenge(&v(&[
            r#"Bearer error="use_dpop_nonce""#
        ])));
    }

    #[test]
    fn a_nonce_challenge_after_another_header_or_challenge_is_seen() {
        let v = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(is_nonce_challenge(&v(&[
            r#"Bearer realm="api""#,
            r#"DPoP algs="ES256", error="use_dpop_nonce""#
        ])));
        assert!(is_nonce_challenge(&v(&[
            r#"Bearer realm="api", error="invalid_token", DPoP algs="ES256", error="use_dpop_nonce""#
        ])));
    }
}
