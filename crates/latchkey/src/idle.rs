//! User activity and the idle locker.
//!
//! Activity is what the user does: sign in, unlock (both take the user's own proof), and their
//! own input as native code observes it ([`super::Latchkey::user_present`]). API calls, userinfo
//! and refreshes don't count, whoever asks: script in a WebView can make them, and must not keep
//! an unattended session unlocked. It is kept here, beside the session it locks, not in the vault: a session without a
//! refresh token has no vault key, and must still be locked (its access token forgotten) when
//! the user walks away.
//!
//! Idle time is the longer of two clocks' readings: the monotonic one (immune to clock changes;
//! tokio's, so tests can pause it) and the wall clock, which, unlike the monotonic clock on Linux
//! and macOS, keeps counting while the machine sleeps: a laptop opened the next morning is idle.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;
use tokio::time::Instant;

/// When the user last did something, on both clocks.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    last: Mutex<Option<(Instant, SystemTime)>>,
}

impl Activity {
    fn last(&self) -> std::sync::MutexGuard<'_, Option<(Instant, SystemTime)>> {
        // Assigned whole; a poisoned lock is still consistent.
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The user did something now.
    pub(crate) fn touch(&self) {
        *self.last() = Some((Instant::now(), SystemTime::now()));
    }

    /// When the user last did something (monotonic clock), if anything was recorded.
    pub(crate) fn last_at(&self) -> Option<Instant> {
        self.last().map(|(at, _)| at)
    }

    /// Forget the activity (nothing to lock any more).
    pub(crate) fn clear(&self) {
        *self.last() = None;
    }

    /// Whether the user did nothing for `idle`, by either clock. False when nothing was recorded.
    pub(crate) fn is_idle(&self, idle: Duration) -> bool {
        match *self.last() {
            Some((at, wall)) => {
                let asleep_or_not = wall.elapsed().unwrap_or(Duration::ZERO);
                at.elapsed().max(asleep_or_not) >= idle
            }
            None => false,
        }
    }

    /// Moves the last activity `by` back on the wall clock only, as a suspended machine sees it.
    #[cfg(test)]
    pub(crate) fn pretend_asleep_for(&self, by: Duration) {
        if let Some((_, wall)) = &mut *self.last() {
            *wall -= by;
        }
    }
}

/// Stops the idle locker when dropped.
#[derive(Debug)]
pub(crate) struct IdleLocker {
    _shutdown: oneshot::Sender<()>,
}

/// Starts the idle locker: it looks every quarter of `idle` (between 1 s and 30 s, so a machine
/// waking from sleep locks soon) and runs `lock` once the user has been idle for `idle`.
pub(crate) fn spawn_idle_locker<F, Fut>(
    activity: Arc<Activity>,
    idle: Duration,
    lock: F,
) -> IdleLocker
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let period = (idle / 4).clamp(Duration::from_secs(1), Duration::from_secs(30));
    let (shutdown, mut stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                _ = tokio::time::sleep(period) => {}
            }
            if activity.is_idle(idle) {
                tracing::info!("locking after {} s idle", idle.as_secs());
                activity.clear();
                lock().await;
            }
        }
    });
    IdleLocker {
        _shutdown: shutdown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_night_asleep_counts_as_idle_though_the_monotonic_clock_stood_still() {
        let activity = Activity::default();
        assert!(
            !activity.is_idle(Duration::ZERO),
            "nothing recorded, nothing to lock"
        );
        activity.touch();
        assert!(!activity.is_idle(Duration::from_secs(60)));
        activity.pretend_asleep_for(Duration::from_secs(8 * 3600));
        assert!(activity.is_idle(Duration::from_secs(15 * 60)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_idle_locker_runs_the_lock_once_the_user_is_idle_and_stops_when_dropped() {
        let activity = Arc::new(Activity::default());
        activity.touch();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let locker = spawn_idle_locker(activity.clone(), Duration::from_secs(60), move || {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Instant::now());
            }
        });
        let start = Instant::now();
        let locked_at = rx.recv().await.unwrap();
        assert!(locked_at - start >= Duration::from_secs(60));
        drop(locker);
        activity.touch();
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(rx.try_recv().is_err(), "a dropped locker locks nothing");
    }
}
