//! The Latchkey app: wiring only. Commands (`commands/`) are one call into latchkey-core each;
//! state (`state.rs`), events (`events.rs`), the IPC error shape (`error.rs`) and platform code
//! (`platform/`) are separate. Nothing here makes a protocol or security decision.

mod commands;
mod error;
mod events;
mod instance;
mod platform;
mod state;

use std::path::PathBuf;
use std::sync::Arc;

use latchkey_core::Latchkey;
use tauri::{AppHandle, Manager, Runtime, WindowEvent};

use crate::error::IpcError;
use crate::state::{AppPaths, AppState, IDLE_LOCK};

/// The iOS/Android entry point. Tauri's macro emits the `start_app` C symbol (and Android's JNI
/// bindings) that the Xcode and Gradle projects call; it sits in a private module because that
/// symbol is the native projects' entry, not part of this crate's Rust API.
#[cfg(mobile)]
mod mobile_entry {
    #[tauri::mobile_entry_point]
    fn main() {
        super::run();
    }
}

/// Runs the app.
pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    if let Err(e) = build(tauri::Builder::default()).run(tauri::generate_context!()) {
        eprintln!("latchkey-app: {e}");
        std::process::exit(1);
    }
}

/// The app's builder, generic over the runtime so tests can use `tauri::test::mock_builder()`.
pub fn build<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    #[cfg(mobile)]
    let builder = platform::mobile_redirect::plugins(builder);
    builder
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_biometric::init())
        .invoke_handler(tauri::generate_handler![
            commands::app_view,
            commands::sign_in,
            commands::cancel_sign_in,
            commands::unlock,
            commands::cancel_unlock,
            commands::set_biometric,
            commands::lock,
            commands::call_api,
            commands::userinfo,
            commands::sign_out,
            commands::get_settings,
            commands::save_settings,
            commands::find_dev_idp,
        ])
        .setup(|app| initialize(app.handle()))
        .on_window_event(|window, event| {
            #[cfg(mobile)]
            if let WindowEvent::Resumed = event {
                platform::mobile_redirect::poll_current(window.app_handle());
            }
            if let WindowEvent::Focused(true) = event {
                // The user's own input, seen by the native side (script can't focus the window:
                // no window API is granted): the one thing besides sign-in and unlock that resets
                // the idle clock. API calls and userinfo never do.
                if let Some(state) = window.try_state::<AppState>() {
                    if let Some(latchkey) = state.latchkey_now() {
                        latchkey.user_present();
                    }
                }
            }
            if let WindowEvent::CloseRequested { api, .. } = event {
                // Lock on exit: forget the key and tokens before the process goes. Never on the
                // main thread: locking waits for a refresh in flight (its rotated token must
                // reach the vault) and for the vault's cross-process lock, which another process
                // may hold (bounded, but long enough to freeze the window). The window hides at
                // once and closes when the lock is done.
                api.prevent_close();
                let _ = window.hide();
                let window = window.clone();
                tauri::async_runtime::spawn(async move {
                    if let Some(state) = window.try_state::<AppState>() {
                        if let Ok(latchkey) = state.latchkey().await {
                            latchkey.shutdown().await;
                        }
                    }
                    let _ = window.destroy();
                });
            }
        })
}

/// Manages the app state and starts the session in the background (the body of `setup`).
pub(crate) fn initialize<R: Runtime>(app: &AppHandle<R>) -> Result<(), Box<dyn std::error::Error>> {
    #[cfg(mobile)]
    platform::mobile_redirect::init(app)?;
    let paths = app_paths(app)?;
    app.manage(instance::InstanceLock::claim(&paths.base)?);
    app.manage(
        AppState::new(paths, platform::protector(app)).with_biometric(platform::biometric(app)),
    );
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Ok(latchkey) = handle.state::<AppState>().latchkey().await {
            if let Err(e) = start(&handle, latchkey).await {
                tracing::error!(message = %e.message, "could not start the session");
            }
        }
    });
    Ok(())
}

/// Starts a Latchkey: its status and events flow to the UI, the stored session is found, the
/// background refresher and idle lock run.
pub(crate) async fn start<R: Runtime>(
    app: &AppHandle<R>,
    latchkey: Arc<Latchkey>,
) -> Result<(), IpcError> {
    let forwarder = events::forward(app.clone(), latchkey.clone());
    app.state::<AppState>().keep_forwarder(forwarder);
    latchkey.start(Some(IDLE_LOCK)).await?;
    events::emit_view(app).await;
    Ok(())
}

/// `LATCHKEY_DATA_DIR` (tests, portable installs) or the platform's app-data directory.
fn app_paths<R: Runtime>(app: &AppHandle<R>) -> Result<AppPaths, Box<dyn std::error::Error>> {
    let base: PathBuf = match std::env::var_os("LATCHKEY_DATA_DIR") {
        Some(dir) => dir.into(),
        None => app.path().app_data_dir()?,
    };
    Ok(AppPaths {
        settings: base.join("settings.toml"),
        base: base.clone(),
        vault: base.join("vault"),
    })
}

#[cfg(test)]
mod tests;
#[cfg(all(test, target_os = "linux"))]
mod tests_biometric;
#[cfg(test)]
mod tests_contract;
#[cfg(test)]
mod tests_journey;
#[cfg(test)]
mod tests_settings;
