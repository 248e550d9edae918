//! The biometric unlock path's cost with the prompt excluded, next to the PIN's (measured in
//! `vault_figures`): a vault with both wraps, unlocked through the fingerprint wrap whose gate
//! passes at once. With the key in memory (Latchkey's own work: key file, enrolment check, seal
//! read, snapshot decrypt and verify), and with the key in gnome-keyring's Secret Service over
//! D-Bus when the fingerprint rig's programs are installed (what Linux adds).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use latchkey::vault::{
    FingerGate, FingerprintProtector, KdfParams, Keep, KeyProtector, KeyStorage, ProtectorError,
};
use latchkey::{Credential, PinProtector, SecretStore, Vault};
use zeroize::Zeroizing;

use super::{median, ms, stored, time};

/// A reader whose finger always matches, at once.
struct InstantFinger;

impl FingerGate for InstantFinger {
    fn enrolled(&self) -> Result<Vec<String>, ProtectorError> {
        Ok(vec!["right-index-finger".into()])
    }
    fn verify(&self, _: &str) -> Result<(), ProtectorError> {
        Ok(())
    }
}

#[derive(Default)]
struct InMemory(Mutex<HashMap<String, Vec<u8>>>);

impl KeyStorage for InMemory {
    fn put(&self, id: &str, bytes: &[u8]) -> Result<(), ProtectorError> {
        self.0.lock().unwrap().insert(id.into(), bytes.to_vec());
        Ok(())
    }
    fn get(&self, id: &str) -> Result<Zeroizing<Vec<u8>>, ProtectorError> {
        let items = self.0.lock().unwrap();
        let bytes = items.get(id).ok_or(ProtectorError::KeyInvalidated)?;
        Ok(Zeroizing::new(bytes.clone()))
    }
    fn delete(&self, id: &str) -> Result<(), ProtectorError> {
        self.0.lock().unwrap().remove(id);
        Ok(())
    }
}

fn unlock_median(biometric: Arc<dyn KeyProtector>, keep: Keep) -> std::time::Duration {
    const N: usize = 15;
    let dir = tempfile::tempdir().unwrap();
    let pin = Arc::new(PinProtector::with_params(KdfParams::DEFAULT));
    let vault = Vault::open(dir.path(), pin)
        .unwrap()
        .with_biometric(biometric, "bench");
    let pin = Credential::Pin("bench-pin-2468".to_string().into());
    vault.prepare(&pin).unwrap();
    vault.enable_biometric(&pin, keep).unwrap();
    vault
        .save(&vault.lock_for_refresh().unwrap(), &stored("bio"))
        .unwrap();
    let unlocks = (0..N)
        .map(|_| {
            vault.lock();
            time(|| vault.unlock(&Credential::Prompt("bench".into())).unwrap()).0
        })
        .collect();
    median(unlocks)
}

pub fn figures() {
    println!(
        "biometric unlock path (prompt excluded; the PIN's Argon2id figures above), median of 15:"
    );
    let in_memory = unlock_median(
        Arc::new(FingerprintProtector::new(
            InstantFinger,
            InMemory::default(),
        )),
        Keep::ThisRun,
    );
    println!(
        "  fingerprint wrap, key from memory (Latchkey's own work): {}",
        ms(in_memory)
    );
    #[cfg(target_os = "linux")]
    if latchkey_testkit::fprint_rig::available() {
        let rig = latchkey_testkit::fprint_rig::FprintRig::start();
        let keyring = unlock_median(
            Arc::new(FingerprintProtector::new(
                InstantFinger,
                latchkey::vault::SecretServiceStorage::on_bus(rig.session_bus()),
            )),
            Keep::AcrossRestarts,
        );
        println!(
            "  fingerprint wrap, key from gnome-keyring over D-Bus:     {}",
            ms(keyring)
        );
    } else {
        println!(
            "  (gnome-keyring figure skipped: the fingerprint rig's programs are not installed)"
        );
    }
}
