//! Signing in through the facade: the browser journey, and how the vault key is protected from
//! the first save (the PIN, and biometric unlock when the user chose it).

use latchkey_core::Error as CoreError;

use crate::error::Result;
use crate::session::{Redirect, SessionStatus};
use crate::user_agent::UserAgent;
use crate::{Credential, Latchkey};

impl Latchkey {
    /// Signs in: a fresh vault key is wrapped with `credential` (the new PIN, or a biometric
    /// prompt), then the browser flow runs; the vault is written only when it succeeds.
    /// [`Latchkey::cancel_sign_in`] ends it with [`CoreError::Cancelled`].
    pub async fn sign_in(
        &self,
        credential: Credential,
        user_agent: &dyn UserAgent,
    ) -> Result<SessionStatus> {
        self.sign_in_with(credential, user_agent, Redirect::Loopback)
            .await
    }

    /// [`Latchkey::sign_in`] with the response coming back through `redirect` (on mobile, an
    /// app link: see [`crate::applink`]).
    pub async fn sign_in_with(
        &self,
        credential: Credential,
        user_agent: &dyn UserAgent,
        redirect: Redirect,
    ) -> Result<SessionStatus> {
        self.sign_in_choosing(credential, None, user_agent, redirect)
            .await
    }

    /// [`Latchkey::sign_in_with`], also wrapping the new key with the vault's biometric
    /// protector when `biometric` says where to keep it (the PIN in `credential` is the proof and
    /// stays the fallback; see
    /// [`crate::vault::Vault::enable_biometric`]). If the platform can't set it up, the sign-in
    /// goes on with the PIN alone: [`Latchkey::biometric_status`] then says `Off`.
    pub async fn sign_in_choosing(
        &self,
        credential: Credential,
        biometric: Option<crate::vault::Keep>,
        user_agent: &dyn UserAgent,
        redirect: Redirect,
    ) -> Result<SessionStatus> {
        self.check_sign_in()?;
        // Off the async threads: wrapping may prompt (a biometric-only vault, the finger).
        let vault = self.vault.clone();
        tokio::task::spawn_blocking(move || {
            vault.prepare(&credential)?;
            if let Some(keep) = biometric {
                // The sign-in's own PIN is the proof. No reader, no enrolled finger, no match:
                // the sign-in goes on with the PIN alone (the status then says biometric unlock
                // is off; it can be turned on later).
                if let Err(e) = vault.enable_biometric(&credential, keep) {
                    tracing::warn!(error = %e, "biometric unlock could not be set up; PIN only");
                }
            }
            Ok::<_, crate::vault::VaultError>(())
        })
        .await
        .map_err(|e| CoreError::Internal(format!("sign-in key task: {e}")))??;
        // Register for cancellation before the browser opens, so a Cancel pressed at any moment
        // from now on is seen.
        let cancelled = self.cancel.notified();
        tokio::pin!(cancelled);
        cancelled.as_mut().enable();
        tokio::select! {
            result = self.session.sign_in_with(user_agent, redirect) => {
                if result.is_err() {
                    // Forget the staged key: the previous vault (if any) stays as it was.
                    self.vault.lock();
                }
                let status = result?;
                self.activity.touch();
                Ok(status)
            }
            _ = cancelled => {
                self.vault.lock();
                Err(CoreError::Cancelled.into())
            }
        }
    }
}
