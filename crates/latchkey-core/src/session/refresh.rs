//! Fresh access tokens: single-flight refresh, shared failures, backoff, and a refresh that always
//! runs to completion.
//!
//! # Cancellation
//! A refresh runs in a task of its own that owns the state lock ([`Session::refresh_to_completion`]).
//! Whoever asked for it (a caller wrapped in `timeout` or `select!`, the scheduler being stopped,
//! a facade being dropped) may go away mid-exchange; the task still receives the response and
//! stores a rotated refresh token. Cutting it short would lose the only live refresh token: the
//! server retires the old one the moment it answers.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use openidconnect::AccessToken;
use rand::Rng;
use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::store::StoreError;

use super::types::*;
use super::{Session, TokenState};

impl Session {
    /// A valid access token, refreshing first if it is expired or about to be.
    ///
    /// Cancellation-safe: dropping the future never cuts a refresh short (see the module docs).
    ///
    /// # Security warning
    /// The token is for an `Authorization` header sent by Rust code; never log it or send it to
    /// a WebView.
    pub async fn fresh_access_token(&self) -> Result<AccessToken> {
        let seen = self.inner.attempts.load(Ordering::SeqCst);
        let state = self.inner.tokens.clone().lock_owned().await;
        let now = Instant::now();
        match &*state {
            TokenState::SignedOut => return Err(Error::NotSignedIn),
            TokenState::Locked(_) => return Err(StoreError::Locked.into()),
            TokenState::Ended(reason) => return Err(Error::ReauthRequired(reason.clone())),
            TokenState::Active(t) if t.is_fresh(now) => {
                if let Some(at) = &t.access {
                    return Ok(at.clone());
                }
            }
            TokenState::Active(_) => {}
        }
        // We waited on the lock while another caller's refresh ran and failed: share its result
        // rather than sending another request.
        if self.inner.attempts.load(Ordering::SeqCst) != seen {
            if let Some(err) = self.failure_since(seen) {
                return self.usable_or(&state, Error::Shared(err));
            }
        }
        let (state, result) = self
            .refresh_to_completion(state, RefreshTrigger::OnDemand)
            .await;
        match result {
            Ok(()) => self.current_access(&state),
            Err(e) if e.is_transient() => self.usable_or(&state, e),
            Err(e) => Err(e),
        }
    }

    /// Refreshes now, whatever the token's age. Cancellation-safe.
    pub async fn refresh(&self) -> Result<SessionStatus> {
        let state = self.inner.tokens.clone().lock_owned().await;
        let (state, result) = self
            .refresh_to_completion(state, RefreshTrigger::Forced)
            .await;
        drop(state);
        result?;
        Ok(self.status())
    }

    /// Runs one refresh in a task of its own that holds `state` until the refresh's result is
    /// stored, and gives the lock back. If the caller is dropped meanwhile, the task finishes
    /// anyway and releases the lock.
    pub(super) async fn refresh_to_completion(
        &self,
        mut state: OwnedMutexGuard<TokenState>,
        trigger: RefreshTrigger,
    ) -> (OwnedMutexGuard<TokenState>, Result<()>) {
        let session = self.clone();
        let task = tokio::spawn(async move {
            let result = session.refresh_locked(&mut state, trigger).await;
            (state, result)
        });
        match task.await {
            Ok(done) => done,
            Err(e) => {
                // The task panicked (a bug); its lock guard was released as it unwound.
                let state = self.inner.tokens.clone().lock_owned().await;
                (state, Err(Error::Internal(format!("refresh task: {e}"))))
            }
        }
    }

    /// Records a failed attempt: shared with callers queued behind it, backed off, reported.
    pub(super) fn refresh_failed(
        &self,
        attempt: u64,
        trigger: RefreshTrigger,
        error: Error,
    ) -> Error {
        let error = Arc::new(error);
        if let Ok(mut last) = self.inner.last_failure.lock() {
            *last = Some((attempt, error.clone()));
        }
        let mut retry_in = Duration::ZERO;
        self.modify_meta(|meta| {
            if error.is_transient() {
                meta.offline = true;
            }
            meta.consecutive_failures = meta.consecutive_failures.saturating_add(1);
            retry_in = backoff(meta.consecutive_failures);
            if matches!(&*error, Error::TokenEndpointUnexplained { .. }) {
                retry_in = retry_in.max(super::refresh_grant::UNEXPLAINED_RETRY);
            }
            meta.retry_at = Some(Instant::now() + retry_in);
        });
        tracing::warn!(error = %error, ?trigger, "refresh failed; the session is kept");
        self.emit(SessionEvent::RefreshFailed {
            trigger,
            kind: error.kind(),
            message: error.to_string(),
            retry_in_secs: Some(retry_in.as_secs()),
        });
        Error::Shared(error)
    }

    pub(super) fn failure_since(&self, seen: u64) -> Option<Arc<Error>> {
        let last = self.inner.last_failure.lock().ok()?;
        match &*last {
            Some((attempt, err)) if *attempt > seen => Some(err.clone()),
            _ => None,
        }
    }

    pub(super) fn usable_or(&self, state: &TokenState, error: Error) -> Result<AccessToken> {
        match state {
            TokenState::Active(t) if t.is_usable(Instant::now()) => match &t.access {
                Some(at) => Ok(at.clone()),
                None => Err(error),
            },
            _ => Err(error),
        }
    }

    pub(super) fn current_access(&self, state: &TokenState) -> Result<AccessToken> {
        match state {
            TokenState::Active(t) => t.access.clone().ok_or(Error::NotSignedIn),
            TokenState::Locked(_) => Err(StoreError::Locked.into()),
            TokenState::SignedOut => Err(Error::NotSignedIn),
            TokenState::Ended(r) => Err(Error::ReauthRequired(r.clone())),
        }
    }
}

/// Exponential backoff with jitter: 1 s, 2 s, 4 s … capped at 60 s, each scaled by 0.5–1.0.
fn backoff(failures: u32) -> Duration {
    let base =
        Duration::from_secs(1u64 << failures.saturating_sub(1).min(6)).min(Duration::from_secs(60));
    let jitter: f64 = rand::thread_rng().gen_range(0.5..=1.0);
    base.mul_f64(jitter).max(Duration::from_millis(500))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped_with_jitter() {
        for _ in 0..50 {
            let first = backoff(1);
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
            let third = backoff(3);
            assert!(third >= Duration::from_secs(2) && third <= Duration::from_secs(4));
            let many = backoff(40);
            assert!(many >= Duration::from_secs(30) && many <= Duration::from_secs(60));
        }
    }
}
