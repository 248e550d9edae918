//! The `latchkey` binary as scripts use it: exit codes, JSON output, and the sign-in journey
//! against the real dev IdP with the headless login driver as `BROWSER`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

use latchkey_testkit::{browser_command, DevIdp};

fn latchkey(idp: Option<&DevIdp>, args: &[&str]) -> Output {
    latchkey_as(idp, "login", args)
}

fn latchkey_as(idp: Option<&DevIdp>, action: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env("BROWSER", browser_command("alice", action))
        .env("LATCHKEY_CLIENT_ID", "latchkey-native")
        .env("LATCHKEY_PARAMS", "prompt=consent")
        .env("LATCHKEY_LOGIN_TIMEOUT_SECS", "30");
    match idp {
        Some(idp) => cmd.env("LATCHKEY_ISSUER", &idp.issuer),
        None => cmd.env_remove("LATCHKEY_ISSUER"),
    };
    cmd.output().expect("run latchkey")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn login_then_call_of_userinfo_prints_alices_profile() {
    let idp = DevIdp::start(&[]);
    let userinfo = format!("{}/me", idp.issuer);
    let out = latchkey(Some(&idp), &["login", "--then", "call", &userinfo]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Signed in: Alice Example"), "{text}");
    assert!(text.contains("\"sub\":\"alice\""), "{text}");
    assert!(text.contains("\"name\":\"Alice Example\""), "{text}");
}

#[test]
fn login_json_prints_a_status_object_without_any_token() {
    let idp = DevIdp::start(&[]);
    let out = latchkey(Some(&idp), &["--json", "login", "--then", "refresh"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2);
    let status = &lines[0]["status"];
    assert_eq!(status["state"], "signed_in");
    assert_eq!(status["subject"], "alice");
    assert_eq!(status["has_refresh_token"], true);
    assert_eq!(lines[1]["status"]["rotation_count"], 1);
    for key in [
        "\"access_token\"",
        "\"refresh_token\"",
        "\"id_token\"",
        "\"code\"",
        "eyJ",
    ] {
        assert!(!text.contains(key), "{key} in {text}");
    }
}

#[test]
fn watch_prints_each_refresh_as_it_happens() {
    let idp = DevIdp::start(&[
        ("DEV_IDP_ACCESS_TOKEN_TTL", "3"),
        ("DEV_IDP_CLOCK_TOLERANCE", "0"),
    ]);
    let out = latchkey(Some(&idp), &["login", "--then", "watch", "--count", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let refreshed: Vec<_> = text
        .lines()
        .filter(|l| l.contains("refreshed (scheduled"))
        .collect();
    assert_eq!(refreshed.len(), 2, "{text}");
    assert!(refreshed[0].contains("refresh token rotated"), "{text}");
}

#[test]
fn login_then_logout_revokes() {
    let idp = DevIdp::start(&[]);
    let out = latchkey(Some(&idp), &["login", "--then", "logout"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("the refresh token was revoked"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_denied_sign_in_exits_1_and_says_cancelled() {
    let idp = DevIdp::start(&[]);
    let out = latchkey_as(Some(&idp), "deny", &["login"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cancelled"), "{}", stderr(&out));
}

#[test]
fn a_command_that_needs_a_session_exits_3_without_one() {
    let idp = DevIdp::start(&[]);
    let out = latchkey(Some(&idp), &["--json", "call", &idp.api]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let error: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(error["error"]["kind"], "not_signed_in");
}

#[test]
fn missing_or_invalid_configuration_exits_2_naming_the_field() {
    let out = latchkey(None, &["status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`issuer` is required"),
        "{}",
        stderr(&out)
    );

    let out = latchkey(None, &["--issuer", "http://idp.example.com", "status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`issuer` must use https"),
        "{}",
        stderr(&out)
    );

    let out = latchkey(
        None,
        &[
            "--issuer",
            "https://idp.example.com",
            "--param",
            "nokey",
            "status",
        ],
    );
    assert_eq!(out.status.code(), Some(2));

    let out = latchkey(
        None,
        &["--issuer", "https://x.example", "login", "--then", "bogus"],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_unreachable_issuer_exits_4() {
    // Port 9 on loopback: nothing listens there.
    let out = latchkey(None, &["--issuer", "http://127.0.0.1:9", "login"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("discovery endpoint unavailable"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_config_file_is_read_and_flags_override_it() {
    let idp = DevIdp::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("latchkey.toml");
    std::fs::write(
        &file,
        format!(
            "issuer = \"{}\"\nclient_id = \"wrong-client\"\n[params]\nprompt = \"consent\"\n",
            idp.issuer
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args([
            "--config",
            file.to_str().unwrap(),
            "--client-id",
            "latchkey-native",
            "--json",
        ])
        .args(["login", "--then", "status"])
        .env_remove("LATCHKEY_ISSUER")
        .env_remove("LATCHKEY_CLIENT_ID")
        .env_remove("LATCHKEY_PARAMS")
        .env("BROWSER", browser_command("bob", "login"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("\"subject\":\"bob\""),
        "{}",
        stdout(&out)
    );

    std::fs::write(&file, "issuer = \"https://x.example\"\nunknown_key = 1\n").unwrap();
    let out = latchkey(None, &["--config", file.to_str().unwrap(), "status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown_key"), "{}", stderr(&out));
}
