//! The vault key and the ways it is protected at rest.
//!
//! The vault key is 256 random bits from the OS CSPRNG, generated once per sign-in. It is never
//! derived from anything guessable and never written in clear: a [`KeyProtector`] turns it into a
//! *wrapped* form (a JSON value the vault stores in its key file) and releases it again only when
//! the platform check passes.
//!
//! Every vault has the PIN's wrap; a second, biometric wrap of the same key is optional (see
//! [`super::dual`]):
//!
//! | platform | biometric protector | what releases the key |
//! |---|---|---|
//! | everywhere | [`PinProtector`](super::PinProtector) (always) | Argon2id(PIN) → XChaCha20-Poly1305 unwrap |
//! | Linux (tested with real daemons) | [`FingerprintProtector`](super::FingerprintProtector) over fprintd + the Secret Service | a fingerprint match gating a keyring read |
//! | Android (unverified here) | [`CipherProtector`](super::CipherProtector) over the biometric plugin's `biometric_cipher` | an AndroidKeyStore key usable only after a biometric success |
//! | iOS, macOS (compile-checked) | [`KeychainProtector`](super::KeychainProtector) | reading a `biometryCurrentSet` keychain item |
//! | Windows (compile-checked) | [`HelloProtector`](super::HelloProtector) | HKDF of a Windows Hello signature |
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

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
    /// A PIN or passphrase ([`PinProtector`](super::PinProtector), every platform).
    Pin,
    /// A biometric check the platform itself binds the key to: Android's keystore cipher
    /// ([`CipherProtector`](super::CipherProtector)) and the Apple keychain item with
    /// `biometryCurrentSet` ([`KeychainProtector`](super::KeychainProtector), iOS and macOS).
    Biometric,
    /// A biometric check whose result the app turns into the key: Linux's fprintd match before
    /// a Secret Service read ([`FingerprintProtector`](super::FingerprintProtector)), and Windows
    /// Hello, whose signature the wrapping key is derived from
    /// ([`HelloProtector`](super::HelloProtector)).
    BiometricGate,
}

/// Where a biometric wrap keeps the key, where the platform leaves the choice (Linux).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    /// Only in the memory of this (non-dumpable) process: after a restart the PIN opens the vault
    /// once, and biometric unlock is set up again from it.
    #[default]
    ThisRun,
    /// In the platform's store across restarts (Linux: the login keyring, which any program the
    /// user runs can read).
    AcrossRestarts,
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
    /// Too many failed biometric attempts: the platform has locked its biometric check for now
    /// (Android's lockout, a Windows Hello TPM locked after wrong PINs, Apple's biometry
    /// lockout). Nothing is wrong with the key; the PIN works, and the platform lifts the lock
    /// after a wait or its own unlock.
    #[error("too many failed attempts: the platform has locked biometrics for now")]
    LockedOut,
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
    /// Ends a prompt this protector is showing (the user chose the PIN instead): its `release`
    /// returns [`ProtectorError::Cancelled`]. The default does nothing.
    fn cancel_prompt(&self) {}
    /// [`KeyProtector::wrap`] for a biometric unlock turned on with the PIN, kept as `keep` says
    /// where the protector has the choice (Linux: the key in this process's memory, or in the
    /// keyring across restarts). The default ignores `keep`: the platform's own store persists.
    fn wrap_keeping(
        &self,
        key: &VaultKey,
        credential: &Credential,
        keep: Keep,
    ) -> Result<serde_json::Value, ProtectorError> {
        let _ = keep;
        self.wrap(key, credential)
    }
    /// Wraps `key` again right after the user proved the PIN (the old wrap was lost, or is no
    /// longer held), kept as `keep` says. The default prompts like
    /// [`KeyProtector::wrap_keeping`]; a protector whose wrap is only a store behind a check
    /// (Linux fingerprint) stores without a second prompt: the PIN was the proof.
    fn rewrap_after_pin(
        &self,
        key: &VaultKey,
        reason: &str,
        keep: Keep,
    ) -> Result<serde_json::Value, ProtectorError> {
        self.wrap_keeping(key, &Credential::Prompt(reason.to_owned()), keep)
    }
    /// Whether the platform still holds what `wrapped` refers to, asking nothing of the user
    /// (false for a key held in the memory of a process that has since ended). The default: yes.
    fn holds(&self, wrapped: &serde_json::Value) -> bool {
        let _ = wrapped;
        true
    }
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn pin(p: &str) -> Credential {
        Credential::Pin(Zeroizing::new(p.to_string()))
    }

    #[test]
    fn debug_never_shows_keys_or_pins() {
        let key = VaultKey::generate();
        assert_eq!(format!("{key:?}"), "VaultKey([redacted])");
        assert!(!format!("{:?}", pin("s3cret-pin")).contains("s3cret"));
    }
}
