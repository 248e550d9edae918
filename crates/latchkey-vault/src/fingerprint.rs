//! A fingerprint gate in front of a held key: the shape of Linux biometric unlock (fprintd in
//! front of a key this process holds), host-testable with fakes.
//!
//! Honest limit: Linux has no store that only a finger opens. The gate is a check in this
//! process, so what it protects is only as private as where the key waits:
//!
//! - **By default ([`Keep::ThisRun`]) the key is held only in this process's memory**
//!   ([`HeldInMemory`], the process made non-dumpable). No other program of the user can read it;
//!   it is gone when the app exits, and after a restart the PIN opens the vault once, which sets
//!   fingerprint unlock up again without a second prompt.
//! - **Kept across restarts ([`Keep::AcrossRestarts`], an opt-in made with the PIN)** the key is
//!   an item in the user's default Secret Service collection (the login keyring): any program
//!   the user runs can read it, without touching the reader.
//!
//! Turning fingerprint unlock on prompts for a matching finger (the vault has checked the PIN
//! before). An enrolment change (fingers added or removed) retires the wrap: the wrap records the
//! enrolled fingers and is refused when they differ (`KeyInvalidated`, the PIN wraps again).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::held::HeldInMemory;
use super::key::{Credential, Keep, KeyProtector, ProtectorError, UnlockMethod, VaultKey};
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

/// The wrapped form: which item, where it is kept, and the enrolment it was made under.
#[derive(Serialize, Deserialize)]
struct Wrapped {
    item: String,
    /// SHA-256 of the sorted enrolled finger names, base64.
    enrolment: String,
    /// Where the key is. Absent: a wrap from before the choice existed, kept in the keyring
    /// without the user opting in; it is retired (the PIN sets fingerprint unlock up again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kept: Option<Keep>,
}

/// The vault key held in this process (or, opted in, in the keyring), released after a
/// fingerprint match.
pub struct FingerprintProtector<G, S> {
    gate: G,
    /// Where [`Keep::ThisRun`] keys wait; `None` if the process could not be made non-dumpable.
    memory: Option<HeldInMemory>,
    /// Where [`Keep::AcrossRestarts`] keys wait (the Secret Service).
    keyring: S,
}

impl<G: FingerGate, S: KeyStorage> FingerprintProtector<G, S> {
    /// Over the reader service, with `keyring` for keys kept across restarts. Makes this process
    /// non-dumpable (see [`HeldInMemory`]); if that fails, only the keyring opt-in is offered.
    pub fn new(gate: G, keyring: S) -> Self {
        let memory = HeldInMemory::new()
            .inspect_err(|e| tracing::warn!(error = %e, "fingerprint unlock can't hold keys"))
            .ok();
        Self {
            gate,
            memory,
            keyring,
        }
    }

    /// The enrolment's digest; `None` when no finger is enrolled.
    fn enrolment(&self) -> Result<Option<String>, ProtectorError> {
        use sha2::Digest as _;
        let mut fingers = self.gate.enrolled()?;
        if fingers.is_empty() {
            return Ok(None);
        }
        fingers.sort();
        fingers.dedup();
        let digest = sha2::Sha256::digest(fingers.join("\n").as_bytes());
        Ok(Some(B64.encode(digest)))
    }

    /// The enrolment's digest, refusing when no finger is enrolled.
    fn enrolled(&self) -> Result<String, ProtectorError> {
        self.enrolment()?
            .ok_or_else(|| ProtectorError::Unavailable("no fingerprint is enrolled".into()))
    }

    fn storage(&self, kept: Keep) -> Result<&dyn KeyStorage, ProtectorError> {
        match kept {
            Keep::AcrossRestarts => Ok(&self.keyring),
            Keep::ThisRun => self
                .memory
                .as_ref()
                .map(|m| m as &dyn KeyStorage)
                .ok_or_else(|| {
                    ProtectorError::Unavailable("this process can't hold the key".into())
                }),
        }
    }

    /// Stores `key` (the enrolment checked, any prompt done by the caller).
    fn store(&self, key: &VaultKey, kept: Keep) -> Result<serde_json::Value, ProtectorError> {
        let enrolment = self.enrolled()?;
        let item = format!("latchkey-vault-{:016x}", rand::random::<u64>());
        self.storage(kept)?.put(&item, key.expose())?;
        serde_json::to_value(Wrapped {
            item,
            enrolment,
            kept: Some(kept),
        })
        .map_err(malformed)
    }
}

fn malformed(e: impl std::fmt::Display) -> ProtectorError {
    ProtectorError::Malformed(e.to_string())
}

fn parse(wrapped: &serde_json::Value) -> Result<Wrapped, ProtectorError> {
    serde_json::from_value(wrapped.clone()).map_err(malformed)
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

    /// [`KeyProtector::wrap_keeping`] with [`Keep::ThisRun`].
    fn wrap(
        &self,
        key: &VaultKey,
        credential: &Credential,
    ) -> Result<serde_json::Value, ProtectorError> {
        self.wrap_keeping(key, credential, Keep::ThisRun)
    }

    /// Waits for a matching finger, then stores the key where `keep` says; refuses
    /// ([`ProtectorError::Unavailable`]) when no finger is enrolled, before any prompt.
    fn wrap_keeping(
        &self,
        key: &VaultKey,
        credential: &Credential,
        keep: Keep,
    ) -> Result<serde_json::Value, ProtectorError> {
        let Credential::Prompt(reason) = credential else {
            return Err(ProtectorError::UnsuitableCredential(
                "a fingerprint unlock takes no PIN".into(),
            ));
        };
        self.enrolled()?;
        self.gate.verify(reason)?;
        self.store(key, keep)
    }

    /// Stores the key again, kept as `keep` says, without a prompt: the PIN was just proved
    /// (the enrolment is still checked).
    fn rewrap_after_pin(
        &self,
        key: &VaultKey,
        _reason: &str,
        keep: Keep,
    ) -> Result<serde_json::Value, ProtectorError> {
        self.store(key, keep)
    }

    fn holds(&self, wrapped: &serde_json::Value) -> bool {
        match parse(wrapped) {
            Ok(Wrapped {
                item,
                kept: Some(kept),
                ..
            }) => self.storage(kept).is_ok_and(|s| s.holds(&item)),
            _ => false,
        }
    }

    /// Checks the key is still held and the enrolment is the one the wrap was made under (else
    /// `KeyInvalidated`, before any prompt), waits for a matching finger, then reads the key.
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
        let w = parse(wrapped)?;
        let Some(kept) = w.kept else {
            return Err(ProtectorError::KeyInvalidated);
        };
        let storage = self.storage(kept)?;
        if !storage.holds(&w.item) {
            return Err(ProtectorError::KeyInvalidated);
        }
        if self.enrolment()?.as_deref() != Some(w.enrolment.as_str()) {
            return Err(ProtectorError::KeyInvalidated);
        }
        self.gate.verify(reason)?;
        let bytes = storage.get(&w.item)?;
        VaultKey::from_bytes(&bytes).ok_or_else(|| malformed("the stored key has the wrong length"))
    }

    fn cancel_prompt(&self) {
        self.gate.cancel();
    }

    fn forget(&self, wrapped: &serde_json::Value) -> Result<(), ProtectorError> {
        let w = parse(wrapped)?;
        match w.kept {
            Some(Keep::ThisRun) => match &self.memory {
                Some(memory) => memory.delete(&w.item),
                None => Ok(()),
            },
            Some(Keep::AcrossRestarts) | None => self.keyring.delete(&w.item),
        }
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

    fn enrolled_reader(matches: bool) -> Reader {
        let reader = Reader::default();
        *reader.fingers.lock().unwrap() = vec!["right-index-finger".into()];
        *reader.matches.lock().unwrap() = matches;
        reader
    }

    #[test]
    fn a_matching_finger_releases_the_held_key_and_no_match_does_not() {
        let (reader, store) = (enrolled_reader(true), Store::default());
        let p = FingerprintProtector::new(&reader, &store);
        let key = VaultKey::generate();
        let wrapped = p.wrap(&key, &prompt()).unwrap();
        assert!(!wrapped.to_string().contains(&B64.encode(key.expose())));
        assert!(store.0.lock().unwrap().is_empty(), "nothing in the keyring");
        assert!(p.holds(&wrapped));
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
    fn turning_fingerprint_unlock_on_needs_a_matching_finger_and_stores_nothing_without_one() {
        let (reader, store) = (enrolled_reader(false), Store::default());
        let p = FingerprintProtector::new(&reader, &store);
        for keep in [Keep::ThisRun, Keep::AcrossRestarts] {
            assert!(matches!(
                p.wrap_keeping(&VaultKey::generate(), &prompt(), keep),
                Err(ProtectorError::WrongCredential)
            ));
        }
        assert_eq!(
            *reader.verified.lock().unwrap(),
            2,
            "the finger was asked for"
        );
        assert!(store.0.lock().unwrap().is_empty());
    }

    #[test]
    fn a_new_process_holds_nothing_and_the_pin_rewrap_keeps_it_in_memory_without_a_prompt() {
        let (reader, store) = (enrolled_reader(true), Store::default());
        let before = FingerprintProtector::new(&reader, &store);
        let key = VaultKey::generate();
        let wrapped = before.wrap(&key, &prompt()).unwrap();
        let after_restart = FingerprintProtector::new(&reader, &store);
        assert!(!after_restart.holds(&wrapped));
        let verified = *reader.verified.lock().unwrap();
        assert!(matches!(
            after_restart.release(&wrapped, &prompt()),
            Err(ProtectorError::KeyInvalidated)
        ));
        let again = after_restart
            .rewrap_after_pin(&key, "Unlock", Keep::ThisRun)
            .unwrap();
        assert_eq!(*reader.verified.lock().unwrap(), verified, "no prompt");
        assert!(store.0.lock().unwrap().is_empty());
        assert_eq!(
            after_restart.release(&again, &prompt()).unwrap().expose(),
            key.expose()
        );
    }

    #[test]
    fn kept_across_restarts_the_key_is_in_the_keyring_and_a_new_process_releases_it() {
        let (reader, store) = (enrolled_reader(true), Store::default());
        let key = VaultKey::generate();
        let wrapped = FingerprintProtector::new(&reader, &store)
            .wrap_keeping(&key, &prompt(), Keep::AcrossRestarts)
            .unwrap();
        assert_eq!(store.0.lock().unwrap().len(), 1);
        let after_restart = FingerprintProtector::new(&reader, &store);
        assert!(after_restart.holds(&wrapped));
        assert_eq!(
            after_restart.release(&wrapped, &prompt()).unwrap().expose(),
            key.expose()
        );
        after_restart.forget(&wrapped).unwrap();
        assert!(store.0.lock().unwrap().is_empty());
    }

    #[test]
    fn a_wrap_from_before_the_choice_is_retired_and_its_keyring_item_deleted() {
        let (reader, store) = (enrolled_reader(true), Store::default());
        let p = FingerprintProtector::new(&reader, &store);
        let enrolment = p.enrolled().unwrap();
        (&store).put("old", &[1; 32]).unwrap();
        let legacy = serde_json::json!({ "item": "old", "enrolment": enrolment });
        assert!(!p.holds(&legacy));
        assert!(matches!(
            p.release(&legacy, &prompt()),
            Err(ProtectorError::KeyInvalidated)
        ));
        p.forget(&legacy).unwrap();
        assert!(store.0.lock().unwrap().is_empty());
    }

    #[test]
    fn an_added_or_removed_finger_retires_the_wrap_without_prompting() {
        let (reader, store) = (enrolled_reader(true), Store::default());
        let p = FingerprintProtector::new(&reader, &store);
        let wrapped = p.wrap(&VaultKey::generate(), &prompt()).unwrap();
        let verified = *reader.verified.lock().unwrap();
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
        assert_eq!(
            *reader.verified.lock().unwrap(),
            verified,
            "no prompt was shown"
        );
        assert!(matches!(
            p.wrap(&VaultKey::generate(), &prompt()),
            Err(ProtectorError::Unavailable(_))
        ));
    }

    #[test]
    fn a_deleted_item_is_key_invalidated_and_forget_deletes_it() {
        let (reader, store) = (enrolled_reader(true), Store::default());
        let p = FingerprintProtector::new(&reader, &store);
        for keep in [Keep::ThisRun, Keep::AcrossRestarts] {
            let wrapped = p
                .wrap_keeping(&VaultKey::generate(), &prompt(), keep)
                .unwrap();
            p.forget(&wrapped).unwrap();
            assert!(store.0.lock().unwrap().is_empty());
            assert!(matches!(
                p.release(&wrapped, &prompt()),
                Err(ProtectorError::KeyInvalidated)
            ));
        }
    }
}
