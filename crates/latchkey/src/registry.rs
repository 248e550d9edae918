//! The account registry: `<base>/accounts.json`, the accounts' names and each one's provider
//! settings (issuer, client, scopes, parameters, API). Never a secret: tokens and keys stay in
//! each account's own vault. Read-modify-write under `<base>/accounts.lock`, replaced atomically
//! (temp file, fsync, rename, directory fsync), so two processes adding accounts at once both
//! land and a crash leaves the old or the new list.
//!
//! Which accounts exist is read from disk, not only from the file: today's single-account data
//! directory (a vault in `<base>/vault`, no registry) is the `default` account, and an account
//! whose vault holds a session is listed even if a crash came between its sign-in and its entry.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::accounts::{vault_dir, AccountError, AccountName, ACCOUNTS_DIR};
use crate::config::PartialConfig;
use crate::vault::{FileLock, Vault, KEY_FILE};

/// The registry file's name in the base directory.
pub const REGISTRY_FILE: &str = "accounts.json";
const REGISTRY_LOCK: &str = "accounts.lock";
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    #[serde(default)]
    accounts: BTreeMap<AccountName, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    provider: PartialConfig,
}

/// An account found in a base directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownAccount {
    /// Its name.
    pub name: AccountName,
    /// Its provider settings: the registry's, or for an account that has none there (today's
    /// single-account directory), the issuer and client its stored session names.
    pub provider: PartialConfig,
    /// Whether its vault holds a session (signed in or locked).
    pub stored: bool,
    /// Who is signed in (the ID token's `sub`), from the vault's non-secret metadata.
    pub subject: Option<String>,
    /// Their display name, from the same metadata.
    pub display_name: Option<String>,
}

/// The accounts of one base directory.
#[derive(Debug, Clone)]
pub struct Registry {
    base: PathBuf,
}

impl Registry {
    /// The registry of `base` (nothing is read or created yet).
    pub fn new(base: &Path) -> Self {
        Self {
            base: base.to_owned(),
        }
    }

    /// The base directory.
    pub fn base(&self) -> &Path {
        &self.base
    }

    fn path(&self) -> PathBuf {
        self.base.join(REGISTRY_FILE)
    }

    fn read(&self) -> Result<File, AccountError> {
        let path = self.path();
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| AccountError::RegistryCorrupt {
                    path,
                    reason: e.to_string(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File {
                version: 1,
                ..File::default()
            }),
            Err(source) => Err(AccountError::Registry {
                action: "read",
                path,
                source,
            }),
        }
    }

    /// Runs `change` on the file under the registry's lock and writes the result.
    fn update(&self, change: impl FnOnce(&mut File)) -> Result<(), AccountError> {
        let io = |action, path: &Path| {
            let path = path.to_owned();
            move |source| AccountError::Registry {
                action,
                path,
                source,
            }
        };
        create_private_dir(&self.base).map_err(io("created", &self.base))?;
        let lock_path = self.base.join(REGISTRY_LOCK);
        let _lock = FileLock::acquire_timeout(&lock_path, LOCK_TIMEOUT).map_err(|e| {
            AccountError::Registry {
                action: "locked",
                path: lock_path.clone(),
                source: match e {
                    crate::vault::LockError::Io(e) => e,
                    busy => std::io::Error::new(std::io::ErrorKind::WouldBlock, busy.to_string()),
                },
            }
        })?;
        let mut file = self.read()?;
        file.version = 1;
        change(&mut file);
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| AccountError::Registry {
            action: "written",
            path: self.path(),
            source: std::io::Error::other(e),
        })?;
        write_atomic(&self.path(), &bytes).map_err(io("written", &self.path()))
    }

    /// Records `name` with its provider settings (replacing an entry of the same name: the
    /// caller checks that it holds no session, see [`super::AccountSet::add`]).
    pub fn register(
        &self,
        name: &AccountName,
        provider: &PartialConfig,
    ) -> Result<(), AccountError> {
        let entry = Entry {
            provider: provider.clone(),
        };
        self.update(|file| {
            file.accounts.insert(name.clone(), entry);
        })
    }

    /// Forgets `name` (after its sign-out erased its vault).
    pub fn remove(&self, name: &AccountName) -> Result<(), AccountError> {
        self.update(|file| {
            file.accounts.remove(name);
        })
    }

    /// Every account: the registry's entries, the default account when its vault holds a
    /// session (today's layout), and any named account whose vault holds one. The default
    /// first, then by name. Reads only non-secret files.
    pub fn list(&self) -> Result<Vec<KnownAccount>, AccountError> {
        let file = self.read()?;
        let mut names: Vec<AccountName> = file.accounts.keys().cloned().collect();
        names.push(AccountName::default());
        if let Ok(entries) = std::fs::read_dir(self.base.join(ACCOUNTS_DIR)) {
            names.extend(
                entries
                    .flatten()
                    .filter_map(|e| AccountName::new(&e.file_name().to_string_lossy()).ok()),
            );
        }
        names.sort_by_key(|n| (!n.is_default(), n.clone()));
        names.dedup();
        let mut found = Vec::new();
        for name in names {
            let dir = vault_dir(&self.base, &name);
            let stored = dir.join(KEY_FILE).exists();
            let entry = file.accounts.get(&name);
            if entry.is_none() && !stored {
                continue;
            }
            let meta = if stored {
                Vault::metadata_in(&dir).ok().flatten()
            } else {
                None
            };
            let provider = match (entry, &meta) {
                (Some(entry), _) => entry.provider.clone(),
                (None, meta) => PartialConfig {
                    issuer: meta.as_ref().map(|m| m.issuer.clone()),
                    client_id: meta.as_ref().map(|m| m.client_id.clone()),
                    ..PartialConfig::default()
                },
            };
            found.push(KnownAccount {
                name,
                provider,
                stored,
                subject: meta.as_ref().and_then(|m| m.subject.clone()),
                display_name: meta.and_then(|m| m.display_name),
            });
        }
        Ok(found)
    }

    /// The account named `name`, if it exists.
    pub fn find(&self, name: &AccountName) -> Result<Option<KnownAccount>, AccountError> {
        Ok(self.list()?.into_iter().find(|a| &a.name == name))
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(format!(".tmp-{:016x}", rand::random::<u64>()));
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
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
        // The rename is durable once the directory entry is: fsync the directory (Unix; on
        // Windows the rename is MoveFileEx's, which has no directory handle to flush).
        #[cfg(unix)]
        std::fs::File::open(path.parent().unwrap_or_else(|| Path::new(".")))?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(issuer: &str) -> PartialConfig {
        PartialConfig {
            issuer: Some(issuer.into()),
            client_id: Some("app".into()),
            ..PartialConfig::default()
        }
    }

    #[test]
    fn an_empty_base_directory_has_no_accounts() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Registry::new(dir.path()).list().unwrap().is_empty());
        assert!(
            !dir.path().join(REGISTRY_FILE).exists(),
            "listing creates nothing"
        );
    }

    #[test]
    fn registered_accounts_are_listed_default_first_and_removed_one_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::new(dir.path());
        let (work, home) = (
            AccountName::new("work").unwrap(),
            AccountName::new("home").unwrap(),
        );
        registry
            .register(&work, &provider("https://work.example"))
            .unwrap();
        registry
            .register(&home, &provider("https://home.example"))
            .unwrap();
        registry
            .register(&AccountName::default(), &provider("https://d.example"))
            .unwrap();
        let names: Vec<_> = registry
            .list()
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(names, [AccountName::default(), home.clone(), work.clone()]);
        registry.remove(&work).unwrap();
        let left = registry.list().unwrap();
        assert_eq!(left.len(), 2);
        assert_eq!(
            left[1].provider.issuer.as_deref(),
            Some("https://home.example")
        );
        assert!(!left[1].stored);
    }

    #[test]
    fn the_registry_file_holds_only_names_and_provider_settings_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::new(dir.path());
        registry
            .register(
                &AccountName::new("work").unwrap(),
                &provider("https://w.example"),
            )
            .unwrap();
        let text = std::fs::read_to_string(dir.path().join(REGISTRY_FILE)).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value["accounts"]["work"]["provider"]["issuer"],
            "https://w.example"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(REGISTRY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "no access for group or others");
        }
    }

    #[test]
    fn a_registry_naming_a_path_instead_of_an_account_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(REGISTRY_FILE),
            r#"{"version":1,"accounts":{"../../etc":{"provider":{}}}}"#,
        )
        .unwrap();
        let err = Registry::new(dir.path()).list().unwrap_err();
        assert!(
            matches!(err, AccountError::RegistryCorrupt { .. }),
            "{err:?}"
        );
    }
}
