//! Every facade action checks the state it runs in: a front end (a WebView that may run injected
//! script) can call any of them at any time. And a session is locked after the idle time whether
//! or not it has a refresh token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use latchkey::{Credential, ErrorKind, ReauthReason, SessionEvent, SessionState};
use latchkey_testkit::fake_idp::{
    idp_issuing, open_latchkey, refresh_mock, signed_in_latchkey, test_pin, token_json,
    token_response,
};
use latchkey_testkit::InstantApproval;

/// A fake IdP that issues rt-1 at sign-in and answers every refresh with at-2 (no rotation).
async fn idp() -> (wiremock::MockServer, String) {
    let (server, issuer) = idp_issuing(token_json("at-1", Some("rt-1"), 3600)).await;
    refresh_mock()
        .respond_with(token_response("at-2", None, 3600))
        .mount(&server)
        .await;
    (server, issuer)
}

fn failed_attempts(dir: &std::path::Path) -> u64 {
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("vault.key.json")).unwrap()).unwrap();
    file["failed_attempts"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_while_a_session_exists_is_refused_and_the_live_key_kept() {
    let (_server, issuer) = idp().await;
    let dir = tempfile::tempdir().unwrap();
    let latchkey = signed_in_latchkey(&issuer, dir.path()).await;
    let key_file = std::fs::read(dir.path().join("vault.key.json")).unwrap();

    // Signed in: another sign-in (another PIN, another key) is refused before anything changes.
    let other_pin = || Credential::Pin("a-different-pin".to_owned().into());
    let err = latchkey
        .sign_in(other_pin(), &InstantApproval::new(&issuer))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongState, "{err:?}");
    assert_eq!(latchkey.status().state, SessionState::SignedIn);

    // Locked: refused too (the stored session would be replaced).
    latchkey.lock().await;
    let err = latchkey
        .sign_in(other_pin(), &InstantApproval::new(&issuer))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongState, "{err:?}");
    assert_eq!(
        std::fs::read(dir.path().join("vault.key.json")).unwrap(),
        key_file
    );
    // The original PIN still opens the vault.
    latchkey.unlock(test_pin()).await.unwrap();
    assert_eq!(latchkey.status().state, SessionState::SignedIn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlocking_when_there_is_nothing_to_unlock_or_without_a_pin_counts_no_attempt() {
    let (_server, issuer) = idp().await;
    let dir = tempfile::tempdir().unwrap();
    let latchkey = signed_in_latchkey(&issuer, dir.path()).await;

    // Signed in: an unlock (with anything) is a no-op.
    let wrong = Credential::Pin("not-the-pin".to_owned().into());
    assert_eq!(
        latchkey.unlock(wrong).await.unwrap().state,
        SessionState::SignedIn
    );
    assert_eq!(failed_attempts(dir.path()), 0);

    // Locked: five unlocks without a PIN (a biometric prompt on a PIN vault) are refused
    // without counting, so they can't erase the vault.
    latchkey.lock().await;
    for _ in 0..5 {
        let err = latchkey
            .unlock(Credential::Prompt("unlock".into()))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Locked, "{err:?}");
    }
    assert_eq!(failed_attempts(dir.path()), 0);
    latchkey.unlock(test_pin()).await.unwrap();
    assert_eq!(latchkey.status().state, SessionState::SignedIn);

    // Signed out: nothing is touched.
    latchkey.sign_out().await.unwrap();
    let err = latchkey.unlock(test_pin()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotSignedIn, "{err:?}");
}

#[tokio::test]
async fn a_session_without_a_refresh_token_is_locked_after_the_idle_time_and_its_access_token_forgotten(
) {
    let (_server, issuer) = idp_issuing(token_json("at-1", None, 86400)).await;
    let dir = tempfile::tempdir().unwrap();
    let latchkey = open_latchkey(&issuer, dir.path());
    let idle = Duration::from_secs(15 * 60);
    latchkey.start(Some(idle)).await.unwrap();
    latchkey
        .sign_in(test_pin(), &InstantApproval::new(&issuer))
        .await
        .unwrap();
    assert!(!latchkey.status().has_refresh_token);
    assert_eq!(
        latchkey
            .session()
            .fresh_access_token()
            .await
            .unwrap()
            .secret(),
        "at-1"
    );

    // From here, time moves only when every task waits.
    tokio::time::pause();
    let mut events = latchkey.subscribe();
    let start = tokio::time::Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(2 * 3600), async {
        loop {
            if let Ok(SessionEvent::SessionEnded { reason }) = events.recv().await {
                return reason;
            }
        }
    })
    .await
    .expect("the idle locker ended the session");
    assert_eq!(ended, ReauthReason::NoRefreshToken);
    assert!(start.elapsed() >= idle);
    assert_eq!(latchkey.status().state, SessionState::ReauthRequired);
    let err = latchkey.session().fresh_access_token().await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::ReauthRequired,
        "the access token is gone: {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconfiguring_is_refused_while_a_session_exists_signed_in_or_locked() {
    let (_server, issuer) = idp().await;
    let dir = tempfile::tempdir().unwrap();
    let latchkey = open_latchkey(&issuer, dir.path());
    assert!(
        latchkey.check_reconfigure().is_ok(),
        "signed out: anything goes"
    );
    latchkey
        .sign_in(test_pin(), &InstantApproval::new(&issuer))
        .await
        .unwrap();
    assert_eq!(
        latchkey.check_reconfigure().unwrap_err().kind(),
        ErrorKind::WrongState
    );
    latchkey.lock().await;
    assert_eq!(
        latchkey.check_reconfigure().unwrap_err().kind(),
        ErrorKind::WrongState
    );
    // A front end without a usable configuration asks the vault directory.
    assert!(latchkey::check_no_stored_session(dir.path()).is_err());
    latchkey.sign_out().await.unwrap();
    assert!(latchkey.check_reconfigure().is_ok());
    assert!(latchkey::check_no_stored_session(dir.path()).is_ok());
}
