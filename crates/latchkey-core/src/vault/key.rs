//! The vault key and the ways it is protected at rest.
//!
//! The vault key is 256 random bits from the OS CSPRNG, generated once per sign-in. It is never
//! derived from anything guessable and never written in clear: a [`KeyProtector`] turns it into a
//! *wrapped* form (a JSON value the vault stores in its key file) and releases it again only when
//! the platform check passes.
//!
//! | platform | protector | what releases the key |
//! |---|---|---|
//! | Linux, Windows, fallback everywhere | [`PinProtector`] | Argon2id(PIN) → XChaCha20-Poly1305 unwrap |
//! | Android (unverified here) | [`CipherProtector`] over the biometric plugin's `biometric_cipher` | an AndroidKeyStore key usable only after a biometric success |
//! | iOS, macOS (unverified here) | [`PresenceKeychainProtector`] | the plugin's `authenticate()` (a yes/no) gating a keychain read |

use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// The 256-bit vault key. `Debug` is redacted; zeroized on drop.
#[derive(Clone)]
pub struct VaultKey(Zeroizing<[u8; 32]>);

impl VaultKey {
    /// 32 bytes from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        Self(bytes)
    }

    /// From exactly 32 bytes (e.g. released by a platform keystore).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let array: [u8; 32] = bytes.try_into().ok()?;
        Some(Self(Zeroizing::new(array)))
    }

    /// The key bytes.
    ///
    /// # Security warning
    /// Whoever holds these can read the vault.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VaultKey([redacted])")
    }
}

/// How the user unlocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnlockMethod {
    /// A PIN or passphrase.
    Pin,
    /// A biometric check that cryptographically releases the key (Android keystore).
    Biometric,
    /// A biometric or passcode check that gates a keychain read (iOS, macOS).
    BiometricGate,
}

/// What the user supplies to unlock.
pub enum Credential {
    /// A PIN or passphrase.
    Pin(Zeroizing<String>),
    /// Nothing: the platform prompts (biometrics), with this reason shown to the user.
    Prompt(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Pin(_) => f.write_str("Pin([redacted])"),
            Credential::Prompt(reason) => f.debug_tuple("Prompt").field(reason).finish(),
        }
    }
}

/// Why a protector could not wrap or release the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtectorError {
    /// The PIN is wrong, or the biometric check failed.
    #[error("the PIN or biometric check did not match")]
    WrongCredential,
    /// The user cancelled the prompt.
    #[error("unlock was cancelled")]
    Cancelled,
    /// The platform key is gone (e.g. biometrics were re-enrolled): the vault can't be opened.
    #[error("the unlock key was invalidated (biometrics changed?); sign in again")]
    KeyInvalidated,
    /// The credential doesn't fit this protector (a PIN where a prompt is expected, a short PIN).
    #[error("{0}")]
    UnsuitableCredential(String),
    /// The platform check isn't available right now (no biometrics enrolled, hardware busy).
    #[error("the platform unlock is unavailable: {0}")]
    Unavailable(String),
    /// The wrapped key is malformed.
    #[error("the wrapped key is malformed: {0}")]
    Malformed(String),
}

/// Protects the vault key at rest.
pub trait KeyProtector: Send + Sync {
    /// The method, for metadata and UI wording.
    fn method(&self) -> UnlockMethod;
    /// Wraps `key` for storage. May prompt (biometrics) or need a new PIN.
    fn wrap(
        &self,
        key: &VaultKey,
        credential: &Credential,
    ) -> Result<serde_json::Value, ProtectorError>;
    /// Releases the key from its wrapped form.
    fn release(
        &self,
        wrapped: &serde_json::Value,
        credential: &Credential,
    ) -> Result<VaultKey, ProtectorError>;
    /// Deletes any platform-side material (keychain items). The vault deletes its own files.
    fn forget(&self, wrapped: &serde_json::Value) -> Result<(), ProtectorError> {
        let _ = wrapped;
        Ok(())
    }
    /// Whether `credential` is of a kind this protector can take at all, checked before the vault
    /// counts an attempt: a biometric prompt for a PIN, a PIN for biometrics, or a PIN shorter
    /// than any PIN [`KeyProtector::wrap`] accepts is refused here, uncounted. The default
    /// accepts everything.
    fn accepts(&self, credential: &Credential) -> Result<(), ProtectorError> {
        let _ = credential;
        Ok(())
    }
    /// Whether failed attempts should be counted and limited by the vault (PINs: yes; platform
    /// biometrics limit attempts themselves).
    fn limits_attempts(&self) -> bool {
        false
    }
}

// ----- PIN -----

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

/// The shortest PIN accepted.
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

    fn release(
        &self,
        wrapped: &serde_json::Value,
        credential: &Credential,
    ) -> Result<VaultKey, ProtectorError> {
        let pin = Self::pin(credential)?;
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

// ----- Android shape: a biometric-bound cipher -----

/// A cipher whose key only a biometric success releases (Android: the biometric plugin's
/// `biometric_cipher`, an AES-GCM key in AndroidKeyStore with user authentication required).
pub trait BiometricCipher: Send + Sync {
    /// Encrypts, prompting if the platform requires it.
    fn encrypt(&self, reason: &str, plaintext: &[u8]) -> Result<Vec<u8>, ProtectorError>;
    /// Decrypts after a biometric success.
    fn decrypt(
        &self,
        reason: &str,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, ProtectorError>;
}

/// The vault key wrapped by a [`BiometricCipher`]: cryptographically released by biometrics.
pub struct CipherProtector<C> {
    cipher: C,
}

impl<C: BiometricCipher> CipherProtector<C> {
    /// Over the platform cipher.
    pub fn new(cipher: C) -> Self {
        Self { cipher }
    }
}

fn prompt(credential: &Credential) -> Result<&str, ProtectorError> {
    match credential {
        Credential::Prompt(reason) => Ok(reason),
        Credential::Pin(_) => Err(ProtectorError::UnsuitableCredential(
            "this vault is unlocked with biometrics, not a PIN".into(),
        )),
    }
}

impl<C: BiometricCipher> KeyProtector for CipherProtector<C> {
    fn method(&self) -> UnlockMethod {
        UnlockMethod::Biometric
    }

    fn accepts(&self, credential: &Credential) -> Result<(), ProtectorError> {
        prompt(credential).map(|_| ())
    }

    fn wrap(
        &self,
        key: &VaultKey,
        credential: &Credential,
    ) -> Result<serde_json::Value, ProtectorError> {
        let blob = self.cipher.encrypt(prompt(credential)?, key.expose())?;
        Ok(serde_json::json!({ "cipher": "platform", "blob": B64.encode(blob) }))
    }

    fn release(
        &self,
        wrapped: &serde_json::Value,
        credential: &Credential,
    ) -> Result<VaultKey, ProtectorError> {
        let blob = wrapped["blob"]
            .as_str()
            .and_then(|b| B64.decode(b).ok())
            .ok_or_else(|| ProtectorError::Malformed("missing blob".into()))?;
        let plain = self.cipher.decrypt(prompt(credential)?, &blob)?;
        VaultKey::from_bytes(&plain)
            .ok_or_else(|| ProtectorError::Malformed("wrong key length".into()))
    }
}

// ----- Apple shape: a presence check gating a keychain item -----

/// A yes/no user-presence check (iOS/macOS: the biometric plugin's `authenticate()`).
pub trait PresenceCheck: Send + Sync {
    /// Ok after the user passed the check.
    fn verify(&self, reason: &str) -> Result<(), ProtectorError>;
}

/// Platform secure storage for the key bytes (iOS/macOS keychain, `ThisDeviceOnly`).
pub trait KeyStorage: Send + Sync {
    /// Stores `bytes` under `id`, replacing any previous item.
    fn put(&self, id: &str, bytes: &[u8]) -> Result<(), ProtectorError>;
    /// Reads the item.
    fn get(&self, id: &str) -> Result<Zeroizing<Vec<u8>>, ProtectorError>;
    /// Deletes the item (missing is fine).
    fn delete(&self, id: &str) -> Result<(), ProtectorError>;
}

/// The key in platform storage, read only after a presence check. Honest limit: the check is a
/// yes/no in app code, so code running in the app's process could read the item without it;
/// the keychain's own access control (`biometryCurrentSet`) is the stronger binding.
pub struct PresenceKeychainProtector<P, S> {
    presence: P,
    storage: S,
}

impl<P: PresenceCheck, S: KeyStorage> PresenceKeychainProtector<P, S> {
    /// Over the platform check and storage.
    pub fn new(presence: P, storage: S) -> Self {
        Self { presence, storage }
    }
}

impl<P: PresenceCheck, S: KeyStorage> KeyProtector for PresenceKeychainProtector<P, S> {
    fn method(&self) -> UnlockMethod {
        UnlockMethod::BiometricGate
    }

    fn accepts(&self, credential: &Credential) -> Result<(), ProtectorError> {
        prompt(credential).map(|_| ())
    }

    fn wrap(
        &self,
        key: &VaultKey,
        _credential: &Credential,
    ) -> Result<serde_json::Value, ProtectorError> {
        let id = format!("latchkey-vault-{:016x}", rand::random::<u64>());
        self.storage.put(&id, key.expose())?;
        Ok(serde_json::json!({ "keychain_item": id }))
    }

    fn release(
        &self,
        wrapped: &serde_json::Value,
        credential: &Credential,
    ) -> Result<VaultKey, ProtectorError> {
        let id = wrapped["keychain_item"]
            .as_str()
            .ok_or_else(|| ProtectorError::Malformed("missing keychain_item".into()))?;
        self.presence.verify(prompt(credential)?)?;
        let bytes = self.storage.get(id)?;
        VaultKey::from_bytes(&bytes)
            .ok_or_else(|| ProtectorError::Malformed("wrong key length".into()))
    }

    fn forget(&self, wrapped: &serde_json::Value) -> Result<(), ProtectorError> {
        match wrapped["keychain_item"].as_str() {
            Some(id) => self.storage.delete(id),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    pub(crate) fn pin(p: &str) -> Credential {
        Credential::Pin(Zeroizing::new(p.to_string()))
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
        let wrapped = fast().wrap(&key, &pin("123456")).unwrap().to_string();
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
        let mut wrapped = fast().wrap(&key, &pin("123456")).unwrap();
        let mut ct = B64.decode(wrapped["ciphertext"].as_str().unwrap()).unwrap();
        ct[0] ^= 1;
        wrapped["ciphertext"] = B64.encode(ct).into();
        assert!(fast().release(&wrapped, &pin("123456")).is_err());
        wrapped["nonce"] = "!!".into();
        assert!(matches!(
            fast().release(&wrapped, &pin("123456")),
            Err(ProtectorError::Malformed(_))
        ));
    }

    #[test]
    fn debug_never_shows_keys_or_pins() {
        let key = VaultKey::generate();
        assert_eq!(format!("{key:?}"), "VaultKey([redacted])");
        assert!(!format!("{:?}", pin("s3cret-pin")).contains("s3cret"));
    }

    /// A fake AndroidKeyStore cipher: XOR with a secret pad, failing when "biometrics" say no.
    struct FakeCipher {
        accept: Mutex<bool>,
    }
    impl BiometricCipher for FakeCipher {
        fn encrypt(&self, _: &str, p: &[u8]) -> Result<Vec<u8>, ProtectorError> {
            Ok(p.iter().map(|b| b ^ 0x5a).collect())
        }
        fn decrypt(&self, _: &str, c: &[u8]) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
            if *self.accept.lock().unwrap() {
                Ok(Zeroizing::new(c.iter().map(|b| b ^ 0x5a).collect()))
            } else {
                Err(ProtectorError::Cancelled)
            }
        }
    }

    #[test]
    fn the_android_shape_releases_the_key_only_through_the_cipher() {
        let p = CipherProtector::new(FakeCipher {
            accept: Mutex::new(true),
        });
        let key = VaultKey::generate();
        let prompt = Credential::Prompt("Unlock Latchkey".into());
        let wrapped = p.wrap(&key, &prompt).unwrap();
        assert_eq!(p.release(&wrapped, &prompt).unwrap().expose(), key.expose());
        *p.cipher.accept.lock().unwrap() = false;
        assert!(matches!(
            p.release(&wrapped, &prompt),
            Err(ProtectorError::Cancelled)
        ));
        assert!(matches!(
            p.release(&wrapped, &pin("123456")),
            Err(ProtectorError::UnsuitableCredential(_))
        ));
    }

    struct FakePresence(bool);
    impl PresenceCheck for FakePresence {
        fn verify(&self, _: &str) -> Result<(), ProtectorError> {
            if self.0 {
                Ok(())
            } else {
                Err(ProtectorError::WrongCredential)
            }
        }
    }
    #[derive(Default)]
    struct FakeKeychain(Mutex<HashMap<String, Vec<u8>>>);
    impl KeyStorage for &FakeKeychain {
        fn put(&self, id: &str, bytes: &[u8]) -> Result<(), ProtectorError> {
            self.0.lock().unwrap().insert(id.into(), bytes.to_vec());
            Ok(())
        }
        fn get(&self, id: &str) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
            self.0
                .lock()
                .unwrap()
                .get(id)
                .cloned()
                .map(Zeroizing::new)
                .ok_or(ProtectorError::KeyInvalidated)
        }
        fn delete(&self, id: &str) -> Result<(), ProtectorError> {
            self.0.lock().unwrap().remove(id);
            Ok(())
        }
    }

    #[test]
    fn the_apple_shape_reads_the_keychain_only_after_the_presence_check() {
        let keychain = FakeKeychain::default();
        let ok = PresenceKeychainProtector::new(FakePresence(true), &keychain);
        let key = VaultKey::generate();
        let prompt = Credential::Prompt("Unlock Latchkey".into());
        let wrapped = ok.wrap(&key, &prompt).unwrap();
        assert!(!wrapped.to_string().contains(&B64.encode(key.expose())));
        assert_eq!(
            ok.release(&wrapped, &prompt).unwrap().expose(),
            key.expose()
        );

        let refused = PresenceKeychainProtector::new(FakePresence(false), &keychain);
        assert!(matches!(
            refused.release(&wrapped, &prompt),
            Err(ProtectorError::WrongCredential)
        ));

        ok.forget(&wrapped).unwrap();
        assert!(matches!(
            ok.release(&wrapped, &prompt),
            Err(ProtectorError::KeyInvalidated)
        ));
    }
}
