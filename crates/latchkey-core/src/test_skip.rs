//! Tests that can't run on this machine say so instead of passing quietly: each skip is printed,
//! appended to the file `LATCHKEY_SKIP_LOG` names (the test command counts those lines and its
//! last line reports them), and under `CI=true`, where every premise must hold, it is a failure.

use std::io::Write;
use std::path::Path;

/// Records that `test` was skipped for `reason`. Panics under `CI=true`.
pub(crate) fn skip(test: &str, reason: &str) {
    let log = std::env::var_os("LATCHKEY_SKIP_LOG");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    record(log.as_deref().map(Path::new), ci, test, reason);
}

fn record(log: Option<&Path>, ci: bool, test: &str, reason: &str) {
    assert!(!ci, "{test}: {reason} (CI=true: a skip is a failure)");
    eprintln!("skipped: {test}: {reason}");
    if let Some(path) = log {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("the skip log opens");
        writeln!(file, "{test}: {reason}").expect("the skip is recorded");
    }
}

/// Whether this machine has IPv6 loopback, asked of the OS directly with a std listener (not
/// through the code under test). When it hasn't, `test` is skipped ([`skip`]).
pub(crate) fn ipv6_loopback(test: &str) -> bool {
    match std::net::TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, 0)) {
        Ok(_) => true,
        Err(e) => {
            skip(test, &format!("this machine has no IPv6 loopback ({e})"));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_skip_is_a_line_in_the_skip_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("skips");
        record(Some(&log), false, "some_test", "no reader");
        record(Some(&log), false, "other_test", "no IPv6 loopback");
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "some_test: no reader\nother_test: no IPv6 loopback\n"
        );
    }

    #[test]
    fn under_ci_a_skip_is_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("skips");
        let caught = std::panic::catch_unwind(|| record(Some(&log), true, "some_test", "why"));
        assert!(caught.is_err());
        assert!(!log.exists(), "nothing recorded: the test failed instead");
    }
}
