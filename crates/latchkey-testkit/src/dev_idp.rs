//! The bundled dev IdP (`dev-idp/server.mjs`, panva's oidc-provider) as a child process on an
//! ephemeral loopback port, and sessions against it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use latchkey::{Config, MemoryStore, PartialConfig, SecretStore, Session, StoredSession};

use crate::repo_root;

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

    /// [`DevIdp::config`] with DPoP off: plain bearer tokens, for measurements whose reference
    /// replays the stored refresh token with bare HTTP (a bound one would need a proof).
    pub fn bearer_config(&self) -> Config {
        let mut config = self.config();
        config.dpop = latchkey::config::DpopPolicy::Off;
        config
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

    /// A session for [`DevIdp::config`] over a fresh in-memory store.
    pub fn session(&self) -> (Session, Arc<MemoryStore>) {
        self.session_with(self.config())
    }

    /// Another client holding a copy of `stored` (say, a replayed refresh token), resumed
    /// without a browser: its session and store.
    pub async fn resumed_copy(&self, stored: &StoredSession) -> (Session, Arc<MemoryStore>) {
        let (session, store) = self.session();
        let held = store.lock_for_refresh().expect("a memory store locks");
        store.save(&held, stored).expect("the memory store saves");
        session.resume().await.expect("the copy resumes");
        (session, store)
    }

    /// Moves the IdP's clock `seconds` forward (started with `DEV_IDP_TEST_CLOCK=1`): its tokens
    /// expire without the test waiting.
    pub fn advance_clock(&self, seconds: u64) {
        self.move_clock(i64::try_from(seconds).expect("a representable number of seconds"));
    }

    /// Moves the IdP's clock `seconds` forward, or back when negative (started with
    /// `DEV_IDP_TEST_CLOCK=1`); its `Date` headers follow.
    pub fn move_clock(&self, seconds: i64) {
        use std::io::{Read, Write};
        let authority = self.issuer.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(authority).expect("connect to the dev IdP");
        write!(
            stream,
            "POST /dev/clock?advance={seconds} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 204"),
            "the clock moved: {answer}"
        );
    }

    /// [`DevIdp::stats`] without an async runtime (for tests that drive processes).
    pub fn stats_blocking(&self) -> serde_json::Value {
        use std::io::{Read, Write};
        let authority = self.issuer.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(authority).expect("connect to the dev IdP");
        write!(
            stream,
            // HTTP/1.0: the answer comes whole, not chunked.
            "GET /dev/stats HTTP/1.0\r\nHost: {authority}\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
        assert!(head.starts_with("HTTP/1.1 200 "), "GET /dev/stats: {head}");
        serde_json::from_str(body).expect("the stats are JSON")
    }

    /// The server's counters (`GET /dev/stats`): `token_requests`, `api_requests`, `grants`,
    /// `revocations`.
    pub async fn stats(&self) -> serde_json::Value {
        let body = reqwest::get(format!("{}/dev/stats", self.issuer))
            .await
            .expect("GET /dev/stats")
            .bytes()
            .await
            .expect("the stats");
        serde_json::from_slice(&body).expect("the stats are JSON")
    }

    /// POSTs a refresh grant for `refresh_token` straight to the token endpoint, with `dpop` as
    /// the `DPoP` header when given, as someone holding a copy of the token would: the status
    /// and the JSON body.
    pub async fn raw_refresh(
        &self,
        refresh_token: &str,
        dpop: Option<String>,
    ) -> (u16, serde_json::Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", "latchkey-native"),
            ]);
        if let Some(proof) = dpop {
            request = request.header("DPoP", proof);
        }
        let response = request.send().await.expect("POST /token");
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap_or_default();
        (status, serde_json::from_slice(&body).unwrap_or_default())
    }

    /// A session for `config` over a fresh in-memory store.
    pub fn session_with(&self, config: Config) -> (Session, Arc<MemoryStore>) {
        let store = Arc::new(MemoryStore::new());
        let session = Session::new(config, store.clone()).expect("a session for the dev IdP");
        (session, store)
    }
}

impl Drop for DevIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
