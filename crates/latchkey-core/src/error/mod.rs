//! Typed errors, and the classification ([`ErrorKind`]) front ends act on.
//!
//! Variants name the situation; [`Error::kind`] says what the user or the app should do about it,
//! in the spirit of AppAuth's error domains ("errors in this domain invalidate the authentication
//! state" vs transient ones). No variant carries a token, code, verifier, state or key, and no
//! `Display` prints a response body.

pub(crate) mod detail;
pub(crate) mod kind;

use std::sync::Arc;

use crate::config::ConfigError;
use crate::http::HttpError;
use crate::store::StoreError;
use crate::user_agent::UserAgentError;

pub use detail::{CallbackRejection, Endpoint, ReauthReason};
pub use kind::ErrorKind;

/// Everything that can go wrong in latchkey-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Invalid or incomplete configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// A request to the server failed in transport, timed out, got a 5xx/429, or its response was
    /// too large.
    #[error("{endpoint} unavailable")]
    Http {
        /// Where.
        endpoint: Endpoint,
        /// The transport failure.
        #[source]
        source: HttpError,
    },

    /// A server document or response could not be parsed. `field` is the JSON path that failed
    /// (never the value).
    #[error("invalid response from the {endpoint}: {problem}")]
    InvalidResponse {
        /// Where.
        endpoint: Endpoint,
        /// What was wrong (a JSON path or a rule; no values from the body).
        problem: String,
    },

    /// The discovery document names another issuer than the one configured (OIDC Discovery §4.3,
    /// RFC 8414 §3.3).
    #[error(
        "the discovery document names issuer {found:?}, but the configured issuer is {expected:?}"
    )]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The issuer in the document.
        found: String,
    },

    /// The server does not list S256 in `code_challenge_methods_supported`: refusing a PKCE
    /// downgrade (RFC 9700 §2.1.1).
    #[error("the authorization server does not support PKCE with S256")]
    PkceS256Unsupported,

    /// The server's metadata lacks an endpoint this client needs.
    #[error("the server's metadata has no {0}")]
    MissingEndpoint(&'static str),

    /// An endpoint or URL is neither https nor http on a loopback address.
    #[error("refusing to use {what} over plain http off loopback: {url}")]
    InsecureUrl {
        /// Which URL.
        what: &'static str,
        /// The URL (never with a query).
        url: String,
    },

    /// The loopback redirect listener could not be started.
    #[error("could not listen for the sign-in redirect on loopback")]
    LoopbackBind(#[source] std::io::Error),

    /// Every configured redirect port is held by another program, on 127.0.0.1 or [::1]. A
    /// configuration problem: retrying fails the same way until the person frees a port or
    /// lists others (and registers them with the provider).
    #[error("{}", ports_taken(.ports))]
    RedirectPortsTaken {
        /// The configured ports, in the order they were tried.
        ports: Vec<u16>,
    },

    /// The browser could not be opened.
    #[error(transparent)]
    UserAgent(#[from] UserAgentError),

    /// No valid callback arrived in time.
    #[error("sign-in timed out after {seconds} s{}", rejected_note(*.rejected, *.last_rejection))]
    SignInTimedOut {
        /// The timeout.
        seconds: u64,
        /// How many requests the listener rejected meanwhile.
        rejected: u32,
        /// Why the last one was rejected.
        last_rejection: Option<CallbackRejection>,
    },

    /// The user cancelled (`access_denied` from the server, or the front end's Cancel).
    #[error("sign-in was cancelled")]
    Cancelled,

    /// The authorization server returned an error to the redirect URI (other than access_denied).
    #[error("the authorization server refused the sign-in: {error}{}", desc_note(.description))]
    AuthorizationRefused {
        /// The RFC 6749 §4.1.2.1 error code.
        error: String,
        /// `error_description`, if any.
        description: Option<String>,
    },

    /// The token endpoint answered an OAuth error other than a refresh's `invalid_grant`.
    #[error("the token endpoint refused the request: {error}{}", desc_note(.description))]
    TokenRefused {
        /// The RFC 6749 §5.2 error code.
        error: String,
        /// `error_description`, if any.
        description: Option<String>,
    },

    /// The token response asked for a token type this client does not implement.
    #[error("unsupported token_type {0:?} (this client uses Bearer tokens)")]
    UnsupportedTokenType(String),

    /// DPoP (sender-constrained tokens) failed: see [`crate::dpop::DpopError`].
    #[error(transparent)]
    Dpop(#[from] crate::dpop::DpopError),

    /// The ID token failed validation (signature, iss, aud, exp/iat, nonce, sub).
    #[error("the ID token is invalid: {0}")]
    IdTokenInvalid(String),

    /// The scope included `openid` but the server sent no ID token with the code exchange.
    #[error("the token response has no id_token although the openid scope was requested")]
    IdTokenMissing,

    /// The userinfo response's `sub` differs from the ID token's (OIDC Core §5.3.2).
    #[error("the userinfo response is for another subject")]
    UserInfoSubjectMismatch,

    /// The token endpoint refused with 400, 401 or 403 but without an OAuth error (an empty or
    /// HTML body, perhaps from a CDN or firewall in front of it). Not a verdict on the grant: the
    /// session is kept and the refresh retried with backoff; the same refusal three times in a
    /// row ends the session.
    #[error("the token endpoint refused without an OAuth error (HTTP {status}); will retry")]
    TokenEndpointUnexplained {
        /// The HTTP status.
        status: u16,
    },

    /// The API's response carried this session's access token or DPoP proof (an API echoing
    /// request headers): it is not handed on, so that a credential never reaches the caller's
    /// view (a WebView) through a response body.
    #[error("the {endpoint} response contains the request's credentials and was withheld")]
    CredentialEchoed {
        /// Where.
        endpoint: Endpoint,
    },

    /// A protected API asked for a stronger or more recent sign-in (RFC 9470
    /// `insufficient_user_authentication`): not a bad token, and the session goes on for other
    /// calls. [`crate::Session::step_up`] runs the sign-in it asks for.
    #[error("this call needs {}: confirm it's you", .0.describe())]
    StepUpRequired(crate::step_up::StepUpChallenge),

    /// A step-up sign-in came back without what was asked (a lower `acr`, an older `auth_time`):
    /// its tokens were not taken, and the session is as it was.
    #[error("the step-up sign-in didn't satisfy the request: {0}")]
    StepUpUnsatisfied(String),

    /// A step-up sign-in came back for another user than the session's: refused, the session is
    /// as it was.
    #[error(
        "the step-up sign-in is for another user than this session's; sign out to switch users"
    )]
    StepUpOtherUser,

    /// There is no step-up requirement to satisfy (no API call asked for one, or it was met).
    #[error("no call is waiting for a step-up sign-in")]
    NoStepUpPending,

    /// The provider requires pushed authorization requests (RFC 9126), or the configuration
    /// does (`par = "required"`), and the provider lists no endpoint for them.
    #[error("pushed authorization requests are required{}, but the provider has no pushed_authorization_request_endpoint", if *.by_provider { " by the provider" } else { " by the configuration" })]
    ParUnavailable {
        /// True when the provider's metadata requires them, false when the configuration does.
        by_provider: bool,
    },

    /// The pushed authorization request endpoint refused the request with an OAuth error
    /// (RFC 9126 §2.3): nothing was opened in the browser.
    #[error("the pushed authorization request endpoint refused the request: {error}{}", desc_note(.description))]
    PushRefused {
        /// The OAuth error code.
        error: String,
        /// `error_description`, if any.
        description: Option<String>,
    },

    /// The session has ended; the user must sign in again.
    #[error("sign-in required: {0}")]
    ReauthRequired(ReauthReason),

    /// There is no session.
    #[error("not signed in")]
    NotSignedIn,

    /// The secret store failed.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// This caller waited for a refresh another caller started, and that refresh failed.
    #[error("{0}")]
    Shared(#[source] Arc<Error>),

    /// A session exists (signed in, or locked in the vault), and the action would replace it or
    /// change where its tokens go: the user signs out first.
    #[error("a session exists: sign out before {action}")]
    SessionExists {
        /// What was refused ("signing in again", "changing the provider or the API").
        action: &'static str,
    },

    /// A background task failed unexpectedly.
    #[error("internal error: {0}")]
    Internal(String),
}

fn rejected_note(rejected: u32, last: Option<CallbackRejection>) -> String {
    match (rejected, last) {
        (0, _) => String::new(),
        (n, Some(why)) => format!(" ({n} invalid callback request(s) rejected; last: {why})"),
        (n, None) => format!(" ({n} invalid callback request(s) rejected)"),
    }
}

fn ports_taken(ports: &[u16]) -> String {
    match ports {
        [port] => format!(
            "the configured redirect port {port} is in use by another program; close it or \
             configure other ports"
        ),
        _ => {
            let list: Vec<String> = ports.iter().map(u16::to_string).collect();
            format!(
                "all the configured redirect ports ({}) are in use by other programs; close them \
                 or configure other ports",
                list.join(", ")
            )
        }
    }
}

fn desc_note(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}

impl Error {
    /// The classification a front end acts on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_)
            | Error::MissingEndpoint(_)
            | Error::InsecureUrl { .. }
            | Error::PkceS256Unsupported
            | Error::RedirectPortsTaken { .. } => ErrorKind::Configuration,
            Error::Http {
                source: HttpError::TooLarge { .. } | HttpError::BadRequest(_),
                ..
            } => ErrorKind::Protocol,
            Error::Http { .. }
            | Error::SignInTimedOut { .. }
            | Error::TokenEndpointUnexplained { .. } => ErrorKind::Transient,
            Error::Cancelled => ErrorKind::Cancelled,
            Error::StepUpRequired(_) => ErrorKind::StepUpRequired,
            Error::NoStepUpPending => ErrorKind::WrongState,
            Error::ParUnavailable { .. } => ErrorKind::Configuration,
            Error::ReauthRequired(_) => ErrorKind::ReauthRequired,
            Error::NotSignedIn => ErrorKind::NotSignedIn,
            Error::Store(e) => e.kind(),
            Error::Shared(inner) => inner.kind(),
            Error::InvalidResponse { .. }
            | Error::IssuerMismatch { .. }
            | Error::AuthorizationRefused { .. }
            | Error::TokenRefused { .. }
            | Error::UnsupportedTokenType(_)
            | Error::Dpop(_)
            | Error::IdTokenInvalid(_)
            | Error::IdTokenMissing
            | Error::UserInfoSubjectMismatch
            | Error::CredentialEchoed { .. }
            | Error::StepUpUnsatisfied(_)
            | Error::StepUpOtherUser
            | Error::PushRefused { .. } => ErrorKind::Protocol,
            Error::SessionExists { .. } => ErrorKind::WrongState,
            Error::LoopbackBind(_) | Error::UserAgent(_) | Error::Internal(_) => {
                ErrorKind::Internal
            }
        }
    }

    /// True when the session is over and only a new sign-in helps.
    pub fn requires_reauthentication(&self) -> bool {
        self.kind() == ErrorKind::ReauthRequired
    }

    /// True for network and server-availability failures that keep the session.
    pub fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }

    pub(crate) fn http(endpoint: Endpoint, source: HttpError) -> Self {
        Error::Http { endpoint, source }
    }
}

/// An error's message followed by each of its causes that adds something: the sentence a front
/// end shows. No error in this crate carries a secret, so neither does this.
pub fn full_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Result alias for latchkey-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_grant_is_classified_as_reauthentication_required() {
        let e = Error::ReauthRequired(ReauthReason::RefreshTokenRejected(None));
        assert!(e.requires_reauthentication());
        assert!(!e.is_transient());
    }

    #[test]
    fn transport_failures_and_5xx_are_transient() {
        let e = Error::http(
            Endpoint::Token,
            HttpError::ServerUnavailable { status: 503 },
        );
        assert!(e.is_transient());
        assert!(!e.requires_reauthentication());
    }

    #[test]
    fn a_shared_failure_keeps_the_kind_of_the_refresh_it_came_from() {
        let inner = Arc::new(Error::http(
            Endpoint::Token,
            HttpError::ServerUnavailable { status: 502 },
        ));
        assert_eq!(Error::Shared(inner).kind(), ErrorKind::Transient);
    }

    #[test]
    fn taken_redirect_ports_are_named_and_classified_as_configuration() {
        let e = Error::RedirectPortsTaken {
            ports: vec![8765, 8766],
        };
        assert_eq!(
            e.to_string(),
            "all the configured redirect ports (8765, 8766) are in use by other programs; close \
             them or configure other ports"
        );
        assert_eq!(e.kind(), ErrorKind::Configuration);
        let e = Error::RedirectPortsTaken { ports: vec![8765] };
        assert_eq!(
            e.to_string(),
            "the configured redirect port 8765 is in use by another program; close it or \
             configure other ports"
        );
    }

    #[test]
    fn a_timed_out_sign_in_says_how_many_bad_callbacks_were_rejected() {
        let e = Error::SignInTimedOut {
            seconds: 5,
            rejected: 3,
            last_rejection: Some(CallbackRejection::StateMismatch),
        };
        assert_eq!(
            e.to_string(),
            "sign-in timed out after 5 s (3 invalid callback request(s) rejected; last: state mismatch)"
        );
    }
}
