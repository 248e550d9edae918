//! Hostile app links (a mobile redirect through a custom scheme): every link another app could
//! open with our scheme — wrong, missing or duplicated `state`, `code` or `iss`, other schemes,
//! paths and forms — is ignored, and the real one completes the sign-in. Prints a `hostile `
//! summary line for the test command.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use latchkey_core::{MemoryStore, Session, SessionState};
use latchkey_testkit::fake_idp::{fake_config, requests_containing, stored_rt, token_response};
use latchkey_testkit::{form_encode, query_param};
use serde_json::json;
use url::Url;
use wiremock::matchers::body_string_contains;
use wiremock::{Mock, MockServer};

/// An in-app tab whose "OS" first hands the app every hostile link of `hostile_links`, then the
/// real response (`code=the-code`, the request's `state`, the issuer's `iss`).
struct HostileLinksThenReal {
    sender: latchkey_core::AppLinkSender,
    issuer: String,
    tried: std::sync::Mutex<usize>,
}

/// Links another app could open with our scheme. `S` is the real `state` (a hostile app may
/// have read it), `I` the real issuer.
fn hostile_links() -> Vec<(&'static str, String)> {
    let base = "com.example.app:/callback";
    [
        ("wrong state", format!("{base}?code=x&state=guessed&iss=I")),
        ("no state", format!("{base}?code=x&iss=I")),
        ("empty state", format!("{base}?code=x&state=&iss=I")),
        (
            "duplicate state",
            format!("{base}?code=x&state=S&state=S&iss=I"),
        ),
        (
            "duplicate code",
            format!("{base}?code=x&code=y&state=S&iss=I"),
        ),
        ("no iss", format!("{base}?code=x&state=S")),
        (
            "foreign iss",
            format!("{base}?code=x&state=S&iss=https%3A%2F%2Fevil.example"),
        ),
        (
            "duplicate iss",
            format!("{base}?code=x&state=S&iss=I&iss=I"),
        ),
        ("no code", format!("{base}?state=S&iss=I")),
        (
            "error, wrong state",
            format!("{base}?error=access_denied&state=guessed&iss=I"),
        ),
        (
            "other scheme",
            "com.evil.app:/callback?code=x&state=S&iss=I".to_owned(),
        ),
        (
            "other path",
            "com.example.app:/elsewhere?code=x&state=S&iss=I".to_owned(),
        ),
        (
            "path prefix",
            "com.example.app:/callback/x?code=x&state=S&iss=I".to_owned(),
        ),
        (
            "authority form",
            "com.example.app://callback?code=x&state=S&iss=I".to_owned(),
        ),
        ("params in fragment", format!("{base}#code=x&state=S&iss=I")),
        (
            "https look-alike",
            "https://com.example.app/callback?code=x&state=S&iss=I".to_owned(),
        ),
        (
            "encoded path",
            "com.example.app:/%63allback?code=x&state=S&iss=I".to_owned(),
        ),
        (
            "huge query",
            format!("{base}?code=x&state=guessed&pad={}", "a".repeat(100_000)),
        ),
    ]
    .into()
}

impl latchkey_core::UserAgent for HostileLinksThenReal {
    fn open(&self, url: &Url) -> Result<(), latchkey_core::UserAgentError> {
        let state = form_encode(&query_param(url, "state").unwrap());
        let issuer = form_encode(&self.issuer);
        let fill = |link: &str| {
            link.replace("state=S", &format!("state={state}"))
                .replace("iss=I", &format!("iss={issuer}"))
        };
        let links = hostile_links();
        *self.tried.lock().unwrap() = links.len();
        for (name, link) in links {
            let link = Url::parse(&fill(&link)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(self.sender.deliver(link), "{name}: the inbox takes it");
        }
        let real = format!("com.example.app:/callback?code=the-code&state={state}&iss={issuer}");
        assert!(self.sender.deliver(Url::parse(&real).unwrap()));
        Ok(())
    }
}

#[tokio::test]
async fn hostile_app_links_are_ignored_and_the_real_one_completes_the_sign_in() {
    let server = MockServer::start().await;
    let issuer = server.uri();
    latchkey_testkit::mount_discovery(
        &server,
        json!({"authorization_response_iss_parameter_supported": true}),
    )
    .await;
    Mock::given(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains("code=the-code"))
        .and(body_string_contains(
            "redirect_uri=com.example.app%3A%2Fcallback",
        ))
        .respond_with(token_response("at-1", Some("rt-1"), 3600))
        .expect(1)
        .mount(&server)
        .await;
    let store = Arc::new(MemoryStore::new());
    let session = Session::new(fake_config(&issuer), store.clone()).unwrap();
    let (sender, redirect) =
        latchkey_core::app_link(Url::parse("com.example.app:/callback").unwrap()).unwrap();
    let tab = HostileLinksThenReal {
        sender,
        issuer: issuer.clone(),
        tried: std::sync::Mutex::new(0),
    };
    let status = session
        .sign_in_with(&tab, latchkey_core::Redirect::AppLink(redirect))
        .await
        .unwrap();
    assert_eq!(status.state, SessionState::SignedIn);
    assert_eq!(stored_rt(&*store).as_deref(), Some("rt-1"));
    let codes_sent = requests_containing(&server, "grant_type=authorization_code").await;
    assert_eq!(
        codes_sent, 1,
        "only the real code reached the token endpoint"
    );
    let tried = *tab.tried.lock().unwrap();
    println!(
        "hostile app-link suite: {tried} links tried ({tried} kinds), 0 accepted; \
         only the real code reached the token endpoint and the real link completed the sign-in"
    );
}
