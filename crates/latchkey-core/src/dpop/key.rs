//! The DPoP key: a signer behind a trait, and the software ES256 key that implements it.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::DpopError;
use crate::secret::SecretString;

/// Signs DPoP proofs. The software key is the implementation here; a platform key that never
/// leaves its store (Secure Enclave, Android Keystore, Stronghold) implements the same trait.
pub trait DpopSigner: Send + Sync {
    /// The JWS `alg` (e.g. `ES256`).
    fn alg(&self) -> &'static str;
    /// The public key as a JWK (RFC 7517), the members RFC 7638 hashes and nothing else.
    fn public_jwk(&self) -> &Value;
    /// Signs a JWS signing input; the signature in JWS form (for ES256: `r || s`, 64 bytes).
    ///
    /// # Errors
    /// [`DpopError::Key`] when the key store refused.
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, DpopError>;
    /// The private key to store with the session, or `None` for a key that can't leave its
    /// store (the session would keep a handle to it instead).
    fn export(&self) -> Option<DpopKeyMaterial>;
}

/// The private part of a software key as the stored session keeps it. `Debug` redacts it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DpopKeyMaterial {
    /// The JWS algorithm.
    pub alg: String,
    /// The private scalar, base64url (32 bytes for P-256).
    pub d: SecretString,
}

/// A session's DPoP key. Cheap to clone (shared); `Debug` shows the algorithm and thumbprint.
#[derive(Clone)]
pub struct DpopKey {
    signer: Arc<dyn DpopSigner>,
    thumbprint: Arc<str>,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.signer.alg())
            .field("jkt", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// A fresh software key for `alg` (`ES256` or `EdDSA`, Ed25519), from the operating
    /// system's random source.
    ///
    /// # Errors
    /// [`DpopError::Key`] for another algorithm.
    pub fn generate_for(alg: &str) -> Result<Self, DpopError> {
        match alg {
            "ES256" => Self::generate(),
            "EdDSA" => {
                use rand::RngCore as _;
                let mut bytes = Zeroizing::new([0u8; 32]);
                rand::rngs::OsRng.fill_bytes(bytes.as_mut());
                let key = ed25519_dalek::SigningKey::from_bytes(&bytes);
                Ok(Self::from_signer(Arc::new(SoftwareEd25519::new(key))))
            }
            _ => Err(DpopError::Key("be generated for that algorithm")),
        }
    }

    /// A fresh software ES256 key from the operating system's random source.
    ///
    /// # Errors
    /// [`DpopError::Key`] if no valid scalar came out of the random source (never, in practice).
    pub fn generate() -> Result<Self, DpopError> {
        use rand::RngCore as _;
        for _ in 0..8 {
            let mut bytes = Zeroizing::new([0u8; 32]);
            rand::rngs::OsRng.fill_bytes(bytes.as_mut());
            if let Ok(key) = SigningKey::from_slice(bytes.as_ref()) {
                return Ok(Self::from_signer(Arc::new(SoftwareEs256::new(key))));
            }
        }
        Err(DpopError::Key("be generated"))
    }

    /// A key around any signer (a platform key store's, say).
    pub fn from_signer(signer: Arc<dyn DpopSigner>) -> Self {
        let thumbprint = jwk_thumbprint(signer.public_jwk()).into();
        Self { signer, thumbprint }
    }

    /// The key read back from a stored session.
    ///
    /// # Errors
    /// [`DpopError::BadStoredKey`] for an unknown algorithm or a malformed scalar.
    pub fn from_material(material: &DpopKeyMaterial) -> Result<Self, DpopError> {
        if material.alg != "ES256" && material.alg != "EdDSA" {
            return Err(DpopError::BadStoredKey("unknown algorithm"));
        }
        let bytes = Zeroizing::new(
            B64.decode(material.d.expose())
                .map_err(|_| DpopError::BadStoredKey("not base64url"))?,
        );
        if material.alg == "EdDSA" {
            let seed: &[u8; 32] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| DpopError::BadStoredKey("not an Ed25519 private key"))?;
            let key = ed25519_dalek::SigningKey::from_bytes(seed);
            return Ok(Self::from_signer(Arc::new(SoftwareEd25519::new(key))));
        }
        let key = SigningKey::from_slice(&bytes)
            .map_err(|_| DpopError::BadStoredKey("not a P-256 private key"))?;
        Ok(Self::from_signer(Arc::new(SoftwareEs256::new(key))))
    }

    /// The JWK SHA-256 thumbprint (RFC 7638), base64url: the `jkt` a bound token carries in
    /// `cnf` and the value of `dpop_jkt` on the authorization request.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The signer.
    pub fn signer(&self) -> &dyn DpopSigner {
        self.signer.as_ref()
    }

    /// See [`DpopSigner::export`].
    pub fn export(&self) -> Option<DpopKeyMaterial> {
        self.signer.export()
    }
}

/// RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
pub(super) fn jwk_thumbprint(jwk: &Value) -> String {
    use sha2::Digest as _;
    let member = |k: &str| jwk.get(k).and_then(Value::as_str).unwrap_or_default();
    let canonical = match member("kty") {
        "OKP" => format!(
            r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
            member("crv"),
            member("x")
        ),
        _ => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            member("crv"),
            member("x"),
            member("y")
        ),
    };
    B64.encode(sha2::Sha256::digest(canonical.as_bytes()))
}

/// A P-256 key in this process's memory (zeroized on drop by p256).
struct SoftwareEs256 {
    key: SigningKey,
    jwk: Value,
}

impl SoftwareEs256 {
    fn new(key: SigningKey) -> Self {
        let point = key.verifying_key().to_sec1_point(false);
        // Uncompressed SEC1: 0x04 || x (32) || y (32).
        let bytes = point.as_bytes();
        let (x, y) = bytes
            .get(1..)
            .unwrap_or_default()
            .split_at(32.min(bytes.len().saturating_sub(1)));
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": B64.encode(x), "y": B64.encode(y)});
        Self { key, jwk }
    }
}

impl DpopSigner for SoftwareEs256 {
    fn alg(&self) -> &'static str {
        "ES256"
    }

    fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, DpopError> {
        let signature: Signature = self
            .key
            .try_sign(signing_input)
            .map_err(|_| DpopError::Key("sign"))?;
        Ok(signature.to_bytes().to_vec())
    }

    fn export(&self) -> Option<DpopKeyMaterial> {
        let scalar = Zeroizing::new(self.key.to_bytes());
        Some(DpopKeyMaterial {
            alg: "ES256".into(),
            d: SecretString::new(B64.encode(scalar.as_slice())),
        })
    }
}

/// An Ed25519 key in this process's memory (zeroized on drop by ed25519-dalek).
struct SoftwareEd25519 {
    key: ed25519_dalek::SigningKey,
    jwk: Value,
}

impl SoftwareEd25519 {
    fn new(key: ed25519_dalek::SigningKey) -> Self {
        let x = B64.encode(key.verifying_key().to_bytes());
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": x});
        Self { key, jwk }
    }
}

impl DpopSigner for SoftwareEd25519 {
    fn alg(&self) -> &'static str {
        "EdDSA"
    }

    fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, DpopError> {
        use ed25519_dalek::Signer as _;
        let signature = self
            .key
            .try_sign(signing_input)
            .map_err(|_| DpopError::Key("sign"))?;
        Ok(signature.to_bytes().to_vec())
    }

    fn export(&self) -> Option<DpopKeyMaterial> {
        let seed = Zeroizing::new(self.key.to_bytes());
        Some(DpopKeyMaterial {
            alg: "EdDSA".into(),
            d: SecretString::new(B64.encode(seed.as_slice())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_survives_the_round_trip_through_the_stored_session() {
        for alg in ["ES256", "EdDSA"] {
            let key = DpopKey::generate_for(alg).unwrap();
            let material = key.export().unwrap();
            assert_eq!(material.alg, alg);
            let back = DpopKey::from_material(&material).unwrap();
            assert_eq!(key.thumbprint(), back.thumbprint());
            assert_eq!(key.signer().public_jwk(), back.signer().public_jwk());
        }
    }

    #[test]
    fn debug_shows_the_thumbprint_and_never_the_private_scalar() {
        let key = DpopKey::generate().unwrap();
        let material = key.export().unwrap();
        let shown = format!("{key:?} {material:?}");
        assert!(shown.contains(key.thumbprint()), "{shown}");
        assert!(!shown.contains(material.d.expose()), "{shown}");
    }

    #[test]
    fn the_thumbprint_is_rfc_7638s_example() {
        // RFC 7638 §3.1 uses an RSA key; this EC vector is RFC 9449 §7.1's (its jkt).
        let jwk = json!({"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"});
        assert_eq!(
            jwk_thumbprint(&jwk),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
    }

    #[test]
    fn a_stored_key_with_an_unknown_algorithm_or_bad_scalar_is_refused() {
        for (alg, d) in [("RS256", "AAAA"), ("ES256", "!!"), ("ES256", "AAAA")] {
            let material = DpopKeyMaterial {
                alg: alg.into(),
                d: SecretString::new(d.into()),
            };
            assert!(matches!(
                DpopKey::from_material(&material),
                Err(DpopError::BadStoredKey(_))
            ));
        }
    }
}
