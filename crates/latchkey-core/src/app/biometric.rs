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
