//! Windows Hello's shape (what Bitwarden's desktop app does): the Hello key (a
//! `KeyCredentialManager` credential, its private key in the TPM or Hello's container) signs a
//! random per-enrolment challenge; HKDF-SHA256 turns the signature into a wrapping key; the vault
//! key is sealed with XChaCha20-Poly1305 under it. Releasing the key signs the same challenge
//! again (Hello prompts): the same Hello key gives the same signature (RSA PKCS#1 v1.5 signatures
//! are deterministic) and so the same wrapping key; a Hello key that was reset gives another
//! signature, the seal doesn't open, and that is `KeyInvalidated` (the PIN wraps again).
//!
//! The derivation and sealing are here, host-tested with a fake signer; the Windows signer itself
//! (`KeyCredentialManager::RequestCreateAsync` / `OpenAsync`, `RequestSignAsync`) is designed, not
//! built here (see README, "Platforms").

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::key::{Credential, KeyProtector, ProtectorError, UnlockMethod, VaultKey};

/// What HKDF binds the wrapping key to.
const INFO: &[u8] = b"latchkey vault key wrap v1 (windows hello)";

/// Windows Hello: signs with the user's Hello key after a Hello prompt.
pub trait HelloSigner: Send + Sync {
    /// The signature over `challenge`; [`ProtectorError::Unavailable`] when Hello isn't set up
    /// or supported, [`ProtectorError::Cancelled`] when the user dismissed the prompt. `enrol`:
    /// create the app's Hello key if it doesn't exist (wrapping); when releasing, a missing key
    /// is [`ProtectorError::KeyInvalidated`] (the PIN, then a new wrap), never a new key.
    fn sign(
        &self,
        reason: &str,
        challenge: &[u8],
        enrol: bool,
    ) -> Result<Zeroizing<Vec<u8>>, ProtectorError>;
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    challenge: String,
    nonce: String,
    ciphertext: String,
}

/// The wrapping key: HKDF-SHA256 over the signature, salted with the challenge.
pub fn wrapping_key(
    signature: &[u8],
    challenge: &[u8],
) -> Result<Zeroizing<[u8; 32]>, ProtectorError> {
    let mut okm = Zeroizing::new([0u8; 32]);
    hkdf::Hkdf::<sha2::Sha256>::new(Some(challenge), signature)
        .expand(INFO, okm.as_mut())
        .map_err(|_| ProtectorError::Malformed("HKDF output length".into()))?;
    Ok(okm)
}

/// The vault key sealed under a key derived from a Windows Hello signature.
pub struct HelloProtector<S> {
    signer: S,
}

impl<S: HelloSigner> HelloProtector<S> {
    /// Over the platform signer.
    pub fn new(signer: S) -> Self {
        Self { signer }
    }
}

fn reason(credential: &Credential) -> Result<&str, ProtectorError> {
    match credential {
        Credential::Prompt(reason) => Ok(reason),
        Credential::Pin(_) => Err(ProtectorError::UnsuitableCredential(
            "Windows Hello takes no PIN here".into(),
        )),
    }
}

fn malformed(e: impl std::fmt::Display) -> ProtectorError {
    ProtectorError::Malformed(e.to_string())
}

impl<S: HelloSigner> KeyProtector for HelloProtector<S> {
    fn method(&self) -> UnlockMethod {
        UnlockMethod::BiometricGate
    }

    fn accepts(&self, credential: &Credential) -> Result<(), ProtectorError> {
        reason(credential).map(|_| ())
    }

    fn wrap(
        &self,
        key: &VaultKey,
        credential: &Credential,
    ) -> Result<serde_json::Value, ProtectorError> {
        let mut challenge = [0u8; 32];
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut challenge);
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let signature = self.signer.sign(reason(credential)?, &challenge, true)?;
        let kek = wrapping_key(&signature, &challenge)?;
        let ciphertext = XChaCha20Poly1305::new(kek.as_ref().into())
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: key.expose(),
                    aad: &challenge,
                },
            )
            .map_err(|_| malformed("sealing failed"))?;
        serde_json::to_value(Sealed {
            challenge: B64.encode(challenge),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ciphertext),
        })
        .map_err(malformed)
    }

    fn release(
        &self,
        wrapped: &serde_json::Value,
        credential: &Credential,
    ) -> Result<VaultKey, ProtectorError> {
        let sealed: Sealed = serde_json::from_value(wrapped.clone()).map_err(malformed)?;
        let decode = |s: &str| B64.decode(s).map_err(malformed);
        let (challenge, nonce, ciphertext) = (
            decode(&sealed.challenge)?,
            decode(&sealed.nonce)?,
            decode(&sealed.ciphertext)?,
        );
        if nonce.len() != 24 || challenge.len() != 32 {
            return Err(malformed("bad nonce or challenge length"));
        }
        let signature = self.signer.sign(reason(credential)?, &challenge, false)?;
        let kek = wrapping_key(&signature, &challenge)?;
        let plain = Zeroizing::new(
            XChaCha20Poly1305::new(kek.as_ref().into())
                .decrypt(
                    XNonce::from_slice(&nonce),
                    Payload {
                        msg: &ciphertext,
                        aad: &challenge,
                    },
                )
                // Another signature: the Hello key was reset or replaced.
                .map_err(|_| ProtectorError::KeyInvalidated)?,
        );
        VaultKey::from_bytes(&plain).ok_or_else(|| malformed("the sealed key has the wrong length"))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A deterministic "Hello key": HMAC-like SHA-256 over a secret and the challenge.
    struct FakeHello {
        secret: Mutex<[u8; 32]>,
        available: bool,
    }
    impl HelloSigner for &FakeHello {
        fn sign(
            &self,
            _: &str,
            challenge: &[u8],
            _enrol: bool,
        ) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
            use sha2::Digest as _;
            if !self.available {
                return Err(ProtectorError::Unavailable(
                    "Windows Hello is not set up".into(),
                ));
            }
            let mut h = sha2::Sha256::new();
            h.update(*self.secret.lock().unwrap());
            h.update(challenge);
            Ok(Zeroizing::new(h.finalize().to_vec()))
        }
    }

    fn prompt() -> Credential {
        Credential::Prompt("Unlock".into())
    }

    #[test]
    fn the_same_hello_key_releases_the_vault_key_and_a_reset_one_invalidates_it() {
        let hello = FakeHello {
            secret: Mutex::new([7; 32]),
            available: true,
        };
        let p = HelloProtector::new(&hello);
        let key = VaultKey::generate();
        let wrapped = p.wrap(&key, &prompt()).unwrap();
        assert!(!wrapped.to_string().contains(&B64.encode(key.expose())));
        assert_eq!(
            p.release(&wrapped, &prompt()).unwrap().expose(),
            key.expose()
        );
        *hello.secret.lock().unwrap() = [8; 32];
        assert!(matches!(
            p.release(&wrapped, &prompt()),
            Err(ProtectorError::KeyInvalidated)
        ));
    }

    #[test]
    fn hello_unavailable_is_unavailable_so_the_pin_is_used() {
        let hello = FakeHello {
            secret: Mutex::new([7; 32]),
            available: false,
        };
        let p = HelloProtector::new(&hello);
        assert!(matches!(
            p.wrap(&VaultKey::generate(), &prompt()),
            Err(ProtectorError::Unavailable(_))
        ));
    }

    #[test]
    fn the_wrapping_key_depends_on_the_signature_and_the_challenge() {
        let a = wrapping_key(b"signature", &[1; 32]).unwrap();
        assert_eq!(*a, *wrapping_key(b"signature", &[1; 32]).unwrap());
        assert_ne!(*a, *wrapping_key(b"signaturf", &[1; 32]).unwrap());
        assert_ne!(*a, *wrapping_key(b"signature", &[2; 32]).unwrap());
    }
}
