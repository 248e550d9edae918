//! One app instance per data directory.
//!
//! Two windows on one vault would each hold a session for the same stored refresh token, each
//! with its own idle lock, and race each other's sign-in and sign-out; the engine keeps the vault
//! consistent across processes (every write under its lock), but two windows of one user's
//! session is never what anyone wants. The second instance exits with a message instead. The CLI
//! doesn't take this lock: a script next to the app shares the vault, as it should.

use std::fs::File;
use std::path::{Path, PathBuf};

/// Held for the life of the app: the instance lock on `<data dir>/app.lock`.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

/// Another instance holds the data directory.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// Another app instance is running on this data directory.
    #[error("Latchkey is already running (data directory {0}); use its window")]
    AlreadyRunning(PathBuf),
    /// The lock file could not be opened.
    #[error("could not open {path}")]
    Open {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl InstanceLock {
    /// Claims `dir` for this process, or says which directory another instance holds.
    pub fn claim(dir: &Path) -> Result<Self, InstanceError> {
        let path = dir.join("app.lock");
        let open = || -> std::io::Result<File> {
            std::fs::create_dir_all(dir)?;
            File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
        };
        let file = open().map_err(|source| InstanceError::Open {
            path: path.clone(),
            source,
        })?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(InstanceError::AlreadyRunning(dir.to_owned()))
            }
            Err(std::fs::TryLockError::Error(source)) => Err(InstanceError::Open { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_second_instance_on_the_same_data_directory_is_refused_until_the_first_exits() {
        let dir = tempfile::tempdir().unwrap();
        let first = InstanceLock::claim(dir.path()).unwrap();
        assert!(matches!(
            InstanceLock::claim(dir.path()),
            Err(InstanceError::AlreadyRunning(_))
        ));
        let other = tempfile::tempdir().unwrap();
        assert!(
            InstanceLock::claim(other.path()).is_ok(),
            "another directory is another app"
        );
        drop(first);
        assert!(InstanceLock::claim(dir.path()).is_ok());
    }
}
