//! Linux, Windows, macOS.
//!
//! - The vault key is protected by a PIN (Argon2id): Linux and Windows have no biometric API the
//!   biometric plugin supports (its `status()` reports `biometryNotAvailable` there). macOS could
//!   use `PresenceKeychainProtector` (Touch ID gating a keychain item) once a keychain
//!   `KeyStorage` is written; until then it uses the PIN too.
//! - Sign-in opens the system browser through the opener plugin, or the `BROWSER` command when
//!   set (tests and headless use a login driver that way). The redirect comes back to the
//!   loopback listener in latchkey-core.

use std::sync::Arc;

use latchkey_core::vault::KeyProtector;
use latchkey_core::{PinProtector, SystemBrowser, UnlockMethod, UserAgent, UserAgentError};
use tauri::{AppHandle, Runtime};
use tauri_plugin_opener::OpenerExt;

/// The vault key's protector on this platform.
pub fn protector<R: Runtime>(_app: &AppHandle<R>) -> Arc<dyn KeyProtector> {
    Arc::new(PinProtector::default())
}

/// How the UI names the unlock step.
pub fn unlock_wording() -> (UnlockMethod, &'static str) {
    (UnlockMethod::Pin, "PIN")
}

/// The external user agent: `BROWSER` if set, else the system browser via the opener plugin.
pub fn user_agent<R: Runtime>(app: &AppHandle<R>) -> Box<dyn UserAgent> {
    match std::env::var("BROWSER") {
        Ok(value) if !value.trim().is_empty() => Box::new(SystemBrowser::from_env()),
        _ => Box::new(Opener(app.clone())),
    }
}

struct Opener<R: Runtime>(AppHandle<R>);

impl<R: Runtime> UserAgent for Opener<R> {
    fn open(&self, url: &url::Url) -> Result<(), UserAgentError> {
        self.0
            .opener()
            .open_url(url.as_str(), None::<&str>)
            .map_err(|e| UserAgentError::NoBrowser {
                tried: "the system opener".into(),
                source: std::io::Error::other(e.to_string()),
            })
    }
}
