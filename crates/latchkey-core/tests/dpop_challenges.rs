//! DPoP challenges wherever a server puts them: in any `WWW-Authenticate` header, as any of the
//! challenges in one (RFC 9110 §11.6.1, RFC 9449 §7.1), and at the token endpoint in a header
//! instead of a JSON body. A server that keeps rejecting the proofs gets a bounded number of
//! tries, then a typed error with a next step, not backoff forever.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use latchkey_core::config::DpopPolicy;
use latchkey_core::dpop::DpopError;
use latchkey_core::error::Endpoint;
use latchkey_core::{Error, MemoryStore, ReauthReason, Session, SessionState};
use latchkey_testkit::fake_idp::{fake_config, mount_discovery, stored_rt};
use latchkey_testkit::InstantApproval;
use serde_json::json;
use url::Url;
use wiremock::matchers::{body_string_contains, header_exists, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn unshared(e: &Error) -> &Error {
    match e {
        Error::Shared(inner) => inner,
        other => other,
    }
}

fn dpop_token(access: &str, refresh: &str) -> serde_json::Value {
    json!({"access_token": access, "token_type": "DPoP", "expires_in": 3600, "refresh_token": refresh})
}

async fn signed_in() -> (MockServer, Session, Arc<MemoryStore>) {
    let server = MockServer::start().await;
    mount_discovery(
        &server,
        json!({"dpop_signing_alg_values_supported": ["ES256"]}),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(dpop_token("at-1", "rt-1")))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = fake_config(&server.uri());
    config.dpop = DpopPolicy::Auto;
    let store = Arc::new(MemoryStore::new());
    let session = Session::new(config, store.clone()).unwrap();
    session
        .sign_in(&InstantApproval::new(&server.uri()))
        .await
        .unwrap();
    (server, session, store)
}

/// First answer: a challenge (`first`); later ones, with the nonce it gave: `then`.
struct ChallengeOnce {
    count: AtomicUsize,
    first: ResponseTemplate,
    then: ResponseTemplate,
}

impl Respond for ChallengeOnce {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let proof = request
            .headers
            .get("dpop")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let payload = proof.split('.').nth(1).unwrap_or_default();
        use base64::Engine as _;
        let claims: serde_json::Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        if self.count.fetch_add(1, Ordering::SeqCst) == 0 || claims["nonce"] != "n-1" {
            return self.first.clone();
        }
        self.then.clone()
    }
}

#[tokio::test]
async fn a_nonce_challenge_in_the_second_www_authenticate_header_gets_its_retry_without_a_refresh()
{
    let (server, session, _) = signed_in().await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .and(header_exists("dpop"))
        .respond_with(ChallengeOnce {
            count: AtomicUsize::new(0),
            first: ResponseTemplate::new(401)
                .append_header("www-authenticate", r#"Bearer realm="api""#)
                .append_header(
                    "www-authenticate",
                    r#"Basic realm="x", DPoP algs="ES256", error="use_dpop_nonce""#,
                )
                .insert_header("dpop-nonce", "n-1"),
            then: ResponseTemplate::new(200).set_body_json(json!({"ok": true})),
        })
        .expect(2)
        .mount(&server)
        .await;
    let url: Url = format!("{}/api", server.uri()).parse().unwrap();
    let response = session.get(&url).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        session.status().refresh_count,
        0,
        "the challenge was answered, not mistaken for an expired token"
    );
    server.verify().await;
}

#[tokio::test]
async fn a_token_endpoint_nonce_challenge_sent_only_in_www_authenticate_gets_its_retry() {
    let (server, session, store) = signed_in().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ChallengeOnce {
            count: AtomicUsize::new(0),
            first: ResponseTemplate::new(401)
                .insert_header("www-authenticate", r#"DPoP error="use_dpop_nonce""#)
                .insert_header("dpop-nonce", "n-1"),
            then: ResponseTemplate::new(200).set_body_json(dpop_token("at-2", "rt-2")),
        })
        .expect(2)
        .mount(&server)
        .await;
    session.refresh().await.unwrap();
    assert_eq!(stored_rt(&*store).as_deref(), Some("rt-2"));
}

#[tokio::test]
async fn invalid_dpop_proof_only_in_www_authenticate_is_a_dpop_error_that_keeps_the_session() {
    let (server, session, store) = signed_in().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(401).insert_header(
            "www-authenticate",
            r#"DPoP algs="ES256", error="invalid_dpop_proof", error_description="bad iat""#,
        ))
        .mount(&server)
        .await;
    let err = session.refresh().await.unwrap_err();
    assert!(
        matches!(
            unshared(&err),
            Error::Dpop(DpopError::ProofRejected { endpoint: Endpoint::Token, description: Some(d) }) if d == "bad iat"
        ),
        "{err:?}"
    );
    assert_eq!(session.status().state, SessionState::SignedIn);
    assert_eq!(stored_rt(&*store).as_deref(), Some("rt-1"));
}

#[tokio::test]
async fn a_token_endpoint_rejecting_every_proof_ends_the_session_after_three_tries_with_a_next_step(
) {
    let (server, session, store) = signed_in().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_dpop_proof"})),
        )
        .expect(3)
        .mount(&server)
        .await;
    for _ in 0..2 {
        let err = session.refresh().await.unwrap_err();
        assert!(
            matches!(unshared(&err), Error::Dpop(DpopError::ProofRejected { .. })),
            "{err:?}"
        );
        assert_eq!(session.status().state, SessionState::SignedIn);
    }
    let err = session.refresh().await.unwrap_err();
    assert!(
        matches!(
            unshared(&err),
            Error::ReauthRequired(ReauthReason::DpopProofRejected)
        ),
        "{err:?}"
    );
    assert_eq!(session.status().state, SessionState::ReauthRequired);
    assert_eq!(stored_rt(&*store), None);
    // And it stays there: no fourth request, whatever the scheduler or a caller does.
    assert!(session.refresh().await.is_err());
    server.verify().await;
}

#[tokio::test]
async fn an_api_rejecting_the_proof_gets_a_typed_error_not_a_refresh_that_cannot_help() {
    let (server, session, store) = signed_in().await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .respond_with(ResponseTemplate::new(401).insert_header(
            "www-authenticate",
            r#"Bearer realm="api", DPoP algs="ES256", error="invalid_dpop_proof", error_description="bad htu""#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let url: Url = format!("{}/api", server.uri()).parse().unwrap();
    let err = session.get(&url).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Dpop(DpopError::ProofRejected { endpoint: Endpoint::Api, description: Some(d) }) if d == "bad htu"
        ),
        "{err:?}"
    );
    assert_eq!(session.status().refresh_count, 0, "no refresh, no rotation");
    assert_eq!(stored_rt(&*store).as_deref(), Some("rt-1"));
    server.verify().await;
}
