//! The server's metadata: where it is (OIDC Discovery, then the RFC 8414 location), the subset
//! this client reads, and the checks a native client owes it before trusting any endpoint in it.

use serde::Deserialize;
use url::Url;

use super::parse_json;
use crate::config::Config;
use crate::error::{Endpoint, Error, Result};
use crate::http::{is_secure_or_loopback, HttpClient};

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
    /// RFC 9449 §5.1: the JWS algorithms the server accepts in DPoP proofs.
    #[serde(default)]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// RFC 9126 §5: where authorization requests are pushed.
    #[serde(default)]
    pub pushed_authorization_request_endpoint: Option<Url>,
    /// RFC 9126 §5: when true, the provider accepts only pushed authorization requests.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
}

impl ServerMetadata {
    /// The algorithm of the DPoP key sessions with this provider bind their tokens to under
    /// `policy`, if any: ES256 when offered (what hardware key stores hold, and what most
    /// providers accept), else EdDSA (Ed25519) when offered, else none.
    ///
    /// # Errors
    /// [`crate::dpop::DpopError::NotOffered`] when `policy` is `Required` and neither is.
    pub fn dpop_alg(
        &self,
        policy: crate::config::DpopPolicy,
    ) -> std::result::Result<Option<&'static str>, crate::dpop::DpopError> {
        use crate::config::DpopPolicy;
        let offers = |alg: &str| {
            self.dpop_signing_alg_values_supported
                .as_ref()
                .is_some_and(|algs| algs.iter().any(|a| a == alg))
        };
        let chosen = ["ES256", "EdDSA"].into_iter().find(|a| offers(a));
        match (policy, chosen) {
            (DpopPolicy::Off, _) => Ok(None),
            (_, Some(alg)) => Ok(Some(alg)),
            (DpopPolicy::Auto, None) => Ok(None),
            (DpopPolicy::Required, None) => Err(crate::dpop::DpopError::NotOffered {
                offered: self
                    .dpop_signing_alg_values_supported
                    .as_ref()
                    .filter(|a| !a.is_empty())
                    .map_or_else(|| "none".to_owned(), |a| a.join(", ")),
            }),
        }
    }
}

pub(super) async fn fetch_metadata(http: &HttpClient, issuer: &str) -> Result<ServerMetadata> {
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
    metadata.dpop_alg(config.dpop)?;
    let endpoints: [(&'static str, Option<&Url>); 7] = [
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
        (
            "pushed_authorization_request_endpoint",
            metadata.pushed_authorization_request_endpoint.as_ref(),
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
    use std::time::Duration;

    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::discovery::Provider;

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
}
