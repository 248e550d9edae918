//! The shapes that cross IPC (and the host's Rust API): none holds a token, key, verifier or
//! `state`. `guest-js/types.ts` mirrors them; `tests_contract.rs` proves the mirror exact.

use std::collections::BTreeMap;

use latchkey::vault::BiometricStatus;
use latchkey::{SessionEvent, SessionStatus, UnlockMethod};
use serde::{Deserialize, Serialize};

/// An account's name. A single-account app never names one: every call defaults to
/// [`AccountId::DEFAULT`]. (Several accounts side by side are a later addition; the API already
/// takes the name.)
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    /// The account a single-account app uses.
    pub const DEFAULT: &'static str = "default";

    /// The account named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// Its name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `name`, or the default account when none is given (what commands receive from script).
    pub fn or_default(name: Option<String>) -> Self {
        name.map_or_else(Self::default, Self)
    }
}

impl Default for AccountId {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything a UI renders about one account. Holds no token.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The account this is.
    pub account: AccountId,
    /// False until the settings name an issuer and a client.
    pub configured: bool,
    /// Why the settings are not usable, if they aren't.
    pub config_error: Option<String>,
    /// The session, when configured.
    pub session: Option<SessionStatus>,
    /// How this platform unlocks the vault.
    pub unlock_method: UnlockMethod,
    /// The word for it in the UI ("PIN", "Touch ID", "fingerprint").
    pub unlock_label: &'static str,
    /// Whether an `api_url` is configured (for a host command that calls it).
    pub has_api: bool,
    /// What biometric unlock can do now (`not_offered` where the platform has none).
    pub biometric: BiometricStatus,
    /// The word for the biometric unlock ("fingerprint"), where there is one.
    pub biometric_label: Option<&'static str>,
}

/// What a `subscribe` channel carries: the new status after every change, and the session's
/// events (a refresh, a rotation, a failure) for a timeline. Events are not state.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Push {
    /// The account's status, whole.
    Status(Box<Status>),
    /// Something that happened.
    Event(SessionEvent),
}

/// `fetch`'s options from script, a subset of the web's `RequestInit`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FetchInit {
    /// The method: GET, HEAD, POST, PUT, PATCH or DELETE (absent means GET).
    pub method: Option<String>,
    /// Request headers: only `content-type` may be set (the token, the proof and everything
    /// else are Rust's to add); any other header is refused.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body, as text (not with GET or HEAD; at most 1 MiB).
    pub body: Option<String>,
}

/// An authorised request's answer, as script sees it.
#[derive(Debug, Clone, Serialize)]
pub struct FetchResponse {
    /// The HTTP status.
    pub status: u16,
    /// `status` is 2xx.
    pub ok: bool,
    /// The response headers script may see (today `content-type`, when present).
    pub headers: BTreeMap<String, String>,
    /// The body as text (UTF-8, invalid bytes replaced).
    pub body: String,
}

/// An authorised request's answer, for the host's Rust.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body (within the configured size cap).
    pub body: Vec<u8>,
}

impl From<latchkey::ApiResponse> for Response {
    fn from(r: latchkey::ApiResponse) -> Self {
        Self {
            status: r.status,
            content_type: r.content_type,
            body: r.body,
        }
    }
}

impl From<Response> for FetchResponse {
    fn from(r: Response) -> Self {
        let mut headers = BTreeMap::new();
        if let Some(ct) = r.content_type {
            headers.insert("content-type".to_owned(), ct);
        }
        Self {
            status: r.status,
            ok: (200..300).contains(&r.status),
            headers,
            body: String::from_utf8_lossy(&r.body).into_owned(),
        }
    }
}
