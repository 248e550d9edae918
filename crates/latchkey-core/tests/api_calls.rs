//! Calling the protected API through the session: a 401 forces one refresh and one retry, and the
//! access token is never sent to a plain-http URL off loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::Error;
use latchkey_testkit::fake_idp::{refresh_mock, stored_rt, token_response, FakeIdp};
use url::Url;
use wiremock::matchers::{header, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn a_401_from_the_api_forces_one_refresh_and_one_retry() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    refresh_mock()
        .respond_with(token_response("at-2", Some("rt-2"), 3600))
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(path("/api"))
        .and(header("authorization", "Bearer at-1"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Bearer error=\"invalid_token\""),
        )
        .expect(1)
        .mount(&fake.server)
        .await;
    Mock::given(path("/api"))
        .and(header("authorization", "Bearer at-2"))
        .respond_with(ResponseTemplate::new(200).set_body_string("hello"))
        .expect(1)
        .mount(&fake.server)
        .await;
    let url: Url = format!("{}/api", fake.server.uri()).parse().unwrap();
    let response = fake.session.get(&url).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"hello");
    assert_eq!(stored_rt(&*fake.store).as_deref(), Some("rt-2"));
    fake.server.verify().await;
}

#[tokio::test]
async fn the_access_token_is_never_sent_to_a_plain_http_url_off_loopback() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    let err = fake
        .session
        .get(&"http://api.example.com/data".parse().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InsecureUrl { .. }), "{err:?}");
}

/// Answers with the request's `Authorization` header in its body, as a debugging API does.
struct EchoHeaders;

impl wiremock::Respond for EchoHeaders {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({ "headers": { "authorization": auth } }))
    }
}

#[tokio::test]
async fn an_api_that_echoes_the_request_headers_gets_its_response_withheld_not_handed_on() {
    let fake = FakeIdp::signed_in("at-1-long-enough-to-be-real", 3600).await;
    Mock::given(path("/echo"))
        .respond_with(EchoHeaders)
        .expect(1)
        .mount(&fake.server)
        .await;
    let url: Url = format!("{}/echo", fake.server.uri()).parse().unwrap();
    let err = fake.session.get(&url).await.unwrap_err();
    assert!(matches!(err, Error::CredentialEchoed { .. }), "{err:?}");
    assert!(!err.to_string().contains("at-1"), "{err}");
    // The session is kept: the API misbehaved, the token didn't.
    assert_eq!(
        fake.session.status().state,
        latchkey_core::SessionState::SignedIn
    );
}

#[tokio::test]
async fn a_put_answered_401_is_sent_again_once_with_its_method_and_body_after_one_refresh() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    refresh_mock()
        .respond_with(token_response("at-2", Some("rt-2"), 3600))
        .expect(1)
        .mount(&fake.server)
        .await;
    let put = || {
        Mock::given(wiremock::matchers::method("PUT"))
            .and(path("/api/items/7"))
            .and(header("content-type", "text/plain"))
            .and(wiremock::matchers::body_string("renamed"))
    };
    put()
        .and(header("authorization", "Bearer at-1"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&fake.server)
        .await;
    put()
        .and(header("authorization", "Bearer at-2"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&fake.server)
        .await;
    let url: Url = format!("{}/api/items/7", fake.server.uri())
        .parse()
        .unwrap();
    let request = latchkey_core::ApiRequest::new("PUT", url)
        .unwrap()
        .with_body("text/plain", b"renamed".to_vec())
        .unwrap();
    assert_eq!(fake.session.request(&request).await.unwrap().status, 204);
    fake.server.verify().await;
}
