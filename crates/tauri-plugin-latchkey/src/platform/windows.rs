//! Windows biometric unlock: Windows Hello signs a per-enrolment challenge and HKDF of the
//! signature seals the vault key (latchkey-core's `vault::hello`). Hello unavailable (no PIN or
//! biometrics set up, or under Wine) is `Unavailable`: the PIN is used. Designed and
//! cross-checked; not run against a real Hello here.

use std::sync::Arc;

use latchkey::vault::{HelloProtector, KeyProtector, WindowsHello};

/// The Hello credential's name.
const CREDENTIAL: &str = "Latchkey vault";

/// Windows Hello.
pub fn biometric() -> Option<Arc<dyn KeyProtector>> {
    Some(Arc::new(HelloProtector::new(WindowsHello::new(CREDENTIAL))))
}

/// The UI's word for it.
pub const LABEL: &str = "Windows Hello";
