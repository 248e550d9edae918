//! Reading and writing the stored session: the key file and whose it is, the snapshot, the
//! metadata.

use zeroize::Zeroizing;

use super::files::{self, KEY_FILE, META_FILE, SNAPSHOT};
use super::key_file::{classify, read_json, write_json, KeyFile};
use super::state::{Cached, FileStamp};
use super::{stronghold, Vault, VaultError, VaultMetadata};
use latchkey_core::store::StoredSession;

/// Whose key the key file holds now, compared with the one this vault's key came from.
enum Owner {
    Ours,
    /// Another process signed in anew.
    Other,
    /// Another process signed out.
    Gone,
}

impl Vault {
    pub(super) fn read_key_file(&self) -> Result<Option<KeyFile>, VaultError> {
        read_json(&self.path(KEY_FILE))
    }

    fn owner(&self, ours: &serde_json::Value) -> Result<Owner, VaultError> {
        Ok(match self.read_key_file()? {
            None => Owner::Gone,
            Some(file) if file.wrapped == *ours => Owner::Ours,
            Some(_) => Owner::Other,
        })
    }

    /// The key and the wrapped key it came from; `None` while a new vault is staged.
    fn released(&self) -> Result<Option<(super::VaultKey, serde_json::Value)>, VaultError> {
        let state = self.state();
        let key = state.key.clone().ok_or(VaultError::Locked)?;
        if state.staged.is_some() {
            return Ok(None);
        }
        let ours = state.released_from.clone().ok_or(VaultError::Locked)?;
        Ok(Some((key, ours)))
    }

    pub(super) fn load_session(&self) -> Result<Option<StoredSession>, VaultError> {
        let Some((key, ours)) = self.released()? else {
            // A new vault being prepared: the old snapshot is not ours to read.
            return Ok(None);
        };
        match self.owner(&ours)? {
            Owner::Ours => {}
            Owner::Gone => {
                self.state().cache = None;
                return Ok(None);
            }
            Owner::Other => return Err(VaultError::KeyChanged),
        }
        let snapshot = self.path(SNAPSHOT);
        let Some(stamp) = FileStamp::of(&snapshot) else {
            self.state().cache = None;
            return Ok(None);
        };
        if let Some(cached) = &self.state().cache {
            if cached.stamp == stamp {
                return Ok(Some(cached.session.clone()));
            }
        }
        let bytes = match stronghold::read(&snapshot, &key) {
            Ok(bytes) => bytes,
            Err(e) => {
                // A writer that replaced both files between our two reads is not corruption.
                return match self.owner(&ours)? {
                    Owner::Ours => {
                        self.state().quarantine_on_save = true;
                        Err(e)
                    }
                    Owner::Gone => Ok(None),
                    Owner::Other => Err(VaultError::KeyChanged),
                };
            }
        };
        let session: StoredSession =
            serde_json::from_slice(&bytes).map_err(|e| VaultError::Unreadable {
                path: snapshot.display().to_string(),
                reason: format!("the stored session does not parse ({})", classify(&e)),
            })?;
        self.state().cache = Some(Cached {
            stamp,
            session: session.clone(),
        });
        Ok(Some(session))
    }

    /// Writes `session`; the caller holds the vault's lock (a
    /// [`RefreshGuard`](latchkey_core::store::RefreshGuard) of this vault:
    /// see [`super::lock`]). A rotation (the key released from the key file)
    /// is refused if the key file is no longer ours; a new sign-in (a staged key) replaces
    /// whatever is there, snapshot first, then key file.
    pub(super) fn save_session(&self, session: &StoredSession) -> Result<(), VaultError> {
        let key = self.key()?;
        let snapshot = self.path(SNAPSHOT);
        let staged = self.state().staged.clone();
        if staged.is_none() {
            let ours = self
                .state()
                .released_from
                .clone()
                .ok_or(VaultError::Locked)?;
            match self.owner(&ours)? {
                Owner::Ours => {}
                Owner::Gone => return Err(VaultError::KeyRemoved),
                Owner::Other => return Err(VaultError::KeyChanged),
            }
        }
        if self.state().quarantine_on_save && snapshot.exists() {
            // A rotation keeps aside only a snapshot that still fails with our key, read now
            // under the lock; a new sign-in can't tell and keeps it.
            if staged.is_some() || stronghold::read(&snapshot, &key).is_err() {
                let kept = self.path(&files::kept_aside_name());
                std::fs::rename(&snapshot, &kept)
                    .map_err(|e| VaultError::io("kept aside", &snapshot, e))?;
                tracing::warn!(kept = %kept.display(), "kept the unreadable vault aside");
            }
            self.state().quarantine_on_save = false;
        }
        let plaintext = Zeroizing::new(
            serde_json::to_vec(session)
                .map_err(|e| VaultError::Stronghold(format!("serialising: {}", classify(&e))))?,
        );
        stronghold::write(&snapshot, &key, &plaintext)?;
        self.state().cache = FileStamp::of(&snapshot).map(|stamp| Cached {
            stamp,
            session: session.clone(),
        });
        if let Some(wrapped) = staged {
            let biometric = self.state().staged_biometric.take();
            write_json(
                &self.path(KEY_FILE),
                &KeyFile {
                    version: 1,
                    method: self.protector.method(),
                    wrapped: wrapped.clone(),
                    failed_attempts: 0,
                    biometric,
                    biometric_repeated: None,
                },
            )?;
            let mut state = self.state();
            state.staged = None;
            state.released_from = Some(wrapped);
        }
        self.write_metadata(session)
    }

    fn write_metadata(&self, session: &StoredSession) -> Result<(), VaultError> {
        let meta = VaultMetadata {
            issuer: session.issuer.clone(),
            client_id: session.client_id.clone(),
            subject: session.subject.clone(),
            display_name: session.display_name.clone(),
            unlock_method: self.protector.method(),
            last_used_at: files::unix_now(),
        };
        // Metadata changes rarely; `last_used_at` is kept to the minute, which saves a second
        // fsync'd write on most rotations.
        let current = self.metadata().ok().flatten();
        let fresh_enough = current.as_ref().is_some_and(|c| {
            VaultMetadata {
                last_used_at: meta.last_used_at,
                ..c.clone()
            } == meta
                && meta.last_used_at.saturating_sub(c.last_used_at) < 60
        });
        if fresh_enough {
            Ok(())
        } else {
            write_json(&self.path(META_FILE), &meta)
        }
    }
}
