//! Idle tracking: when the key was last used, and the background task that locks after a while.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::Vault;

/// When the key was last used, on both clocks (see [`Vault::is_idle`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Activity {
    at: Instant,
    wall: SystemTime,
}

impl Activity {
    pub(super) fn now() -> Self {
        Self {
            at: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// The longer of the two clocks' readings (a wall clock set back counts as no time).
    fn elapsed(&self) -> Duration {
        let wall = self.wall.elapsed().unwrap_or(Duration::ZERO);
        self.at.elapsed().max(wall)
    }
}

impl Vault {
    /// Whether the key is released and nothing used it for `idle`, by either clock: the
    /// monotonic one (immune to clock changes) or the wall clock (which, unlike the monotonic
    /// clock on Linux and macOS, keeps counting while the machine sleeps, so a laptop opened the
    /// next morning counts as idle).
    pub fn is_idle(&self, idle: Duration) -> bool {
        let state = self.state();
        match &state.last_activity {
            Some(activity) => state.key.is_some() && activity.elapsed() >= idle,
            None => false,
        }
    }

    /// Moves the last activity `by` back on the wall clock only, as a suspended machine sees it.
    #[cfg(test)]
    pub(crate) fn pretend_asleep_for(&self, by: Duration) {
        if let Some(activity) = &mut self.state().last_activity {
            activity.wall -= by;
        }
    }

    /// Records user activity for [`Vault::is_idle`] (background refreshes don't count).
    pub fn touch(&self) {
        let mut state = self.state();
        if state.key.is_some() {
            state.last_activity = Some(Activity::now());
        }
    }
}

/// Locks the vault and the session once nothing has called [`Vault::touch`] for `idle`
/// (background refreshes don't count as activity). Checks every quarter of `idle`, between once
/// a second and every 30 s (so a machine waking from sleep locks soon). Stops when the returned
/// guard is dropped.
pub fn spawn_idle_lock(vault: Arc<Vault>, session: crate::Session, idle: Duration) -> IdleLock {
    let period = (idle / 4).clamp(Duration::from_secs(1), Duration::from_secs(30));
    IdleLock {
        handle: tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            loop {
                ticks.tick().await;
                if vault.is_idle(idle) {
                    tracing::info!("locking after {} s idle", idle.as_secs());
                    // The session first: a refresh in flight still saves its rotated token.
                    session.lock_with(|| vault.lock()).await;
                }
            }
        }),
    }
}

/// Stops the idle locker when dropped.
#[derive(Debug)]
pub struct IdleLock {
    handle: tokio::task::JoinHandle<()>,
}

impl Drop for IdleLock {
    fn drop(&mut self) {
        self.handle.abort();
    }
}
