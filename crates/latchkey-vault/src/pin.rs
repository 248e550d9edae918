//! The PIN protector: Argon2id(PIN) wraps the vault key with XChaCha20-Poly1305.

use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::key::{Credential, KeyProtector, ProtectorError, UnlockMethod, VaultKey};

/// Argon2id parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism.
    pub p: u32,
}

impl KdfParams {
    /// 64 MiB, 3 passes, 1 lane: above OWASP's minimum for Argon2id (19 MiB, t=2, p=1), because a
    /// PIN has little entropy and each guess should cost as much as a user will tolerate once.
    pub const DEFAULT: KdfParams = KdfParams {
        m_kib: 64 * 1024,
        t: 3,
        p: 1,
    };
    /// OWASP's minimum; tests use it to stay fast.
    pub const OWASP_MINIMUM: KdfParams = KdfParams {
        m_kib: 19 * 1024,
        t: 2,
        p: 1,
    };
}

/// The shortest PIN an unlock accepts (shorter ones are refused uncounted). A *new* PIN must meet
/// the stricter rule of `vault/pin_policy.rs` ([`super::NEW_PIN_RULE`]); 6 is what vaults set up
/// before that rule may have, and they keep opening.
pub const MIN_PIN_LEN: usize = 6;

const PIN_AAD: &[u8] = b"latchkey vault key v1";

#[derive(Serialize, Deserialize)]
struct PinWrapped {
    kdf: String,
    params: KdfParams,
    salt: String,
    aead: String,
    nonce: String,
    ciphertext: String,
}

/// Wraps the key with a key derived from a PIN or passphrase by Argon2id, sealed with
/// XChaCha20-Poly1305. A wrong PIN fails authentication; it can't produce a wrong key.
#[derive(Debug, Clone)]
pub struct PinProtector {
    params: KdfParams,
}

impl Default for PinProtector {
    fn default() -> Self {
        Self {
            params: KdfParams::DEFAULT,
        }
    }
}

impl PinProtector {
    /// With explicit Argon2id parameters for new wraps (existing wraps keep theirs).
    pub fn with_params(params: KdfParams) -> Self {
        Self { params }
    }

    fn pin(credential: &Credential) -> Result<&str, ProtectorError> {
        match credential {
            Credential::Pin(pin) => Ok(pin.as_str()),
            Credential::Prompt(_) => Err(ProtectorError::UnsuitableCredential(
                "this vault is unlocked with a PIN".into(),
            )),
        }
    }

    fn derive(
        pin: &str,
        salt: &[u8],
        params: KdfParams,
    ) -> Result<Zeroizing<[u8; 32]>, ProtectorError> {
        let argon = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(params.m_kib, params.t, params.p, Some(32))
                .map_err(|e| ProtectorError::Malformed(format!("Argon2 parameters: {e}")))?,
        );
        let mut out = Zeroizing::new([0u8; 32]);
        argon
            .hash_password_into(pin.as_bytes(), salt, out.as_mut())
            .map_err(|e| ProtectorError::Malformed(format!("Argon2: {e}")))?;
        Ok(out)
    }
}

impl KeyProtector for PinProtector {
    fn method(&self) -> UnlockMethod {
        UnlockMethod::Pin
    }

    fn limits_attempts(&self) -> bool {
        true
    }

    fn accepts(&self, credential: &Credential) -> Result<(), ProtectorError> {
        let pin = Self::pin(credential)?;
        if pin.chars().count() < MIN_PIN_LEN {
            return Err(ProtectorError::UnsuitableCredential(format!(
                "the PIN must have at least {MIN_PIN_LEN} characters"
            )));
        }
        Ok(())
    }

    fn wrap(
        &self,
        key: &VaultKey,
        credential: &Credential,
    ) -> Result<serde_json::Value, ProtectorError> {
        self.accepts(credential)?;
        let pin = Self::pin(credential)?;
        if !super::pin_policy::new_pin_is_strong_enough(pin) {
            return Err(ProtectorError::UnsuitableCredential(
                super::pin_policy::NEW_PIN_RULE.into(),
            ));
        }
        self.seal(key, pin)
    }

    fn release(
        &self,
        wrapped: &serde_json::Value,
        credential: &Credential,
    ) -> Result<VaultKey, ProtectorError> {
        self.open(wrapped, Self::pin(credential)?)
    }
}

impl PinProtector {
    /// Wraps `key` under Argon2id(`pin`) (the format every release has written).
    fn seal(&self, key: &VaultKey, pin: &str) -> Result<serde_json::Value, ProtectorError> {
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let kek = Self::derive(pin, &salt, self.params)?;
        let cipher = XChaCha20Poly1305::new(kek.as_ref().into());
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: key.expose(),
                    aad: PIN_AAD,
                },
            )
            .map_err(|_| ProtectorError::Malformed("encryption failed".into()))?;
        serde_json::to_value(PinWrapped {
            kdf: "argon2id".into(),
            params: self.params,
            salt: B64.encode(salt),
            aead: "xchacha20poly1305".into(),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ciphertext),
        })
        .map_err(|e| ProtectorError::Malformed(e.to_string()))
    }

    fn open(&self, wrapped: &serde_json::Value, pin: &str) -> Result<VaultKey, ProtectorError> {
        let w: PinWrapped = serde_json::from_value(wrapped.clone())
            .map_err(|e| ProtectorError::Malformed(e.to_string()))?;
        if w.kdf != "argon2id" || w.aead != "xchacha20poly1305" {
            return Err(ProtectorError::Malformed("unknown algorithm".into()));
        }
        let decode = |s: &str| {
            B64.decode(s)
                .map_err(|e| ProtectorError::Malformed(e.to_string()))
        };
        let (salt, nonce, ciphertext) =
            (decode(&w.salt)?, decode(&w.nonce)?, decode(&w.ciphertext)?);
        if nonce.len() != 24 || salt.len() < 16 {
            return Err(ProtectorError::Malformed("bad nonce or salt length".into()));
        }
        let kek = Self::derive(pin, &salt, w.params)?;
        let cipher = XChaCha20Poly1305::new(kek.as_ref().into());
        let mut plain = cipher
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: PIN_AAD,
                },
            )
            .map_err(|_| ProtectorError::WrongCredential)?;
        let key = VaultKey::from_bytes(&plain);
        plain.zeroize();
        key.ok_or_else(|| ProtectorError::Malformed("wrapped key has the wrong length".into()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::key::tests::pin;
    use super::*;

    /// A wrap exactly as the previous release wrote it (any PIN of 6+ characters): the same
    /// fields and algorithms, without the new-PIN rule.
    pub(crate) fn legacy_wrap(key: &VaultKey, p: &str) -> serde_json::Value {
        assert!(p.chars().count() >= MIN_PIN_LEN);
        fast().seal(key, p).unwrap()
    }

    fn fast() -> PinProtector {
        PinProtector::with_params(KdfParams::OWASP_MINIMUM)
    }

    #[test]
    fn a_pin_wrapped_key_unwraps_with_the_same_pin_only() {
        let key = VaultKey::generate();
        let wrapped = fast().wrap(&key, &pin("correct horse")).unwrap();
        let back = fast().release(&wrapped, &pin("correct horse")).unwrap();
        assert_eq!(back.expose(), key.expose());
        assert!(matches!(
            fast().release(&wrapped, &pin("wrong horse")),
            Err(ProtectorError::WrongCredential)
        ));
    }

    #[test]
    fn the_wrapped_form_never_contains_the_key_or_the_pin() {
        let key = VaultKey::generate();
        let wrapped = fast().wrap(&key, &pin("pin-123456")).unwrap().to_string();
        assert!(!wrapped.contains("123456"));
        assert!(!wrapped.contains(&B64.encode(key.expose())));
        assert!(wrapped.contains("argon2id"));
    }

    #[test]
    fn short_pins_are_refused() {
        let err = fast()
            .wrap(&VaultKey::generate(), &pin("12345"))
            .unwrap_err();
        assert!(err.to_string().contains("at least 6"), "{err}");
    }

    #[test]
    fn the_default_kdf_is_at_least_owasps_argon2id_minimum() {
        let d = KdfParams::DEFAULT;
        assert!(d.m_kib >= 19 * 1024 && d.t >= 2 && d.p >= 1);
    }

    #[test]
    fn a_tampered_wrap_is_malformed_or_rejected_never_a_wrong_key() {
        let key = VaultKey::generate();
        let mut wrapped = fast().wrap(&key, &pin("pin-123456")).unwrap();
        let mut ct = B64.decode(wrapped["ciphertext"].as_str().unwrap()).unwrap();
        ct[0] ^= 1;
        wrapped["ciphertext"] = B64.encode(ct).into();
        assert!(fast().release(&wrapped, &pin("pin-123456")).is_err());
        wrapped["nonce"] = "!!".into();
        assert!(matches!(
            fast().release(&wrapped, &pin("pin-123456")),
            Err(ProtectorError::Malformed(_))
        ));
    }
}
