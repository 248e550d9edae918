//! Requests to a resource server (an API, userinfo) with an access token: what a front end may
//! ask for ([`ApiRequest`]: a method, a URL, optionally a typed body) and how the token goes on
//! it ([`Authorization`]). Nothing else of a request is the caller's to set: no header a script
//! could use to move or copy the token (`Authorization`, `DPoP`, `Cookie`, …).

use http::Method;
use url::Url;

use super::{BodyResponse, HttpClient, HttpError};

/// The methods an authorised call may use. `CONNECT`, `TRACE` and extension methods are refused:
/// `TRACE` echoes the request, its token included.
pub const API_METHODS: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// The largest request body an authorised call sends.
pub const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// A call to a resource server: the access token (and its DPoP proof, for the same method and
/// URL) is added by the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    method: Method,
    url: Url,
    body: Option<(String, Vec<u8>)>,
}

/// An [`ApiRequest`] that can't be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiRequestError {
    /// Not one of [`API_METHODS`].
    #[error("the method {0:?} is not allowed (one of GET, HEAD, POST, PUT, PATCH, DELETE)")]
    MethodNotAllowed(String),
    /// A body on a method that has none (GET, HEAD).
    #[error("a {0} request has no body")]
    BodyNotAllowed(&'static str),
    /// A body over [`MAX_REQUEST_BODY`].
    #[error("the request body is larger than {MAX_REQUEST_BODY} bytes")]
    BodyTooLarge,
    /// A content type that is not a valid header value.
    #[error("the content type is not a valid header value")]
    BadContentType,
}

impl ApiRequest {
    /// A GET of `url`.
    pub fn get(url: Url) -> Self {
        Self {
            method: Method::GET,
            url,
            body: None,
        }
    }

    /// A request with `method` (one of [`API_METHODS`], any case) to `url`.
    pub fn new(method: &str, url: Url) -> Result<Self, ApiRequestError> {
        let method = API_METHODS
            .iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(method))
            .cloned()
            .ok_or_else(|| ApiRequestError::MethodNotAllowed(method.chars().take(16).collect()))?;
        Ok(Self {
            method,
            url,
            body: None,
        })
    }

    /// With a body of `content_type` (POST, PUT, PATCH, DELETE only).
    pub fn with_body(mut self, content_type: &str, body: Vec<u8>) -> Result<Self, ApiRequestError> {
        if self.method == Method::GET {
            return Err(ApiRequestError::BodyNotAllowed("GET"));
        }
        if self.method == Method::HEAD {
            return Err(ApiRequestError::BodyNotAllowed("HEAD"));
        }
        if body.len() > MAX_REQUEST_BODY {
            return Err(ApiRequestError::BodyTooLarge);
        }
        if reqwest::header::HeaderValue::from_str(content_type).is_err() {
            return Err(ApiRequestError::BadContentType);
        }
        self.body = Some((content_type.to_owned(), body));
        Ok(self)
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }
}

/// How the access token goes on a request.
pub enum Authorization<'a> {
    /// `Authorization: Bearer <token>` (RFC 6750).
    Bearer(&'a str),
    /// `Authorization: DPoP <token>` and the `DPoP` proof header (RFC 9449 §7.1).
    Dpop {
        /// The access token.
        token: &'a str,
        /// The proof, for this request's method and URL.
        proof: &'a str,
    },
}

impl HttpClient {
    /// Sends `request` with the access token as `authorization` says; any status is returned as
    /// is.
    pub async fn send_authorized(
        &self,
        request: &ApiRequest,
        authorization: Authorization<'_>,
    ) -> Result<BodyResponse, HttpError> {
        let value = match &authorization {
            Authorization::Bearer(token) => format!("Bearer {token}"),
            Authorization::Dpop { token, .. } => format!("DPoP {token}"),
        };
        let mut value = reqwest::header::HeaderValue::from_str(&value)
            .map_err(|_| HttpError::BadRequest("the access token is not a header value".into()))?;
        value.set_sensitive(true);
        let mut builder = self
            .inner
            .request(request.method.clone(), request.url.clone())
            .header(reqwest::header::AUTHORIZATION, value)
            .header(reqwest::header::ACCEPT, "application/json, */*;q=0.5");
        if let Authorization::Dpop { proof, .. } = authorization {
            builder = builder.header("DPoP", proof);
        }
        if let Some((content_type, body)) = &request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, content_type.as_str())
                .body(body.clone());
        }
        let built = builder
            .build()
            .map_err(|e| HttpError::BadRequest(e.without_url().to_string()))?;
        self.execute(built).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://api.example/items").unwrap()
    }

    #[test]
    fn only_the_listed_methods_make_a_request_in_any_case() {
        for m in ["get", "POST", "Put", "patch", "DELETE", "head"] {
            assert!(ApiRequest::new(m, url()).is_ok(), "{m}");
        }
        for m in ["TRACE", "CONNECT", "OPTIONS", "PROPFIND", "GET\r\nX: y", ""] {
            assert!(
                matches!(
                    ApiRequest::new(m, url()),
                    Err(ApiRequestError::MethodNotAllowed(_))
                ),
                "{m:?}"
            );
        }
    }

    #[test]
    fn a_body_goes_only_on_a_method_that_has_one_and_within_the_cap() {
        let get = ApiRequest::new("GET", url()).unwrap();
        assert_eq!(
            get.with_body("text/plain", b"x".to_vec()),
            Err(ApiRequestError::BodyNotAllowed("GET"))
        );
        let post = || ApiRequest::new("POST", url()).unwrap();
        assert!(post().with_body("application/json", b"{}".to_vec()).is_ok());
        assert_eq!(
            post().with_body("text/plain", vec![0; MAX_REQUEST_BODY + 1]),
            Err(ApiRequestError::BodyTooLarge)
        );
        assert_eq!(
            post().with_body("text/plain\r\nAuthorization: x", b"x".to_vec()),
            Err(ApiRequestError::BadContentType)
        );
    }
}
