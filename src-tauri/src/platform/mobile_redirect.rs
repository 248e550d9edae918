//! The mobile redirect, wired (iOS and Android; type-checked here for both, run only on a device).
//!
//! Every URL the OS hands to the app goes to one `AppLinkRouter` (latchkey-core), which passes it
//! to the sign-in waiting, if any; the sign-in judges it like a loopback request (exact redirect
//! URI, `state` first, RFC 9207 `iss`). The doors:
//! - the deep-link plugin's `on_open_url` while the app runs (Android: the Custom Tab's redirect
//!   arrives as a new intent);
//! - its `get_current()` at start (a cold start: the sign-in that link belonged to died with its
//!   process, so the router only counts it) and again on every resume — Android may not fire
//!   `onOpenUrl` for a second sign-in (plugins-workspace#2397), and the router drops a URL it has
//!   seen, so the poll can't replay an old answer;
//! - on iOS, the authentication session's completion handler (`auth_session_ios.rs`), which
//!   doesn't depend on the app being re-opened by URL at all (tao#1248 drops a cold-start URL).
//!
//! The redirect URI is a private-use scheme in reverse-domain form (RFC 8252 §7.1), the app's
//! identifier: `dev.latchkey.app:/callback`. It is declared in tauri.conf.json (the deep-link
//! plugin writes it into the generated Android manifest and iOS Info.plist) and in Info.ios.plist,
//! which Tauri merges into gen/apple's Info.plist each time, so a regenerated gen/apple keeps it
//! (plugins-workspace#3596). scripts/platform-checks.sh checks that the three agree.

use std::sync::Arc;

use latchkey_core::applink::AppLinkRouter;
use latchkey_core::Redirect;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::error::IpcError;

/// The redirect URI mobile sign-ins send; registered at the IdP for the app's client.
pub const MOBILE_REDIRECT_URI: &str = "dev.latchkey.app:/callback";

/// The app's router, managed state.
pub struct AppLinks(pub Arc<AppLinkRouter>);

/// Adds the plugins the mobile redirect needs.
pub fn plugins<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    let builder = builder.plugin(tauri_plugin_deep_link::init());
    #[cfg(target_os = "ios")]
    let builder = builder.plugin(tauri_plugin_oauth_session::init());
    builder
}

/// Sets up the router and feeds it from the deep-link plugin (part of `setup`).
///
/// # Errors
/// When the redirect URI is not one an app link can use (a build-time constant: never in practice).
pub fn init<R: Runtime>(app: &AppHandle<R>) -> Result<(), Box<dyn std::error::Error>> {
    let redirect_uri = url::Url::parse(MOBILE_REDIRECT_URI)?;
    let router = Arc::new(AppLinkRouter::new(redirect_uri)?);
    app.manage(AppLinks(router.clone()));
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            router.deliver(url);
        }
    });
    poll_current(app);
    Ok(())
}

/// On resume (and at start): the URL the app was last opened with, for the case where
/// `on_open_url` did not fire. A URL already seen is dropped by the router.
pub fn poll_current<R: Runtime>(app: &AppHandle<R>) {
    let Some(links) = app.try_state::<AppLinks>() else {
        return;
    };
    match app.deep_link().get_current() {
        Ok(Some(urls)) => {
            for url in urls {
                links.0.deliver(url);
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not read the current deep link"),
    }
}

/// The redirect for a new sign-in: from now on the router passes URLs to it.
///
/// # Errors
/// [`IpcError`] when the router was not set up (setup failed).
pub fn redirect<R: Runtime>(app: &AppHandle<R>) -> Result<Redirect, IpcError> {
    let links = app.try_state::<AppLinks>().ok_or_else(|| IpcError {
        kind: latchkey_core::ErrorKind::Internal,
        message: "the app-link router is not set up".into(),
        field: None,
    })?;
    Ok(Redirect::AppLink(links.0.begin()?))
}
