//! Stores that fail under the engine (`latchkey_testkit::stores`): a rotation whose save failed is
//! saved before the next refresh and on lock (never over another process's sign-out), and a store
//! whose refresh lock fails makes the scheduler back off instead of spinning.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use latchkey_core::{SecretStore, SessionEvent, SessionState};
use latchkey_testkit::fake_idp::{
    refresh_mock, requests_containing, stored_rt, token_response, FakeIdp,
};
use latchkey_testkit::stores::{FlakyStore, LockFails};
use serde_json::json;
use wiremock::matchers::body_string_contains;
use wiremock::{Mock, ResponseTemplate};

/// Signed in (rt-1) on a fake whose store fails to save `rt-2` once; the refresh mocks are the
/// test's own.
async fn signed_in_with_a_flaky_store() -> FakeIdp<FlakyStore> {
    let store = Arc::new(FlakyStore::failing_to_save("rt-2", 1));
    FakeIdp::signed_in_over(store, "at-1", 3600).await
}

/// A refresh that rotates rt-1 to rt-2.
fn rotation_of_rt1() -> Mock {
    refresh_mock()
        .and(body_string_contains("refresh_token=rt-1"))
        .respond_with(token_response("at-2", Some("rt-2"), 3600))
}

/// Refreshes; the rotation to rt-2 is not saved (the store still holds rt-1).
async fn refresh_whose_save_fails(fake: &FakeIdp<FlakyStore>) {
    fake.session.refresh().await.unwrap();
    assert_eq!(
        stored_rt(&fake.store.inner).as_deref(),
        Some("rt-1"),
        "the save failed"
    );
}

#[tokio::test]
async fn a_rotation_whose_save_failed_is_saved_before_the_next_refresh_which_sends_the_live_token()
{
    let fake = signed_in_with_a_flaky_store().await;
    let (server, session, store) = (&fake.server, &fake.session, &fake.store);
    // rt-1 rotates once; sent again (it is dead), the server says invalid_grant.
    rotation_of_rt1().up_to_n_times(1).mount(server).await;
    refresh_mock()
        .and(body_string_contains("refresh_token=rt-1"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .mount(server)
        .await;
    refresh_mock()
        .and(body_string_contains("refresh_token=rt-2"))
        .respond_with(token_response("at-3", Some("rt-3"), 3600))
        .expect(1)
        .mount(server)
        .await;
    let mut events = session.subscribe();

    refresh_whose_save_fails(&fake).await;
    let event = events.try_recv().unwrap();
    assert!(
        matches!(event, latchkey_core::SessionEvent::StoreFailed { .. }),
        "{event:?}"
    );

    // The store's rt-1 is not another process's rotation: rt-2 is saved, then sent.
    session.refresh().await.unwrap();
    assert_eq!(session.status().state, SessionState::SignedIn);
    assert_eq!(stored_rt(&store.inner).as_deref(), Some("rt-3"));
    let sent_rt1 = requests_containing(server, "refresh_token=rt-1").await;
    assert_eq!(sent_rt1, 1, "the dead rt-1 was never sent again");
}

#[tokio::test]
async fn locking_saves_a_rotation_whose_save_failed_instead_of_dropping_the_live_token() {
    let fake = signed_in_with_a_flaky_store().await;
    let (server, session, store) = (&fake.server, &fake.session, &fake.store);
    rotation_of_rt1().expect(1).mount(server).await;
    refresh_whose_save_fails(&fake).await;

    assert_eq!(session.lock().await.state, SessionState::Locked);
    assert_eq!(stored_rt(&store.inner).as_deref(), Some("rt-2"));
}

#[tokio::test]
async fn locking_never_writes_an_unsaved_rotation_over_another_processs_sign_out() {
    let fake = signed_in_with_a_flaky_store().await;
    let (server, session, store) = (&fake.server, &fake.session, &fake.store);
    refresh_mock()
        .respond_with(token_response("at-2", Some("rt-2"), 3600))
        .mount(server)
        .await;
    session.refresh().await.unwrap(); // rt-2's save fails
    store
        .inner
        .clear(&store.inner.lock_for_refresh().unwrap())
        .unwrap(); // meanwhile another process signs out

    session.lock().await;
    assert_eq!(
        stored_rt(&store.inner),
        None,
        "the sign-out elsewhere stands"
    );
}

#[tokio::test]
async fn a_store_whose_lock_fails_makes_the_scheduler_back_off_instead_of_spinning() {
    let store = Arc::new(LockFails::default());
    let fake = FakeIdp::signed_in_over(store.clone(), "at-1", 0).await;
    store.armed.store(true, Ordering::SeqCst);
    // From here on, time only moves when every task waits: a spinning scheduler never waits.
    tokio::time::pause();
    let start = tokio::time::Instant::now();
    let mut events = fake.session.subscribe();
    let _refresher = fake.session.spawn_auto_refresh();
    let mut failures = 0;
    while failures < 4 {
        tokio::select! {
            event = events.recv() => {
                if let Ok(SessionEvent::RefreshFailed { retry_in_secs, .. }) = event {
                    assert!(retry_in_secs.is_some());
                    failures += 1;
                }
            }
            _ = store.spinning.notified() => panic!(
                "the scheduler spins: 100 lock attempts, {failures} failures reported"
            ),
        }
    }
    assert_eq!(
        store.attempts.load(Ordering::SeqCst),
        4,
        "one lock attempt per reported failure"
    );
    // Backoff of at least 0.5 + 1 + 2 s (jitter halves at most) between the four attempts.
    assert!(
        start.elapsed() >= Duration::from_millis(3500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(fake.session.status().state, SessionState::SignedIn);
}
