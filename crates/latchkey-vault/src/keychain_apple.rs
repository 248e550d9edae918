//! The Security.framework storage for [`super::keychain::KeychainProtector`]: a generic-password
//! item (service `latchkey`, account = the item id) with `biometryCurrentSet` access control and
//! `WhenPasscodeSetThisDeviceOnly`; on macOS in the data-protection keychain. Delete before add.
//! No access group is named, so the keychain uses the app's default one: the first entry of its
//! `keychain-access-groups` entitlement (`Entitlements.macos.plist` on macOS, checked against
//! `tauri.conf.json` by the app's tests), else its application identifier (iOS).
//! Compiled for macOS and iOS only; not built into a signed app or run here.

use security_framework::access_control::{ProtectionMode, SecAccessControl};
use security_framework::passwords::{
    delete_generic_password_options, generic_password, set_generic_password_options,
    AccessControlOptions, PasswordOptions,
};
use zeroize::Zeroizing;

use super::key::ProtectorError;
use super::keychain::{classify_keychain_status, KeychainCall, ERR_ITEM_NOT_FOUND};
use super::platform::KeyStorage;

const SERVICE: &str = "latchkey";

/// The biometry-bound keychain.
#[derive(Debug, Clone, Copy, Default)]
pub struct BiometricKeychain;

fn options(id: &str) -> PasswordOptions {
    let mut options = PasswordOptions::new_generic_password(SERVICE, id);
    options.use_protected_keychain();
    options
}

fn write_error(e: security_framework::base::Error) -> ProtectorError {
    classify_keychain_status(KeychainCall::Write, e.code())
}

fn read_error(e: security_framework::base::Error) -> ProtectorError {
    classify_keychain_status(KeychainCall::Read, e.code())
}

impl KeyStorage for BiometricKeychain {
    fn put(&self, id: &str, bytes: &[u8]) -> Result<(), ProtectorError> {
        self.delete(id)?;
        let access = SecAccessControl::create_with_protection(
            Some(ProtectionMode::AccessibleWhenPasscodeSetThisDeviceOnly),
            AccessControlOptions::BIOMETRY_CURRENT_SET.bits(),
        )
        .map_err(write_error)?;
        let mut options = options(id);
        options.set_access_control(access);
        set_generic_password_options(bytes, options).map_err(write_error)
    }

    /// Reading shows Face ID / Touch ID.
    fn get(&self, id: &str) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
        generic_password(options(id))
            .map(Zeroizing::new)
            .map_err(read_error)
    }

    fn delete(&self, id: &str) -> Result<(), ProtectorError> {
        match delete_generic_password_options(options(id)) {
            Ok(()) => Ok(()),
            Err(e) if e.code() == ERR_ITEM_NOT_FOUND => Ok(()),
            Err(e) => Err(write_error(e)),
        }
    }
}
