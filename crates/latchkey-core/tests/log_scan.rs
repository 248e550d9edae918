//! A whole journey against the real dev IdP with logging at trace level: no token, code
//! companion (`state`, nonce, challenge), ID token or DPoP private key may appear in the log.
//!
//! This is the only test in its binary, with a process-wide subscriber: tracing caches per-callsite
//! interest globally, so a thread-local subscriber in a binary whose other tests run in parallel
//! can miss events.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_core::{SecretStore, SignOutOptions};
use latchkey_testkit::{login_driver, DevIdp, LogCapture, Recorder};

#[tokio::test]
async fn a_whole_journey_logged_at_trace_level_never_logs_a_secret() {
    let capture = LogCapture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let idp = DevIdp::start(&[]);
    // PAR off: the scan needs the request's state, nonce and challenge from the browser's URL
    // (a pushed request keeps them out of it).
    let mut config = idp.config();
    config.par = latchkey_core::config::ParPolicy::Off;
    let (session, store) = idp.session_with(config);
    // Records the authorization URL on its way to the real driver.
    let browser = Recorder::wrapping(login_driver("alice"));
    session.sign_in(&browser).await.unwrap();
    let param = |k: &str| browser.param(k).unwrap();
    let mut secrets = vec![param("state"), param("nonce"), param("code_challenge")];
    let first = store.load().unwrap().unwrap();
    secrets.push(first.refresh_token.secret().clone());
    secrets.push(first.id_token.as_ref().unwrap().expose().to_owned());
    // The DPoP private key, as stored (base64url) and as hex.
    let dpop = first.dpop_key.as_ref().expect("the session is DPoP-bound");
    secrets.push(dpop.d.expose().to_owned());
    secrets.push(
        base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            dpop.d.expose(),
        )
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect(),
    );
    secrets.push(session.fresh_access_token().await.unwrap().secret().clone());
    session.refresh().await.unwrap();
    secrets.push(
        store
            .load()
            .unwrap()
            .unwrap()
            .refresh_token
            .secret()
            .clone(),
    );
    secrets.push(session.fresh_access_token().await.unwrap().secret().clone());
    session.get(&idp.api.parse().unwrap()).await.unwrap();
    session.sign_out(SignOutOptions::default()).await.unwrap();

    let log = capture.text();
    assert!(
        log.contains("access token refreshed"),
        "the capture works: {log}"
    );
    assert!(
        log.contains("refreshing the access token"),
        "debug-level events are captured too"
    );
    for secret in &secrets {
        assert!(secret.len() >= 16);
        assert!(
            !log.contains(secret.as_str()),
            "a secret appeared in the log"
        );
    }
}
