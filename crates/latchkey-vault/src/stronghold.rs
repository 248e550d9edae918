//! The Stronghold seam: the only code that knows Stronghold is here. The stored session is a
//! Stronghold snapshot encrypted with the vault key, written by [`write`] and read by [`read`].
//!
//! Stronghold is deprecated upstream and will not ship with Tauri v3 (plugins-workspace #3494).
//! To replace it (an OS keychain item, an AEAD file), replace these two functions: the key and
//! its protectors (PIN with the attempt limit, biometrics), the metadata behind "Welcome back",
//! the cross-process lock and every consistency check stay as they are. Replacing the
//! [`latchkey_core::SecretStore`] instead would lose all of those.
//!
//! # The work factor, and why it is 0
//! Stronghold encrypts snapshots with age's scrypt recipient and a process-wide work factor whose
//! default (~2^19) makes each load and save cost ~1.7 s and ~512 MiB here (~80 s in a debug
//! build). That stretching exists for keys derived from passwords. Our snapshot key is never a
//! password: it is 256 bits from the OS CSPRNG ([`super::VaultKey::generate`]), and stretching a
//! key with 256 bits of entropy adds no security (brute force is already 2^256). The one
//! low-entropy secret, the PIN, is stretched where it is used: Argon2id in
//! [`super::PinProtector`]. So we set the work factor to 0, which makes a save ~2 ms and keeps a
//! silent resume near one token round trip. The setting is process-wide; this crate sets it once,
//! before its first snapshot operation.

use std::path::Path;
use std::sync::Once;

use iota_stronghold::{KeyProvider, SnapshotPath, Stronghold};
use zeroize::Zeroizing;

use super::{fsutil, VaultError, VaultKey};

const CLIENT_PATH: &[u8] = b"latchkey";
const RECORD: &[u8] = b"session";

fn init_work_factor() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Err(e) = iota_stronghold::engine::snapshot::try_set_encrypt_work_factor(0) {
            tracing::error!(error = %e, "could not set the Stronghold work factor");
        }
    });
}

fn key_provider(key: &VaultKey) -> Result<KeyProvider, VaultError> {
    KeyProvider::try_from(Zeroizing::new(key.expose().to_vec()))
        .map_err(|e| VaultError::Stronghold(format!("key: {e:?}")))
}

/// Writes `plaintext` as the one record of a new snapshot at `path` (atomically: Stronghold writes
/// a temp file, fsyncs and renames; we then fsync the directory and make the file private).
pub(crate) fn write(path: &Path, key: &VaultKey, plaintext: &[u8]) -> Result<(), VaultError> {
    init_work_factor();
    let stronghold = Stronghold::default();
    let client = stronghold
        .create_client(CLIENT_PATH)
        .map_err(|e| VaultError::Stronghold(e.to_string()))?;
    client
        .store()
        .insert(RECORD.to_vec(), plaintext.to_vec(), None)
        .map_err(|e| VaultError::Stronghold(e.to_string()))?;
    stronghold
        .commit_with_keyprovider(&SnapshotPath::from_path(path), &key_provider(key)?)
        .map_err(|e| VaultError::Stronghold(e.to_string()))?;
    fsutil::make_private(path).map_err(|e| VaultError::io("secured", path, e))?;
    if let Some(dir) = path.parent() {
        fsutil::fsync_dir(dir).map_err(|e| VaultError::io("synced", dir, e))?;
    }
    Ok(())
}

/// Reads the record. A wrong key and a corrupt file both give [`VaultError::Unreadable`]; the file
/// is left in place.
pub(crate) fn read(path: &Path, key: &VaultKey) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    init_work_factor();
    let stronghold = Stronghold::default();
    let client = stronghold
        .load_client_from_snapshot(
            CLIENT_PATH,
            &key_provider(key)?,
            &SnapshotPath::from_path(path),
        )
        .map_err(|e| VaultError::Unreadable {
            path: path.display().to_string(),
            reason: format!("wrong key or corrupt snapshot ({e})"),
        })?;
    let record = client
        .store()
        .get(RECORD)
        .map_err(|e| VaultError::Stronghold(e.to_string()))?
        .ok_or_else(|| VaultError::Unreadable {
            path: path.display().to_string(),
            reason: "the snapshot holds no session".into(),
        })?;
    Ok(Zeroizing::new(record))
}
