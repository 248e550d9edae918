//! The facade front ends hold: cancel during sign-in, a failed sign-in leaving the previous
//! vault alone, and locking while a refresh is in flight.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{mpsc, Arc, Mutex};

use latchkey::vault::MIN_PIN_LEN;
use latchkey::{Credential, Error, SessionState, UserAgent, UserAgentError};
use latchkey_testkit::fake_idp::{
    idp_issuing, mount_discovery, open_latchkey, signed_in_latchkey, test_pin, token_json,
    token_response,
};
use latchkey_testkit::held::{held, spawn_waiting};
use latchkey_testkit::query_param;
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A fake IdP whose code exchange issues `at-1` / `rt-1`; refreshes are each test's own.
async fn idp_issuing_rt1() -> (MockServer, String) {
    idp_issuing(token_json("at-1", Some("rt-1"), 3600)).await
}

/// A browser that the user never finishes: it only reports the loopback port it would return to.
struct Abandoned(Mutex<mpsc::Sender<u16>>);

impl UserAgent for Abandoned {
    fn open(&self, url: &url::Url) -> Result<(), UserAgentError> {
        let redirect = url::Url::parse(&query_param(url, "redirect_uri").unwrap()).unwrap();
        self.0
            .lock()
            .unwrap()
            .send(redirect.port().unwrap())
            .unwrap();
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_while_the_browser_is_open_ends_the_sign_in_and_closes_the_listener() {
    let server = MockServer::start().await;
    let issuer = server.uri();
    mount_discovery(&server, json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    let latchkey = Arc::new(open_latchkey(&issuer, dir.path()));
    let (opened_tx, opened_rx) = mpsc::channel();
    let browser = Abandoned(Mutex::new(opened_tx));

    let signing_in = {
        let latchkey = latchkey.clone();
        tokio::spawn(async move { latchkey.sign_in(test_pin(), &browser).await })
    };
    let port = tokio::task::spawn_blocking(move || opened_rx.recv().unwrap())
        .await
        .unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "listening while the browser is open"
    );
    latchkey.cancel_sign_in();
    let err = signing_in.await.unwrap().unwrap_err();
    assert!(
        matches!(err, Error::Core(latchkey::CoreError::Cancelled)),
        "{err:?}"
    );
    assert_eq!(latchkey.status().state, SessionState::SignedOut);
    assert!(latchkey.vault().is_locked(), "the staged key is forgotten");
    assert!(!latchkey.vault().is_initialized(), "nothing was written");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the loopback listener is closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locking_while_a_refresh_is_in_flight_keeps_its_rotated_token_for_the_next_unlock() {
    let (server, issuer) = idp_issuing_rt1().await;
    let token = || Mock::given(method("POST")).and(path("/token"));
    let (answer, mut gate) = held(token_response("at-2", Some("rt-2"), 3600));
    token()
        .and(body_string_contains("refresh_token=rt-1"))
        .respond_with(answer)
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    token()
        .and(body_string_contains("refresh_token=rt-1"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .mount(&server)
        .await;
    token()
        .and(body_string_contains("refresh_token=rt-2"))
        .respond_with(token_response("at-3", Some("rt-3"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let latchkey = Arc::new(signed_in_latchkey(&issuer, dir.path()).await);

    let refreshing = {
        let latchkey = latchkey.clone();
        tokio::spawn(async move { latchkey.session().refresh().await })
    };
    gate.arrived().await;
    // The user presses Lock (or the idle timer fires) while the server holds its answer: the
    // lock waits for the refresh in flight.
    let locking = spawn_waiting({
        let latchkey = latchkey.clone();
        async move { latchkey.lock().await }
    })
    .await;
    assert!(!refreshing.is_finished(), "the refresh is still in flight");
    gate.release();
    assert_eq!(locking.await.unwrap().state, SessionState::Locked);
    assert!(latchkey.vault().is_locked());
    refreshing.await.unwrap().unwrap();

    // Next launch: one unlock resumes with the rotated token (rt-1 is dead at the server).
    assert_eq!(
        latchkey.unlock(test_pin()).await.unwrap().state,
        SessionState::SignedIn
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlocking_while_the_server_is_down_unlocks_and_says_offline() {
    let (server, issuer) = idp_issuing_rt1().await;
    let token = || Mock::given(method("POST")).and(path("/token"));
    token()
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let latchkey = signed_in_latchkey(&issuer, dir.path()).await;
    latchkey.lock().await;

    let status = latchkey.unlock(test_pin()).await.unwrap();
    assert_eq!(status.state, SessionState::SignedIn);
    assert!(status.offline, "{status:?}");
    assert!(!latchkey.vault().is_locked());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_while_locked_erases_the_vault_and_says_nothing_was_revoked() {
    let server = MockServer::start().await;
    let issuer = server.uri();
    mount_discovery(
        &server,
        json!({"revocation_endpoint": format!("{issuer}/revoke")}),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token_response("at-1", Some("rt-1"), 3600))
        .mount(&server)
        .await;
    Mock::given(path("/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let latchkey = signed_in_latchkey(&issuer, dir.path()).await;
    latchkey.lock().await;

    // The user forgot the PIN: "Sign out on this device" from the Locked screen.
    let report = latchkey.sign_out().await.unwrap();
    assert_eq!(
        report.revocation,
        latchkey::RevocationOutcome::NothingToRevoke
    );
    assert_eq!(latchkey.status().state, SessionState::SignedOut);
    assert!(!latchkey.vault().is_initialized(), "the vault is erased");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_wrong_pins_end_the_locked_session_with_a_reason_instead_of_a_dead_unlock_screen()
{
    let (_server, issuer) = idp_issuing_rt1().await;
    let dir = tempfile::tempdir().unwrap();
    let latchkey = signed_in_latchkey(&issuer, dir.path()).await;
    latchkey.lock().await;
    let mut events = latchkey.subscribe();

    let wrong = || Credential::Pin("d".repeat(MIN_PIN_LEN).into());
    for _ in 1..latchkey::vault::DEFAULT_MAX_ATTEMPTS {
        latchkey.unlock(wrong()).await.unwrap_err();
        assert_eq!(latchkey.status().state, SessionState::Locked);
    }
    let err = latchkey.unlock(wrong()).await.unwrap_err();
    assert!(err.to_string().contains("erased"), "{err}");

    let status = latchkey.status();
    assert_eq!(status.state, SessionState::ReauthRequired);
    assert_eq!(
        status.reauth_reason,
        Some(latchkey::ReauthReason::StoredSessionErased)
    );
    assert!(matches!(
        events.try_recv().unwrap(),
        latchkey::SessionEvent::SessionEnded { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlocking_at_a_launch_with_the_idp_unreachable_unlocks_and_backs_off() {
    let (server, issuer) = idp_issuing_rt1().await;
    let dir = tempfile::tempdir().unwrap();
    drop(signed_in_latchkey(&issuer, dir.path()).await);
    // Next launch, offline: even discovery fails.
    server.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;

    let today = open_latchkey(&issuer, dir.path());
    assert_eq!(today.start(None).await.unwrap().state, SessionState::Locked);
    let status = today.unlock(test_pin()).await.unwrap();
    assert_eq!(status.state, SessionState::SignedIn);
    // `offline` is set where the failure gets its backoff (before, a failed discovery skipped
    // both, and the refresher retried in a tight loop).
    assert!(status.offline, "{status:?}");
    assert!(status.next_refresh_in_secs.is_some(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlocking_after_another_process_signed_out_says_so() {
    let (_server, issuer) = idp_issuing_rt1().await;
    let dir = tempfile::tempdir().unwrap();
    let app = signed_in_latchkey(&issuer, dir.path()).await;
    app.lock().await;

    // The CLI, sharing the vault, signs out.
    let cli = open_latchkey(&issuer, dir.path());
    cli.sign_out().await.unwrap();

    app.unlock(test_pin()).await.unwrap_err();
    let status = app.status();
    assert_eq!(status.state, SessionState::ReauthRequired);
    assert_eq!(
        status.reauth_reason,
        Some(latchkey::ReauthReason::EndedElsewhere)
    );
}
