//! Signing in through a fixed loopback redirect port, for providers that compare redirect URIs
//! byte for byte (issue 14), against the fake IdP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, TcpListener};
use std::sync::Arc;

use latchkey_core::{MemoryStore, PartialConfig, Session, SessionState, SignOutOptions};
use latchkey_testkit::fake_idp::token_json;
use latchkey_testkit::InstantApproval;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A port free on 127.0.0.1 a moment ago: the system chose it, and it is released for the test.
fn free_port() -> u16 {
    let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    probe.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_sign_in_through_a_fixed_port_advertises_it_and_the_next_sign_in_reuses_it() {
    let port = free_port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let server = MockServer::start().await;
    let issuer = server.uri();
    latchkey_testkit::mount_discovery(
        &server,
        serde_json::json!({"authorization_response_iss_parameter_supported": true}),
    )
    .await;
    // A strict provider: the code exchange names exactly the registered redirect URI.
    let encoded: String = url::form_urlencoded::byte_serialize(redirect_uri.as_bytes()).collect();
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains(format!("redirect_uri={encoded}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json(
            "at-1",
            Some("rt-1"),
            3600,
        )))
        .expect(2)
        .mount(&server)
        .await;
    let config = PartialConfig {
        issuer: Some(issuer.clone()),
        client_id: Some("app".into()),
        scopes: Some(vec!["profile".into(), "offline_access".into()]),
        redirect_ports: Some(vec![port]),
        http_timeout_secs: Some(2),
        ..Default::default()
    }
    .finish()
    .unwrap();
    let session = Session::new(config, Arc::new(MemoryStore::new())).unwrap();

    let browser = InstantApproval::new(&issuer);
    session.sign_in(&browser).await.unwrap();
    assert_eq!(browser.param("redirect_uri"), Some(redirect_uri.clone()));
    assert_eq!(session.status().state, SessionState::SignedIn);

    // The same port at once for the next sign-in: the first one's closed connections don't
    // keep it busy.
    session.sign_out(SignOutOptions::default()).await.unwrap();
    let browser = InstantApproval::new(&issuer);
    session.sign_in(&browser).await.unwrap();
    assert_eq!(browser.param("redirect_uri"), Some(redirect_uri));
    assert_eq!(session.status().state, SessionState::SignedIn);
    server.verify().await;
}
