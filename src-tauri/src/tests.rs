//! The app's wiring, on Tauri's mock runtime with the real context (so the real capabilities
//! and CSP apply): the plugin's commands and the app's answer through IPC, errors cross as
//! `{kind, message}`, statuses carry no token, and the WebView is refused the other plugins' JS
//! APIs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, INVOKE_KEY};
use tauri::webview::InvokeRequest;

/// Tests that set process environment (`LATCHKEY_*`, `BROWSER`) hold this while they run.
pub(crate) static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The app on the mock runtime with its data in `data` and no `LATCHKEY_*` settings from the
/// environment, its plugins set up (at build), with its main window. Hold [`ENV`].
pub(crate) fn mock_app(
    data: &std::path::Path,
) -> (
    tauri::App<tauri::test::MockRuntime>,
    tauri::WebviewWindow<tauri::test::MockRuntime>,
) {
    std::env::set_var("LATCHKEY_DATA_DIR", data);
    for var in ["LATCHKEY_ISSUER", "LATCHKEY_CLIENT_ID", "LATCHKEY_API_URL"] {
        std::env::remove_var(var);
    }
    let app = crate::build(mock_builder())
        .build(tauri::generate_context!())
        .unwrap();
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, webview)
}

pub(crate) fn invoke(
    webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    args: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Value> {
    get_ipc_response(
        webview,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<serde_json::Value>().unwrap())
}

#[test]
fn the_app_answers_through_ipc_with_statuses_and_typed_errors_and_grants_no_other_plugin_api() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let data = tempfile::tempdir().unwrap();
    let (_app, webview) = mock_app(data.path());

    // Unconfigured: the view says so, and session commands fail with a typed error.
    let view = invoke(&webview, "plugin:latchkey|status", serde_json::json!({})).unwrap();
    assert_eq!(view["configured"], false);
    assert_eq!(view["unlock_label"], "PIN");
    let err = invoke(
        &webview,
        "plugin:latchkey|unlock",
        serde_json::json!({ "pin": "123456" }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "configuration", "{err}");
    assert!(err["message"].as_str().unwrap().contains("issuer"), "{err}");

    // Invalid settings are refused, naming the field, and not written.
    let err = invoke(
        &webview,
        "save_settings",
        serde_json::json!({ "settings": { "issuer": "http://idp.example.com", "client_id": "x" } }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "configuration");
    assert!(err["message"].as_str().unwrap().contains("issuer"), "{err}");
    assert_eq!(
        err["field"], "issuer",
        "the form shows it next to the issuer: {err}"
    );
    assert!(!data.path().join("settings.toml").exists());
    for (settings, field) in [
        (serde_json::json!({ "client_id": "x" }), "issuer"),
        (
            serde_json::json!({ "issuer": "https://idp.example.com", "client_id": " " }),
            "client_id",
        ),
        (
            serde_json::json!({ "issuer": "https://idp.example.com", "client_id": "x", "scopes": ["a b"] }),
            "scopes",
        ),
        (
            serde_json::json!({ "issuer": "https://idp.example.com", "client_id": "x", "params": { "state": "s" } }),
            "params.state",
        ),
    ] {
        let err = invoke(
            &webview,
            "save_settings",
            serde_json::json!({ "settings": settings }),
        )
        .unwrap_err();
        assert_eq!(err["field"], field, "{err}");
        assert!(
            !err["message"].as_str().unwrap().contains("LATCHKEY_"),
            "{err}"
        );
        assert!(!err["message"].as_str().unwrap().contains("--"), "{err}");
    }

    // Valid settings are stored; the command returns nothing (the view is pushed); the view is
    // signed out (nothing stored yet) and token-free.
    let saved = invoke(
        &webview,
        "save_settings",
        serde_json::json!({ "settings": {
            "issuer": "https://idp.example.com", "client_id": "native-app",
            "api_url": "https://api.example.com/me"
        } }),
    )
    .unwrap();
    assert_eq!(
        saved,
        serde_json::Value::Null,
        "commands return only their result"
    );
    let view = invoke(&webview, "plugin:latchkey|status", serde_json::json!({})).unwrap();
    assert_eq!(view["configured"], true);
    assert_eq!(view["session"]["state"], "signed_out");
    assert_eq!(view["has_api"], true);
    let text = view.to_string();
    for forbidden in [
        "\"access_token\"",
        "\"refresh_token\"",
        "id_token",
        "verifier",
    ] {
        assert!(!text.contains(forbidden), "{forbidden} in {text}");
    }
    let settings = invoke(&webview, "get_settings", serde_json::json!({})).unwrap();
    assert_eq!(settings["client_id"], "native-app");

    // Calling the API without a session: not signed in, said as a kind.
    let err = invoke(&webview, "call_api", serde_json::json!({})).unwrap_err();
    assert_eq!(err["kind"], "not_signed_in", "{err}");
    assert_eq!(
        err["field"],
        serde_json::Value::Null,
        "not about a setting: {err}"
    );

    // A pushed-status subscription is a channel of this webview's (nothing is broadcast).
    invoke(
        &webview,
        "plugin:latchkey|subscribe",
        serde_json::json!({ "channel": "__CHANNEL__:7" }),
    )
    .unwrap();
    // An account that doesn't exist is named as such.
    let err = invoke(
        &webview,
        "plugin:latchkey|status",
        serde_json::json!({ "account": "work" }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "unknown_account", "{err}");

    // It can't listen to events (the deep-link plugin's broadcast of redirect URLs among them).
    let err = invoke(
        &webview,
        "plugin:event|listen",
        serde_json::json!({ "event": "deep-link://new-url", "target": { "kind": "Any" }, "handler": 1 }),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not allowed"), "{err}");

    // The WebView can reach none of the other plugins' JS APIs (the opener, biometric and
    // deep-link plugins are used from Rust only).
    for plugin_cmd in [
        "plugin:biometric|status",
        "plugin:opener|open_url",
        "plugin:deep-link|get_current",
    ] {
        assert!(
            invoke(&webview, plugin_cmd, serde_json::json!({})).is_err(),
            "{plugin_cmd} answered"
        );
    }
}

#[test]
fn the_capability_file_grants_the_plugins_default_its_biometric_toggle_adding_an_account_and_the_apps_commands(
) {
    let text = include_str!("../capabilities/default.json");
    let capability: serde_json::Value = serde_json::from_str(text).unwrap();
    let permissions: Vec<&str> = capability["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(permissions.contains(&"latchkey:default"), "{permissions:?}");
    for p in permissions {
        assert!(
            p == "latchkey:default"
                || p == "latchkey:allow-set-biometric"
                || p == "latchkey:allow-add-account"
                || [
                    "allow-get-settings",
                    "allow-save-settings",
                    "allow-find-dev-idp",
                    "allow-call-api"
                ]
                .contains(&p),
            "unexpected permission {p}"
        );
    }
}

/// The WebView's Content-Security-Policy, parsed into its directives: exactly these sources and
/// no others (an added `'unsafe-inline'`, `'unsafe-eval'`, host or `*` anywhere fails).
#[test]
fn the_content_security_policy_allows_only_the_apps_own_code_and_the_ipc() {
    let conf: serde_json::Value =
        serde_json::from_str(include_str!("../../tauri.conf.json")).unwrap();
    let csp = conf["app"]["security"]["csp"]
        .as_str()
        .expect("the CSP is one policy string");
    let mut directives = std::collections::BTreeMap::new();
    for directive in csp.split(';').map(str::trim).filter(|d| !d.is_empty()) {
        let mut words = directive.split_ascii_whitespace();
        let name = words.next().unwrap().to_ascii_lowercase();
        let sources: Vec<&str> = words.collect();
        assert!(
            directives.insert(name.clone(), sources).is_none(),
            "{name} appears twice (the browser would ignore the second)"
        );
    }
    let expected: std::collections::BTreeMap<String, Vec<&str>> = [
        ("default-src", vec!["'self'"]),
        ("script-src", vec!["'self'"]),
        ("style-src", vec!["'self'"]),
        ("img-src", vec!["'self'", "data:"]),
        ("connect-src", vec!["ipc:", "http://ipc.localhost"]),
        ("object-src", vec!["'none'"]),
        ("base-uri", vec!["'none'"]),
        ("form-action", vec!["'none'"]),
        ("frame-ancestors", vec!["'none'"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(directives, expected, "the CSP: {csp}");
}
