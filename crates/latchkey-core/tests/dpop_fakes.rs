//! DPoP against fake servers: every proof checked claim by claim by the test-side verifier, and
//! the hostile answers a real server would rarely give (`invalid_dpop_proof`, a mismatched
//! `token_type`, nonces demanded forever).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use latchkey_core::config::DpopPolicy;
use latchkey_core::dpop::DpopError;
use latchkey_core::error::Endpoint;
use latchkey_core::{Error, MemoryStore, ReauthReason, SecretStore, Session, SessionState};
use latchkey_testkit::dpop::{verify, Expect};
use latchkey_testkit::fake_idp::{fake_config, mount_discovery, stored_rt};
use latchkey_testkit::InstantApproval;
use serde_json::json;
use url::Url;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// A token endpoint or API that checks each request's DPoP proof with the test-side verifier
/// and records what it found; answers `answer` when the proof is good, 400 otherwise.
struct Checked {
    htm: &'static str,
    htu: String,
    /// For API calls: the access token the proof must be bound to (`ath`) and that must come
    /// in `Authorization: DPoP`.
    access_token: Option<&'static str>,
    answer: ResponseTemplate,
    seen: Arc<Mutex<Vec<Result<String, String>>>>,
}

impl Respond for Checked {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let proof = request
            .headers
            .get("dpop")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let mut result = verify(
            proof,
            &Expect {
                htm: self.htm,
                htu: &self.htu,
                access_token: self.access_token,
                nonce: None,
                max_skew_secs: 5,
            },
        )
        .map(|p| p.jkt);
        if let Some(at) = self.access_token {
            let auth = request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            if auth != Some(&format!("DPoP {at}")) {
                result = Err(format!("authorization {auth:?}"));
            }
        }
        let ok = result.is_ok();
        self.seen.lock().unwrap().push(result);
        if ok {
            self.answer.clone()
        } else {
            ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_dpop_proof"}))
        }
    }
}

/// A refresh's failure as the refresh saw it (queued callers get it shared).
fn unshared(e: &Error) -> &Error {
    match e {
        Error::Shared(inner) => inner,
        other => other,
    }
}

fn dpop_token(access: &str, refresh: Option<&str>) -> serde_json::Value {
    let mut v = json!({"access_token": access, "token_type": "DPoP", "expires_in": 3600});
    if let Some(rt) = refresh {
        v["refresh_token"] = json!(rt);
    }
    v
}

async fn dpop_server() -> MockServer {
    let server = MockServer::start().await;
    mount_discovery(
        &server,
        json!({"dpop_signing_alg_values_supported": ["EdDSA", "ES256"]}),
    )
    .await;
    server
}

fn session_for(server: &MockServer, policy: DpopPolicy) -> (Session, Arc<MemoryStore>) {
    let mut config = fake_config(&server.uri());
    config.dpop = policy;
    let store = Arc::new(MemoryStore::new());
    (Session::new(config, store.clone()).unwrap(), store)
}

fn checked(
    server: &MockServer,
    htm: &'static str,
    route: &str,
    access_token: Option<&'static str>,
    answer: ResponseTemplate,
    seen: &Arc<Mutex<Vec<Result<String, String>>>>,
) -> Checked {
    Checked {
        htm,
        htu: format!("{}{route}", server.uri()),
        access_token,
        answer,
        seen: seen.clone(),
    }
}

#[tokio::test]
async fn every_proof_of_a_session_passes_the_test_side_verifier_and_names_one_key() {
    let server = dpop_server().await;
    let seen = Arc::default();
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(checked(
            &server,
            "POST",
            "/token",
            None,
            ResponseTemplate::new(200).set_body_json(dpop_token("at-1", Some("rt-1"))),
            &seen,
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(checked(
            &server,
            "POST",
            "/token",
            None,
            ResponseTemplate::new(200).set_body_json(dpop_token("at-2", Some("rt-2"))),
            &seen,
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/items"))
        .respond_with(checked(
            &server,
            "GET",
            "/api/items",
            Some("at-2"),
            ResponseTemplate::new(200).set_body_string("ok"),
            &seen,
        ))
        .mount(&server)
        .await;

    let (session, store) = session_for(&server, DpopPolicy::Auto);
    let browser = InstantApproval::new(&server.uri());
    let status = session.sign_in(&browser).await.unwrap();
    assert!(status.key_bound);
    session.refresh().await.unwrap();
    let url: Url = format!("{}/api/items?page=2#top", server.uri())
        .parse()
        .unwrap();
    assert_eq!(session.get(&url).await.unwrap().status, 200);

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    let jkts: Vec<String> = seen.into_iter().map(|r| r.unwrap()).collect();
    assert!(jkts.iter().all(|j| *j == jkts[0]), "{jkts:?}");
    // The authorization request bound the code to the same key (RFC 9449 §10).
    assert_eq!(browser.param("dpop_jkt").as_deref(), Some(jkts[0].as_str()));
    // The key is stored with the session; its Debug output hides it.
    let stored = store.load().unwrap().unwrap();
    let material = stored.dpop_key.clone().expect("the key is stored");
    assert!(!format!("{stored:?}").contains(material.d.expose()));
}

#[tokio::test]
async fn invalid_dpop_proof_at_refresh_is_a_dpop_error_that_keeps_the_session() {
    let server = dpop_server().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(dpop_token("at-1", Some("rt-1"))))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(
                json!({"error": "invalid_dpop_proof", "error_description": "bad htu"}),
            ),
        )
        .mount(&server)
        .await;
    let (session, store) = session_for(&server, DpopPolicy::Auto);
    session
        .sign_in(&InstantApproval::new(&server.uri()))
        .await
        .unwrap();
    let err = session.refresh().await.unwrap_err();
    assert!(
        matches!(
            unshared(&err),
            Error::Dpop(DpopError::ProofRejected { endpoint: Endpoint::Token, description: Some(d) }) if d == "bad htu"
        ),
        "{err:?}"
    );
    assert_eq!(session.status().state, SessionState::SignedIn);
    assert_eq!(stored_rt(&*store).as_deref(), Some("rt-1"));
}

#[tokio::test]
async fn a_bearer_token_where_a_bound_one_was_asked_for_is_refused_at_sign_in() {
    let server = dpop_server().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "at-1", "token_type": "Bearer", "refresh_token": "rt-1"}),
        ))
        .mount(&server)
        .await;
    let (session, store) = session_for(&server, DpopPolicy::Auto);
    let err = session
        .sign_in(&InstantApproval::new(&server.uri()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Dpop(DpopError::TokenTypeMismatch { asked: "DPoP", issued }) if issued == "Bearer"),
        "{err:?}"
    );
    assert_eq!(session.status().state, SessionState::SignedOut);
    assert!(store.load().unwrap().is_none());
}

#[tokio::test]
async fn a_dpop_token_when_dpop_is_off_is_refused_and_no_proof_was_sent() {
    let server = dpop_server().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(dpop_token("at-1", Some("rt-1"))))
        .mount(&server)
        .await;
    let (session, _store) = session_for(&server, DpopPolicy::Off);
    let browser = InstantApproval::new(&server.uri());
    let err = session.sign_in(&browser).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Dpop(DpopError::TokenTypeMismatch {
                asked: "Bearer",
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(browser.param("dpop_jkt"), None);
    let requests = server.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| !r.headers.contains_key("dpop")));
}

#[tokio::test]
async fn a_bearer_answer_to_a_bound_refresh_stores_the_rotated_token_first_and_keeps_the_session() {
    let server = dpop_server().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(dpop_token("at-1", Some("rt-1"))))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "at-2", "token_type": "Bearer", "refresh_token": "rt-2"}),
        ))
        .mount(&server)
        .await;
    let (session, store) = session_for(&server, DpopPolicy::Auto);
    session
        .sign_in(&InstantApproval::new(&server.uri()))
        .await
        .unwrap();
    let err = session.refresh().await.unwrap_err();
    assert!(
        matches!(
            unshared(&err),
            Error::Dpop(DpopError::TokenTypeMismatch { .. })
        ),
        "{err:?}"
    );
    assert_eq!(stored_rt(&*store).as_deref(), Some("rt-2"));
    assert_eq!(session.status().state, SessionState::SignedIn);
}

#[tokio::test]
async fn dpop_required_refuses_a_provider_that_offers_neither_es256_nor_eddsa_and_auto_goes_without(
) {
    let server = MockServer::start().await;
    mount_discovery(
        &server,
        json!({"dpop_signing_alg_values_supported": ["RS256", "PS256"]}),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "at-1", "token_type": "Bearer", "refresh_token": "rt-1"}),
        ))
        .mount(&server)
        .await;
    let (required, _) = session_for(&server, DpopPolicy::Required);
    let err = required
        .sign_in(&InstantApproval::new(&server.uri()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Dpop(DpopError::NotOffered { offered }) if offered == "RS256, PS256"),
        "{err:?}"
    );

    let (auto, _) = session_for(&server, DpopPolicy::Auto);
    let status = auto
        .sign_in(&InstantApproval::new(&server.uri()))
        .await
        .unwrap();
    assert!(!status.key_bound);
    let requests = server.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| !r.headers.contains_key("dpop")));
}

/// Answers every request with a `use_dpop_nonce` challenge carrying a new nonce.
struct NonceForever {
    count: AtomicUsize,
    status: u16,
}

impl Respond for NonceForever {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.count.fetch_add(1, Ordering::SeqCst);
        let template =
            ResponseTemplate::new(self.status).insert_header("dpop-nonce", format!("nonce-{n}"));
        if self.status == 401 {
            template.insert_header("www-authenticate", r#"DPoP error="use_dpop_nonce""#)
        } else {
            template.set_body_json(json!({"error": "use_dpop_nonce"}))
        }
    }
}

#[tokio::test]
async fn a_token_endpoint_demanding_nonces_forever_gets_one_retry_then_a_typed_error() {
    let server = dpop_server().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(dpop_token("at-1", Some("rt-1"))))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(NonceForever {
            count: AtomicUsize::new(0),
            status: 400,
        })
        .expect(2)
        .mount(&server)
        .await;
    let (session, store) = session_for(&server, DpopPolicy::Auto);
    session
        .sign_in(&InstantApproval::new(&server.uri()))
        .await
        .unwrap();
    let err = session.refresh().await.unwrap_err();
    assert!(
        matches!(
            unshared(&err),
            Error::Dpop(DpopError::NonceDemandedAgain {
                endpoint: Endpoint::Token
            })
        ),
        "{err:?}"
    );
    // A use_dpop_nonce 400 is not a refusal of the grant: the session and its token stay.
    assert_eq!(session.status().state, SessionState::SignedIn);
    assert_eq!(stored_rt(&*store).as_deref(), Some("rt-1"));
    server.verify().await;
}

#[tokio::test]
async fn an_api_demanding_nonces_forever_gets_one_retry_then_a_typed_error() {
    let server = dpop_server().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(dpop_token("at-1", Some("rt-1"))))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api"))
        .respond_with(NonceForever {
            count: AtomicUsize::new(0),
            status: 401,
        })
        .expect(2)
        .mount(&server)
        .await;
    let (session, _) = session_for(&server, DpopPolicy::Auto);
    session
        .sign_in(&InstantApproval::new(&server.uri()))
        .await
        .unwrap();
    let url: Url = format!("{}/api", server.uri()).parse().unwrap();
    let err = session.get(&url).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Dpop(DpopError::NonceDemandedAgain {
                endpoint: Endpoint::Api
            })
        ),
        "{err:?}"
    );
    assert_eq!(session.status().state, SessionState::SignedIn);
    server.verify().await;
}

#[tokio::test]
async fn a_provider_offering_only_eddsa_gets_ed25519_proofs_that_verify() {
    let server = MockServer::start().await;
    mount_discovery(
        &server,
        json!({"dpop_signing_alg_values_supported": ["EdDSA"]}),
    )
    .await;
    let seen = Arc::default();
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(checked(
            &server,
            "POST",
            "/token",
            None,
            ResponseTemplate::new(200).set_body_json(dpop_token("at-1", Some("rt-1"))),
            &seen,
        ))
        .mount(&server)
        .await;
    let (session, store) = session_for(&server, DpopPolicy::Required);
    let browser = InstantApproval::new(&server.uri());
    assert!(session.sign_in(&browser).await.unwrap().key_bound);
    session.refresh().await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let jkt = seen[0].clone().unwrap();
    assert_eq!(seen[1].clone().unwrap(), jkt);
    assert_eq!(browser.param("dpop_jkt"), Some(jkt));
    assert_eq!(
        store
            .load()
            .unwrap()
            .unwrap()
            .dpop_key
            .as_ref()
            .unwrap()
            .alg,
        "EdDSA"
    );
}

#[tokio::test]
async fn dpop_required_ends_a_stored_session_without_its_key_instead_of_refreshing_unbound() {
    let server = dpop_server().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(dpop_token("at-1", Some("rt-1"))))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "at-unbound", "token_type": "Bearer", "expires_in": 60
        })))
        .expect(0)
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
    assert!(!resumed.resume().await.unwrap().key_bound);
    let err = resumed.refresh().await.unwrap_err();
    assert!(
        matches!(
            unshared(&err),
            Error::ReauthRequired(ReauthReason::DpopKeyMissing)
        ),
        "{err:?}"
    );
    assert_eq!(resumed.status().state, SessionState::ReauthRequired);
}

#[tokio::test]
async fn a_post_with_a_body_carries_a_proof_for_post_and_its_url_and_the_body_as_given() {
    let server = dpop_server().await;
    let seen = Arc::default();
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(dpop_token("at-1", Some("rt-1"))))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/items"))
        .and(wiremock::matchers::header(
            "content-type",
            "application/json",
        ))
        .and(wiremock::matchers::body_string(r#"{"name":"new"}"#))
        .respond_with(checked(
            &server,
            "POST",
            "/api/items",
            Some("at-1"),
            ResponseTemplate::new(201).set_body_string("created"),
            &seen,
        ))
        .expect(1)
        .mount(&server)
        .await;

    let (session, _store) = session_for(&server, DpopPolicy::Auto);
    session
        .sign_in(&InstantApproval::new(&server.uri()))
        .await
        .unwrap();
    let url: Url = format!("{}/api/items", server.uri()).parse().unwrap();
    let request = latchkey_core::ApiRequest::new("post", url)
        .unwrap()
        .with_body("application/json", br#"{"name":"new"}"#.to_vec())
        .unwrap();
    let response = session.request(&request).await.unwrap();
    assert_eq!(
        (response.status, response.body.as_slice()),
        (201, &b"created"[..])
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].is_ok(),
        "the proof for POST failed the verifier: {seen:?}"
    );
}
