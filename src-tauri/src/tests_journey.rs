//! The whole journey through the app's IPC, against the real dev IdP, with logging at trace
//! level: settings → sign in (the login driver as the browser) → API call → userinfo → lock →
//! unlock (silent refresh) → API call → sign out. Every payload the WebView would receive (each
//! command's answer, each pushed event and view), every file under the app's data directory and
//! the trace log are scanned for every secret of the journey: each authorization code, access
//! token and refresh token the IdP issued (its own record), each `state`, nonce and PKCE verifier
//! the app used (the login driver's record; the verifier is found by its hash), the vault key,
//! the session's DPoP private key and the PIN. None may appear.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use latchkey_testkit::{browser_command, DevIdp, LogCapture, Secrets};
use serde_json::json;
use tauri_plugin_latchkey::engine::vault::KeyProtector;
use tauri_plugin_latchkey::engine::{Credential, PinProtector};
use tauri_plugin_latchkey::LatchkeyExt;

use crate::tests::{invoke, mock_app, ENV};

const PIN: &str = "journey-pin-8642";

#[test]
fn no_secret_reaches_the_webview_the_data_directory_or_the_trace_log_in_a_whole_journey() {
    let _env = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let log = LogCapture::default();
    // Global, at trace level: tracing caches per-callsite interest process-wide.
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(log.clone())
            .with_ansi(false)
            .finish(),
    );
    let records = tempfile::tempdir().unwrap();
    let (idp_record, driver_record) = (
        records.path().join("idp.jsonl"),
        records.path().join("driver.jsonl"),
    );
    let idp = DevIdp::start(&[("DEV_IDP_RECORD_SECRETS", idp_record.to_str().unwrap())]);
    let data = tempfile::tempdir().unwrap();
    std::env::set_var("LATCHKEY_DRIVER_RECORD", &driver_record);
    std::env::set_var("BROWSER", browser_command("alice", "login"));
    let (app, webview) = mock_app(data.path());
    // Everything the WebView would receive: what a subscription's channel carries (statuses and
    // events, as the plugin serializes them for script) and every command's answer.
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = received.clone();
    let channel = tauri::ipc::Channel::new(move |body| {
        if let tauri::ipc::InvokeResponseBody::Json(json) = body {
            sink.lock().unwrap().push(json);
        }
        Ok(())
    });
    tauri::async_runtime::block_on(app.latchkey().subscribe(channel)).unwrap();
    let call = |cmd: &str, args: serde_json::Value| {
        let answer = invoke(&webview, cmd, args);
        let text = match &answer {
            Ok(v) | Err(v) => v.to_string(),
        };
        received.lock().unwrap().push(text);
        answer
    };

    call(
        "save_settings",
        json!({ "settings": {
            "issuer": idp.issuer, "client_id": "latchkey-native",
            "params": { "prompt": "consent" }, "api_url": idp.api
        } }),
    )
    .unwrap();
    call("plugin:latchkey|sign_in", json!({ "pin": PIN })).unwrap();
    let view = call("plugin:latchkey|status", json!({})).unwrap();
    assert_eq!(view["session"]["state"], "signed_in", "{view}");
    let api = call("call_api", json!({})).unwrap();
    assert_eq!(api["status"], 200, "{api}");
    assert_eq!(
        call("plugin:latchkey|userinfo", json!({})).unwrap()["sub"],
        "alice"
    );
    call("plugin:latchkey|lock", json!({})).unwrap();
    assert_eq!(
        call("plugin:latchkey|status", json!({})).unwrap()["session"]["state"],
        "locked"
    );
    call("plugin:latchkey|unlock", json!({ "pin": PIN })).unwrap();
    let view = call("plugin:latchkey|status", json!({})).unwrap();
    assert_eq!(view["session"]["state"], "signed_in", "{view}");
    assert_eq!(view["session"]["key_bound"], true, "{view}");
    assert_eq!(call("call_api", json!({})).unwrap()["status"], 200);

    // The vault key, released the way the app does it (the PIN), before sign-out erases it.
    let key_file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.path().join("vault/vault.key.json")).unwrap())
            .unwrap();
    let key = PinProtector::default()
        .release(
            &key_file["wrapped"],
            &Credential::Pin(PIN.to_owned().into()),
        )
        .unwrap();
    // The session's DPoP private key, read from the vault with the same PIN.
    let vault = tauri_plugin_latchkey::engine::Vault::open(
        &data.path().join("vault"),
        Arc::new(PinProtector::default()),
    )
    .unwrap();
    vault
        .unlock(&Credential::Pin(PIN.to_owned().into()))
        .unwrap();
    let dpop_key = tauri_plugin_latchkey::engine::SecretStore::load(&vault)
        .unwrap()
        .unwrap()
        .dpop_key
        .clone()
        .expect("the session is DPoP-bound");
    drop(vault);
    let mut secrets = Secrets::from_records(&idp_record, &driver_record);
    secrets.add_key("vault_key", key.expose());
    secrets.add("pin", PIN);
    secrets.add_dpop_key(&dpop_key);
    let files_while_signed_in = secrets.found_in_dir(data.path());

    call("plugin:latchkey|sign_out", json!({})).unwrap();
    call("plugin:latchkey|status", json!({})).unwrap();
    // Secrets issued after the first read (none expected, but the record is the authority).
    let mut secrets_after = Secrets::from_records(&idp_record, &driver_record);
    secrets_after.add_key("vault_key", key.expose());
    secrets_after.add("pin", PIN);
    secrets_after.add_dpop_key(&dpop_key);

    // The scan knows what it is looking for: at least two of each token (sign-in + unlock's
    // refresh), one code, one state/nonce/verifier.
    for (kind, at_least) in [
        ("authorization_code", 1),
        ("access_token", 2),
        ("refresh_token", 2),
        ("state", 1),
        ("nonce", 1),
        ("code_verifier", 1),
        ("vault_key", 1),
        ("dpop_private_key", 1),
    ] {
        assert!(
            secrets_after.count(kind) >= at_least,
            "the records hold no {kind}: the scan would prove nothing"
        );
    }
    // The scanner finds what it should: a real access token, the key in base64.
    let record = std::fs::read_to_string(&idp_record).unwrap();
    let issued: serde_json::Value =
        serde_json::from_str(record.lines().find(|l| l.contains("access_token")).unwrap()).unwrap();
    let probe = format!("Bearer {}", issued["value"].as_str().unwrap());
    assert_eq!(secrets_after.found_in(probe.as_bytes()), ["access_token"]);
    let probe = json!({ "k": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key.expose()) });
    assert_eq!(
        secrets_after.found_in(probe.to_string().as_bytes()),
        ["vault_key"]
    );

    let received = received.lock().unwrap().join("\n");
    assert!(
        received.contains("signed_in") && received.contains("refreshed"),
        "IPC captured"
    );
    let log = log.text();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "trace log captured"
    );

    assert_eq!(
        secrets_after.found_in(received.as_bytes()),
        Vec::<String>::new(),
        "in IPC payloads"
    );
    assert_eq!(
        secrets_after.found_in(log.as_bytes()),
        Vec::<String>::new(),
        "in the trace log"
    );
    assert_eq!(
        files_while_signed_in,
        vec![],
        "in the data directory while signed in"
    );
    assert_eq!(
        secrets_after.found_in_dir(data.path()),
        vec![],
        "in the data directory after sign-out"
    );
}
