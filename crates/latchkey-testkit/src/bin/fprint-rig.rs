//! The fingerprint rig (`latchkey_testkit::fprint_rig`) for tests outside Rust (the window test):
//! prints `{"system_bus": …, "session_bus": …}` on one line once fprintd has a finger enrolled,
//! then takes one command a line on stdin and answers `ok` when it is done:
//! `scan <id>` (waits until the reader listens), `remove` (deletes the enrolment), `enrol`.
//! Stops every daemon when stdin closes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(target_os = "linux")]
fn main() {
    use std::io::{BufRead, Write};

    use latchkey_testkit::fprint_rig::FprintRig;

    let rig = FprintRig::start();
    let mut out = std::io::stdout();
    let ready = serde_json::json!({
        "system_bus": rig.system_bus(),
        "session_bus": rig.session_bus(),
    });
    writeln!(out, "{ready}").unwrap();
    out.flush().unwrap();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("scan"), Some(id)) => rig.scan(id),
            (Some("remove"), None) => rig.remove_enrolment(),
            (Some("enrol"), None) => rig.enrol(),
            _ => {
                writeln!(out, "unknown command: {line}").unwrap();
                continue;
            }
        }
        writeln!(out, "ok").unwrap();
        out.flush().unwrap();
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the fingerprint rig runs on Linux only");
    std::process::exit(1);
}
