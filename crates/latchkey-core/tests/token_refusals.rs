//! What a token endpoint's refusal does to a live session. Only a conformant OAuth error
//! (RFC 6749 §5.2 JSON `error`) ends it at once; a refusal nobody can read (a CDN's or WAF's
//! `403 text/html`, an empty 400, a `401` whose only error is a DPoP challenge in
//! `WWW-Authenticate`) is a failed attempt with backoff, and ends the session only when the
//! same refresh token is refused that way three times in a row. A live refresh token the engine
//! has to drop (a token type it didn't ask for, a stored session without its DPoP key) is revoked
//! first (RFC 7009, best effort).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use latchkey_core::config::DpopPolicy;
use latchkey_core::dpop::DpopError;
use latchkey_core::{
    Error, ErrorKind, MemoryStore, ReauthReason, SecretStore, Session, SessionState,
};
use latchkey_testkit::fake_idp::{
    fake_config, mount_discovery, refresh_mock, stored_rt, token_json, FakeIdp,
};
use latchkey_testkit::InstantApproval;
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn unshared(e: &Error) -> &Error {
    match e {
        Error::Shared(inner) => inner,
        other => other,
    }
}

fn blocked_by_a_waf() -> ResponseTemplate {
    ResponseTemplate::new(403).set_body_raw(
        "<html><body>Request blocked. Reference #18.2a</body></html>",
        "text/html",
    )
}

#[tokio::test]
async fn one_403_text_html_from_a_waf_keeps_the_session_and_the_next_refresh_succeeds() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    refresh_mock()
        .respond_with(blocked_by_a_waf())
        .up_to_n_times(1)
        .mount(&fake.server)
        .await;
    refresh_mock()
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json(
            "at-2",
            Some("rt-2"),
            3600,
        )))
        .mount(&fake.server)
        .await;
    let err = fake.session.refresh().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err:?}");
    let status = fake.session.status();
    assert_eq!(status.state, SessionState::SignedIn, "{status:?}");
    assert_eq!(
        stored_rt(&*fake.store).as_deref(),
        Some("rt-1"),
        "nothing wiped"
    );
    assert_eq!(
        fake.session.fresh_access_token().await.unwrap().secret(),
        "at-1",
        "the access token still valid is still used"
    );
    fake.session.refresh().await.unwrap();
    assert_eq!(stored_rt(&*fake.store).as_deref(), Some("rt-2"));
}

#[tokio::test]
async fn a_refusal_without_an_oauth_error_ends_the_session_on_the_third_in_a_row() {
    let cases = [
        ("bare 400", ResponseTemplate::new(400)),
        ("403 text/html", blocked_by_a_waf()),
        (
            "401 whose only error is in WWW-Authenticate (Bearer)",
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", r#"Bearer error="invalid_token""#),
        ),
        (
            "400 with a JSON object without error",
            ResponseTemplate::new(400).set_body_json(json!({"message": "no"})),
        ),
        (
            "400 with an error that is no OAuth error code",
            ResponseTemplate::new(400).set_body_json(json!({"error": "Forbidden by policy 7"})),
        ),
    ];
    for (name, response) in cases {
        let fake = FakeIdp::signed_in("at-1", 3600).await;
        refresh_mock()
            .respond_with(response)
            .expect(3)
            .mount(&fake.server)
            .await;
        for attempt in 1..=2 {
            let err = fake.session.refresh().await.unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::Transient,
                "{name} #{attempt}: {err:?}"
            );
            assert_eq!(
                fake.session.status().state,
                SessionState::SignedIn,
                "{name}"
            );
            assert_eq!(stored_rt(&*fake.store).as_deref(), Some("rt-1"), "{name}");
        }
        let err = fake.session.refresh().await.unwrap_err();
        assert!(
            matches!(
                unshared(&err),
                Error::ReauthRequired(ReauthReason::RefreshTokenRejected(_))
            ),
            "{name}: {err:?}"
        );
        assert_eq!(
            fake.session.status().state,
            SessionState::ReauthRequired,
            "{name}"
        );
        assert_eq!(stored_rt(&*fake.store), None, "{name}");
        fake.server.verify().await;
    }
}

#[tokio::test]
async fn a_conformant_oauth_error_still_ends_the_session_at_once() {
    for (status, error) in [
        (400, "invalid_grant"),
        (401, "invalid_client"),
        (400, "invalid_scope"),
    ] {
        let fake = FakeIdp::signed_in("at-1", 3600).await;
        refresh_mock()
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({"error": error})))
            .expect(1)
            .mount(&fake.server)
            .await;
        let err = fake.session.refresh().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ReauthRequired, "{error}: {err:?}");
        assert_eq!(stored_rt(&*fake.store), None, "{error}");
    }
}

#[tokio::test]
async fn a_success_between_unexplained_refusals_starts_the_count_again() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    // refused, refused, ok, refused, refused: never three in a row.
    for (n, ok) in [(2, false), (1, true), (2, false)] {
        let template = if ok {
            ResponseTemplate::new(200).set_body_json(token_json("at-2", Some("rt-1"), 3600))
        } else {
            ResponseTemplate::new(400)
        };
        let mock = refresh_mock()
            .respond_with(template)
            .up_to_n_times(n)
            .expect(n)
            .mount_as_scoped(&fake.server)
            .await;
        for _ in 0..n {
            let _ = fake.session.refresh().await;
        }
        drop(mock);
    }
    assert_eq!(fake.session.status().state, SessionState::SignedIn);
    assert_eq!(stored_rt(&*fake.store).as_deref(), Some("rt-1"));
}

/// Counts revocation requests carrying `token=<rt>`.
struct Revocations(Arc<AtomicUsize>);

impl Respond for Revocations {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.0.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(200)
    }
}

async fn dpop_idp_with_revocation(revoked: &Arc<AtomicUsize>, rt: &str) -> MockServer {
    let server = MockServer::start().await;
    mount_discovery(
        &server,
        json!({
            "dpop_signing_alg_values_supported": ["ES256"],
            "revocation_endpoint": format!("{}/revoke", server.uri()),
        }),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .and(body_string_contains(format!("token={rt}")))
        .and(body_string_contains("client_id=app"))
        .respond_with(Revocations(revoked.clone()))
        .mount(&server)
        .await;
    server
}

fn session_for(server: &MockServer, policy: DpopPolicy) -> (Session, Arc<MemoryStore>) {
    let mut config = fake_config(&server.uri());
    config.dpop = policy;
    let store = Arc::new(MemoryStore::new());
    (Session::new(config, store.clone()).unwrap(), store)
}

#[tokio::test]
async fn a_bearer_token_where_a_bound_one_was_asked_for_at_sign_in_is_revoked_before_it_is_dropped()
{
    let revoked = Arc::new(AtomicUsize::new(0));
    let server = dpop_idp_with_revocation(&revoked, "rt-unbound").await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json(
            "at-1",
            Some("rt-unbound"),
            3600,
        )))
        .mount(&server)
        .await;
    let (session, store) = session_for(&server, DpopPolicy::Auto);
    let err = session
        .sign_in(&InstantApproval::new(&server.uri()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Dpop(DpopError::TokenTypeMismatch { .. })),
        "{err:?}"
    );
    assert_eq!(
        revoked.load(Ordering::SeqCst),
        1,
        "the dropped refresh token was revoked"
    );
    assert!(store.load().unwrap().is_none());
}

#[tokio::test]
async fn a_stored_session_without_its_dpop_key_is_revoked_before_it_is_ended() {
    let revoked = Arc::new(AtomicUsize::new(0));
    let server = dpop_idp_with_revocation(&revoked, "rt-1").await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "at-1", "token_type": "DPoP", "expires_in": 3600, "refresh_token": "rt-1"
        })))
        .mount(&server)
        .await;
    let (session, store) = session_for(&server, DpopPolicy::Required);
    session
        .sign_in(&InstantApproval::new(&server.uri()))
        .await
        .unwrap();
    let mut keyless = store.load().unwrap().unwrap();
    keyless.dpop_key = None;
    let (resumed, resumed_store) = session_for(&server, DpopPolicy::Required);
    resumed_store
        .save(&resumed_store.lock_for_refresh().unwrap(), &keyless)
        .unwrap();
    resumed.resume().await.unwrap();
    let err = resumed.refresh().await.unwrap_err();
    assert!(
        matches!(
            unshared(&err),
            Error::ReauthRequired(ReauthReason::DpopKeyMissing)
        ),
        "{err:?}"
    );
    assert_eq!(
        revoked.load(Ordering::SeqCst),
        1,
        "the keyless refresh token was revoked"
    );
    assert!(resumed_store.load().unwrap().is_none());
}

#[tokio::test]
async fn a_one_action_front_end_asks_again_within_the_refresh_and_reaches_sign_in_required() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    fake.session.set_one_shot(true);
    refresh_mock()
        .respond_with(ResponseTemplate::new(400))
        .expect(3)
        .mount(&fake.server)
        .await;
    let err = fake.session.refresh().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ReauthRequired, "{err:?}");
    assert_eq!(stored_rt(&*fake.store), None);
    fake.server.verify().await;
}

#[tokio::test]
async fn a_one_action_front_end_survives_one_blocked_request() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    fake.session.set_one_shot(true);
    refresh_mock()
        .respond_with(blocked_by_a_waf())
        .up_to_n_times(1)
        .mount(&fake.server)
        .await;
    refresh_mock()
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json(
            "at-2",
            Some("rt-2"),
            3600,
        )))
        .mount(&fake.server)
        .await;
    fake.session.refresh().await.unwrap();
    assert_eq!(stored_rt(&*fake.store).as_deref(), Some("rt-2"));
}
