//! Single-flight refresh on a fake server (wiremock): however many callers need a fresh access
//! token at once, one refresh request goes out, its failure is shared rather than retried, and
//! nobody gets the new access token before the rotated refresh token is stored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use latchkey_core::{ErrorKind, SecretStore, SessionState};
use latchkey_testkit::fake_idp::{refresh_mock, stored_rt, token_response, FakeIdp};
use latchkey_testkit::held::{held, spawn_waiting, Gate};
use latchkey_testkit::stores::GatedStore;
use wiremock::ResponseTemplate;

/// `callers` callers asking for a fresh access token, each proven to be waiting (its call
/// pending) while the one refresh request is held at the server; then the answer is released.
/// Their answers, in order.
async fn callers_waiting_on_one_held_refresh(
    fake: &FakeIdp,
    mut gate: Gate,
    callers: usize,
) -> Vec<latchkey_core::Result<String>> {
    let mut tasks = Vec::with_capacity(callers);
    for _ in 0..callers {
        let s = fake.session.clone();
        tasks.push(
            spawn_waiting(async move { s.fresh_access_token().await.map(|t| t.secret().clone()) })
                .await,
        );
    }
    // Every caller is waiting, and the refresh is at the server, unanswered.
    gate.arrived().await;
    assert!(tasks.iter().all(|t| !t.is_finished()));
    gate.release();
    let mut answers = Vec::with_capacity(callers);
    for task in tasks {
        answers.push(task.await.expect("a caller panicked"));
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_callers_on_an_expired_token_send_exactly_one_refresh_request() {
    let fake = FakeIdp::signed_in("at-1", 0).await;
    let (answer, gate) = held(token_response("at-2", Some("rt-2"), 3600));
    refresh_mock()
        .respond_with(answer)
        .expect(1)
        .mount(&fake.server)
        .await;
    for token in callers_waiting_on_one_held_refresh(&fake, gate, 100).await {
        assert_eq!(token.unwrap(), "at-2");
    }
    assert_eq!(stored_rt(&*fake.store).as_deref(), Some("rt-2"));
    // `expect(1)` is verified when the server drops; check explicitly too.
    fake.server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_queued_behind_a_failed_refresh_share_its_failure_instead_of_retrying() {
    let fake = FakeIdp::signed_in("at-1", 0).await;
    let (answer, gate) = held(ResponseTemplate::new(503));
    refresh_mock()
        .respond_with(answer)
        .expect(1)
        .mount(&fake.server)
        .await;
    for answer in callers_waiting_on_one_held_refresh(&fake, gate, 20).await {
        let err = answer.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transient, "{err:?}");
    }
    fake.server.verify().await;
    assert_eq!(fake.session.status().state, SessionState::SignedIn);
    assert!(fake.session.status().offline);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_new_access_token_is_not_handed_out_before_the_rotated_refresh_token_is_stored() {
    let (store, saving_rx, release_tx) = GatedStore::gating("rt-2");
    let fake = FakeIdp::signed_in_over(Arc::new(store), "at-1", 0).await;
    refresh_mock()
        .respond_with(token_response("at-2", Some("rt-2"), 3600))
        .mount(&fake.server)
        .await;
    let (session, store) = (fake.session.clone(), fake.store.clone());

    let refresher = tokio::spawn({
        let s = session.clone();
        async move { s.fresh_access_token().await }
    });
    // The refresh got the new tokens and is now saving rt-2.
    tokio::task::spawn_blocking(move || saving_rx.recv().unwrap())
        .await
        .unwrap();
    // A second caller arrives meanwhile: its call has started and waits.
    let waiter = spawn_waiting({
        let s = session.clone();
        async move { s.fresh_access_token().await }
    })
    .await;
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
