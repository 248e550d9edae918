//! DPoP against the real bundled IdP (oidc-provider with `features.dPoP`) and its demo API, which
//! verifies DPoP-bound access tokens (signature, htm, htu, ath, cnf.jkt, nonce).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::dpop::{DpopError, DpopKey, Proof};
use latchkey_core::error::Endpoint;
use latchkey_core::{Error, RevocationOutcome, SecretStore, SessionState, SignOutOptions};
use latchkey_testkit::fake_idp::stored_rt;
use latchkey_testkit::{login_driver, DevIdp};
use url::Url;

fn token_url(idp: &DevIdp) -> Url {
    format!("{}/token", idp.issuer).parse().unwrap()
}

/// The refresh tokens the dev IdP recorded issuing, oldest first.
fn recorded_refresh_tokens(record: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(record)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["kind"] == "refresh_token")
        .map(|r| r["value"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_dpop_session_signs_in_refreshes_with_rotation_and_calls_the_api_with_bound_tokens() {
    let idp = DevIdp::start(&[]);
    let (session, store) = idp.session();
    let status = session.sign_in(&login_driver("alice")).await.unwrap();
    assert!(status.key_bound);
    assert!(store.load().unwrap().unwrap().dpop_key.is_some());

    let api: Url = idp.api.parse().unwrap();
    let hello = session.get(&api).await.unwrap();
    assert_eq!(hello.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&hello.body).unwrap();
    assert_eq!(body["token_type"], "DPoP", "the API saw a bound token");

    let before = stored_rt(&*store).unwrap();
    let status = session.refresh().await.unwrap();
    assert_eq!(status.rotation_count, 1);
    assert!(status.key_bound);
    assert_ne!(before, stored_rt(&*store).unwrap());
    assert_eq!(session.get(&api).await.unwrap().status, 200);
    assert_eq!(session.userinfo().await.unwrap()["sub"], "alice");

    // The access token alone is useless: as a bearer token, or with another key's proof.
    let access = session.fresh_access_token().await.unwrap();
    let http = reqwest::Client::new();
    let as_bearer = http
        .get(api.clone())
        .bearer_auth(access.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(as_bearer.status(), 401);
    let thief = DpopKey::generate().unwrap();
    let proof = Proof::new("GET", &api)
        .access_token(access.secret())
        .sign(&thief)
        .unwrap();
    let with_other_key = http
        .get(api.clone())
        .header("authorization", format!("DPoP {}", access.secret()))
        .header("DPoP", proof)
        .send()
        .await
        .unwrap();
    assert_eq!(with_other_key.status(), 401);
}

#[tokio::test]
async fn a_recorded_refresh_token_is_refused_without_a_proof_or_with_another_keys_proof() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("idp-secrets.jsonl");
    let idp = DevIdp::start(&[("DEV_IDP_RECORD_SECRETS", record.to_str().unwrap())]);
    let (session, store) = idp.session();
    session.sign_in(&login_driver("alice")).await.unwrap();
    let stolen = recorded_refresh_tokens(&record).pop().unwrap();
    assert_eq!(Some(&stolen), stored_rt(&*store).as_ref());

    let (status, body) = idp.raw_refresh(&stolen, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );

    let thief = DpopKey::generate().unwrap();
    let proof = Proof::new("POST", &token_url(&idp)).sign(&thief).unwrap();
    let (status, body) = idp.raw_refresh(&stolen, Some(proof)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );

    // The same request with the session's own key is accepted: the key is what was missing.
    let material = store.load().unwrap().unwrap().dpop_key.clone().unwrap();
    let key = DpopKey::from_material(&material).unwrap();
    let proof = Proof::new("POST", &token_url(&idp)).sign(&key).unwrap();
    let (status, body) = idp.raw_refresh(&stolen, Some(proof)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
}

#[tokio::test]
async fn sign_out_revokes_the_bound_refresh_token_at_the_server() {
    let idp = DevIdp::start(&[]);
    let (session, store) = idp.session();
    session.sign_in(&login_driver("alice")).await.unwrap();
    let stored = store.load().unwrap().unwrap();
    let key = DpopKey::from_material(stored.dpop_key.as_ref().unwrap()).unwrap();

    let report = session.sign_out(SignOutOptions::default()).await.unwrap();
    assert_eq!(report.revocation, RevocationOutcome::Revoked);
    assert!(
        store.load().unwrap().is_none(),
        "the key went with the store"
    );

    // Even with a valid proof by its own key, the revoked token is dead.
    let proof = Proof::new("POST", &token_url(&idp)).sign(&key).unwrap();
    let (status, body) = idp
        .raw_refresh(stored.refresh_token.secret(), Some(proof))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

#[tokio::test]
async fn nonce_challenges_at_the_token_endpoint_and_the_api_each_cost_exactly_one_retry() {
    let idp = DevIdp::start(&[("DEV_IDP_DPOP_NONCE", "both")]);
    let (session, _store) = idp.session();
    session.sign_in(&login_driver("alice")).await.unwrap();
    // The code exchange: one challenge, one retry with the nonce.
    let stats = idp.stats().await;
    assert_eq!(stats["token_requests"], 2, "{stats}");
    assert_eq!(stats["grants"]["authorization_code"], 1, "{stats}");

    let api: Url = idp.api.parse().unwrap();
    assert_eq!(session.get(&api).await.unwrap().status, 200);
    assert_eq!(idp.stats().await["api_requests"], 2, "challenge + retry");
    assert_eq!(session.get(&api).await.unwrap().status, 200);
    assert_eq!(
        idp.stats().await["api_requests"],
        3,
        "the nonce was remembered"
    );

    // The token endpoint's nonce was remembered too: the refresh needs no challenge.
    session.refresh().await.unwrap();
    let stats = idp.stats().await;
    assert_eq!(stats["token_requests"], 3, "{stats}");
    assert_eq!(stats["grants"]["refresh_token"], 1, "{stats}");
}

#[tokio::test]
async fn a_dev_idp_demanding_new_nonces_forever_gets_one_retry_then_a_typed_error() {
    // The token endpoint: the code exchange gives up after one retry.
    let idp = DevIdp::start(&[("DEV_IDP_DPOP_NONCE", "token_forever")]);
    let (session, store) = idp.session();
    let err = session.sign_in(&login_driver("alice")).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Dpop(DpopError::NonceDemandedAgain {
                endpoint: Endpoint::Token
            })
        ),
        "{err:?}"
    );
    assert_eq!(idp.stats().await["token_requests"], 2);
    assert!(store.load().unwrap().is_none());

    // The API: one retry, then the error; the session stays.
    let idp = DevIdp::start(&[("DEV_IDP_DPOP_NONCE", "api_forever")]);
    let (session, _) = idp.session();
    session.sign_in(&login_driver("alice")).await.unwrap();
    let err = session.get(&idp.api.parse().unwrap()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Dpop(DpopError::NonceDemandedAgain {
                endpoint: Endpoint::Api
            })
        ),
        "{err:?}"
    );
    assert_eq!(idp.stats().await["api_requests"], 2);
    assert_eq!(session.status().state, SessionState::SignedIn);
}

#[tokio::test]
async fn a_session_whose_key_is_lost_or_unreadable_ends_at_its_next_refresh() {
    let idp = DevIdp::start(&[("DEV_IDP_ROTATE", "false")]);
    let (session, store) = idp.session();
    session.sign_in(&login_driver("alice")).await.unwrap();
    let stored = store.load().unwrap().unwrap();
    let unreadable = latchkey_core::dpop::DpopKeyMaterial {
        alg: "ES256".into(),
        d: latchkey_core::secret::SecretString::new("not-a-key".into()),
    };
    for key in [None, Some(unreadable)] {
        let mut copy = stored.clone();
        copy.dpop_key = key;
        let (resumed, copy_store) = idp.session();
        copy_store
            .save(&copy_store.lock_for_refresh().unwrap(), &copy)
            .unwrap();
        // Without its key the bound refresh token is useless: the server refuses it and the
        // session ends with "sign in again" instead of failing every call.
        assert!(!resumed.resume().await.unwrap().key_bound);
        let err = resumed.refresh().await.unwrap_err();
        assert!(err.requires_reauthentication(), "{err:?}");
        assert_eq!(resumed.status().state, SessionState::ReauthRequired);
    }
    // The original, with its key, still works (nothing above touched the grant).
    session.refresh().await.unwrap();
}

#[tokio::test]
async fn a_provider_offering_only_eddsa_binds_the_session_to_an_ed25519_key() {
    let idp = DevIdp::start(&[("DEV_IDP_DPOP_ALGS", "EdDSA")]);
    let (session, store) = idp.session();
    assert!(
        session
            .sign_in(&login_driver("alice"))
            .await
            .unwrap()
            .key_bound
    );
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
    let api: Url = idp.api.parse().unwrap();
    let hello = session.get(&api).await.unwrap();
    assert_eq!(hello.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&hello.body).unwrap();
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(session.refresh().await.unwrap().rotation_count, 1);
    assert_eq!(session.get(&api).await.unwrap().status, 200);
    assert_eq!(session.userinfo().await.unwrap()["sub"], "alice");
}
