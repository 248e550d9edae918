//! No secret of a whole CLI journey appears in any file the CLI writes, in its output, or in its
//! logs at trace level (`latchkey_testkit::Secrets`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey::vault::KeyProtector;
use latchkey::{PinProtector, SecretStore};
use latchkey_testkit::cli::{pin, pipe, stderr, stdout, Machine, PIN};
use latchkey_testkit::{DevIdp, Secrets};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

/// No secret of the journey appears in any file the CLI writes, in its output, or in its logs at
/// trace level: every authorization code, access token and refresh token the IdP issued (its own
/// record), every `state`, nonce and PKCE verifier (the login driver's record; the verifier is
/// found by its hash), the ID token, the vault key and the PIN.
#[test]
fn no_secret_appears_in_files_output_or_trace_logs() {
    let records = tempfile::tempdir().unwrap();
    let (idp_record, driver_record) = (
        records.path().join("idp.jsonl"),
        records.path().join("driver.jsonl"),
    );
    let idp = DevIdp::start(&[("DEV_IDP_RECORD_SECRETS", idp_record.to_str().unwrap())]);
    let m = Machine::new(BIN, &idp);
    let mut transcript = String::new();
    let mut run = |args: &[&str]| {
        let mut cmd = m.command(&[&["--pin-stdin", "-vv"], args].concat());
        cmd.env("RUST_LOG", "trace")
            .env("LATCHKEY_DRIVER_RECORD", &driver_record);
        let out = pipe(cmd, PIN);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        transcript.push_str(&stdout(&out));
        transcript.push_str(&stderr(&out));
    };
    run(&["login"]);
    run(&["refresh"]);
    run(&["--json", "userinfo"]);
    run(&["--json", "call", &idp.api]);
    run(&["status"]);

    // The vault key and ID token, read the way the CLI does: unlock the vault with the PIN.
    let key_file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.vault_dir().join("vault.key.json")).unwrap())
            .unwrap();
    let key = PinProtector::default()
        .release(&key_file["wrapped"], &pin())
        .unwrap();
    let vault = m.vault();
    vault.unlock(&pin()).unwrap();
    let stored = vault.load().unwrap().unwrap();

    let mut secrets = Secrets::from_records(&idp_record, &driver_record);
    secrets.add("id_token", stored.id_token.as_ref().unwrap().expose());
    secrets.add_key("vault_key", key.expose());
    secrets.add("pin", PIN);
    secrets.add_dpop_key(
        stored
            .dpop_key
            .as_ref()
            .expect("the dev IdP session is DPoP-bound"),
    );
    for kind in [
        "dpop_private_key",
        "authorization_code",
        "access_token",
        "refresh_token",
        "state",
        "code_verifier",
    ] {
        assert!(
            secrets.count(kind) >= 1,
            "no {kind} recorded: the scan would prove nothing"
        );
    }
    assert!(
        transcript.contains("TRACE") || transcript.contains("DEBUG"),
        "logs were captured"
    );
    assert!(
        transcript.lines().count() > 50,
        "trace logs from the HTTP stack too"
    );
    assert_eq!(
        secrets.found_in(transcript.as_bytes()),
        Vec::<String>::new(),
        "in output or logs"
    );
    assert_eq!(
        secrets.found_in_dir(m.data.path()),
        vec![],
        "in the data directory"
    );
}
