//! Test support for Latchkey: the bundled dev IdP (`dev-idp/server.mjs`) as a child process on an
//! ephemeral loopback port, and the headless login driver (`dev-idp/login-driver.mjs`) as the
//! `BROWSER` command. Panics on failure: it is for tests only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use latchkey_core::{Config, PartialConfig, SystemBrowser, UserAgent, UserAgentError};
use url::Url;

pub mod fake_idp;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running dev IdP on an ephemeral loopback port; killed on drop.
pub struct DevIdp {
    child: Child,
    /// The issuer URL.
    pub issuer: String,
    /// The protected demo API.
    pub api: String,
}

impl DevIdp {
    /// Starts the dev IdP with the given knobs (see dev-idp/server.mjs).
    pub fn start(knobs: &[(&str, &str)]) -> Self {
        let root = repo_root();
        assert!(
            root.join("node_modules/oidc-provider").exists(),
            "the dev IdP needs its npm packages: run `npm ci` at the repository root"
        );
        let mut child = Command::new("node")
            .arg(root.join("dev-idp/server.mjs"))
            .env("DEV_IDP_QUIET", "1")
            .envs(knobs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node dev-idp/server.mjs");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let ready: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("dev IdP did not start ({e}): {line:?}"));
        Self {
            child,
            issuer: ready["issuer"].as_str().unwrap().to_owned(),
            api: ready["api"].as_str().unwrap().to_owned(),
        }
    }

    /// A client configuration for the dev IdP's native client, with `prompt=consent` (which this
    /// server needs before it grants offline_access).
    pub fn config(&self) -> Config {
        self.config_with(&[("prompt", "consent")])
    }

    /// A client configuration with the given extra authorization parameters.
    pub fn config_with(&self, params: &[(&str, &str)]) -> Config {
        PartialConfig {
            issuer: Some(self.issuer.clone()),
            client_id: Some("latchkey-native".into()),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            login_timeout_secs: Some(30),
            ..Default::default()
        }
        .finish()
        .unwrap()
    }
}

impl Drop for DevIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    pub sender: latchkey_core::AppLinkSender,
    /// Links delivered before the real one.
    pub before: Vec<Url>,
}

impl UserAgent for AppLinkDriver {
    fn open(&self, url: &Url) -> Result<(), latchkey_core::UserAgentError> {
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
        let seen = self.seen.lock().unwrap();
        seen.as_ref()?
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }
}

impl UserAgent for InstantApproval {
    fn open(&self, url: &Url) -> Result<(), UserAgentError> {
        *self.seen.lock().unwrap() = Some(url.clone());
        let redirect = Url::parse(&self.param("redirect_uri").unwrap()).unwrap();
        let target = format!(
            "{}?code=the-code&state={}&iss={}",
            redirect.path(),
            url::form_urlencoded::byte_serialize(self.param("state").unwrap().as_bytes())
                .collect::<String>(),
            url::form_urlencoded::byte_serialize(self.issuer.as_bytes()).collect::<String>()
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

/// Serves OpenID Provider metadata on a fake server: the server's URI as issuer, `/auth` and
/// `/token` endpoints, S256 PKCE, plus the fields in `extra` (e.g. `jwks_uri`,
/// `revocation_endpoint`, `authorization_response_iss_parameter_supported`).
pub async fn mount_discovery(server: &wiremock::MockServer, extra: serde_json::Value) {
    let issuer = server.uri();
    let mut metadata = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "code_challenge_methods_supported": ["S256"],
    });
    if let (Some(target), Some(fields)) = (metadata.as_object_mut(), extra.as_object()) {
        target.extend(fields.clone());
    }
    wiremock::Mock::given(wiremock::matchers::path(
        "/.well-known/openid-configuration",
    ))
    .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(metadata))
    .mount(server)
    .await;
}

/// Collects everything a `tracing_subscriber::fmt` subscriber writes (use it as the writer).
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A raw HTTP server for the one response wiremock can't make, a slow drip: requests whose text
/// contains `normal_when` get `200` with `normal` as the JSON body; every other request gets its
/// headers at once and then a chunked body that drips one byte every 100 ms and never ends. Stops on drop.
pub struct DripServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl DripServer {
    /// Starts the server on an ephemeral loopback port.
    pub async fn start(normal_when: &'static str, normal: serde_json::Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let normal = Arc::new(normal.to_string());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(drip_or_answer(stream, normal_when, normal.clone()));
            }
        });
        Self { url, task }
    }
}

impl Drop for DripServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn drip_or_answer(mut stream: tokio::net::TcpStream, normal_when: &str, normal: Arc<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read the head and a Content-Length body.
    loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        request.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&request);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if request.len() >= end + 4 + length {
                break;
            }
        }
    }
    if String::from_utf8_lossy(&request).contains(normal_when) {
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{normal}",
            normal.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        return;
    }
    // Chunked, so no Content-Length gives the size away up front; one byte per chunk.
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n";
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if stream.write_all(b"1\r\n \r\n").await.is_err() {
            return;
        }
    }
}

/// Every secret of a journey, gathered from the records the dev IdP
/// (`DEV_IDP_RECORD_SECRETS`) and the login driver (`LATCHKEY_DRIVER_RECORD`) keep, plus what a
/// test adds (the vault key, the PIN). [`Secrets::found_in`] names each one present in some
/// bytes, in clear or in a common encoding.
#[derive(Default, Debug)]
pub struct Secrets {
    named: Vec<(String, String)>,
    challenges: Vec<String>,
    keys: Vec<(String, Vec<u8>)>,
}

impl Secrets {
    /// Reads the records: every authorization code, access token and refresh token the IdP
    /// issued; every `state`, nonce and PKCE challenge the app sent (the verifier is found by
    /// its hash).
    pub fn from_records(idp_record: &std::path::Path, driver_record: &std::path::Path) -> Self {
        let mut secrets = Self::default();
        for path in [idp_record, driver_record] {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            for line in text.lines() {
                let record: serde_json::Value = serde_json::from_str(line).unwrap();
                let (kind, value) = (
                    record["kind"].as_str().unwrap(),
                    record["value"].as_str().unwrap(),
                );
                match kind {
                    "authorization_url" => {
                        let url = Url::parse(value).unwrap();
                        for (k, v) in url.query_pairs() {
                            match &*k {
                                "state" | "nonce" => secrets.add(&k, &v),
                                "code_challenge" => secrets.challenges.push(v.into_owned()),
                                _ => {}
                            }
                        }
                    }
                    "redirect" => {} // its code is in the IdP's record
                    kind => secrets.add(kind, value),
                }
            }
        }
        secrets
    }

    /// Adds a secret string.
    pub fn add(&mut self, kind: &str, value: &str) {
        assert!(value.len() >= 8, "{kind} is too short to scan for");
        self.named.push((kind.to_owned(), value.to_owned()));
    }

    /// Adds key bytes: found raw, as hex, base64, base64url or a JSON array of numbers.
    pub fn add_key(&mut self, kind: &str, key: &[u8]) {
        self.keys.push((kind.to_owned(), key.to_vec()));
    }

    /// How many secrets of each kind are known (a scan that knows none proves nothing).
    pub fn count(&self, kind: &str) -> usize {
        match kind {
            "code_verifier" => self.challenges.len(),
            _ => {
                self.named.iter().filter(|(k, _)| k == kind).count()
                    + self.keys.iter().filter(|(k, _)| k == kind).count()
            }
        }
    }

    /// The kinds of the secrets that appear in `haystack`.
    pub fn found_in(&self, haystack: &[u8]) -> Vec<String> {
        use base64::Engine;
        let contains = |needle: &[u8]| {
            !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
        };
        let mut found = Vec::new();
        for (kind, value) in &self.named {
            let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
            if contains(value.as_bytes()) || contains(encoded.as_bytes()) {
                found.push(kind.clone());
            }
        }
        for (kind, key) in &self.keys {
            let forms = [
                key.clone(),
                key.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
                    .into_bytes(),
                base64::engine::general_purpose::STANDARD
                    .encode(key)
                    .into_bytes(),
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(key)
                    .into_bytes(),
                serde_json::to_vec(key).unwrap(),
            ];
            if forms.iter().any(|f| contains(f)) {
                found.push(kind.clone());
            }
        }
        // A PKCE verifier is 43-128 unreserved characters whose SHA-256 is a challenge we saw.
        let unreserved = |b: &u8| b.is_ascii_alphanumeric() || b"-._~".contains(b);
        for run in haystack.split(|b| !unreserved(b)).filter(|r| r.len() >= 43) {
            let mut candidates: Vec<&[u8]> = run.windows(43).collect();
            if run.len() <= 128 {
                candidates.push(run);
            }
            for candidate in candidates {
                let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(<sha2::Sha256 as sha2::Digest>::digest(candidate));
                if self.challenges.contains(&hash) {
                    found.push("code_verifier".into());
                }
            }
        }
        found.sort();
        found.dedup();
        found
    }

    /// `(file, kinds)` for every file under `dir` that holds a secret.
    pub fn found_in_dir(&self, dir: &std::path::Path) -> Vec<(PathBuf, Vec<String>)> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return out;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(self.found_in_dir(&path));
            } else if let Ok(bytes) = std::fs::read(&path) {
                let found = self.found_in(&bytes);
                if !found.is_empty() {
                    out.push((path, found));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn the_scanner_finds_a_pkce_verifier_by_its_challenge_and_tokens_in_clear_or_url_encoded() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
        let mut secrets = Secrets {
            challenges: vec![challenge],
            ..Default::default()
        };
        secrets.add("refresh_token", "rt/with+special=chars");
        let body = format!("grant_type=authorization_code&code_verifier={verifier}&x=1");
        assert_eq!(secrets.found_in(body.as_bytes()), ["code_verifier"]);
        assert_eq!(
            secrets.found_in(b"refresh_token=rt%2Fwith%2Bspecial%3Dchars"),
            ["refresh_token"]
        );
        assert!(secrets.found_in(b"nothing to see here").is_empty());
    }
}
