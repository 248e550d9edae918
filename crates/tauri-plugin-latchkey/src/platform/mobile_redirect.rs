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
//! identifier: `<identifier>:/callback` (the reference app: `dev.latchkey.app:/callback`). The
//! host app declares the scheme in its tauri.conf.json (`plugins.deep-link.mobile[].scheme`; the
//! deep-link plugin writes it into the generated Android manifest and iOS Info.plist) and in an
//! Info.ios.plist, which Tauri merges into gen/apple's Info.plist each time, so a regenerated
//! gen/apple keeps it (plugins-workspace#3596). scripts/platform-checks.sh checks that the
//! reference app's three agree.
//!
//! The plugins this needs (opener, biometric, deep-link; oauth-session on iOS) are registered by
//! this plugin, from a thread: registering takes the plugin store's lock, which Tauri holds
//! while plugins set up. One the host registered itself is left as it is.

use std::sync::Arc;

use latchkey::applink::AppLinkRouter;
use latchkey::Redirect;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::error::{Error, ErrorKind};

/// The redirect URI's path; the scheme is the app's identifier.
pub const CALLBACK_PATH: &str = "/callback";

/// The redirect URI mobile sign-ins send (`<identifier>:/callback`); registered at the IdP for
/// the app's client.
pub fn redirect_uri<R: Runtime>(app: &AppHandle<R>) -> String {
    format!("{}:{CALLBACK_PATH}", app.config().identifier)
}

/// The app's router, managed state.
pub struct AppLinks(pub Arc<AppLinkRouter>);

/// Sets up the router, then (from a thread) registers the plugins the mobile platform needs and
/// feeds the router from the deep-link plugin (part of the plugin's setup).
///
/// # Errors
/// When the identifier makes no redirect URI an app link can use.
pub fn init<R: Runtime>(app: &AppHandle<R>) -> Result<(), Box<dyn std::error::Error>> {
    let redirect_uri = url::Url::parse(&redirect_uri(app))?;
    let router = Arc::new(AppLinkRouter::new(redirect_uri)?);
    app.manage(AppLinks(router.clone()));
    let app = app.clone();
    std::thread::spawn(move || {
        if let Err(e) = register(&app, router) {
            tracing::error!(error = %e, "could not set up the mobile sign-in's plugins");
        }
    });
    Ok(())
}

fn register<R: Runtime>(app: &AppHandle<R>, router: Arc<AppLinkRouter>) -> tauri::Result<()> {
    if app.try_state::<tauri_plugin_opener::Opener<R>>().is_none() {
        app.plugin(tauri_plugin_opener::init())?;
    }
    if app
        .try_state::<tauri_plugin_biometric::Biometric<R>>()
        .is_none()
    {
        app.plugin(tauri_plugin_biometric::init())?;
    }
    if app
        .try_state::<tauri_plugin_deep_link::DeepLink<R>>()
        .is_none()
    {
        app.plugin(tauri_plugin_deep_link::init())?;
    }
    #[cfg(target_os = "ios")]
    app.plugin(tauri_plugin_oauth_session::init())?;
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
/// [`ErrorKind::Internal`] when the router was not set up (setup failed).
pub fn redirect<R: Runtime>(app: &AppHandle<R>) -> Result<Redirect, Error> {
    let links = app
        .try_state::<AppLinks>()
        .ok_or_else(|| Error::new(ErrorKind::Internal, "the app-link router is not set up"))?;
    Ok(Redirect::AppLink(links.0.begin()?))
}
