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
