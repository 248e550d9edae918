//! `latchkey-bench [vault|resume|signin|concurrent|dpop|all]` and
//! `latchkey-bench app <app-binary> <minimal-window-binary>` (under an X display): measured
//! figures, each a median over repeated runs, each next to a reference measured in the same run.
//! Figures, not assertions: nothing here fails on a slow machine. `scripts/bench.sh` (`npm run
//! bench`) builds what they need and runs them all.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app;
mod biometric;
mod concurrent;
mod dpop;
mod memory;
mod signin;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey::vault::{KdfParams, KeyProtector, ProtectorError, UnlockMethod, VaultKey};
use latchkey::{Credential, PinProtector, SecretStore, Session, StoredSession, Vault};
use latchkey_testkit::{login_driver, DevIdp};
use openidconnect::RefreshToken;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The `q`-quantile (0.0–1.0) of `v`, nearest rank.
fn percentile(v: &[Duration], q: f64) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    let rank = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed(), out)
}

fn stored(rt: &str) -> StoredSession {
    StoredSession {
        issuer: "https://idp.example".into(),
        client_id: "app".into(),
        scopes: vec!["openid".into(), "offline_access".into()],
        refresh_token: RefreshToken::new(format!("rt-{rt}-{}", "x".repeat(40))),
        id_token: None,
        nonce: None,
        subject: Some("alice".into()),
        display_name: Some("Alice Example".into()),
        auth_time: None,
        dpop_key: None,
    }
}

fn vault_figures() {
    const N: usize = 31;
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::open(dir.path(), Arc::new(Released)).unwrap();
    let pin = || Credential::Pin("bench-pin-2468".to_string().into());
    vault.prepare(&Credential::Prompt("bench".into())).unwrap();
    vault
        .save(&vault.lock_for_refresh().unwrap(), &stored("a"))
        .unwrap();

    let saves: Vec<_> = (0..N)
        .map(|i| {
            time(|| {
                vault
                    .save(&vault.lock_for_refresh().unwrap(), &stored(&i.to_string()))
                    .unwrap()
            })
            .0
        })
        .collect();
    // A fold: the snapshot written (temp + fsync + rename + directory fsync) and the journal
    // reset to one record, as on lock; two rotations before each, so there is something to fold.
    let folds: Vec<_> = (0..N)
        .map(|i| {
            for j in 0..2 {
                vault
                    .save(
                        &vault.lock_for_refresh().unwrap(),
                        &stored(&format!("f{i}-{j}")),
                    )
                    .unwrap();
            }
            let t = time(|| vault.lock()).0;
            vault.unlock(&Credential::Prompt("bench".into())).unwrap();
            t
        })
        .collect();
    // Opening a fresh vault (no cache) with a journal record: key file, snapshot digest, record
    // opened; the snapshot is not decrypted.
    let loads: Vec<_> = (0..N)
        .map(|_| {
            let v = Vault::open(dir.path(), Arc::new(Released)).unwrap();
            time(|| v.unlock(&Credential::Prompt("bench".into())).unwrap()).0
        })
        .collect();
    // Opening with no journal record (as after the hot path's fold, or with the journal lost; a
    // sign-in seeds it, so the journal is emptied here): the snapshot decrypted and verified.
    let fresh = tempfile::tempdir().unwrap();
    let signed_in = Vault::open(fresh.path(), Arc::new(Released)).unwrap();
    signed_in
        .prepare(&Credential::Prompt("bench".into()))
        .unwrap();
    signed_in
        .save(&signed_in.lock_for_refresh().unwrap(), &stored("s"))
        .unwrap();
    std::fs::write(fresh.path().join("vault.journal"), b"").unwrap();
    let decrypts: Vec<_> = (0..N)
        .map(|_| {
            let v = Vault::open(fresh.path(), Arc::new(Released)).unwrap();
            time(|| v.unlock(&Credential::Prompt("bench".into())).unwrap()).0
        })
        .collect();
    // Reference: the same bytes written atomically without Stronghold.
    let plain = dir.path().join("reference.json");
    let bytes = serde_json::to_vec(&serde_json::json!({"refresh_token": "x".repeat(64)})).unwrap();
    let refs: Vec<_> = (0..N)
        .map(|_| {
            time(|| {
                let tmp = dir.path().join("reference.tmp");
                std::fs::write(&tmp, &bytes).unwrap();
                std::fs::File::open(&tmp).unwrap().sync_all().unwrap();
                std::fs::rename(&tmp, &plain).unwrap();
                std::fs::File::open(dir.path()).unwrap().sync_all().unwrap();
            })
            .0
        })
        .collect();
    // Reference for open: reading and parsing the same small plain file.
    let plain_reads: Vec<_> = (0..N)
        .map(|_| {
            time(|| {
                let b = std::fs::read(&plain).unwrap();
                serde_json::from_slice::<serde_json::Value>(&b).unwrap()
            })
            .0
        })
        .collect();
    let (save, fold, open, decrypt, write_ref, read_ref) = (
        median(saves),
        median(folds),
        median(loads),
        median(decrypts),
        median(refs),
        median(plain_reads),
    );
    println!("vault (work factor 0, random 256-bit key), median of {N}:");
    println!(
        "  save of a rotation (journal record appended + fdatasync):  {}",
        ms(save)
    );
    println!(
        "  fold on lock (snapshot + fsync + rename + dir fsync, journal reset): {}",
        ms(fold)
    );
    println!(
        "  reference: atomic write of a small plain file (fsync + rename + dir fsync): {} (save {:.2}x, fold {:.2}x)",
        ms(write_ref),
        save.as_secs_f64() / write_ref.as_secs_f64(),
        fold.as_secs_f64() / write_ref.as_secs_f64()
    );
    println!(
        "  open, journal record present (no snapshot decrypt, no cache): {}",
        ms(open)
    );
    println!(
        "  open, no journal (snapshot decrypt + verify, no cache):       {}",
        ms(decrypt)
    );
    println!(
        "  reference: read + parse of the small plain file:         {:.3} ms (ratios {:.0}x, {:.0}x)",
        read_ref.as_secs_f64() * 1000.0,
        open.as_secs_f64() / read_ref.as_secs_f64(),
        decrypt.as_secs_f64() / read_ref.as_secs_f64()
    );

    for (name, params) in [
        ("default (64 MiB, t=3, p=1)", KdfParams::DEFAULT),
        ("OWASP minimum (19 MiB, t=2, p=1)", KdfParams::OWASP_MINIMUM),
    ] {
        let d = tempfile::tempdir().unwrap();
        let v = Vault::open(d.path(), Arc::new(PinProtector::with_params(params))).unwrap();
        v.prepare(&pin()).unwrap();
        v.save(&v.lock_for_refresh().unwrap(), &stored("b"))
            .unwrap();
        let unlocks: Vec<_> = (0..7)
            .map(|_| {
                v.lock();
                time(|| v.unlock(&pin()).unwrap()).0
            })
            .collect();
        println!(
            "  PIN unlock, Argon2id {name}: {} (median of 7)",
            ms(median(unlocks))
        );
    }
}

/// A protector whose key is "already released" (as after a biometric success), so the figure
/// measures Latchkey's own work, not the platform prompt or the PIN's Argon2id (measured above).
pub(crate) struct Released;

impl KeyProtector for Released {
    fn method(&self) -> UnlockMethod {
        UnlockMethod::Biometric
    }
    fn wrap(&self, key: &VaultKey, _: &Credential) -> Result<serde_json::Value, ProtectorError> {
        Ok(serde_json::json!(key.expose().to_vec()))
    }
    fn release(
        &self,
        wrapped: &serde_json::Value,
        _: &Credential,
    ) -> Result<VaultKey, ProtectorError> {
        let bytes: Vec<u8> = serde_json::from_value(wrapped.clone()).unwrap();
        Ok(VaultKey::from_bytes(&bytes).unwrap())
    }
}

async fn resume_figures() {
    const N: usize = 31;
    let idp = DevIdp::start(&[]);
    let data = tempfile::tempdir().unwrap();
    let vault = Arc::new(Vault::open(data.path(), Arc::new(Released)).unwrap());
    let prompt = || Credential::Prompt("bench".into());
    vault.prepare(&prompt()).unwrap();
    let session = Session::new(idp.bearer_config(), vault.clone()).unwrap();
    session.sign_in(&login_driver("alice")).await.unwrap();
    drop(session);

    // As after a restart: the last run locked (folded) the vault; a fresh `Session` resumes.
    // Then the same with the journal emptied first, as after the hot path's fold (every 33rd
    // rotation without a lock) with no rotation since, or with the journal lost: the open
    // decrypts the snapshot. (A sign-in seeds the journal, so its next resume is the first case.) Then one bare refresh POST to the same token endpoint, body
    // read. The three interleaved, round after round, so that all see the same machine load.
    let token_url = format!("{}/token", idp.issuer);
    let client = reqwest::Client::new();
    let mut runs: [(Vec<Duration>, Vec<Duration>, Vec<Duration>); 2] = Default::default();
    let mut refs = Vec::new();
    for _ in 0..N {
        for (empty_journal, (opens, refreshes, totals)) in [false, true].into_iter().zip(&mut runs)
        {
            if empty_journal {
                // A second record, so that locking folds: the snapshot then holds the newest
                // session, and dropping the journal (the fold's seed record) loses nothing.
                let s = vault.load().unwrap().unwrap();
                vault.save(&vault.lock_for_refresh().unwrap(), &s).unwrap();
            }
            vault.lock();
            if empty_journal {
                std::fs::write(data.path().join("vault.journal"), b"").unwrap();
            }
            let session = Session::new(idp.bearer_config(), vault.clone()).unwrap();
            session.provider().await.unwrap(); // discovery is done once per app run
            let start = Instant::now();
            vault.unlock(&prompt()).unwrap(); // key released → vault open
            let opened = start.elapsed();
            session.resume().await.unwrap();
            session.fresh_access_token().await.unwrap(); // refresh → rotated token stored
            let total = start.elapsed();
            opens.push(opened);
            refreshes.push(total - opened);
            totals.push(total);
        }
        let mut s = vault.load().unwrap().unwrap();
        let rt = s.refresh_token.secret().clone();
        let start = Instant::now();
        let resp = client
            .post(&token_url)
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
                ("client_id", "latchkey-native"),
            ])
            .send()
            .await
            .unwrap();
        let body = resp.bytes().await.unwrap();
        refs.push(start.elapsed());
        // Keep the vault in step with the server (the bare POST rotated the token).
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        s.refresh_token = RefreshToken::new(json["refresh_token"].as_str().unwrap().to_string());
        vault.save(&vault.lock_for_refresh().unwrap(), &s).unwrap();
    }
    let runs = runs.map(|(o, r, t)| (median(o), median(r), median(t)));
    let bare = median(refs);
    let target = bare.mul_f64(1.5) + Duration::from_millis(1);
    println!("silent resume (released key → vault open → refresh → rotated token stored → access token), median of {N}:");
    for ((open, refresh, total), what) in runs.into_iter().zip([
        "after a fold (journal record: no snapshot decrypt)",
        "journal empty (snapshot decrypted)",
    ]) {
        println!("  {what}:");
        println!("    vault open:                               {}", ms(open));
        println!(
            "    refresh + rotated token stored + token:   {}",
            ms(refresh)
        );
        println!(
            "    total:                                    {} (ratio {:.2}x; target <= 1.5x + 1 ms = {}: {})",
            ms(total),
            total.as_secs_f64() / bare.as_secs_f64(),
            ms(target),
            if total <= target { "met" } else { "NOT met" }
        );
    }
    println!("  reference: one bare refresh POST:         {}", ms(bare));
}

#[tokio::main]
async fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    println!(
        "latchkey bench ({} build, {} cores)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    if what == "vault" || what == "all" {
        vault_figures();
        biometric::figures();
    }
    if what == "resume" || what == "all" {
        resume_figures().await;
    }
    if what == "signin" || what == "all" {
        signin::figures().await;
    }
    if what == "concurrent" || what == "all" {
        concurrent::figures().await;
    }
    if what == "dpop" || what == "all" {
        dpop::figures().await;
    }
    if what == "app" {
        let mut paths = std::env::args().skip(2).map(PathBuf::from);
        let (Some(app), Some(reference)) = (paths.next(), paths.next()) else {
            eprintln!("usage: latchkey-bench app <app-binary> <minimal-window-binary>");
            std::process::exit(2);
        };
        let idp = DevIdp::start(&[]);
        let env = [
            ("LATCHKEY_ISSUER", idp.issuer.as_str()),
            ("LATCHKEY_CLIENT_ID", "latchkey-native"),
            ("LATCHKEY_PARAMS", "prompt=consent"),
            ("LATCHKEY_API_URL", idp.api.as_str()),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        tokio::task::spawn_blocking(move || app::figures(&app, &reference, &env))
            .await
            .unwrap();
        drop(idp);
    }
}
