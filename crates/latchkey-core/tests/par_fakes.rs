//! Pushed authorization requests (RFC 9126) against fake servers: the push carries the whole
//! request (with a DPoP proof and `dpop_jkt` when DPoP is on), the browser only `client_id` and
//! `request_uri`; a provider that requires pushes without an endpoint, a configuration that
//! requires them, and every hostile push answer fail closed, before any browser opens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use latchkey_core::config::{DpopPolicy, ParPolicy};
use latchkey_core::error::Endpoint;
use latchkey_core::{Error, MemoryStore, Session, SessionState, UserAgent, UserAgentError};
use latchkey_testkit::browsers::{form_encode, Recorder};
use latchkey_testkit::dpop::{verify, Expect};
use latchkey_testkit::fake_idp::{fake_config, mount_discovery, token_json};
use serde_json::json;
use url::Url;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Each push's body and DPoP header, in order.
type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// The push endpoint: keeps each pushed body and DPoP header, answers `answer`.
struct Pushed {
    answer: ResponseTemplate,
    seen: Log,
}

impl Respond for Pushed {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let proof = request
            .headers
            .get("dpop")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        self.seen
            .lock()
            .unwrap()
            .push((String::from_utf8_lossy(&request.body).into_owned(), proof));
        self.answer.clone()
    }
}

/// A browser for a pushed request: checks the URL carries only `client_id` and `request_uri`,
/// and answers the redirect URI and `state` that were pushed.
struct PushedApproval {
    issuer: String,
    pushes: Log,
    opened: Mutex<Vec<Url>>,
}

impl UserAgent for PushedApproval {
    fn open(&self, url: &Url) -> Result<(), UserAgentError> {
        self.opened.lock().unwrap().push(url.clone());
        let (body, _) = self.pushes.lock().unwrap().last().cloned().unwrap();
        let field = |k: &str| {
            url::form_urlencoded::parse(body.as_bytes())
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
                .unwrap()
        };
        let redirect = Url::parse(&field("redirect_uri")).unwrap();
        let target = format!(
            "{}?code=the-code&state={}&iss={}",
            redirect.path(),
            form_encode(&field("state")),
            form_encode(&self.issuer)
        );
        let port = redirect.port().unwrap();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(s, "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        });
        Ok(())
    }
}

async fn provider(extra: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    let issuer = server.uri();
    let mut fields = json!({
        "authorization_response_iss_parameter_supported": true,
        "pushed_authorization_request_endpoint": format!("{issuer}/par"),
    });
    fields
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    mount_discovery(&server, fields).await;
    server
}

fn session(server: &MockServer, dpop: DpopPolicy, par: ParPolicy) -> Session {
    let mut config = fake_config(&server.uri());
    config.dpop = dpop;
    config.par = par;
    Session::new(config, Arc::new(MemoryStore::new())).unwrap()
}

async fn mount_push(server: &MockServer, answer: ResponseTemplate) -> Log {
    let seen = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(path("/par"))
        .respond_with(Pushed {
            answer,
            seen: seen.clone(),
        })
        .mount(server)
        .await;
    seen
}

fn created(request_uri: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({"request_uri": request_uri, "expires_in": 60}))
}

#[tokio::test]
async fn with_dpop_the_push_carries_the_request_a_proof_and_dpop_jkt_and_the_browser_only_the_request_uri(
) {
    let server = provider(json!({"dpop_signing_alg_values_supported": ["ES256"]})).await;
    let pushes = mount_push(&server, created("urn:ietf:params:oauth:request_uri:r1")).await;
    let mut token = token_json("at-1", Some("rt-1"), 3600);
    token["token_type"] = json!("DPoP");
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token))
        .expect(1)
        .mount(&server)
        .await;
    let session = session(&server, DpopPolicy::Required, ParPolicy::Auto);
    let browser = PushedApproval {
        issuer: server.uri(),
        pushes: pushes.clone(),
        opened: Mutex::default(),
    };
    session.sign_in(&browser).await.unwrap();
    assert_eq!(session.status().state, SessionState::SignedIn);

    let opened = browser.opened.lock().unwrap().clone();
    assert_eq!(opened.len(), 1);
    let keys: Vec<String> = opened[0]
        .query_pairs()
        .map(|(k, _)| k.into_owned())
        .collect();
    assert_eq!(keys, ["client_id", "request_uri"], "{}", opened[0].path());
    assert_eq!(opened[0].path(), "/auth");
    let (body, proof) = pushes.lock().unwrap()[0].clone();
    for field in [
        "code_challenge=",
        "code_challenge_method=S256",
        "state=",
        "nonce=",
        "scope=",
        "redirect_uri=",
        "dpop_jkt=",
        "client_id=app",
    ] {
        assert!(body.contains(field), "{field} in the push");
    }
    let jkt = verify(
        proof.as_deref().expect("a DPoP proof on the push"),
        &Expect {
            htm: "POST",
            htu: &format!("{}/par", server.uri()),
            access_token: None,
            nonce: None,
            max_skew_secs: 5,
        },
    )
    .unwrap()
    .jkt;
    assert!(
        body.contains(&format!("dpop_jkt={jkt}")),
        "dpop_jkt is the proof's key"
    );
}

#[tokio::test]
async fn a_provider_requiring_pushes_without_an_endpoint_fails_closed_before_the_browser() {
    let server = MockServer::start().await;
    mount_discovery(
        &server,
        json!({"require_pushed_authorization_requests": true}),
    )
    .await;
    let session = session(&server, DpopPolicy::Off, ParPolicy::Off);
    let browser = Recorder::new();
    let err = session.sign_in(&browser).await.unwrap_err();
    assert!(
        matches!(err, Error::ParUnavailable { by_provider: true }),
        "{err:?}"
    );
    assert!(browser.opened().is_empty());
    assert_eq!(err.kind(), latchkey_core::ErrorKind::Configuration);
}

#[tokio::test]
async fn par_required_by_the_configuration_refuses_a_provider_without_the_endpoint() {
    let server = MockServer::start().await;
    mount_discovery(&server, json!({})).await;
    let session = session(&server, DpopPolicy::Off, ParPolicy::Required);
    let browser = Recorder::new();
    let err = session.sign_in(&browser).await.unwrap_err();
    assert!(
        matches!(err, Error::ParUnavailable { by_provider: false }),
        "{err:?}"
    );
    assert!(browser.opened().is_empty());
}

#[tokio::test]
async fn par_off_sends_the_request_in_the_front_channel_unless_the_provider_requires_pushes() {
    let server = provider(json!({})).await;
    let pushes = mount_push(&server, created("urn:x")).await;
    let browser = Recorder::new();
    let session = session(&server, DpopPolicy::Off, ParPolicy::Off);
    let mut config = session.config().clone();
    config.login_timeout = std::time::Duration::from_secs(1);
    let session = Session::new(config, Arc::new(MemoryStore::new())).unwrap();
    let _ = session.sign_in(&browser).await;
    assert!(pushes.lock().unwrap().is_empty(), "nothing pushed");
    assert!(browser.param("code_challenge").is_some());
}

#[tokio::test]
async fn hostile_push_answers_fail_closed_and_no_browser_opens() {
    let huge = "u".repeat(10_000);
    let cases: Vec<(ResponseTemplate, &str)> = vec![
        (
            ResponseTemplate::new(201).set_body_json(json!({"expires_in": 60})),
            "request_uri: missing",
        ),
        (created(&huge), "printable"),
        (
            ResponseTemplate::new(201).set_body_json(json!({"request_uri": 7, "expires_in": 60})),
            "not a string",
        ),
        (
            ResponseTemplate::new(201)
                .set_body_json(json!({"request_uri": "urn:x", "expires_in": "60"})),
            "positive",
        ),
        (
            ResponseTemplate::new(201)
                .set_body_json(json!({"request_uri": "urn:x", "expires_in": -1})),
            "positive",
        ),
        (
            ResponseTemplate::new(201).set_body_string("<html>ok</html>"),
            "not JSON",
        ),
        (
            ResponseTemplate::new(307).insert_header("location", "/elsewhere"),
            "HTTP 307",
        ),
    ];
    for (answer, want) in cases {
        let server = provider(json!({})).await;
        mount_push(&server, answer).await;
        Mock::given(path("/elsewhere"))
            .respond_with(created("urn:followed"))
            .expect(0)
            .mount(&server)
            .await;
        let session = session(&server, DpopPolicy::Off, ParPolicy::Auto);
        let browser = Recorder::new();
        let err = session.sign_in(&browser).await.unwrap_err();
        match &err {
            Error::InvalidResponse {
                endpoint: Endpoint::PushedAuthorization,
                problem,
            } => assert!(problem.contains(want), "{want}: {problem}"),
            other => panic!("{want}: {other:?}"),
        }
        assert!(browser.opened().is_empty(), "{want}: no browser");
        assert_eq!(session.status().state, SessionState::SignedOut);
        server.verify().await;
    }
}

#[tokio::test]
async fn a_push_refused_with_an_oauth_error_is_typed_like_the_token_endpoints() {
    let server = provider(json!({})).await;
    mount_push(
        &server,
        ResponseTemplate::new(400)
            .set_body_json(json!({"error": "invalid_request", "error_description": "no"})),
    )
    .await;
    let session = session(&server, DpopPolicy::Off, ParPolicy::Auto);
    let browser = Recorder::new();
    let err = session.sign_in(&browser).await.unwrap_err();
    assert!(
        matches!(&err, Error::PushRefused { error, .. } if error == "invalid_request"),
        "{err:?}"
    );
    assert!(browser.opened().is_empty());
    // A provider that is down is transient, not a verdict.
    let server = provider(json!({})).await;
    mount_push(&server, ResponseTemplate::new(503)).await;
    let err = self::session(&server, DpopPolicy::Off, ParPolicy::Auto)
        .sign_in(&Recorder::new())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}
