//! The app's one place for incoming URLs on mobile. The operating system hands URLs to the app
//! through several doors — the deep-link plugin's `on_open_url` while the app runs, its
//! `get_current()` at start and on resume, an iOS authentication session's completion handler —
//! and any of them may report the same URL twice or report one while no sign-in waits. The router
//! gives each sign-in its own [`AppLinkRedirect`] and passes it every new URL; it decides nothing
//! about a URL's content (the sign-in judges each one, `state` first).
//!
//! Field bugs it is built around:
//! - a URL reported while no sign-in waits (a cold start: the process that started the sign-in,
//!   and with it the PKCE verifier and `state`, is gone; or another app opened our scheme) is
//!   never kept for a later sign-in — it predates that sign-in's request, so it can't be its
//!   answer. It is counted, so the app can say a sign-in was interrupted (tao#1248 drops such a
//!   URL on iOS anyway);
//! - `on_open_url` may not fire for a second sign-in on Android (plugins-workspace#2397): the app
//!   also polls `get_current()` on resume, and the router drops a URL it has already passed on, so
//!   the poll can't replay the first sign-in's answer into the second.

use std::collections::VecDeque;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use url::Url;

use super::{app_link, parse_app_link, AppLinkRedirect, AppLinkSender};
use crate::config::ConfigError;

/// How many recently delivered URLs are remembered (as SHA-256 digests: a URL may carry a code).
const REMEMBERED: usize = 16;

/// What became of a URL handed to [`AppLinkRouter::deliver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Passed to the waiting sign-in, which judges it.
    Passed,
    /// Already passed on before (a repeated `get_current()` or a double report): dropped.
    Repeated,
    /// The waiting sign-in's inbox and its overflow are full (a flood of links): dropped, and
    /// the sign-in still waits for its real callback. (A link that arrives while only the inbox
    /// is full is held aside and judged once it drains: [`Delivery::Passed`].)
    InboxFull,
    /// No sign-in is waiting: dropped. `for_us` says whether it named our redirect URI (a
    /// sign-in whose process was lost, or another app using our scheme).
    NoSignInWaiting {
        /// The URL is our redirect URI (scheme, host, path).
        for_us: bool,
    },
}

/// Routes URLs the OS hands to the app to the sign-in in progress, if any.
#[derive(Debug)]
pub struct AppLinkRouter {
    redirect_uri: Url,
    state: Mutex<RouterState>,
}

#[derive(Debug, Default)]
struct RouterState {
    current: Option<AppLinkSender>,
    recent: VecDeque<[u8; 32]>,
    unclaimed_for_us: u32,
}

impl AppLinkRouter {
    /// A router for `redirect_uri` (checked as [`app_link`] checks it).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for a redirect URI an app link can't use.
    pub fn new(redirect_uri: Url) -> Result<Self, ConfigError> {
        app_link(redirect_uri.clone())?;
        Ok(Self {
            redirect_uri,
            state: Mutex::new(RouterState::default()),
        })
    }

    /// The redirect URI sign-ins send.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// Starts routing to a new sign-in: URLs from now on go to the returned redirect (for
    /// [`crate::Redirect::AppLink`]); a previous sign-in's redirect gets nothing more. Nothing
    /// that arrived before is replayed into it.
    ///
    /// # Errors
    /// None in practice (the redirect URI was checked by [`AppLinkRouter::new`]).
    pub fn begin(&self) -> Result<AppLinkRedirect, ConfigError> {
        let (sender, redirect) = app_link(self.redirect_uri.clone())?;
        self.with_state(|s| s.current = Some(sender));
        Ok(redirect)
    }

    /// Hands a URL the OS gave the app to the waiting sign-in, unless it was passed on already.
    pub fn deliver(&self, url: Url) -> Delivery {
        let digest: [u8; 32] = Sha256::digest(url.as_str().as_bytes()).into();
        let for_us = parse_app_link(&url, &self.redirect_uri).is_ok();
        self.with_state(|s| {
            if s.recent.contains(&digest) {
                return Delivery::Repeated;
            }
            // A full inbox and overflow are not the end of the sign-in (only a closed one is), and
            // the URL is not remembered: a later report of it (a `get_current()` poll) may still
            // get in.
            if s.current
                .as_ref()
                .is_some_and(|tx| tx.is_waiting() && tx.is_full())
            {
                return Delivery::InboxFull;
            }
            // Remembered whether or not a sign-in takes it: a URL reported again later (by a
            // `get_current()` poll) is never passed to a sign-in that began after it arrived.
            if s.recent.len() == REMEMBERED {
                s.recent.pop_front();
            }
            s.recent.push_back(digest);
            if s.current.as_ref().is_some_and(|tx| tx.deliver(url)) {
                return Delivery::Passed;
            }
            s.current = None;
            if for_us {
                s.unclaimed_for_us = s.unclaimed_for_us.saturating_add(1);
            }
            tracing::info!(
                for_us,
                "an app link arrived while no sign-in waits; ignored"
            );
            Delivery::NoSignInWaiting { for_us }
        })
    }

    /// How many URLs naming our redirect URI arrived with no sign-in waiting (each one a sign-in
    /// that can't complete: its verifier and `state` are gone). The UI may suggest signing in
    /// again.
    pub fn unclaimed(&self) -> u32 {
        self.with_state(|s| s.unclaimed_for_us)
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut RouterState) -> T) -> T {
        // A poisoned lock only means a panic elsewhere mid-update; the state stays usable.
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CallbackRejection;
    use std::time::Duration;

    fn link(query: &str) -> Url {
        Url::parse(&format!("com.example.app:/callback?{query}")).unwrap()
    }

    #[tokio::test]
    async fn after_a_flood_the_real_link_and_one_more_junk_link_the_sign_in_still_completes() {
        let router = AppLinkRouter::new(Url::parse("com.example.app:/callback").unwrap()).unwrap();
        let redirect = router.begin().unwrap();
        for i in 0..super::super::INBOX {
            let junk = link(&format!("code=x&state=junk{i}"));
            assert_eq!(router.deliver(junk), Delivery::Passed, "{i}");
        }
        let real = link("code=real&state=good");
        let late = link("code=y&state=junk-late");
        assert_ne!(router.deliver(real.clone()), Delivery::Repeated);
        assert_ne!(router.deliver(late.clone()), Delivery::Repeated);

        // The sign-in drains the junk. Android's get_current() only ever reports the latest link
        // again (the junk one): the real one is never reported a second time.
        let waiting = tokio::spawn(redirect.wait(Duration::from_secs(30), |params| {
            match params.state.as_ref().map(|s| s.secret().as_str()) {
                Some("good") => Ok(params.code.as_ref().map(|c| c.secret().clone())),
                _ => Err(CallbackRejection::StateMismatch),
            }
        }));
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        let _ = router.deliver(late);
        let code = tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .expect("the real link reached the sign-in")
            .unwrap()
            .unwrap();
        assert_eq!(code.as_deref(), Some("real"));
        assert_eq!(router.deliver(real), Delivery::Repeated);
    }

    #[tokio::test]
    async fn a_flood_that_outlasts_the_overflow_is_dropped_but_never_cancels_the_sign_in() {
        let router = AppLinkRouter::new(Url::parse("com.example.app:/callback").unwrap()).unwrap();
        let redirect = router.begin().unwrap();
        let mut full = 0;
        for i in 0..(super::super::INBOX * 4) {
            if router.deliver(link(&format!("code=x&state=junk{i}"))) == Delivery::InboxFull {
                full += 1;
            }
        }
        assert!(full > 0, "the flood is bounded");
        let waiting = tokio::spawn(redirect.wait(Duration::from_secs(30), |params| {
            match params.state.as_ref().map(|s| s.secret().as_str()) {
                Some("good") => Ok(()),
                _ => Err(CallbackRejection::StateMismatch),
            }
        }));
        let real = link("code=real&state=good");
        while router.deliver(real.clone()) == Delivery::InboxFull {
            tokio::task::yield_now().await;
        }
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}
