//! The authorization request (PKCE S256, `state`, `nonce`) and the judgement of its response.
//!
//! [`PendingAuthorization::check`] runs the checks in the order the security BCP asks for:
//! `state` first (nothing else is looked at for a request that doesn't carry ours), then RFC 9207
//! `iss`, then `error`, then `code`.

use std::borrow::Cow;

use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use url::Url;

use crate::config::Config;
use crate::discovery::Provider;
use crate::error::CallbackRejection;
use crate::redirect::CallbackParams;
use crate::secret::ct_str_eq;

/// What a callback that passed the checks says.
#[derive(Debug)]
pub enum CallbackOutcome {
    /// The authorization code (redacted in `Debug`).
    Code(AuthorizationCode),
    /// The server sent an error to our redirect URI (RFC 6749 §4.1.2.1).
    Error {
        /// `error`
        error: String,
        /// `error_description`
        description: Option<String>,
    },
}

/// What an authorization request adds to the configured one.
#[derive(Debug, Default, Clone, Copy)]
pub struct AuthOptions<'a> {
    /// The DPoP key's thumbprint (RFC 9449 §10).
    pub dpop_jkt: Option<&'a str>,
    /// A step-up's acceptable ACRs (RFC 9470 §4), in order of preference.
    pub acr_values: &'a [String],
    /// A step-up's `max_age`, seconds.
    pub max_age: Option<u64>,
    /// Send `prompt=login`: the user authenticates again whatever session the browser holds.
    pub prompt_login: bool,
}

/// One sign-in attempt in flight: the URL to open and the one-time values to check the response
/// against. `Debug` shows none of the secrets.
pub struct PendingAuthorization {
    url: Url,
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
    redirect_uri: RedirectUrl,
    issuer: String,
    require_iss: bool,
}

impl std::fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("issuer", &self.issuer)
            .field("require_iss", &self.require_iss)
            .finish_non_exhaustive()
    }
}

impl PendingAuthorization {
    /// Builds the authorization URL with a fresh 256-bit PKCE verifier (S256), `state` and
    /// `nonce`, the configured scopes and extra parameters.
    pub fn new(provider: &Provider, config: &Config, redirect_uri: Url) -> Self {
        Self::with_dpop_jkt(provider, config, redirect_uri, None)
    }

    /// [`PendingAuthorization::new`], binding the authorization code to a DPoP key: `dpop_jkt`
    /// (RFC 9449 §10) is its thumbprint, and the server refuses the code exchange unless the
    /// proof is signed by that key.
    pub fn with_dpop_jkt(
        provider: &Provider,
        config: &Config,
        redirect_uri: Url,
        dpop_jkt: Option<&str>,
    ) -> Self {
        Self::with_options(
            provider,
            config,
            redirect_uri,
            &AuthOptions {
                dpop_jkt,
                ..AuthOptions::default()
            },
        )
    }

    /// The authorization request with `options`: `dpop_jkt`, and a step-up's `acr_values`,
    /// `max_age` and `prompt=login` (RFC 9470 §4), which take the place of the configured
    /// parameters of those names (`login` is added to a configured `prompt`, `none` dropped).
    pub fn with_options(
        provider: &Provider,
        config: &Config,
        redirect_uri: Url,
        options: &AuthOptions<'_>,
    ) -> Self {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let redirect_uri = RedirectUrl::from_url(redirect_uri);
        let mut request = provider
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Owned(redirect_uri.clone()));
        // openidconnect adds `openid` itself.
        for scope in config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let mut prompt: Vec<String> = Vec::new();
        for (key, value) in &config.extra_params {
            match key.as_str() {
                "prompt" => prompt.extend(
                    value
                        .split(' ')
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned),
                ),
                "acr_values" if !options.acr_values.is_empty() => {}
                "max_age" if options.max_age.is_some() => {}
                _ => request = request.add_extra_param(key.clone(), value.clone()),
            }
        }
        if options.prompt_login {
            prompt.retain(|p| p != "none" && p != "login");
            prompt.insert(0, "login".into());
        }
        if !prompt.is_empty() {
            request = request.add_extra_param("prompt", prompt.join(" "));
        }
        if !options.acr_values.is_empty() {
            request = request.add_extra_param("acr_values", options.acr_values.join(" "));
        }
        if let Some(max_age) = options.max_age {
            request = request.add_extra_param("max_age", max_age.to_string());
        }
        if let Some(jkt) = options.dpop_jkt {
            request = request.add_extra_param("dpop_jkt", jkt.to_owned());
        }
        let (url, state, nonce) = request.url();
        Self {
            url,
            state,
            nonce,
            verifier,
            redirect_uri,
            issuer: provider.issuer().to_owned(),
            require_iss: provider
                .metadata
                .authorization_response_iss_parameter_supported,
        }
    }

    /// The URL to open in the system browser.
    ///
    /// # Security warning
    /// It carries `state` and `nonce`: hand it to the user agent, never to a log.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Every parameter of the request, in order, for pushing it (RFC 9126 §2.1).
    ///
    /// # Security warning
    /// They carry `state`, `nonce` and the PKCE challenge: for the push's body only.
    pub(crate) fn parameters(&self) -> Vec<(String, String)> {
        self.url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// After a push: the URL to open carries only `client_id` and `request_uri` (RFC 9126 §4).
    pub(crate) fn use_request_uri(&mut self, endpoint: &Url, client_id: &str, request_uri: &str) {
        self.url = endpoint.clone();
        self.url
            .query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("request_uri", request_uri);
    }

    /// The redirect URI this request registered.
    pub fn redirect_uri(&self) -> &RedirectUrl {
        &self.redirect_uri
    }

    /// The nonce the ID token must carry.
    pub(crate) fn nonce(&self) -> &Nonce {
        &self.nonce
    }

    /// Consumes the request, yielding the PKCE verifier for the code exchange.
    pub(crate) fn into_verifier(self) -> PkceCodeVerifier {
        self.verifier
    }

    /// Judges a callback. A rejection means "not our response": the listener answers 400 and
    /// keeps waiting.
    pub fn check(&self, params: &CallbackParams) -> Result<CallbackOutcome, CallbackRejection> {
        match &params.state {
            Some(state) if ct_str_eq(state.secret(), self.state.secret()) => {}
            _ => return Err(CallbackRejection::StateMismatch),
        }
        match &params.iss {
            Some(iss) if iss != &self.issuer => return Err(CallbackRejection::IssuerMismatch),
            None if self.require_iss => return Err(CallbackRejection::MissingIssuer),
            _ => {}
        }
        if let Some(error) = &params.error {
            return Ok(CallbackOutcome::Error {
                error: error.clone(),
                description: params.error_description.clone(),
            });
        }
        match &params.code {
            Some(code) if !code.secret().is_empty() => Ok(CallbackOutcome::Code(
                AuthorizationCode::new(code.secret().clone()),
            )),
            _ => Err(CallbackRejection::MissingCode),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
