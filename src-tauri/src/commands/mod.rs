//! The commands the WebView may call. Each is one call into latchkey-core plus error mapping, and
//! returns only its own result: the state it changes reaches the UI as a pushed view
//! (`events.rs`). None returns a token, key, verifier or `state`. API calls are made here, in
//! Rust, and only their result crosses IPC.

use latchkey_core::app::BiometricChange;
use latchkey_core::vault::{BiometricStatus, Keep};
use latchkey_core::{Credential, PartialConfig, SignOutReport};
use serde::Serialize;
use tauri::{AppHandle, Runtime, State};
use zeroize::Zeroizing;

use crate::error::IpcError;
use crate::state::{AppState, AppView};

/// The result of an API call, as shown in the UI.
#[derive(Debug, Serialize)]
pub struct ApiResult {
    /// The HTTP status.
    pub status: u16,
    /// The body: JSON when it parses, else text.
    pub body: serde_json::Value,
}

/// The current view.
#[tauri::command]
pub async fn app_view(state: State<'_, AppState>) -> Result<AppView, IpcError> {
    Ok(state.view().await)
}

/// Signs in through the system browser. `pin` wraps the new vault key (PIN platforms); biometric
/// platforms pass none and prompt. `biometric`: also set up the platform's biometric unlock,
/// the PIN staying the fallback.
#[tauri::command]
pub async fn sign_in<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    pin: Option<String>,
    biometric: Option<bool>,
) -> Result<(), IpcError> {
    let latchkey = state.latchkey().await?;
    latchkey
        .sign_in_choosing(
            credential(pin),
            biometric.unwrap_or(false).then_some(Keep::ThisRun),
            crate::platform::user_agent(&app).as_ref(),
            crate::platform::redirect(&app)?,
        )
        .await?;
    Ok(())
}

/// Cancels a sign-in waiting for the browser.
#[tauri::command]
pub async fn cancel_sign_in(state: State<'_, AppState>) -> Result<(), IpcError> {
    state.latchkey().await?.cancel_sign_in();
    Ok(())
}

/// Unlocks and resumes silently (one refresh, no browser).
#[tauri::command]
pub async fn unlock(state: State<'_, AppState>, pin: Option<String>) -> Result<(), IpcError> {
    state.latchkey().await?.unlock(credential(pin)).await?;
    Ok(())
}

/// Ends a biometric prompt in progress ("use PIN instead"): that unlock fails as cancelled.
#[tauri::command]
pub async fn cancel_unlock(state: State<'_, AppState>) -> Result<(), IpcError> {
    state.latchkey().await?.vault().cancel_biometric_prompt();
    Ok(())
}

/// Turns biometric unlock on or off. On needs the user's PIN (`pin`, checked in Rust by
/// releasing the PIN wrap; a wrong one counts) and then the platform's own check (a matching
/// finger on Linux); `keep_across_restarts` (Linux) keeps the key in the login keyring, which any
/// program the user runs can read, instead of this process's memory. Off needs the session
/// unlocked. A bare call from script changes nothing.
#[tauri::command]
pub async fn set_biometric(
    state: State<'_, AppState>,
    enabled: bool,
    pin: Option<String>,
    keep_across_restarts: Option<bool>,
) -> Result<BiometricStatus, IpcError> {
    let change = if enabled {
        BiometricChange::On {
            proof: credential(pin),
            keep: if keep_across_restarts.unwrap_or(false) {
                Keep::AcrossRestarts
            } else {
                Keep::ThisRun
            },
        }
    } else {
        BiometricChange::Off
    };
    Ok(state.latchkey().await?.set_biometric(change).await?)
}

/// Locks: tokens and key forgotten.
#[tauri::command]
pub async fn lock(state: State<'_, AppState>) -> Result<(), IpcError> {
    state.latchkey().await?.lock().await;
    Ok(())
}

/// Calls the configured protected API.
#[tauri::command]
pub async fn call_api(state: State<'_, AppState>) -> Result<ApiResult, IpcError> {
    let response = state.latchkey().await?.call_api().await?;
    let body = serde_json::from_slice(&response.body).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&response.body).into_owned())
    });
    Ok(ApiResult {
        status: response.status,
        body,
    })
}

/// The userinfo claims.
#[tauri::command]
pub async fn userinfo(state: State<'_, AppState>) -> Result<serde_json::Value, IpcError> {
    Ok(state.latchkey().await?.userinfo().await?)
}

/// Signs out: revoke, erase the vault and its key; with `everywhere`, also open the server's
/// end-session page in the browser, so the next sign-in doesn't reuse the browser's session.
#[tauri::command]
pub async fn sign_out<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    everywhere: Option<bool>,
) -> Result<SignOutReport, IpcError> {
    let browser = everywhere
        .unwrap_or(false)
        .then(|| crate::platform::user_agent(&app));
    let latchkey = state.latchkey().await?;
    Ok(latchkey.sign_out_with(browser.as_deref()).await?)
}

/// The bundled dev IdP's issuer when one runs on this machine at its default port (the first-run
/// screen offers it filled in); nothing secret, and only that loopback port is asked.
#[tauri::command]
pub async fn find_dev_idp() -> Result<Option<String>, IpcError> {
    Ok(latchkey_core::app::verbs::find_dev_idp(latchkey_core::app::verbs::DEV_IDP_PORT).await)
}

/// The stored settings (no secrets: a public client has none).
#[tauri::command]
pub async fn get_settings(state: State<'_, AppState>) -> Result<PartialConfig, IpcError> {
    state.settings()
}

/// Validates, stores and applies new settings.
#[tauri::command]
pub async fn save_settings<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    settings: PartialConfig,
) -> Result<(), IpcError> {
    let latchkey = state.replace_settings(settings).await?;
    crate::start(&app, latchkey).await?;
    Ok(())
}

fn credential(pin: Option<String>) -> Credential {
    match pin {
        Some(pin) => Credential::Pin(Zeroizing::new(pin)),
        None => Credential::Prompt(crate::platform::PROMPT_REASON.to_owned()),
    }
}
