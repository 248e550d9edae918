//! The one HTTP client every request goes through.
//!
//! - It follows no redirects (oauth2-rs's security warning: a redirect-following client turns the
//!   token endpoint into an SSRF and token-leak vector).
//! - Every request has a connect timeout and a total timeout.
//! - Every response body is read with a size cap; a larger one is an error, never truncated JSON.
//! - For OAuth endpoints ([`oauth2::AsyncHttpClient`]) a 5xx or 429 answer is reported as a
//!   transport failure ([`HttpError::ServerUnavailable`]): a correct server never answers an OAuth
//!   error with those statuses (RFC 6749 §5.2 uses 400/401), and treating them as transient is what
//!   keeps an outage from ending a session.

mod api;
mod challenge;
mod transport;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use api::{ApiRequest, ApiRequestError, Authorization, API_METHODS, MAX_REQUEST_BODY};
pub use challenge::{has_error, parse_challenges, Challenge};
pub use transport::Transport;

use openidconnect::{HttpRequest, HttpResponse};
use url::{Host, Url};

/// A transport-level failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// Connecting, sending or receiving failed, or the request timed out.
    #[error("{}", describe_reqwest(.0))]
    Transport(#[source] reqwest::Error),
    /// The server answered 5xx or 429.
    #[error("the server answered HTTP {status}")]
    ServerUnavailable {
        /// The status code.
        status: u16,
    },
    /// The response body was larger than the configured cap.
    #[error("the response is larger than {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: usize,
    },
    /// The request could not be built (a bug or a malformed URL).
    #[error("the request could not be built: {0}")]
    BadRequest(String),
}

fn describe_reqwest(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "the request timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the response body could not be read"
    } else {
        "the request failed"
    }
}

/// A response read in full (within the cap).
#[derive(Debug, Clone)]
pub struct BodyResponse {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// Every `WWW-Authenticate` header value, in order (each may hold several challenges: read
    /// them with [`parse_challenges`]).
    pub www_authenticate: Vec<String>,
    /// The `DPoP-Nonce` header (RFC 9449 §8), if any.
    pub dpop_nonce: Option<String>,
    /// The `Date` header (RFC 9110 §6.6.1), if any: the server's clock, for DPoP `iat`.
    pub date: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// The shared HTTP client (cheap to clone).
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    max_body: usize,
    /// Where requests go instead of the network, when set (see [`Transport`]).
    transport: Option<Arc<dyn Transport>>,
}

impl HttpClient {
    /// Builds a client with the given total timeout per request and body cap.
    pub fn new(timeout: Duration, max_body: usize) -> Result<Self, HttpError> {
        let inner = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::BadRequest(e.without_url().to_string()))?;
        Ok(Self {
            inner,
            max_body,
            transport: None,
        })
    }

    /// This client, sending every request through `transport` instead of the network: how the
    /// engine's policies are tested with paused time and no sockets.
    pub fn with_transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The body cap in bytes.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// POST an `application/x-www-form-urlencoded` body; any status is returned as is.
    pub async fn post_form(
        &self,
        url: &Url,
        fields: &[(&str, &str)],
    ) -> Result<BodyResponse, HttpError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = self
            .inner
            .post(url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .build()
            .map_err(|e| HttpError::BadRequest(e.without_url().to_string()))?;
        self.execute(request).await
    }

    /// GET a public document (discovery, JWKS). 5xx/429 become [`HttpError::ServerUnavailable`].
    pub async fn get_document(&self, url: &Url) -> Result<BodyResponse, HttpError> {
        let request = self
            .inner
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .build()
            .map_err(|e| HttpError::BadRequest(e.without_url().to_string()))?;
        let response = self.execute(request).await?;
        unavailable_as_error(response.status)?;
        Ok(response)
    }

    async fn execute(&self, request: reqwest::Request) -> Result<BodyResponse, HttpError> {
        if let Some(transport) = &self.transport {
            return transport.send(request, self.max_body).await;
        }
        let mut response = self
            .inner
            .execute(request)
            .await
            .map_err(|e| HttpError::Transport(e.without_url()))?;
        if let Some(len) = response.content_length() {
            if len > self.max_body as u64 {
                return Err(HttpError::TooLarge {
                    limit: self.max_body,
                });
            }
        }
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let www_authenticate = response
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        let dpop_nonce = header(reqwest::header::HeaderName::from_static("dpop-nonce"));
        let date = header(reqwest::header::DATE);
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| HttpError::Transport(e.without_url()))?
        {
            if body.len() + chunk.len() > self.max_body {
                return Err(HttpError::TooLarge {
                    limit: self.max_body,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(BodyResponse {
            status,
            content_type,
            www_authenticate,
            dpop_nonce,
            date,
            body,
        })
    }

    /// Sends a request oauth2 built and returns the response as it is, whatever its status.
    pub(crate) async fn send_oauth(&self, request: HttpRequest) -> Result<BodyResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let url = Url::parse(&parts.uri.to_string())
            .map_err(|e| HttpError::BadRequest(format!("invalid URL: {e}")))?;
        let mut builder = self.inner.request(parts.method, url).body(body);
        for (name, value) in &parts.headers {
            builder = builder.header(name, value);
        }
        let request = builder
            .build()
            .map_err(|e| HttpError::BadRequest(e.without_url().to_string()))?;
        self.execute(request).await
    }

    async fn execute_oauth(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let response = self.send_oauth(request).await?;
        unavailable_as_error(response.status)?;
        let mut builder = http::Response::builder().status(response.status);
        if let Some(ct) = &response.content_type {
            builder = builder.header(http::header::CONTENT_TYPE, ct);
        }
        builder
            .body(response.body)
            .map_err(|e| HttpError::BadRequest(e.to_string()))
    }
}

fn unavailable_as_error(status: u16) -> Result<(), HttpError> {
    if status >= 500 || status == 429 {
        Err(HttpError::ServerUnavailable { status })
    } else {
        Ok(())
    }
}

impl<'c> openidconnect::AsyncHttpClient<'c> for HttpClient {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.execute_oauth(request))
    }
}

/// True for `https:` URLs and for `http:` URLs whose host is a loopback IP literal (127.0.0.0/8 or
/// [::1]): the only places this client sends tokens or trusts metadata from.
///
/// `localhost` does not count (RFC 8252 §8.3): a hosts file, resolver or proxy can send a name
/// anywhere, and plain http would then carry tokens off the machine.
pub fn is_secure_or_loopback(url: &Url) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            Some(Host::Domain(_)) | None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn client() -> HttpClient {
        HttpClient::new(Duration::from_secs(2), 4096).unwrap()
    }

    #[test]
    fn only_https_or_loopback_http_counts_as_secure() {
        for ok in [
            "https://idp.example.com/x",
            "http://127.0.0.1:8080/",
            "http://[::1]/",
        ] {
            assert!(is_secure_or_loopback(&Url::parse(ok).unwrap()), "{ok}");
        }
        for bad in [
            "http://idp.example.com/",
            "http://10.0.0.1/",
            "ftp://127.0.0.1/",
            "file:///etc/passwd",
        ] {
            assert!(!is_secure_or_loopback(&Url::parse(bad).unwrap()), "{bad}");
        }
    }

    #[test]
    fn localhost_is_not_loopback_only_ip_literals_are() {
        // RFC 8252 §8.3: a name can resolve anywhere (hosts file, resolver, proxy); an IP literal
        // can't.
        for name in [
            "http://localhost/",
            "http://localhost:3000/x",
            "http://LOCALHOST/",
            "http://localhost./",
            "http://idp.localhost/",
            "http://127.0.0.1.nip.io/",
        ] {
            assert!(!is_secure_or_loopback(&Url::parse(name).unwrap()), "{name}");
        }
        for literal in [
            "http://127.0.0.1/",
            "http://127.255.255.254:9/",
            "http://[::1]:8080/",
        ] {
            assert!(
                is_secure_or_loopback(&Url::parse(literal).unwrap()),
                "{literal}"
            );
        }
        for not_loopback in [
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://[::]/",
        ] {
            assert!(
                !is_secure_or_loopback(&Url::parse(not_loopback).unwrap()),
                "{not_loopback}"
            );
        }
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let server = MockServer::start().await;
        Mock::given(path("/moved"))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("location", format!("{}/target", server.uri())),
            )
            .mount(&server)
            .await;
        Mock::given(path("/target"))
            .respond_with(ResponseTemplate::new(200))
            .expect(0)
            .mount(&server)
            .await;
        let url = Url::parse(&format!("{}/moved", server.uri())).unwrap();
        let response = client()
            .send_authorized(&ApiRequest::get(url.clone()), Authorization::Bearer("t"))
            .await
            .unwrap();
        assert_eq!(response.status, 302);
    }

    #[tokio::test]
    async fn a_body_over_the_cap_is_an_error_not_a_truncation() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; 5000]))
            .mount(&server)
            .await;
        let url = Url::parse(&server.uri()).unwrap();
        let err = client()
            .send_authorized(&ApiRequest::get(url.clone()), Authorization::Bearer("t"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, HttpError::TooLarge { limit: 4096 }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_5xx_on_a_document_is_server_unavailable() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(503).set_body_string("<html>down</html>"))
            .mount(&server)
            .await;
        let url = Url::parse(&server.uri()).unwrap();
        let err = client().get_document(&url).await.unwrap_err();
        assert!(
            matches!(err, HttpError::ServerUnavailable { status: 503 }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_slow_response_times_out() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
            .mount(&server)
            .await;
        let url = Url::parse(&server.uri()).unwrap();
        let fast = HttpClient::new(Duration::from_millis(200), 4096).unwrap();
        let err = fast.get_document(&url).await.unwrap_err();
        assert!(err.to_string().contains("timed out"), "{err}");
    }
}
