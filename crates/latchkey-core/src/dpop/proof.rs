//! DPoP proof JWTs (RFC 9449 §4.2).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::json;
use url::Url;

use super::{DpopError, DpopKey};

/// One proof's inputs. Build with [`Proof::new`], add `ath`/`nonce`, then [`Proof::sign`].
#[derive(Debug)]
pub struct Proof<'a> {
    htm: &'a str,
    htu: String,
    ath: Option<String>,
    nonce: Option<&'a str>,
    iat: i64,
}

impl<'a> Proof<'a> {
    /// A proof for `method` on `url`, issued now by this machine's clock (see
    /// [`super::ServerClocks::iat_for`] for the receiving server's time, and
    /// [`Proof::issued_at`]).
    pub fn new(method: &'a str, url: &Url) -> Self {
        Self {
            htm: method,
            htu: htu(url),
            ath: None,
            nonce: None,
            iat: chrono::Utc::now().timestamp(),
        }
    }

    /// Binds the proof to an access token (resource requests).
    pub fn access_token(mut self, token: &str) -> Self {
        self.ath = Some(ath(token));
        self
    }

    /// The server's nonce, when one is known.
    pub fn nonce(mut self, nonce: Option<&'a str>) -> Self {
        self.nonce = nonce;
        self
    }

    /// Sets `iat`: the receiving server's time ([`super::ServerClocks::iat_for`]), or a fixed
    /// one in tests and benchmarks.
    pub fn issued_at(mut self, iat: i64) -> Self {
        self.iat = iat;
        self
    }

    /// The compact JWS.
    ///
    /// # Errors
    /// [`DpopError::Key`] when the key could not sign.
    pub fn sign(self, key: &DpopKey) -> Result<String, DpopError> {
        use rand::RngCore as _;
        let signer = key.signer();
        let header = json!({"typ": "dpop+jwt", "alg": signer.alg(), "jwk": signer.public_jwk()});
        let mut jti = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut jti);
        let mut claims = json!({
            "jti": B64.encode(jti),
            "htm": self.htm,
            "htu": self.htu,
            "iat": self.iat,
        });
        if let Some(map) = claims.as_object_mut() {
            if let Some(ath) = self.ath {
                map.insert("ath".into(), ath.into());
            }
            if let Some(nonce) = self.nonce {
                map.insert("nonce".into(), nonce.into());
            }
        }
        let mut jws = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature = signer.sign(jws.as_bytes())?;
        jws.push('.');
        jws.push_str(&B64.encode(signature));
        Ok(jws)
    }
}

/// `htu`: the request URL without query and fragment (RFC 9449 §4.2, §4.3 step 9).
pub fn htu(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// `ath`: base64url SHA-256 of the ASCII access token (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    use sha2::Digest as _;
    B64.encode(sha2::Sha256::digest(access_token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_drops_the_query_and_the_fragment() {
        let url = Url::parse("https://api.example.com/v1/items?id=7&q=x#frag").unwrap();
        assert_eq!(htu(&url), "https://api.example.com/v1/items");
    }

    #[test]
    fn ath_is_the_base64url_sha256_of_the_token() {
        // RFC 9449 §7.1's example access token and ath.
        assert_eq!(
            ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }
}
