//! The mobile redirect: the authorization response comes back as a URL the operating system hands
//! to the app — an https link the app has claimed (RFC 8252 §7.2: Universal Links, Android App
//! Links) or a private-use URI scheme named after a domain the developer controls (§7.1:
//! `com.example.app:/callback`). There is no listener: the platform code (on Tauri, the deep-link
//! plugin's `on_open_url`) passes every URL it receives to an [`AppLinkSender`], and
//! [`AppLinkRedirect::wait`] judges each one exactly as the loopback listener judges a request:
//! the registered scheme, host and path, each parameter at most once, then `state` first, RFC 9207
//! `iss`, `error`, `code` ([`crate::authorize::PendingAuthorization::check`]). Anything else is
//! counted and ignored, and the real response still completes the sign-in: another app can open a
//! URL with our scheme too (§8.1), which is why PKCE and `state` matter here as much as on desktop.

use std::time::Duration;

use tokio::sync::mpsc;
use url::Url;

use crate::config::ConfigError;
use crate::error::{CallbackRejection, Error};
use crate::redirect::{parse_query, CallbackParams};

mod router;
pub use router::{AppLinkRouter, Delivery};

/// How many delivered URLs may wait unjudged in the inbox.
const INBOX: usize = 32;

/// How many more are held aside once the inbox is full, and judged as soon as it has drained.
/// The *first* ones to overflow are kept and later ones dropped: a link that follows a flood
/// (the real callback) is kept, and a dropped later one is the latest link, which is the one a
/// `get_current()` poll reports again. Bounded, so a flood can't grow memory.
const OVERFLOW: usize = 32;

type Overflow = std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<Url>>>;

fn held(overflow: &Overflow) -> std::sync::MutexGuard<'_, std::collections::VecDeque<Url>> {
    // A queue of URLs: a poisoned lock is still consistent.
    overflow.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where the OS hands incoming URLs to a sign-in in progress. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppLinkSender(mpsc::Sender<Url>, Overflow);

impl AppLinkSender {
    /// Passes a URL the app was opened with to the waiting sign-in (into its inbox, or held
    /// aside while the inbox is full). False when no sign-in is waiting or both are full (the URL
    /// is dropped).
    pub fn deliver(&self, url: Url) -> bool {
        match self.0.try_send(url) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(url)) => {
                let mut overflow = held(&self.1);
                if overflow.len() < OVERFLOW {
                    overflow.push_back(url);
                    true
                } else {
                    false
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Whether the sign-in this sender feeds is still waiting (its inbox not dropped).
    pub fn is_waiting(&self) -> bool {
        !self.0.is_closed()
    }

    /// Whether the inbox and the overflow are full (a delivery now would be dropped).
    pub fn is_full(&self) -> bool {
        self.0.capacity() == 0 && held(&self.1).len() >= OVERFLOW
    }
}

/// A claimed-https or private-use-scheme redirect URI and the inbox its URLs arrive in.
#[derive(Debug)]
pub struct AppLinkRedirect {
    redirect_uri: Url,
    inbox: mpsc::Receiver<Url>,
    overflow: Overflow,
}

/// A redirect URI for [`AppLinkRedirect`] and the sender the platform code feeds.
///
/// # Errors
/// [`ConfigError::Invalid`] unless `redirect_uri` is `https` with a host (a claimed link), or a
/// private-use scheme in reverse-domain form (contains a `.`, RFC 8252 §7.1) — never `http`,
/// which belongs to the loopback redirect — and it carries no query or fragment.
pub fn app_link(redirect_uri: Url) -> Result<(AppLinkSender, AppLinkRedirect), ConfigError> {
    let invalid = |reason: &str| ConfigError::invalid("redirect_uri", reason);
    match redirect_uri.scheme() {
        "https" if redirect_uri.host_str().is_some_and(|h| !h.is_empty()) => {}
        "https" => return Err(invalid("must name a host")),
        "http" => return Err(invalid("must not be http: on desktop use the loopback redirect")),
        scheme if !scheme.contains('.') => {
            return Err(invalid(
                "must be https or a private-use scheme in reverse-domain form, e.g. com.example.app:/callback (RFC 8252 §7.1)",
            ))
        }
        _ => {}
    }
    if redirect_uri.query().is_some() || redirect_uri.fragment().is_some() {
        return Err(invalid("must not carry a query or fragment"));
    }
    let (tx, rx) = mpsc::channel(INBOX);
    let overflow = Overflow::default();
    Ok((
        AppLinkSender(tx, overflow.clone()),
        AppLinkRedirect {
            redirect_uri,
            inbox: rx,
            overflow,
        },
    ))
}

impl AppLinkRedirect {
    /// The redirect URI to send in the authorization request.
    pub fn redirect_uri(&self) -> &Url {
        &self.redirect_uri
    }

    /// Waits for a URL that is this redirect URI with a response `check` accepts, until
    /// `timeout`. Every other URL is counted, logged (without its query) and ignored.
    ///
    /// # Errors
    /// [`Error::SignInTimedOut`] when nothing acceptable came; [`Error::Cancelled`] when every
    /// sender was dropped (the platform stopped listening).
    pub async fn wait<T, F>(mut self, timeout: Duration, mut check: F) -> Result<T, Error>
    where
        F: FnMut(&CallbackParams) -> Result<T, CallbackRejection>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rejected = 0u32;
        let mut last_rejection = None;
        loop {
            // The inbox first, then what was held aside while it was full (only ever filled while
            // the inbox is, so nothing waits there while this waits on an empty inbox).
            let ready = match self.inbox.try_recv() {
                Ok(url) => Some(url),
                Err(mpsc::error::TryRecvError::Empty) => held(&self.overflow).pop_front(),
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    Some(held(&self.overflow).pop_front().ok_or(Error::Cancelled)?)
                }
            };
            let url = match ready {
                Some(url) => url,
                None => tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => {
                        return Err(Error::SignInTimedOut {
                            seconds: timeout.as_secs(),
                            rejected,
                            last_rejection,
                        });
                    }
                    url = self.inbox.recv() => url.ok_or(Error::Cancelled)?,
                },
            };
            match parse_app_link(&url, &self.redirect_uri).and_then(|params| check(&params)) {
                Ok(value) => return Ok(value),
                Err(rejection) => {
                    rejected = rejected.saturating_add(1);
                    last_rejection = Some(rejection);
                    tracing::debug!(%rejection, scheme = url.scheme(), "ignored an app link");
                }
            }
        }
    }
}

/// Checks that `url` is `redirect_uri` (scheme, host, port and path exactly) and extracts the
/// response parameters from its query. A fragment is refused: this client asks for the response
/// in the query, so parameters in a fragment are someone else's.
pub fn parse_app_link(url: &Url, redirect_uri: &Url) -> Result<CallbackParams, CallbackRejection> {
    let same_place = url.scheme() == redirect_uri.scheme()
        && url.host_str() == redirect_uri.host_str()
        && url.port_or_known_default() == redirect_uri.port_or_known_default()
        && url.path() == redirect_uri.path();
    if !same_place {
        return Err(CallbackRejection::WrongPath);
    }
    if url.fragment().is_some_and(|f| !f.is_empty()) {
        return Err(CallbackRejection::MalformedRequest);
    }
    parse_query(url.query().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn claimed_https_and_reverse_domain_schemes_are_accepted_other_redirects_are_not() {
        assert!(app_link(url("https://app.example.com/callback")).is_ok());
        assert!(app_link(url("com.example.app:/callback")).is_ok());
        for bad in [
            "http://app.example.com/callback",
            "myapp:/callback",
            "https://app.example.com/callback?x=1",
            "com.example.app:/callback#f",
        ] {
            let err = app_link(url(bad)).unwrap_err();
            assert_eq!(err.field(), Some("redirect_uri"), "{bad}: {err}");
        }
    }

    #[test]
    fn only_the_exact_redirect_uri_is_parsed() {
        let registered = url("com.example.app:/callback");
        let params = parse_app_link(
            &url("com.example.app:/callback?code=c&state=s"),
            &registered,
        )
        .unwrap();
        assert_eq!(params.code.unwrap().secret(), "c");
        for (other, why) in [
            (
                "com.evil.app:/callback?code=c&state=s",
                CallbackRejection::WrongPath,
            ),
            (
                "com.example.app:/other?code=c&state=s",
                CallbackRejection::WrongPath,
            ),
            (
                "com.example.app:/callback?code=c&code=d&state=s",
                CallbackRejection::DuplicateParameter,
            ),
            (
                "com.example.app:/callback#code=c&state=s",
                CallbackRejection::MalformedRequest,
            ),
        ] {
            assert_eq!(
                parse_app_link(&url(other), &registered).unwrap_err(),
                why,
                "{other}"
            );
        }
        let https = url("https://app.example.com/callback");
        assert_eq!(
            parse_app_link(&url("https://app.example.com:8443/callback?code=c"), &https)
                .unwrap_err(),
            CallbackRejection::WrongPath
        );
    }

    #[tokio::test]
    async fn a_flood_of_foreign_links_is_ignored_and_the_real_one_completes() {
        let (sender, redirect) = app_link(url("com.example.app:/callback")).unwrap();
        let waiter = tokio::spawn(redirect.wait(Duration::from_secs(30), |p| {
            match (p.state.as_ref(), p.code.as_ref()) {
                (Some(s), Some(c)) if s.secret() == "good" => Ok(c.secret().clone()),
                _ => Err(CallbackRejection::StateMismatch),
            }
        }));
        for _ in 0..10 {
            sender.deliver(url("com.example.app:/callback?code=x&state=bad"));
            sender.deliver(url("com.example.app:/elsewhere?code=x&state=good"));
            tokio::task::yield_now().await;
        }
        assert!(sender.deliver(url("com.example.app:/callback?code=real&state=good")));
        assert_eq!(waiter.await.unwrap().unwrap(), "real");
        assert!(
            !sender.deliver(url("com.example.app:/callback?code=late&state=good")),
            "one-shot"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn with_no_acceptable_link_the_wait_times_out_counting_what_it_ignored() {
        let (sender, redirect) = app_link(url("https://app.example.com/cb")).unwrap();
        sender.deliver(url("https://app.example.com/cb?state=bad&code=x"));
        let err = redirect
            .wait(Duration::from_secs(300), |_| -> Result<(), _> {
                Err(CallbackRejection::StateMismatch)
            })
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::SignInTimedOut {
                    rejected: 1,
                    seconds: 300,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
