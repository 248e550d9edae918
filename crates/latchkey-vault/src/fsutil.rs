//! File primitives the vault's crash safety rests on: private directories and files, atomic
//! replace (temp file + fsync + rename + directory fsync), and an exclusive cross-process lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Creates `dir` (and parents) and restricts it to the owner (0700 on Unix).
pub(crate) fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Restricts a file to the owner (0600 on Unix).
pub(crate) fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Makes a completed rename in `dir` durable.
pub(crate) fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Replaces `path` with `bytes` so that a crash at any instant leaves either the old or the new
/// content: write a private temp file beside it, fsync, rename over, fsync the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let tmp = temp_sibling(path);
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn temp_sibling(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(format!(".tmp-{:016x}", rand::random::<u64>()));
    PathBuf::from(name)
}

/// Removes a file; a missing file is fine.
pub(crate) fn remove_if_exists(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Why [`FileLock::acquire_timeout`] returned without the lock.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Someone else held the lock for the whole wait.
    #[error("the lock is held elsewhere (waited {} ms)", waited.as_millis())]
    Busy {
        /// How long we waited.
        waited: Duration,
    },
    /// The lock file could not be opened or locked.
    #[error("the lock file could not be opened or locked")]
    Io(#[source] std::io::Error),
}

/// An exclusive advisory lock on a file (`flock` on Unix), held until dropped. Two handles on the
/// same file exclude each other even within one process.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

/// The longest pause between two attempts while waiting for a lock.
const MAX_BACKOFF: Duration = Duration::from_millis(50);

impl FileLock {
    /// Takes the lock on `path` (created if needed, 0600), waiting at most `timeout`: tries at
    /// once, then polls with a backoff from 1 ms to 50 ms. A zero timeout tries once. Never blocks
    /// in the kernel, so a holder that is suspended (Ctrl-Z) or hung costs waiters `timeout`, not
    /// forever.
    pub fn acquire_timeout(path: &Path, timeout: Duration) -> Result<Self, LockError> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path).map_err(LockError::Io)?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { file }),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(LockError::Io(e)),
            }
            let waited = started.elapsed();
            let Some(left) = timeout.checked_sub(waited).filter(|l| !l.is_zero()) else {
                return Err(LockError::Busy { waited });
            };
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(MAX_BACKOFF);
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_replaces_the_whole_file_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new content").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new content");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn files_and_directories_are_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("v");
        ensure_private_dir(&vault).unwrap();
        let file = vault.join("f");
        write_atomic(&file, b"x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&vault), 0o700);
        assert_eq!(mode(&file), 0o600);
    }

    #[test]
    fn the_file_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let held = FileLock::acquire_timeout(&path, Duration::ZERO).unwrap();
        let other = File::options().read(true).write(true).open(&path).unwrap();
        assert!(other.try_lock().is_err(), "a second holder must wait");
        drop(held);
        assert!(other.try_lock().is_ok());
    }

    #[test]
    fn a_bounded_wait_for_a_held_lock_gives_up_busy_and_succeeds_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let held = FileLock::acquire_timeout(&path, Duration::ZERO).unwrap();
        for timeout in [Duration::ZERO, Duration::from_millis(5)] {
            assert!(matches!(
                FileLock::acquire_timeout(&path, timeout),
                Err(LockError::Busy { .. })
            ));
        }
        drop(held);
        FileLock::acquire_timeout(&path, Duration::ZERO).unwrap();
    }
}
