//! Scenarios a real IdP won't produce, on a fake HTTP server (wiremock): outages, the request
//! counts that prove single-flight refresh, stores that fail, and hostile app links. Hostile token
//! responses and the refresh policy are in `refresh_policy.rs`.
//!
//! The fake is a plain OAuth server (scope without `openid`, so no ID token); its "browser" sends
//! the callback straight to the loopback listener.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::{
    Error, ErrorKind, MemoryStore, ReauthReason, RevocationOutcome, SecretStore, Session,
    SessionState, SignOutOptions,
};
use latchkey_testkit::fake_idp::{fake_config, refresh_mock, stored_rt, token_json, FakeIdp};
use latchkey_testkit::InstantApproval;
use serde_json::json;
use url::Url;
use wiremock::matchers::{body_string_contains, header, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn a_refresh_sends_the_refresh_token_and_client_id_and_no_secret() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    refresh_mock()
        .and(body_string_contains("refresh_token=rt-1"))
        .and(body_string_contains("client_id=app"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("at-2", None, 3600)))
        .expect(1)
        .mount(&fake.server)
        .await;
    fake.session.refresh().await.unwrap();
    let requests = fake.server.received_requests().await.unwrap();
    let refresh = requests
        .iter()
        .find(|r| String::from_utf8_lossy(&r.body).contains("grant_type=refresh_token"))
        .unwrap();
    let body = String::from_utf8_lossy(&refresh.body);
    assert!(!body.contains("client_secret"), "{body}");
    assert!(
        refresh.headers.get("authorization").is_none(),
        "no client authentication"
    );
}

#[tokio::test]
async fn a_hundred_concurrent_callers_on_an_expired_token_send_exactly_one_refresh_request() {
    let fake = FakeIdp::signed_in("at-1", 0).await;
    refresh_mock()
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_json("at-2", Some("rt-2"), 3600))
                .set_delay(Duration::from_millis(100)),
        )
        .expect(1)
        .mount(&fake.server)
        .await;
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let s = fake.session.clone();
            tokio::spawn(async move { s.fresh_access_token().await })
        })
        .collect();
    for c in callers {
        assert_eq!(c.await.unwrap().unwrap().secret(), "at-2");
    }
    assert_eq!(stored_rt(&*fake.store).as_deref(), Some("rt-2"));
    // `expect(1)` is verified when the server drops; check explicitly too.
    fake.server.verify().await;
}

#[tokio::test]
async fn callers_queued_behind_a_failed_refresh_share_its_failure_instead_of_retrying() {
    let fake = FakeIdp::signed_in("at-1", 0).await;
    refresh_mock()
        .respond_with(ResponseTemplate::new(503).set_delay(Duration::from_millis(100)))
        .expect(1)
        .mount(&fake.server)
        .await;
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let s = fake.session.clone();
            tokio::spawn(async move { s.fresh_access_token().await })
        })
        .collect();
    for c in callers {
        let err = c.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transient, "{err:?}");
    }
    fake.server.verify().await;
    assert_eq!(fake.session.status().state, SessionState::SignedIn);
    assert!(fake.session.status().offline);
}

#[tokio::test]
async fn a_slow_drip_token_response_times_out_as_transient_and_keeps_the_refresh_token() {
    // Headers at once, then a byte every 100 ms, forever: only a whole-request deadline ends it.
    let drip = latchkey_testkit::DripServer::start(
        "grant_type=authorization_code",
        token_json("at-1", Some("rt-1"), 3600),
    )
    .await;
    let server = MockServer::start().await;
    let issuer = server.uri();
    latchkey_testkit::mount_discovery(
        &server,
        json!({"token_endpoint": format!("{}/token", drip.url), "authorization_response_iss_parameter_supported": true}),
    )
    .await;
    let store = Arc::new(MemoryStore::new());
    let session = Session::new(fake_config(&issuer), store.clone()).unwrap();
    session
        .sign_in(&InstantApproval::new(&issuer))
        .await
        .unwrap();

    let err = session.refresh().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Transient, "{err:?}");
    assert_eq!(stored_rt(&*store).as_deref(), Some("rt-1"));
    assert_eq!(session.status().state, SessionState::SignedIn);
}

#[tokio::test]
async fn invalid_grant_on_refresh_ends_the_session_and_wipes_the_store() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    refresh_mock()
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "grant request is invalid"
        })))
        .mount(&fake.server)
        .await;
    let err = fake.session.refresh().await.unwrap_err();
    assert!(
        matches!(&err, Error::ReauthRequired(ReauthReason::RefreshTokenRejected(Some(d))) if d == "grant request is invalid"),
        "{err:?}"
    );
    assert!(fake.store.load().unwrap().is_none());
    let status = fake.session.status();
    assert_eq!(status.state, SessionState::ReauthRequired);
    assert!(!status.has_refresh_token);
}

#[tokio::test]
async fn a_refresh_response_without_a_refresh_token_keeps_the_old_one() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    refresh_mock()
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("at-2", None, 3600)))
        .mount(&fake.server)
        .await;
    let status = fake.session.refresh().await.unwrap();
    assert!(status.has_refresh_token);
    assert_eq!(status.rotation_count, 0);
    assert_eq!(stored_rt(&*fake.store).as_deref(), Some("rt-1"));
    assert_eq!(
        fake.session.fresh_access_token().await.unwrap().secret(),
        "at-2"
    );
}

#[tokio::test]
async fn an_absurd_expires_in_is_clamped_to_a_day() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    refresh_mock()
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json(
            "at-2",
            None,
            1_000_000_000_000,
        )))
        .mount(&fake.server)
        .await;
    let status = fake.session.refresh().await.unwrap();
    assert!(
        status.access_token_expires_in_secs.unwrap() <= 24 * 3600,
        "{status:?}"
    );
}

#[tokio::test]
async fn a_401_from_the_api_forces_one_refresh_and_one_retry() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    refresh_mock()
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json(
            "at-2",
            Some("rt-2"),
            3600,
        )))
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

#[tokio::test]
async fn sign_out_wipes_local_state_even_when_revocation_fails() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    Mock::given(path("/revoke"))
        .and(body_string_contains("token=rt-1"))
        .and(body_string_contains("token_type_hint=refresh_token"))
        .and(body_string_contains("client_id=app"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&fake.server)
        .await;
    let report = fake
        .session
        .sign_out(SignOutOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(report.revocation, RevocationOutcome::Failed(_)),
        "{report:?}"
    );
    assert!(fake.store.load().unwrap().is_none());
    assert_eq!(fake.session.status().state, SessionState::SignedOut);
}

#[tokio::test]
async fn sign_out_while_offline_still_forgets_everything() {
    let fake = FakeIdp::signed_in("at-1", 3600).await;
    let session = fake.session.clone();
    let store = fake.store.clone();
    drop(fake); // the server is gone
    let report = session.sign_out(SignOutOptions::default()).await.unwrap();
    assert!(matches!(report.revocation, RevocationOutcome::Failed(_)));
    assert!(store.load().unwrap().is_none());
}

/// A store whose save of a rotated token blocks until the test releases it.
struct GatedStore {
    inner: MemoryStore,
    saving: std::sync::Mutex<std::sync::mpsc::Sender<()>>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl SecretStore for GatedStore {
    fn load(&self) -> Result<Option<latchkey_core::StoredSession>, latchkey_core::StoreError> {
        self.inner.load()
    }
    fn save(&self, s: &latchkey_core::StoredSession) -> Result<(), latchkey_core::StoreError> {
        if s.refresh_token.secret() == "rt-2" {
            self.saving.lock().unwrap().send(()).unwrap();
            self.release.lock().unwrap().recv().unwrap();
        }
        self.inner.save(s)
    }
    fn clear(&self) -> Result<(), latchkey_core::StoreError> {
        self.inner.clear()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_new_access_token_is_not_handed_out_before_the_rotated_refresh_token_is_stored() {
    let server = MockServer::start().await;
    let issuer = server.uri();
    latchkey_testkit::mount_discovery(&server, json!({})).await;
    Mock::given(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json("at-1", Some("rt-1"), 0)))
        .mount(&server)
        .await;
    refresh_mock()
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json(
            "at-2",
            Some("rt-2"),
            3600,
        )))
        .mount(&server)
        .await;
    let (saving_tx, saving_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel();
    let store = Arc::new(GatedStore {
        inner: MemoryStore::new(),
        saving: std::sync::Mutex::new(saving_tx),
        release: std::sync::Mutex::new(release_rx),
    });
    let session = Session::new(fake_config(&issuer), store.clone()).unwrap();
    session
        .sign_in(&InstantApproval::new(&issuer))
        .await
        .unwrap();

    let refresher = tokio::spawn({
        let s = session.clone();
        async move { s.fresh_access_token().await }
    });
    // The refresh got the new tokens and is now saving rt-2.
    tokio::task::spawn_blocking(move || saving_rx.recv().unwrap())
        .await
        .unwrap();
    let waiter = tokio::spawn({
        let s = session.clone();
        async move { s.fresh_access_token().await }
    });
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(
        !refresher.is_finished() && !waiter.is_finished(),
        "nobody has at-2 before rt-2 is stored"
    );
    assert_eq!(
        store.inner.load().unwrap().unwrap().refresh_token.secret(),
        "rt-1"
    );

    release_tx.send(()).unwrap();
    assert_eq!(refresher.await.unwrap().unwrap().secret(), "at-2");
    assert_eq!(waiter.await.unwrap().unwrap().secret(), "at-2");
    assert_eq!(
        store.inner.load().unwrap().unwrap().refresh_token.secret(),
        "rt-2"
    );
}

/// A store that fails to save `rt-2` the first `failures` times (a full disk, say).
struct FlakyStore {
    inner: MemoryStore,
    failures: std::sync::atomic::AtomicU32,
}

impl SecretStore for FlakyStore {
    fn load(&self) -> Result<Option<latchkey_core::StoredSession>, latchkey_core::StoreError> {
        self.inner.load()
    }
    fn save(&self, s: &latchkey_core::StoredSession) -> Result<(), latchkey_core::StoreError> {
        use std::sync::atomic::Ordering;
        let failing = s.refresh_token.secret() == "rt-2"
            && self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        if failing {
            return Err(latchkey_core::StoreError::Io {
                action: "written",
                source: std::io::Error::other("no space left on device"),
            });
        }
        self.inner.save(s)
    }
    fn clear(&self) -> Result<(), latchkey_core::StoreError> {
        self.inner.clear()
    }
}

/// Signed in (rt-1) on a fake whose store fails to save `rt-2` once; the refresh mocks are the
/// test's own.
async fn signed_in_with_a_flaky_store() -> (MockServer, Session, Arc<FlakyStore>) {
    let server = MockServer::start().await;
    let issuer = server.uri();
    latchkey_testkit::mount_discovery(&server, json!({})).await;
    Mock::given(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json(
            "at-1",
            Some("rt-1"),
            3600,
        )))
        .mount(&server)
        .await;
    let store = Arc::new(FlakyStore {
        inner: MemoryStore::new(),
        failures: 1.into(),
    });
    let session = Session::new(fake_config(&issuer), store.clone()).unwrap();
    session
        .sign_in(&InstantApproval::new(&issuer))
        .await
        .unwrap();
    (server, session, store)
}

#[tokio::test]
async fn a_rotation_whose_save_failed_is_saved_before_the_next_refresh_which_sends_the_live_token()
{
    let (server, session, store) = signed_in_with_a_flaky_store().await;
    // rt-1 rotates once; sent again (it is dead), the server says invalid_grant.
    refresh_mock()
        .and(body_string_contains("refresh_token=rt-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json(
            "at-2",
            Some("rt-2"),
            3600,
        )))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    refresh_mock()
        .and(body_string_contains("refresh_token=rt-1"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .mount(&server)
        .await;
    refresh_mock()
        .and(body_string_contains("refresh_token=rt-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json(
            "at-3",
            Some("rt-3"),
            3600,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let mut events = session.subscribe();

    session.refresh().await.unwrap();
    assert_eq!(
        stored_rt(&store.inner).as_deref(),
        Some("rt-1"),
        "the save failed"
    );
    let event = events.try_recv().unwrap();
    assert!(
        matches!(event, latchkey_core::SessionEvent::StoreFailed { .. }),
        "{event:?}"
    );

    // The store's rt-1 is not another process's rotation: rt-2 is saved, then sent.
    session.refresh().await.unwrap();
    assert_eq!(session.status().state, SessionState::SignedIn);
    assert_eq!(stored_rt(&store.inner).as_deref(), Some("rt-3"));
    let sent_rt1 = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("refresh_token=rt-1"))
        .count();
    assert_eq!(sent_rt1, 1, "the dead rt-1 was never sent again");
}

#[tokio::test]
async fn locking_saves_a_rotation_whose_save_failed_instead_of_dropping_the_live_token() {
    let (server, session, store) = signed_in_with_a_flaky_store().await;
    refresh_mock()
        .and(body_string_contains("refresh_token=rt-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json(
            "at-2",
            Some("rt-2"),
            3600,
        )))
        .expect(1)
        .mount(&server)
        .await;
    session.refresh().await.unwrap();
    assert_eq!(
        stored_rt(&store.inner).as_deref(),
        Some("rt-1"),
        "the save failed"
    );

    assert_eq!(session.lock().await.state, SessionState::Locked);
    assert_eq!(stored_rt(&store.inner).as_deref(), Some("rt-2"));
}

#[tokio::test]
async fn locking_never_writes_an_unsaved_rotation_over_another_processs_sign_out() {
    let (server, session, store) = signed_in_with_a_flaky_store().await;
    refresh_mock()
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json(
            "at-2",
            Some("rt-2"),
            3600,
        )))
        .mount(&server)
        .await;
    session.refresh().await.unwrap(); // rt-2's save fails
    store.inner.clear().unwrap(); // meanwhile another process signs out

    session.lock().await;
    assert_eq!(
        stored_rt(&store.inner),
        None,
        "the sign-out elsewhere stands"
    );
}

/// An in-app tab whose "OS" first hands the app every hostile link of `hostile_links`, then the
/// real response (`code=the-code`, the request's `state`, the issuer's `iss`).
struct HostileLinksThenReal {
    sender: latchkey_core::AppLinkSender,
    issuer: String,
    tried: std::sync::Mutex<usize>,
}

/// Links another app could open with our scheme. `S` is the real `state` (a hostile app may
/// have read it), `I` the real issuer.
fn hostile_links() -> Vec<(&'static str, String)> {
    let base = "com.example.app:/callback";
    [
        ("wrong state", format!("{base}?code=x&state=guessed&iss=I")),
        ("no state", format!("{base}?code=x&iss=I")),
        ("empty state", format!("{base}?code=x&state=&iss=I")),
        (
            "duplicate state",
            format!("{base}?code=x&state=S&state=S&iss=I"),
        ),
        (
            "duplicate code",
            format!("{base}?code=x&code=y&state=S&iss=I"),
        ),
        ("no iss", format!("{base}?code=x&state=S")),
        (
            "foreign iss",
            format!("{base}?code=x&state=S&iss=https%3A%2F%2Fevil.example"),
        ),
        (
            "duplicate iss",
            format!("{base}?code=x&state=S&iss=I&iss=I"),
        ),
        ("no code", format!("{base}?state=S&iss=I")),
        (
            "error, wrong state",
            format!("{base}?error=access_denied&state=guessed&iss=I"),
        ),
        (
            "other scheme",
            "com.evil.app:/callback?code=x&state=S&iss=I".to_owned(),
        ),
        (
            "other path",
            "com.example.app:/elsewhere?code=x&state=S&iss=I".to_owned(),
        ),
        (
            "path prefix",
            "com.example.app:/callback/x?code=x&state=S&iss=I".to_owned(),
        ),
        (
            "authority form",
            "com.example.app://callback?code=x&state=S&iss=I".to_owned(),
        ),
        ("params in fragment", format!("{base}#code=x&state=S&iss=I")),
        (
            "https look-alike",
            "https://com.example.app/callback?code=x&state=S&iss=I".to_owned(),
        ),
        (
            "encoded path",
            "com.example.app:/%63allback?code=x&state=S&iss=I".to_owned(),
        ),
        (
            "huge query",
            format!("{base}?code=x&state=guessed&pad={}", "a".repeat(100_000)),
        ),
    ]
    .into()
}

impl latchkey_core::UserAgent for HostileLinksThenReal {
    fn open(&self, url: &Url) -> Result<(), latchkey_core::UserAgentError> {
        let state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let (state, issuer) = (enc(&state), enc(&self.issuer));
        let fill = |link: &str| {
            link.replace("state=S", &format!("state={state}"))
                .replace("iss=I", &format!("iss={issuer}"))
        };
        let links = hostile_links();
        *self.tried.lock().unwrap() = links.len();
        for (name, link) in links {
            let link = Url::parse(&fill(&link)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(self.sender.deliver(link), "{name}: the inbox takes it");
        }
        let real = format!("com.example.app:/callback?code=the-code&state={state}&iss={issuer}");
        assert!(self.sender.deliver(Url::parse(&real).unwrap()));
        Ok(())
    }
}

#[tokio::test]
async fn hostile_app_links_are_ignored_and_the_real_one_completes_the_sign_in() {
    let server = MockServer::start().await;
    let issuer = server.uri();
    latchkey_testkit::mount_discovery(
        &server,
        json!({"authorization_response_iss_parameter_supported": true}),
    )
    .await;
    Mock::given(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=the-code"))
        .and(body_string_contains(
            "redirect_uri=com.example.app%3A%2Fcallback",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_json(
            "at-1",
            Some("rt-1"),
            3600,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let store = Arc::new(MemoryStore::new());
    let session = Session::new(fake_config(&issuer), store.clone()).unwrap();
    let (sender, redirect) =
        latchkey_core::app_link(Url::parse("com.example.app:/callback").unwrap()).unwrap();
    let tab = HostileLinksThenReal {
        sender,
        issuer: issuer.clone(),
        tried: std::sync::Mutex::new(0),
    };
    let status = session
        .sign_in_with(&tab, latchkey_core::Redirect::AppLink(redirect))
        .await
        .unwrap();
    assert_eq!(status.state, SessionState::SignedIn);
    assert_eq!(stored_rt(&*store).as_deref(), Some("rt-1"));
    let codes_sent = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains("grant_type=authorization_code"))
        .count();
    assert_eq!(
        codes_sent, 1,
        "only the real code reached the token endpoint"
    );
    let tried = *tab.tried.lock().unwrap();
    println!(
        "hostile app-link suite: {tried} links tried ({tried} kinds), 0 accepted; \
         only the real code reached the token endpoint and the real link completed the sign-in"
    );
}
