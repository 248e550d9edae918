//! The values errors carry to say where and why: which endpoint failed, why a session ended,
//! why a callback was turned away.
//!
//! They live apart from [`super::Error`] because they travel without it: a session's status
//! carries a [`ReauthReason`], and the loopback listener counts [`CallbackRejection`]s long
//! before any error exists. None holds a secret, so each may go into a message or over IPC.

use serde::Serialize;

/// Which endpoint an HTTP failure happened at (for messages; never carries query strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// The discovery document.
    Discovery,
    /// The JSON Web Key Set.
    Jwks,
    /// The token endpoint (code exchange or refresh).
    Token,
    /// The revocation endpoint.
    Revocation,
    /// The userinfo endpoint.
    UserInfo,
    /// A protected API called with the access token.
    Api,
    /// The pushed authorization request endpoint (RFC 9126).
    PushedAuthorization,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Endpoint::Discovery => "discovery endpoint",
            Endpoint::Jwks => "JWKS endpoint",
            Endpoint::Token => "token endpoint",
            Endpoint::Revocation => "revocation endpoint",
            Endpoint::UserInfo => "userinfo endpoint",
            Endpoint::Api => "API",
            Endpoint::PushedAuthorization => "pushed authorization request endpoint",
        })
    }
}

/// Why a session needs the user to sign in again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason", content = "detail")]
#[non_exhaustive]
pub enum ReauthReason {
    /// The token endpoint answered `invalid_grant` to a refresh: the refresh token is expired,
    /// revoked, or was reused after rotation.
    RefreshTokenRejected(Option<String>),
    /// The access token expired and the server never issued a refresh token.
    NoRefreshToken,
    /// A protected resource rejected a just-refreshed access token.
    AccessTokenRejected,
    /// Another process sharing the store ended the session (signed out, or was told
    /// `invalid_grant`).
    EndedElsewhere,
    /// The vault erased the stored session while locked: too many wrong PINs, or a platform key
    /// that can never be released again (biometrics re-enrolled).
    StoredSessionErased,
    /// The configuration requires DPoP and the stored session has no usable DPoP key (made
    /// without one, or the key is unreadable): its refresh token is not sent unbound.
    DpopKeyMissing,
    /// The token endpoint rejected this session's DPoP proofs (`invalid_dpop_proof`) several
    /// times in a row: its refresh token is bound to a key the server won't accept. A new sign-in
    /// makes a new key.
    DpopProofRejected,
}

impl std::fmt::Display for ReauthReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReauthReason::RefreshTokenRejected(Some(d)) => {
                write!(f, "the server rejected the refresh token ({d})")
            }
            ReauthReason::RefreshTokenRejected(None) => {
                f.write_str("the server rejected the refresh token")
            }
            ReauthReason::NoRefreshToken => {
                f.write_str("the access token expired and the server issued no refresh token")
            }
            ReauthReason::AccessTokenRejected => {
                f.write_str("the API rejected a freshly refreshed access token")
            }
            ReauthReason::EndedElsewhere => {
                f.write_str("the session was ended by another process sharing the vault")
            }
            ReauthReason::StoredSessionErased => {
                f.write_str("the stored session was erased on this device")
            }
            ReauthReason::DpopKeyMissing => {
                f.write_str("DPoP is required and this session has no usable DPoP key")
            }
            ReauthReason::DpopProofRejected => f.write_str(
                "the server kept rejecting this session's DPoP proofs; sign in again for a new key",
            ),
        }
    }
}

/// Why a sign-in callback was not accepted. Each of these got a 400 at the loopback listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallbackRejection {
    /// The bytes were not an HTTP/1.x request, or the head was too large.
    MalformedRequest,
    /// A method other than GET.
    WrongMethod,
    /// Not the registered redirect path.
    WrongPath,
    /// A protocol parameter appeared more than once (RFC 6749 §3.1).
    DuplicateParameter,
    /// `state` missing or not the one this sign-in sent.
    StateMismatch,
    /// RFC 9207 `iss` missing although the server promises it.
    MissingIssuer,
    /// RFC 9207 `iss` is not the issuer the request went to (mix-up).
    IssuerMismatch,
    /// A success response without a `code`.
    MissingCode,
}

impl std::fmt::Display for CallbackRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CallbackRejection::MalformedRequest => "malformed request",
            CallbackRejection::WrongMethod => "wrong method",
            CallbackRejection::WrongPath => "wrong path",
            CallbackRejection::DuplicateParameter => "duplicate parameter",
            CallbackRejection::StateMismatch => "state mismatch",
            CallbackRejection::MissingIssuer => "missing iss",
            CallbackRejection::IssuerMismatch => "iss mismatch",
            CallbackRejection::MissingCode => "missing code",
        })
    }
}
