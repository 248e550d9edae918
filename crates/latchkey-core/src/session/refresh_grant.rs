//! The refresh grant itself (RFC 6749 §6), in the order that keeps a session alive:
//!
//! 1. Under the cross-process lock, re-read the store: adopt another process's rotation, or end
//!    with it ([`Session::adopt_stored_session`]).
//! 2. POST `grant_type=refresh_token`, the refresh token and `client_id` (oauth2 builds it; no
//!    client secret).
//! 3. A 200 that carries a new refresh token: store it *first*, before any other field is
//!    checked; the server retired the old one when it answered.
//! 4. Then check the rest (`token_type`, access token, `expires_in`, a refreshed ID token under
//!    OIDC Core §12.2).
//!
//! # Failure policy
//! - A conformant OAuth error (400/401/403 with an RFC 6749 §5.2 JSON `error`: `invalid_grant`,
//!   `invalid_client`, …) is a refusal: a retry with the same refresh token cannot succeed. The
//!   session ends with [`ReauthReason::RefreshTokenRejected`] and the store is cleared.
//! - A 400, 401 or 403 *without* one (an empty body, a CDN's or WAF's `403 text/html`, JSON with
//!   no OAuth `error`, a `401` whose only error is a challenge header) is not a verdict anyone can
//!   read: one blocked request must not wipe a live session. It is a failed attempt
//!   ([`Error::TokenEndpointUnexplained`], transient) with backoff of at least
//!   [`UNEXPLAINED_RETRY`]. But a provider that keeps refusing the same refresh token is not a
//!   blip either: the [`REFUSALS_IN_A_ROW`]th such refusal in a row (no answer that issued a
//!   token in between) ends the session as a refusal, after a best-effort revocation (RFC 7009)
//!   of the refresh token it drops, so the user reaches "sign in again" instead of a session
//!   every call fails in. A one-action front end ([`Session::set_one_shot`], a CLI) asks
//!   again within the same refresh, pausing 1 s then 2 s, so the rule holds per command.
//! - `invalid_dpop_proof` (in the body or a `DPoP` challenge) keeps the session, with backoff;
//!   the [`REFUSALS_IN_A_ROW`]th in a row ends it with [`ReauthReason::DpopProofRejected`] (a new
//!   sign-in makes a new key), after a best-effort revocation: never backoff forever.
//! - A session that must be DPoP-bound but has no key ([`ReauthReason::DpopKeyMissing`]) has its
//!   refresh token revoked (best effort) before it is forgotten: the server still holds it.
//! - Transport failures, 5xx, 429, 408, other statuses (404: a misconfigured endpoint) and
//!   malformed 200s keep the session; the failure is shared
//!   with queued callers and the scheduler backs off ([`Session::refresh_failed`]).
//! - A failure to take the cross-process lock or read the store backs off the same way (it never
//!   makes the scheduler spin).

use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use openidconnect::core::CoreIdToken;
use openidconnect::{Nonce, RefreshToken};
use tokio::time::Instant;

use crate::config::DpopPolicy;
use crate::discovery::Provider;
use crate::error::{Error, ReauthReason, Result};
use crate::secret::SecretString;
use crate::store::StoreError;
use crate::token_endpoint::{Capture, TokenAnswer};
use crate::tokens::{accept_token_response, Tokens};

use super::types::*;
use super::{Session, TokenState};

/// How many refusals without an OAuth error (or DPoP proof rejections) in a row end a session.
pub const REFUSALS_IN_A_ROW: u32 = 3;

/// The least time before the next attempt after a refusal without an OAuth error: a firewall
/// that blocks for a moment gets the moment, not three attempts within seconds.
pub const UNEXPLAINED_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

/// The pause before asking again, times the attempt, in a one-action front end
/// ([`Session::set_one_shot`]).
pub const ONE_SHOT_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// Refusals in a row that end a session only once they repeat.
#[derive(Debug, Default)]
pub(crate) struct Streaks {
    unexplained: u32,
    proof_rejected: u32,
}

impl Session {
    /// One refresh, with `state` locked. Call through [`Session::refresh_to_completion`], which
    /// makes sure it is never cut short.
    pub(super) async fn refresh_locked(
        &self,
        state: &mut TokenState,
        trigger: RefreshTrigger,
    ) -> Result<()> {
        match state {
            TokenState::SignedOut => return Err(Error::NotSignedIn),
            TokenState::Locked(_) => return Err(StoreError::Locked.into()),
            TokenState::Ended(reason) => return Err(Error::ReauthRequired(reason.clone())),
            TokenState::Active(_) => {}
        }
        // The store's lock, held from the re-read to the write of what the refresh returns: the
        // only way to write (every write below takes it), taken once.
        let adopted = match self.store_lock().await {
            Ok(held) => self.adopt_stored_session(&held, state).await.map(|()| held),
            Err(e) => Err(e),
        };
        let held = match adopted {
            Ok(held) => held,
            Err(e @ Error::ReauthRequired(_)) => return Err(e),
            Err(e) => {
                // The store or its lock failed (a vault directory gone, another process holding
                // the lock too long): a failed attempt with backoff, never a tight loop.
                let attempt = self.inner.attempts.fetch_add(1, Ordering::SeqCst) + 1;
                return Err(self.refresh_failed(attempt, trigger, e));
            }
        };
        let held = &held;
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
            self.end_session(held, state, ReauthReason::NoRefreshToken);
            return Err(Error::ReauthRequired(ReauthReason::NoRefreshToken));
        };
        if tokens.dpop.is_none() && self.inner.config.dpop == DpopPolicy::Required {
            // `dpop = "required"`: a session without its key (stored by a build or configuration
            // without DPoP, or a key that can't be read) never sends its refresh token unbound.
            tracing::warn!("DPoP is required and this session has no usable key; ending it");
            // The server still holds the refresh token: revoke it before it is forgotten.
            let _ = self.revoke(tokens).await;
            self.end_session(held, state, ReauthReason::DpopKeyMissing);
            return Err(Error::ReauthRequired(ReauthReason::DpopKeyMissing));
        }
        let provider = match self.provider().await {
            Ok(provider) => provider,
            Err(e) => {
                // Discovery failed (offline at launch): a failed attempt like any other, with
                // backoff, so the scheduler doesn't retry in a tight loop.
                let attempt = self.inner.attempts.fetch_add(1, Ordering::SeqCst) + 1;
                return Err(self.refresh_failed(attempt, trigger, e));
            }
        };
        let (answer, attempt, sent_at, sent_wall) = loop {
            let sent_at = Instant::now();
            let sent_wall = SystemTime::now();
            tracing::debug!(?trigger, "refreshing the access token");
            let capture = Capture::new(&self.inner.http).with_dpop(
                tokens.dpop.as_ref(),
                &self.inner.dpop_nonces,
                &self.inner.dpop_clocks,
            );
            let result = provider
                .client
                .exchange_refresh_token(&refresh_token)
                .request_async(&capture)
                .await;
            let answer = capture.finish(result);
            let attempt = self.inner.attempts.fetch_add(1, Ordering::SeqCst) + 1;
            // A front end that runs one action and exits (a CLI) has no later attempt in this
            // process to count: it asks again here, after a pause, up to the same limit.
            if let Ok(TokenAnswer::Unexplained { status }) = &answer {
                let seen = self.with_streaks(|s| s.unexplained);
                if self.inner.one_shot.load(Ordering::SeqCst) && seen + 1 < REFUSALS_IN_A_ROW {
                    self.with_streaks(|s| s.unexplained += 1);
                    tracing::warn!(
                        status,
                        "the refresh was refused without an OAuth error; asking again"
                    );
                    tokio::time::sleep(ONE_SHOT_PAUSE * (seen + 1)).await;
                    continue;
                }
            }
            break (answer, attempt, sent_at, sent_wall);
        };

        let (new_refresh, fields) = match answer {
            Ok(TokenAnswer::Issued {
                refresh_token,
                fields,
            }) => {
                self.with_streaks(|s| *s = Streaks::default());
                (refresh_token, fields)
            }
            Ok(TokenAnswer::Refused {
                status,
                error,
                description,
            }) => {
                let reason = refusal_reason(status, &error, description);
                tracing::warn!(status, "the refresh was refused; ending the session");
                self.with_streaks(|s| *s = Streaks::default());
                self.end_session(held, state, reason.clone());
                return Err(Error::ReauthRequired(reason));
            }
            Ok(TokenAnswer::Unexplained { status }) => {
                let in_a_row = self.with_streaks(|s| {
                    s.unexplained += 1;
                    s.unexplained
                });
                if in_a_row < REFUSALS_IN_A_ROW {
                    tracing::warn!(
                        status,
                        in_a_row,
                        "the refresh was refused without an OAuth error; keeping the session"
                    );
                    return Err(self.refresh_failed(
                        attempt,
                        trigger,
                        Error::TokenEndpointUnexplained { status },
                    ));
                }
                let reason = ReauthReason::RefreshTokenRejected(Some(format!(
                    "HTTP {status} without an OAuth error, {in_a_row} times in a row"
                )));
                tracing::warn!(
                    status,
                    "the refresh was refused {in_a_row} times in a row; ending the session"
                );
                self.with_streaks(|s| *s = Streaks::default());
                let _ = self.revoke(tokens).await;
                self.end_session(held, state, reason.clone());
                return Err(Error::ReauthRequired(reason));
            }
            Err(e @ Error::Dpop(crate::dpop::DpopError::ProofRejected { .. })) => {
                let in_a_row = self.with_streaks(|s| {
                    s.proof_rejected += 1;
                    s.proof_rejected
                });
                if in_a_row < REFUSALS_IN_A_ROW {
                    return Err(self.refresh_failed(attempt, trigger, e));
                }
                tracing::warn!(error = %e, "the token endpoint rejected {in_a_row} DPoP proofs in a row; ending the session");
                self.with_streaks(|s| *s = Streaks::default());
                let _ = self.revoke(tokens).await;
                self.end_session(held, state, ReauthReason::DpopProofRejected);
                return Err(Error::ReauthRequired(ReauthReason::DpopProofRejected));
            }
            Err(e) => return Err(self.refresh_failed(attempt, trigger, e)),
        };

        // The server may have rotated the refresh token: the old one is dead from this instant,
        // so the new one is stored before anything else can fail (a bad field, a bad ID token),
        // keeping the window in which a crash loses the session as small as it can be.
        let rotated = new_refresh
            .as_ref()
            .is_some_and(|new| !new.ct_eq(refresh_token.secret()));
        let mut replaced = false;
        if let (true, Some(new_rt)) = (rotated, new_refresh) {
            tokens.refresh = Some(RefreshToken::new(new_rt.expose().to_owned()));
            replaced = !self.save_or_report(held, tokens);
        }
        if replaced {
            self.end_session_keeping_store(state, ReauthReason::EndedElsewhere);
            return Err(Error::ReauthRequired(ReauthReason::EndedElsewhere));
        }
        let TokenState::Active(tokens) = state else {
            return Err(Error::NotSignedIn);
        };

        let issued = match fields {
            Ok(fields) => accept_token_response(fields, sent_at),
            Err(e) => return Err(self.refresh_failed(attempt, trigger, e)),
        };
        let id_token = match issued.id_token.as_ref() {
            Some(raw) => {
                match self.check_refreshed_id_token(&provider, tokens, raw).await {
                    // Kept in memory; stored with the next save.
                    Ok(()) => Some(raw.clone()),
                    Err(e) => return Err(self.refresh_failed(attempt, trigger, e)),
                }
            }
            None => None,
        };

        let mut next = (**tokens).clone();
        next.access = Some(issued.access.clone());
        next.expires_at = issued.expires_at;
        next.lifetime = issued.lifetime;
        next.obtained_at = sent_at;
        next.obtained_wall = sent_wall;
        if let Some(id) = id_token {
            next.id_token = Some(id);
        }
        if let Some(scopes) = issued.scopes.clone() {
            next.scopes = scopes;
        }
        **tokens = next;
        self.publish(state, |m| {
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
        raw: &SecretString,
    ) -> Result<()> {
        let id_token = CoreIdToken::from_str(raw.expose()).map_err(|_| {
            Error::IdTokenInvalid("the refreshed ID token is not a well-formed JWT".into())
        })?;
        let original = tokens.nonce.clone();
        // OIDC Core §12.2: a nonce SHOULD NOT be present; if it is, it MUST be the original one.
        let claims = provider
            .verify_id_token(
                &self.inner.http,
                &id_token,
                move |n: Option<&Nonce>| match (n, &original) {
                    (None, _) => Ok(()),
                    (Some(n), Some(orig)) if orig.ct_eq(n.secret()) => Ok(()),
                    (Some(_), _) => Err("refreshed ID token carries a different nonce".into()),
                },
            )
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
}

/// Why a refused refresh ends the session, for the user: the OAuth error when the server sent
/// one, else the bare status.
fn refusal_reason(status: u16, error: &str, description: Option<String>) -> ReauthReason {
    match error {
        "invalid_grant" => ReauthReason::RefreshTokenRejected(description),
        code => ReauthReason::RefreshTokenRejected(Some(match description {
            Some(d) => format!("{code}: {d}"),
            None => format!("{code} (HTTP {status})"),
        })),
    }
}

impl Session {
    /// For a front end that runs one action and exits (a CLI): a refusal without an OAuth error
    /// is asked again within the same refresh (after 1 s, then 2 s) instead of at a later attempt
    /// this process will never make, so that the rule (the third in a row ends the session) holds
    /// per command.
    pub fn set_one_shot(&self, one_shot: bool) {
        self.inner.one_shot.store(one_shot, Ordering::SeqCst);
    }

    fn with_streaks<T>(&self, f: impl FnOnce(&mut Streaks) -> T) -> T {
        // Plain counters: a poisoned lock is still consistent.
        let mut streaks = self.inner.streaks.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut streaks)
    }
}
