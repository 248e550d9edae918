//! ID token validation against a fake OpenID provider that signs what the test tells it to:
//! signature, `iss`, `aud`, `exp`, nonce at sign-in; OIDC Core §12.2 on refresh; JWKS rotation.
//! Nothing a failed check touches is stored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use chrono::{Duration as ChronoDuration, Utc};
use latchkey_core::{
    Error, ErrorKind, MemoryStore, PartialConfig, SecretStore, Session, SessionState,
};
use latchkey_testkit::InstantApproval;
use openidconnect::core::{
    CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, EmptyAdditionalClaims, IssuerUrl, JsonWebKeyId, Nonce, PrivateSigningKey,
    StandardClaims, SubjectIdentifier,
};
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = include_str!("fixtures/test-signing-key.pem");
const OTHER_KEY: &str = include_str!("fixtures/other-signing-key.pem");

fn key(pem: &str, kid: &str) -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(kid.into()))).unwrap()
}

/// How to mint the next ID token.
#[derive(Clone)]
struct Mint {
    pem: &'static str,
    kid: &'static str,
    issuer: Option<String>,
    audience: String,
    subject: String,
    /// None: copy the nonce of the authorization request. Some(None): no nonce.
    nonce: Option<Option<String>>,
    expires_in: i64,
    /// Seconds before now the user authenticated (None: no `auth_time`).
    auth_age: Option<i64>,
}

impl Mint {
    /// `auth_time` as a whole second, the same on every token minted with the same `auth_age`
    /// within a test (it counts from a fixed instant).
    fn auth_at(&self) -> Option<chrono::DateTime<Utc>> {
        static EPOCH: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
        let base = *EPOCH.get_or_init(|| Utc::now().timestamp());
        self.auth_age
            .and_then(|age| chrono::DateTime::from_timestamp(base - age, 0))
    }

    fn good() -> Self {
        Self {
            pem: KEY,
            kid: "k1",
            issuer: None,
            audience: "app".into(),
            subject: "alice".into(),
            nonce: None,
            expires_in: 300,
            auth_age: None,
        }
    }
}

struct Op {
    server: MockServer,
    issuer: String,
    browser: InstantApproval,
    mint: Arc<Mutex<Mint>>,
}

impl Op {
    async fn start(jwks_kids: &[(&'static str, &'static str)]) -> Self {
        Self::start_with(jwks_kids, json!({})).await
    }

    /// Starts the provider with extra metadata fields (`/userinfo` here unless overridden).
    async fn start_with(
        jwks_kids: &[(&'static str, &'static str)],
        extra: serde_json::Value,
    ) -> Self {
        let server = MockServer::start().await;
        let issuer = server.uri();
        let mut metadata = json!({
            "jwks_uri": format!("{issuer}/jwks"),
            "userinfo_endpoint": format!("{issuer}/userinfo"),
            "authorization_response_iss_parameter_supported": true,
        });
        if let (Some(m), Some(e)) = (metadata.as_object_mut(), extra.as_object()) {
            m.extend(e.clone());
        }
        let keys = jwks_kids
            .iter()
            .map(|(pem, kid)| key(pem, kid).as_verification_key())
            .collect();
        let jwks = serde_json::to_value(CoreJsonWebKeySet::new(keys)).unwrap();
        latchkey_testkit::mount_discovery(&server, metadata).await;
        Mock::given(path("/jwks"))
            .respond_with(ResponseTemplate::new(200).set_body_json(jwks))
            .mount(&server)
            .await;
        let browser = InstantApproval::new(&issuer);
        let mint = Arc::new(Mutex::new(Mint::good()));
        for (grant, rt) in [("authorization_code", "rt-1"), ("refresh_token", "rt-2")] {
            let mint = mint.clone();
            let browser = browser.clone();
            let issuer = issuer.clone();
            Mock::given(method("POST"))
                .and(path("/token"))
                .and(body_string_contains(format!("grant_type={grant}")))
                .respond_with(move |_: &Request| {
                    let m = mint.lock().unwrap().clone();
                    let nonce = match &m.nonce {
                        None => browser.param("nonce"),
                        Some(n) => n.clone(),
                    };
                    let claims = CoreIdTokenClaims::new(
                        IssuerUrl::new(m.issuer.clone().unwrap_or_else(|| issuer.clone())).unwrap(),
                        vec![Audience::new(m.audience.clone())],
                        Utc::now() + ChronoDuration::seconds(m.expires_in),
                        Utc::now() - ChronoDuration::seconds(5),
                        StandardClaims::new(SubjectIdentifier::new(m.subject.clone())),
                        EmptyAdditionalClaims {},
                    )
                    .set_nonce(nonce.map(Nonce::new))
                    .set_auth_time(m.auth_at());
                    let id_token = CoreIdToken::new(
                        claims,
                        &key(m.pem, m.kid),
                        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                        None,
                        None,
                    )
                    .unwrap();
                    ResponseTemplate::new(200).set_body_json(json!({
                        "access_token": format!("at-{rt}"),
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "refresh_token": rt,
                        "id_token": id_token.to_string(),
                    }))
                })
                .mount(&server)
                .await;
        }
        Self {
            server,
            issuer,
            browser,
            mint,
        }
    }

    fn set(&self, f: impl FnOnce(&mut Mint)) {
        f(&mut self.mint.lock().unwrap());
    }

    fn session(&self) -> (Session, Arc<MemoryStore>) {
        let config = PartialConfig {
            issuer: Some(self.issuer.clone()),
            client_id: Some("app".into()),
            http_timeout_secs: Some(2),
            max_response_bytes: Some(64 * 1024),
            ..Default::default()
        }
        .finish()
        .unwrap();
        let store = Arc::new(MemoryStore::new());
        (Session::new(config, store.clone()).unwrap(), store)
    }
}

async fn sign_in_with(
    mint: impl FnOnce(&mut Mint),
) -> (Result<(), Error>, Arc<MemoryStore>, Session) {
    let op = Op::start(&[(KEY, "k1")]).await;
    op.set(mint);
    let (session, store) = op.session();
    let result = session.sign_in(&op.browser).await.map(|_| ());
    (result, store, session)
}

#[tokio::test]
async fn a_correctly_signed_id_token_signs_the_user_in() {
    let (result, store, session) = sign_in_with(|_| {}).await;
    result.unwrap();
    assert_eq!(session.status().subject.as_deref(), Some("alice"));
    assert!(store.load().unwrap().unwrap().id_token.is_some());
}

type Tamper = Box<dyn FnOnce(&mut Mint) + Send>;

/// ID tokens that must be refused at sign-in and on refresh alike.
fn forged_id_tokens() -> Vec<(&'static str, Tamper)> {
    vec![
        ("signed by another key", Box::new(|m| m.pem = OTHER_KEY)),
        (
            "wrong audience",
            Box::new(|m| m.audience = "someone-else".into()),
        ),
        (
            "wrong issuer",
            Box::new(|m| m.issuer = Some("https://evil.example".into())),
        ),
        ("expired", Box::new(|m| m.expires_in = -3600)),
    ]
}

#[tokio::test]
async fn bad_id_tokens_at_sign_in_are_rejected_and_nothing_is_stored() {
    let mut cases = forged_id_tokens();
    cases.push((
        "wrong nonce",
        Box::new(|m| m.nonce = Some(Some("replayed".into()))),
    ));
    cases.push(("missing nonce", Box::new(|m| m.nonce = Some(None))));
    for (name, mint) in cases {
        let (result, store, session) = sign_in_with(mint).await;
        let err = result.expect_err(name);
        assert!(matches!(err, Error::IdTokenInvalid(_)), "{name}: {err:?}");
        assert!(store.load().unwrap().is_none(), "{name}: nothing stored");
        assert_eq!(session.status().state, SessionState::SignedOut, "{name}");
    }
}

#[tokio::test]
async fn a_refreshed_id_token_for_another_subject_is_rejected_but_the_rotated_refresh_token_is_kept(
) {
    let op = Op::start(&[(KEY, "k1")]).await;
    let (session, store) = op.session();
    session.sign_in(&op.browser).await.unwrap();
    let access_before = session.fresh_access_token().await.unwrap();
    op.set(|m| m.subject = "mallory".into());
    let err = session.refresh().await.unwrap_err();
    assert!(err.to_string().contains("another subject"), "{err}");
    // The server rotated: rt-1 is dead there, so rt-2 was stored before the ID token was judged.
    let stored = store.load().unwrap().unwrap();
    assert_eq!(stored.refresh_token.secret(), "rt-2");
    // Nothing else from the rejected response was accepted.
    assert_eq!(stored.subject.as_deref(), Some("alice"));
    assert_eq!(session.status().subject.as_deref(), Some("alice"));
    assert_eq!(
        session.fresh_access_token().await.unwrap().secret(),
        access_before.secret()
    );
    assert_eq!(session.status().state, SessionState::SignedIn);
}

#[tokio::test]
async fn bad_id_tokens_on_refresh_are_typed_errors_and_the_rotated_refresh_token_is_kept() {
    let cases = forged_id_tokens();
    for (name, tamper) in cases {
        let op = Op::start(&[(KEY, "k1")]).await;
        let (session, store) = op.session();
        session.sign_in(&op.browser).await.unwrap();
        let access_before = session.fresh_access_token().await.unwrap();
        op.set(tamper);

        let err = session.refresh().await.unwrap_err();

        // (A refresh's error reaches every caller waiting on it, hence `Shared`.)
        let err = match err {
            Error::Shared(inner) => inner,
            other => std::sync::Arc::new(other),
        };
        assert!(matches!(*err, Error::IdTokenInvalid(_)), "{name}: {err:?}");
        // The server rotated, so its new refresh token was stored before the ID token was
        // judged; nothing else from the response was taken.
        let stored = store.load().unwrap().unwrap();
        assert_eq!(stored.refresh_token.secret(), "rt-2", "{name}");
        assert_eq!(
            session.fresh_access_token().await.unwrap().secret(),
            access_before.secret(),
            "{name}"
        );
        assert_eq!(session.status().state, SessionState::SignedIn, "{name}");
    }
}

#[tokio::test]
async fn a_refreshed_id_token_may_omit_the_nonce_but_not_change_it() {
    let op = Op::start(&[(KEY, "k1")]).await;
    let (session, _store) = op.session();
    session.sign_in(&op.browser).await.unwrap();

    op.set(|m| m.nonce = Some(None));
    session
        .refresh()
        .await
        .expect("no nonce on refresh is fine (OIDC Core §12.2)");

    op.set(|m| m.nonce = None); // the original nonce again
    session.refresh().await.expect("the original nonce is fine");

    op.set(|m| m.nonce = Some(Some("different".into())));
    let err = session.refresh().await.unwrap_err();
    assert!(
        matches!(err.kind(), latchkey_core::ErrorKind::Protocol),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_id_token_signed_with_a_rotated_key_is_accepted_after_refetching_the_jwks() {
    let op = Op::start(&[(KEY, "k1")]).await;
    let (session, _store) = op.session();
    session.sign_in(&op.browser).await.unwrap();
    // The server rotates its signing key: JWKS now has k2, and tokens are signed with it.
    op.server.reset().await;
    let jwks = serde_json::to_value(CoreJsonWebKeySet::new(vec![
        key(KEY, "k1").as_verification_key(),
        key(OTHER_KEY, "k2").as_verification_key(),
    ]))
    .unwrap();
    remount_with_key(&op, jwks, OTHER_KEY, "k2").await;
    session
        .refresh()
        .await
        .expect("refetches the JWKS on an unknown kid");
}

async fn remount_with_key(op: &Op, jwks: serde_json::Value, pem: &'static str, kid: &'static str) {
    let issuer = op.issuer.clone();
    Mock::given(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks))
        .expect(1)
        .mount(&op.server)
        .await;
    let nonce = op.browser.param("nonce");
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(move |_: &Request| {
            let claims = CoreIdTokenClaims::new(
                IssuerUrl::new(issuer.clone()).unwrap(),
                vec![Audience::new("app".into())],
                Utc::now() + ChronoDuration::seconds(300),
                Utc::now(),
                StandardClaims::new(SubjectIdentifier::new("alice".into())),
                EmptyAdditionalClaims {},
            )
            .set_nonce(nonce.clone().map(Nonce::new));
            let id_token = CoreIdToken::new(
                claims,
                &key(pem, kid),
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                None,
                None,
            )
            .unwrap();
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "at-3", "token_type": "Bearer", "expires_in": 300,
                "id_token": id_token.to_string(),
            }))
        })
        .mount(&op.server)
        .await;
}

#[tokio::test]
async fn hostile_userinfo_responses_are_typed_errors_and_the_session_is_kept() {
    let huge = format!(
        "{{\"sub\":\"alice\",\"name\":\"{}\"}}",
        "a".repeat(200 * 1024)
    );
    let cases: Vec<(&str, ResponseTemplate, ErrorKind)> = vec![
        (
            "HTML 500",
            ResponseTemplate::new(500).set_body_raw("<html><h1>oops</h1></html>", "text/html"),
            ErrorKind::Transient,
        ),
        (
            "truncated JSON",
            ResponseTemplate::new(200).set_body_raw("{\"sub\":\"ali", "application/json"),
            ErrorKind::Protocol,
        ),
        (
            "huge JSON",
            ResponseTemplate::new(200).set_body_raw(huge, "application/json"),
            ErrorKind::Protocol,
        ),
        (
            "a JSON array",
            ResponseTemplate::new(200).set_body_json(json!([{"sub": "alice"}])),
            ErrorKind::Protocol,
        ),
        (
            "another user's claims (OIDC Core §5.3.4)",
            ResponseTemplate::new(200).set_body_json(json!({"sub": "mallory", "name": "Mallory"})),
            ErrorKind::Protocol,
        ),
        (
            "claims without sub",
            ResponseTemplate::new(200).set_body_json(json!({"name": "Alice"})),
            ErrorKind::Protocol,
        ),
        (
            "HTML 403",
            ResponseTemplate::new(403).set_body_raw("<html>no</html>", "text/html"),
            ErrorKind::Protocol,
        ),
    ];
    let tried = cases.len();
    for (name, response, kind) in cases {
        let op = Op::start(&[(KEY, "k1")]).await;
        Mock::given(path("/userinfo"))
            .respond_with(response)
            .mount(&op.server)
            .await;
        let (session, store) = op.session();
        session.sign_in(&op.browser).await.unwrap();

        let err = session.userinfo().await.unwrap_err();

        assert_eq!(err.kind(), kind, "{name}: {err:?}");
        assert!(!err.to_string().contains("oops"), "{name}: {err}");
        assert!(!err.to_string().contains("Mallory"), "{name}: {err}");
        assert_eq!(
            store.load().unwrap().unwrap().refresh_token.secret(),
            "rt-1",
            "{name}"
        );
        assert_eq!(session.status().state, SessionState::SignedIn, "{name}");
        assert_eq!(
            session.status().display_name,
            None,
            "{name}: nothing adopted"
        );
    }
    println!(
        "hostile userinfo suite: {tried} responses tried, {tried} typed errors, session kept {tried}/{tried}"
    );
}

#[tokio::test]
async fn a_slow_drip_userinfo_response_times_out_as_transient() {
    let drip = latchkey_testkit::DripServer::start("never", json!({})).await;
    let op = Op::start_with(
        &[(KEY, "k1")],
        json!({"userinfo_endpoint": format!("{}/userinfo", drip.url)}),
    )
    .await;
    let (session, store) = op.session();
    session.sign_in(&op.browser).await.unwrap();

    let err = session.userinfo().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Transient, "{err:?}");
    assert!(store.load().unwrap().is_some());
    assert_eq!(session.status().state, SessionState::SignedIn);
}

#[tokio::test]
async fn a_refreshed_id_token_may_repeat_the_auth_time_but_not_change_it() {
    let op = Op::start(&[(KEY, "k1")]).await;
    op.set(|m| m.auth_age = Some(60));
    let (session, store) = op.session();
    session.sign_in(&op.browser).await.unwrap();

    session
        .refresh()
        .await
        .expect("the original auth_time again is fine (OIDC Core §12.2)");
    op.set(|m| m.auth_age = None);
    session
        .refresh()
        .await
        .expect("no auth_time on refresh is fine");

    op.set(|m| m.auth_age = Some(0)); // "authenticated just now": a refresh is not a login
    let err = session.refresh().await.unwrap_err();
    assert!(err.to_string().contains("authentication time"), "{err}");
    assert_eq!(session.status().state, SessionState::SignedIn);
    assert!(store.load().unwrap().is_some(), "the session is kept");
}
