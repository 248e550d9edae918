//! Whether the mobile biometric unlock is offered, and its word, decided from what the cipher
//! needs and what the biometric plugin can tell. Compiled and tested on every platform (it reads
//! the plugin's `Status`), used by `mobile.rs`.
//!
//! Android: the vault's cipher (`biometric_cipher`) prompts with `BIOMETRIC_STRONG` (Class 3,
//! `BiometricActivity.kt`), but the plugin's `status()` asks `canAuthenticate(BIOMETRIC_WEAK)`
//! (`BiometricPlugin.kt`) and names the first biometric *feature* the device has
//! (`FEATURE_FINGERPRINT`, then face, then iris), not what is enrolled. So `status()` can say
//! "no" for certain (no weak biometric means no strong one either) but never "yes": a device whose
//! only biometric is a Class 2 face unlock reports available, and only the cipher's own prompt
//! shows otherwise (`biometryNotAvailable` / `biometryNotEnrolled` when wrapping, which
//! `biometric_errors.rs` words as "no strong biometric"). Hence:
//! - no biometric hardware at all: not offered;
//! - hardware, but not usable now (nothing enrolled, hardware busy, an update required): offered,
//!   and turning it on is refused before any prompt with the plugin's reason ([`before_wrap`]);
//! - usable as far as `status()` knows: offered, and the cipher's prompt decides.
//!
//! iOS: the plugin's `status()` is `LAContext.canEvaluatePolicy(.deviceOwnerAuthenticationWithBiometrics)`,
//! whose `biometryType` names Touch ID or Face ID: the keychain item needs the same.

use latchkey::vault::ProtectorError;
use tauri_plugin_biometric::{BiometryType, Status};

/// What the app offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// No biometric hardware: the PIN only.
    NotOffered,
    /// Offered, with the UI's word for it.
    Offered(&'static str),
}

/// The plugin's `status()` reasons (its own English text, `BiometricPlugin.kt`) that mean the
/// device has no biometric hardware at all.
const NO_HARDWARE: [&str; 2] = ["No biometric on this device.", "Unsupported biometry."];

/// Whether to offer biometric unlock, from the plugin's status (`Err`: the call failed, e.g. an
/// Android iris-only device, whose biometry type 3 the plugin's Rust side can't read: offered,
/// and the cipher's prompt decides). `ios`: which platform's words.
pub fn offer(status: Result<&Status, String>, ios: bool) -> Offer {
    let status = match status {
        Ok(status) => status,
        Err(_) => {
            return Offer::Offered(if ios {
                "Face ID or Touch ID"
            } else {
                "biometrics"
            })
        }
    };
    let no_hardware = matches!(status.biometry_type, BiometryType::None)
        || status
            .error
            .as_deref()
            .is_some_and(|e| NO_HARDWARE.contains(&e));
    if !status.is_available && no_hardware {
        return Offer::NotOffered;
    }
    Offer::Offered(match (&status.biometry_type, ios) {
        (BiometryType::TouchID, true) => "Touch ID",
        (BiometryType::FaceID, true) => "Face ID",
        (BiometryType::TouchID, false) => "fingerprint",
        (BiometryType::FaceID, false) => "face unlock",
        (BiometryType::None, true) => "Face ID or Touch ID",
        (BiometryType::None, false) => "biometrics",
    })
}

/// Before wrapping (turning biometric unlock on): refuses, without a prompt, when the plugin
/// already knows no biometric can be used now, with its reason. (Android's cipher only.)
#[cfg_attr(target_os = "ios", allow(dead_code))]
pub fn before_wrap(status: &Status) -> Result<(), ProtectorError> {
    if status.is_available {
        return Ok(());
    }
    let reason = status.error.as_deref().unwrap_or("no reason given");
    Err(ProtectorError::Unavailable(
        match status.error_code.as_deref() {
            Some("biometryNotEnrolled") => {
                format!("enrol a fingerprint or face in the device's settings first ({reason})")
            }
            Some("passcodeNotSet") => format!("set a screen lock first ({reason})"),
            _ => format!("biometrics can't be used right now ({reason})"),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `status()` as the Android plugin resolves it (`BiometricPlugin.kt`: `isAvailable`,
    /// `biometryType`, and when unavailable `error` and `errorCode`).
    fn status(json: serde_json::Value) -> Status {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_device_without_biometric_hardware_is_not_offered_biometric_unlock() {
        for s in [
            serde_json::json!({"isAvailable": false, "biometryType": 0,
                "error": "No biometric on this device.", "errorCode": "biometryNotAvailable"}),
            serde_json::json!({"isAvailable": false, "biometryType": 0,
                "error": "Unsupported biometry.", "errorCode": "biometryNotAvailable"}),
        ] {
            assert_eq!(offer(Ok(&status(s)), false), Offer::NotOffered);
        }
    }

    #[test]
    fn a_device_with_hardware_but_nothing_enrolled_is_offered_and_enabling_says_enrol_first() {
        let s = status(serde_json::json!({"isAvailable": false, "biometryType": 1,
            "error": "Biometrics not enrolled.", "errorCode": "biometryNotEnrolled"}));
        assert_eq!(offer(Ok(&s), false), Offer::Offered("fingerprint"));
        let e = before_wrap(&s).unwrap_err();
        assert!(
            matches!(&e, ProtectorError::Unavailable(m) if m.contains("enrol") && m.contains("Biometrics not enrolled.")),
            "{e}"
        );
    }

    #[test]
    fn a_weak_face_only_device_is_offered_and_left_to_the_strong_cipher_prompt() {
        // status() checks BIOMETRIC_WEAK: a Class 2 face unlock reports available. Nothing here
        // can know it is too weak; the cipher's prompt reports it when enabling (see
        // biometric_errors::enabling_on_a_device_without_a_strong_biometric_says_so).
        let s = status(serde_json::json!({"isAvailable": true, "biometryType": 2}));
        assert_eq!(offer(Ok(&s), false), Offer::Offered("face unlock"));
        assert!(before_wrap(&s).is_ok());
    }

    #[test]
    fn busy_hardware_or_an_unreadable_status_is_still_offered() {
        let busy = status(serde_json::json!({"isAvailable": false, "biometryType": 1,
            "error": "Biometry unavailable.", "errorCode": "biometryNotAvailable"}));
        assert_eq!(offer(Ok(&busy), false), Offer::Offered("fingerprint"));
        assert!(matches!(
            before_wrap(&busy),
            Err(ProtectorError::Unavailable(_))
        ));
        // An iris-only device: biometry type 3, which the plugin's Rust enum can't read.
        let iris = serde_json::from_value::<Status>(
            serde_json::json!({"isAvailable": true, "biometryType": 3}),
        );
        assert!(iris.is_err());
        assert_eq!(
            offer(Err("failed to deserialize response".into()), false),
            Offer::Offered("biometrics")
        );
    }

    #[test]
    fn ios_names_the_biometry_the_device_has() {
        let touch = status(serde_json::json!({"isAvailable": true, "biometryType": 1}));
        let face = status(serde_json::json!({"isAvailable": true, "biometryType": 2}));
        assert_eq!(offer(Ok(&touch), true), Offer::Offered("Touch ID"));
        assert_eq!(offer(Ok(&face), true), Offer::Offered("Face ID"));
    }
}
