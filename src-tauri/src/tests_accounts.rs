//! Two accounts through the app's IPC (the plugin's commands as the WebView calls them), against
//! the real dev IdP: alice in the default account, bob added beside her with the app's provider,
//! each call answered as its own user, the list with no token, the host's Rust reaching either by
//! name, signing out alice leaving bob working, and what script may not do (name a provider the
//! app doesn't offer, take a name in use, reach an account that doesn't exist).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_testkit::{browser_command, DevIdp};
use serde_json::json;
use tauri_plugin_latchkey::LatchkeyExt;

use crate::tests::{invoke, mock_app, ENV};

const PIN: &str = "accounts-pin-8642";

#[test]
fn alice_and_bob_side_by_side_through_ipc_and_signing_out_alice_leaves_bob_working() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let idp = DevIdp::start(&[]);
    let data = tempfile::tempdir().unwrap();
    let (app, webview) = mock_app(data.path());
    let call = |cmd: &str, args: serde_json::Value| invoke(&webview, cmd, args);

    call(
        "save_settings",
        json!({ "settings": {
            "issuer": idp.issuer, "client_id": "latchkey-native",
            "params": { "prompt": "consent" }, "api_url": idp.api
        } }),
    )
    .unwrap();
    std::env::set_var("BROWSER", browser_command("alice", "login"));
    call("plugin:latchkey|sign_in", json!({ "pin": PIN })).unwrap();

    // Bob added with the app's provider, his own PIN (the same digits: his own key).
    let added = call("plugin:latchkey|add_account", json!({ "name": "bob" })).unwrap();
    assert_eq!(added["account"], "bob");
    assert_eq!(added["session"]["state"], "signed_out", "{added}");
    std::env::set_var("BROWSER", browser_command("bob", "login"));
    call(
        "plugin:latchkey|sign_in",
        json!({ "account": "bob", "pin": PIN }),
    )
    .unwrap();

    assert_eq!(
        call("plugin:latchkey|userinfo", json!({})).unwrap()["sub"],
        "alice"
    );
    assert_eq!(
        call("plugin:latchkey|userinfo", json!({ "account": "bob" })).unwrap()["sub"],
        "bob"
    );
    let listed = call("plugin:latchkey|accounts", json!({})).unwrap();
    let names: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["account"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["default", "bob"]);
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["session"]["state"] == "signed_in"));
    assert!(data
        .path()
        .join("accounts/bob/vault/vault.key.json")
        .exists());

    // The host's Rust, by name.
    let bob = app.latchkey().account("bob");
    let claims = tauri::async_runtime::block_on(bob.userinfo()).unwrap();
    assert_eq!(claims["sub"], "bob");

    // What script may not do.
    let err = call(
        "plugin:latchkey|add_account",
        json!({ "name": "bob", "provider": null }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "wrong_state", "{err}");
    let err = call(
        "plugin:latchkey|add_account",
        json!({ "name": "eve", "provider": "elsewhere" }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "configuration", "{err}");
    let err = call(
        "plugin:latchkey|add_account",
        json!({ "name": "../default" }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "configuration", "{err}");
    let err = call("plugin:latchkey|status", json!({ "account": "carol" })).unwrap_err();
    assert_eq!(err["kind"], "unknown_account", "{err}");

    // Signing out alice: bob keeps working, with no prompt.
    call("plugin:latchkey|sign_out", json!({})).unwrap();
    assert_eq!(
        call("plugin:latchkey|status", json!({})).unwrap()["session"]["state"],
        "signed_out"
    );
    assert_eq!(
        call("plugin:latchkey|userinfo", json!({ "account": "bob" })).unwrap()["sub"],
        "bob"
    );
    // Signing out bob: gone from the list; the default account stays, at the first run.
    call("plugin:latchkey|sign_out", json!({ "account": "bob" })).unwrap();
    let listed = call("plugin:latchkey|accounts", json!({})).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["account"], "default");
    std::env::remove_var("BROWSER");
}
