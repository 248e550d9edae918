//! Platform code: how the vault key is protected, what opens the browser, and the words the UI
//! uses for unlocking. Desktop is built and tested here; mobile is designed in and unverified.

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
#[cfg(mobile)]
mod mobile;
#[cfg(mobile)]
pub use mobile::{biometric, biometric_label, protector, unlock_wording, user_agent};

/// Shown by the platform's biometric prompt.
pub const PROMPT_REASON: &str = "Unlock your Latchkey session";
