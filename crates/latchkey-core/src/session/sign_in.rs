//! Sign-in: the browser, the redirect, the code exchange, the ID token, the first save.

use std::time::SystemTime;

use std::str::FromStr;

use openidconnect::core::CoreIdToken;
use openidconnect::{Nonce, RefreshToken};
use tokio::time::Instant;

use openidconnect::AuthorizationCode;

use crate::authorize::{AuthOptions, CallbackOutcome, PendingAuthorization};
use crate::discovery::Provider;
use crate::error::{Error, Result};
use crate::loopback::{Accepted, LoopbackListener};
use crate::secret::SecretString;
use crate::token_endpoint::{Capture, TokenAnswer};
use crate::tokens::{accept_token_response, Tokens};
use crate::user_agent::UserAgent;

use super::types::*;
use super::{Meta, Session, TokenState};

/// A validated ID token's raw form, subject, `auth_time` and `acr`.
pub(super) type Identity = (
    Option<SecretString>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

/// What a code exchange brought, checked.
pub(super) struct Exchanged {
    pub(super) refresh: Option<SecretString>,
    pub(super) issued: crate::tokens::Issued,
    pub(super) identity: Identity,
    pub(super) nonce: Nonce,
    pub(super) sent_at: Instant,
    pub(super) sent_wall: SystemTime,
}

impl Session {
    /// Signs in: opens the authorization URL in `user_agent`, waits on the loopback redirect,
    /// exchanges the code (PKCE), validates the ID token, stores the refresh token.
    ///
    /// # Errors
    /// [`Error::Cancelled`] if the user declined; [`Error::SignInTimedOut`] if no valid callback
    /// came; protocol errors if a check failed. Dropping the future cancels the sign-in and
    /// closes the listener.
    pub async fn sign_in(&self, user_agent: &dyn UserAgent) -> Result<SessionStatus> {
        self.sign_in_with(user_agent, Redirect::Loopback).await
    }

    /// [`Session::sign_in`] with the response coming back through `redirect`: the loopback
    /// listener (desktop), or an app link the operating system hands to the app (mobile).
    #[tracing::instrument(skip_all)]
    pub async fn sign_in_with(
        &self,
        user_agent: &dyn UserAgent,
        redirect: Redirect,
    ) -> Result<SessionStatus> {
        let provider = self.provider().await?;
        let config = &self.inner.config;
        // A new key per sign-in when the tokens are to be DPoP-bound; it goes into the store
        // with the refresh token.
        let dpop = match provider.metadata.dpop_alg(config.dpop)? {
            Some(alg) => Some(crate::dpop::DpopKey::generate_for(alg)?),
            None => None,
        };
        let jkt = dpop.as_ref().map(crate::dpop::DpopKey::thumbprint);
        let options = AuthOptions {
            dpop_jkt: jkt,
            ..AuthOptions::default()
        };
        let (pending, code) = self
            .authorize(&provider, user_agent, redirect, &options, dpop.as_ref())
            .await?;
        let Exchanged {
            refresh,
            issued,
            identity,
            nonce,
            sent_at,
            sent_wall,
        } = self
            .exchange(&provider, pending, code, dpop.as_ref(), config.max_age())
            .await?;
        let (id_token, subject, auth_time, _acr) = identity;
        let mut tokens = Tokens {
            access: Some(issued.access),
            expires_at: issued.expires_at,
            lifetime: issued.lifetime,
            obtained_at: sent_at,
            obtained_wall: sent_wall,
            refresh: refresh.map(|rt| RefreshToken::new(rt.expose().to_owned())),
            id_token,
            nonce: Some(SecretString::new(nonce.secret().clone())),
            subject,
            scopes: issued.scopes.unwrap_or_else(|| config.scopes.clone()),
            auth_time,
            synced: None,
            dpop,
        };

        // Persist before the session is usable; a new sign-in replaces whatever was stored.
        // Under the cross-process lock, like every write: another process's refresh or sign-out
        // never interleaves with this one.
        let held = self.store_lock().await?;
        match self.stored_session(&tokens, None) {
            Some(stored) => self.inner.store.save(&held, &stored)?,
            None => self.inner.store.clear(&held)?,
        }
        // Released before anything else here takes it again (saving the display name).
        drop(held);
        tokens.mark_synced();
        {
            let mut state = self.inner.tokens.lock().await;
            *state = TokenState::Active(Box::new(tokens));
            self.publish(&state, |m| {
                *m = Meta::default();
            });
        }
        self.inner.wake.notify_one();
        tracing::info!("signed in");

        // The display name is a nicety: a failure here doesn't fail the sign-in.
        if self.provider().await?.metadata.userinfo_endpoint.is_some() {
            if let Err(e) = self.userinfo().await {
                tracing::warn!(error = %e, "userinfo after sign-in failed");
            }
        }
        let status = self.status();
        self.emit(SessionEvent::SignedIn {
            status: Box::new(status.clone()),
        });
        Ok(status)
    }

    /// The browser round trip of an authorization request with `options` (pushed first when
    /// the provider and the `par` policy say so): the request, and the code its callback
    /// brought.
    pub(super) async fn authorize(
        &self,
        provider: &Provider,
        user_agent: &dyn UserAgent,
        redirect: Redirect,
        options: &AuthOptions<'_>,
        dpop: Option<&crate::dpop::DpopKey>,
    ) -> Result<(PendingAuthorization, AuthorizationCode)> {
        let config = &self.inner.config;
        let par = crate::token_endpoint::par::endpoint_for(&provider.metadata, config.par)?;
        let push = |mut pending: PendingAuthorization| async move {
            if let Some(endpoint) = par {
                let capture = Capture::new(&self.inner.http).with_dpop(
                    dpop,
                    &self.inner.dpop_nonces,
                    &self.inner.dpop_clocks,
                );
                crate::token_endpoint::par::push(
                    &capture,
                    endpoint,
                    &provider.metadata.authorization_endpoint,
                    &config.client_id,
                    &mut pending,
                )
                .await?;
            }
            Ok::<_, Error>(pending)
        };
        let (pending, outcome) = match redirect {
            Redirect::Loopback => {
                let listener =
                    LoopbackListener::bind(&config.redirect_path, &config.redirect_ports).await?;
                let pending = PendingAuthorization::with_options(
                    provider,
                    config,
                    listener.redirect_uri()?,
                    options,
                );
                let pending = push(pending).await?;
                user_agent.open(pending.url())?;
                tracing::info!(port = listener.port(), "waiting for the browser to return");
                let outcome = listener
                    .wait(config.login_timeout, |params| {
                        pending.check(params).map(|outcome| Accepted {
                            success: matches!(outcome, CallbackOutcome::Code(_)),
                            value: outcome,
                        })
                    })
                    .await?;
                (pending, outcome)
            }
            Redirect::AppLink(link) => {
                let pending = PendingAuthorization::with_options(
                    provider,
                    config,
                    link.redirect_uri().clone(),
                    options,
                );
                let pending = push(pending).await?;
                user_agent.open(pending.url())?;
                tracing::info!("waiting for the app link to return");
                let outcome = link
                    .wait(config.login_timeout, |params| pending.check(params))
                    .await?;
                (pending, outcome)
            }
        };
        match outcome {
            CallbackOutcome::Code(code) => Ok((pending, code)),
            CallbackOutcome::Error { error, .. } if error == "access_denied" => {
                Err(Error::Cancelled)
            }
            CallbackOutcome::Error { error, description } => {
                Err(Error::AuthorizationRefused { error, description })
            }
        }
    }

    /// The code exchange (PKCE, DPoP when `dpop`) and the ID token's checks, `max_age` among
    /// them. A refresh token the server issued with tokens that then fail a check is revoked.
    pub(super) async fn exchange(
        &self,
        provider: &Provider,
        pending: PendingAuthorization,
        code: AuthorizationCode,
        dpop: Option<&crate::dpop::DpopKey>,
        max_age: Option<std::time::Duration>,
    ) -> Result<Exchanged> {
        let redirect_uri = pending.redirect_uri().clone();
        let nonce = pending.nonce().clone();
        let sent_at = Instant::now();
        let sent_wall = SystemTime::now();
        let capture = Capture::new(&self.inner.http).with_dpop(
            dpop,
            &self.inner.dpop_nonces,
            &self.inner.dpop_clocks,
        );
        let result = provider
            .client
            .exchange_code(code)
            .set_pkce_verifier(pending.into_verifier())
            .set_redirect_uri(std::borrow::Cow::Owned(redirect_uri))
            .request_async(&capture)
            .await;
        let (refresh, fields) = match capture.finish(result)? {
            TokenAnswer::Issued {
                refresh_token,
                fields,
            } => (refresh_token, fields),
            TokenAnswer::Refused {
                error, description, ..
            } => return Err(Error::TokenRefused { error, description }),
            TokenAnswer::Unexplained { status } => {
                return Err(Error::TokenRefused {
                    error: format!("HTTP {status}"),
                    description: Some("without an OAuth error".into()),
                })
            }
        };
        // From here on a refresh token the server issued is live at the server: a check that
        // fails (a token type not asked for, a bad ID token) must not just drop it.
        let checked = async {
            let issued = accept_token_response(fields?, sent_at);
            let identity = self
                .check_id_token(provider, &issued, &nonce, max_age)
                .await?;
            Ok::<_, Error>((issued, identity))
        }
        .await;
        match checked {
            Ok((issued, identity)) => Ok(Exchanged {
                refresh,
                issued,
                identity,
                nonce,
                sent_at,
                sent_wall,
            }),
            Err(e) => {
                if let Some(rt) = &refresh {
                    tracing::warn!(
                        "the sign-in's tokens failed a check; revoking its refresh token"
                    );
                    self.revoke_token(rt.expose(), "refresh_token").await;
                }
                Err(e)
            }
        }
    }

    /// The sign-in's ID token, validated (signature, issuer, audience, nonce, `auth_time`):
    /// its raw form, subject, authentication time and `acr`. Without `openid` there is none.
    async fn check_id_token(
        &self,
        provider: &Provider,
        issued: &crate::tokens::Issued,
        nonce: &Nonce,
        max_age: Option<std::time::Duration>,
    ) -> Result<Identity> {
        Ok(match issued.id_token.clone() {
            Some(raw) => {
                let id_token = CoreIdToken::from_str(raw.expose()).map_err(|_| {
                    Error::IdTokenInvalid("the ID token is not a well-formed JWT".into())
                })?;
                let claims = provider
                    .verify_id_token(&self.inner.http, &id_token, {
                        let nonce = nonce.clone();
                        move |n: Option<&Nonce>| match n {
                            Some(n) if crate::secret::ct_str_eq(n.secret(), nonce.secret()) => {
                                Ok(())
                            }
                            Some(_) => Err("nonce mismatch".into()),
                            None => Err("nonce missing".into()),
                        }
                    })
                    .await?;
                Provider::check_auth_time(&claims, max_age, chrono::Utc::now())?;
                (
                    Some(raw),
                    Some(claims.subject().to_string()),
                    claims.auth_time().map(|t| t.timestamp()),
                    claims.auth_context_ref().map(|a| a.as_str().to_owned()),
                )
            }
            None if self.inner.config.is_openid() => return Err(Error::IdTokenMissing),
            None => (None, None, None, None),
        })
    }
}
