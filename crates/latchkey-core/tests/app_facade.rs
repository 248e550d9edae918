//! The facade front ends hold: cancel during sign-in, and a failed sign-in leaving the previous
//! vault alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{mpsc, Arc, Mutex};

use latchkey_core::vault::{KdfParams, MIN_PIN_LEN};
use latchkey_core::{
    Credential, Error, Latchkey, PartialConfig, PinProtector, SessionState, UserAgent,
    UserAgentError,
};
use serde_json::json;
use wiremock::MockServer;

/// A browser that the user never finishes: it only reports the loopback port it would return to.
struct Abandoned(Mutex<mpsc::Sender<u16>>);

impl UserAgent for Abandoned {
    fn open(&self, url: &url::Url) -> Result<(), UserAgentError> {
        let redirect = url
            .query_pairs()
            .find(|(k, _)| k == "redirect_uri")
            .map(|(_, v)| url::Url::parse(&v).unwrap())
            .unwrap();
        self.0
            .lock()
            .unwrap()
            .send(redirect.port().unwrap())
            .unwrap();
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_while_the_browser_is_open_ends_the_sign_in_and_closes_the_listener() {
    let server = MockServer::start().await;
    let issuer = server.uri();
    latchkey_testkit::mount_discovery(&server, json!({})).await;
    let config = PartialConfig {
        issuer: Some(issuer.clone()),
        client_id: Some("app".into()),
        scopes: Some(vec!["profile".into()]),
        ..Default::default()
    }
    .finish()
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let latchkey = Arc::new(
        Latchkey::open(
            config,
            dir.path(),
            Arc::new(PinProtector::with_params(KdfParams::OWASP_MINIMUM)),
        )
        .unwrap(),
    );
    let (opened_tx, opened_rx) = mpsc::channel();
    let browser = Abandoned(Mutex::new(opened_tx));
    let pin = Credential::Pin("c".repeat(MIN_PIN_LEN).into());

    let signing_in = {
        let latchkey = latchkey.clone();
        tokio::spawn(async move { latchkey.sign_in(pin, &browser).await })
    };
    let port = tokio::task::spawn_blocking(move || opened_rx.recv().unwrap())
        .await
        .unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "listening while the browser is open"
    );
    latchkey.cancel_sign_in();
    let err = signing_in.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    assert_eq!(latchkey.status().state, SessionState::SignedOut);
    assert!(latchkey.vault().is_locked(), "the staged key is forgotten");
    assert!(!latchkey.vault().is_initialized(), "nothing was written");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the loopback listener is closed"
    );
}
