//! Android's biometric-bound cipher protector, and the storage trait the keychain and Secret
//! Service protectors keep the key bytes behind (`keychain.rs`, `fingerprint.rs`).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use zeroize::Zeroizing;

use super::key::{Credential, KeyProtector, ProtectorError, UnlockMethod, VaultKey};

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

// ----- Storage for the key bytes behind a platform check (Apple keychain, Secret Service) -----

/// Platform secure storage for the key bytes (iOS/macOS keychain, `ThisDeviceOnly`).
pub trait KeyStorage: Send + Sync {
    /// Stores `bytes` under `id`, replacing any previous item.
    fn put(&self, id: &str, bytes: &[u8]) -> Result<(), ProtectorError>;
    /// Reads the item.
    fn get(&self, id: &str) -> Result<Zeroizing<Vec<u8>>, ProtectorError>;
    /// Deletes the item (missing is fine).
    fn delete(&self, id: &str) -> Result<(), ProtectorError>;
    /// Whether the item is there, asking nothing of the user; `true` when the storage can't tell
    /// without a prompt (a read will find out).
    fn holds(&self, id: &str) -> bool {
        let _ = id;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::key::tests::pin;
    use super::*;
    use std::sync::Mutex;

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
}
