//! The app's own commands, beside the plugin's: the settings screen (through the plugin's Rust
//! API, which refuses a change while a session exists), the first-run probe for the bundled dev
//! IdP, and "Call API" (the configured `api_url`, called in Rust with the plugin's authorised
//! GET; only the status and body cross IPC).

use serde::Serialize;
use tauri::{AppHandle, Runtime};
use tauri_plugin_latchkey::{Error, ErrorKind, LatchkeyExt, PartialConfig};

/// The result of an API call, as shown in the UI.
#[derive(Debug, Serialize)]
pub struct ApiResult {
    /// The HTTP status.
    pub status: u16,
    /// The body: JSON when it parses, else text.
    pub body: serde_json::Value,
}

/// The bundled dev IdP's issuer when one runs on this machine at its default port (the first-run
/// screen offers it filled in); nothing secret, and only that loopback port is asked.
#[tauri::command]
pub async fn find_dev_idp() -> Result<Option<String>, Error> {
    Ok(tauri_plugin_latchkey::engine::verbs::find_dev_idp(
        tauri_plugin_latchkey::engine::verbs::DEV_IDP_PORT,
    )
    .await)
}

/// The stored settings (no secrets: a public client has none).
#[tauri::command]
pub async fn get_settings<R: Runtime>(app: AppHandle<R>) -> Result<PartialConfig, Error> {
    app.latchkey().settings()
}

/// Validates, stores and applies new settings; refused while a session exists (signed in or
/// locked): new settings would send its tokens elsewhere or swap its provider.
#[tauri::command]
pub async fn save_settings<R: Runtime>(
    app: AppHandle<R>,
    settings: PartialConfig,
) -> Result<(), Error> {
    app.latchkey().reconfigure(settings).await
}

/// Calls the configured protected API (`api_url`) with a fresh access token.
#[tauri::command]
pub async fn call_api<R: Runtime>(app: AppHandle<R>) -> Result<ApiResult, Error> {
    let latchkey = app.latchkey();
    let url = latchkey.config().await?.api_url.ok_or_else(|| {
        Error::new(ErrorKind::Configuration, "api_url: no API is configured").with_field("api_url")
    })?;
    let response = latchkey.get(&url).await?;
    let body = serde_json::from_slice(&response.body).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&response.body).into_owned())
    });
    Ok(ApiResult {
        status: response.status,
        body,
    })
}
