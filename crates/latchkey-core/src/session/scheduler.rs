//! The background refresher: refreshes a margin before expiry, backs off after failures.

use std::time::Duration;

use tokio::time::Instant;

use super::types::*;
use super::{Session, TokenState};

/// Stops the background refresher when dropped.
#[derive(Debug)]
pub struct AutoRefresh {
    pub(super) handle: tokio::task::JoinHandle<()>,
}

impl Drop for AutoRefresh {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl Session {
    /// Starts the background refresher: it refreshes a margin before expiry, and after a
    /// transient failure retries with exponential backoff (1 s doubling to 60 s) and jitter. It
    /// stops when the returned guard is dropped.
    pub fn spawn_auto_refresh(&self) -> AutoRefresh {
        let session = self.clone();
        AutoRefresh {
            handle: tokio::spawn(async move { session.auto_refresh_loop().await }),
        }
    }

    pub(super) async fn auto_refresh_loop(self) {
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
            match due {
                Some(at) => {
                    // Wake at least every RECHECK_EVERY: a sleep on the monotonic clock doesn't
                    // notice the machine was suspended, `refresh_due` does.
                    let until = at.min(Instant::now() + RECHECK_EVERY);
                    tokio::select! {
                        _ = tokio::time::sleep_until(until) => {}
                        _ = wake => continue,
                    }
                }
                None => {
                    wake.await;
                    continue;
                }
            }
            let mut state = self.inner.tokens.lock().await;
            // Someone may have refreshed while we slept.
            let still_due = matches!(&*state, TokenState::Active(t)
                if t.refresh_due().is_some_and(|d| d <= Instant::now()));
            if still_due {
                // Failures are reported through events and the backoff state.
                let _ = self
                    .refresh_locked(&mut state, RefreshTrigger::Scheduled)
                    .await;
            }
        }
    }
}

/// The background refresher looks at the clock at least this often, so a refresh that fell due
/// while the machine slept happens within this long of waking.
const RECHECK_EVERY: Duration = Duration::from_secs(30);
