//! iOS and Android — type-checked here (scripts/platform-checks.sh), not built, linked or run.
//! The seams are tested on desktop through latchkey-core's traits with fake platforms.
//!
//! - The vault key is always wrapped by the PIN. Android: it is also encrypted by the biometric
//!   plugin's `biometric_cipher`, an AES-GCM key in AndroidKeyStore that only a biometric success
//!   makes usable (`CipherProtector`, the vault's biometric wrap): a changed enrolment or a
//!   cancelled prompt falls back to the PIN, which wraps the key again.
//! - iOS: the vault key in a keychain item whose access control requires the current biometric
//!   set (`KeychainProtector` over `BiometricKeychain`, wired in `apple.rs`); reading it is what
//!   shows Face ID / Touch ID. An enrolment change or a missing item falls back to the PIN.
//! - Sign-in: on Android a Custom Tab (the opener plugin's "inAppBrowser"), whose redirect comes
//!   back through the deep-link plugin; on iOS an `ASWebAuthenticationSession`
//!   (`auth_session_ios.rs`), which returns the callback URL itself. Either way the URL goes
//!   through the app-link router to the waiting sign-in (`mobile_redirect.rs`; the router's logic
//!   is tested on the host against the dev IdP in latchkey-core's tests/mobile_redirect.rs). This
//!   wiring is type-checked for both targets by scripts/platform-checks.sh, not run here.

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
// iOS uses the keychain protector (`apple.rs`); the Android cipher is compiled there too.
#[cfg_attr(target_os = "ios", allow(unused_imports))]
use latchkey::vault::{BiometricCipher, CipherProtector, KeyProtector, ProtectorError};
use latchkey::{PinProtector, UnlockMethod, UserAgent, UserAgentError};
use tauri::{AppHandle, Runtime};
use tauri_plugin_biometric::{AuthOptions, BiometricExt};
use tauri_plugin_opener::OpenerExt;
use zeroize::Zeroizing;

use crate::platform::biometric_errors::{check_sealed, classify, CipherCall};
use crate::platform::biometric_offer::Offer;

/// The vault key's protector on this platform: the PIN, always (the fallback).
pub fn protector<R: Runtime>(_app: &AppHandle<R>) -> Arc<dyn KeyProtector> {
    Arc::new(PinProtector::default())
}

/// The second way to release the vault key, where the device has biometric hardware
/// (`biometric_offer.rs` decides from the plugin's status). Android: the biometric plugin's
/// `biometric_cipher` (an AndroidKeyStore key only a strong biometric success makes usable). iOS:
/// a keychain item with `biometryCurrentSet` access control (`apple.rs`).
pub fn biometric<R: Runtime>(app: &AppHandle<R>) -> Option<Arc<dyn KeyProtector>> {
    let status = app.biometric().status().map_err(|e| e.to_string());
    let offer = crate::platform::biometric_offer::offer(
        status.as_ref().map_err(Clone::clone),
        cfg!(target_os = "ios"),
    );
    if let Err(e) = &status {
        tracing::warn!(error = %e, "the biometric plugin's status is unreadable; offering biometrics");
    }
    let label = match offer {
        Offer::NotOffered => {
            tracing::info!("no biometric hardware: the PIN only");
            return None;
        }
        Offer::Offered(label) => label,
    };
    let _ = LABEL.set(label);
    #[cfg(target_os = "ios")]
    {
        crate::platform::apple::biometric()
    }
    #[cfg(not(target_os = "ios"))]
    Some(Arc::new(CipherProtector::new(AndroidCipher(app.clone()))))
}

/// The word decided by [`biometric`] from the device's biometry.
static LABEL: OnceLock<&'static str> = OnceLock::new();

/// The UI's word for the biometric unlock, where it is offered.
pub fn biometric_label() -> Option<&'static str> {
    LABEL.get().copied()
}

/// How the UI names the PIN step.
pub fn unlock_wording() -> (UnlockMethod, &'static str) {
    (UnlockMethod::Pin, "PIN")
}

/// Android: a Custom Tab. iOS: an authentication session whose callback goes to the app-link
/// router (a Custom-Tab-like in-app tab if the router is missing, which setup prevents).
pub fn user_agent<R: Runtime>(app: &AppHandle<R>) -> Box<dyn UserAgent> {
    #[cfg(target_os = "ios")]
    if let Some(links) =
        tauri::Manager::try_state::<crate::platform::mobile_redirect::AppLinks>(app)
    {
        return Box::new(crate::platform::auth_session_ios::AuthSessionTab::new(
            app.clone(),
            links.0.clone(),
        ));
    }
    Box::new(InAppTab(app.clone()))
}

struct InAppTab<R: Runtime>(AppHandle<R>);

impl<R: Runtime> UserAgent for InAppTab<R> {
    fn open(&self, url: &url::Url) -> Result<(), UserAgentError> {
        self.0
            .opener()
            .open_url(url.as_str(), Some("inAppBrowser"))
            .map_err(|e| UserAgentError::NoBrowser {
                tried: "the in-app browser tab".into(),
                source: std::io::Error::other(e.to_string()),
            })
    }
}

#[cfg_attr(target_os = "ios", allow(dead_code))]
struct AndroidCipher<R: Runtime>(AppHandle<R>);

/// A rejected plugin call as the vault sees it: the plugin's code and message when it rejected,
/// else the error's text (the call itself failed).
#[cfg_attr(target_os = "ios", allow(dead_code))]
fn cipher_error(call: CipherCall, e: &tauri_plugin_biometric::Error) -> ProtectorError {
    use tauri::plugin::mobile::PluginInvokeError;
    match e {
        tauri_plugin_biometric::Error::PluginInvoke(PluginInvokeError::InvokeRejected(r)) => {
            classify(call, r.code.as_deref(), r.message.as_deref())
        }
        other => ProtectorError::Unavailable(other.to_string()),
    }
}

impl<R: Runtime> BiometricCipher for AndroidCipher<R> {
    fn encrypt(&self, reason: &str, plaintext: &[u8]) -> Result<Vec<u8>, ProtectorError> {
        // What the plugin already knows (nothing enrolled, no screen lock) is said before any
        // prompt; a status that can't be read leaves it to the cipher.
        if let Ok(status) = self.0.biometric().status() {
            crate::platform::biometric_offer::before_wrap(&status)?;
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let options = AuthOptions {
            data_to_encrypt: Some(b64.encode(plaintext)),
            ..Default::default()
        };
        let result = self
            .0
            .biometric()
            .biometric_cipher(reason.to_owned(), options)
            .map_err(|e| cipher_error(CipherCall::Encrypt, &e))?;
        Ok(result.data.into_bytes())
    }

    fn decrypt(
        &self,
        reason: &str,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
        check_sealed(ciphertext)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let options = AuthOptions {
            data_to_decrypt: Some(String::from_utf8_lossy(ciphertext).into_owned()),
            ..Default::default()
        };
        let result = self
            .0
            .biometric()
            .biometric_cipher(reason.to_owned(), options)
            .map_err(|e| cipher_error(CipherCall::Decrypt, &e))?;
        b64.decode(result.data)
            .map(Zeroizing::new)
            .map_err(|e| ProtectorError::Malformed(e.to_string()))
    }
}
