//! Windows Hello as a [`HelloSigner`]: a `KeyCredentialManager` credential (opened, or created on
//! first use) signs the challenge after Hello's prompt. Compiled for Windows only; the Windows
//! test run under Wine sees Hello unavailable (`IsSupportedAsync` fails there), which is the
//! PIN fallback. Designed, not run against a real Hello here.
//!
//! The prompt in flight can be cancelled ([`HelloSigner::cancel`]: "use the PIN instead" calls
//! `IAsyncInfo::Cancel` on the pending request), which is `Cancelled`. What this signer cannot
//! do: show the vault's reason (`RequestCreateAsync` / `RequestSignAsync` take no message, so
//! Hello's own wording is shown), or pull the prompt in front of other windows (the usual
//! workaround, finding Hello's "Credential Dialog Xaml Host" window and calling
//! `SetForegroundWindow`, needs Win32 calls the `windows` crate marks `unsafe`, which this
//! workspace forbids). Both are checks on a device (docs/PLATFORMS.md, "Before shipping").

use std::sync::Mutex;

use windows::core::HSTRING;
use windows::Security::Credentials::{
    KeyCredential, KeyCredentialCreationOption, KeyCredentialManager, KeyCredentialStatus,
};
use windows::Security::Cryptography::Core::CryptographicPublicKeyBlobType;
use windows::Security::Cryptography::CryptographicBuffer;
use windows::Storage::Streams::IBuffer;
use windows_future::IAsyncOperation;
use zeroize::Zeroizing;

use super::hello::HelloSigner;
use super::key::ProtectorError;

/// The request in flight, if any, and whether it was cancelled.
#[derive(Default)]
struct Pending {
    cancel: Option<Box<dyn FnOnce() + Send>>,
    cancelled: bool,
}

/// The Hello credential named `name` (one per app).
pub struct WindowsHello {
    name: String,
    pending: Mutex<Pending>,
}

impl std::fmt::Debug for WindowsHello {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowsHello")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl WindowsHello {
    /// The app's Hello credential.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            pending: Mutex::new(Pending::default()),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a request that may show Hello's prompt, cancellable meanwhile by
    /// [`HelloSigner::cancel`].
    fn prompt<T: windows::core::RuntimeType + 'static>(
        &self,
        op: windows::core::Result<IAsyncOperation<T>>,
    ) -> Result<T, ProtectorError> {
        let op = op.map_err(unavailable)?;
        {
            let handle = op.clone();
            let mut pending = self.pending();
            pending.cancelled = false;
            pending.cancel = Some(Box::new(move || {
                let _ = handle.Cancel();
            }));
        }
        let result = op.join();
        let cancelled = {
            let mut pending = self.pending();
            pending.cancel = None;
            std::mem::take(&mut pending.cancelled)
        };
        if cancelled {
            return Err(ProtectorError::Cancelled);
        }
        result.map_err(unavailable)
    }

    /// The app's credential, created (`enrol`) if missing.
    fn credential(&self, enrol: bool) -> Result<KeyCredential, ProtectorError> {
        let supported = KeyCredentialManager::IsSupportedAsync()
            .and_then(|op| op.join())
            .map_err(unavailable)?;
        if !supported {
            return Err(ProtectorError::Unavailable(
                "Windows Hello is not set up on this device".into(),
            ));
        }
        let name = HSTRING::from(self.name.as_str());
        let mut retrieved = KeyCredentialManager::OpenAsync(&name)
            .and_then(|op| op.join())
            .map_err(unavailable)?;
        if retrieved.Status().map_err(unavailable)? == KeyCredentialStatus::NotFound {
            if !enrol {
                // Releasing: a new key could never open the old wrap. The PIN, then a new wrap.
                return Err(ProtectorError::KeyInvalidated);
            }
            retrieved = self.prompt(KeyCredentialManager::RequestCreateAsync(
                &name,
                KeyCredentialCreationOption::FailIfExists,
            ))?;
            // Another process created it since OpenAsync: open that one.
            if retrieved.Status().map_err(unavailable)?
                == KeyCredentialStatus::CredentialAlreadyExists
            {
                retrieved = KeyCredentialManager::OpenAsync(&name)
                    .and_then(|op| op.join())
                    .map_err(unavailable)?;
            }
        }
        let status = retrieved.Status().map_err(unavailable)?;
        if status != KeyCredentialStatus::Success {
            return Err(status_error(status));
        }
        retrieved.Credential().map_err(unavailable)
    }
}

fn unavailable(e: windows::core::Error) -> ProtectorError {
    ProtectorError::Unavailable(format!("Windows Hello: {e}"))
}

fn bytes(buffer: &IBuffer) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
    let mut out = windows::core::Array::<u8>::new();
    CryptographicBuffer::CopyToByteArray(buffer, &mut out).map_err(unavailable)?;
    let copy = Zeroizing::new(out.to_vec());
    zeroize::Zeroize::zeroize(&mut out[..]);
    Ok(copy)
}

/// What a Hello status means for the vault.
fn status_error(status: KeyCredentialStatus) -> ProtectorError {
    match status {
        KeyCredentialStatus::UserCanceled | KeyCredentialStatus::UserPrefersPassword => {
            ProtectorError::Cancelled
        }
        KeyCredentialStatus::NotFound => ProtectorError::KeyInvalidated,
        // The TPM's anti-hammering lock after wrong Hello PINs: it lifts by itself.
        KeyCredentialStatus::SecurityDeviceLocked => ProtectorError::LockedOut,
        other => ProtectorError::Unavailable(format!("Windows Hello status {}", other.0)),
    }
}

impl HelloSigner for WindowsHello {
    fn sign(
        &self,
        _reason: &str,
        challenge: &[u8],
        enrol: bool,
    ) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
        let credential = self.credential(enrol)?;
        let data = CryptographicBuffer::CreateFromByteArray(challenge).map_err(unavailable)?;
        let signed = self.prompt(credential.RequestSignAsync(&data))?;
        let status = signed.Status().map_err(unavailable)?;
        if status != KeyCredentialStatus::Success {
            return Err(status_error(status));
        }
        bytes(&signed.Result().map_err(unavailable)?)
    }

    fn public_key(&self) -> Result<Vec<u8>, ProtectorError> {
        let credential = self.credential(false)?;
        let spki = credential
            .RetrievePublicKeyWithBlobType(CryptographicPublicKeyBlobType::X509SubjectPublicKeyInfo)
            .map_err(unavailable)?;
        Ok(bytes(&spki)?.to_vec())
    }

    fn cancel(&self) {
        let mut pending = self.pending();
        if let Some(cancel) = pending.cancel.take() {
            pending.cancelled = true;
            cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Credential, HelloProtector, KeyProtector, VaultKey};

    /// Under Wine (the test command's Windows run) `KeyCredentialManager` isn't there: the real
    /// signer reports Hello unavailable, which the vault turns into the PIN fallback
    /// (`tests_dual.rs`). On a Windows machine without Hello set up, the same.
    #[test]
    fn a_locked_tpm_is_a_lockout_a_missing_key_invalidation_and_a_dismissed_prompt_a_cancel() {
        assert!(matches!(
            status_error(KeyCredentialStatus::SecurityDeviceLocked),
            ProtectorError::LockedOut
        ));
        assert!(matches!(
            status_error(KeyCredentialStatus::NotFound),
            ProtectorError::KeyInvalidated
        ));
        for status in [
            KeyCredentialStatus::UserCanceled,
            KeyCredentialStatus::UserPrefersPassword,
        ] {
            assert!(matches!(status_error(status), ProtectorError::Cancelled));
        }
        assert!(matches!(
            status_error(KeyCredentialStatus::UnknownError),
            ProtectorError::Unavailable(_)
        ));
    }

    #[test]
    fn cancelling_with_no_prompt_in_flight_does_nothing() {
        let hello = WindowsHello::new("latchkey-test");
        hello.cancel();
        assert!(hello.pending().cancel.is_none() && !hello.pending().cancelled);
    }

    #[test]
    fn where_hello_is_missing_the_real_signer_reports_unavailable_not_a_failed_unlock() {
        // Set by scripts/platform/wine-runner.sh: on a real Windows with Hello set up this would
        // show a Hello prompt instead.
        if std::env::var_os("LATCHKEY_UNDER_WINE").is_none() {
            eprintln!("skipped: runs under the test command's Wine only");
            return;
        }
        let protector = HelloProtector::new(WindowsHello::new("latchkey-test"));
        let wrapped = protector.wrap(
            &VaultKey::generate(),
            &Credential::Prompt("Unlock your Latchkey session".into()),
        );
        assert!(
            matches!(wrapped, Err(ProtectorError::Unavailable(_))),
            "{wrapped:?}"
        );
    }
}
