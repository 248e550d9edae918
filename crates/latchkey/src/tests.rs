//! The facade's idle lock, with the vault's own helpers (a PIN vault holding a session).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::store::SecretStore;
use crate::vault::testing::{pin, protector, session};
use crate::vault::Vault;
use crate::{ErrorKind, Latchkey, SessionEvent, SessionState};

/// A facade over a vault that holds a session of `issuer`, locked.
fn latchkey(dir: &std::path::Path, issuer: &str) -> Latchkey {
    {
        let v = Vault::open(dir, protector()).unwrap();
        v.prepare(&pin("pin-246810")).unwrap();
        let mut stored = session("RT");
        stored.issuer = issuer.into();
        v.save(&v.lock_for_refresh().unwrap(), &stored).unwrap();
    }
    let config = crate::Config::new(issuer, "app").unwrap();
    Latchkey::open(config, dir, protector()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idle_locker_locks_the_vault_and_the_session_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there: the unlock is "offline", which still unlocks.
    let latchkey = latchkey(dir.path(), "http://127.0.0.1:9");
    latchkey.start(Some(Duration::ZERO)).await.unwrap();
    let mut events = latchkey.subscribe();
    latchkey.unlock(pin("pin-246810")).await.unwrap();
    // The timeout turns a hang into a failure; nothing depends on timing.
    let locked = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Ok(SessionEvent::Locked) = events.recv().await {
                return;
            }
        }
    })
    .await;
    assert!(locked.is_ok(), "the idle locker locked");
    assert!(latchkey.vault().is_locked());
    let status = latchkey.status();
    assert_eq!(status.state, SessionState::Locked);
    assert_eq!(status.display_name.as_deref(), Some("Alice Example"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_action_after_a_night_asleep_locks_instead_of_resetting_the_idle_clock() {
    let dir = tempfile::tempdir().unwrap();
    let latchkey = latchkey(dir.path(), "http://127.0.0.1:9");
    latchkey
        .start(Some(Duration::from_secs(15 * 60)))
        .await
        .unwrap();
    let status = latchkey.unlock(pin("pin-246810")).await.unwrap();
    assert_eq!(status.state, SessionState::SignedIn);

    latchkey
        .activity
        .pretend_asleep_for(Duration::from_secs(8 * 3600));
    let err = latchkey.userinfo().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Locked, "{err:?}");
    assert!(latchkey.vault().is_locked());
    assert_eq!(latchkey.status().state, SessionState::Locked);
    assert!(latchkey.vault().load().is_err(), "the key is gone");
}

#[tokio::test(start_paused = true)]
async fn scripted_userinfo_every_14_minutes_does_not_keep_the_session_unlocked_past_15() {
    let dir = tempfile::tempdir().unwrap();
    let latchkey = latchkey(dir.path(), "http://127.0.0.1:9");
    latchkey
        .start(Some(Duration::from_secs(15 * 60)))
        .await
        .unwrap();
    latchkey.unlock(pin("pin-246810")).await.unwrap();
    // Times count from the unlock's own stamp: the unlock (and each call below) waits on real
    // sockets, and a paused clock moves on to the next timer while they are pending.
    let unlocked_at = latchkey.last_user_activity().unwrap();
    let until = |after: Duration| {
        (unlocked_at + after).saturating_duration_since(tokio::time::Instant::now())
    };

    // What script in the WebView can do: call userinfo, the API and a GET, 14 minutes on.
    tokio::time::advance(until(Duration::from_secs(14 * 60))).await;
    assert_eq!(latchkey.status().state, SessionState::SignedIn);
    let _ = latchkey.userinfo().await;
    let _ = latchkey.call_api().await;
    assert_eq!(
        latchkey.last_user_activity(),
        Some(unlocked_at),
        "scripted calls did not reset the idle clock"
    );
    // 15 minutes after the unlock, and the idle locker's next look (every 30 s); the lock itself
    // runs on a blocking thread (which holds the paused clock): wait for its event.
    let mut events = latchkey.subscribe();
    tokio::time::advance(until(Duration::from_secs(15 * 60 + 31))).await;
    let locked = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match events.recv().await {
                Ok(SessionEvent::Locked) => return true,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return false,
                _ => {}
            }
        }
    })
    .await;
    assert!(
        locked.is_ok(),
        "the idle locker locked within its next look"
    );
    assert_eq!(
        latchkey.status().state,
        SessionState::Locked,
        "15 minutes after the user's last own action, the session is locked"
    );
    assert!(latchkey.vault().is_locked());
}

#[tokio::test(start_paused = true)]
async fn the_users_own_presence_reported_by_native_code_keeps_the_session_unlocked() {
    let dir = tempfile::tempdir().unwrap();
    let latchkey = latchkey(dir.path(), "http://127.0.0.1:9");
    latchkey
        .start(Some(Duration::from_secs(15 * 60)))
        .await
        .unwrap();
    latchkey.unlock(pin("pin-246810")).await.unwrap();
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(14 * 60)).await;
        latchkey.user_present();
    }
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(latchkey.status().state, SessionState::SignedIn);
}
