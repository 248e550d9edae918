//! The seam between the engine and the network.
//!
//! Every request the engine makes is built with reqwest and sent by [`super::HttpClient`]; a
//! [`Transport`] set on the client receives the built request instead of the network. Tests use
//! one to answer from a script, so that refresh policy, backoff and the scheduler can be tested
//! with tokio's paused clock and no sockets. An app may use one to route requests through its own
//! HTTP stack, provided it keeps the client's promises: no redirects followed, timeouts, and a
//! response read within `max_body` bytes (a larger one is [`super::HttpError::TooLarge`]).

use std::future::Future;
use std::pin::Pin;

use super::{BodyResponse, HttpError};

/// Sends a request the engine built and reads its response.
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Sends `request`; the body of the answer must not exceed `max_body` bytes.
    fn send(
        &self,
        request: reqwest::Request,
        max_body: usize,
    ) -> Pin<Box<dyn Future<Output = Result<BodyResponse, HttpError>> + Send + '_>>;
}
