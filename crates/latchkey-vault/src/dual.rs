//! One vault key, two wraps: the PIN's (always) and the platform's biometric one (optional).
//!
//! The key file holds the PIN wrap (the vault's identity, see the module docs of [`super`]) and,
//! when biometric unlock is on, a [`BiometricSlot`]: the same key wrapped by the biometric
//! protector. Either releases the key. A biometric failure never ends the session and never
//! counts as a wrong PIN:
//!
//! | biometric outcome | vault | user is told |
//! |---|---|---|
//! | cancelled, no match, reader unavailable | stays locked, nothing written | try again or use the PIN |
//! | platform key gone (enrolment changed, keychain item not found, wrap unreadable) | the biometric wrap is dropped (slot kept: still *on*) | biometrics changed: use the PIN |
//! | the same unrecognised failure [`SET_UP_AGAIN_AFTER`] unlocks in a row | stays locked; counted in the key file (`repeated.rs`) | [`BiometricStatus::SetUpAgain`]: set it up again |
//!
//! A success resets the PIN's failure count: the user is proven.
//!
//! Turning biometric unlock on needs the user's own proof, checked here in Rust, never a bare
//! call: the PIN, verified by releasing the PIN wrap (counted like an unlock attempt), and then
//! whatever the platform's wrap asks (a matching finger on Linux). Turning it off needs the
//! session unlocked. So script in the WebView, which can call both, can neither put the key in a
//! new place nor change how the vault opens without the user.
//!
//! After a PIN unlock, an *on* slot whose wrap is lost (or no longer held: a Linux key kept in
//! memory, after a restart) is wrapped again, outside the vault's lock (best effort: a failure
//! is logged and the PIN unlock stands). Turning biometrics off removes the slot and deletes its
//! platform material.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

use super::error::BiometricFailure;
use super::files::KEY_FILE;
use super::key::{Credential, Keep, KeyProtector, ProtectorError, UnlockMethod, VaultKey};
use super::key_file::{write_json, BiometricSlot, KeyFile};
use super::{Vault, VaultError};

/// What biometric unlock can do for this vault right now (readable while locked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BiometricStatus {
    /// This platform (or this build) has no biometric protector.
    NotOffered,
    /// Offered, but not turned on for this vault (or nobody signed in).
    Off,
    /// On: a biometric check releases the key.
    Ready,
    /// On, but the platform key was lost (biometrics changed): the PIN is needed once, then the
    /// key is wrapped again.
    NeedsPin,
    /// On, but the same unrecognised failure came back [`SET_UP_AGAIN_AFTER`] unlocks in a row:
    /// the platform key is probably unusable in a way the platform didn't say. Front ends say
    /// "set up fingerprint (face) unlock again"; the PIN works meanwhile, and nothing is erased.
    SetUpAgain,
}

/// How many identical unrecognised biometric failures in a row make
/// [`BiometricStatus::SetUpAgain`].
pub const SET_UP_AGAIN_AFTER: u32 = 3;

/// The biometric protector of a vault and the reason its prompts show.
pub(super) struct Biometric {
    pub(super) protector: Arc<dyn KeyProtector>,
    pub(super) reason: String,
}

impl Biometric {
    fn prompt(&self) -> Credential {
        Credential::Prompt(self.reason.clone())
    }
}

impl Vault {
    /// Adds a biometric protector: the key can then also be wrapped by it
    /// ([`Vault::enable_biometric`]) and released with a [`Credential::Prompt`]; `reason` is shown
    /// by prompts the vault starts itself (wrapping again after a PIN unlock).
    pub fn with_biometric(mut self, protector: Arc<dyn KeyProtector>, reason: &str) -> Self {
        self.biometric = Some(Biometric {
            protector,
            reason: reason.to_owned(),
        });
        self
    }

    /// The biometric protector's method, if this vault has one.
    pub fn biometric_method(&self) -> Option<UnlockMethod> {
        self.biometric.as_ref().map(|b| b.protector.method())
    }

    /// What a biometric unlock can do now.
    pub fn biometric_status(&self) -> BiometricStatus {
        let Some(bio) = &self.biometric else {
            return BiometricStatus::NotOffered;
        };
        match self.read_key_file() {
            Ok(Some(file)) if super::repeated::needs_setting_up_again(&file) => {
                BiometricStatus::SetUpAgain
            }
            Ok(Some(KeyFile {
                biometric: Some(slot),
                ..
            })) => match &slot.wrapped {
                Some(wrapped) if bio.protector.holds(wrapped) => BiometricStatus::Ready,
                _ => BiometricStatus::NeedsPin,
            },
            _ => BiometricStatus::Off,
        }
    }

    /// Turns biometric unlock on, with the user's PIN as `proof`: the PIN is checked by releasing
    /// the key from the PIN wrap (a wrong one is counted like an unlock attempt), then the key is
    /// wrapped with the biometric protector (which may prompt: a matching finger on Linux), kept
    /// as `keep` says where the platform has the choice. During a sign-in (after
    /// [`Vault::prepare`]) `proof` must open the staged wrap and the biometric wrap is written
    /// with the first save; otherwise it is written now, under the vault's lock, if the key file
    /// is still this session's. No lock is held while a prompt is open.
    ///
    /// # Errors
    /// [`VaultError::Locked`] when no key is released; [`VaultError::CredentialNotAccepted`]
    /// when `proof` is not a PIN; [`VaultError::WrongPin`] and the other unlock failures when
    /// the PIN is wrong; [`VaultError::Biometric`] when the platform's wrap fails.
    pub fn enable_biometric(&self, proof: &Credential, keep: Keep) -> Result<(), VaultError> {
        let bio = self.biometric.as_ref().ok_or(VaultError::Biometric {
            failure: BiometricFailure::Off,
            source: None,
        })?;
        let key = self.key()?;
        if !matches!(proof, Credential::Pin(_)) {
            return Err(VaultError::CredentialNotAccepted {
                method: self.protector.method(),
                source: ProtectorError::UnsuitableCredential(
                    "turning biometric unlock on needs the PIN".into(),
                ),
            });
        }
        self.protector
            .accepts(proof)
            .map_err(|source| VaultError::CredentialNotAccepted {
                method: self.protector.method(),
                source,
            })?;
        let staged = self.state().staged.clone();
        if let Some(staged) = staged {
            let released = self.protector.release(&staged, proof)?;
            if !bool::from(released.expose().ct_eq(key.expose())) {
                return Err(ProtectorError::WrongCredential.into());
            }
            let slot = self.wrap_biometric(bio, &key, keep)?;
            self.discard_staged_biometric();
            let mut state = self.state();
            if state.staged.as_ref() == Some(&staged) {
                state.staged_biometric = Some(slot);
                return Ok(());
            }
            drop(state);
            self.forget_slot(&slot);
            return Err(VaultError::Locked);
        }
        let (lock, _, from) = self.release_counted(proof)?;
        drop(lock);
        if self.state().released_from.as_ref() != Some(&from) {
            return Err(VaultError::KeyChanged);
        }
        let slot = self.wrap_biometric(bio, &key, keep)?;
        let written = (|| {
            let _lock = self.exclusive()?;
            let mut file = self.our_key_file()?;
            self.forget_biometric(&file);
            file.biometric = Some(slot.clone());
            write_json(&self.path(KEY_FILE), &file)
        })();
        if written.is_err() {
            self.forget_slot(&slot);
        }
        written
    }

    /// Turns biometric unlock off: removes the biometric wrap and deletes its platform material.
    /// Needs the session unlocked (a locked app takes no change to how it opens); the PIN keeps
    /// working.
    ///
    /// # Errors
    /// [`VaultError::Locked`] when no key is released.
    pub fn disable_biometric(&self) -> Result<(), VaultError> {
        self.key()?;
        self.discard_staged_biometric();
        if self.state().staged.is_some() {
            return Ok(()); // a sign-in under way: its staged wrap was all there was
        }
        let _lock = self.exclusive()?;
        let mut file = self.our_key_file()?;
        if file.biometric.is_none() {
            return Ok(());
        }
        self.forget_biometric(&file);
        file.biometric = None;
        write_json(&self.path(KEY_FILE), &file)
    }

    /// The biometric half of [`Vault::unlock`]. Nothing is counted, and the prompt runs without
    /// the vault's lock (a user may take their time, or choose the PIN meanwhile): the key file
    /// is read, the protector prompts, and the released key is adopted only if it still opens the
    /// snapshot of the key file on disk. Dropping a lost wrap takes the lock.
    pub(super) fn unlock_biometric(
        &self,
        bio: &Biometric,
        credential: &Credential,
    ) -> Result<(), VaultError> {
        let file = self.read_key_file()?.ok_or(VaultError::NotInitialized)?;
        let slot = file.biometric.clone().ok_or(VaultError::Biometric {
            failure: BiometricFailure::Off,
            source: None,
        })?;
        let Some(wrapped) = slot.wrapped else {
            return Err(VaultError::Biometric {
                failure: BiometricFailure::Changed,
                source: None,
            });
        };
        if !bio.protector.holds(&wrapped) {
            // Not lost: held by another process (or by none since a restart). Left in place, so
            // a process that holds it keeps unlocking with it.
            return Err(VaultError::Biometric {
                failure: BiometricFailure::PinFirst,
                source: None,
            });
        }
        match bio.protector.release(&wrapped, credential) {
            Ok(key) => {
                self.adopt(key, file.wrapped.clone())?;
                self.after_biometric_success(&file);
                Ok(())
            }
            Err(e) => {
                let failure = BiometricFailure::of(&e);
                let unrecognised = (failure == BiometricFailure::Unavailable).then_some(&e);
                self.after_biometric_failure(&file, &wrapped, unrecognised);
                if failure == BiometricFailure::Changed {
                    tracing::info!(error = %e, "the biometric key is gone; the PIN will wrap again");
                    self.drop_biometric_wrap(&wrapped)?;
                }
                // The failure's own sentence says it all, except what made the platform
                // unavailable.
                let source = (failure == BiometricFailure::Unavailable).then_some(e);
                Err(VaultError::Biometric { failure, source })
            }
        }
    }

    /// Marks the biometric wrap `lost` as gone (slot kept: still on), if the key file still
    /// holds it, and deletes its platform material.
    fn drop_biometric_wrap(&self, lost: &serde_json::Value) -> Result<(), VaultError> {
        let _lock = self.exclusive()?;
        let Some(mut file) = self.read_key_file()? else {
            return Ok(());
        };
        let Some(slot) = &file.biometric else {
            return Ok(());
        };
        if slot.wrapped.as_ref() != Some(lost) {
            return Ok(()); // another process already replaced it
        }
        self.forget_biometric(&file);
        file.biometric = Some(BiometricSlot {
            wrapped: None,
            ..slot.clone()
        });
        write_json(&self.path(KEY_FILE), &file)
    }

    /// Ends a biometric prompt in progress (the user chose the PIN): that unlock returns
    /// [`BiometricFailure::Cancelled`].
    pub fn cancel_biometric_prompt(&self) {
        if let Some(bio) = &self.biometric {
            bio.protector.cancel_prompt();
        }
    }

    /// After a PIN unlock, without the lock: wraps the key again if biometric unlock is on but
    /// its wrap was lost or is no longer held, kept as before (the PIN was the proof). Best
    /// effort: the PIN unlock stands either way.
    pub(super) fn renew_biometric(&self) {
        let Some(bio) = &self.biometric else { return };
        let Ok(Some(file)) = self.read_key_file() else {
            return;
        };
        let Some(slot) = &file.biometric else { return };
        if slot
            .wrapped
            .as_ref()
            .is_some_and(|w| bio.protector.holds(w))
        {
            return;
        }
        let Ok(key) = self.key() else { return };
        let renewed = bio
            .protector
            .rewrap_after_pin(&key, &bio.reason, slot.keep)
            .map(|wrapped| BiometricSlot {
                method: bio.protector.method(),
                wrapped: Some(wrapped),
                keep: slot.keep,
            });
        let result = renewed
            .map_err(VaultError::from)
            .and_then(|new| self.replace_slot(&file, new));
        match result {
            Ok(()) => tracing::info!("biometric unlock set up again after the PIN"),
            Err(e) => tracing::warn!(error = %e, "could not set biometric unlock up again"),
        }
    }

    /// Under the lock: puts `new` in place of the slot `before` saw, if the key file is still
    /// that one (else `new`'s material is deleted), and deletes the old wrap's material.
    fn replace_slot(&self, before: &KeyFile, new: BiometricSlot) -> Result<(), VaultError> {
        let written = (|| {
            let _lock = self.exclusive()?;
            let mut file = self.our_key_file()?;
            if file.biometric != before.biometric {
                return Err(VaultError::KeyChanged); // another process changed it meanwhile
            }
            self.forget_biometric(&file);
            file.biometric = Some(new.clone());
            write_json(&self.path(KEY_FILE), &file)
        })();
        if written.is_err() {
            self.forget_slot(&new);
        }
        written
    }

    fn wrap_biometric(
        &self,
        bio: &Biometric,
        key: &VaultKey,
        keep: Keep,
    ) -> Result<BiometricSlot, VaultError> {
        let wrapped = bio
            .protector
            .wrap_keeping(key, &bio.prompt(), keep)
            .map_err(|e| VaultError::Biometric {
                failure: BiometricFailure::of(&e),
                source: Some(e),
            })?;
        Ok(BiometricSlot {
            method: bio.protector.method(),
            wrapped: Some(wrapped),
            keep,
        })
    }

    /// Deletes the platform material of the key file's biometric wrap (logged on failure).
    pub(super) fn forget_biometric(&self, file: &KeyFile) {
        if let Some(slot) = &file.biometric {
            self.forget_slot(slot);
        }
    }

    /// Deletes the platform material of `slot` (logged on failure).
    fn forget_slot(&self, slot: &BiometricSlot) {
        let (Some(bio), Some(wrapped)) = (&self.biometric, &slot.wrapped) else {
            return;
        };
        if let Err(e) = bio.protector.forget(wrapped) {
            tracing::warn!(error = %e, "could not delete the biometric key material");
        }
    }

    /// Deletes the biometric wrap a sign-in staged and never saved (it failed, was cancelled,
    /// or another sign-in began), so its keyring or keychain item doesn't outlive it.
    pub(super) fn discard_staged_biometric(&self) {
        let staged = self.state().staged_biometric.take();
        if let Some(slot) = staged {
            self.forget_slot(&slot);
        }
    }

    /// The key file, if it is still the one this session's key came from.
    fn our_key_file(&self) -> Result<KeyFile, VaultError> {
        let ours = self
            .state()
            .released_from
            .clone()
            .ok_or(VaultError::Locked)?;
        match self.read_key_file()? {
            None => Err(VaultError::KeyRemoved),
            Some(file) if file.wrapped == ours => Ok(file),
            Some(_) => Err(VaultError::KeyChanged),
        }
    }

    /// Holds `key` (released from the key file whose identity is `from`) once it has proved it
    /// opens the snapshot.
    pub(super) fn adopt(&self, key: VaultKey, from: serde_json::Value) -> Result<(), VaultError> {
        {
            let mut state = self.state();
            state.forget();
            state.key = Some(key);
            state.released_from = Some(from);
        }
        // Prove the key opens the snapshot before calling the vault unlocked (this read also
        // fills the cache, so resuming doesn't decrypt twice).
        if let Err(e) = self.load_session() {
            self.lock();
            return Err(e);
        }
        Ok(())
    }
}
