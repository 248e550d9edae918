//! [`Provider`]: one authorization server as sign-in and refresh use it, built from validated
//! metadata, with the JWKS that ID tokens are verified against.
//!
//! The key set is behind a lock because it changes while the provider is shared: a token
//! signed with a key the set doesn't have triggers one refetch (key rotation), not a failure.

use std::sync::RwLock;
use std::time::Duration;

use openidconnect::core::{
    CoreClient, CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier, CoreJsonWebKeySet,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{AuthUrl, ClientId, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, TokenUrl};
use url::Url;

use super::metadata::{fetch_metadata, validate_metadata, ServerMetadata};
use super::parse_json;
use crate::config::Config;
use crate::error::{Endpoint, Error, Result};
use crate::http::HttpClient;

/// Clock skew tolerated on ID token `exp` and `iat`.
pub const ID_TOKEN_CLOCK_SKEW: Duration = Duration::from_secs(120);

/// The oauth2/openidconnect client with the endpoints this engine uses set.
pub(crate) type OidcClient = CoreClient<
    EndpointSet,    // authorization
    EndpointNotSet, // device authorization
    EndpointNotSet, // introspection
    EndpointNotSet, // revocation (set per request: it is optional in metadata)
    EndpointSet,    // token
    EndpointNotSet, // userinfo (called through the authenticated GET path)
>;

/// Everything about one authorization server that sign-in and refresh need.
#[derive(Debug)]
pub struct Provider {
    /// The validated metadata.
    pub metadata: ServerMetadata,
    pub(crate) client: OidcClient,
    issuer: IssuerUrl,
    client_id: ClientId,
    jwks: RwLock<CoreJsonWebKeySet>,
}

impl Provider {
    /// Fetches and validates the server's metadata (and its JWKS when the scope has `openid`).
    #[tracing::instrument(skip_all, fields(issuer = %config.issuer))]
    pub async fn discover(http: &HttpClient, config: &Config) -> Result<Self> {
        let metadata = fetch_metadata(http, &config.issuer).await?;
        validate_metadata(&metadata, config)?;
        let jwks = match (&metadata.jwks_uri, config.is_openid()) {
            (Some(uri), true) => fetch_jwks(http, uri).await?,
            (None, true) => return Err(Error::MissingEndpoint("jwks_uri")),
            (_, false) => CoreJsonWebKeySet::new(vec![]),
        };
        Self::from_metadata(metadata, config, jwks)
    }

    /// Builds a provider from metadata already validated (and a JWKS), without network.
    pub fn from_metadata(
        metadata: ServerMetadata,
        config: &Config,
        jwks: CoreJsonWebKeySet,
    ) -> Result<Self> {
        let issuer =
            IssuerUrl::new(metadata.issuer.clone()).map_err(|_| Error::InvalidResponse {
                endpoint: Endpoint::Discovery,
                problem: "issuer is not a URL".into(),
            })?;
        let client_id = ClientId::new(config.client_id.clone());
        let client = CoreClient::new(client_id.clone(), issuer.clone(), jwks.clone())
            .set_auth_uri(AuthUrl::from_url(metadata.authorization_endpoint.clone()))
            .set_token_uri(TokenUrl::from_url(metadata.token_endpoint.clone()));
        Ok(Self {
            metadata,
            client,
            issuer,
            client_id,
            jwks: RwLock::new(jwks),
        })
    }

    /// The issuer identifier as the server states it (equal to the configured one).
    pub fn issuer(&self) -> &str {
        &self.metadata.issuer
    }

    /// OIDC Core §3.1.3.7: when `max_age` was requested, the ID token must carry `auth_time`,
    /// and the user must have authenticated within `max_age` (plus the ID-token clock skew).
    pub(crate) fn check_auth_time(
        claims: &CoreIdTokenClaims,
        max_age: Option<Duration>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let Some(max_age) = max_age else {
            return Ok(());
        };
        let auth_time = claims.auth_time().ok_or_else(|| {
            Error::IdTokenInvalid("no auth_time although max_age was requested".into())
        })?;
        let allowed = chrono::Duration::from_std(max_age + ID_TOKEN_CLOCK_SKEW)
            .unwrap_or(chrono::Duration::MAX);
        if now - auth_time > allowed {
            return Err(Error::IdTokenInvalid(format!(
                "the user authenticated longer ago than max_age ({} s)",
                max_age.as_secs()
            )));
        }
        Ok(())
    }

    /// Validates an ID token: signature against the JWKS (refetched once on an unknown key, for
    /// key rotation), `iss`, `aud` (and `azp`), `exp`/`iat` within [`ID_TOKEN_CLOCK_SKEW`], and
    /// the nonce through `nonce_check`.
    pub(crate) async fn verify_id_token<F>(
        &self,
        http: &HttpClient,
        id_token: &CoreIdToken,
        nonce_check: F,
    ) -> Result<CoreIdTokenClaims>
    where
        F: Fn(Option<&Nonce>) -> Result<(), String> + Clone,
    {
        let first = self.verify_with_current_keys(id_token, nonce_check.clone());
        match first {
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) => {
                if let Some(uri) = &self.metadata.jwks_uri {
                    tracing::info!("ID token signed with an unknown key; refetching the JWKS");
                    let fresh = fetch_jwks(http, uri).await?;
                    if let Ok(mut guard) = self.jwks.write() {
                        *guard = fresh;
                    }
                }
                self.verify_with_current_keys(id_token, nonce_check)
                    .map_err(|e| Error::IdTokenInvalid(e.to_string()))
            }
            other => other.map_err(|e| Error::IdTokenInvalid(e.to_string())),
        }
    }

    fn verify_with_current_keys<F>(
        &self,
        id_token: &CoreIdToken,
        nonce_check: F,
    ) -> Result<CoreIdTokenClaims, openidconnect::ClaimsVerificationError>
    where
        F: FnOnce(Option<&Nonce>) -> Result<(), String>,
    {
        let jwks = match self.jwks.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let skew = chrono::Duration::from_std(ID_TOKEN_CLOCK_SKEW).unwrap_or_default();
        let verifier = CoreIdTokenVerifier::new_public_client(
            self.client_id.clone(),
            self.issuer.clone(),
            jwks,
        )
        .set_allowed_algs([
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
            CoreJwsSigningAlgorithm::RsaSsaPssSha256,
            CoreJwsSigningAlgorithm::RsaSsaPssSha384,
            CoreJwsSigningAlgorithm::RsaSsaPssSha512,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::EcdsaP384Sha384,
            CoreJwsSigningAlgorithm::EdDsa,
        ])
        // exp: accept up to `skew` after expiry (the verifier compares exp with this).
        .set_time_fn(move || chrono::Utc::now() - skew)
        // iat: not further in the future than `skew`.
        .set_issue_time_verifier_fn(move |iat| {
            if iat > chrono::Utc::now() + skew {
                Err("iat is in the future".to_string())
            } else {
                Ok(())
            }
        });
        id_token.clone().into_claims(&verifier, nonce_check)
    }
}

async fn fetch_jwks(http: &HttpClient, uri: &Url) -> Result<CoreJsonWebKeySet> {
    let response = http
        .get_document(uri)
        .await
        .map_err(|e| Error::http(Endpoint::Jwks, e))?;
    if response.status != 200 {
        return Err(Error::InvalidResponse {
            endpoint: Endpoint::Jwks,
            problem: format!("HTTP {}", response.status),
        });
    }
    parse_json(Endpoint::Jwks, &response.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims_authenticated_at(
        auth_time: Option<chrono::DateTime<chrono::Utc>>,
    ) -> CoreIdTokenClaims {
        let now = chrono::Utc::now();
        openidconnect::IdTokenClaims::new(
            IssuerUrl::new("https://idp.example".into()).unwrap(),
            vec![openidconnect::Audience::new("app".into())],
            now + chrono::Duration::minutes(5),
            now,
            openidconnect::StandardClaims::new(openidconnect::SubjectIdentifier::new(
                "alice".into(),
            )),
            openidconnect::EmptyAdditionalClaims {},
        )
        .set_auth_time(auth_time)
    }

    #[test]
    fn with_max_age_requested_auth_time_is_required_and_must_be_recent_enough() {
        let now = chrono::Utc::now();
        let max_age = Some(Duration::from_secs(300));
        let recent = claims_authenticated_at(Some(now - chrono::Duration::seconds(60)));
        assert!(Provider::check_auth_time(&recent, max_age, now).is_ok());

        let missing = claims_authenticated_at(None);
        let err = Provider::check_auth_time(&missing, max_age, now).unwrap_err();
        assert!(err.to_string().contains("auth_time"), "{err}");

        let stale = claims_authenticated_at(Some(now - chrono::Duration::hours(2)));
        let err = Provider::check_auth_time(&stale, max_age, now).unwrap_err();
        assert!(matches!(err, Error::IdTokenInvalid(_)), "{err:?}");

        // Without max_age nothing is required.
        assert!(Provider::check_auth_time(&missing, None, now).is_ok());
        assert!(Provider::check_auth_time(&stale, None, now).is_ok());
    }
}
