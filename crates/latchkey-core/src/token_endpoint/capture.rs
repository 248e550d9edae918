//! [`Capture`]: the HTTP client oauth2 sends token requests through. It keeps the raw response
//! for [`super::read`], and adds the DPoP proof (with one retry on a nonce challenge) when the
//! session has a key, dated by the server's clock as its `Date` headers tell it.

use std::sync::Mutex;

use openidconnect::{HttpRequest, HttpResponse};
use zeroize::Zeroizing;

use super::{read, TokenAnswer, WireError};
use crate::dpop::{learn_from, DpopKey, NonceCache, Proof, ServerClocks};
use crate::error::{Endpoint, Error};
use crate::http::{BodyResponse, HttpClient, HttpError};

/// Why [`Capture`] ended oauth2's part of a request.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CaptureError {
    /// The request failed in transport.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The response was kept for [`read`]; oauth2 does not parse it.
    #[error("the response was captured")]
    Captured,
}

/// A kept response: status, zeroizing body, `WWW-Authenticate` values.
type Captured = (u16, Zeroizing<Vec<u8>>, Vec<String>);

/// What a DPoP-bound request needs: the key, and the session's nonces and server clocks.
#[derive(Clone, Copy)]
struct Dpop<'a> {
    key: &'a DpopKey,
    nonces: &'a NonceCache,
    clocks: &'a ServerClocks,
}

/// The HTTP client oauth2 sends token requests through: it keeps the raw response (status and a
/// zeroizing body) and ends oauth2's part there.
pub(crate) struct Capture<'a> {
    http: &'a HttpClient,
    dpop: Option<Dpop<'a>>,
    response: Mutex<Option<Captured>>,
}

impl<'a> Capture<'a> {
    pub(crate) fn new(http: &'a HttpClient) -> Self {
        Self {
            http,
            dpop: None,
            response: Mutex::new(None),
        }
    }

    /// Sends each request with a DPoP proof signed by `key`, using and remembering the server's
    /// nonces in `nonces` and its clock offset in `clocks`.
    pub(crate) fn with_dpop(
        mut self,
        key: Option<&'a DpopKey>,
        nonces: &'a NonceCache,
        clocks: &'a ServerClocks,
    ) -> Self {
        self.dpop = key.map(|key| Dpop {
            key,
            nonces,
            clocks,
        });
        self
    }

    /// One request with a proof; a `use_dpop_nonce` answer that brings a new nonce gets exactly
    /// one retry with it.
    async fn send_with_proof(
        &self,
        request: HttpRequest,
        Dpop {
            key,
            nonces,
            clocks,
        }: Dpop<'_>,
    ) -> Result<BodyResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let body = Zeroizing::new(body);
        let url = url::Url::parse(&parts.uri.to_string())
            .map_err(|e| HttpError::BadRequest(format!("invalid URL: {e}")))?;
        let mut retried = false;
        loop {
            let nonce = nonces.get(&url);
            let proof = Proof::new(parts.method.as_str(), &url)
                .issued_at(clocks.iat_for(&url))
                .nonce(nonce.as_deref())
                .sign(key)
                .map_err(|e| HttpError::BadRequest(e.to_string()))?;
            let mut builder = http::Request::builder()
                .method(parts.method.clone())
                .uri(parts.uri.clone());
            for (name, value) in &parts.headers {
                builder = builder.header(name, value);
            }
            let request = builder
                .header("DPoP", proof)
                .body(body.to_vec())
                .map_err(|e| HttpError::BadRequest(e.to_string()))?;
            let sent = std::time::SystemTime::now();
            let response = self.http.send_oauth(request).await?;
            let new_nonce = learn_from(nonces, clocks, &url, nonce.as_deref(), sent, &response);
            // RFC 9449 §8: the challenge is a JSON `error`, and (§7.1, some servers at the token
            // endpoint too) a `WWW-Authenticate: DPoP error="use_dpop_nonce"` in any header.
            let challenged = matches!(response.status, 400 | 401)
                && (serde_json::from_slice::<WireError>(&response.body)
                    .is_ok_and(|e| e.error == "use_dpop_nonce")
                    || crate::dpop::is_nonce_challenge(&response.www_authenticate));
            if challenged && new_nonce && !retried {
                tracing::debug!("the token endpoint asked for a DPoP nonce; retrying once");
                retried = true;
                continue;
            }
            return Ok(response);
        }
    }

    /// Sends `request` as is (with a DPoP proof and one nonce retry when the capture has a key)
    /// and returns the response whatever its status: for requests oauth2 doesn't build (the
    /// pushed authorization request).
    pub(crate) async fn send(&self, request: HttpRequest) -> Result<BodyResponse, HttpError> {
        match self.dpop {
            Some(dpop) => self.send_with_proof(request, dpop).await,
            None => self.http.send_oauth(request).await,
        }
    }

    /// The captured response, or what went wrong before there was one: a transport failure, or
    /// oauth2 refusing to build the request.
    pub(crate) fn finish<T, E: openidconnect::ErrorResponse + 'static>(
        self,
        result: Result<T, openidconnect::RequestTokenError<CaptureError, E>>,
    ) -> Result<TokenAnswer, Error> {
        use openidconnect::RequestTokenError;
        match result {
            Err(RequestTokenError::Request(CaptureError::Captured)) => {}
            Err(RequestTokenError::Request(CaptureError::Http(e))) => {
                return Err(Error::http(Endpoint::Token, e))
            }
            Err(RequestTokenError::Other(problem)) => {
                return Err(Error::Internal(format!("token request: {problem}")))
            }
            Ok(_) | Err(_) => {
                return Err(Error::Internal(
                    "the token response reached oauth2's parser".into(),
                ))
            }
        }
        let captured = self
            .response
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        match captured {
            Some((status, body, challenges)) => {
                read(status, &body, &challenges, self.dpop.is_some())
            }
            None => Err(Error::Internal("no token response was captured".into())),
        }
    }
}

impl<'c> openidconnect::AsyncHttpClient<'c> for Capture<'_> {
    type Error = CaptureError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, CaptureError>> + Send + 'c>,
    >;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = match self.dpop {
                Some(dpop) => self.send_with_proof(request, dpop).await?,
                None => self.http.send_oauth(request).await?,
            };
            let mut slot = self.response.lock().unwrap_or_else(|p| p.into_inner());
            *slot = Some((
                response.status,
                Zeroizing::new(response.body),
                response.www_authenticate,
            ));
            Err(CaptureError::Captured)
        })
    }
}
