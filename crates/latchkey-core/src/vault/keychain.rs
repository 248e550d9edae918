//! Apple's shape: the vault key in a keychain item whose access control requires the current
//! biometric set (`biometryCurrentSet`, `WhenPasscodeSetThisDeviceOnly`). Reading the item is what
//! shows Face ID / Touch ID: the keychain, not app code, decides. Adding a finger or face
//! invalidates such items: the read then finds nothing (`errSecItemNotFound`), which is
//! `KeyInvalidated` here (the PIN unlocks and wraps again). On macOS the data-protection keychain
//! needs a signed build with a keychain-access-groups entitlement; an unsigned build gets
//! `errSecMissingEntitlement` (-34018): `Unavailable`, the PIN is used.
//!
//! The protector and the status mapping are host-tested; the Security.framework storage
//! (`keychain_apple.rs`) is compiled for Apple targets only and not run here.

use super::key::{Credential, KeyProtector, ProtectorError, UnlockMethod, VaultKey};
use super::platform::KeyStorage;

/// `errSecItemNotFound`.
pub const ERR_ITEM_NOT_FOUND: i32 = -25300;
/// `errSecUserCanceled`.
pub const ERR_USER_CANCELED: i32 = -128;
/// `errSecAuthFailed`.
pub const ERR_AUTH_FAILED: i32 = -25293;
/// `errSecMissingEntitlement`: an unsigned macOS build and the data-protection keychain.
pub const ERR_MISSING_ENTITLEMENT: i32 = -34018;
/// `errSecInteractionNotAllowed` (device locked, no UI possible).
pub const ERR_INTERACTION_NOT_ALLOWED: i32 = -25308;

/// What a Security.framework status means for the vault.
pub fn classify_keychain_status(code: i32) -> ProtectorError {
    match code {
        ERR_ITEM_NOT_FOUND => ProtectorError::KeyInvalidated,
        ERR_USER_CANCELED => ProtectorError::Cancelled,
        ERR_AUTH_FAILED => ProtectorError::WrongCredential,
        ERR_MISSING_ENTITLEMENT => ProtectorError::Unavailable(
            "the keychain needs a signed build with entitlements (errSecMissingEntitlement)".into(),
        ),
        ERR_INTERACTION_NOT_ALLOWED => {
            ProtectorError::Unavailable("the device is locked: the keychain can't ask".into())
        }
        other => ProtectorError::Unavailable(format!("keychain status {other}")),
    }
}

/// The key in a biometry-bound keychain item: reading it is the biometric check.
pub struct KeychainProtector<S> {
    storage: S,
}

impl<S: KeyStorage> KeychainProtector<S> {
    /// Over the platform storage.
    pub fn new(storage: S) -> Self {
        Self { storage }
    }
}

fn item(wrapped: &serde_json::Value) -> Result<&str, ProtectorError> {
    wrapped["keychain_item"]
        .as_str()
        .ok_or_else(|| ProtectorError::Malformed("missing keychain_item".into()))
}

impl<S: KeyStorage> KeyProtector for KeychainProtector<S> {
    fn method(&self) -> UnlockMethod {
        UnlockMethod::Biometric
    }

    fn accepts(&self, credential: &Credential) -> Result<(), ProtectorError> {
        match credential {
            Credential::Prompt(_) => Ok(()),
            Credential::Pin(_) => Err(ProtectorError::UnsuitableCredential(
                "the keychain prompts by itself".into(),
            )),
        }
    }

    /// A new item per wrap (the storage deletes before it adds).
    fn wrap(&self, key: &VaultKey, _: &Credential) -> Result<serde_json::Value, ProtectorError> {
        let id = format!("latchkey-vault-{:016x}", rand::random::<u64>());
        self.storage.put(&id, key.expose())?;
        Ok(serde_json::json!({ "keychain_item": id }))
    }

    fn release(
        &self,
        wrapped: &serde_json::Value,
        _: &Credential,
    ) -> Result<VaultKey, ProtectorError> {
        let bytes = self.storage.get(item(wrapped)?)?;
        VaultKey::from_bytes(&bytes)
            .ok_or_else(|| ProtectorError::Malformed("wrong key length".into()))
    }

    fn forget(&self, wrapped: &serde_json::Value) -> Result<(), ProtectorError> {
        self.storage.delete(item(wrapped)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keychain_statuses_map_to_pin_fallbacks_never_to_an_erased_session_by_themselves() {
        assert!(matches!(
            classify_keychain_status(ERR_ITEM_NOT_FOUND),
            ProtectorError::KeyInvalidated
        ));
        assert!(matches!(
            classify_keychain_status(ERR_USER_CANCELED),
            ProtectorError::Cancelled
        ));
        assert!(matches!(
            classify_keychain_status(ERR_AUTH_FAILED),
            ProtectorError::WrongCredential
        ));
        assert!(matches!(
            classify_keychain_status(ERR_MISSING_ENTITLEMENT),
            ProtectorError::Unavailable(m) if m.contains("entitlements")
        ));
        assert!(matches!(
            classify_keychain_status(ERR_INTERACTION_NOT_ALLOWED),
            ProtectorError::Unavailable(_)
        ));
    }
}
