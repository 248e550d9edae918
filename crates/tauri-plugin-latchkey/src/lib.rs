//! Native OAuth 2.0 / OpenID Connect sign-in for Tauri 2: the system browser (loopback redirect
//! on desktop, an auth session or app link on mobile) with PKCE, ID-token checks, silent refresh
//! with rotation, DPoP, and a vault released by the user's biometric or PIN — with nothing secret
//! crossing to the WebView.
//!
//! ```no_run
//! tauri::Builder::default()
//!     .plugin(
//!         tauri_plugin_latchkey::Builder::new()
//!             .issuer("https://login.example.com")
//!             .client_id("my-native-app")
//!             .scopes(["openid", "profile", "offline_access"])
//!             .api_origin("https://api.example.com")
//!             .build(),
//!     );
//! ```
//!
//! The host's own Rust reaches the session through [`LatchkeyExt::latchkey`]; script through the
//! `tauri-plugin-latchkey-api` package and the permissions in `permissions/`. Modules: the
//! builder (`builder.rs`), the commands (`commands.rs`), the per-account state (`state.rs`), the
//! pushed status (`events.rs`), the host handle (`handle.rs`), the IPC shapes (`models.rs`) and
//! error (`error.rs`), and the platform wiring (`desktop.rs`, `mobile.rs`, `platform/`).

mod accounts;
mod builder;
mod commands;
#[cfg(desktop)]
mod desktop;
mod error;
mod events;
mod handle;
mod instance;
#[cfg(mobile)]
mod mobile;
mod models;
mod platform;
mod secret;
mod state;
mod subscribers;

use std::path::PathBuf;
use std::sync::Arc;

use latchkey::Latchkey as Facade;
use tauri::plugin::TauriPlugin;
use tauri::{AppHandle, Manager, RunEvent, Runtime, WindowEvent};

pub use builder::{Builder, Unlock, DEFAULT_IDLE_LOCK};
pub use error::{Error, ErrorKind, Result};
pub use handle::{Latchkey, LatchkeyExt};
pub use instance::InstanceError;
/// The engine the plugin holds (the `latchkey` facade, its session and vault types), for a host
/// app's own Rust that needs more than [`Latchkey`]: one dependency, one version.
pub use latchkey as engine;
pub use latchkey::PartialConfig;
pub use models::{AccountId, FetchResponse, Push, Response, Status};
/// The start-up check for the system WebView (on Windows, the WebView2 Runtime): call
/// [`require_webview_runtime`] before building the Tauri app.
pub use platform::webview_runtime::{
    require_webview_runtime, EXIT_WEBVIEW_MISSING, WEBVIEW2_DOWNLOAD,
};
pub use secret::AccessToken;

use state::{AccountState, Accounts};

/// The plugin's name: its commands are `plugin:latchkey|…`, its permissions `latchkey:…`.
pub const NAME: &str = "latchkey";

fn plugin<R: Runtime>(options: builder::Options) -> TauriPlugin<R> {
    tauri::plugin::Builder::new(NAME)
        .invoke_handler(tauri::generate_handler![
            commands::status,
            commands::subscribe,
            commands::sign_in,
            commands::cancel_sign_in,
            commands::unlock,
            commands::cancel_unlock,
            commands::set_biometric,
            commands::lock,
            commands::sign_out,
            commands::userinfo,
            commands::fetch,
            commands::accounts,
            commands::add_account,
            commands::pending_step_up,
            commands::step_up,
        ])
        .setup(move |app, _api| initialize(app, options))
        .on_page_load(|webview, payload| {
            // A page that (re)loads has lost the callbacks its old channels pointed to.
            if payload.event() == tauri::webview::PageLoadEvent::Started {
                if let Some(accounts) = webview.try_state::<Accounts>() {
                    for account in accounts.all() {
                        account.subscribers.drop_webview(webview.label());
                    }
                }
            }
        })
        .on_event(|app, event| match event {
            RunEvent::WindowEvent {
                label,
                event: WindowEvent::CloseRequested { api, .. },
                ..
            } => {
                // Lock on exit, when the last window closes: forget the key and tokens before
                // the process goes. Never on the main thread: locking waits for a refresh in
                // flight (its rotated token must reach the vault) and for the vault's
                // cross-process lock, which another process may hold (bounded, but long enough
                // to freeze the window). The window hides at once and closes when the lock is
                // done.
                let Some(window) = app.get_webview_window(label) else {
                    return;
                };
                if app.webview_windows().len() > 1 {
                    return;
                }
                api.prevent_close();
                let _ = window.hide();
                tauri::async_runtime::spawn(async move {
                    shutdown(window.app_handle()).await;
                    let _ = window.destroy();
                });
            }
            RunEvent::WindowEvent {
                event: WindowEvent::Focused(true),
                ..
            } => {
                // The user's own input, seen by the native side (script can't focus the window:
                // no window API is granted): the one thing besides sign-in and unlock that resets
                // the idle clock. API calls and userinfo never do.
                if let Some(accounts) = app.try_state::<Accounts>() {
                    for account in accounts.all() {
                        if let Some(latchkey) = account.latchkey_now() {
                            latchkey.user_present();
                        }
                    }
                }
            }
            #[cfg(mobile)]
            RunEvent::Resumed => platform::mobile_redirect::poll_current(app),
            _ => {}
        })
        .build()
}

/// The plugin's setup: the data directory, the instance lock, the accounts, and each account's
/// session started in the background.
fn initialize<R: Runtime>(
    app: &AppHandle<R>,
    options: builder::Options,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    if let Some(bad) = options.bad_origins.first() {
        return Err(format!("latchkey: {bad:?} is not an origin (scheme://host[:port])").into());
    }
    #[cfg(mobile)]
    platform::mobile_redirect::init(app)?;
    let base = data_dir(app, options.env)?;
    let protector = platform::protector(app);
    let biometric = match options.unlock {
        Unlock::PinOrBiometric => platform::biometric(app),
        Unlock::Pin => None,
    };
    let accounts = Accounts::open(base, Arc::new(options), protector, biometric)?;
    let all: Vec<Arc<AccountState>> = accounts.all();
    app.manage(accounts);
    for account in all {
        tauri::async_runtime::spawn(async move {
            if let Ok(latchkey) = account.latchkey().await {
                if let Err(e) = start(account, latchkey).await {
                    tracing::error!(message = %e.message, "could not start the session");
                }
            }
        });
    }
    Ok(())
}

/// Starts an account's facade: its status and events flow to subscribers, the stored session is
/// found, the background refresher and idle lock run.
pub(crate) async fn start(account: Arc<AccountState>, latchkey: Arc<Facade>) -> Result<()> {
    let forwarder = events::forward(account.clone(), latchkey.clone());
    account.keep_forwarder(forwarder);
    latchkey.start(account.idle_lock()).await?;
    events::emit_view(&account).await;
    Ok(())
}

/// Locks every account and stops its background tasks (the app is closing).
async fn shutdown<R: Runtime>(app: &AppHandle<R>) {
    let Some(accounts) = app.try_state::<Accounts>() else {
        return;
    };
    for account in accounts.all() {
        if let Ok(latchkey) = account.latchkey().await {
            latchkey.shutdown().await;
        }
    }
}

/// `LATCHKEY_DATA_DIR` (with the environment layer on: tests, portable installs) or the
/// platform's app-data directory.
fn data_dir<R: Runtime>(
    app: &AppHandle<R>,
    env: bool,
) -> std::result::Result<PathBuf, Box<dyn std::error::Error>> {
    match std::env::var_os("LATCHKEY_DATA_DIR") {
        Some(dir) if env => Ok(dir.into()),
        _ => Ok(app.path().app_data_dir()?),
    }
}

#[cfg(test)]
mod tests_contract;
