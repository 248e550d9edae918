//! The background refresher: refreshes a margin before expiry, backs off after failures.
//!
//! The shape every background task here has (mini-redis's): a loop that `select!`s on its next
//! deadline, a wake-up, and a shutdown signal; a guard whose drop sends the shutdown. Work that
//! must not be cut short (a refresh) runs in a task of its own, so stopping the loop never
//! interrupts it.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::types::*;
use super::{Session, TokenState};

/// Stops the background refresher when dropped (or, waiting for it, with [`AutoRefresh::stop`]).
/// A refresh already under way still completes and stores its result.
#[derive(Debug)]
pub struct AutoRefresh {
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl AutoRefresh {
    /// Stops the refresher and waits until its loop has ended.
    pub async fn stop(mut self) {
        self.shutdown.take();
        if let Some(handle) = self.handle.take() {
            let _ = handle.await;
        }
    }
}

impl Drop for AutoRefresh {
    fn drop(&mut self) {
        // Dropping the sender is the signal; the loop ends at its next await point.
        self.shutdown.take();
    }
}

impl Session {
    /// Starts the background refresher: it refreshes a margin before expiry, and after a failure
    /// retries with exponential backoff (1 s doubling to 60 s) and jitter. It stops when the
    /// returned guard is dropped.
    pub fn spawn_auto_refresh(&self) -> AutoRefresh {
        let session = self.clone();
        let (shutdown, stopped) = oneshot::channel();
        AutoRefresh {
            shutdown: Some(shutdown),
            handle: Some(tokio::spawn(session.auto_refresh_loop(stopped))),
        }
    }

    async fn auto_refresh_loop(self, mut stopped: oneshot::Receiver<()>) {
        loop {
            let due = {
                let state = self.inner.tokens.lock().await;
                let due = match &*state {
                    TokenState::Active(t) => t.refresh_due(),
                    _ => None,
                };
                let retry_at = self.meta().retry_at;
                due.map(|d| retry_at.map_or(d, |r| r.max(d)))
            };
            let wake = self.inner.wake.notified();
            // Wake at least every RECHECK_EVERY: a sleep on the monotonic clock doesn't notice
            // that the machine was suspended; `refresh_due` does.
            let until = due.map(|at| at.min(Instant::now() + RECHECK_EVERY));
            tokio::select! {
                _ = &mut stopped => return,
                _ = wake => continue,
                _ = sleep_until(until) => {}
            }
            let state = self.inner.tokens.clone().lock_owned().await;
            // Someone may have refreshed while we slept.
            let still_due = matches!(&*state, TokenState::Active(t)
                if t.refresh_due().is_some_and(|d| d <= Instant::now()));
            if still_due {
                // Failures are reported through events and the backoff state.
                let _ = self
                    .refresh_to_completion(state, RefreshTrigger::Scheduled)
                    .await;
            }
        }
    }
}

/// Sleeps until `until`, or forever when there is nothing to wait for.
async fn sleep_until(until: Option<Instant>) {
    match until {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The background refresher looks at the clock at least this often, so a refresh that fell due
/// while the machine slept happens within this long of waking.
const RECHECK_EVERY: Duration = Duration::from_secs(30);
