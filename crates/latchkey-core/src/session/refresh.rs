//! Fresh access tokens: single-flight refresh, shared failures, OIDC Core §12.2 checks on refreshed
//! ID tokens, and backoff.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use openidconnect::core::CoreIdToken;
use openidconnect::{AccessToken, Nonce, OAuth2TokenResponse};
use rand::Rng;
use tokio::time::Instant;

use crate::discovery::Provider;
use crate::error::{Error, ReauthReason, Result};
use crate::secret::SecretString;
use crate::store::StoreError;
use crate::tokens::{accept_token_response, is_invalid_grant, map_token_error, Tokens};

use super::types::*;
use super::{Session, TokenState};

impl Session {
    /// A valid access token, refreshing first if it is expired or about to be.
    ///
    /// # Security warning
    /// The token is for an `Authorization` header sent by Rust code; never log it or send it to
    /// a WebView.
    pub async fn fresh_access_token(&self) -> Result<AccessToken> {
        let seen = self.inner.attempts.load(Ordering::SeqCst);
        let mut state = self.inner.tokens.lock().await;
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
        match self
            .refresh_locked(&mut state, RefreshTrigger::OnDemand)
            .await
        {
            Ok(()) => self.current_access(&state),
            Err(e) if e.is_transient() => self.usable_or(&state, e),
            Err(e) => Err(e),
        }
    }

    /// Refreshes now, whatever the token's age.
    pub async fn refresh(&self) -> Result<SessionStatus> {
        let mut state = self.inner.tokens.lock().await;
        self.refresh_locked(&mut state, RefreshTrigger::Forced)
            .await?;
        drop(state);
        Ok(self.status())
    }

    pub(super) async fn refresh_locked(
        &self,
        state: &mut TokenState,
        trigger: RefreshTrigger,
    ) -> Result<()> {
        let _cross_process = self.adopt_stored_session(state).await?;
        let tokens = match state {
            TokenState::SignedOut => return Err(Error::NotSignedIn),
            TokenState::Locked(_) => return Err(StoreError::Locked.into()),
            TokenState::Ended(reason) => return Err(Error::ReauthRequired(reason.clone())),
            TokenState::Active(t) => t,
        };
        let Some(refresh_token) = tokens.refresh.clone() else {
            // No refresh token: a still-valid access token is used until it expires; after that
            // (or once a resource server rejects it) only a new sign-in helps.
            let usable = tokens.is_usable(Instant::now());
            match trigger {
                RefreshTrigger::Unauthorized => {}
                _ if !usable => {}
                RefreshTrigger::Forced => {
                    return Err(Error::ReauthRequired(ReauthReason::NoRefreshToken))
                }
                RefreshTrigger::Scheduled | RefreshTrigger::OnDemand => return Ok(()),
            }
            self.end_session(state, ReauthReason::NoRefreshToken);
            return Err(Error::ReauthRequired(ReauthReason::NoRefreshToken));
        };
        let provider = match self.provider().await {
            Ok(provider) => provider,
            Err(e) => {
                // Discovery failed (offline at launch): a failed attempt like any other, with
                // backoff, so the scheduler doesn't retry in a tight loop.
                let attempt = self.inner.attempts.fetch_add(1, Ordering::SeqCst) + 1;
                return Err(self.refresh_failed(attempt, trigger, e));
            }
        };
        let sent_at = Instant::now();
        let sent_wall = SystemTime::now();
        tracing::debug!(?trigger, "refreshing the access token");
        let result = provider
            .client
            .exchange_refresh_token(&refresh_token)
            .request_async(&self.inner.http)
            .await;
        let attempt = self.inner.attempts.fetch_add(1, Ordering::SeqCst) + 1;

        let response = match result {
            Ok(response) => response,
            Err(e) => {
                if let Some(description) = is_invalid_grant(&e) {
                    tracing::warn!("refresh token rejected (invalid_grant); ending the session");
                    self.end_session(
                        state,
                        ReauthReason::RefreshTokenRejected(description.clone()),
                    );
                    return Err(Error::ReauthRequired(ReauthReason::RefreshTokenRejected(
                        description,
                    )));
                }
                return Err(self.refresh_failed(attempt, trigger, map_token_error(e)));
            }
        };

        // The server may have rotated the refresh token: the old one is dead from this instant,
        // so the new one is stored before anything else can fail (a bad ID token, a bad field),
        // keeping the window in which a crash loses the session as small as it can be.
        let new_refresh = response
            .refresh_token()
            .filter(|rt| !rt.secret().is_empty())
            .cloned();
        let rotated = new_refresh
            .as_ref()
            .is_some_and(|new| !crate::secret::ct_str_eq(new.secret(), refresh_token.secret()));
        if let (true, Some(new_rt)) = (rotated, new_refresh) {
            tokens.refresh = Some(new_rt);
            self.save_or_report(tokens);
        }

        let issued = match accept_token_response(&response, sent_at) {
            Ok(i) => i,
            Err(e) => return Err(self.refresh_failed(attempt, trigger, e)),
        };
        let id_token = match response.extra_fields().id_token() {
            Some(id_token) => {
                match self
                    .check_refreshed_id_token(&provider, tokens, id_token)
                    .await
                {
                    // Kept in memory; stored with the next save.
                    Ok(()) => Some(SecretString::new(id_token.to_string())),
                    Err(e) => return Err(self.refresh_failed(attempt, trigger, e)),
                }
            }
            None => None,
        };

        let mut next = (**tokens).clone();
        next.access = Some(issued.access);
        next.expires_at = issued.expires_at;
        next.lifetime = issued.lifetime;
        next.obtained_at = sent_at;
        next.obtained_wall = sent_wall;
        if let Some(id) = id_token {
            next.id_token = Some(id);
        }
        if let Some(scopes) = issued.scopes {
            next.scopes = scopes;
        }
        **tokens = next;
        self.update_meta(state, |m| {
            m.refresh_count += 1;
            if rotated {
                m.rotation_count += 1;
            }
            m.last_refresh_at = Some(SystemTime::now());
            m.offline = false;
            m.consecutive_failures = 0;
            m.retry_at = None;
        });
        tracing::info!(?trigger, rotated, "access token refreshed");
        self.emit(SessionEvent::Refreshed {
            trigger,
            rotated,
            status: Box::new(self.status()),
        });
        self.inner.wake.notify_one();
        Ok(())
    }

    pub(super) async fn check_refreshed_id_token(
        &self,
        provider: &Provider,
        tokens: &Tokens,
        id_token: &CoreIdToken,
    ) -> Result<()> {
        let original = tokens.nonce.clone();
        // OIDC Core §12.2: a nonce SHOULD NOT be present; if it is, it MUST be the original one.
        let claims = provider
            .verify_id_token(&self.inner.http, id_token, move |n: Option<&Nonce>| match (
                n, &original,
            ) {
                (None, _) => Ok(()),
                (Some(n), Some(orig)) if orig.ct_eq(n.secret()) => Ok(()),
                (Some(_), _) => Err("refreshed ID token carries a different nonce".into()),
            })
            .await?;
        // ... `sub` MUST be the same ...
        if let Some(sub) = &tokens.subject {
            if claims.subject().as_str() != sub {
                return Err(Error::IdTokenInvalid(
                    "refreshed ID token is for another subject".into(),
                ));
            }
        }
        // ... and an `auth_time`, if present, MUST be the original authentication's.
        if let (Some(original), Some(now)) = (tokens.auth_time, claims.auth_time()) {
            if now.timestamp() != original {
                return Err(Error::IdTokenInvalid(
                    "refreshed ID token claims another authentication time".into(),
                ));
            }
        }
        Ok(())
    }

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
        let retry_in = {
            let mut meta = self.meta();
            if error.is_transient() {
                meta.offline = true;
            }
            meta.consecutive_failures = meta.consecutive_failures.saturating_add(1);
            let delay = backoff(meta.consecutive_failures);
            meta.retry_at = Some(Instant::now() + delay);
            delay
        };
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
