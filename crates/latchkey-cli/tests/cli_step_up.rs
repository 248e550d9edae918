//! `latchkey call` on an API that asks for a step-up (RFC 9470), against the real dev IdP: with a
//! browser (`BROWSER`, the login driver) it confirms through it and retries once; without one it
//! exits 6 and says, in `--json` too, what was asked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_testkit::cli::{assert_exit, pipe, stderr, stdout, Machine, PIN};
use latchkey_testkit::DevIdp;

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn call_confirms_through_the_browser_and_json_says_what_was_asked() {
    let idp = DevIdp::start(&[]);
    let m = Machine::new(BIN, &idp);
    m.login();
    let url = format!("{}/api/step-up", idp.issuer);
    let out = m.with_pin(&["--json", "call", &url]);
    assert_exit(&out, 0);
    let lines = json_lines(&out);
    assert_eq!(
        lines[0]["step_up"]["acr_values"][0], "urn:latchkey:mfa",
        "{lines:?}"
    );
    let response = lines.last().unwrap();
    assert_eq!(response["http_status"], 200, "{response}");
    assert_eq!(response["body"]["acr"], "urn:latchkey:mfa");
    assert_eq!(idp.stats_blocking()["step_up_demands"], 1);
}

#[test]
fn call_without_a_browser_exits_6_and_names_the_level_asked() {
    let idp = DevIdp::start(&[]);
    let m = Machine::new(BIN, &idp);
    m.login();
    let url = format!("{}/api/step-up", idp.issuer);
    let mut cmd = m.command(&["--pin-stdin", "--json", "call", &url]);
    cmd.env_remove("BROWSER")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY");
    let out = pipe(cmd, &format!("{PIN}\n"));
    assert_exit(&out, 6);
    let lines = json_lines(&out);
    let error = &lines.last().unwrap()["error"];
    assert_eq!(error["kind"], "step_up_required");
    assert_eq!(error["step_up"]["acr_values"][0], "urn:latchkey:mfa");
    assert!(
        stderr(&out).contains("confirm it's you"),
        "{}",
        stderr(&out)
    );
    // The session goes on: another call works.
    let out = m.with_pin(&["call", &idp.api]);
    assert_exit(&out, 0);
}
