//! iOS and macOS biometric unlock: the vault key in a keychain item with `biometryCurrentSet`
//! access control (latchkey-core's `vault::keychain`); reading it shows Face ID / Touch ID. On
//! macOS the data-protection keychain opens only to an app signed with `Entitlements.macos.plist`
//! and an embedded provisioning profile granting it; without them it returns
//! `errSecMissingEntitlement` and the PIN is used. Type-checked; not run on a device here.

use std::sync::Arc;

use latchkey::vault::{BiometricKeychain, KeyProtector, KeychainProtector};

/// The biometry-bound keychain.
pub fn biometric() -> Option<Arc<dyn KeyProtector>> {
    Some(Arc::new(KeychainProtector::new(BiometricKeychain)))
}

/// The UI's word for it on macOS (iOS names the device's biometry: `biometric_offer.rs`).
#[cfg(target_os = "macos")]
pub const LABEL: &str = "Touch ID";
