//! Step-up (RFC 9470) and PAR (RFC 9126) through the app's IPC, on Tauri's mock runtime against
//! the real dev IdP: script learns that a call needs "Confirm it's you" and triggers it, but
//! what is asked comes from the API's challenge held in Rust; and script can't turn PAR down.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_testkit::{browser_command, DevIdp};
use serde_json::json;

use crate::tests::{invoke, mock_app, ENV};

const PIN: &str = "step-up-pin-2468";

#[test]
fn script_triggers_the_step_up_the_api_asked_for_and_the_call_is_retried() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let idp = DevIdp::start(&[]);
    let data = tempfile::tempdir().unwrap();
    std::env::set_var("BROWSER", browser_command("alice", "login"));
    std::env::remove_var("LATCHKEY_DRIVER_RECORD");
    let (_app, webview) = mock_app(data.path());
    let step_up_api = format!("{}/api/step-up", idp.issuer);
    let settings = json!({ "settings": {
        "issuer": idp.issuer, "client_id": "latchkey-native", "api_url": step_up_api,
        "params": { "prompt": "consent" }
    } });
    invoke(&webview, "save_settings", settings).unwrap();
    invoke(&webview, "plugin:latchkey|sign_in", json!({ "pin": PIN })).unwrap();
    assert_eq!(
        invoke(&webview, "plugin:latchkey|pending_step_up", json!({})).unwrap(),
        serde_json::Value::Null
    );
    let err = invoke(&webview, "call_api", json!({})).unwrap_err();
    assert_eq!(err["kind"], "step_up_required", "{err}");
    let asked = invoke(&webview, "plugin:latchkey|pending_step_up", json!({})).unwrap();
    assert_eq!(asked["acr_values"], json!(["urn:latchkey:mfa"]), "{asked}");
    let view = invoke(&webview, "plugin:latchkey|status", json!({})).unwrap();
    assert_eq!(
        view["session"]["state"], "signed_in",
        "the session goes on: {view}"
    );

    let response = invoke(&webview, "plugin:latchkey|step_up", json!({})).unwrap();
    assert_eq!(response["status"], 200, "{response}");
    assert_eq!(idp.stats_blocking()["step_up_demands"], 1);
    let err = invoke(&webview, "plugin:latchkey|step_up", json!({})).unwrap_err();
    assert_eq!(
        err["kind"], "wrong_state",
        "nothing pending any more: {err}"
    );
}

#[test]
fn the_webview_can_raise_par_in_the_settings_it_saves_but_never_lower_it() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    std::env::remove_var("LATCHKEY_PAR");
    let data = tempfile::tempdir().unwrap();
    let (_app, webview) = mock_app(data.path());
    let settings = |par: Option<&str>| {
        let mut s = json!({ "issuer": "http://127.0.0.1:9", "client_id": "latchkey-native" });
        if let Some(par) = par {
            s["par"] = json!(par);
        }
        json!({ "settings": s })
    };
    invoke(&webview, "save_settings", settings(Some("required"))).unwrap();
    let stored = std::fs::read_to_string(data.path().join("settings.toml")).unwrap();
    for lower in [Some("off"), Some("auto"), None] {
        let err = invoke(&webview, "save_settings", settings(lower)).unwrap_err();
        assert_eq!(err["kind"], "configuration", "{lower:?}: {err}");
        assert_eq!(err["field"], "par", "{lower:?}: {err}");
    }
    assert_eq!(
        std::fs::read_to_string(data.path().join("settings.toml")).unwrap(),
        stored,
        "the settings on disk are unchanged"
    );
}
