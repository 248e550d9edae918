//! The `latchkey` binary as a user's machine runs it: its own data directory, the dev IdP's
//! issuer in the environment, the headless login driver as `BROWSER`, the PIN on stdin.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;

use latchkey::{Credential, PinProtector, Vault};

use crate::{browser_command, DevIdp};

/// The user's PIN.
pub const PIN: &str = "correct-horse-42";

/// [`PIN`] as a credential.
pub fn pin() -> Credential {
    Credential::Pin(PIN.to_string().into())
}

/// One user's machine: a data directory and the dev IdP's issuer (kept as a string, so that a
/// test can stop the IdP and go on).
pub struct Machine {
    bin: PathBuf,
    issuer: Option<String>,
    /// The data directory (`LATCHKEY_DATA_DIR`).
    pub data: tempfile::TempDir,
    /// What the login driver does: "login" or "deny".
    pub driver_action: &'static str,
}

impl Machine {
    /// A machine running `bin` (`env!("CARGO_BIN_EXE_latchkey")`) against `idp`.
    pub fn new(bin: &str, idp: &DevIdp) -> Self {
        Self {
            issuer: Some(idp.issuer.clone()),
            ..Self::without_idp(bin)
        }
    }

    /// A machine with no issuer configured.
    pub fn without_idp(bin: &str) -> Self {
        Self {
            bin: bin.into(),
            issuer: None,
            data: tempfile::tempdir().unwrap(),
            driver_action: "login",
        }
    }

    /// `latchkey ARGS` with this machine's environment, not started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env_remove("RUST_LOG")
            .env("LATCHKEY_DATA_DIR", self.data.path())
            .env("BROWSER", browser_command("alice", self.driver_action))
            .env("LATCHKEY_CLIENT_ID", "latchkey-native")
            .env("LATCHKEY_PARAMS", "prompt=consent")
            .env("LATCHKEY_LOGIN_TIMEOUT_SECS", "30");
        match &self.issuer {
            Some(issuer) => cmd.env("LATCHKEY_ISSUER", issuer),
            None => cmd.env_remove("LATCHKEY_ISSUER"),
        };
        cmd
    }

    /// `latchkey ARGS` as a user types it after `login`: no issuer or client anywhere.
    pub fn bare(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.command(args);
        cmd.env_remove("LATCHKEY_ISSUER")
            .env_remove("LATCHKEY_CLIENT_ID")
            .env_remove("LATCHKEY_PARAMS");
        start(cmd, stdin, Stdio::piped())
            .wait_with_output()
            .unwrap()
    }

    /// Runs with `stdin` as standard input (None: an empty, non-terminal stdin).
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        start(self.command(args), stdin, Stdio::piped())
            .wait_with_output()
            .unwrap()
    }

    /// Runs with `--pin-stdin` and the PIN.
    pub fn with_pin(&self, args: &[&str]) -> Output {
        self.run(
            &[&["--pin-stdin"], args].concat(),
            Some(&format!("{PIN}\n")),
        )
    }

    /// Starts `latchkey --pin-stdin ARGS` in the background with the PIN on its stdin.
    pub fn spawn_with_pin(&self, args: &[&str]) -> Child {
        let cmd = self.command(&[&["--pin-stdin"], args].concat());
        start(cmd, Some(&format!("{PIN}\n")), Stdio::null())
    }

    /// `latchkey --pin-stdin login`, which must succeed.
    pub fn login(&self) {
        let out = self.with_pin(&["login"]);
        assert_eq!(out.status.code(), Some(0), "login: {}", stderr(&out));
    }

    /// The vault directory.
    pub fn vault_dir(&self) -> PathBuf {
        self.data.path().join("vault")
    }

    /// The vault as the CLI opens it (locked).
    pub fn vault(&self) -> Vault {
        Vault::open(&self.vault_dir(), Arc::new(PinProtector::default())).unwrap()
    }
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output as one JSON value.
pub fn stdout_json(o: &Output) -> serde_json::Value {
    serde_json::from_str(stdout(o).trim()).unwrap()
}

/// Asserts the exit code, showing standard error if it differs.
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(o.status.code(), Some(code), "{}", stderr(o));
}

/// Asserts that standard output contains `text`, showing it if not.
pub fn assert_stdout_has(o: &Output, text: &str) {
    assert!(stdout(o).contains(text), "{}", stdout(o));
}

/// Asserts that standard error contains `text`, showing it if not.
pub fn assert_stderr_has(o: &Output, text: &str) {
    assert!(stderr(o).contains(text), "{}", stderr(o));
}

/// Starts `cmd` with `input` written to its stdin, which is then closed.
pub fn start(mut cmd: Command, input: Option<&str>, stdout: Stdio) -> Child {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(input) = input {
        // A command that doesn't read stdin (`status`, or one refused before it asks for the PIN)
        // may exit before the write: its exit status is what the test checks, not the pipe.
        match stdin.write_all(input.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
    }
    drop(stdin);
    child
}

/// Runs `cmd` with the line `input` on its stdin.
pub fn pipe(cmd: Command, input: &str) -> Output {
    start(cmd, Some(&format!("{input}\n")), Stdio::piped())
        .wait_with_output()
        .unwrap()
}
