//! Test doubles for code that builds on the vault: a PIN credential, a fast PIN protector, a
//! stored session, and a fake biometric platform (a keychain-like store a finger releases, which an
//! enrolment change empties). Compiled for this crate's tests and with the `testing` feature (the
//! facade's tests); never in a release build.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use latchkey_core::store::StoredSession;
use openidconnect::RefreshToken;
use zeroize::Zeroizing;

use crate::{
    Credential, FileLock, KdfParams, KeyProtector, PinProtector, ProtectorError, UnlockMethod,
    VaultKey,
};

pub fn pin(p: &str) -> Credential {
    Credential::Pin(Zeroizing::new(p.to_owned()))
}

pub fn protector() -> Arc<dyn KeyProtector> {
    Arc::new(PinProtector::with_params(KdfParams::OWASP_MINIMUM))
}

pub fn session(rt: &str) -> StoredSession {
    StoredSession {
        issuer: "https://idp.example".into(),
        client_id: "app".into(),
        scopes: vec!["openid".into()],
        refresh_token: RefreshToken::new(rt.into()),
        id_token: Some(latchkey_core::secret::SecretString::new(
            "header.payload.sig-ID-TOKEN".into(),
        )),
        nonce: None,
        subject: Some("alice".into()),
        display_name: Some("Alice Example".into()),
        auth_time: None,
        dpop_key: None,
    }
}

/// What the fake reader does at the next prompt.
#[derive(Clone, Copy)]
pub enum Finger {
    Match,
    NoMatch,
    Cancel,
    NoReader,
}

pub struct FakeBiometrics {
    finger: Mutex<Finger>,
    pub items: Mutex<HashMap<String, Vec<u8>>>,
    pub forgotten: Mutex<Vec<String>>,
    /// A vault lock file to try while wrapping: records whether another process could take it.
    pub lock_probe: Mutex<Option<std::path::PathBuf>>,
    pub lock_free_while_wrapping: Mutex<Vec<bool>>,
}

impl FakeBiometrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            finger: Mutex::new(Finger::Match),
            items: Mutex::default(),
            forgotten: Mutex::default(),
            lock_probe: Mutex::default(),
            lock_free_while_wrapping: Mutex::default(),
        })
    }
    pub fn next(&self, f: Finger) {
        *self.finger.lock().unwrap() = f;
    }
    /// A finger added: every biometric-bound item is invalidated.
    pub fn change_enrolment(&self) {
        self.items.lock().unwrap().clear();
    }
}

impl KeyProtector for FakeBiometrics {
    fn method(&self) -> UnlockMethod {
        UnlockMethod::BiometricGate
    }
    fn accepts(&self, c: &Credential) -> Result<(), ProtectorError> {
        match c {
            Credential::Prompt(_) => Ok(()),
            Credential::Pin(_) => Err(ProtectorError::UnsuitableCredential("a PIN".into())),
        }
    }
    fn wrap(&self, key: &VaultKey, _: &Credential) -> Result<serde_json::Value, ProtectorError> {
        if let Some(path) = self.lock_probe.lock().unwrap().as_ref() {
            let free = FileLock::acquire_timeout(path, std::time::Duration::ZERO).is_ok();
            self.lock_free_while_wrapping.lock().unwrap().push(free);
        }
        let id = format!("item-{:016x}", rand::random::<u64>());
        let bytes = key.expose().to_vec();
        self.items.lock().unwrap().insert(id.clone(), bytes);
        Ok(serde_json::json!({ "item": id }))
    }
    fn release(&self, w: &serde_json::Value, _: &Credential) -> Result<VaultKey, ProtectorError> {
        match *self.finger.lock().unwrap() {
            Finger::Match => {}
            Finger::NoMatch => return Err(ProtectorError::WrongCredential),
            Finger::Cancel => return Err(ProtectorError::Cancelled),
            Finger::NoReader => return Err(ProtectorError::Unavailable("no reader".into())),
        }
        let id = w["item"].as_str().unwrap_or_default();
        let items = self.items.lock().unwrap();
        let bytes = items.get(id).ok_or(ProtectorError::KeyInvalidated)?;
        VaultKey::from_bytes(bytes).ok_or(ProtectorError::Malformed("length".into()))
    }
    fn forget(&self, w: &serde_json::Value) -> Result<(), ProtectorError> {
        let id = w["item"].as_str().unwrap_or_default().to_owned();
        self.items.lock().unwrap().remove(&id);
        self.forgotten.lock().unwrap().push(id);
        Ok(())
    }
}
