//! How the `latchkey` binary is set up, and what it says before any session exists: a missing
//! or invalid setting exits 2 naming it, an unreachable issuer exits 4, a command that needs a
//! session exits 3 without one, and the config file is read with flags overriding it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_testkit::cli::{
    assert_exit, assert_stderr_has, assert_stdout_has, pipe, stderr, stdout_json, Machine, PIN,
};
use latchkey_testkit::{browser_command, DevIdp};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

#[test]
fn missing_or_invalid_configuration_exits_2_naming_the_field() {
    let m = Machine::without_idp(BIN);
    let out = m.run(&["status"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`issuer` is required (--issuer, LATCHKEY_ISSUER"),
        "the CLI's own hint: {}",
        stderr(&out)
    );

    let out = m.run(&["--issuer", "http://idp.example.com", "status"], None);
    assert_eq!(out.status.code(), Some(2));
    assert_stderr_has(&out, "the issuer must use https");

    let out = m.run(
        &[
            "--issuer",
            "https://idp.example.com",
            "--param",
            "nokey",
            "status",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));

    let out = m.run(
        &["--issuer", "https://x.example", "login", "--then", "bogus"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_unreachable_issuer_exits_4() {
    let m = Machine::without_idp(BIN);
    // Port 9 on loopback: nothing listens there.
    let out = m.run(
        &["--pin-stdin", "--issuer", "http://127.0.0.1:9", "login"],
        Some("correct-horse-42\n"),
    );
    assert_exit(&out, 4);
    assert_stderr_has(&out, "discovery endpoint unavailable");
}

#[test]
fn the_config_file_is_read_and_flags_override_it() {
    let idp = DevIdp::start(&[]);
    let m = Machine::new(BIN, &idp);
    let file = m.data.path().join("latchkey.toml");
    std::fs::write(
        &file,
        format!(
            "issuer = \"{}\"\nclient_id = \"wrong-client\"\n[params]\nprompt = \"consent\"\n",
            idp.issuer
        ),
    )
    .unwrap();
    let mut cmd = m.command(&[
        "--config",
        file.to_str().unwrap(),
        "--client-id",
        "latchkey-native",
    ]);
    cmd.args(["--json", "--pin-stdin", "login"])
        .env_remove("LATCHKEY_ISSUER")
        .env_remove("LATCHKEY_CLIENT_ID")
        .env_remove("LATCHKEY_PARAMS")
        .env("BROWSER", browser_command("bob", "login"));
    let out = pipe(cmd, PIN);
    assert_exit(&out, 0);
    assert_stdout_has(&out, "\"subject\":\"bob\"");

    std::fs::write(&file, "issuer = \"https://x.example\"\nunknown_key = 1\n").unwrap();
    let out = m.run(&["--config", file.to_str().unwrap(), "status"], None);
    assert_eq!(out.status.code(), Some(2));
    assert_stderr_has(&out, "unknown_key");
}

#[test]
fn a_command_that_needs_a_session_exits_3_without_one() {
    let idp = DevIdp::start(&[]);
    let m = Machine::new(BIN, &idp);
    let out = m.run(&["--json", "call", &idp.api], None);
    assert_exit(&out, 3);
    let error: serde_json::Value = stdout_json(&out);
    assert_eq!(error["error"]["kind"], "not_signed_in");
}
