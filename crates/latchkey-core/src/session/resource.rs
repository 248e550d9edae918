//! Calls with the access token: protected APIs (401 → one refresh, one retry) and userinfo.
//!
//! A 401 whose challenge (Bearer or DPoP, any of several) is RFC 9470's
//! `insufficient_user_authentication` is [`Error::StepUpRequired`] at once: no refresh, and the
//! session goes on.
//!
//! A DPoP-bound session sends `Authorization: DPoP <token>` with a proof bound to the token
//! (`ath`) and the resource server's latest nonce; a `WWW-Authenticate: DPoP
//! error="use_dpop_nonce"` challenge gets exactly one retry with the new nonce, a second one is
//! [`DpopError::NonceDemandedAgain`]; an `invalid_dpop_proof` challenge is
//! [`DpopError::ProofRejected`] at once (no refresh: a new token wouldn't fix the proof). The proof's `iat` is the resource server's time as its
//! `Date` headers tell it ([`crate::dpop::ServerClocks`], per origin).

use openidconnect::AccessToken;
use url::Url;

use crate::dpop::{is_nonce_challenge, learn_from, DpopError, DpopKey, Proof};
use crate::error::{Endpoint, Error, Result};
use crate::http::{is_secure_or_loopback, ApiRequest, Authorization, BodyResponse};
use crate::store::StoreError;

use super::types::*;
use super::{Session, TokenState};

impl Session {
    /// GET `url` with the access token. A 401 forces one refresh and one retry; the response of
    /// the retry is returned whatever its status.
    ///
    /// # Errors
    /// [`Error::InsecureUrl`] for a URL that is neither https nor loopback http: the access
    /// token is never sent in clear over a network.
    pub async fn get(&self, url: &Url) -> Result<ApiResponse> {
        self.request_at(&ApiRequest::get(url.clone()), Endpoint::Api)
            .await
    }

    /// Sends `request` (any of [`crate::http::API_METHODS`], with its body) with the access
    /// token, as [`Session::get`] does: a 401 forces one refresh and one retry (a 401 means the
    /// server did not act on the request, so it is sent again whatever its method).
    ///
    /// # Errors
    /// As [`Session::get`].
    pub async fn request(&self, request: &ApiRequest) -> Result<ApiResponse> {
        self.request_at(request, Endpoint::Api).await
    }

    pub(super) async fn request_at(
        &self,
        request: &ApiRequest,
        endpoint: Endpoint,
    ) -> Result<ApiResponse> {
        let url = request.url();
        if !is_secure_or_loopback(url) {
            let mut shown = url.clone();
            shown.set_query(None);
            return Err(Error::InsecureUrl {
                what: "an API URL",
                url: shown.to_string(),
            });
        }
        let token = self.fresh_access_token().await?;
        let response = self.send(request, &token, endpoint).await?;
        if response.status != 401 {
            return Ok(response);
        }
        tracing::info!(%endpoint, "401 from the resource server; refreshing once and retrying");
        {
            let state = self.inner.tokens.clone().lock_owned().await;
            let still_current = matches!(&*state, TokenState::Active(t)
                if t.access.as_ref().is_some_and(|a| crate::secret::ct_str_eq(a.secret(), token.secret())));
            if still_current {
                let (_state, result) = self
                    .refresh_to_completion(state, RefreshTrigger::Unauthorized)
                    .await;
                result?;
            }
        }
        let token = self.fresh_access_token().await?;
        self.send(request, &token, endpoint).await
    }

    /// The session's DPoP key, if its tokens are bound to one. A session that locked, ended or
    /// signed out since the token was taken sends nothing: a bound token must never go out as a
    /// bearer one for want of its key.
    async fn dpop_key(&self) -> Result<Option<DpopKey>> {
        match &*self.inner.tokens.lock().await {
            TokenState::Active(t) => Ok(t.dpop.clone()),
            TokenState::Locked(_) => Err(StoreError::Locked.into()),
            TokenState::SignedOut => Err(Error::NotSignedIn),
            TokenState::Ended(reason) => Err(Error::ReauthRequired(reason.clone())),
        }
    }

    pub(super) async fn send(
        &self,
        request: &ApiRequest,
        token: &AccessToken,
        endpoint: Endpoint,
    ) -> Result<ApiResponse> {
        let key = self.dpop_key().await?;
        let (response, proof) = match key {
            Some(key) => self.send_with_proof(request, token, &key, endpoint).await?,
            None => (
                self.inner
                    .http
                    .send_authorized(request, Authorization::Bearer(token.secret()))
                    .await
                    .map_err(|e| Error::http(endpoint, e))?,
                None,
            ),
        };
        let BodyResponse {
            status,
            content_type,
            body,
            www_authenticate,
            ..
        } = response;
        let body = zeroize::Zeroizing::new(body);
        // An API that echoes the request (headers, a debug endpoint) would hand the caller, and
        // through it a WebView, the access token or the proof. Such a response is withheld.
        let credentials = [Some(token.secret().as_str()), proof.as_deref()];
        let echoed = credentials.iter().flatten().any(|secret| {
            contains_secret(&body, secret)
                || www_authenticate
                    .iter()
                    .chain(content_type.iter())
                    .any(|h| contains_secret(h.as_bytes(), secret))
        });
        if echoed {
            tracing::warn!(%endpoint, status, "the response echoes the request's credentials; withheld");
            return Err(Error::CredentialEchoed { endpoint });
        }
        let challenges = if status == 401 {
            crate::http::parse_challenges(www_authenticate.iter().map(String::as_str))
        } else {
            Vec::new()
        };
        // RFC 9470: the API wants a stronger or more recent sign-in. A refresh can't raise the
        // level, and the session is fine for other calls: a typed outcome, remembered (in Rust,
        // never from a caller's say-so) for the step-up that satisfies it.
        if let Some(challenge) = crate::step_up::StepUpChallenge::from_challenges(&challenges) {
            tracing::info!(%endpoint, asked = %challenge.describe(), "the API asks for a step-up sign-in");
            self.remember_step_up(request, &challenge);
            return Err(Error::StepUpRequired(challenge));
        }
        // A resource server that rejects the proof itself (RFC 9449 §7.1): a refresh can't fix
        // that, and each one would rotate the refresh token for nothing. A typed error instead.
        if status == 401 && proof.is_some() {
            if let Some(c) = challenges
                .iter()
                .find(|c| c.is("DPoP") && c.error() == Some("invalid_dpop_proof"))
            {
                let description = c.param("error_description").map(|d| {
                    d.chars()
                        .filter(|c| c.is_ascii_graphic() || *c == ' ')
                        .take(256)
                        .collect()
                });
                return Err(DpopError::ProofRejected {
                    endpoint,
                    description,
                }
                .into());
            }
        }
        let mut body = body;
        let body = std::mem::take(&mut *body);
        Ok(ApiResponse {
            status,
            content_type,
            body,
        })
    }

    /// GET with a DPoP proof; one retry when the server asks for a (new) nonce.
    async fn send_with_proof(
        &self,
        request: &ApiRequest,
        token: &AccessToken,
        key: &DpopKey,
        endpoint: Endpoint,
    ) -> Result<(BodyResponse, Option<String>)> {
        let url = request.url();
        let nonces = &self.inner.dpop_nonces;
        let clocks = &self.inner.dpop_clocks;
        let mut retried = false;
        loop {
            let nonce = nonces.get(url);
            let proof = Proof::new(request.method().as_str(), url)
                .issued_at(clocks.iat_for(url))
                .access_token(token.secret())
                .nonce(nonce.as_deref())
                .sign(key)?;
            let sent = std::time::SystemTime::now();
            let response = self
                .inner
                .http
                .send_authorized(
                    request,
                    Authorization::Dpop {
                        token: token.secret(),
                        proof: &proof,
                    },
                )
                .await
                .map_err(|e| Error::http(endpoint, e))?;
            let new_nonce = learn_from(nonces, clocks, url, nonce.as_deref(), sent, &response);
            let challenged =
                response.status == 401 && is_nonce_challenge(&response.www_authenticate);
            match (challenged, new_nonce && !retried) {
                (false, _) => return Ok((response, Some(proof))),
                (true, true) => {
                    tracing::debug!(%endpoint, "DPoP nonce challenge; retrying once");
                    retried = true;
                }
                (true, false) => return Err(DpopError::NonceDemandedAgain { endpoint }.into()),
            }
        }
    }

    /// Calls the userinfo endpoint, checks that its `sub` is the ID token's (OIDC Core §5.3.2),
    /// remembers the display name, and returns the claims.
    pub async fn userinfo(&self) -> Result<serde_json::Value> {
        let provider = self.provider().await?;
        let url = provider
            .metadata
            .userinfo_endpoint
            .clone()
            .ok_or(Error::MissingEndpoint("userinfo_endpoint"))?;
        let response = self
            .request_at(&ApiRequest::get(url.clone()), Endpoint::UserInfo)
            .await?;
        if response.status >= 500 || response.status == 429 {
            // The IdP is down or busy: transient, like its token endpoint.
            return Err(Error::http(
                Endpoint::UserInfo,
                crate::http::HttpError::ServerUnavailable {
                    status: response.status,
                },
            ));
        }
        if response.status != 200 {
            return Err(Error::InvalidResponse {
                endpoint: Endpoint::UserInfo,
                problem: format!("HTTP {}", response.status),
            });
        }
        let claims: serde_json::Map<String, serde_json::Value> =
            crate::discovery::parse_json(Endpoint::UserInfo, &response.body)?;
        let sub = claims.get("sub").and_then(|v| v.as_str());
        let expected = self.status().subject;
        if let (Some(expected), got) = (expected.as_deref(), sub) {
            if got != Some(expected) {
                return Err(Error::UserInfoSubjectMismatch);
            }
        }
        let name = ["name", "preferred_username", "email"]
            .iter()
            .find_map(|k| claims.get(*k).and_then(|v| v.as_str()))
            .map(|s| s.chars().take(128).collect::<String>());
        if let Some(name) = name {
            self.remember_display_name(name).await;
        }
        Ok(serde_json::Value::Object(claims))
    }

    pub(super) async fn remember_display_name(&self, name: String) {
        let mut state = self.inner.tokens.lock().await;
        let changed = self.meta().display_name.as_deref() != Some(name.as_str());
        if changed {
            self.modify_meta(|meta| meta.display_name = Some(name));
        }
        if let (true, TokenState::Active(t)) = (changed, &mut *state) {
            // Saved with the tokens (and the name just put in meta), unless another process
            // changed the store since: its session must not be overwritten with ours.
            self.save_if_store_unchanged(t).await;
        }
    }
}

/// Whether `haystack` holds `secret`, as sent or JSON-escaped (`/` as `\/`).
fn contains_secret(haystack: &[u8], secret: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    let find = |needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    find(secret.as_bytes()) || (secret.contains('/') && find(secret.replace('/', "\\/").as_bytes()))
}
