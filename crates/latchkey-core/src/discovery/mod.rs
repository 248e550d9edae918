//! Discovery (OpenID Connect Discovery 1.0, with the RFC 8414 location as fallback) and the
//! provider handle built from it: the oauth2/openidconnect client, the JWKS and the ID token
//! verifier.
//!
//! The checks a native client owes the server's metadata:
//! - its `issuer` equals the configured issuer by simple string comparison (mix-up defence);
//! - `code_challenge_methods_supported` lists `S256` (no PKCE downgrade; RFC 9700 §2.1.1);
//! - every endpoint is https (or http on loopback, for development);
//! - `authorization_response_iss_parameter_supported` decides whether RFC 9207 `iss` is required.
//!
//! `metadata` fetches and checks the server's metadata, `provider` holds what was learnt and
//! verifies ID tokens with it, and `json` parses responses without echoing their contents.

mod json;
mod metadata;
mod provider;

pub(crate) use json::{describe_json_error, parse_json};
pub use metadata::{validate_metadata, ServerMetadata};
pub use provider::{Provider, ID_TOKEN_CLOCK_SKEW};
