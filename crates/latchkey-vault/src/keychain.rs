//! Apple's shape: the vault key in a keychain item whose access control requires the current
//! biometric set (`biometryCurrentSet`, `WhenPasscodeSetThisDeviceOnly`). Reading the item is what
//! shows Face ID / Touch ID: the keychain, not app code, decides. Adding a finger or face
//! invalidates such items: the read then finds nothing (`errSecItemNotFound`), which is
//! `KeyInvalidated` here (the PIN unlocks and wraps again).
//!
//! On macOS the item lives in the data-protection keychain, which a signature alone doesn't open:
//! the app must be signed with the `com.apple.application-identifier`,
//! `com.apple.developer.team-identifier` and `keychain-access-groups` entitlements
//! (`Entitlements.macos.plist`), and on macOS those are restricted entitlements that only a
//! provisioning profile embedded in the bundle (`Contents/embedded.provisionprofile`) authorises.
//! Without them every keychain call returns `errSecMissingEntitlement` (-34018): `Unavailable`,
//! and the PIN is used. docs/PLATFORMS.md says what a team provisions. iOS apps always have an
//! application identifier, which is the default access group.
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
/// `errSecDecode`: also what adding an item bound to a passcode or biometry returns on a device
/// without them.
pub const ERR_DECODE: i32 = -26275;
/// `errSecMissingEntitlement`: a macOS build without the keychain entitlements and the
/// provisioning profile that authorises them, and the data-protection keychain.
pub const ERR_MISSING_ENTITLEMENT: i32 = -34018;
/// `errSecInteractionNotAllowed` (device locked, no UI possible).
pub const ERR_INTERACTION_NOT_ALLOWED: i32 = -25308;

/// Which keychain call returned the status: only a read shows Face ID / Touch ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeychainCall {
    /// Adding (or deleting) the item: no prompt.
    Write,
    /// Reading it: the biometric prompt.
    Read,
}

/// What a Security.framework status means for the vault.
pub fn classify_keychain_status(call: KeychainCall, code: i32) -> ProtectorError {
    match (call, code) {
        (_, ERR_MISSING_ENTITLEMENT) => ProtectorError::Unavailable(
            "the keychain refused this build (errSecMissingEntitlement): a macOS app needs the \
             keychain entitlements and an embedded provisioning profile that grants them"
                .into(),
        ),
        (_, ERR_INTERACTION_NOT_ALLOWED) => {
            ProtectorError::Unavailable("the device is locked: the keychain can't ask".into())
        }
        (KeychainCall::Read, ERR_ITEM_NOT_FOUND) => ProtectorError::KeyInvalidated,
        (KeychainCall::Read, ERR_USER_CANCELED) => ProtectorError::Cancelled,
        (KeychainCall::Read, ERR_AUTH_FAILED) => ProtectorError::WrongCredential,
        // Adding shows no prompt: a failed "authentication" there is a device with no passcode or
        // no enrolled biometry, never a wrong finger.
        (KeychainCall::Write, ERR_AUTH_FAILED | ERR_DECODE) => {
            ProtectorError::Unavailable(format!(
                "the keychain can't hold a biometry-bound item here (status {code}): set a device \
             passcode and enrol Face ID or Touch ID"
            ))
        }
        (_, other) => ProtectorError::Unavailable(format!("keychain status {other}")),
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
        use KeychainCall::Read;
        assert!(matches!(
            classify_keychain_status(Read, ERR_ITEM_NOT_FOUND),
            ProtectorError::KeyInvalidated
        ));
        assert!(matches!(
            classify_keychain_status(Read, ERR_USER_CANCELED),
            ProtectorError::Cancelled
        ));
        assert!(matches!(
            classify_keychain_status(Read, ERR_AUTH_FAILED),
            ProtectorError::WrongCredential
        ));
        assert!(matches!(
            classify_keychain_status(Read, ERR_INTERACTION_NOT_ALLOWED),
            ProtectorError::Unavailable(_)
        ));
    }

    #[test]
    fn a_missing_entitlement_names_the_entitlements_and_the_provisioning_profile() {
        for call in [KeychainCall::Read, KeychainCall::Write] {
            assert!(matches!(
                classify_keychain_status(call, ERR_MISSING_ENTITLEMENT),
                ProtectorError::Unavailable(m) if m.contains("entitlements") && m.contains("provisioning profile")
            ));
        }
    }

    #[test]
    fn adding_the_item_on_a_device_without_passcode_or_biometry_is_unavailable_not_a_wrong_finger()
    {
        for code in [ERR_AUTH_FAILED, ERR_DECODE] {
            assert!(matches!(
                classify_keychain_status(KeychainCall::Write, code),
                ProtectorError::Unavailable(m) if m.contains("passcode")
            ));
        }
        assert!(matches!(
            classify_keychain_status(KeychainCall::Write, ERR_USER_CANCELED),
            ProtectorError::Unavailable(_)
        ));
    }
}
