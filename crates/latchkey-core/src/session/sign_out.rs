//! Sign-out: RFC 7009 revocation and OIDC RP-initiated logout.

use url::Url;

use crate::error::{Endpoint, Error, Result};
use crate::tokens::Tokens;

use super::types::*;
use super::{Meta, Session, TokenState};

impl Session {
    /// Signs out: revokes the refresh token (or the access token when there is none) per
    /// RFC 7009, optionally ends the browser session, and forgets everything local even when
    /// the server can't be reached.
    pub async fn sign_out(&self, options: SignOutOptions<'_>) -> Result<SignOutReport> {
        let previous = {
            let mut state = self.inner.tokens.lock().await;
            let previous = std::mem::replace(&mut *state, TokenState::SignedOut);
            self.publish(&state, |m| *m = Meta::default());
            previous
        };
        // Another process's new sign-in is not ours to erase (the store says so): that is fine.
        // Under the store's lock, like every write.
        let cleared = match self.store_lock().await {
            Ok(held) => match self.inner.store.clear(&held) {
                Err(e) if e.is_replaced() => Ok(()),
                other => other.map_err(Error::from),
            },
            Err(e) => Err(e),
        };
        self.inner.wake.notify_one();

        let tokens = match previous {
            TokenState::Active(t) => Some(t),
            _ => None,
        };
        let revocation = match &tokens {
            Some(t) => self.revoke(t).await,
            None => RevocationOutcome::NothingToRevoke,
        };
        let mut end_session_opened = false;
        if let (Some(ua), Some(t)) = (options.end_session_in, &tokens) {
            match self.end_session_url(t).await {
                Ok(Some(url)) => match ua.open(&url) {
                    Ok(()) => end_session_opened = true,
                    Err(e) => tracing::warn!(error = %e, "could not open the end-session page"),
                },
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "no end-session URL"),
            }
        }
        self.emit(SessionEvent::SignedOut);
        cleared?;
        Ok(SignOutReport {
            revocation,
            end_session_opened,
        })
    }

    /// RFC 7009 revocation. Done with our HTTP client rather than oauth2's revocation request,
    /// which refuses plain-http endpoints even on loopback (the dev IdP); the endpoint passed the
    /// same https-or-loopback check as every other.
    pub(super) async fn revoke(&self, tokens: &Tokens) -> RevocationOutcome {
        let (token, hint) = match (&tokens.refresh, &tokens.access) {
            (Some(rt), _) => (rt.secret().as_str(), "refresh_token"),
            (None, Some(at)) => (at.secret().as_str(), "access_token"),
            (None, None) => return RevocationOutcome::NothingToRevoke,
        };
        self.revoke_token(token, hint).await
    }

    /// Revokes one token (`hint`: `refresh_token` or `access_token`), best effort: also for a
    /// live refresh token the engine has to drop (a sign-in whose tokens failed a check, a session
    /// ended without a verdict from the server), which the server would otherwise keep.
    pub(super) async fn revoke_token(&self, token: &str, hint: &str) -> RevocationOutcome {
        let provider = match self.provider().await {
            Ok(p) => p,
            Err(e) => return RevocationOutcome::Failed(e.to_string()),
        };
        let Some(url) = provider.metadata.revocation_endpoint.clone() else {
            return RevocationOutcome::NotSupported;
        };
        let fields = [
            ("token", token),
            ("token_type_hint", hint),
            ("client_id", self.inner.config.client_id.as_str()),
        ];
        let outcome = match self.inner.http.post_form(&url, &fields).await {
            Ok(r) if r.status == 200 => return RevocationOutcome::Revoked,
            // RFC 7009 §2.2.1: on 503 the token must be assumed to still exist.
            Ok(r) => format!("the revocation endpoint answered HTTP {}", r.status),
            Err(e) => Error::http(Endpoint::Revocation, e).to_string(),
        };
        tracing::warn!(%outcome, "revocation failed; local state is wiped anyway");
        RevocationOutcome::Failed(outcome)
    }

    pub(super) async fn end_session_url(&self, tokens: &Tokens) -> Result<Option<Url>> {
        let provider = self.provider().await?;
        let Some(mut url) = provider.metadata.end_session_endpoint.clone() else {
            return Ok(None);
        };
        // No `id_token_hint`: this URL goes to the browser (its history, its extensions, the
        // end-session page's logs), and the ID token stays in the vault. OIDC RP-Initiated Logout
        // §2 lets `client_id` and `logout_hint` (here the subject) say whose session to end; a
        // provider that needs the hint asks the user to confirm instead (the dev IdP always does).
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.inner.config.client_id);
            if let Some(subject) = &tokens.subject {
                q.append_pair("logout_hint", subject);
            }
        }
        Ok(Some(url))
    }
}
