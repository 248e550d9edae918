//! Reading and writing the stored session: the key file and whose it is, the snapshot and the
//! journal of rotations after it (`journal.rs`: appended, replayed, folded), the metadata.

use std::time::Duration;

use zeroize::Zeroizing;

use super::files::{self, JOURNAL, KEY_FILE, LOCK_FILE, META_FILE, SNAPSHOT};
use super::fsutil::FileLock;
use super::journal::{self, Generation, Tail};
use super::key_file::{classify, read_json, write_json, KeyFile};
use super::state::{Cached, FileStamp};
use super::{stronghold, Vault, VaultError, VaultMetadata};
use latchkey_core::store::StoredSession;

/// When `last_used_at` alone makes the metadata worth writing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Freshness {
    /// When it is a minute old or more.
    Minute,
    /// Never: only a change of who, where or how.
    IgnoreLastUsed,
}

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
        let journal_path = self.path(JOURNAL);
        // Both stamps before either read: a file replaced while we read it is read again next time.
        let Some(stamp) = FileStamp::of(&snapshot) else {
            self.state().cache = None;
            return Ok(None);
        };
        let journal_stamp = FileStamp::of(&journal_path);
        if let Some(c) = &self.state().cache {
            if c.stamp == stamp && c.journal == journal_stamp {
                return Ok(Some(c.session.clone()));
            }
        }
        let bytes = match std::fs::read(&snapshot) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.state().cache = None;
                return Ok(None);
            }
            Err(e) => return Err(VaultError::io("read", &snapshot, e)),
        };
        let generation = Generation::of_snapshot(&bytes);
        drop(bytes);
        // The newest record of this snapshot's generation, if one authenticates, is the session:
        // the snapshot need not be decrypted (see `journal.rs`).
        let replay = journal::replay(&journal_path, &key, &generation)?;
        if replay.refused > 0 {
            tracing::info!(
                refused = replay.refused,
                "the journal holds records this snapshot does not accept; the next append overwrites them"
            );
        }
        let session = match replay.session {
            Some(session) => session,
            None => match self.read_snapshot(&key, &ours)? {
                Some(session) => session,
                None => {
                    self.state().cache = None;
                    return Ok(None);
                }
            },
        };
        self.remember(stamp, journal_stamp, generation, replay.tail, &session);
        Ok(Some(session))
    }

    /// Decrypts the snapshot. `None`: another process signed out meanwhile.
    fn read_snapshot(
        &self,
        key: &super::VaultKey,
        ours: &serde_json::Value,
    ) -> Result<Option<StoredSession>, VaultError> {
        let snapshot = self.path(SNAPSHOT);
        let bytes = match stronghold::read(&snapshot, key) {
            Ok(bytes) => bytes,
            Err(e) => {
                // A writer that replaced both files between our two reads is not corruption.
                return match self.owner(ours)? {
                    Owner::Ours => {
                        self.state().quarantine_on_save = true;
                        Err(e)
                    }
                    Owner::Gone => Ok(None),
                    Owner::Other => Err(VaultError::KeyChanged),
                };
            }
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| VaultError::Unreadable {
                path: snapshot.display().to_string(),
                reason: format!("the stored session does not parse ({})", classify(&e)),
            })
    }

    fn remember(
        &self,
        stamp: FileStamp,
        journal: Option<FileStamp>,
        generation: Generation,
        tail: Tail,
        session: &StoredSession,
    ) {
        self.state().cache = Some(Cached {
            stamp,
            journal,
            generation,
            tail,
            session: session.clone(),
        });
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
        // A rotation: one journal record, and no metadata write unless who or where changed.
        let quarantine = self.state().quarantine_on_save;
        if staged.is_none() && !quarantine && self.append_rotation(&key, session)? {
            return self.write_metadata(session, Freshness::IgnoreLastUsed);
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
        // A new sign-in seeds the journal with its session, so that the next open (typically the
        // next day's resume) needs no snapshot decrypt; the hot path's fold leaves it empty (one
        // write less; the next rotation appends).
        let (generation, tail, stamps) = self.rebase(&key, session, staged.is_some())?;
        self.state().cache = stamps.map(|(stamp, journal)| Cached {
            stamp,
            journal,
            generation,
            tail,
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
        self.write_metadata(session, Freshness::Minute)
    }

    /// Writes `session` as a new snapshot (a new generation), then resets the journal, whose
    /// records belong to the old one, to `session` as its first record (`seed`) or to nothing: a
    /// crash between the two leaves records the new snapshot refuses. Returns the generation, the
    /// journal's tail (the seed record, or none if not seeded or the reset failed) and the two
    /// files' stamps after.
    #[allow(clippy::type_complexity)]
    fn rebase(
        &self,
        key: &super::VaultKey,
        session: &StoredSession,
        seed: bool,
    ) -> Result<(Generation, Tail, Option<(FileStamp, Option<FileStamp>)>), VaultError> {
        let snapshot = self.path(SNAPSHOT);
        let journal_path = self.path(JOURNAL);
        let plaintext = Zeroizing::new(
            serde_json::to_vec(session)
                .map_err(|e| VaultError::Stronghold(format!("serialising: {}", classify(&e))))?,
        );
        stronghold::write(&snapshot, key, &plaintext)?;
        let bytes = std::fs::read(&snapshot).map_err(|e| VaultError::io("read", &snapshot, e))?;
        let generation = Generation::of_snapshot(&bytes);
        let record = if seed {
            Some(journal::seal(key, &generation, 1, session)?)
        } else {
            None
        };
        let tail = match (journal::reset(&journal_path, record.as_deref()), &record) {
            (Ok(()), Some(record)) => Tail {
                last_seq: 1,
                end: record.len() as u64,
                records: 1,
            },
            (Ok(()), None) => Tail::default(),
            (Err(e), _) => {
                // Harmless: its records are of the old generation, which the new snapshot
                // refuses; the next append (at offset 0) writes over them.
                tracing::warn!(error = %e, "could not reset the journal after writing the snapshot");
                Tail::default()
            }
        };
        let stamps = FileStamp::of(&snapshot).map(|s| (s, FileStamp::of(&journal_path)));
        Ok((generation, tail, stamps))
    }

    /// Appends `session` to the journal, if the snapshot on disk is one this vault has read or
    /// written and the journal has room ([`journal::FOLD_AFTER`]). False: the caller writes the
    /// snapshot instead. The caller holds the lock.
    fn append_rotation(
        &self,
        key: &super::VaultKey,
        session: &StoredSession,
    ) -> Result<bool, VaultError> {
        let Some((stamp, generation, tail)) = self.journal_base() else {
            return Ok(false);
        };
        if tail.records >= journal::FOLD_AFTER {
            return Ok(false);
        }
        let seq = tail.last_seq + 1;
        let record = journal::seal(key, &generation, seq, session)?;
        let path = self.path(JOURNAL);
        journal::append(&path, &tail, &record)
            .map_err(|e| VaultError::io("appended to", &path, e))?;
        let tail = Tail {
            last_seq: seq,
            end: tail.end + record.len() as u64,
            records: tail.records + 1,
        };
        self.remember(stamp, FileStamp::of(&path), generation, tail, session);
        Ok(true)
    }

    /// The snapshot's stamp and generation and the journal's tail, if this vault's cache
    /// describes both files as they are (read again once if not). The generation is computed
    /// from the snapshot's bytes each time (a few KiB, under the lock: nobody is writing).
    /// `None`: write the snapshot.
    fn journal_base(&self) -> Option<(FileStamp, Generation, Tail)> {
        for first in [true, false] {
            let snapshot = self.path(SNAPSHOT);
            let stamp = FileStamp::of(&snapshot)?;
            let generation = Generation::of_snapshot(&std::fs::read(&snapshot).ok()?);
            let journal_stamp = FileStamp::of(&self.path(JOURNAL));
            if let Some(c) = &self.state().cache {
                if c.stamp == stamp && c.journal == journal_stamp && c.generation == generation {
                    return Some((stamp, generation, c.tail));
                }
            }
            // An unreadable snapshot is kept aside by the snapshot write that follows.
            if !first || !matches!(self.load_session(), Ok(Some(_))) {
                return None;
            }
        }
        None
    }

    /// Folds the journal into a new snapshot when it holds more than one record (the caller
    /// holds the lock; see `journal.rs`), and dates the metadata.
    pub(super) fn fold_journal(&self) -> Result<(), VaultError> {
        let path = self.path(JOURNAL);
        if self.state().staged.is_some() {
            return Ok(());
        }
        let Some(session) = self.load_session()? else {
            return Ok(());
        };
        let records = self.state().cache.as_ref().map_or(0, |c| c.tail.records);
        if records == 0 && journal::has_content(&path) {
            // Only records the snapshot refuses (an interrupted fold's): nothing to fold.
            journal::reset(&path, None).map_err(|e| VaultError::io("emptied", &path, e))?;
        } else if records > 1 {
            let key = self.key()?;
            let (generation, tail, stamps) = self.rebase(&key, &session, true)?;
            if let (Some(c), Some((stamp, journal))) = (&mut self.state().cache, stamps) {
                // The same session: the cache stays, re-stamped.
                c.stamp = stamp;
                c.journal = journal;
                c.generation = generation;
                c.tail = tail;
            }
        }
        self.write_metadata(&session, Freshness::Minute)
    }

    /// [`Vault::fold_journal`] when the vault is unlocked with a session read and nobody holds
    /// the lock at this instant: never waits (it runs on lock and drop, perhaps while this
    /// process holds the lock elsewhere); the journal is folded another time.
    pub(super) fn fold_if_free(&self) {
        let worth = {
            let s = self.state();
            s.key.is_some() && s.staged.is_none() && s.cache.is_some()
        };
        if !worth {
            return;
        }
        let Ok(_lock) = FileLock::acquire_timeout(&self.path(LOCK_FILE), Duration::ZERO) else {
            tracing::debug!("the vault's lock is held; the journal is folded another time");
            return;
        };
        if let Err(e) = self.fold_journal() {
            tracing::warn!(error = %e, "could not fold the journal into the snapshot; it is replayed on open");
        }
    }

    fn write_metadata(
        &self,
        session: &StoredSession,
        freshness: Freshness,
    ) -> Result<(), VaultError> {
        let meta = VaultMetadata {
            issuer: session.issuer.clone(),
            client_id: session.client_id.clone(),
            subject: session.subject.clone(),
            display_name: session.display_name.clone(),
            unlock_method: self.protector.method(),
            last_used_at: files::unix_now(),
        };
        // Metadata changes rarely; `last_used_at` is kept to the minute by snapshot writes, and
        // not at all by journal appends (the next fold brings it up to date): a rotation then
        // costs one write.
        let current = self.metadata().ok().flatten();
        let fresh_enough = current.as_ref().is_some_and(|c| {
            VaultMetadata {
                last_used_at: meta.last_used_at,
                ..c.clone()
            } == meta
                && (freshness == Freshness::IgnoreLastUsed
                    || meta.last_used_at.saturating_sub(c.last_used_at) < 60)
        });
        if fresh_enough {
            Ok(())
        } else {
            write_json(&self.path(META_FILE), &meta)
        }
    }
}
