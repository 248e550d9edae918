//! Linux, Windows, macOS.
//!
//! - The vault key is always wrapped by a PIN (Argon2id). On Linux it can also be released by a
//!   fingerprint: fprintd gating the key kept in the Secret Service (`linux.rs`). The biometric
//!   plugin supports neither Linux nor Windows (its `status()` reports `biometryNotAvailable`).
//! - Sign-in opens the system browser through the opener crate (its Rust function: no plugin to
//!   register, no JS permission), or the `BROWSER` command when set (tests and headless use a
//!   login driver that way). The redirect comes back to the
//!   loopback listener in latchkey-core.

use std::sync::Arc;

use latchkey::vault::KeyProtector;
use latchkey::{PinProtector, SystemBrowser, UnlockMethod, UserAgent, UserAgentError};
use tauri::{AppHandle, Runtime};

/// The vault key's protector on this platform.
pub fn protector<R: Runtime>(_app: &AppHandle<R>) -> Arc<dyn KeyProtector> {
    Arc::new(PinProtector::default())
}

/// The second way to release the vault key: Linux, the fingerprint (fprintd); Windows, Windows
/// Hello; macOS, Touch ID through a biometry-bound keychain item (both cross-checked, not run
/// here).
pub fn biometric<R: Runtime>(_app: &AppHandle<R>) -> Option<Arc<dyn KeyProtector>> {
    #[cfg(target_os = "linux")]
    return crate::platform::linux::biometric();
    #[cfg(windows)]
    return crate::platform::windows::biometric();
    #[cfg(target_os = "macos")]
    return crate::platform::apple::biometric();
    #[cfg(not(any(target_os = "linux", windows, target_os = "macos")))]
    None
}

/// The UI's word for the biometric unlock, where there is one.
pub fn biometric_label() -> Option<&'static str> {
    #[cfg(target_os = "linux")]
    return Some(crate::platform::linux::LABEL);
    #[cfg(windows)]
    return Some(crate::platform::windows::LABEL);
    #[cfg(target_os = "macos")]
    return Some(crate::platform::apple::LABEL);
    #[cfg(not(any(target_os = "linux", windows, target_os = "macos")))]
    None
}

/// How the UI names the unlock step.
pub fn unlock_wording() -> (UnlockMethod, &'static str) {
    (UnlockMethod::Pin, "PIN")
}

/// The external user agent: `BROWSER` if set, else the system browser via the opener crate.
pub fn user_agent<R: Runtime>(_app: &AppHandle<R>) -> Box<dyn UserAgent> {
    match std::env::var("BROWSER") {
        Ok(value) if !value.trim().is_empty() => Box::new(SystemBrowser::from_env()),
        _ => Box::new(Opener),
    }
}

struct Opener;

impl UserAgent for Opener {
    fn open(&self, url: &url::Url) -> Result<(), UserAgentError> {
        tauri_plugin_opener::open_url(url.as_str(), None::<&str>).map_err(|e| {
            UserAgentError::NoBrowser {
                tried: "the system opener".into(),
                source: std::io::Error::other(e.to_string()),
            }
        })
    }
}
