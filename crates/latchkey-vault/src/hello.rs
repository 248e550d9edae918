//! Windows Hello's shape (what Bitwarden's desktop app does): the Hello key (a
//! `KeyCredentialManager` credential, its private key in the TPM or Hello's container) signs a
//! random per-enrolment challenge; HKDF-SHA256 turns the signature into a wrapping key; the vault
//! key is sealed with XChaCha20-Poly1305 under it. Releasing the key signs the same challenge
//! again (Hello prompts): the same Hello key gives the same signature (RSA PKCS#1 v1.5 signatures
//! are deterministic) and so the same wrapping key; a Hello key that was reset gives another
//! signature, the seal doesn't open, and that is `KeyInvalidated` (the PIN wraps again).
//!
//! Wrapping signs the challenge twice and checks both signatures are the same bytes and verify
//! (RSASSA-PKCS1-v1_5, SHA-256) against the Hello key's public key: a signer that isn't
//! deterministic would make every later unlock fail, drop the wrap and wrap again forever, so it
//! is refused up front (`Unavailable`: the PIN stays the way in).
//!
//! The derivation, the check and the sealing are here, host-tested with a fake RSA signer; the
//! Windows signer itself (`hello_windows.rs`) is compiled for Windows and run under Wine, where
//! Hello is unavailable.

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
    /// The Hello key's public key, DER `SubjectPublicKeyInfo` (after [`HelloSigner::sign`]
    /// created or opened it).
    fn public_key(&self) -> Result<Vec<u8>, ProtectorError>;
    /// Ends the prompt in flight, if any: its `sign` returns [`ProtectorError::Cancelled`].
    fn cancel(&self) {}
}

/// Refuses a Hello key whose signatures can't give the same wrapping key twice: the two
/// signatures of `challenge` must be the same bytes and verify against `public_key`.
pub fn check_reproducible(
    first: &[u8],
    second: &[u8],
    public_key: &[u8],
    challenge: &[u8],
) -> Result<(), ProtectorError> {
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::signature::Verifier as _;
    let refuse = |why: &str| {
        ProtectorError::Unavailable(format!(
            "this Windows Hello key can't protect the vault key: {why}"
        ))
    };
    if first != second {
        return Err(refuse("it signed the same challenge differently twice"));
    }
    let key = rsa::RsaPublicKey::from_public_key_der(public_key)
        .map_err(|_| refuse("its public key is not an RSA key"))?;
    let signature = rsa::pkcs1v15::Signature::try_from(first)
        .map_err(|_| refuse("its signature is not an RSA signature"))?;
    rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key)
        .verify(challenge, &signature)
        .map_err(|_| refuse("its signature does not verify against its public key"))
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

    fn cancel_prompt(&self) {
        self.signer.cancel();
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
        let reason = reason(credential)?;
        let signature = self.signer.sign(reason, &challenge, true)?;
        let again = self.signer.sign(reason, &challenge, false)?;
        check_reproducible(&signature, &again, &self.signer.public_key()?, &challenge)?;
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
    use std::sync::{mpsc, Condvar, Mutex};

    use rsa::pkcs8::EncodePublicKey as _;
    use rsa::signature::{SignatureEncoding as _, Signer as _};

    use super::*;

    fn rsa_key() -> rsa::RsaPrivateKey {
        rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap()
    }

    /// A "Hello key": a real RSA key signing PKCS#1 v1.5 / SHA-256, as Hello's does. `salt`
    /// makes it sign non-deterministically (each signature differs); `other` makes it report
    /// another key's public key.
    struct FakeHello {
        key: Mutex<rsa::RsaPrivateKey>,
        available: bool,
        salt: Mutex<Option<u8>>,
        other: Option<rsa::RsaPrivateKey>,
    }

    impl FakeHello {
        fn new() -> Self {
            Self {
                key: Mutex::new(rsa_key()),
                available: true,
                salt: Mutex::new(None),
                other: None,
            }
        }
    }

    impl HelloSigner for &FakeHello {
        fn sign(
            &self,
            _: &str,
            challenge: &[u8],
            _enrol: bool,
        ) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
            if !self.available {
                return Err(ProtectorError::Unavailable(
                    "Windows Hello is not set up".into(),
                ));
            }
            let key = self.key.lock().unwrap().clone();
            let signing = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key);
            let mut signature = signing.sign(challenge).to_vec();
            if let Some(salt) = self.salt.lock().unwrap().as_mut() {
                *salt = salt.wrapping_add(1);
                signature[0] ^= *salt;
            }
            Ok(Zeroizing::new(signature))
        }

        fn public_key(&self) -> Result<Vec<u8>, ProtectorError> {
            let key = match &self.other {
                Some(other) => other.to_public_key(),
                None => self.key.lock().unwrap().to_public_key(),
            };
            Ok(key.to_public_key_der().unwrap().as_bytes().to_vec())
        }
    }

    fn prompt() -> Credential {
        Credential::Prompt("Unlock".into())
    }

    #[test]
    fn the_same_hello_key_releases_the_vault_key_and_a_reset_one_invalidates_it() {
        let hello = FakeHello::new();
        let p = HelloProtector::new(&hello);
        let key = VaultKey::generate();
        let wrapped = p.wrap(&key, &prompt()).unwrap();
        assert!(!wrapped.to_string().contains(&B64.encode(key.expose())));
        assert_eq!(
            p.release(&wrapped, &prompt()).unwrap().expose(),
            key.expose()
        );
        *hello.key.lock().unwrap() = rsa_key();
        assert!(matches!(
            p.release(&wrapped, &prompt()),
            Err(ProtectorError::KeyInvalidated)
        ));
    }

    #[test]
    fn a_hello_key_that_signs_differently_each_time_is_refused_at_wrap_not_re_wrapped_forever() {
        let hello = FakeHello::new();
        *hello.salt.lock().unwrap() = Some(0);
        let e = HelloProtector::new(&hello)
            .wrap(&VaultKey::generate(), &prompt())
            .unwrap_err();
        assert!(
            matches!(&e, ProtectorError::Unavailable(m) if m.contains("differently")),
            "{e}"
        );
    }

    #[test]
    fn a_signature_that_does_not_verify_against_the_hello_public_key_is_refused_at_wrap() {
        let hello = FakeHello {
            other: Some(rsa_key()),
            ..FakeHello::new()
        };
        let e = HelloProtector::new(&hello)
            .wrap(&VaultKey::generate(), &prompt())
            .unwrap_err();
        assert!(
            matches!(&e, ProtectorError::Unavailable(m) if m.contains("does not verify")),
            "{e}"
        );
        assert!(matches!(
            check_reproducible(b"sig", b"sig", b"not a key", b"challenge"),
            Err(ProtectorError::Unavailable(_))
        ));
    }

    #[test]
    fn hello_unavailable_is_unavailable_so_the_pin_is_used() {
        let hello = FakeHello {
            available: false,
            ..FakeHello::new()
        };
        let p = HelloProtector::new(&hello);
        assert!(matches!(
            p.wrap(&VaultKey::generate(), &prompt()),
            Err(ProtectorError::Unavailable(_))
        ));
    }

    /// A signer whose prompt stays open until cancelled (no timing: it waits on a condition).
    struct WaitingHello {
        started: Mutex<Option<mpsc::Sender<()>>>,
        cancelled: Mutex<bool>,
        wake: Condvar,
    }

    impl HelloSigner for WaitingHello {
        fn sign(&self, _: &str, _: &[u8], _: bool) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
            if let Some(started) = self.started.lock().unwrap().take() {
                started.send(()).unwrap();
            }
            let mut cancelled = self.cancelled.lock().unwrap();
            while !*cancelled {
                cancelled = self.wake.wait(cancelled).unwrap();
            }
            Err(ProtectorError::Cancelled)
        }
        fn public_key(&self) -> Result<Vec<u8>, ProtectorError> {
            Err(ProtectorError::Unavailable("never reached".into()))
        }
        fn cancel(&self) {
            *self.cancelled.lock().unwrap() = true;
            self.wake.notify_all();
        }
    }

    #[test]
    fn choosing_the_pin_cancels_the_open_hello_prompt_and_the_unlock_reports_cancelled() {
        let (started, wait_started) = mpsc::channel();
        let p = HelloProtector::new(WaitingHello {
            started: Mutex::new(Some(started)),
            cancelled: Mutex::new(false),
            wake: Condvar::new(),
        });
        let wrapped = serde_json::json!({
            "challenge": B64.encode([1u8; 32]),
            "nonce": B64.encode([2u8; 24]),
            "ciphertext": B64.encode([3u8; 48]),
        });
        std::thread::scope(|scope| {
            let unlock = scope.spawn(|| p.release(&wrapped, &prompt()));
            wait_started.recv().unwrap();
            p.cancel_prompt();
            assert!(matches!(
                unlock.join().unwrap(),
                Err(ProtectorError::Cancelled)
            ));
        });
    }

    #[test]
    fn the_wrapping_key_depends_on_the_signature_and_the_challenge() {
        let a = wrapping_key(b"signature", &[1; 32]).unwrap();
        assert_eq!(*a, *wrapping_key(b"signature", &[1; 32]).unwrap());
        assert_ne!(*a, *wrapping_key(b"signaturf", &[1; 32]).unwrap());
        assert_ne!(*a, *wrapping_key(b"signature", &[2; 32]).unwrap());
    }
}
