//! The mobile redirect as the app wires it, against the dev IdP: every URL the OS hands to the app
//! (the deep-link plugin's `on_open_url`, its `get_current()` at start and on resume, an iOS
//! authentication session's completion) goes through one `AppLinkRouter` to the sign-in waiting,
//! which judges it like a loopback request. A phone's in-app tab is the headless login driver;
//! the "OS" is the test, delivering the app link the IdP redirected to.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use latchkey_core::applink::{AppLinkRouter, Delivery};
use latchkey_core::{Redirect, SecretStore, SessionState, UserAgent, UserAgentError};
use latchkey_testkit::{repo_root, DevIdp};
use url::Url;

const REDIRECT: &str = "dev.latchkey.app:/callback";

fn router() -> Arc<AppLinkRouter> {
    Arc::new(AppLinkRouter::new(REDIRECT.parse().unwrap()).unwrap())
}

/// Signs in at the dev IdP as `user` through the headless login driver (a phone's browser tab)
/// and returns the app link the IdP redirected to.
fn log_in_and_get_the_app_link(authorization_url: &Url, user: &str) -> Url {
    let output = std::process::Command::new("node")
        .arg(repo_root().join("dev-idp/login-driver.mjs"))
        .arg(authorization_url.as_str())
        .env("LATCHKEY_DEV_USER", user)
        .output()
        .expect("run the login driver");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let link = stdout
        .lines()
        .find_map(|l| l.strip_prefix("app-link "))
        .unwrap_or_else(|| panic!("no app link from the driver: {stdout}"));
    Url::parse(link).unwrap()
}

/// A phone's browser tab: logs in, then the OS hands the app each of `before` and the real app
/// link, all through the router (as the deep-link handler does). Records what the router said.
struct PhoneTab {
    router: Arc<AppLinkRouter>,
    before: Vec<Url>,
    /// Deliver from `open` itself, before the sign-in starts waiting (an authentication session
    /// that completes at once, or a URL reported as the app resumes).
    at_once: bool,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    link: Arc<Mutex<Option<Url>>>,
}

impl PhoneTab {
    fn new(router: &Arc<AppLinkRouter>) -> Self {
        Self {
            router: router.clone(),
            before: Vec::new(),
            at_once: false,
            deliveries: Arc::default(),
            link: Arc::default(),
        }
    }
}

impl UserAgent for PhoneTab {
    fn open(&self, url: &Url) -> Result<(), UserAgentError> {
        let (router, before, url) = (self.router.clone(), self.before.clone(), url.clone());
        let (deliveries, link_slot) = (self.deliveries.clone(), self.link.clone());
        let run = move || {
            let link = log_in_and_get_the_app_link(&url, "alice");
            *link_slot.lock().unwrap() = Some(link.clone());
            let mut said = deliveries.lock().unwrap();
            for foreign in before {
                said.push(router.deliver(foreign));
            }
            said.push(router.deliver(link));
        };
        if self.at_once {
            run();
        } else {
            std::thread::spawn(run);
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_link_handed_over_by_the_os_completes_the_sign_in_and_foreign_links_are_ignored() {
    let idp = DevIdp::start(&[]);
    let (session, store) = idp.session();
    let router = router();
    let mut tab = PhoneTab::new(&router);
    tab.before = [
        "dev.latchkey.app:/callback?code=stolen&state=guessed",
        "com.evil.app:/callback?code=x&state=y",
        "dev.latchkey.app:/elsewhere?code=x",
        "https://dev.latchkey.app/callback?code=x",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let redirect = router.begin().unwrap();
    let status = session
        .sign_in_with(&tab, Redirect::AppLink(redirect))
        .await
        .unwrap();
    assert_eq!(status.state, SessionState::SignedIn);
    assert_eq!(status.subject.as_deref(), Some("alice"));
    assert!(store.load().unwrap().is_some(), "the session was stored");
    // Each foreign link reached the sign-in and was judged there (and ignored); the real one
    // completed it.
    assert_eq!(*tab.deliveries.lock().unwrap(), vec![Delivery::Passed; 5]);
    // After the sign-in nothing is waiting: a late copy of the link goes nowhere.
    let late = tab.link.lock().unwrap().clone().unwrap();
    let mut again = late.clone();
    again.set_query(Some(&format!("{}&x=1", late.query().unwrap())));
    assert_eq!(
        router.deliver(again),
        Delivery::NoSignInWaiting { for_us: true }
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_delivered_as_the_tab_opens_before_the_wait_starts_still_completes_the_sign_in() {
    let idp = DevIdp::start(&[]);
    let (session, _store) = idp.session();
    let router = router();
    let mut tab = PhoneTab::new(&router);
    tab.at_once = true;
    let redirect = router.begin().unwrap();
    let status = session
        .sign_in_with(&tab, Redirect::AppLink(redirect))
        .await
        .unwrap();
    assert_eq!(status.state, SessionState::SignedIn);
    assert_eq!(*tab.deliveries.lock().unwrap(), vec![Delivery::Passed]);
}

/// A tab that only says it was opened, with what.
#[derive(Default)]
struct TabOpened {
    opened: tokio::sync::Notify,
    url: Mutex<Option<Url>>,
}

impl UserAgent for TabOpened {
    fn open(&self, url: &Url) -> Result<(), UserAgentError> {
        *self.url.lock().unwrap() = Some(url.clone());
        self.opened.notify_one();
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cold_start_a_link_for_a_sign_in_whose_process_died_is_not_replayed_into_the_next() {
    let idp = DevIdp::start(&[]);
    // "Process 1" starts a sign-in, the user logs in, and the OS kills the app before the link
    // arrives: the link carries a real code, but its verifier and state died with the process.
    let stale_link = {
        let (session, _store) = idp.session();
        let router = router();
        let tab = TabOpened::default();
        let redirect = router.begin().unwrap();
        // The sign-in opens the tab; the process dies at that point (the future is dropped).
        tokio::select! {
            result = session.sign_in_with(&tab, Redirect::AppLink(redirect)) => {
                panic!("the sign-in can't finish without its link: {result:?}")
            }
            () = tab.opened.notified() => {}
        }
        let authorization_url = tab.url.lock().unwrap().clone().expect("the tab was opened");
        tokio::task::spawn_blocking(move || {
            log_in_and_get_the_app_link(&authorization_url, "alice")
        })
        .await
        .unwrap()
    };

    // "Process 2" starts with that link (`get_current()` at start): no sign-in waits.
    let (session, store) = idp.session();
    let router = router();
    assert_eq!(
        router.deliver(stale_link.clone()),
        Delivery::NoSignInWaiting { for_us: true }
    );
    assert_eq!(
        router.unclaimed(),
        1,
        "the app can say a sign-in was cut off"
    );
    assert!(store.load().unwrap().is_none());

    // The user signs in again; the resume poll reports the stale link once more, before the real
    // one: it is not passed to the new sign-in, which completes with its own link.
    let mut tab = PhoneTab::new(&router);
    tab.before = vec![stale_link];
    let redirect = router.begin().unwrap();
    let status = session
        .sign_in_with(&tab, Redirect::AppLink(redirect))
        .await
        .unwrap();
    assert_eq!(status.state, SessionState::SignedIn);
    assert_eq!(
        *tab.deliveries.lock().unwrap(),
        vec![Delivery::Repeated, Delivery::Passed]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_sign_in_completes_when_only_the_resume_poll_reports_its_link() {
    // Android may not fire onOpenUrl for a second sign-in (plugins-workspace#2397): the app polls
    // get_current() on resume, which first still returns the first sign-in's link.
    let idp = DevIdp::start(&[]);
    let router = router();
    let (first, _s1) = idp.session();
    let tab = PhoneTab::new(&router);
    let redirect = router.begin().unwrap();
    first
        .sign_in_with(&tab, Redirect::AppLink(redirect))
        .await
        .unwrap();
    let first_link = tab.link.lock().unwrap().clone().unwrap();

    let (second, store) = idp.session();
    let mut tab = PhoneTab::new(&router);
    tab.before = vec![first_link];
    let redirect = router.begin().unwrap();
    let status = second
        .sign_in_with(&tab, Redirect::AppLink(redirect))
        .await
        .unwrap();
    assert_eq!(status.state, SessionState::SignedIn);
    assert!(store.load().unwrap().is_some());
    assert_eq!(
        *tab.deliveries.lock().unwrap(),
        vec![Delivery::Repeated, Delivery::Passed]
    );
}
