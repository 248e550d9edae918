//! Biometric unlock through the facade: opening with a biometric protector, what it can do now,
//! and turning it on or off. Unlocking with it is [`Latchkey::unlock`] with a
//! [`crate::Credential::Prompt`].

use std::path::Path;
use std::sync::Arc;

use super::{Activity, Latchkey};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::session::Session;
use crate::vault::{BiometricStatus, KeyProtector, Vault};

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

    /// Turns biometric unlock on (needs the session unlocked: the key is wrapped again; may
    /// prompt) or off (works locked; deletes the biometric wrap). Off the async threads.
    pub async fn set_biometric(&self, enabled: bool) -> Result<BiometricStatus> {
        let vault = self.vault.clone();
        tokio::task::spawn_blocking(move || {
            if enabled {
                vault.enable_biometric()
            } else {
                vault.disable_biometric()
            }
            .map(|()| vault.biometric_status())
        })
        .await
        .map_err(|e| Error::Internal(format!("biometric task: {e}")))?
        .map_err(Error::from)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use crate::store::SecretStore;
    use crate::vault::tests::{pin, protector, session};
    use crate::vault::tests_dual::{FakeBiometrics, Finger};
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
            v.enable_biometric().unwrap();
            let mut stored = session("RT");
            stored.issuer = issuer.into();
            v.save(&stored).unwrap();
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
        assert_eq!(err.kind(), ErrorKind::VaultLocked);
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
            latchkey.set_biometric(false).await.unwrap(),
            BiometricStatus::Off
        );
    }
}
