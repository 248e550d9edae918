//! Step-up (RFC 9470) for front ends: "Confirm it's you" for the API call that asked.
//!
//! The requirement (`acr_values`, `max_age`) is the one the API's challenge carried, held by the
//! session: a front end shows [`Latchkey::pending_step_up`] and triggers [`Latchkey::step_up`],
//! and can't say what to ask for, so a WebView can neither lower the level nor choose another
//! call to retry.

use latchkey_core::step_up::StepUpChallenge;

use crate::{ApiResponse, CoreError, Latchkey, Redirect, Result, UserAgent};

impl Latchkey {
    /// What the latest API call that needed a stronger or more recent sign-in asked for.
    pub fn pending_step_up(&self) -> Option<StepUpChallenge> {
        self.session.pending_step_up()
    }

    /// Signs the same user in again through `user_agent` at the level the pending requirement
    /// asks, replaces the session's tokens, and retries that call once; its response. The
    /// facade's Cancel ([`Latchkey::cancel_sign_in`]) ends it with [`CoreError::Cancelled`],
    /// leaving the session as it was.
    ///
    /// # Errors
    /// [`CoreError::NoStepUpPending`], [`CoreError::Cancelled`],
    /// [`CoreError::StepUpUnsatisfied`], [`CoreError::StepUpOtherUser`], and those of a sign-in
    /// or an API call.
    pub async fn step_up(
        &self,
        user_agent: &dyn UserAgent,
        redirect: Redirect,
    ) -> Result<ApiResponse> {
        self.lock_if_idle().await?;
        let cancelled = self.cancel.notified();
        tokio::pin!(cancelled);
        cancelled.as_mut().enable();
        tokio::select! {
            result = self.session.step_up_pending(user_agent, redirect) => {
                let response = result?;
                // The user just authenticated: their own proof, like a sign-in.
                self.activity.touch();
                Ok(response)
            }
            _ = cancelled => Err(CoreError::Cancelled.into()),
        }
    }
}
