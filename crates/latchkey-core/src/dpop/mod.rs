//! DPoP (RFC 9449): sender-constrained tokens. A refresh token (and each access token) the
//! server binds to a key pair the app holds is useless without a fresh proof signed by that key.
//!
//! # The key
//! - **Created at sign-in**, one per session, and stored *with* the session in the
//!   [`crate::store::SecretStore`] (the vault): the same unlock that releases the refresh token
//!   releases the key; sign-out clears the store and with it the key. Nothing else persists it.
//! - **ES256** (P-256 ECDSA) first, chosen from the provider's
//!   `dpop_signing_alg_values_supported`: it is what nearly every provider accepts, and what
//!   Secure Enclave and Android Keystore can hold, so a hardware key can replace the software one
//!   without the provider noticing. **EdDSA** (Ed25519: smaller, faster signatures, and what
//!   Stronghold can hold) when the provider offers it and not ES256. A provider that offers
//!   neither gets no DPoP under `dpop = "auto"` and an error under `"required"`.
//! - **Behind a trait** ([`DpopSigner`]): the software key ([`DpopKey::generate`]) is the only
//!   implementation here. A non-exportable hardware key (Secure Enclave / Android Keystore
//!   P-256, an Ed25519 key held inside Stronghold) implements the same trait and returns `None`
//!   from [`DpopSigner::export`]; the stored session would then carry a key handle instead of the
//!   private scalar. Designed, not built or verified here.
//! - **Never shown**: `Debug` prints the algorithm and thumbprint only; the private scalar is
//!   zeroized when the key is dropped (p256's `SigningKey` zeroizes on drop, and the exported
//!   scalar is a zeroizing [`crate::secret::SecretString`]); the key never crosses IPC (no
//!   front-end type holds it) and never reaches a log.
//!
//! # Trade-off
//! A software key is exactly as safe as the refresh token next to it *at rest* (both sit in the
//! vault), so DPoP adds nothing against someone who can unlock the vault, or malware running in
//! the process while it is unlocked: such code can sign proofs. What it adds: a refresh token
//! copied out of a log, a proxy, a backup of the server's database, or any place the key isn't,
//! can't be used. A hardware key would also stop copying the key itself.
//!
//! # Proofs
//! `typ: dpop+jwt`, the public `jwk` in the header, a random 128-bit `jti`, `htm`, `htu` (the
//! request URL without query and fragment, RFC 9449 §4.2), `iat`, `ath` (base64url SHA-256 of
//! the access token) on resource requests, and the server's `nonce` once it has sent one.
//!
//! # `iat` and the server's clock
//! `iat` is this machine's time corrected by the receiving server's clock offset, which
//! [`ServerClocks`] learns per origin from the `Date` header of every response to a proof
//! (bounded to a day either way; a missing or garbled `Date` teaches nothing; in memory only;
//! see its module for why). Until an origin has answered once, `iat` is local time. A server
//! that still finds `iat` too far off answers `use_dpop_nonce` (RFC 9449 §8), which the nonce
//! retry handles, and whose `Date` dates the retry. A server lying about its time can only make
//! its own proofs fail. Access-token expiry doesn't use the offset: it counts the relative
//! `expires_in` on this machine's clock.
//!
//! # Nonces
//! [`NonceCache`] remembers the latest `DPoP-Nonce` per endpoint (see its module for why not
//! per origin). A `use_dpop_nonce` challenge
//! (400 from the token endpoint, 401 `WWW-Authenticate: DPoP error="use_dpop_nonce"` from a
//! resource server) is answered with exactly one retry; a second challenge in a row is
//! [`DpopError::NonceDemandedAgain`], never a loop.

mod clock;
mod key;
mod nonce;
mod proof;

pub use clock::{DateSample, ServerClocks, MAX_OFFSET_SECS, NOISE_SECS};
pub use key::{DpopKey, DpopKeyMaterial, DpopSigner};
pub use nonce::{is_nonce_challenge, NonceCache};
pub use proof::{ath, htu, Proof};

/// What a request that carried a proof learns from its answer: the server's time (its `Date`,
/// for the next proof's `iat`) and its next nonce. True when the answer brought a nonce other
/// than the one just sent, i.e. a retry with it can succeed.
pub(crate) fn learn_from(
    nonces: &NonceCache,
    clocks: &ServerClocks,
    url: &url::Url,
    sent_nonce: Option<&str>,
    sent_at: std::time::SystemTime,
    response: &crate::http::BodyResponse,
) -> bool {
    clocks.observe(
        url,
        response.date.as_deref(),
        sent_at,
        std::time::SystemTime::now(),
    );
    response
        .dpop_nonce
        .as_deref()
        .is_some_and(|n| sent_nonce != Some(n) && nonces.remember(url, n))
}

/// What went wrong with DPoP. Each names the situation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// `dpop = "required"`, but the provider's metadata advertises no DPoP algorithm this client
    /// implements (ES256, EdDSA).
    #[error("DPoP is required by the configuration, but the provider offers neither ES256 nor EdDSA DPoP proofs (it offers: {offered})")]
    NotOffered {
        /// What `dpop_signing_alg_values_supported` listed ("none" when absent).
        offered: String,
    },
    /// The server answered `use_dpop_nonce` again to a proof carrying the nonce it had just
    /// given: one retry was made, there is no second.
    #[error("the {endpoint} kept demanding a new DPoP nonce after one retry")]
    NonceDemandedAgain {
        /// Where.
        endpoint: crate::error::detail::Endpoint,
    },
    /// The server rejected the proof (`invalid_dpop_proof`). The refresh token was not refused,
    /// so the session is kept.
    #[error("the {endpoint} rejected the DPoP proof{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    ProofRejected {
        /// Where.
        endpoint: crate::error::detail::Endpoint,
        /// The server's `error_description`.
        description: Option<String>,
    },
    /// A proof was sent and the server issued a Bearer token, or none was sent and it issued a
    /// DPoP token: the token is not bound the way this session expects, and is not used.
    #[error("asked for a {asked} token, the server issued token_type {issued:?}")]
    TokenTypeMismatch {
        /// "DPoP" or "Bearer".
        asked: &'static str,
        /// What the server said.
        issued: String,
    },
    /// The stored key could not be read back (a corrupt or foreign vault record).
    #[error("the stored DPoP key is unusable: {0}")]
    BadStoredKey(&'static str),
    /// The key could not be generated or could not sign.
    #[error("the DPoP key could not {0}")]
    Key(&'static str),
}
