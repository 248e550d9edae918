//! Sign-in without the human: authorization URL → the dev IdP's login and consent forms (posted
//! by an in-process HTTP "browser") → loopback callback → code exchange → ID token checked →
//! session stored, versus the same requests made bare with reqwest (the same forms, then one
//! token POST; no listener, no checks, no vault).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use latchkey::{
    Credential, RefreshGuard, SecretStore, Session, SessionHint, StoreError, StoredSession,
    UserAgent, UserAgentError, Vault,
};
use latchkey_testkit::DevIdp;
use sha2::Digest;
use url::Url;

use crate::{median, ms, Released};

/// A browser for the dev IdP, in process: follows its redirects with a cookie jar, posts the login
/// form as `alice` and the consent form, and stops at the first URL off the IdP's origin (the
/// redirect back to the app).
struct FormPoster {
    http: reqwest::Client,
}

impl FormPoster {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// Runs the IdP's interaction for `authorize` and returns the redirect back to the app.
    async fn approve(&self, authorize: &Url) -> Url {
        let origin = authorize.origin();
        let mut jar: Vec<(String, String)> = Vec::new();
        let mut url = authorize.clone();
        let mut form: Option<Vec<(&str, String)>> = None;
        for _ in 0..20 {
            if url.origin() != origin {
                return url;
            }
            let cookie = jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let request = match form.take() {
                Some(fields) => self.http.post(url.clone()).form(&fields),
                None => self.http.get(url.clone()),
            };
            let response = request.header("cookie", cookie).send().await.unwrap();
            for value in response.headers().get_all("set-cookie") {
                let pair = value.to_str().unwrap().split(';').next().unwrap();
                if let Some((k, v)) = pair.split_once('=') {
                    jar.retain(|(name, _)| name != k.trim());
                    jar.push((k.trim().to_owned(), v.trim().to_owned()));
                }
            }
            if response.status().is_redirection() {
                let location = response.headers()["location"].to_str().unwrap().to_owned();
                url = url.join(&location).unwrap();
                continue;
            }
            let html = response.text().await.unwrap();
            let action = between(&html, "<form", ">")
                .and_then(|tag| between(tag, "action=\"", "\""))
                .unwrap()
                .replace("&amp;", "&");
            let prompt = between(&html, "name=\"prompt\" value=\"", "\"").unwrap();
            form = Some(if prompt == "login" {
                vec![
                    ("prompt", "login".to_owned()),
                    ("login", "alice".to_owned()),
                    ("password", "any".to_owned()),
                ]
            } else {
                vec![("prompt", prompt.to_owned())]
            });
            url = url.join(&action).unwrap();
        }
        panic!("too many hops at the dev IdP");
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

/// Timestamps of one Latchkey sign-in, taken by the "browser" and the store.
#[derive(Default)]
struct Marks {
    opened: Option<Instant>,
    approved: Option<Instant>,
    answered: Option<Instant>,
    stored: Duration,
    saves: u32,
}

/// The vault, with the time spent saving recorded.
struct TimedVault {
    vault: Arc<Vault>,
    marks: Mutex<Arc<Mutex<Marks>>>,
}

impl SecretStore for TimedVault {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        self.vault.load()
    }
    fn save(&self, held: &RefreshGuard, session: &StoredSession) -> Result<(), StoreError> {
        let start = Instant::now();
        let result = self.vault.save(held, session);
        let marks = self.marks.lock().unwrap();
        let mut marks = marks.lock().unwrap();
        marks.stored += start.elapsed();
        marks.saves += 1;
        result
    }
    fn clear(&self, held: &RefreshGuard) -> Result<(), StoreError> {
        self.vault.clear(held)
    }
    fn hint(&self) -> Result<Option<SessionHint>, StoreError> {
        self.vault.hint()
    }
    fn lock_for_refresh(&self) -> Result<RefreshGuard, StoreError> {
        self.vault.lock_for_refresh()
    }
}

/// The [`FormPoster`] as Latchkey's user agent: approves in a task, then delivers the redirect to
/// the loopback listener like a browser.
#[derive(Clone)]
struct InProcessBrowser {
    poster: Arc<FormPoster>,
    marks: Arc<Mutex<Marks>>,
}

impl UserAgent for InProcessBrowser {
    fn open(&self, url: &Url) -> Result<(), UserAgentError> {
        self.marks.lock().unwrap().opened = Some(Instant::now());
        let (url, me) = (url.clone(), self.clone());
        tokio::spawn(async move {
            let back = me.poster.approve(&url).await;
            me.marks.lock().unwrap().approved = Some(Instant::now());
            me.poster.http.get(back).send().await.unwrap();
            me.marks.lock().unwrap().answered = Some(Instant::now());
        });
        Ok(())
    }
}

/// Prints the sign-in figures.
pub async fn figures() {
    const N: usize = 15;
    let idp = DevIdp::start(&[]);
    let data = tempfile::tempdir().unwrap();
    let vault = Arc::new(Vault::open(data.path(), Arc::new(Released)).unwrap());
    vault.prepare(&Credential::Prompt("bench".into())).unwrap();
    let config = idp.bearer_config();
    let store = Arc::new(TimedVault {
        vault: vault.clone(),
        marks: Mutex::default(),
    });
    let poster = Arc::new(FormPoster::new());
    let bare_http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let (mut prepare, mut interaction, mut totals) = (vec![], vec![], vec![]);
    let (mut callback, mut exchange, mut storing) = (vec![], vec![], vec![]);
    let mut saves = 0;
    let (mut bare_interaction, mut bare_exchange, mut bare_totals) = (vec![], vec![], vec![]);
    for round in 0..=N {
        // Latchkey: a fresh session (discovery and JWKS are fetched once per app run, not per
        // sign-in, so they are warmed outside the timing).
        let session = Session::new(config.clone(), store.clone()).unwrap();
        session.provider().await.unwrap();
        // A new sign-in stages a new key (as the app does with the PIN it asks for, outside the
        // timing): its first save writes the snapshot and the key file, not a journal record.
        vault.prepare(&Credential::Prompt("bench".into())).unwrap();
        let browser = InProcessBrowser {
            poster: poster.clone(),
            marks: Arc::default(),
        };
        *store.marks.lock().unwrap() = browser.marks.clone();
        let start = Instant::now();
        session.sign_in(&browser).await.unwrap();
        let end = Instant::now();
        assert!(vault.load().unwrap().is_some());
        let (opened, approved, answered, stored) = {
            let marks = browser.marks.lock().unwrap();
            saves = marks.saves;
            // The listener answers the browser as soon as it accepts the callback, before the
            // exchange; the answer can arrive after the sign-in has finished, hence the min.
            (
                marks.opened.unwrap(),
                marks.approved.unwrap(),
                marks.answered.unwrap_or(end).min(end),
                marks.stored,
            )
        };

        // Bare: the same authorization request by hand, the same forms, one token POST.
        let verifier = format!("{:0>43}", round);
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        let mut authorize = Url::parse(&format!("{}/auth", idp.issuer)).unwrap();
        authorize
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", "latchkey-native")
            .append_pair("redirect_uri", "http://127.0.0.1:9/callback")
            .append_pair("scope", "openid profile offline_access")
            .append_pair("state", &format!("state-{round}"))
            .append_pair("nonce", &format!("nonce-{round}"))
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("prompt", "consent");
        let bare_start = Instant::now();
        let back = poster.approve(&authorize).await;
        let bare_approved = Instant::now();
        let code = back
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        let response = bare_http
            .post(format!("{}/token", idp.issuer))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "http://127.0.0.1:9/callback"),
                ("client_id", "latchkey-native"),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        let _tokens = response.bytes().await.unwrap();
        let bare_end = Instant::now();

        if round == 0 {
            continue; // warm-up: connection set-up, first-use costs on both sides
        }
        prepare.push(opened - start);
        interaction.push(approved - opened);
        callback.push(answered - approved);
        exchange.push((end - answered).saturating_sub(stored));
        storing.push(stored);
        totals.push(end - start);
        bare_interaction.push(bare_approved - bare_start);
        bare_exchange.push(bare_end - bare_approved);
        bare_totals.push(bare_end - bare_start);
    }
    let (total, bare) = (median(totals), median(bare_totals));
    println!("sign-in without the human (dev IdP login + consent forms posted in process), median of {N}:");
    println!(
        "  request built (PKCE, state, nonce, listener bound): {}",
        ms(median(prepare))
    );
    println!(
        "  IdP interaction (authorize → login → consent):      {}",
        ms(median(interaction))
    );
    println!(
        "  callback delivered to the listener and checked:     {}",
        ms(median(callback))
    );
    println!(
        "  code exchange + ID token checked + userinfo:        {}",
        ms(median(exchange))
    );
    println!(
        "  stored in the vault ({saves} saves: tokens, then name): {}",
        ms(median(storing))
    );
    println!(
        "  total:                                              {}",
        ms(total)
    );
    println!(
        "  reference, bare: same interaction {} + token POST {} = {}",
        ms(median(bare_interaction)),
        ms(median(bare_exchange)),
        ms(bare)
    );
    println!(
        "  ratio: {:.2}x (+{})",
        total.as_secs_f64() / bare.as_secs_f64(),
        ms(total.saturating_sub(bare))
    );
}
