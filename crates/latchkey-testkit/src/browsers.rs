//! "Browsers" for sign-in tests: the headless login driver (`dev-idp/login-driver.mjs`) as the
//! `BROWSER` command or as a phone's in-app tab, instant approval for fake servers, and a
//! recorder.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use latchkey::{SystemBrowser, UserAgent, UserAgentError};
use url::Url;

use crate::repo_root;

/// The value of the query parameter `key` in `url`, if present.
pub fn query_param(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// `s` as `application/x-www-form-urlencoded` (for a query value).
pub fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The headless login driver as a `BROWSER` command, signing in as `user`.
pub fn login_driver(user: &str) -> SystemBrowser {
    login_driver_with(user, "login")
}

/// The login driver with an action: "login" or "deny".
pub fn login_driver_with(user: &str, action: &str) -> SystemBrowser {
    SystemBrowser::with_browser_var(Some(browser_command(user, action)))
}

/// The `BROWSER` value that runs the headless login driver as `user` with `action`.
pub fn browser_command(user: &str, action: &str) -> String {
    let driver = repo_root().join("dev-idp/login-driver.mjs");
    format!(
        "env LATCHKEY_DEV_USER={user} LATCHKEY_DEV_ACTION={action} node {} %s",
        driver.display()
    )
}

/// The login driver as the in-app browser tab of a phone: it signs in as `user`, and the app link
/// the IdP redirects to (the driver prints it) is handed to `sender`, as the OS would hand it to
/// the app. `before` is delivered first (links another app might open).
pub struct AppLinkDriver {
    /// The account.
    pub user: String,
    /// Where the OS hands app links.
    pub sender: latchkey::AppLinkSender,
    /// Links delivered before the real one.
    pub before: Vec<Url>,
}

impl UserAgent for AppLinkDriver {
    fn open(&self, url: &Url) -> Result<(), latchkey::UserAgentError> {
        let driver = repo_root().join("dev-idp/login-driver.mjs");
        let (user, url, sender, before) = (
            self.user.clone(),
            url.to_string(),
            self.sender.clone(),
            self.before.clone(),
        );
        std::thread::spawn(move || {
            let output = std::process::Command::new("node")
                .arg(driver)
                .arg(url)
                .env("LATCHKEY_DEV_USER", user)
                .output()
                .expect("run the login driver");
            for link in before {
                sender.deliver(link);
            }
            let stdout = String::from_utf8_lossy(&output.stdout);
            if let Some(link) = stdout.lines().find_map(|l| l.strip_prefix("app-link ")) {
                sender.deliver(Url::parse(link).expect("an app link"));
            }
        });
        Ok(())
    }
}

/// A "browser" for fake servers that approves at once: it GETs the redirect URI with
/// `code=the-code`, the request's `state` and `iss=<issuer>`, and remembers the URL it was given
/// (so tests can read the nonce).
#[derive(Clone, Default)]
pub struct InstantApproval {
    issuer: String,
    seen: Arc<Mutex<Option<Url>>>,
}

impl InstantApproval {
    /// Approves as the server `issuer`.
    pub fn new(issuer: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            seen: Arc::default(),
        }
    }

    /// A query parameter of the last authorization URL opened.
    pub fn param(&self, key: &str) -> Option<String> {
        query_param(self.seen.lock().unwrap().as_ref()?, key)
    }
}

impl UserAgent for InstantApproval {
    fn open(&self, url: &Url) -> Result<(), UserAgentError> {
        *self.seen.lock().unwrap() = Some(url.clone());
        let redirect = Url::parse(&self.param("redirect_uri").unwrap()).unwrap();
        let target = format!(
            "{}?code=the-code&state={}&iss={}",
            redirect.path(),
            form_encode(&self.param("state").unwrap()),
            form_encode(&self.issuer)
        );
        let port = redirect.port().unwrap();
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(s, "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        });
        Ok(())
    }
}

/// A browser that records every URL it is asked to open, then hands it to `inner` (if any).
#[derive(Default)]
pub struct Recorder<U = OpensNothing> {
    inner: U,
    opened: Mutex<Vec<Url>>,
}

impl Recorder {
    /// Records and opens nothing.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<U: UserAgent> Recorder<U> {
    /// Records, then lets `inner` open the URL.
    pub fn wrapping(inner: U) -> Self {
        Self {
            inner,
            opened: Mutex::default(),
        }
    }
}

impl<U> Recorder<U> {
    /// Every URL opened so far.
    pub fn opened(&self) -> Vec<Url> {
        self.opened.lock().unwrap().clone()
    }

    /// The query parameter `key` of the last URL opened.
    pub fn param(&self, key: &str) -> Option<String> {
        query_param(self.opened.lock().unwrap().last()?, key)
    }
}

impl<U: UserAgent> UserAgent for Recorder<U> {
    fn open(&self, url: &Url) -> Result<(), UserAgentError> {
        self.opened.lock().unwrap().push(url.clone());
        self.inner.open(url)
    }
}

/// A browser that opens nothing (the user never comes back).
#[derive(Default)]
pub struct OpensNothing;

impl UserAgent for OpensNothing {
    fn open(&self, _: &Url) -> Result<(), UserAgentError> {
        Ok(())
    }
}
