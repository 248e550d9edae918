//! Platform code: how the vault key is protected, what opens the browser, and the words the UI
//! uses for unlocking, where the sign-in's redirect comes back, and the start-up check of the system
//! WebView (`webview_runtime.rs`). Desktop (`crate::desktop`) is
//! built and tested here; mobile (`crate::mobile`) is type-checked (scripts/platform-checks.sh)
//! and its redirect logic host-tested.

#[cfg(desktop)]
pub use crate::desktop::{biometric, biometric_label, protector, unlock_wording, user_agent};
#[cfg(any(target_os = "macos", target_os = "ios"))]
pub mod apple;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod webview_runtime;
#[cfg(windows)]
pub mod windows;

// Used by the Android cipher (compiled, unused, on iOS); on desktop only for its tests.
#[cfg(any(mobile, test))]
#[cfg_attr(target_os = "ios", allow(dead_code))]
pub mod biometric_errors;
// Used on mobile; on desktop only for its tests.
#[cfg(any(mobile, test))]
pub mod biometric_offer;
#[cfg(mobile)]
pub use crate::mobile::{biometric, biometric_label, protector, unlock_wording, user_agent};
#[cfg(target_os = "ios")]
pub mod auth_session_ios;
#[cfg(mobile)]
pub mod mobile_redirect;
#[cfg(mobile)]
pub use mobile_redirect::redirect;

/// Desktop: the loopback redirect (RFC 8252 §7.3).
#[cfg(desktop)]
pub fn redirect<R: tauri::Runtime>(
    _app: &tauri::AppHandle<R>,
) -> Result<latchkey::Redirect, crate::error::Error> {
    Ok(latchkey::Redirect::Loopback)
}

/// Shown by the platform's biometric prompt.
pub const PROMPT_REASON: &str = "Unlock your Latchkey session";
