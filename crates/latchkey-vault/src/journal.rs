//! The rotation journal (`vault.journal`): a rotated refresh token made durable by appending one
//! small sealed record, instead of rewriting the whole Stronghold snapshot.
//!
//! A rotation is the hot path of a silent resume: the new refresh token must be on disk before it
//! is used or reported. Rewriting the snapshot costs a temp file, an fsync, a rename and a
//! directory fsync; an append costs one write and one `fdatasync`. The snapshot stays the base;
//! the journal holds whole sessions written after it, newest last.
//!
//! # A record
//! `LKJ1` | generation (16 bytes) | sequence number (u64 LE) | length (u32 LE) | nonce (24 bytes)
//! | ciphertext (`length` bytes: the session's JSON sealed with XChaCha20-Poly1305, tag included).
//! The header before the nonce is the associated data. The key is derived from the vault key with
//! HKDF-SHA256 under this module's own salt and label ([`record_key`]), so no new secret is kept
//! at rest and the snapshot's key is never used for anything else.
//!
//! The generation is a digest of the snapshot file's bytes: a record applies only to the exact
//! snapshot it was appended after. On open, the records of the snapshot's generation that
//! authenticate are taken in order of their sequence numbers, and the last one wins; then the
//! snapshot itself need not be decrypted (the record's tag proves the key, its generation that the
//! snapshot is the one it followed). A record of another generation (left by a fold that crashed
//! before it reset the journal, or by an earlier vault) is skipped; one that does not authenticate
//! (another key, or damage) is skipped and logged, without its content; a torn tail (a write cut
//! short by a crash: a header or body that runs past the end of the file) ends the scan. The next
//! append overwrites everything after the last record taken. With no record taken, the snapshot
//! is decrypted as before.
//!
//! # Folding
//! A fold writes the newest session as a new snapshot (atomic: fsynced, renamed, directory
//! fsynced), then resets the journal to that session as the first record of the new generation, so
//! that the next open still needs no decryption of the snapshot. A crash between the two leaves
//! records of the old generation, which the new snapshot no longer accepts: they replay as nothing,
//! and the snapshot is read. The vault folds when it is locked or dropped, if the journal holds
//! more than one record and no other holder has the cross-process lock at that instant; and on the
//! hot path, instead of appending record [`FOLD_AFTER`] + 1 (then the journal is emptied, not
//! reset: one write less; the next rotation appends). A new sign-in's snapshot is written the same
//! way and seeds the journal with its session, so the first open after it (the next day's resume)
//! needs no decrypt either.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroizing;

use super::key_file::classify;
use super::{fsutil, VaultError, VaultKey};
use latchkey_core::store::StoredSession;

/// Records appended before the next save folds them into the snapshot instead.
pub(crate) const FOLD_AFTER: u32 = 32;

const MAGIC: &[u8; 4] = b"LKJ1";
const HEADER: usize = 4 + 16 + 8 + 4;
const NONCE: usize = 24;
/// A stored session is a few KiB; a length above this is damage, not a record.
const MAX_RECORD: u32 = 1 << 20;

const KDF_SALT: &[u8] = b"latchkey-vault-journal";
const KDF_INFO: &[u8] = b"record key v1";

/// Which snapshot a journal record belongs to: the first 128 bits of the SHA-256 of the snapshot
/// file's bytes. Every snapshot write makes new bytes (a fresh encryption), so a new generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Generation(pub(crate) [u8; 16]);

impl Generation {
    /// The generation of the snapshot whose file holds `bytes`.
    pub(crate) fn of_snapshot(bytes: &[u8]) -> Self {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(bytes);
        let mut g = [0u8; 16];
        g.copy_from_slice(&digest[..16]);
        Self(g)
    }

    /// A generation no snapshot has (tests: a record of "another" snapshot).
    #[cfg(test)]
    pub(crate) fn new() -> Self {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }
}

/// Where the journal ends for its current generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tail {
    /// The sequence number of the last record taken (0: none).
    pub(crate) last_seq: u64,
    /// The byte offset just past it: where the next record goes.
    pub(crate) end: u64,
    /// How many records were taken.
    pub(crate) records: u32,
}

/// Why a record was skipped (logged; never its content).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordRefused {
    /// Appended after another snapshot: an interrupted fold's leftover, or an earlier vault's.
    #[error("it belongs to another snapshot generation")]
    OtherGeneration,
    /// Sealed with another key, or damaged.
    #[error("it does not authenticate with this vault's key")]
    Unauthentic,
    /// Authentic, but not a session (a bug in an earlier writer).
    #[error("its content does not parse ({0})")]
    Unparsable(&'static str),
    /// Not newer than a record already taken.
    #[error("its sequence number does not follow the previous record's")]
    OutOfOrder,
}

/// What replaying the journal gave: the newest session in it, if any, and where it ends.
pub(crate) struct Replay {
    pub(crate) session: Option<StoredSession>,
    pub(crate) tail: Tail,
    /// Complete records skipped (another generation, another key, damage, out of order).
    pub(crate) refused: u32,
}

fn record_key(key: &VaultKey) -> Result<XChaCha20Poly1305, VaultError> {
    let mut okm = Zeroizing::new([0u8; 32]);
    hkdf::Hkdf::<sha2::Sha256>::new(Some(KDF_SALT), key.expose())
        .expand(KDF_INFO, okm.as_mut())
        .map_err(|_| VaultError::Stronghold("journal key derivation failed".into()))?;
    XChaCha20Poly1305::new_from_slice(okm.as_ref())
        .map_err(|_| VaultError::Stronghold("journal key has the wrong length".into()))
}

fn header(generation: &Generation, seq: u64, len: u32) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..4].copy_from_slice(MAGIC);
    h[4..20].copy_from_slice(&generation.0);
    h[20..28].copy_from_slice(&seq.to_le_bytes());
    h[28..32].copy_from_slice(&len.to_le_bytes());
    h
}

/// Seals `session` as record `seq` of `generation`.
pub(crate) fn seal(
    key: &VaultKey,
    generation: &Generation,
    seq: u64,
    session: &StoredSession,
) -> Result<Vec<u8>, VaultError> {
    let plaintext = Zeroizing::new(
        serde_json::to_vec(session)
            .map_err(|e| VaultError::Stronghold(format!("serialising: {}", classify(&e))))?,
    );
    let mut nonce = [0u8; NONCE];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    // The tag adds 16 bytes; the length is known before sealing.
    let len = u32::try_from(plaintext.len() + 16)
        .ok()
        .filter(|l| *l <= MAX_RECORD)
        .ok_or_else(|| VaultError::Stronghold("the session is too large for a record".into()))?;
    let head = header(generation, seq, len);
    let sealed = record_key(key)?
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plaintext,
                aad: &head,
            },
        )
        .map_err(|_| VaultError::Stronghold("sealing a journal record failed".into()))?;
    let mut record = Vec::with_capacity(HEADER + NONCE + sealed.len());
    record.extend_from_slice(&head);
    record.extend_from_slice(&nonce);
    record.extend_from_slice(&sealed);
    Ok(record)
}

/// Reads the journal at `path` for the snapshot of `generation`: the newest session in it and
/// where the next record goes. A missing journal is an empty one.
pub(crate) fn replay(
    path: &Path,
    key: &VaultKey,
    generation: &Generation,
) -> Result<Replay, VaultError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => Zeroizing::new(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Zeroizing::new(Vec::new()),
        Err(e) => return Err(VaultError::io("read", path, e)),
    };
    let cipher = record_key(key)?;
    let mut tail = Tail::default();
    let mut session = None;
    let mut refused = 0u32;
    let mut at = 0usize;
    while at < bytes.len() {
        let Some(head) = bytes.get(at..at + HEADER) else {
            break;
        };
        let len = u32::from_le_bytes([head[28], head[29], head[30], head[31]]);
        let end = at + HEADER + NONCE + len as usize;
        if &head[..4] != MAGIC || len > MAX_RECORD || end > bytes.len() {
            break;
        }
        let seq = u64::from_le_bytes(head[20..28].try_into().unwrap_or_default());
        let taken = open_record(
            &cipher,
            generation,
            head,
            &bytes[at + HEADER..end],
            seq,
            &tail,
        );
        match taken {
            Ok(s) => {
                session = Some(s);
                tail = Tail {
                    last_seq: seq,
                    end: end as u64,
                    records: tail.records + 1,
                };
            }
            Err(reason) => {
                refused += 1;
                tracing::warn!(seq, "skipped a journal record: {reason}");
            }
        }
        at = end;
    }
    if at < bytes.len() {
        tracing::info!(
            torn_bytes = bytes.len() - at,
            "the journal ends with an incomplete record (a write cut short); ignored"
        );
    }
    Ok(Replay {
        session,
        tail,
        refused,
    })
}

fn open_record(
    cipher: &XChaCha20Poly1305,
    generation: &Generation,
    head: &[u8],
    body: &[u8],
    seq: u64,
    tail: &Tail,
) -> Result<StoredSession, RecordRefused> {
    if head[4..20] != generation.0 {
        return Err(RecordRefused::OtherGeneration);
    }
    if seq <= tail.last_seq {
        return Err(RecordRefused::OutOfOrder);
    }
    let (nonce, sealed) = body.split_at(NONCE);
    let plaintext = Zeroizing::new(
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: head,
                },
            )
            .map_err(|_| RecordRefused::Unauthentic)?,
    );
    serde_json::from_slice(&plaintext).map_err(|e| RecordRefused::Unparsable(classify(&e)))
}

/// Appends `record` at `tail.end` (cutting off anything after it: a torn or stale tail) and makes
/// it durable (`fdatasync`; a new file also gets its directory entry fsynced). Private (0600).
pub(crate) fn append(path: &Path, tail: &Tail, record: &[u8]) -> std::io::Result<()> {
    let created = !path.exists();
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    if file.metadata()?.len() != tail.end {
        file.set_len(tail.end)?;
    }
    file.seek(SeekFrom::Start(tail.end))?;
    file.write_all(record)?;
    if created {
        fsutil::make_private(path)?;
        file.sync_all()?;
        if let Some(dir) = path.parent() {
            fsutil::fsync_dir(dir)?;
        }
    } else {
        file.sync_data()?;
    }
    Ok(())
}

/// Replaces the journal's content with `record` (or nothing) after a snapshot write: its records
/// belong to the old snapshot. In place, then `fdatasync`: a crash part-way leaves old records, an
/// empty journal or a torn one, each of which the new snapshot replays as nothing.
pub(crate) fn reset(path: &Path, record: Option<&[u8]>) -> std::io::Result<()> {
    match record {
        Some(record) => append(path, &Tail::default(), record),
        None => match OpenOptions::new().write(true).open(path) {
            Ok(file) => {
                if file.metadata()?.len() > 0 {
                    file.set_len(0)?;
                    file.sync_data()?;
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        },
    }
}

/// True when the journal at `path` holds anything (a fold has work to do).
pub(crate) fn has_content(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}
