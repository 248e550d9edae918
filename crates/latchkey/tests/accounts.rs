//! Several accounts in one data directory against the real dev IdP: alice and bob signed in at
//! once, each call answered as its own user, a refresh storm on one that never refreshes the
//! other, signing out one that leaves the other working, a key and a PIN counter that are each
//! account's own, a finger that releases only the account it was asked for, and today's
//! single-account directory opening as the `default` account.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use latchkey::accounts::provider_of;
use latchkey::vault::testing::{FakeBiometrics, Finger};
use latchkey::vault::{BiometricStatus, Keep};
use latchkey::{AccountError, AccountName, AccountSet};
use latchkey::{BiometricChange, Credential, Latchkey, SecretStore, SessionState, Vault};
use latchkey_testkit::fake_idp::fast_pin_protector;
use latchkey_testkit::{login_driver, DevIdp};

/// The same PIN for both users: what keeps their sessions apart is each account's own key.
fn pin() -> Credential {
    Credential::Pin("shared-pin-97531".to_owned().into())
}

fn wrong_pin() -> Credential {
    Credential::Pin("wrong-pin-13579".to_owned().into())
}

fn name(n: &str) -> AccountName {
    AccountName::new(n).unwrap()
}

fn accounts_in(base: &Path) -> AccountSet {
    AccountSet::new(
        base,
        Arc::new(|_, config, dir| Latchkey::open(config, dir, fast_pin_protector())),
    )
}

/// Adds `account` and signs it in as `user` through the login driver.
async fn sign_in(set: &AccountSet, idp: &DevIdp, account: &str, user: &str) -> Arc<Latchkey> {
    let latchkey = set
        .add(&name(account), provider_of(&idp.config()))
        .await
        .unwrap();
    let status = latchkey.sign_in(pin(), &login_driver(user)).await.unwrap();
    assert_eq!(status.subject.as_deref(), Some(user));
    latchkey
}

async fn alice_and_bob(idp: &DevIdp, base: &Path) -> (AccountSet, Arc<Latchkey>, Arc<Latchkey>) {
    let set = accounts_in(base);
    let alice = sign_in(&set, idp, "alice", "alice").await;
    let bob = sign_in(&set, idp, "bob", "bob").await;
    (set, alice, bob)
}

fn refresh_grants(stats: &serde_json::Value) -> u64 {
    stats["grants"]["refresh_token"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_and_bob_signed_in_at_once_in_one_data_directory_each_get_their_own_answers() {
    let idp = DevIdp::start(&[]);
    let base = tempfile::tempdir().unwrap();
    let (set, alice, bob) = alice_and_bob(&idp, base.path()).await;

    assert_eq!(alice.status().state, SessionState::SignedIn);
    assert_eq!(bob.status().state, SessionState::SignedIn);
    assert_eq!(alice.userinfo().await.unwrap()["sub"], "alice");
    assert_eq!(bob.userinfo().await.unwrap()["sub"], "bob");
    let api = idp.api.parse().unwrap();
    let as_alice: serde_json::Value =
        serde_json::from_slice(&alice.get(&api).await.unwrap().body).unwrap();
    let as_bob: serde_json::Value =
        serde_json::from_slice(&bob.get(&api).await.unwrap().body).unwrap();
    assert_eq!(
        (as_alice["sub"].as_str(), as_bob["sub"].as_str()),
        (Some("alice"), Some("bob"))
    );

    // Two vaults on disk, each in its own directory.
    for account in ["alice", "bob"] {
        let dir = base.path().join("accounts").join(account).join("vault");
        assert!(dir.join("vault.key.json").exists(), "{account}'s vault");
    }
    let listed = set.list().await.unwrap();
    let names: Vec<_> = listed.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert!(listed.iter().all(|a| a.state == SessionState::SignedIn));
    assert_eq!(listed[1].display_name.as_deref(), Some("Bob Example"));

    // A second process on the same directory sees both, locked.
    let other = accounts_in(base.path());
    let seen = other.list().await.unwrap();
    assert!(
        seen.iter().all(|a| a.state == SessionState::Locked),
        "{seen:?}"
    );
    set.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_storm_on_alice_makes_one_refresh_for_her_and_none_for_bob() {
    let idp = DevIdp::start(&[]);
    let base = tempfile::tempdir().unwrap();
    let (_set, alice, bob) = alice_and_bob(&idp, base.path()).await;
    let bob_refreshes = bob.status().refresh_count;
    let grants_before = refresh_grants(&idp.stats().await);

    // Alice's stored session reloaded (as after an unlock): no access token in memory, so each
    // of the 100 callers needs a refresh.
    alice.session().resume().await.unwrap();
    let api: url::Url = idp.api.parse().unwrap();
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let (alice, api) = (alice.clone(), api.clone());
            tokio::spawn(async move { alice.get(&api).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().status, 200);
    }

    assert_eq!(alice.status().refresh_count, 1, "one refresh for alice");
    assert_eq!(bob.status().refresh_count, bob_refreshes, "none for bob");
    assert_eq!(
        refresh_grants(&idp.stats().await) - grants_before,
        1,
        "the IdP granted one refresh in all"
    );
    // Bob's session went on untouched: his call needs no refresh.
    assert_eq!(bob.get(&api).await.unwrap().status, 200);
    assert_eq!(refresh_grants(&idp.stats().await) - grants_before, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_alice_leaves_bobs_session_working_without_a_prompt() {
    let idp = DevIdp::start(&[]);
    let base = tempfile::tempdir().unwrap();
    let (set, alice, bob) = alice_and_bob(&idp, base.path()).await;
    let revocations_before = idp.stats().await["revocations"]["refresh_tokens"].clone();

    let report = set.sign_out(&name("alice")).await.unwrap();
    assert_eq!(
        report.revocation,
        latchkey::RevocationOutcome::Revoked,
        "{report:?}"
    );
    assert_eq!(alice.status().state, SessionState::SignedOut);
    let alice_vault = base.path().join("accounts/alice/vault");
    assert!(!alice_vault.join("vault.key.json").exists());
    assert!(!alice_vault.join("vault.stronghold").exists());
    assert_ne!(
        idp.stats().await["revocations"]["refresh_tokens"],
        revocations_before,
        "alice's grant was revoked"
    );

    // Bob: still signed in, his calls and a refresh work, nothing asked.
    assert_eq!(bob.status().state, SessionState::SignedIn);
    assert_eq!(bob.userinfo().await.unwrap()["sub"], "bob");
    bob.refresh().await.unwrap();
    assert_eq!(bob.userinfo().await.unwrap()["sub"], "bob");
    let names: Vec<_> = set
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, [name("bob")]);
    assert!(matches!(
        set.account(&name("alice")).await.unwrap_err(),
        AccountError::Unknown { .. }
    ));

    // The last account gone: the data directory is at the first run again.
    set.sign_out(&name("bob")).await.unwrap();
    assert!(set.list().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alices_vault_key_cannot_decrypt_bobs_records_even_with_the_same_pin() {
    let idp = DevIdp::start(&[]);
    let base = tempfile::tempdir().unwrap();
    let (set, _alice, _bob) = alice_and_bob(&idp, base.path()).await;
    set.shutdown().await;
    let accounts = base.path().join("accounts");

    // Bob's snapshot with alice's wrapped key beside it (a copy: the originals stay intact).
    let mixed = tempfile::tempdir().unwrap();
    std::fs::copy(
        accounts.join("bob/vault/vault.stronghold"),
        mixed.path().join("vault.stronghold"),
    )
    .unwrap();
    for file in ["vault.key.json", "vault.meta.json"] {
        std::fs::copy(
            accounts.join("alice/vault").join(file),
            mixed.path().join(file),
        )
        .unwrap();
    }
    let vault = Vault::open(mixed.path(), fast_pin_protector()).unwrap();
    // The PIN releases alice's key; bob's records don't open with it.
    let read = vault
        .unlock(&pin())
        .map_err(latchkey::StoreError::from)
        .and_then(|()| vault.load());
    match read {
        Err(e) => assert!(
            format!("{e:?}").contains("Unreadable"),
            "the snapshot failed to decrypt: {e:?}"
        ),
        Ok(s) => panic!(
            "alice's key decrypted bob's snapshot: {:?}",
            s.map(|s| s.subject.clone())
        ),
    }

    // Each original still opens with its own key.
    for (account, user) in [("alice", "alice"), ("bob", "bob")] {
        let vault =
            Vault::open(&accounts.join(account).join("vault"), fast_pin_protector()).unwrap();
        vault.unlock(&pin()).unwrap();
        let stored = vault.load().unwrap().unwrap();
        assert_eq!(stored.subject.as_deref(), Some(user));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pins_that_erase_alices_vault_leave_bobs_counter_untouched() {
    let idp = DevIdp::start(&[]);
    let base = tempfile::tempdir().unwrap();
    let (set, alice, bob) = alice_and_bob(&idp, base.path()).await;
    alice.lock().await;
    bob.lock().await;

    // Five wrong PINs (the default limit) on alice: her vault erases itself.
    for _ in 0..latchkey::vault::DEFAULT_MAX_ATTEMPTS {
        assert!(alice.unlock(wrong_pin()).await.is_err());
    }
    assert!(!alice.vault().is_initialized(), "alice's vault is erased");
    assert_ne!(alice.status().state, SessionState::Locked);

    // Bob's counter never moved: four wrong PINs of his own, and the fifth try, right, unlocks.
    assert!(bob.vault().is_initialized());
    for _ in 1..latchkey::vault::DEFAULT_MAX_ATTEMPTS {
        assert!(bob.unlock(wrong_pin()).await.is_err());
    }
    let status = bob.unlock(pin()).await.unwrap();
    assert_eq!(status.state, SessionState::SignedIn);
    assert_eq!(bob.userinfo().await.unwrap()["sub"], "bob");
    set.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn todays_single_account_directory_opens_as_the_default_account_without_signing_in_again() {
    let idp = DevIdp::start(&[]);
    let base = tempfile::tempdir().unwrap();
    // Written by today's single-account front end: one facade over <base>/vault, no registry.
    {
        let today = Latchkey::open(
            idp.config(),
            &base.path().join("vault"),
            fast_pin_protector(),
        )
        .unwrap();
        today.sign_in(pin(), &login_driver("alice")).await.unwrap();
        today.shutdown().await;
    }
    assert!(!base.path().join("accounts.json").exists());
    let grants_before = refresh_grants(&idp.stats().await);

    let set = accounts_in(base.path());
    let listed = set.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].name.is_default());
    assert_eq!(listed[0].issuer.as_deref(), Some(idp.issuer.as_str()));
    assert_eq!(listed[0].state, SessionState::Locked);
    assert_eq!(listed[0].subject.as_deref(), Some("alice"));

    // The PIN, one silent refresh, no browser.
    let default = set.account(&AccountName::default()).await.unwrap();
    assert_eq!(default.resume().await.unwrap().state, SessionState::Locked);
    assert_eq!(
        default.unlock(pin()).await.unwrap().state,
        SessionState::SignedIn
    );
    assert_eq!(default.userinfo().await.unwrap()["sub"], "alice");
    assert_eq!(refresh_grants(&idp.stats().await) - grants_before, 1);

    // A second account beside it leaves it where it was.
    let bob = sign_in(&set, &idp, "bob", "bob").await;
    assert_eq!(bob.userinfo().await.unwrap()["sub"], "bob");
    assert_eq!(default.userinfo().await.unwrap()["sub"], "alice");
    assert!(base.path().join("vault/vault.key.json").exists());
    let names: Vec<_> = set
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, [AccountName::default(), name("bob")]);
    set.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_an_account_under_a_name_that_holds_a_session_is_refused_and_changes_nothing() {
    let idp = DevIdp::start(&[]);
    let base = tempfile::tempdir().unwrap();
    let set = accounts_in(base.path());
    let alice = sign_in(&set, &idp, "work", "alice").await;
    let mut elsewhere = provider_of(&idp.config());
    elsewhere.issuer = Some("https://elsewhere.example".into());
    let err = set.add(&name("work"), elsewhere.clone()).await.unwrap_err();
    assert!(matches!(err, AccountError::Exists { .. }), "{err:?}");
    // Another process (nothing open) is refused the same way.
    let other = accounts_in(base.path());
    assert!(matches!(
        other.add(&name("work"), elsewhere).await.unwrap_err(),
        AccountError::Exists { .. }
    ));
    let listed = set.list().await.unwrap();
    assert_eq!(listed[0].issuer.as_deref(), Some(idp.issuer.as_str()));
    assert_eq!(alice.userinfo().await.unwrap()["sub"], "alice");
    set.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finger_releases_only_the_account_it_was_asked_for_and_each_wrap_is_its_own() {
    let idp = DevIdp::start(&[]);
    let base = tempfile::tempdir().unwrap();
    // One reader on the machine, as on a real one; each account wraps its own key with it.
    let reader = FakeBiometrics::new();
    let opener_reader = reader.clone();
    let set = AccountSet::new(
        base.path(),
        Arc::new(move |_, config, dir| {
            Latchkey::open_with_biometric(
                config,
                dir,
                fast_pin_protector(),
                opener_reader.clone(),
                "Unlock",
            )
        }),
    );
    let alice = sign_in(&set, &idp, "alice", "alice").await;
    let bob = sign_in(&set, &idp, "bob", "bob").await;
    for account in [&alice, &bob] {
        let on = BiometricChange::On {
            proof: pin(),
            keep: Keep::ThisRun,
        };
        assert_eq!(
            account.set_biometric(on).await.unwrap(),
            BiometricStatus::Ready
        );
    }
    assert_eq!(reader.items.lock().unwrap().len(), 2, "a wrap per account");
    alice.lock().await;
    bob.lock().await;

    // The finger for alice opens alice only.
    let status = alice
        .unlock(Credential::Prompt("Unlock".into()))
        .await
        .unwrap();
    assert_eq!(status.state, SessionState::SignedIn);
    assert_eq!(alice.userinfo().await.unwrap()["sub"], "alice");
    assert_eq!(bob.status().state, SessionState::Locked, "bob stays locked");

    // A failed finger for bob leaves him locked and alice signed in.
    reader.next(Finger::NoMatch);
    assert!(bob
        .unlock(Credential::Prompt("Unlock".into()))
        .await
        .is_err());
    assert_eq!(bob.status().state, SessionState::Locked);
    assert_eq!(alice.status().state, SessionState::SignedIn);

    // Alice turning biometrics off deletes her wrap only: bob's finger still opens bob.
    assert_eq!(
        alice.set_biometric(BiometricChange::Off).await.unwrap(),
        BiometricStatus::Off
    );
    assert_eq!(reader.items.lock().unwrap().len(), 1);
    reader.next(Finger::Match);
    let status = bob
        .unlock(Credential::Prompt("Unlock".into()))
        .await
        .unwrap();
    assert_eq!(status.state, SessionState::SignedIn);
    assert_eq!(bob.userinfo().await.unwrap()["sub"], "bob");
    set.shutdown().await;
}
