//! A fingerprint gate in front of a stored key: the shape of Linux biometric unlock (fprintd in
//! front of the Secret Service), host-testable with fakes.
//!
//! Honest limit: the gate is a check in this process, not a key only the reader can release.
//! The key sits in the user's keyring (the Secret Service: encrypted at rest with the login
//! password, open while the user is logged in), so any process of the same user can read it
//! without touching the reader. What the gate adds is that *this app* asks for the finger, and
//! that an enrolment change (fingers added or removed) retires the wrap: the wrap records the
//! enrolled fingers and is refused when they differ (`KeyInvalidated`, the PIN wraps again).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::key::{Credential, KeyProtector, ProtectorError, UnlockMethod, VaultKey};
use super::platform::KeyStorage;

/// A fingerprint reader service (fprintd).
pub trait FingerGate: Send + Sync {
    /// The enrolled fingers of the current user (names such as `right-index-finger`).
    fn enrolled(&self) -> Result<Vec<String>, ProtectorError>;
    /// Waits for a finger: Ok on a match, [`ProtectorError::WrongCredential`] on no match,
    /// [`ProtectorError::Cancelled`] after [`FingerGate::cancel`].
    fn verify(&self, reason: &str) -> Result<(), ProtectorError>;
    /// Ends a `verify` in progress.
    fn cancel(&self) {}
}

/// The wrapped form: which stored item, and the enrolment it was made under.
#[derive(Serialize, Deserialize)]
struct Wrapped {
    item: String,
    /// SHA-256 of the sorted enrolled finger names, base64.
    enrolment: String,
}

/// The vault key in platform storage, released after a fingerprint match.
pub struct FingerprintProtector<G, S> {
    gate: G,
    storage: S,
}

impl<G: FingerGate, S: KeyStorage> FingerprintProtector<G, S> {
    /// Over the reader service and the storage.
    pub fn new(gate: G, storage: S) -> Self {
        Self { gate, storage }
    }

    fn enrolment(&self) -> Result<String, ProtectorError> {
        use sha2::Digest as _;
        let mut fingers = self.gate.enrolled()?;
        fingers.sort();
        fingers.dedup();
        let digest = sha2::Sha256::digest(fingers.join("\n").as_bytes());
        Ok(B64.encode(digest))
    }
}

fn malformed(e: impl std::fmt::Display) -> ProtectorError {
    ProtectorError::Malformed(e.to_string())
}

impl<G: FingerGate, S: KeyStorage> KeyProtector for FingerprintProtector<G, S> {
    fn method(&self) -> UnlockMethod {
        UnlockMethod::BiometricGate
    }

    fn accepts(&self, credential: &Credential) -> Result<(), ProtectorError> {
        match credential {
            Credential::Prompt(_) => Ok(()),
            Credential::Pin(_) => Err(ProtectorError::UnsuitableCredential(
                "a fingerprint unlock takes no PIN".into(),
            )),
        }
    }

    /// Stores the key; refuses ([`ProtectorError::Unavailable`]) when no finger is enrolled.
    fn wrap(&self, key: &VaultKey, _: &Credential) -> Result<serde_json::Value, ProtectorError> {
        if self.gate.enrolled()?.is_empty() {
            return Err(ProtectorError::Unavailable(
                "no fingerprint is enrolled".into(),
            ));
        }
        let enrolment = self.enrolment()?;
        let item = format!("latchkey-vault-{:016x}", rand::random::<u64>());
        self.storage.put(&item, key.expose())?;
        serde_json::to_value(Wrapped { item, enrolment }).map_err(malformed)
    }

    /// Checks the enrolment is the one the wrap was made under (else `KeyInvalidated`, before
    /// any prompt), waits for a matching finger, then reads the key.
    fn release(
        &self,
        wrapped: &serde_json::Value,
        credential: &Credential,
    ) -> Result<VaultKey, ProtectorError> {
        let Credential::Prompt(reason) = credential else {
            return Err(ProtectorError::UnsuitableCredential(
                "a fingerprint unlock takes no PIN".into(),
            ));
        };
        let w: Wrapped = serde_json::from_value(wrapped.clone()).map_err(malformed)?;
        if self.gate.enrolled()?.is_empty() || self.enrolment()? != w.enrolment {
            return Err(ProtectorError::KeyInvalidated);
        }
        self.gate.verify(reason)?;
        let bytes = self.storage.get(&w.item)?;
        VaultKey::from_bytes(&bytes).ok_or_else(|| malformed("the stored key has the wrong length"))
    }

    fn cancel_prompt(&self) {
        self.gate.cancel();
    }

    fn forget(&self, wrapped: &serde_json::Value) -> Result<(), ProtectorError> {
        let w: Wrapped = serde_json::from_value(wrapped.clone()).map_err(malformed)?;
        self.storage.delete(&w.item)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Reader {
        fingers: Mutex<Vec<String>>,
        matches: Mutex<bool>,
        verified: Mutex<u32>,
    }
    impl FingerGate for &Reader {
        fn enrolled(&self) -> Result<Vec<String>, ProtectorError> {
            Ok(self.fingers.lock().unwrap().clone())
        }
        fn verify(&self, _: &str) -> Result<(), ProtectorError> {
            *self.verified.lock().unwrap() += 1;
            if *self.matches.lock().unwrap() {
                Ok(())
            } else {
                Err(ProtectorError::WrongCredential)
            }
        }
    }
    #[derive(Default)]
    struct Store(Mutex<HashMap<String, Vec<u8>>>);
    impl KeyStorage for &Store {
        fn put(&self, id: &str, bytes: &[u8]) -> Result<(), ProtectorError> {
            self.0.lock().unwrap().insert(id.into(), bytes.to_vec());
            Ok(())
        }
        fn get(&self, id: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, ProtectorError> {
            let items = self.0.lock().unwrap();
            let bytes = items.get(id).ok_or(ProtectorError::KeyInvalidated)?;
            Ok(zeroize::Zeroizing::new(bytes.clone()))
        }
        fn delete(&self, id: &str) -> Result<(), ProtectorError> {
            self.0.lock().unwrap().remove(id);
            Ok(())
        }
    }

    fn prompt() -> Credential {
        Credential::Prompt("Unlock".into())
    }

    #[test]
    fn a_matching_finger_releases_the_stored_key_and_no_match_does_not() {
        let (reader, store) = (Reader::default(), Store::default());
        *reader.fingers.lock().unwrap() = vec!["right-index-finger".into()];
        *reader.matches.lock().unwrap() = true;
        let p = FingerprintProtector::new(&reader, &store);
        let key = VaultKey::generate();
        let wrapped = p.wrap(&key, &prompt()).unwrap();
        assert!(!wrapped.to_string().contains(&B64.encode(key.expose())));
        assert_eq!(
            p.release(&wrapped, &prompt()).unwrap().expose(),
            key.expose()
        );
        *reader.matches.lock().unwrap() = false;
        assert!(matches!(
            p.release(&wrapped, &prompt()),
            Err(ProtectorError::WrongCredential)
        ));
    }

    #[test]
    fn an_added_or_removed_finger_retires_the_wrap_without_prompting() {
        let (reader, store) = (Reader::default(), Store::default());
        *reader.fingers.lock().unwrap() = vec!["right-index-finger".into()];
        *reader.matches.lock().unwrap() = true;
        let p = FingerprintProtector::new(&reader, &store);
        let wrapped = p.wrap(&VaultKey::generate(), &prompt()).unwrap();
        reader.fingers.lock().unwrap().push("left-thumb".into());
        assert!(matches!(
            p.release(&wrapped, &prompt()),
            Err(ProtectorError::KeyInvalidated)
        ));
        reader.fingers.lock().unwrap().clear();
        assert!(matches!(
            p.release(&wrapped, &prompt()),
            Err(ProtectorError::KeyInvalidated)
        ));
        assert_eq!(*reader.verified.lock().unwrap(), 0, "no prompt was shown");
        assert!(matches!(
            p.wrap(&VaultKey::generate(), &prompt()),
            Err(ProtectorError::Unavailable(_))
        ));
    }

    #[test]
    fn a_deleted_item_is_key_invalidated_and_forget_deletes_it() {
        let (reader, store) = (Reader::default(), Store::default());
        *reader.fingers.lock().unwrap() = vec!["right-index-finger".into()];
        *reader.matches.lock().unwrap() = true;
        let p = FingerprintProtector::new(&reader, &store);
        let wrapped = p.wrap(&VaultKey::generate(), &prompt()).unwrap();
        p.forget(&wrapped).unwrap();
        assert!(store.0.lock().unwrap().is_empty());
        assert!(matches!(
            p.release(&wrapped, &prompt()),
            Err(ProtectorError::KeyInvalidated)
        ));
    }
}
