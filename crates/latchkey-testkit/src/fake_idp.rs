//! A plain OAuth server on wiremock (scope without `openid`, so no ID token) with a session or a
//! facade signed in against it: the fixture for hostile-response, refresh-policy and facade
//! scenarios. Its "browser" ([`InstantApproval`]) sends the callback straight to the loopback
//! listener.

use std::path::Path;
use std::sync::Arc;

use latchkey::{Config, Latchkey, MemoryStore, PartialConfig, SecretStore, Session};
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::InstantApproval;

/// Serves OpenID Provider metadata on a fake server: the server's URI as issuer, `/auth` and
/// `/token` endpoints, S256 PKCE, plus the fields in `extra` (e.g. `jwks_uri`,
/// `revocation_endpoint`, `authorization_response_iss_parameter_supported`).
pub async fn mount_discovery(server: &MockServer, extra: serde_json::Value) {
    let issuer = server.uri();
    let mut metadata = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "code_challenge_methods_supported": ["S256"],
    });
    if let (Some(target), Some(fields)) = (metadata.as_object_mut(), extra.as_object()) {
        target.extend(fields.clone());
    }
    Mock::given(path("/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(metadata))
        .mount(server)
        .await;
}

/// A token response body: Bearer, `expires_in`, and a refresh token when given.
pub fn token_json(access: &str, refresh: Option<&str>, expires_in: i64) -> serde_json::Value {
    let mut v = json!({"access_token": access, "token_type": "Bearer", "expires_in": expires_in});
    if let Some(rt) = refresh {
        v["refresh_token"] = json!(rt);
    }
    v
}

/// A `200` whose body is [`token_json`].
pub fn token_response(access: &str, refresh: Option<&str>, expires_in: i64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(token_json(access, refresh, expires_in))
}

/// The fake's client configuration: short HTTP timeout, 64 KiB response cap.
pub fn fake_config(issuer: &str) -> Config {
    PartialConfig {
        issuer: Some(issuer.to_owned()),
        client_id: Some("app".into()),
        scopes: Some(vec!["profile".into(), "offline_access".into()]),
        http_timeout_secs: Some(2),
        max_response_bytes: Some(64 * 1024),
        ..Default::default()
    }
    .finish()
    .expect("the fake's configuration is valid")
}

/// Matches refresh-grant requests to the fake's token endpoint.
pub fn refresh_mock() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
}

/// How many requests `server` received whose body contains `needle`.
pub async fn requests_containing(server: &MockServer, needle: &str) -> usize {
    server
        .received_requests()
        .await
        .expect("the server records requests")
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains(needle))
        .count()
}

/// The refresh token a store holds, if any.
pub fn stored_rt(store: &dyn SecretStore) -> Option<String> {
    store
        .load()
        .expect("the store loads")
        .map(|s| s.refresh_token.secret().clone())
}

/// A session signed in (`access`, `rt-1`, `expires_in`) against a fresh fake; the refresh mocks
/// are the test's own.
pub struct FakeIdp<S = MemoryStore> {
    /// The fake server (discovery, the code exchange, revocation at `/revoke`).
    pub server: MockServer,
    /// The signed-in session.
    pub session: Session,
    /// Its store.
    pub store: Arc<S>,
}

impl FakeIdp<MemoryStore> {
    /// Signed in over an in-memory store.
    pub async fn signed_in(access: &str, expires_in: i64) -> Self {
        Self::signed_in_over(Arc::new(MemoryStore::new()), access, expires_in).await
    }
}

impl<S: SecretStore + 'static> FakeIdp<S> {
    /// Signed in over `store`.
    pub async fn signed_in_over(store: Arc<S>, access: &str, expires_in: i64) -> Self {
        let server = MockServer::start().await;
        let issuer = server.uri();
        mount_discovery(
            &server,
            json!({"revocation_endpoint": format!("{issuer}/revoke"), "authorization_response_iss_parameter_supported": true}),
        )
        .await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains("grant_type=authorization_code"))
            .and(body_string_contains("code_verifier="))
            .respond_with(ResponseTemplate::new(200).set_body_json(token_json(
                access,
                Some("rt-1"),
                expires_in,
            )))
            .expect(1)
            .mount(&server)
            .await;
        let session =
            Session::new(fake_config(&issuer), store.clone()).expect("a session for the fake");
        session
            .sign_in(&InstantApproval::new(&issuer))
            .await
            .expect("signed in against the fake");
        Self {
            server,
            session,
            store,
        }
    }
}

/// The PIN protector at the OWASP-minimum cost (fast tests).
pub fn fast_pin_protector() -> Arc<latchkey::PinProtector> {
    Arc::new(latchkey::PinProtector::with_params(
        latchkey::vault::KdfParams::OWASP_MINIMUM,
    ))
}

/// The user's PIN in these tests.
pub fn test_pin() -> latchkey::Credential {
    latchkey::Credential::Pin("test-pin-2468".to_owned().into())
}

/// A fake IdP (discovery and a code exchange answering `token_response`); refreshes are the
/// test's own. Returns the server and its issuer.
pub async fn idp_issuing(token_response: serde_json::Value) -> (MockServer, String) {
    let server = MockServer::start().await;
    let issuer = server.uri();
    mount_discovery(&server, json!({})).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_response))
        .mount(&server)
        .await;
    (server, issuer)
}

/// The facade for the fake at `issuer`, its vault in `dir`, with the fast PIN protector.
pub fn open_latchkey(issuer: &str, dir: &Path) -> Latchkey {
    Latchkey::open(fake_config(issuer), dir, fast_pin_protector()).expect("the facade opens")
}

/// [`open_latchkey`], signed in with [`test_pin`] through [`InstantApproval`].
pub async fn signed_in_latchkey(issuer: &str, dir: &Path) -> Latchkey {
    let latchkey = open_latchkey(issuer, dir);
    latchkey
        .sign_in(test_pin(), &InstantApproval::new(issuer))
        .await
        .expect("signed in against the fake");
    latchkey
}
