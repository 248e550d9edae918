//! iOS sign-in through `ASWebAuthenticationSession` (tauri-plugin-oauth-session's Swift side):
//! the system's authentication sheet, which shares Safari's cookies (single sign-on, RFC 8252
//! §8.12) and hands the callback URL straight back to the app — no reliance on the app being
//! re-opened by URL (tao#1248 drops a cold-start URL on iOS). The URL goes to the app-link router
//! like every other; closing the sheet cancels the sign-in.
//!
//! Type-checked here for aarch64-apple-ios; the Swift plugin is built by Xcode on a Mac, and only a
//! device or simulator shows the sheet.

use std::sync::Arc;

use latchkey::applink::AppLinkRouter;
use latchkey::{UserAgent, UserAgentError};
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_oauth_session::{AuthenticateOptions, OAuthSessionExt};

use crate::models::AccountId;
use crate::state::Accounts;

/// Opens the authorization URL in an authentication session.
pub struct AuthSessionTab<R: Runtime> {
    app: AppHandle<R>,
    router: Arc<AppLinkRouter>,
}

impl<R: Runtime> AuthSessionTab<R> {
    /// A tab whose callback URL goes to `router`.
    pub fn new(app: AppHandle<R>, router: Arc<AppLinkRouter>) -> Self {
        Self { app, router }
    }
}

impl<R: Runtime> UserAgent for AuthSessionTab<R> {
    fn open(&self, url: &url::Url) -> Result<(), UserAgentError> {
        let options = AuthenticateOptions {
            auth_url: url.to_string(),
            // The scheme alone: ASWebAuthenticationSession intercepts any URL with it and the
            // sign-in checks the rest (host, path, state). A claimed https callback needs iOS 17.4+
            // (`ASWebAuthenticationSession.Callback.https`), which this plugin doesn't offer.
            callback_scheme: self.router.redirect_uri().scheme().to_owned(),
            // Share Safari's session: single sign-on, and the end-session page signs out the same
            // browser session the sign-in used.
            prefers_ephemeral_session: Some(false),
        };
        let (app, router) = (self.app.clone(), self.router.clone());
        // The plugin's call blocks until the sheet closes: on a blocking thread, not a worker.
        tauri::async_runtime::spawn_blocking(move || {
            let result = tauri::async_runtime::block_on(app.oauth_session().authenticate(options));
            match result.map(|r| url::Url::parse(&r.url)) {
                Ok(Ok(callback)) => {
                    router.deliver(callback);
                }
                Ok(Err(_)) | Err(_) => {
                    // Closed by the user, or no usable URL: end the waiting sign-in now rather
                    // than at its timeout. (Never log the URL: it carries a code and state.)
                    tracing::info!("the authentication session ended without a callback");
                    tauri::async_runtime::block_on(async {
                        // The default account's: the one a sign-in runs for today.
                        let account = app.state::<Accounts>().get(&AccountId::default());
                        if let Ok(latchkey) = async { account?.latchkey().await }.await {
                            latchkey.cancel_sign_in();
                        }
                    });
                }
            }
        });
        Ok(())
    }
}
