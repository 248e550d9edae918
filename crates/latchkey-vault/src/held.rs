//! Key bytes held only in the memory of this process ([`KeyStorage`]): the default home of the
//! Linux fingerprint wrap (see `fingerprint.rs`).
//!
//! Linux binds no key to a finger, and the login keyring has no per-application access control,
//! so a key stored there is readable by every program the user runs. Held here instead, the key
//! lives as long as the app's process and no longer: after a restart the PIN opens the vault once
//! and biometric unlock is set up again from it (the shape of KeePassXC's quick unlock and
//! Bitwarden desktop's "require password on app start"). Creating the holder makes the process
//! non-dumpable (`PR_SET_DUMPABLE` 0): other processes of the same user can no longer attach with
//! ptrace or read `/proc/<pid>/mem`, and no core dump carries the key. Root still can.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use zeroize::Zeroizing;

use super::key::ProtectorError;
use super::platform::KeyStorage;

type Items = HashMap<String, Zeroizing<Vec<u8>>>;

/// Key bytes in this process's memory (zeroized when deleted or dropped). Clones share the items.
#[derive(Clone, Default)]
pub struct HeldInMemory {
    items: Arc<Mutex<Items>>,
}

impl std::fmt::Debug for HeldInMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeldInMemory([redacted])")
    }
}

impl HeldInMemory {
    /// An empty holder, after making this process non-dumpable.
    ///
    /// # Errors
    /// [`ProtectorError::Unavailable`] when the process can't be made non-dumpable (then the key
    /// is not held at all).
    pub fn new() -> Result<Self, ProtectorError> {
        non_dumpable()?;
        Ok(Self::default())
    }

    fn items(&self) -> Result<std::sync::MutexGuard<'_, Items>, ProtectorError> {
        self.items
            .lock()
            .map_err(|_| ProtectorError::Unavailable("the in-memory key holder is poisoned".into()))
    }
}

#[cfg(target_os = "linux")]
fn non_dumpable() -> Result<(), ProtectorError> {
    use rustix::process::{set_dumpable_behavior, DumpableBehavior};
    set_dumpable_behavior(DumpableBehavior::NotDumpable).map_err(|e| {
        ProtectorError::Unavailable(format!("could not make the process non-dumpable: {e}"))
    })
}

#[cfg(not(target_os = "linux"))]
fn non_dumpable() -> Result<(), ProtectorError> {
    Ok(())
}

/// Whether this process is non-dumpable (what [`HeldInMemory::new`] sets).
#[cfg(target_os = "linux")]
pub fn process_is_non_dumpable() -> bool {
    matches!(
        rustix::process::dumpable_behavior(),
        Ok(rustix::process::DumpableBehavior::NotDumpable)
    )
}

impl KeyStorage for HeldInMemory {
    fn put(&self, id: &str, bytes: &[u8]) -> Result<(), ProtectorError> {
        self.items()?
            .insert(id.to_owned(), Zeroizing::new(bytes.to_vec()));
        Ok(())
    }

    fn get(&self, id: &str) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
        self.items()?
            .get(id)
            .map(|b| Zeroizing::new(b.to_vec()))
            .ok_or(ProtectorError::KeyInvalidated)
    }

    fn delete(&self, id: &str) -> Result<(), ProtectorError> {
        self.items()?.remove(id);
        Ok(())
    }

    fn holds(&self, id: &str) -> bool {
        self.items().is_ok_and(|items| items.contains_key(id))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_held_key_is_gone_for_a_new_holder_as_after_a_restart() {
        let held = HeldInMemory::new().unwrap();
        held.put("a", &[7; 32]).unwrap();
        assert!(held.holds("a"));
        assert_eq!(held.clone().get("a").unwrap().as_slice(), &[7; 32]);
        let after_restart = HeldInMemory::new().unwrap();
        assert!(!after_restart.holds("a"));
        assert!(matches!(
            after_restart.get("a"),
            Err(ProtectorError::KeyInvalidated)
        ));
        held.delete("a").unwrap();
        assert!(!held.holds("a"));
        #[cfg(target_os = "linux")]
        assert!(process_is_non_dumpable());
    }
}
