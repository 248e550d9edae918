//! Discovery (OpenID Connect Discovery 1.0, with the RFC 8414 location as fallback) and the
//! provider handle built from it: the oauth2/openidconnect client, the JWKS and the ID token
//! verifier.
//!
//! The checks a native client owes the server's metadata:
//! - its `issuer` equals the configured issuer by simple string comparison (mix-up defence);
//! - `code_challenge_methods_supported` lists `S256` (no PKCE downgrade; RFC 9700 §2.1.1);
//! - every endpoint is https (or http on loopback, for development);
//! - `authorization_response_iss_parameter_supported` decides whether RFC 9207 `iss` is required.

use std::sync::RwLock;
use std::time::Duration;

use openidconnect::core::{
    CoreClient, CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier, CoreJsonWebKeySet,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{AuthUrl, ClientId, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, TokenUrl};
use serde::Deserialize;
use url::Url;

use crate::config::Config;
use crate::error::{Endpoint, Error, Result};
use crate::http::{is_secure_or_loopback, HttpClient};

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

/// The subset of server metadata this client reads.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerMetadata {
    /// The issuer identifier.
    pub issuer: String,
    /// The authorization endpoint.
    pub authorization_endpoint: Url,
    /// The token endpoint.
    pub token_endpoint: Url,
    /// The JWKS document (required for OpenID Connect).
    #[serde(default)]
    pub jwks_uri: Option<Url>,
    /// The userinfo endpoint.
    #[serde(default)]
    pub userinfo_endpoint: Option<Url>,
    /// RFC 7009 revocation endpoint.
    #[serde(default)]
    pub revocation_endpoint: Option<Url>,
    /// OIDC RP-initiated logout endpoint.
    #[serde(default)]
    pub end_session_endpoint: Option<Url>,
    /// PKCE methods; must contain `S256`.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// RFC 9207: when true, every authorization response must carry `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

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

    /// Validates an ID token: signature against the JWKS (refetched once on an unknown key, for
    /// key rotation), `iss`, `aud` (and `azp`), `exp`/`iat` within [`ID_TOKEN_CLOCK_SKEW`], and
    /// the nonce through `nonce_check`.
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

async fn fetch_metadata(http: &HttpClient, issuer: &str) -> Result<ServerMetadata> {
    let base = issuer.trim_end_matches('/');
    let oidc = parse_url(&format!("{base}/.well-known/openid-configuration"))?;
    let response = http
        .get_document(&oidc)
        .await
        .map_err(|e| Error::http(Endpoint::Discovery, e))?;
    let response = if response.status == 404 {
        // RFC 8414 §3: the well-known segment goes between the host and the issuer's path.
        let issuer_url = parse_url(issuer)?;
        let path = issuer_url.path().trim_end_matches('/');
        let mut rfc8414 = issuer_url.clone();
        rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
        tracing::debug!("no OpenID configuration; trying RFC 8414 metadata");
        http.get_document(&rfc8414)
            .await
            .map_err(|e| Error::http(Endpoint::Discovery, e))?
    } else {
        response
    };
    if response.status != 200 {
        return Err(Error::InvalidResponse {
            endpoint: Endpoint::Discovery,
            problem: format!("HTTP {}", response.status),
        });
    }
    parse_json(Endpoint::Discovery, &response.body)
}

fn parse_url(raw: &str) -> Result<Url> {
    Url::parse(raw).map_err(|e| Error::InvalidResponse {
        endpoint: Endpoint::Discovery,
        problem: format!("bad URL: {e}"),
    })
}

/// Parses JSON, reporting only the path of the failure, never values from the body.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    endpoint: Endpoint,
    body: &[u8],
) -> Result<T> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| Error::InvalidResponse {
        endpoint,
        problem: describe_json_error(e.path().to_string(), e.inner()),
    })
}

pub(crate) fn describe_json_error(path: String, e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "unreadable",
        Category::Syntax => "not valid JSON",
        Category::Data => "a missing or mistyped field",
        Category::Eof => "truncated JSON",
    };
    if path == "." || path.is_empty() {
        what.to_string()
    } else {
        format!("{what} at `{path}`")
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

/// The checks described in the module docs.
pub fn validate_metadata(metadata: &ServerMetadata, config: &Config) -> Result<()> {
    if metadata.issuer != config.issuer {
        return Err(Error::IssuerMismatch {
            expected: config.issuer.clone(),
            found: metadata.issuer.clone(),
        });
    }
    let s256 = metadata
        .code_challenge_methods_supported
        .as_ref()
        .is_some_and(|methods| methods.iter().any(|m| m == "S256"));
    if !s256 {
        return Err(Error::PkceS256Unsupported);
    }
    let endpoints: [(&'static str, Option<&Url>); 6] = [
        (
            "authorization_endpoint",
            Some(&metadata.authorization_endpoint),
        ),
        ("token_endpoint", Some(&metadata.token_endpoint)),
        ("jwks_uri", metadata.jwks_uri.as_ref()),
        ("userinfo_endpoint", metadata.userinfo_endpoint.as_ref()),
        ("revocation_endpoint", metadata.revocation_endpoint.as_ref()),
        (
            "end_session_endpoint",
            metadata.end_session_endpoint.as_ref(),
        ),
    ];
    for (what, url) in endpoints {
        if let Some(url) = url {
            if !is_secure_or_loopback(url) {
                let mut shown = url.clone();
                shown.set_query(None);
                return Err(Error::InsecureUrl {
                    what,
                    url: shown.to_string(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn metadata_json(issuer: &str) -> serde_json::Value {
        serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
        })
    }

    fn config(issuer: &str) -> Config {
        let mut c = Config::new(issuer, "app").unwrap();
        c.scopes = vec!["profile".into()]; // no openid: no JWKS needed for these tests
        c
    }

    #[tokio::test]
    async fn discovery_accepts_matching_metadata() {
        let server = MockServer::start().await;
        Mock::given(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(metadata_json(&server.uri())))
            .mount(&server)
            .await;
        let http = HttpClient::new(Duration::from_secs(2), 65536).unwrap();
        let p = Provider::discover(&http, &config(&server.uri()))
            .await
            .unwrap();
        assert!(p.metadata.authorization_response_iss_parameter_supported);
    }

    #[tokio::test]
    async fn discovery_falls_back_to_rfc8414_metadata() {
        let server = MockServer::start().await;
        let issuer = format!("{}/tenant", server.uri());
        Mock::given(path("/.well-known/oauth-authorization-server/tenant"))
            .respond_with(ResponseTemplate::new(200).set_body_json(metadata_json(&issuer)))
            .mount(&server)
            .await;
        let http = HttpClient::new(Duration::from_secs(2), 65536).unwrap();
        let p = Provider::discover(&http, &config(&issuer)).await.unwrap();
        assert_eq!(p.issuer(), issuer);
    }

    #[tokio::test]
    async fn metadata_naming_another_issuer_is_refused() {
        let server = MockServer::start().await;
        Mock::given(path("/.well-known/openid-configuration"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(metadata_json("https://evil.example")),
            )
            .mount(&server)
            .await;
        let http = HttpClient::new(Duration::from_secs(2), 65536).unwrap();
        let err = Provider::discover(&http, &config(&server.uri()))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::IssuerMismatch { .. }), "{err:?}");
    }

    #[test]
    fn metadata_without_s256_is_a_pkce_downgrade_and_refused() {
        let issuer = "https://idp.example.com";
        let mut json = metadata_json(issuer);
        json["code_challenge_methods_supported"] = serde_json::json!(["plain"]);
        let m: ServerMetadata = serde_json::from_value(json).unwrap();
        let err = validate_metadata(&m, &config(issuer)).unwrap_err();
        assert!(matches!(err, Error::PkceS256Unsupported));

        let mut json = metadata_json(issuer);
        json.as_object_mut()
            .unwrap()
            .remove("code_challenge_methods_supported");
        let m: ServerMetadata = serde_json::from_value(json).unwrap();
        assert!(matches!(
            validate_metadata(&m, &config(issuer)),
            Err(Error::PkceS256Unsupported)
        ));
    }

    #[test]
    fn an_http_endpoint_off_loopback_is_refused() {
        let issuer = "https://idp.example.com";
        let mut json = metadata_json(issuer);
        json["token_endpoint"] = serde_json::json!("http://idp.example.com/token");
        let m: ServerMetadata = serde_json::from_value(json).unwrap();
        let err = validate_metadata(&m, &config(issuer)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InsecureUrl {
                    what: "token_endpoint",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn truncated_metadata_is_a_typed_error_without_body_content() {
        let server = MockServer::start().await;
        Mock::given(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_string("{\"issuer\": \"secretish"))
            .mount(&server)
            .await;
        let http = HttpClient::new(Duration::from_secs(2), 65536).unwrap();
        let err = Provider::discover(&http, &config(&server.uri()))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("truncated JSON"), "{text}");
        assert!(!text.contains("secretish"), "{text}");
    }

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
