//! The refresh policy with tokio's paused clock and no sockets: the token endpoint is a script
//! behind [`crate::http::Transport`], the store is in memory, and time moves only when every task
//! waits, so backoff and scheduling are asserted exactly, not raced.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openidconnect::RefreshToken;
use tokio::time::Instant;

use crate::http::{BodyResponse, HttpClient, HttpError, Transport};
use crate::store::{MemoryStore, SecretStore, StoredSession};
use crate::{Config, SessionEvent, SessionState};

use super::Session;

const ISSUER: &str = "https://idp.example.com";

/// Discovery from a fixed document; each token request answered by the next scripted response,
/// and recorded (when, and its form body).
#[derive(Debug, Default)]
struct Script {
    token: Mutex<VecDeque<(u16, &'static str)>>,
    seen: Mutex<Vec<(Instant, String)>>,
}

impl Script {
    fn new(answers: &[(u16, &'static str)]) -> Arc<Self> {
        Arc::new(Self {
            token: Mutex::new(answers.iter().copied().collect()),
            seen: Mutex::default(),
        })
    }

    fn seen(&self) -> Vec<(Instant, String)> {
        self.seen.lock().unwrap().clone()
    }
}

impl Transport for Script {
    fn send(
        &self,
        request: reqwest::Request,
        _max_body: usize,
    ) -> Pin<Box<dyn Future<Output = Result<BodyResponse, HttpError>> + Send + '_>> {
        let path = request.url().path().to_owned();
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        Box::pin(async move {
            let (status, text) = if path.starts_with("/.well-known/") {
                (200, discovery())
            } else {
                self.seen.lock().unwrap().push((Instant::now(), body));
                let (status, text) = self
                    .token
                    .lock()
                    .unwrap()
                    .pop_front()
                    .expect("a scripted token response");
                (status, text.to_owned())
            };
            Ok(BodyResponse {
                dpop_nonce: None,
                date: None,
                status,
                content_type: Some("application/json".into()),
                www_authenticate: Vec::new(),
                body: text.into_bytes(),
            })
        })
    }
}

fn discovery() -> String {
    serde_json::json!({
        "issuer": ISSUER,
        "authorization_endpoint": format!("{ISSUER}/auth"),
        "token_endpoint": format!("{ISSUER}/token"),
        "code_challenge_methods_supported": ["S256"],
    })
    .to_string()
}

/// A session resumed from a store holding `rt-1` (no access token yet), talking to `script`.
async fn resumed(script: &Arc<Script>) -> (Session, Arc<MemoryStore>) {
    let mut config = Config::new(ISSUER, "app").unwrap();
    config.scopes = vec!["offline_access".into()];
    let store = Arc::new(MemoryStore::new());
    store
        .save(
            &store.lock_for_refresh().unwrap(),
            &StoredSession {
                issuer: ISSUER.into(),
                client_id: "app".into(),
                scopes: config.scopes.clone(),
                refresh_token: RefreshToken::new("rt-1".into()),
                id_token: None,
                nonce: None,
                subject: Some("alice".into()),
                display_name: None,
                auth_time: None,
                dpop_key: None,
            },
        )
        .unwrap();
    let http = HttpClient::new(Duration::from_secs(10), 64 * 1024)
        .unwrap()
        .with_transport(script.clone());
    let session = Session::with_http_client(config, store.clone(), http);
    assert_eq!(
        session.resume().await.unwrap().state,
        SessionState::SignedIn
    );
    (session, store)
}

fn stored_rt(store: &MemoryStore) -> Option<String> {
    store
        .load()
        .unwrap()
        .map(|s| s.refresh_token.secret().clone())
}

const OK_ROTATED: &str =
    r#"{"access_token":"at-2","token_type":"Bearer","expires_in":600,"refresh_token":"rt-2"}"#;

#[tokio::test(start_paused = true)]
async fn transient_failures_back_off_exponentially_and_a_success_resets_the_backoff() {
    let script = Script::new(&[(503, ""), (503, ""), (503, ""), (200, OK_ROTATED)]);
    let (session, store) = resumed(&script).await;
    let mut events = session.subscribe();
    let _refresher = session.spawn_auto_refresh();
    let mut retries = Vec::new();
    loop {
        match events.recv().await.unwrap() {
            SessionEvent::RefreshFailed { retry_in_secs, .. } => retries.push(retry_in_secs),
            SessionEvent::Refreshed { rotated, .. } => {
                assert!(rotated);
                break;
            }
            _ => {}
        }
    }
    assert_eq!(retries.len(), 3);
    let when: Vec<Instant> = script.seen().iter().map(|(at, _)| *at).collect();
    // Each wait is the backoff (1 s, 2 s, 4 s, each scaled by 0.5–1.0), no shorter, no longer.
    for (i, nominal) in [1.0f64, 2.0, 4.0].iter().enumerate() {
        let gap = (when[i + 1] - when[i]).as_secs_f64();
        assert!(
            gap >= nominal * 0.5 && gap <= nominal + 0.001,
            "wait {i}: {gap} s"
        );
    }
    let status = session.status();
    assert!(!status.offline, "a success clears offline");
    assert_eq!(
        status.next_refresh_in_secs,
        Some(540),
        "a 600 s token refreshes a minute early"
    );
    assert_eq!(stored_rt(&store).as_deref(), Some("rt-2"));
}

#[tokio::test(start_paused = true)]
async fn invalid_grant_ends_the_session_clears_the_store_and_is_never_retried() {
    let script = Script::new(&[(400, r#"{"error":"invalid_grant"}"#)]);
    let (session, store) = resumed(&script).await;
    let _refresher = session.spawn_auto_refresh();
    let mut events = session.subscribe();
    loop {
        if let SessionEvent::SessionEnded { .. } = events.recv().await.unwrap() {
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
    assert_eq!(script.seen().len(), 1, "one request, no retry");
    assert_eq!(session.status().state, SessionState::ReauthRequired);
    assert_eq!(stored_rt(&store), None);
}

#[tokio::test(start_paused = true)]
async fn a_rotation_in_a_response_that_fails_its_checks_is_sent_on_the_next_refresh() {
    let script = Script::new(&[
        (
            200,
            r#"{"access_token":"at-2","token_type":"Bearer","expires_in":"never","refresh_token":"rt-2"}"#,
        ),
        (200, OK_ROTATED),
    ]);
    let (session, store) = resumed(&script).await;
    assert!(session.refresh().await.is_err());
    assert_eq!(
        stored_rt(&store).as_deref(),
        Some("rt-2"),
        "stored before the checks"
    );
    session.refresh().await.unwrap();
    let seen = script.seen();
    assert!(seen[0].1.contains("refresh_token=rt-1"), "{}", seen[0].1);
    assert!(seen[1].1.contains("refresh_token=rt-2"), "{}", seen[1].1);
}
