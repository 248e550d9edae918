//! The refresh grant on a fake server (wiremock), one request at a time: what it sends (the
//! refresh token and client_id, no client secret), and what plain answers do — a slow drip times
//! out as transient, `invalid_grant` ends the session, a response without a refresh token keeps
//! the old one, an absurd `expires_in` is clamped. Hostile and non-conformant responses are in
//! `refresh_policy.rs`; concurrent callers in `single_flight.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use latchkey_core::{
    Error, ErrorKind, MemoryStore, ReauthReason, SecretStore, Session, SessionState,
};
use latchkey_testkit::fake_idp::{
    fake_config, refresh_mock, stored_rt, token_json, token_response, FakeIdp,
};
use latchkey_testkit::InstantApproval;
use serde_json::json;
use wiremock::matchers::body_string_contains;
use wiremock::{MockServer, ResponseTemplate};

#[tokio::test]
async fn a_refresh_sends_the_refresh_token_and_client_id_and_no_secret() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    refresh_mock()
        .and(body_string_contains("refresh_token=rt-1"))
        .and(body_string_contains("client_id=app"))
        .respond_with(token_response("at-2", None, 3600))
        .expect(1)
        .mount(&fake.server)
        .await;
    fake.session.refresh().await.unwrap();
    let requests = fake.server.received_requests().await.unwrap();
    let refresh = requests
        .iter()
        .find(|r| String::from_utf8_lossy(&r.body).contains("grant_type=refresh_token"))
        .unwrap();
    let body = String::from_utf8_lossy(&refresh.body);
    assert!(!body.contains("client_secret"), "{body}");
    assert!(
        refresh.headers.get("authorization").is_none(),
        "no client authentication"
    );
}

#[tokio::test]
async fn a_slow_drip_token_response_times_out_as_transient_and_keeps_the_refresh_token() {
    // Headers at once, then a byte every 100 ms, forever: only a whole-request deadline ends it.
    let drip = latchkey_testkit::DripServer::start(
        "grant_type=authorization_code",
        token_json("at-1", Some("rt-1"), 3600),
    )
    .await;
    let server = MockServer::start().await;
    let issuer = server.uri();
    latchkey_testkit::mount_discovery(
        &server,
        json!({"token_endpoint": format!("{}/token", drip.url), "authorization_response_iss_parameter_supported": true}),
    )
    .await;
    let store = Arc::new(MemoryStore::new());
    let session = Session::new(fake_config(&issuer), store.clone()).unwrap();
    session
        .sign_in(&InstantApproval::new(&issuer))
        .await
        .unwrap();

    let err = session.refresh().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Transient, "{err:?}");
    assert_eq!(stored_rt(&*store).as_deref(), Some("rt-1"));
    assert_eq!(session.status().state, SessionState::SignedIn);
}

#[tokio::test]
async fn invalid_grant_on_refresh_ends_the_session_and_wipes_the_store() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    refresh_mock()
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "grant request is invalid"
        })))
        .mount(&fake.server)
        .await;
    let err = fake.session.refresh().await.unwrap_err();
    assert!(
        matches!(&err, Error::ReauthRequired(ReauthReason::RefreshTokenRejected(Some(d))) if d == "grant request is invalid"),
        "{err:?}"
    );
    assert!(fake.store.load().unwrap().is_none());
    let status = fake.session.status();
    assert_eq!(status.state, SessionState::ReauthRequired);
    assert!(!status.has_refresh_token);
}

#[tokio::test]
async fn a_refresh_response_without_a_refresh_token_keeps_the_old_one() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    refresh_mock()
        .respond_with(token_response("at-2", None, 3600))
        .mount(&fake.server)
        .await;
    let status = fake.session.refresh().await.unwrap();
    assert!(status.has_refresh_token);
    assert_eq!(status.rotation_count, 0);
    assert_eq!(stored_rt(&*fake.store).as_deref(), Some("rt-1"));
    assert_eq!(
        fake.session.fresh_access_token().await.unwrap().secret(),
        "at-2"
    );
}

#[tokio::test]
async fn an_absurd_expires_in_is_clamped_to_a_day() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    refresh_mock()
        .respond_with(token_response("at-2", None, 1_000_000_000_000))
        .mount(&fake.server)
        .await;
    let status = fake.session.refresh().await.unwrap();
    assert!(
        status.access_token_expires_in_secs.unwrap() <= 24 * 3600,
        "{status:?}"
    );
}
