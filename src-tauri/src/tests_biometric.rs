//! Turning biometric unlock on or off from the WebView, as script would call it: a bare
//! `set_biometric` must not put the vault key anywhere (the login keyring, where any program of
//! the user reads it) nor change how a locked vault opens. Against the real dev IdP, fprintd with
//! libfprint's virtual reader and gnome-keyring (testkit's fingerprint rig), on Tauri's mock
//! runtime.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_testkit::fprint_rig::{self, FprintRig, GOOD};
use latchkey_testkit::{browser_command, DevIdp};
use serde_json::json;

use crate::tests::{invoke, mock_app, ENV};

const PIN: &str = "biometric-pin-2468";

#[test]
fn script_cannot_turn_fingerprint_unlock_on_or_off_without_the_users_pin_and_finger() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    assert!(
        fprint_rig::available(),
        "the fingerprint rig needs fprintd, python3-dbusmock, gnome-keyring (scripts/deps.sh)"
    );
    let rig = FprintRig::start();
    let idp = DevIdp::start(&[]);
    let data = tempfile::tempdir().unwrap();
    std::env::set_var("BROWSER", browser_command("alice", "login"));
    std::env::remove_var("LATCHKEY_DRIVER_RECORD");
    std::env::set_var("LATCHKEY_TEST_SYSTEM_BUS", rig.system_bus());
    std::env::set_var("LATCHKEY_TEST_SESSION_BUS", rig.session_bus());
    let (_app, webview) = mock_app(data.path());
    std::env::remove_var("LATCHKEY_TEST_SYSTEM_BUS");
    std::env::remove_var("LATCHKEY_TEST_SESSION_BUS");
    let settings = json!({ "settings": {
        "issuer": idp.issuer, "client_id": "latchkey-native",
        "params": { "prompt": "consent" }, "api_url": idp.api
    } });
    invoke(&webview, "save_settings", settings).unwrap();
    invoke(&webview, "plugin:latchkey|sign_in", json!({ "pin": PIN })).unwrap();
    let view = invoke(&webview, "plugin:latchkey|status", json!({})).unwrap();
    assert_eq!(view["session"]["state"], "signed_in", "{view}");
    assert_eq!(view["biometric"], "off", "{view}");

    // Signed in and unlocked, script asks to turn it on: without the PIN, with the keyring
    // opt-in, with a wrong PIN. Each is refused, and no program finds anything in the keyring.
    for args in [
        json!({ "enabled": true }),
        json!({ "enabled": true, "keepAcrossRestarts": true }),
        json!({ "enabled": true, "keepAcrossRestarts": true, "pin": "wrong-pin-0000" }),
    ] {
        let err = invoke(&webview, "plugin:latchkey|set_biometric", args.clone()).unwrap_err();
        assert_eq!(err["kind"], "locked", "{args} → {err}");
        assert!(
            rig.keyring_items_another_program_finds().is_empty(),
            "{args} put something in the keyring"
        );
    }
    let view = invoke(&webview, "plugin:latchkey|status", json!({})).unwrap();
    assert_eq!(view["biometric"], "off", "{view}");

    // The user turns it on: their PIN, then their finger on the reader. Held in the app's
    // memory: still nothing in the keyring.
    let on = std::thread::scope(|s| {
        s.spawn(|| rig.scan(GOOD));
        invoke(
            &webview,
            "plugin:latchkey|set_biometric",
            json!({ "enabled": true, "pin": PIN }),
        )
    })
    .unwrap();
    assert_eq!(on, "ready");
    assert!(rig.keyring_items_another_program_finds().is_empty());

    // Locked, script asks to turn it off (or on): refused, it stays on.
    invoke(&webview, "plugin:latchkey|lock", json!({})).unwrap();
    for args in [
        json!({ "enabled": false }),
        json!({ "enabled": true, "pin": PIN, "keepAcrossRestarts": true }),
    ] {
        let err = invoke(&webview, "plugin:latchkey|set_biometric", args.clone()).unwrap_err();
        assert_eq!(err["kind"], "locked", "{args} → {err}");
    }
    let view = invoke(&webview, "plugin:latchkey|status", json!({})).unwrap();
    assert_eq!(view["biometric"], "ready", "{view}");
    assert!(rig.keyring_items_another_program_finds().is_empty());

    // The finger unlocks; unlocked, turning it off works.
    std::thread::scope(|s| {
        s.spawn(|| rig.scan(GOOD));
        invoke(&webview, "plugin:latchkey|unlock", json!({}))
    })
    .unwrap();
    assert_eq!(
        invoke(
            &webview,
            "plugin:latchkey|set_biometric",
            json!({ "enabled": false })
        )
        .unwrap(),
        "off"
    );
    invoke(&webview, "plugin:latchkey|sign_out", json!({})).unwrap();
}
