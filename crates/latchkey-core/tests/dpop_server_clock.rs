//! DPoP proof `iat` follows the receiving server's clock, as its `Date` headers tell it: fake
//! servers whose clocks are ahead, garbled, absurd or lying, and the dev IdP with its test clock
//! moved forward.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use latchkey_core::config::DpopPolicy;
use latchkey_core::{MemoryStore, Session, SessionState};
use latchkey_testkit::dpop::{verify, verify_at, Expect};
use latchkey_testkit::fake_idp::{fake_config, mount_discovery};
use latchkey_testkit::{login_driver, DevIdp, InstantApproval};
use serde_json::json;
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TEN_MINUTES: i64 = 600;

fn local_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// What a fake server puts in its `Date` header.
#[derive(Clone, Copy)]
enum Clock {
    /// Its clock is this many seconds ahead of ours (negative: behind).
    Ahead(i64),
    /// A header that isn't an HTTP-date.
    Garbled,
}

impl Clock {
    fn header(self) -> String {
        match self {
            Clock::Ahead(secs) => {
                let t = UNIX_EPOCH + Duration::from_secs((local_now() + secs) as u64);
                httpdate::fmt_http_date(t)
            }
            Clock::Garbled => "the day after yesterday".into(),
        }
    }
}

/// Answers `answer` with the `Date` its clock gives, and records each request's DPoP proof.
struct Dated {
    clock: Clock,
    answer: ResponseTemplate,
    proofs: Arc<Mutex<Vec<String>>>,
}

impl Respond for Dated {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let proof = request.headers.get("dpop").and_then(|v| v.to_str().ok());
        self.proofs
            .lock()
            .unwrap()
            .push(proof.unwrap_or_default().to_owned());
        self.answer
            .clone()
            .insert_header("date", self.clock.header().as_str())
    }
}

fn dpop_token(access: &str, refresh: &str) -> serde_json::Value {
    json!({"access_token": access, "token_type": "DPoP", "expires_in": 3600, "refresh_token": refresh})
}

/// A provider whose token endpoint (and `/api` on the same origin) answers with `clock`'s Date.
async fn dated_server(clock: Clock, proofs: &Arc<Mutex<Vec<String>>>) -> MockServer {
    let server = MockServer::start().await;
    mount_discovery(
        &server,
        json!({"dpop_signing_alg_values_supported": ["ES256"]}),
    )
    .await;
    for (verb, route, answer) in [
        (
            "POST",
            "/token",
            ResponseTemplate::new(200).set_body_json(dpop_token("at-1", "rt-1")),
        ),
        (
            "GET",
            "/api",
            ResponseTemplate::new(200).set_body_string("ok"),
        ),
    ] {
        Mock::given(method(verb))
            .and(path(route))
            .respond_with(Dated {
                clock,
                answer,
                proofs: proofs.clone(),
            })
            .mount(&server)
            .await;
    }
    server
}

fn session_for(issuer: &str) -> Session {
    let mut config = fake_config(issuer);
    config.dpop = DpopPolicy::Required;
    Session::new(config, Arc::new(MemoryStore::new())).unwrap()
}

fn expect<'a>(htm: &'a str, htu: &'a str, access_token: Option<&'a str>) -> Expect<'a> {
    Expect {
        htm,
        htu,
        access_token,
        nonce: None,
        max_skew_secs: 5,
    }
}

/// Signs in, refreshes and calls `/api` at `server`, which receives three proofs.
async fn sign_in_refresh_and_call(
    server: &MockServer,
    proofs: &Arc<Mutex<Vec<String>>>,
) -> Session {
    let session = session_for(&server.uri());
    session
        .sign_in(&InstantApproval::new(&server.uri()))
        .await
        .unwrap();
    session.refresh().await.unwrap();
    let api: Url = format!("{}/api", server.uri()).parse().unwrap();
    assert_eq!(session.get(&api).await.unwrap().status, 200);
    assert_eq!(proofs.lock().unwrap().len(), 3);
    session
}

#[tokio::test]
async fn a_server_ten_minutes_ahead_gets_proofs_dated_by_its_clock_once_it_has_answered() {
    let proofs = Arc::default();
    let server = dated_server(Clock::Ahead(TEN_MINUTES), &proofs).await;
    let session = sign_in_refresh_and_call(&server, &proofs).await;

    let proofs = proofs.lock().unwrap().clone();
    let token_url = format!("{}/token", server.uri());
    let api_url = format!("{}/api", server.uri());
    let token = expect("POST", &token_url, None);
    let call = expect("GET", &api_url, Some("at-1"));
    let server_now = local_now() + TEN_MINUTES;
    // The code exchange is the first word from this origin: its proof is on local time.
    verify(&proofs[0], &token).unwrap();
    // After it, the refresh and the API call (same origin) are on the server's time.
    verify_at(&proofs[1], &token, server_now).unwrap();
    verify_at(&proofs[2], &call, server_now).unwrap();
    assert!(verify(&proofs[1], &token).is_err(), "not local time");
    // Access-token expiry still counts expires_in on this machine's clock.
    let expires_at = session.status().access_token_expires_at.unwrap() as i64;
    assert!(
        (expires_at - (local_now() + 3600)).abs() <= 5,
        "{expires_at}"
    );
}

#[tokio::test]
async fn a_garbled_date_leaves_proofs_on_local_time() {
    let proofs = Arc::default();
    let server = dated_server(Clock::Garbled, &proofs).await;
    sign_in_refresh_and_call(&server, &proofs).await;
    let token_url = format!("{}/token", server.uri());
    let api_url = format!("{}/api", server.uri());
    let proofs = proofs.lock().unwrap().clone();
    verify(&proofs[1], &expect("POST", &token_url, None)).unwrap();
    verify(&proofs[2], &expect("GET", &api_url, Some("at-1"))).unwrap();
}

#[tokio::test]
async fn a_date_two_days_ahead_is_ignored_and_proofs_stay_on_local_time() {
    let proofs = Arc::default();
    let server = dated_server(Clock::Ahead(2 * 86_400), &proofs).await;
    sign_in_refresh_and_call(&server, &proofs).await;
    let token_url = format!("{}/token", server.uri());
    let api_url = format!("{}/api", server.uri());
    let proofs = proofs.lock().unwrap().clone();
    verify(&proofs[1], &expect("POST", &token_url, None)).unwrap();
    verify(&proofs[2], &expect("GET", &api_url, Some("at-1"))).unwrap();
}

#[tokio::test]
async fn a_server_lying_about_its_time_moves_only_its_own_proofs_not_another_origins() {
    // The authorization server claims to be 23 hours ahead (within the bound, so believed).
    let as_proofs = Arc::default();
    let liar = dated_server(Clock::Ahead(23 * 3600), &as_proofs).await;
    let api_proofs = Arc::default();
    let api_server = dated_server(Clock::Ahead(0), &api_proofs).await;
    let session = session_for(&liar.uri());
    session
        .sign_in(&InstantApproval::new(&liar.uri()))
        .await
        .unwrap();
    session.refresh().await.unwrap();
    let api: Url = format!("{}/api", api_server.uri()).parse().unwrap();
    assert_eq!(session.get(&api).await.unwrap().status, 200);

    let token_url = format!("{}/token", liar.uri());
    let as_proofs = as_proofs.lock().unwrap().clone();
    verify_at(
        &as_proofs[1],
        &expect("POST", &token_url, None),
        local_now() + 23 * 3600,
    )
    .unwrap();
    let api_url = format!("{}/api", api_server.uri());
    let api_proofs = api_proofs.lock().unwrap().clone();
    assert_eq!(api_proofs.len(), 1);
    verify(&api_proofs[0], &expect("GET", &api_url, Some("at-1"))).unwrap();
}

/// A token endpoint whose `Date` claims two hours ahead while it judges `iat` by the true time
/// (ours): a proof off by more than 5 s and without its nonce is answered `use_dpop_nonce`; one
/// carrying the nonce is fresh whatever its `iat` (RFC 9449 §8).
struct LyingWithNonces {
    htu: String,
    requests: AtomicUsize,
}

impl Respond for LyingWithNonces {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        use base64::Engine as _;
        self.requests.fetch_add(1, Ordering::SeqCst);
        let date = Clock::Ahead(2 * 3600).header();
        let proof = request
            .headers
            .get("dpop")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let claims: serde_json::Value = proof
            .split('.')
            .nth(1)
            .and_then(|c| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
            })
            .and_then(|c| serde_json::from_slice(&c).ok())
            .unwrap_or_default();
        let htu = self.htu.as_str();
        let with_nonce = Expect {
            nonce: Some("n-1"),
            ..expect("POST", htu, None)
        };
        let fresh = match claims["nonce"].as_str() {
            // Fresh by the nonce: every other check, iat judged against itself.
            Some(_) => verify_at(proof, &with_nonce, claims["iat"].as_i64().unwrap_or(0)).is_ok(),
            None => verify(proof, &expect("POST", htu, None)).is_ok(),
        };
        let answer = if fresh {
            ResponseTemplate::new(200).set_body_json(dpop_token("at-2", "rt-2"))
        } else {
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "use_dpop_nonce"}))
                .insert_header("dpop-nonce", "n-1")
        };
        answer.insert_header("date", date.as_str())
    }
}

#[tokio::test]
async fn a_server_whose_date_lies_only_fails_its_own_proofs_and_its_nonce_still_works() {
    let server = MockServer::start().await;
    mount_discovery(
        &server,
        json!({"dpop_signing_alg_values_supported": ["ES256"]}),
    )
    .await;
    let requests = Arc::new(LyingWithNonces {
        htu: format!("{}/token", server.uri()),
        requests: AtomicUsize::new(0),
    });
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(SharedResponder(requests.clone()))
        .mount(&server)
        .await;
    let session = session_for(&server.uri());
    session
        .sign_in(&InstantApproval::new(&server.uri()))
        .await
        .unwrap();
    assert_eq!(requests.requests.load(Ordering::SeqCst), 1);
    // The refresh's first proof is dated by the lie and refused; the nonce retry succeeds.
    session.refresh().await.unwrap();
    assert_eq!(requests.requests.load(Ordering::SeqCst), 3);
    assert_eq!(session.status().state, SessionState::SignedIn);
}

struct SharedResponder<R>(Arc<R>);

impl<R: Respond> Respond for SharedResponder<R> {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.respond(request)
    }
}

/// The dev IdP's counter `name` (`token_requests`, `api_requests`).
async fn count(idp: &DevIdp, name: &str) -> u64 {
    idp.stats().await[name].as_u64().unwrap()
}

/// The dev IdP with its clock moved ten minutes *behind* ours. Its demo API (same origin as its
/// token endpoint) sends no nonce until it challenges a proof, and judges `iat` within 300 s.
///
/// Not shown here: the same with the clock *ahead*. The dev IdP's ID tokens would then be issued
/// ten minutes in the future, beyond the engine's two-minute ID-token clock skew, and the
/// refresh would be refused before DPoP mattered. Nor at the token endpoint: oidc-provider sends
/// a `DPoP-Nonce` with every token response, the engine sends it back, and after the clock moves
/// that nonce is stale and challenged whatever the proof's `iat`.
#[tokio::test]
async fn with_the_dev_idps_clock_ten_minutes_off_a_session_that_heard_its_date_calls_its_api_without_a_nonce_round_trip(
) {
    let idp = DevIdp::start(&[("DEV_IDP_TEST_CLOCK", "1")]);
    let api: Url = idp.api.parse().unwrap();
    // Two sessions signed in while the clocks agree.
    let (heard, _) = idp.session();
    heard.sign_in(&login_driver("alice")).await.unwrap();
    let (unaware, _) = idp.session();
    unaware.sign_in(&login_driver("alice")).await.unwrap();

    idp.move_clock(-TEN_MINUTES);
    // One of them refreshes: the token endpoint's answers carry its (moved) Date.
    heard.refresh().await.unwrap();

    // Its first call to the API is dated by the server's clock: one request, no challenge.
    let before = count(&idp, "api_requests").await;
    assert_eq!(heard.get(&api).await.unwrap().status, 200);
    assert_eq!(count(&idp, "api_requests").await - before, 1);

    // The session that never heard the server's time is challenged once (and succeeds).
    let before = count(&idp, "api_requests").await;
    assert_eq!(unaware.get(&api).await.unwrap().status, 200);
    assert_eq!(count(&idp, "api_requests").await - before, 2);
}
