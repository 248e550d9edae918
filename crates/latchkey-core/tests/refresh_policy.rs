//! The refresh grant against a fake server: what a response does to the session. Hostile and
//! non-conformant token responses, the 4xx policy, rotations that survive a bad response, and a
//! refresh cut short by its caller or by stopping the scheduler. Prints `hostile ` summary lines
//! for the test command. Stores that fail are in `store_failures.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use latchkey_core::{ErrorKind, ReauthReason, SessionEvent, SessionState};
use latchkey_testkit::fake_idp::{refresh_mock, stored_rt, token_json, FakeIdp};
use serde_json::json;
use wiremock::ResponseTemplate;

/// What a hostile or malformed 200 must leave behind.
struct Kept {
    name: &'static str,
    response: ResponseTemplate,
    kind: ErrorKind,
    /// The refresh token the store must hold afterwards: `rt-2` when the response rotated.
    stored: &'static str,
}

fn kept(
    name: &'static str,
    response: ResponseTemplate,
    kind: ErrorKind,
    stored: &'static str,
) -> Kept {
    Kept {
        name,
        response,
        kind,
        stored,
    }
}

fn ok_json(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

#[tokio::test]
async fn hostile_token_responses_are_typed_errors_and_the_refresh_token_is_kept() {
    let huge = format!("{{\"access_token\":\"{}\"}}", "a".repeat(200 * 1024));
    let with_rt2 = |extra: serde_json::Value| {
        let mut v = json!({"refresh_token": "rt-2"});
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        ok_json(v)
    };
    let cases = vec![
        kept(
            "HTML 500",
            ResponseTemplate::new(500).set_body_raw("<html><h1>oops</h1></html>", "text/html"),
            ErrorKind::Transient,
            "rt-1",
        ),
        kept(
            "429",
            ResponseTemplate::new(429),
            ErrorKind::Transient,
            "rt-1",
        ),
        kept(
            "408",
            ResponseTemplate::new(408),
            ErrorKind::Transient,
            "rt-1",
        ),
        kept(
            "truncated JSON",
            ResponseTemplate::new(200)
                .set_body_raw("{\"access_token\":\"at-2\",\"token_ty", "application/json"),
            ErrorKind::Protocol,
            "rt-1",
        ),
        kept(
            "huge body",
            ResponseTemplate::new(200).set_body_raw(huge, "application/json"),
            ErrorKind::Protocol,
            "rt-1",
        ),
        kept(
            "missing access_token",
            ok_json(json!({"token_type": "Bearer"})),
            ErrorKind::Protocol,
            "rt-1",
        ),
        kept(
            "DPoP token_type",
            ok_json(json!({"access_token": "at-2", "token_type": "DPoP", "expires_in": 60})),
            ErrorKind::Protocol,
            "rt-1",
        ),
        kept(
            "negative expires_in",
            ok_json(json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": -5})),
            ErrorKind::Protocol,
            "rt-1",
        ),
        kept(
            "a 302 (redirects are never followed)",
            ResponseTemplate::new(302).insert_header("location", "https://elsewhere.example/"),
            ErrorKind::Protocol,
            "rt-1",
        ),
        kept(
            "404 (a misconfigured endpoint, not a verdict on the grant)",
            ResponseTemplate::new(404),
            ErrorKind::Protocol,
            "rt-1",
        ),
        kept(
            "slow response",
            ok_json(token_json("at-2", Some("rt-2"), 60)).set_delay(Duration::from_secs(10)),
            ErrorKind::Transient,
            "rt-1",
        ),
        // Rotated, then broken: the new refresh token is the only live one and must be kept.
        kept(
            "rotated, negative expires_in",
            with_rt2(json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": -5})),
            ErrorKind::Protocol,
            "rt-2",
        ),
        kept(
            "rotated, non-numeric expires_in",
            with_rt2(json!({"access_token": "at-2", "token_type": "Bearer", "expires_in": "soon"})),
            ErrorKind::Protocol,
            "rt-2",
        ),
        kept(
            "rotated, access_token not a string",
            with_rt2(json!({"access_token": 42, "token_type": "Bearer"})),
            ErrorKind::Protocol,
            "rt-2",
        ),
        kept(
            "rotated, DPoP token_type",
            with_rt2(json!({"access_token": "at-2", "token_type": "DPoP"})),
            ErrorKind::Protocol,
            "rt-2",
        ),
        kept(
            "rotated, an ID token that is not a JWT",
            with_rt2(
                json!({"access_token": "at-2", "token_type": "Bearer", "id_token": "not.a-jwt"}),
            ),
            ErrorKind::Protocol,
            "rt-2",
        ),
    ];
    let tried = cases.len();
    let rotated = cases.iter().filter(|c| c.stored == "rt-2").count();
    let mut kept_count = 0;
    for case in cases {
        let fake = FakeIdp::signed_in("at-1", 3600).await;
        refresh_mock()
            .respond_with(case.response)
            .mount(&fake.server)
            .await;
        let name = case.name;
        let err = fake.session.refresh().await.unwrap_err();
        assert_eq!(err.kind(), case.kind, "{name}: {err:?}");
        assert!(
            !err.to_string().contains("oops"),
            "{name}: body leaked into {err}"
        );
        assert_eq!(
            stored_rt(&*fake.store).as_deref(),
            Some(case.stored),
            "{name}"
        );
        assert_eq!(
            fake.session.status().state,
            SessionState::SignedIn,
            "{name}"
        );
        // The still-valid access token keeps working.
        assert_eq!(
            fake.session.fresh_access_token().await.unwrap().secret(),
            "at-1"
        );
        kept_count += 1;
    }
    println!(
        "hostile token-endpoint suite: {tried} responses tried, {tried} typed errors, \
         refresh token kept {kept_count}/{tried} ({rotated} of them rotated in the bad response)"
    );
}

#[tokio::test]
async fn a_refresh_the_server_refuses_ends_the_session_with_a_next_step_at_once_or_on_the_third_unexplained(
) {
    // (name, response, refusals before the session ends): an OAuth error ends it at once; a
    // refusal without one on the third in a row (`token_refusals.rs` has the rule's other side).
    let cases = [
        ("bare 400", ResponseTemplate::new(400), 3),
        (
            "401 with an HTML body",
            ResponseTemplate::new(401).set_body_raw("<html>no</html>", "text/html"),
            3,
        ),
        (
            "400 with an empty JSON object",
            ResponseTemplate::new(400).set_body_json(json!({})),
            3,
        ),
        (
            "403 with text",
            ResponseTemplate::new(403).set_body_raw("forbidden", "text/plain"),
            3,
        ),
        (
            "401 invalid_client",
            ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})),
            1,
        ),
        (
            "400 invalid_grant",
            ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})),
            1,
        ),
    ];
    let tried = cases.len();
    let mut ended = 0;
    for (name, response, refusals) in cases {
        let fake = FakeIdp::signed_in("at-1", 3600).await;
        refresh_mock()
            .respond_with(response)
            .expect(refusals)
            .mount(&fake.server)
            .await;
        for kept in 1..refusals {
            let err = fake.session.refresh().await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Transient, "{name} #{kept}: {err:?}");
            assert_eq!(stored_rt(&*fake.store).as_deref(), Some("rt-1"), "{name}");
        }
        let err = fake.session.refresh().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ReauthRequired, "{name}: {err:?}");
        let status = fake.session.status();
        assert_eq!(status.state, SessionState::ReauthRequired, "{name}");
        assert!(
            matches!(
                status.reauth_reason,
                Some(ReauthReason::RefreshTokenRejected(_))
            ),
            "{name}: {:?}",
            status.reauth_reason
        );
        assert_eq!(
            stored_rt(&*fake.store),
            None,
            "{name}: the dead session is wiped"
        );
        // Every later call says the same thing: sign in again (not "invalid response" forever).
        let later = fake.session.fresh_access_token().await.unwrap_err();
        assert_eq!(later.kind(), ErrorKind::ReauthRequired, "{name}");
        fake.server.verify().await;
        ended += 1;
    }
    println!("hostile token-endpoint suite: {tried} refusals tried, {ended} ended the session with 'sign in again' (unexplained ones on the third in a row)");
}

#[tokio::test]
async fn a_string_or_fractional_expires_in_is_a_number_and_the_rotation_is_kept() {
    for expires_in in [json!("3600"), json!(3600.5)] {
        let fake = FakeIdp::signed_in("at-1", 0).await;
        refresh_mock()
            .respond_with(ok_json(json!({
                "access_token": "at-2", "token_type": "bearer", "refresh_token": "rt-2",
                "expires_in": expires_in
            })))
            .mount(&fake.server)
            .await;
        let status = fake.session.refresh().await.unwrap();
        assert_eq!(
            status.access_token_lifetime_secs,
            Some(3600),
            "{expires_in}"
        );
        assert_eq!(stored_rt(&*fake.store).as_deref(), Some("rt-2"));
        assert_eq!(
            fake.session.fresh_access_token().await.unwrap().secret(),
            "at-2"
        );
    }
}

#[tokio::test]
async fn a_json_body_with_a_text_content_type_is_read_and_its_rotation_kept() {
    let fake = FakeIdp::signed_in("at-1", 0).await;
    let body = token_json("at-2", Some("rt-2"), 60).to_string();
    refresh_mock()
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/plain"))
        .mount(&fake.server)
        .await;
    fake.session.refresh().await.unwrap();
    assert_eq!(stored_rt(&*fake.store).as_deref(), Some("rt-2"));
}

/// A token endpoint that holds its answer until the test releases it.
struct Gated {
    arrived: std::sync::Mutex<std::sync::mpsc::Sender<()>>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl wiremock::Respond for Gated {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let _ = self.arrived.lock().unwrap().send(());
        let _ = self.release.lock().unwrap().recv();
        ResponseTemplate::new(200).set_body_json(token_json("at-2", Some("rt-2"), 3600))
    }
}

/// Mounts a gated rotating refresh; returns (wait until the request arrived, release it).
async fn gated_rotation(
    fake: &FakeIdp,
) -> (std::sync::mpsc::Receiver<()>, std::sync::mpsc::Sender<()>) {
    let (arrived_tx, arrived_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel();
    refresh_mock()
        .respond_with(Gated {
            arrived: std::sync::Mutex::new(arrived_tx),
            release: std::sync::Mutex::new(release_rx),
        })
        .mount(&fake.server)
        .await;
    (arrived_rx, release_tx)
}

async fn until_refreshed(events: &mut tokio::sync::broadcast::Receiver<SessionEvent>) {
    // The timeout only turns a hang into a failure; nothing here depends on timing.
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(SessionEvent::Refreshed { rotated: true, .. }) = events.recv().await {
                return;
            }
        }
    })
    .await
    .expect("the refresh completed although its caller was gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_whose_caller_gives_up_mid_exchange_still_stores_the_rotated_token() {
    let fake = FakeIdp::signed_in("at-1", 0).await;
    let (arrived, release) = gated_rotation(&fake).await;
    let mut events = fake.session.subscribe();
    let session = fake.session.clone();
    let caller = tokio::spawn(async move { session.fresh_access_token().await });
    tokio::task::spawn_blocking(move || arrived.recv())
        .await
        .unwrap()
        .unwrap();
    // The caller goes away mid-exchange (a timeout, a select!, a closed window).
    caller.abort();
    let _ = caller.await;
    release.send(()).unwrap();
    until_refreshed(&mut events).await;
    assert_eq!(stored_rt(&*fake.store).as_deref(), Some("rt-2"));
    assert_eq!(
        fake.session.fresh_access_token().await.unwrap().secret(),
        "at-2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_scheduler_mid_refresh_still_stores_the_rotated_token() {
    let fake = FakeIdp::signed_in("at-1", 0).await;
    let (arrived, release) = gated_rotation(&fake).await;
    let mut events = fake.session.subscribe();
    let refresher = fake.session.spawn_auto_refresh();
    tokio::task::spawn_blocking(move || arrived.recv())
        .await
        .unwrap()
        .unwrap();
    drop(refresher);
    release.send(()).unwrap();
    until_refreshed(&mut events).await;
    assert_eq!(stored_rt(&*fake.store).as_deref(), Some("rt-2"));
}
