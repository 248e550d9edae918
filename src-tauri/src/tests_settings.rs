//! The WebView is untrusted: script in it (an XSS, a compromised UI dependency) can call every
//! command. It must not be able to send the access token to a server of its choosing, or swap the
//! provider, while a session exists. Against the real dev IdP on Tauri's mock runtime.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_testkit::{browser_command, DevIdp};
use serde_json::json;

use crate::tests::{invoke, mock_app, ENV};

const PIN: &str = "settings-pin-1357";

#[test]
fn the_webview_cannot_redirect_the_access_token_or_swap_the_provider_while_a_session_exists() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let idp = DevIdp::start(&[]);
    // The attacker's server: anything that connects to it would be the token leaving.
    let attacker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    attacker.set_nonblocking(true).unwrap();
    let attacker_url = format!("http://{}/steal", attacker.local_addr().unwrap());

    let data = tempfile::tempdir().unwrap();
    std::env::set_var("BROWSER", browser_command("alice", "login"));
    // Another test's login-driver record (a deleted directory by now) must not leak in.
    std::env::remove_var("LATCHKEY_DRIVER_RECORD");
    let (_app, webview) = mock_app(data.path());
    let settings = |api: &str, issuer: &str| {
        json!({ "settings": {
            "issuer": issuer, "client_id": "latchkey-native",
            "params": { "prompt": "consent" }, "api_url": api
        } })
    };
    invoke(&webview, "save_settings", settings(&idp.api, &idp.issuer)).unwrap();
    invoke(&webview, "plugin:latchkey|sign_in", json!({ "pin": PIN })).unwrap();
    let view = invoke(&webview, "plugin:latchkey|status", json!({})).unwrap();
    assert_eq!(view["session"]["state"], "signed_in", "{view}");
    let stored = std::fs::read_to_string(data.path().join("settings.toml")).unwrap();

    // Signed in: the script tries to point "Call API" at its server, then to swap the issuer.
    for attempt in [
        settings(&attacker_url, &idp.issuer),
        settings(&idp.api, "https://phish.example"),
    ] {
        let err = invoke(&webview, "save_settings", attempt).unwrap_err();
        assert_eq!(err["kind"], "wrong_state", "{err}");
    }
    // Locked (the next launch, before the user unlocks): the same.
    invoke(&webview, "plugin:latchkey|lock", json!({})).unwrap();
    let err = invoke(
        &webview,
        "save_settings",
        settings(&attacker_url, &idp.issuer),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "wrong_state", "{err}");
    assert_eq!(
        std::fs::read_to_string(data.path().join("settings.toml")).unwrap(),
        stored,
        "the settings on disk are unchanged"
    );

    // The script's authorised fetch reaches only origins the app allowed in Rust (none here):
    // the attacker's URL is refused before anything is sent.
    let err = invoke(
        &webview,
        "plugin:latchkey|fetch",
        json!({ "url": attacker_url }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "origin_not_allowed", "{err}");

    // The user unlocks and calls the API: the token goes to the configured API, nowhere else.
    invoke(&webview, "plugin:latchkey|unlock", json!({ "pin": PIN })).unwrap();
    assert_eq!(
        invoke(&webview, "call_api", json!({})).unwrap()["status"],
        200
    );
    assert!(
        matches!(attacker.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "nothing reached the attacker's server"
    );

    // Signed out, settings are the user's to change.
    invoke(&webview, "plugin:latchkey|sign_out", json!({})).unwrap();
    invoke(&webview, "save_settings", settings(&idp.api, &idp.issuer)).unwrap();
    let view = invoke(&webview, "plugin:latchkey|status", json!({})).unwrap();
    assert_eq!(view["configured"], true, "{view}");
}
