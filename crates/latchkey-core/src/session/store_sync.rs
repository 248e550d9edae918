//! The session and its store: resume, lock, and keeping in step with other processes that share
//! the store (adopting their rotations, never overwriting their sign-in or sign-out).

use crate::error::{Error, ReauthReason, Result};
use crate::store::{RefreshGuard, SessionHint, StoredSession};
use crate::tokens::{is_fingerprint_of, Tokens};

use super::types::*;
use super::{tokens_from_stored, Meta, Session, TokenState};

impl Session {
    /// Restores a session from the store (the access token is obtained on first use). Returns
    /// the status: `Locked` (with who is signed in) when the store's key is not released yet,
    /// `SignedOut` when the store is empty or holds another issuer's or client's session.
    pub async fn resume(&self) -> Result<SessionStatus> {
        let stored = match self.inner.store.load() {
            Ok(stored) => stored,
            Err(e) if e.is_locked() => {
                let hint = self
                    .inner
                    .store
                    .hint()?
                    .filter(|h| self.is_ours(&h.issuer, &h.client_id));
                let mut state = self.inner.tokens.lock().await;
                *state = match hint {
                    Some(hint) => TokenState::Locked(hint),
                    None => TokenState::SignedOut,
                };
                self.publish(&state, |m| *m = Meta::default());
                return Ok(self.status());
            }
            Err(e) => return Err(e.into()),
        };
        let Some(stored) = stored else {
            return Ok(self.status());
        };
        if !self.is_ours(&stored.issuer, &stored.client_id) {
            tracing::info!("the stored session belongs to another issuer or client; ignoring it");
            return Ok(self.status());
        }
        let display_name = stored.display_name.clone();
        let tokens = tokens_from_stored(stored);
        let mut state = self.inner.tokens.lock().await;
        *state = TokenState::Active(Box::new(tokens));
        self.publish(&state, |m| {
            *m = Meta {
                display_name,
                ..Meta::default()
            }
        });
        drop(state);
        self.inner.wake.notify_one();
        Ok(self.status())
    }

    /// Forgets the tokens in memory (zeroized) and reports `Locked`; the stored session stays.
    /// Lock the vault too, so the refresh token can't be read back without the user (or use
    /// [`Session::lock_with`]).
    pub async fn lock(&self) -> SessionStatus {
        self.lock_with(|| {}).await
    }

    /// [`Session::lock`], running `forget_key` (e.g. locking the vault) after the session has
    /// saved what it must and forgotten its tokens, and before anyone hears `Locked`: a listener
    /// that sees the event finds the key gone too.
    pub async fn lock_with(&self, forget_key: impl FnOnce()) -> SessionStatus {
        let mut state = self.inner.tokens.lock().await;
        if let TokenState::Active(t) = &mut *state {
            if t.unsaved() {
                // The last chance to keep a rotation whose save failed: after this the only copy
                // of the live refresh token is gone. (Lock the session before the vault.)
                self.save_if_store_unchanged(t).await;
            }
        }
        if matches!(&*state, TokenState::Active(t) if t.refresh.is_none()) {
            // Nothing is stored to unlock later: locking forgets the access token for good, and
            // the user signs in again.
            drop(state);
            forget_key();
            let mut state = self.inner.tokens.lock().await;
            if matches!(&*state, TokenState::Active(_)) {
                self.end_session_keeping_store(&mut state, ReauthReason::NoRefreshToken);
            }
            drop(state);
            self.inner.wake.notify_one();
            return self.status();
        }
        let hint = match &*state {
            TokenState::Active(t) => Some(SessionHint {
                issuer: self.inner.config.issuer.clone(),
                client_id: self.inner.config.client_id.clone(),
                subject: t.subject.clone(),
                display_name: self.meta().display_name.clone(),
            }),
            TokenState::Locked(h) => Some(h.clone()),
            _ => None,
        };
        let locked_now = hint.is_some() && !matches!(&*state, TokenState::Locked(_));
        if let Some(hint) = hint {
            *state = TokenState::Locked(hint);
            self.publish(&state, |m| *m = Meta::default());
        }
        drop(state);
        forget_key();
        self.inner.wake.notify_one();
        if locked_now {
            self.emit(SessionEvent::Locked);
        }
        self.status()
    }

    pub(super) fn is_ours(&self, issuer: &str, client_id: &str) -> bool {
        issuer == self.inner.config.issuer && client_id == self.inner.config.client_id
    }

    /// Takes the store's write lock, off the async workers (it may wait for another process).
    /// Every write to the store goes through the guard this returns: the engine takes it once
    /// per read-modify-write and passes it down, never taking it again while it holds it.
    pub(super) async fn store_lock(&self) -> Result<RefreshGuard> {
        let store = self.inner.store.clone();
        Ok(
            tokio::task::spawn_blocking(move || store.lock_for_refresh())
                .await
                .map_err(|e| Error::Internal(format!("store lock task: {e}")))??,
        )
    }

    /// With the store's lock `held`, re-reads the store: another process may have rotated the
    /// refresh token (adopt it) or ended the session (end ours). The caller keeps holding the
    /// lock until the refresh's result is stored.
    pub(super) async fn adopt_stored_session(
        &self,
        held: &RefreshGuard,
        state: &mut TokenState,
    ) -> Result<()> {
        let TokenState::Active(tokens) = state else {
            return Ok(());
        };
        let Some(ours) = tokens.refresh.clone() else {
            return Ok(());
        };
        let stored = match self.inner.store.load() {
            Ok(stored) => stored,
            Err(e) if e.is_replaced() => {
                // Another process signed in anew: the store is its session now, not ours to
                // clear. Ours ends; the user can unlock theirs.
                self.end_session_keeping_store(state, ReauthReason::EndedElsewhere);
                return Err(Error::ReauthRequired(ReauthReason::EndedElsewhere));
            }
            Err(e) => return Err(e.into()),
        };
        match stored {
            Some(stored)
                if crate::secret::ct_str_eq(stored.refresh_token.secret(), ours.secret()) =>
            {
                tokens.mark_synced();
            }
            Some(stored)
                if tokens
                    .synced
                    .is_some_and(|synced| is_fingerprint_of(&synced, &stored.refresh_token)) =>
            {
                // The store still holds the token this session last read or saved, so no other
                // process rotated it: ours is newer, from a rotation whose save failed. It is the
                // live one (the stored one is dead at the server); save it now, under the lock.
                tracing::warn!("saving a rotated refresh token whose earlier save failed");
                // Under the lock, with the store just read as ours: it can't have been replaced.
                let _ = self.save_or_report(held, tokens);
            }
            Some(stored) => {
                tracing::info!("another process rotated the refresh token; adopting it");
                let display_name = stored.display_name.clone();
                let adopted = tokens_from_stored(stored);
                tokens.refresh = adopted.refresh.clone();
                tokens.id_token = adopted.id_token.clone();
                tokens.synced = adopted.synced;
                if display_name.is_some() {
                    self.modify_meta(|meta| meta.display_name = display_name);
                }
            }
            None => {
                self.end_session(held, state, ReauthReason::EndedElsewhere);
                return Err(Error::ReauthRequired(ReauthReason::EndedElsewhere));
            }
        }
        Ok(())
    }

    /// Ends a locked session whose store is gone (the vault erased itself, or another process
    /// signed out): the front end shows `reason` and offers a new sign-in.
    pub async fn end_while_locked(&self, reason: ReauthReason) {
        let mut state = self.inner.tokens.lock().await;
        if matches!(&*state, TokenState::Locked(_)) {
            match self.store_lock().await {
                Ok(held) => self.end_session(&held, &mut state, reason),
                Err(e) => {
                    tracing::error!(error = %e, "could not lock the store to clear it; ending the session");
                    self.end_session_keeping_store(&mut state, reason);
                }
            }
        }
    }

    /// Ends the session and clears the store, under its lock (`held`).
    pub(super) fn end_session(
        &self,
        held: &RefreshGuard,
        state: &mut TokenState,
        reason: ReauthReason,
    ) {
        if let Err(e) = self.inner.store.clear(held) {
            tracing::error!(error = %e, "could not clear the store after the session ended");
        }
        self.end_session_keeping_store(state, reason);
    }

    /// Ends the session in memory and tells the front end; the store is left as it is (it holds
    /// nothing of ours, or another process's session).
    pub(super) fn end_session_keeping_store(&self, state: &mut TokenState, reason: ReauthReason) {
        *state = TokenState::Ended(reason.clone());
        self.publish(state, |m| {
            m.offline = false;
            m.retry_at = None;
        });
        self.emit(SessionEvent::SessionEnded { reason });
    }

    /// Saves `tokens` under the cross-process lock, but only if the store still holds what this
    /// session last read or saved (or already holds our refresh token). If another process
    /// signed out, signed in or rotated since, the store is theirs and is left alone.
    pub(super) async fn save_if_store_unchanged(&self, tokens: &mut Tokens) {
        let held = match self.store_lock().await {
            Ok(guard) => guard,
            Err(e) => {
                tracing::warn!(error = %e, "could not take the store's lock; not saving");
                return;
            }
        };
        let unchanged = match self.inner.store.load() {
            Ok(Some(stored)) => {
                tokens
                    .synced
                    .is_some_and(|synced| is_fingerprint_of(&synced, &stored.refresh_token))
                    || tokens.refresh.as_ref().is_some_and(|ours| {
                        crate::secret::ct_str_eq(ours.secret(), stored.refresh_token.secret())
                    })
            }
            Ok(None) | Err(_) => false,
        };
        if unchanged {
            // Replaced between the read and the write is impossible under the lock.
            let _ = self.save_or_report(&held, tokens);
        } else {
            tracing::info!("the store was changed by another process; leaving it as it is");
        }
    }

    /// Saves `tokens`; on success they are what the store holds. A failure is logged and sent as
    /// [`SessionEvent::StoreFailed`]: the tokens stay in memory, still marked unsaved, and the
    /// next refresh (or locking) saves them again. Returns false when the store now belongs to
    /// another sign-in ([`crate::StoreError::Replaced`]): nothing was written, and the caller
    /// ends this session.
    #[must_use = "a replaced store ends the session"]
    pub(super) fn save_or_report(&self, held: &RefreshGuard, tokens: &mut Tokens) -> bool {
        let Some(stored) = self.stored_session(tokens, None) else {
            return true;
        };
        match self.inner.store.save(held, &stored) {
            Ok(()) => tokens.mark_synced(),
            Err(e) if e.is_replaced() => {
                tracing::warn!(
                    "another process signed in or out; this session's tokens are not saved"
                );
                return false;
            }
            Err(e) => {
                tracing::error!(error = %e, "could not persist the refresh token; keeping it in memory until a save succeeds");
                self.emit(SessionEvent::StoreFailed {
                    message: e.to_string(),
                });
            }
        }
        true
    }

    pub(super) fn stored_session(
        &self,
        t: &Tokens,
        display_name: Option<String>,
    ) -> Option<StoredSession> {
        let refresh_token = t.refresh.clone()?;
        Some(StoredSession {
            issuer: self.inner.config.issuer.clone(),
            client_id: self.inner.config.client_id.clone(),
            scopes: t.scopes.clone(),
            refresh_token,
            id_token: t.id_token.clone(),
            nonce: t.nonce.clone(),
            subject: t.subject.clone(),
            display_name: display_name.or_else(|| self.meta().display_name.clone()),
            auth_time: t.auth_time,
            dpop_key: t.dpop.as_ref().and_then(crate::dpop::DpopKey::export),
        })
    }
}
