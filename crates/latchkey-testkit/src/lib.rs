//! Test support for Latchkey. Panics on failure: it is for tests only.
//!
//! - [`dev_idp`]: the bundled dev IdP (`dev-idp/server.mjs`) as a child process on an ephemeral
//!   loopback port ([`DevIdp`]).
//! - [`browsers`]: the headless login driver (`dev-idp/login-driver.mjs`) as the `BROWSER`
//!   command or a phone's in-app tab, [`InstantApproval`] for fake servers, a [`Recorder`].
//! - [`fake_idp`]: a plain OAuth server on wiremock and sessions or facades signed in against it.
//! - [`stores`]: stores that fail or hold a save or the refresh lock.
//! - [`cli`]: the `latchkey` binary as a user's machine runs it.
//! - [`secrets`]: a scanner for every secret a journey issued ([`Secrets`]).
//! - [`log_capture`]: a writer that keeps what `tracing` logs ([`LogCapture`]).
//! - `fprint_rig` (Linux): fprintd with a virtual reader, polkit and a Secret Service on private
//!   buses.
//! - [`drip`]: a server whose answer drips one byte at a time ([`DripServer`]).
//! - [`held`]: an answer held until the test releases it, and calls proven to be waiting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

pub mod browsers;
pub mod cli;
pub mod contract;
pub mod dev_idp;
pub mod dpop;
pub mod drip;
pub mod fake_idp;
#[cfg(target_os = "linux")]
pub mod fprint_rig;
pub mod held;
pub mod log_capture;
pub mod secrets;
pub mod stores;

pub use browsers::{
    browser_command, form_encode, login_driver, login_driver_with, query_param, AppLinkDriver,
    InstantApproval, OpensNothing, Recorder,
};
pub use dev_idp::DevIdp;
pub use drip::DripServer;
pub use fake_idp::mount_discovery;
pub use log_capture::LogCapture;
pub use secrets::Secrets;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `callers` tasks asking `session` for a fresh access token at once; their answers (the token's
/// secret), in order.
pub async fn fresh_access_tokens_at_once(
    session: &latchkey::Session,
    callers: usize,
) -> Vec<latchkey::CoreResult<String>> {
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let s = session.clone();
            tokio::spawn(async move { s.fresh_access_token().await.map(|t| t.secret().clone()) })
        })
        .collect();
    let mut answers = Vec::with_capacity(callers);
    for task in tasks {
        answers.push(task.await.expect("a caller panicked"));
    }
    answers
}
