//! Step-up sign-in (RFC 9470): a new authorization request at the level a resource server asked
//! for, its ID token checked against the ask, the session's tokens replaced, the call retried.
//!
//! - The requirement is the one the API's challenge carried, remembered here when
//!   [`Session::get`] met it ([`Session::pending_step_up`]): a front end (a WebView) only
//!   triggers [`Session::step_up_pending`], it never says what to ask for.
//! - The request goes through the same browser path as a sign-in (PKCE, `state`, `nonce`, PAR
//!   when in use), bound to the session's own DPoP key (`dpop_jkt`), so the binding continues.
//!   It carries `acr_values` / `max_age`, and `prompt=login` when the level was too low or the
//!   last authentication is older than `max_age` ([`StepUpChallenge::needs_login_prompt`]).
//! - The new ID token must be the same user's ([`Error::StepUpOtherUser`], whose tokens are
//!   revoked) and carry an asked `acr` and an `auth_time` within `max_age`
//!   ([`Error::StepUpUnsatisfied`]; its tokens are dropped, not revoked: at a provider that
//!   revokes a whole grant, revoking them could end the session being kept).
//! - On success the new tokens are saved under the cross-process lock before the session uses
//!   them (the same path as a sign-in); any failure before that (cancel, timeout, a refused
//!   answer, the store) leaves the session as it was.

use std::time::SystemTime;

use crate::authorize::AuthOptions;
use crate::discovery::ID_TOKEN_CLOCK_SKEW;
use crate::error::{Error, Result};
use crate::http::ApiRequest;
use crate::secret::SecretString;
use crate::step_up::StepUpChallenge;
use crate::store::StoreError;
use crate::tokens::Tokens;
use crate::user_agent::UserAgent;
use openidconnect::RefreshToken;

use super::sign_in::Exchanged;
use super::types::*;
use super::{Session, TokenState};

/// A step-up an API asked for, and the call to retry once it is done.
#[derive(Debug, Clone)]
pub(super) struct PendingStepUp {
    request: ApiRequest,
    challenge: StepUpChallenge,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Session {
    pub(super) fn remember_step_up(&self, request: &ApiRequest, challenge: &StepUpChallenge) {
        let mut slot = self.inner.step_up.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(PendingStepUp {
            request: request.clone(),
            challenge: challenge.clone(),
        });
    }

    /// What the latest API call that needed a step-up asked for, until a step-up satisfies it
    /// or the session ends.
    pub fn pending_step_up(&self) -> Option<StepUpChallenge> {
        self.inner
            .step_up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|p| p.challenge.clone())
    }

    /// Runs the step-up the latest API call asked for, then retries that call once and returns
    /// its response (a second step-up demand is returned as [`Error::StepUpRequired`], not
    /// looped on).
    ///
    /// # Errors
    /// [`Error::NoStepUpPending`] when no call asked for one; the errors of
    /// [`Session::step_up`]; the retried call's errors.
    pub async fn step_up_pending(
        &self,
        user_agent: &dyn UserAgent,
        redirect: Redirect,
    ) -> Result<ApiResponse> {
        let pending = self
            .inner
            .step_up
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or(Error::NoStepUpPending)?;
        self.step_up(user_agent, redirect, &pending.challenge)
            .await?;
        self.request(&pending.request).await
    }

    /// Signs the same user in again at the level `challenge` asks for and replaces the
    /// session's tokens with the new ones. See the module docs.
    ///
    /// # Errors
    /// [`Error::NotSignedIn`] (or the locked/ended state's error) without an active session;
    /// [`Error::Cancelled`] when the user cancels; [`Error::StepUpUnsatisfied`],
    /// [`Error::StepUpOtherUser`]; the errors of a sign-in. In every case the session is as
    /// it was.
    #[tracing::instrument(skip_all)]
    pub async fn step_up(
        &self,
        user_agent: &dyn UserAgent,
        redirect: Redirect,
        challenge: &StepUpChallenge,
    ) -> Result<SessionStatus> {
        let provider = self.provider().await?;
        let (subject, auth_time, dpop) = match &*self.inner.tokens.lock().await {
            TokenState::Active(t) => (t.subject.clone(), t.auth_time, t.dpop.clone()),
            TokenState::Locked(_) => return Err(StoreError::Locked.into()),
            TokenState::SignedOut => return Err(Error::NotSignedIn),
            TokenState::Ended(reason) => return Err(Error::ReauthRequired(reason.clone())),
        };
        let now = unix_now();
        let options = AuthOptions {
            dpop_jkt: dpop.as_ref().map(crate::dpop::DpopKey::thumbprint),
            acr_values: &challenge.acr_values,
            max_age: challenge.max_age,
            prompt_login: challenge.needs_login_prompt(auth_time, now),
        };
        tracing::info!(asked = %challenge.describe(), prompt_login = options.prompt_login, "step-up sign-in");
        let (pending, code) = self
            .authorize(&provider, user_agent, redirect, &options, dpop.as_ref())
            .await?;
        // max_age is checked below with the acr, against the ask (not the configuration's).
        let Exchanged {
            refresh,
            issued,
            identity,
            nonce,
            sent_at,
            sent_wall,
        } = self
            .exchange(&provider, pending, code, dpop.as_ref(), None)
            .await?;
        let (id_token, new_subject, new_auth_time, acr) = identity;
        if new_subject != subject {
            tracing::warn!("the step-up sign-in is another user's; revoking its tokens");
            if let Some(rt) = &refresh {
                self.revoke_token(rt.expose(), "refresh_token").await;
            }
            return Err(Error::StepUpOtherUser);
        }
        let skew = i64::try_from(ID_TOKEN_CLOCK_SKEW.as_secs()).unwrap_or(0);
        challenge
            .check(acr.as_deref(), new_auth_time, unix_now(), skew)
            .map_err(Error::StepUpUnsatisfied)?;

        let mut state = self.inner.tokens.lock().await;
        let TokenState::Active(current) = &*state else {
            // Signed out or locked meanwhile: the new tokens don't bring the session back.
            return Err(Error::NotSignedIn);
        };
        if current.subject != subject {
            return Err(Error::StepUpOtherUser);
        }
        let mut tokens = Tokens {
            access: Some(issued.access),
            expires_at: issued.expires_at,
            lifetime: issued.lifetime,
            obtained_at: sent_at,
            obtained_wall: sent_wall,
            // A provider that issued no new refresh token leaves the old one in use.
            refresh: match refresh {
                Some(rt) => Some(RefreshToken::new(rt.expose().to_owned())),
                None => current.refresh.clone(),
            },
            id_token,
            nonce: Some(SecretString::new(nonce.secret().clone())),
            subject,
            scopes: issued.scopes.unwrap_or_else(|| current.scopes.clone()),
            auth_time: new_auth_time,
            synced: None,
            dpop,
        };
        // Saved before the session uses them, under the cross-process lock, as at sign-in.
        let held = self.store_lock().await?;
        let display_name = self.meta().display_name.clone();
        match self.stored_session(&tokens, display_name) {
            Some(stored) => self.inner.store.save(&held, &stored)?,
            None => self.inner.store.clear(&held)?,
        }
        drop(held);
        tokens.mark_synced();
        *state = TokenState::Active(Box::new(tokens));
        self.publish(&state, |_| {});
        drop(state);
        self.inner.wake.notify_one();
        {
            let mut slot = self.inner.step_up.lock().unwrap_or_else(|p| p.into_inner());
            if slot.as_ref().is_some_and(|p| &p.challenge == challenge) {
                *slot = None;
            }
        }
        tracing::info!("step-up sign-in done");
        Ok(self.status())
    }
}
