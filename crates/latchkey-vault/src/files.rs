//! The vault directory's layout: which file is which, which are leftovers, and erasing them all.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{fsutil, VaultError};

pub(super) const SNAPSHOT: &str = "vault.stronghold";
/// The wrapped vault key: its presence means a session is stored.
pub const KEY_FILE: &str = "vault.key.json";
pub(super) const META_FILE: &str = "vault.meta.json";
pub(super) const LOCK_FILE: &str = "vault.lock";
/// Rotations appended since the snapshot was written (`journal.rs`).
pub(super) const JOURNAL: &str = "vault.journal";

/// The prefix of a snapshot kept aside after it failed to decrypt.
const KEPT_ASIDE_PREFIX: &str = "vault.stronghold.unreadable-";

/// What a file in the vault directory is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// The snapshot, key file, metadata or journal.
    Live,
    /// A snapshot kept aside for inspection.
    KeptAside,
    /// A write in flight, or the leftover of one that crashed: ours (`*.tmp-<16 hex>`) or
    /// Stronghold's (`vault.stronghold.<12 hex>`).
    Temp,
    /// The lock file: never removed (a process waiting on it would lock a deleted inode while a
    /// newcomer locks a new file, and both would think they hold the lock).
    Lock,
    /// Not the vault's.
    Other,
}

pub(super) fn kind_of(name: &str) -> Kind {
    if [SNAPSHOT, KEY_FILE, META_FILE, JOURNAL].contains(&name) {
        return Kind::Live;
    }
    if name == LOCK_FILE {
        return Kind::Lock;
    }
    if name.starts_with(KEPT_ASIDE_PREFIX) {
        return Kind::KeptAside;
    }
    let stronghold_temp = name
        .strip_prefix("vault.stronghold.")
        .is_some_and(|s| s.len() == 12 && s.bytes().all(|b| b.is_ascii_hexdigit()));
    let our_temp = name.starts_with("vault.") && name.contains(".tmp-");
    if stronghold_temp || our_temp {
        Kind::Temp
    } else {
        Kind::Other
    }
}

/// A fresh name for a snapshot kept aside (time and randomness: two in one second don't collide).
pub(super) fn kept_aside_name() -> String {
    format!(
        "{KEPT_ASIDE_PREFIX}{}-{:08x}",
        unix_now(),
        rand::random::<u32>()
    )
}

/// Removes temp files older than `age` (younger ones may belong to a write in flight).
pub(super) fn remove_stale_temps(dir: &Path, age: Duration) {
    for (path, kind) in listing(dir) {
        let stale = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|a| a >= age);
        if kind == Kind::Temp && stale {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Removes every vault file but the lock file: the key file first (so that a crash part-way
/// leaves a directory that reads as "no vault"), then the rest, kept-aside snapshots and temp
/// files included. Call it holding the vault's lock: no other writer is then mid-write.
pub(super) fn erase_all(dir: &Path) -> Result<(), VaultError> {
    let key = dir.join(KEY_FILE);
    fsutil::remove_if_exists(&key).map_err(|e| VaultError::io("removed", &key, e))?;
    for (path, kind) in listing(dir) {
        if matches!(kind, Kind::Live | Kind::KeptAside | Kind::Temp) {
            fsutil::remove_if_exists(&path).map_err(|e| VaultError::io("removed", &path, e))?;
        }
    }
    fsutil::fsync_dir(dir).map_err(|e| VaultError::io("synced", dir, e))
}

fn listing(dir: &Path) -> Vec<(PathBuf, Kind)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| {
            let kind = kind_of(&e.file_name().to_string_lossy());
            (e.path(), kind)
        })
        .collect()
}

pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_classified() {
        assert_eq!(kind_of("vault.stronghold"), Kind::Live);
        assert_eq!(kind_of("vault.journal"), Kind::Live);
        assert_eq!(kind_of("vault.lock"), Kind::Lock);
        assert_eq!(kind_of(&kept_aside_name()), Kind::KeptAside);
        assert_eq!(
            kind_of("vault.stronghold.unreadable-1700000000"),
            Kind::KeptAside
        );
        assert_eq!(kind_of("vault.key.json.tmp-0123456789abcdef"), Kind::Temp);
        assert_eq!(kind_of("vault.stronghold.a1b2c3d4e5f6"), Kind::Temp);
        assert_eq!(kind_of("notes.txt"), Kind::Other);
        assert_ne!(kept_aside_name(), kept_aside_name());
    }
}
