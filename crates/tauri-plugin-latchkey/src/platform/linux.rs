//! Linux biometric unlock: fprintd (the system's fingerprint service) in front of the vault key,
//! held in this (non-dumpable) process's memory, or, if the user opts in with the PIN, kept in
//! the user's Secret Service (login keyring) across restarts; see latchkey-core's
//! `vault::fingerprint`.
//!
//! fprintd is reached on the real system bus at its fixed path, never through
//! `DBUS_SYSTEM_BUS_ADDRESS`. The exceptions are a build with the `test-rig` feature (the window
//! test's build, never a release) and this crate's own unit tests: they read
//! `LATCHKEY_TEST_SYSTEM_BUS` and `LATCHKEY_TEST_SESSION_BUS`, the private buses
//! `latchkey-testkit`'s fingerprint rig runs.

use std::sync::Arc;

// The test-rig build trusts buses named in the environment: it must never be a release.
#[cfg(all(feature = "test-rig", not(debug_assertions)))]
compile_error!("the `test-rig` feature is for the window test's debug build only, never a release");

use latchkey::vault::KeyProtector;

/// fprintd + Secret Service.
pub fn biometric() -> Option<Arc<dyn KeyProtector>> {
    #[cfg(any(test, feature = "test-rig"))]
    if let (Ok(system), Ok(session)) = (
        std::env::var("LATCHKEY_TEST_SYSTEM_BUS"),
        std::env::var("LATCHKEY_TEST_SESSION_BUS"),
    ) {
        use latchkey::vault::{FingerprintProtector, Fprintd, SecretServiceStorage};
        tracing::warn!("test-rig build: fprintd and the Secret Service on private test buses");
        return Some(Arc::new(FingerprintProtector::new(
            Fprintd::on_bus(&system),
            SecretServiceStorage::on_bus(&session),
        )));
    }
    Some(Arc::new(latchkey::vault::system_fingerprint()))
}

/// The UI's word for it.
pub const LABEL: &str = "fingerprint";
