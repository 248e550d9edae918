//! Platform code: how the vault key is protected, what opens the browser, and the words the UI
//! uses for unlocking, and where the sign-in's redirect comes back. Desktop is built and tested
//! here; mobile is type-checked (scripts/platform-checks.sh) and its redirect logic host-tested.

#[cfg(desktop)]
mod desktop;
#[cfg(desktop)]
pub use desktop::{biometric, biometric_label, protector, unlock_wording, user_agent};
#[cfg(any(target_os = "macos", target_os = "ios"))]
mod apple;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(windows)]
mod windows;

// Used by the Android cipher only (compiled, unused, on desktop and iOS).
#[cfg_attr(any(desktop, target_os = "ios"), allow(dead_code))]
mod biometric_errors;
// Used on mobile (compiled, unused, on desktop, where its tests run).
#[cfg_attr(desktop, allow(dead_code))]
mod biometric_offer;
#[cfg(mobile)]
mod mobile;
#[cfg(mobile)]
pub use mobile::{biometric, biometric_label, protector, unlock_wording, user_agent};
#[cfg(test)]
mod apple_bundle;
#[cfg(target_os = "ios")]
mod auth_session_ios;
#[cfg(mobile)]
pub mod mobile_redirect;
#[cfg(mobile)]
pub use mobile_redirect::redirect;

/// Desktop: the loopback redirect (RFC 8252 §7.3).
#[cfg(desktop)]
pub fn redirect<R: tauri::Runtime>(
    _app: &tauri::AppHandle<R>,
) -> Result<latchkey_core::Redirect, crate::error::IpcError> {
    Ok(latchkey_core::Redirect::Loopback)
}

/// Shown by the platform's biometric prompt.
pub const PROMPT_REASON: &str = "Unlock your Latchkey session";
