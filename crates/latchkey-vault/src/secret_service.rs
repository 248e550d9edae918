//! The Secret Service (gnome-keyring, KWallet, KeePassXC) as [`KeyStorage`]: the vault key as an
//! item in the user's default collection (the login keyring), transferred over an encrypted
//! (Diffie-Hellman) session.
//!
//! The keyring is encrypted at rest with the login password and open while the user is logged
//! in: any process of that user can read the item. It is not a key only a finger releases.

use std::collections::HashMap;

use secret_service::blocking::SecretService;
use secret_service::EncryptionType;
use zeroize::Zeroizing;

use super::key::ProtectorError;
use super::platform::KeyStorage;

const APPLICATION: &str = "latchkey";
const LABEL: &str = "Latchkey vault key";

/// The Secret Service on the session bus.
#[derive(Debug, Clone, Default)]
pub struct SecretServiceStorage {
    /// `None`: the user's session bus (`DBUS_SESSION_BUS_ADDRESS`).
    address: Option<String>,
}

impl SecretServiceStorage {
    /// On the user's session bus.
    pub fn session() -> Self {
        Self { address: None }
    }

    /// On the bus at `address` (tests run a private session bus).
    pub fn on_bus(address: &str) -> Self {
        Self {
            address: Some(address.to_owned()),
        }
    }

    fn with_service<T>(
        &self,
        f: impl FnOnce(&SecretService<'_>) -> Result<T, secret_service::Error>,
    ) -> Result<T, ProtectorError> {
        let conn = match &self.address {
            None => zbus::blocking::Connection::session(),
            Some(a) => {
                zbus::blocking::connection::Builder::address(a.as_str()).and_then(|b| b.build())
            }
        }
        .map_err(|e| ProtectorError::Unavailable(format!("Secret Service bus: {e}")))?;
        let service = SecretService::connect_with_existing(EncryptionType::Dh, conn)
            .map_err(storage_error)?;
        f(&service).map_err(storage_error)
    }
}

fn attributes(id: &str) -> HashMap<&str, &str> {
    HashMap::from([("application", APPLICATION), ("latchkey-item", id)])
}

fn storage_error(e: secret_service::Error) -> ProtectorError {
    match e {
        secret_service::Error::NoResult => ProtectorError::KeyInvalidated,
        secret_service::Error::Prompt => ProtectorError::Cancelled,
        other => ProtectorError::Unavailable(format!("Secret Service: {other}")),
    }
}

impl KeyStorage for SecretServiceStorage {
    fn put(&self, id: &str, bytes: &[u8]) -> Result<(), ProtectorError> {
        self.with_service(|ss| {
            let collection = ss.get_default_collection()?;
            collection.ensure_unlocked()?;
            collection.create_item(
                LABEL,
                attributes(id),
                bytes,
                true,
                "application/octet-stream",
            )?;
            Ok(())
        })
    }

    fn get(&self, id: &str) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
        self.with_service(|ss| {
            let found = ss.search_items(attributes(id))?;
            let item = match (found.unlocked.first(), found.locked.first()) {
                (Some(item), _) => item,
                (None, Some(item)) => {
                    item.ensure_unlocked()?;
                    item
                }
                (None, None) => return Err(secret_service::Error::NoResult),
            };
            Ok(Zeroizing::new(item.get_secret()?))
        })
    }

    fn delete(&self, id: &str) -> Result<(), ProtectorError> {
        self.with_service(|ss| {
            let found = ss.search_items(attributes(id))?;
            for item in found.unlocked.iter().chain(found.locked.iter()) {
                item.delete()?;
            }
            Ok(())
        })
    }
}
