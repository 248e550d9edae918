//! Biometric unlock through the facade: opening with a biometric protector, what it can do now,
//! and turning it on or off. Unlocking with it is [`Latchkey::unlock`] with a
//! [`crate::Credential::Prompt`].

use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::session::Session;
use crate::vault::{BiometricStatus, Keep, KeyProtector, Vault};
use crate::CoreError;
use crate::Credential;
use crate::{Activity, Latchkey};

impl Latchkey {
    /// [`Latchkey::open`] with a second way to release the vault key: `biometric` (prompts show
    /// `reason`). The PIN protector stays the one every vault has.
    pub fn open_with_biometric(
        config: Config,
        vault_dir: &Path,
        protector: Arc<dyn KeyProtector>,
        biometric: Arc<dyn KeyProtector>,
        reason: &str,
    ) -> Result<Self> {
        let vault = Vault::open(vault_dir, protector)?.with_biometric(biometric, reason);
        let vault = Arc::new(vault);
        let session = Session::new(config, vault.clone())?;
        Ok(Self {
            session,
            vault,
            cancel: tokio::sync::Notify::new(),
            activity: Arc::new(Activity::default()),
            background: std::sync::Mutex::new(None),
            idle_lock: std::sync::Mutex::new(None),
        })
    }

    /// What a biometric unlock can do for the stored session now (works locked).
    pub fn biometric_status(&self) -> BiometricStatus {
        self.vault.biometric_status()
    }

    /// Turns biometric unlock on or off; the user's proof is checked here, never assumed.
    ///
    /// On needs the session unlocked and the user's PIN in `proof` (verified by releasing the
    /// PIN wrap, a wrong one counted like an unlock attempt), then whatever the platform's wrap
    /// asks (a matching finger on Linux); `keep` says where the key is kept where the platform
    /// leaves the choice. Off needs the session unlocked. Prompts run off the async threads.
    ///
    /// # Errors
    /// [`Error::Vault`] with the vault's reason: locked, no PIN, wrong PIN, no match.
    pub async fn set_biometric(&self, change: BiometricChange) -> Result<BiometricStatus> {
        let vault = self.vault.clone();
        tokio::task::spawn_blocking(move || {
            match change {
                BiometricChange::On { proof, keep } => vault.enable_biometric(&proof, keep),
                BiometricChange::Off => vault.disable_biometric(),
            }
            .map(|()| vault.biometric_status())
        })
        .await
        .map_err(|e| CoreError::Internal(format!("biometric task: {e}")))?
        .map_err(Error::from)
    }
}

/// What [`Latchkey::set_biometric`] is asked to do.
#[derive(Debug)]
pub enum BiometricChange {
    /// Turn it on: `proof` is the user's PIN; `keep` where the platform leaves the choice.
    On {
        /// The user's PIN.
        proof: Credential,
        /// Where the key is kept (Linux: this run only, or the login keyring across restarts).
        keep: Keep,
    },
    /// Turn it off (the PIN stays).
    Off,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use crate::store::SecretStore;
    use crate::vault::testing::{pin, protector, session};
    use crate::vault::testing::{FakeBiometrics, Finger};
    use crate::vault::{BiometricStatus, Vault};
    use crate::{Credential, ErrorKind, Latchkey, SessionState};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_finger_leaves_the_session_locked_and_the_pin_unlocks_it() {
        let dir = tempfile::tempdir().unwrap();
        let bio = FakeBiometrics::new();
        let issuer = "http://127.0.0.1:9"; // nothing listens: the unlock is "offline"
        {
            let v = Vault::open(dir.path(), protector())
                .unwrap()
                .with_biometric(bio.clone(), "Unlock");
            v.prepare(&pin("pin-246810")).unwrap();
            v.enable_biometric(&pin("pin-246810"), crate::vault::Keep::ThisRun)
                .unwrap();
            let mut stored = session("RT");
            stored.issuer = issuer.into();
            v.save(&v.lock_for_refresh().unwrap(), &stored).unwrap();
        }
        let config = crate::Config::new(issuer, "app").unwrap();
        let latchkey =
            Latchkey::open_with_biometric(config, dir.path(), protector(), bio.clone(), "Unlock")
                .unwrap();
        latchkey.resume().await.unwrap();
        assert_eq!(latchkey.biometric_status(), BiometricStatus::Ready);

        bio.next(Finger::NoMatch);
        let err = latchkey
            .unlock(Credential::Prompt("Unlock".into()))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Locked);
        assert_eq!(latchkey.status().state, SessionState::Locked);

        let status = latchkey.unlock(pin("pin-246810")).await.unwrap();
        assert_eq!(status.state, SessionState::SignedIn);
        assert_eq!(
            latchkey
                .vault()
                .load()
                .unwrap()
                .unwrap()
                .refresh_token
                .secret(),
            "RT"
        );

        assert_eq!(
            latchkey
                .set_biometric(super::BiometricChange::Off)
                .await
                .unwrap(),
            BiometricStatus::Off
        );
    }
}
