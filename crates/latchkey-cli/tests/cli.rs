//! The `latchkey` binary as scripts use it, against the real dev IdP with the headless login
//! driver as `BROWSER`, each test with its own data directory: exit codes and JSON output of the
//! journeys (login, the next day's unlock, watch, logout, a denied sign-in, offline), and
//! processes sharing one vault (concurrent refreshes, kill -9). Configuration is in
//! `cli_config.rs`, the secret scan in `cli_secrets.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey::SecretStore;
use latchkey_testkit::cli::{
    assert_exit, assert_stderr_has, assert_stdout_has, pin, pipe, stderr, stdout, stdout_json,
    Machine, PIN,
};
use latchkey_testkit::DevIdp;

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

/// After a logout, the vault directory holds nothing but its (empty) lock file.
fn assert_only_the_lock_file_is_left(m: &Machine) {
    let left: Vec<String> = std::fs::read_dir(m.vault_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.iter().all(|n| n == "vault.lock"),
        "only the empty lock file may stay: {left:?}"
    );
}

#[test]
fn the_next_day_journey_one_pin_no_browser() {
    let idp = DevIdp::start(&[
        ("DEV_IDP_ACCESS_TOKEN_TTL", "2"),
        ("DEV_IDP_CLOCK_TOLERANCE", "0"),
    ]);
    let m = Machine::new(BIN, &idp);
    m.login();

    // A new process: locked, but it knows who.
    let out = m.run(&["status"], None);
    assert_eq!(out.status.code(), Some(0));
    assert_stdout_has(&out, "locked — Alice Example");
    let out = m.run(&["--json", "status"], None);
    let status: serde_json::Value = stdout_json(&out);
    assert_eq!(status["status"]["state"], "locked");
    assert_eq!(status["status"]["has_refresh_token"], true);

    // Commands that need the key say so with exit 5 when no PIN can be asked for.
    let userinfo = format!("{}/me", idp.issuer);
    let out = m.run(&["call", &userinfo], None);
    assert_exit(&out, 5);

    // Unlock with the PIN: one silent refresh, then the API works. The browser driver is
    // disarmed to prove no browser step happens.
    let mut no_browser = m.command(&["--pin-stdin", "--json", "unlock"]);
    no_browser.env("BROWSER", "/bin/false");
    let out = pipe(no_browser, PIN);
    assert_exit(&out, 0);
    let unlocked: serde_json::Value = stdout_json(&out);
    assert_eq!(unlocked["status"]["state"], "signed_in");
    assert_eq!(unlocked["status"]["refresh_count"], 1);
    // The DPoP key came out of the vault with the refresh token: the refresh in this new
    // process was bound to it (the dev IdP refuses a bound refresh token without its key).
    assert_eq!(unlocked["status"]["key_bound"], true);
    let out = m.with_pin(&["unlock"]);
    assert_exit(&out, 0);
    assert_stdout_has(&out, "refresh token: held, bound to this device's DPoP key");

    let out = m.with_pin(&["call", &userinfo]);
    assert_exit(&out, 0);
    assert_stdout_has(&out, "\"name\":\"Alice Example\"");
}

#[test]
fn a_wrong_pin_exits_5_and_counts_down() {
    let idp = DevIdp::start(&[]);
    let m = Machine::new(BIN, &idp);
    m.login();
    let out = m.run(&["--pin-stdin", "refresh"], Some("not-the-pin\n"));
    assert_eq!(out.status.code(), Some(5));
    assert_stderr_has(&out, "4 attempt(s) left");
    let out = m.with_pin(&["refresh"]);
    assert_exit(&out, 0);
}

#[test]
fn login_json_prints_a_status_object_without_any_token() {
    let idp = DevIdp::start(&[]);
    let m = Machine::new(BIN, &idp);
    let out = m.with_pin(&["--json", "login", "--then", "refresh"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["status"]["state"], "signed_in");
    assert_eq!(lines[0]["status"]["subject"], "alice");
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
    let m = Machine::new(BIN, &idp);
    m.login();
    let out = m.with_pin(&["watch", "--count", "2"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let refreshed: Vec<_> = text.lines().filter(|l| l.contains("refreshed (")).collect();
    assert!(refreshed.len() >= 2, "{text}");
    assert!(
        text.contains("refreshed (scheduled, refresh token rotated)"),
        "{text}"
    );
}

#[test]
fn logout_revokes_and_wipes_the_vault() {
    let idp = DevIdp::start(&[]);
    let m = Machine::new(BIN, &idp);
    m.login();
    let out = m.with_pin(&["logout"]);
    assert_exit(&out, 0);
    assert_stdout_has(&out, "the refresh token was revoked");
    assert_only_the_lock_file_is_left(&m);
    let out = m.run(&["status"], None);
    assert!(stdout(&out).contains("signed out"));
}

#[test]
fn logout_without_the_pin_still_erases_the_local_session() {
    let idp = DevIdp::start(&[]);
    let m = Machine::new(BIN, &idp);
    m.login();
    let out = m.run(&["logout"], None);
    assert_exit(&out, 0);
    assert_stderr_has(&out, "not revoked");
    assert!(!m.vault_dir().join("vault.stronghold").exists());
}

/// A sign-in the user denies exits 1 and stores nothing. Over a stored session, the facade (as in
/// the app) refuses a second sign-in before any PIN or browser: sign out first. The stored
/// session survives either way.
#[test]
fn a_denied_sign_in_exits_1_and_keeps_the_previous_session() {
    let idp = DevIdp::start(&[]);
    let mut m = Machine::new(BIN, &idp);
    m.driver_action = "deny";
    let out = m.run(&["--pin-stdin", "login"], Some("another-pin-99\n"));
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(&out, "cancelled");
    assert!(!m.vault_dir().join("vault.key.json").exists());

    m.driver_action = "login";
    m.login();
    m.driver_action = "deny";
    let out = m.run(&["--pin-stdin", "login"], Some("another-pin-99\n"));
    assert_eq!(out.status.code(), Some(1));
    assert_stderr_has(&out, "sign out before signing in again");
    m.driver_action = "login";
    let out = m.with_pin(&["refresh"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the old session survives: {}",
        stderr(&out)
    );
}

#[test]
fn status_and_call_after_login_need_no_issuer_flags() {
    let idp = DevIdp::start(&[]);
    let m = Machine::new(BIN, &idp);
    m.login();

    let out = m.bare(&["status"], None);
    assert_exit(&out, 0);
    assert_stdout_has(&out, &format!("locked — Alice Example at {}", idp.issuer));
    let pin = format!("{PIN}\n");
    let out = m.bare(
        &["--pin-stdin", "call", &format!("{}/me", idp.issuer)],
        Some(&pin),
    );
    assert_exit(&out, 0);
    assert_stdout_has(&out, "\"name\":\"Alice Example\"");
    let out = m.bare(&["--pin-stdin", "--json", "unlock"], Some(&pin));
    assert_exit(&out, 0);
    let unlocked: serde_json::Value = stdout_json(&out);
    assert_eq!(unlocked["status"]["state"], "signed_in");
}

/// Flags naming another client than the stored session's are an error that names both, rather
/// than "signed out" (and a logout that would erase the other session unrevoked).
#[test]
fn a_stored_session_for_another_client_is_reported_and_left_alone() {
    let idp = DevIdp::start(&[]);
    let m = Machine::new(BIN, &idp);
    m.login();
    for args in [&["status"][..], &["logout"], &["--pin-stdin", "login"]] {
        let out = m.run(&[&["--client-id", "another-app"], args].concat(), Some(PIN));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert_stderr_has(&out, &format!(
                "the stored session is for client `latchkey-native` at {}, not client `another-app`",
                idp.issuer
            ));
    }
    assert!(m.vault_dir().join("vault.key.json").exists());
    let out = m.with_pin(&["refresh"]);
    assert_exit(&out, 0);
}

/// As in the app: offline, the PIN still unlocks; the status says offline and the refresh is
/// retried later. Only a wrong PIN or a server that ends the session fails an unlock.
#[test]
fn unlock_while_the_idp_is_down_unlocks_and_reports_offline_like_the_app() {
    let idp = DevIdp::start(&[]);
    let m = Machine::new(BIN, &idp);
    m.login();
    drop(idp);

    let out = m.with_pin(&["--json", "unlock"]);
    assert_exit(&out, 0);
    let unlocked: serde_json::Value = stdout_json(&out);
    assert_eq!(unlocked["status"]["state"], "signed_in");
    assert_eq!(unlocked["status"]["offline"], true);
    let out = m.with_pin(&["unlock"]);
    assert_exit(&out, 0);
    assert_stdout_has(&out, "offline");

    // What needs the server still says it is unavailable.
    let out = m.with_pin(&["refresh"]);
    assert_exit(&out, 4);
}

/// `logout` without flags signs out of the stored session: the facade revokes and erases the
/// vault (the CLI erases nothing itself). Afterwards nothing is remembered.
#[test]
fn logout_erases_the_vault_through_the_facade() {
    let idp = DevIdp::start(&[]);
    let m = Machine::new(BIN, &idp);
    m.login();
    let pin = format!("{PIN}\n");
    let out = m.bare(&["--pin-stdin", "logout"], Some(&pin));
    assert_exit(&out, 0);
    assert_stdout_has(&out, "the refresh token was revoked");
    assert_only_the_lock_file_is_left(&m);
    let out = m.bare(&["status"], None);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no stored session to take the issuer from"
    );
    let out = m.run(&["status"], None);
    assert_exit(&out, 0);
    assert_stdout_has(&out, "signed out");
}

/// 50 refreshes from two processes at once, then 20 processes at once, all sharing one vault
/// against a server that revokes the whole grant on refresh-token reuse: the session survives.
#[test]
fn concurrent_processes_sharing_the_vault_never_spend_the_same_refresh_token() {
    let idp = DevIdp::start(&[]);
    let m = Machine::new(BIN, &idp);
    m.login();

    let spawn = |args: &[&str]| m.spawn_with_pin(args);
    let two: Vec<_> = (0..2)
        .map(|_| spawn(&["refresh", "--repeat", "25"]))
        .collect();
    for child in two {
        let out = child.wait_with_output().unwrap();
        assert_exit(&out, 0);
    }
    let twenty: Vec<_> = (0..20).map(|_| spawn(&["refresh"])).collect();
    for child in twenty {
        let out = child.wait_with_output().unwrap();
        assert_exit(&out, 0);
    }
    let out = m.with_pin(&["call", &format!("{}/me", idp.issuer)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the session still works: {}",
        stderr(&out)
    );
}

/// kill -9 at random instants during a loop of refreshes. After every kill the vault must open
/// and unlock; the session survives unless the kill fell between the server rotating the refresh
/// token and our write (then the next refresh gets invalid_grant and we sign in again).
/// `LATCHKEY_CHAOS_KILLS` sets the number of kills (default 20; the bench runs 200), and
/// `LATCHKEY_CHAOS_MODE=watch` kills during `watch` with a 3-second token (a refresh every ~2 s,
/// a realistic cadence) instead of during back-to-back refreshes (the worst case).
///
/// Each kill is proven to interrupt a running loop: the child has had a refresh granted by the
/// dev IdP (`/dev/stats`) before the random instant, and it dies of SIGKILL, not of an exit of its
/// own. The instants come from a seed, printed, that `LATCHKEY_CHAOS_SEED` replays.
#[test]
fn kill_dash_nine_during_refreshes_never_leaves_an_unreadable_vault() {
    use std::os::unix::process::ExitStatusExt;
    let kills: u32 = std::env::var("LATCHKEY_CHAOS_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let watch_mode = std::env::var("LATCHKEY_CHAOS_MODE").is_ok_and(|m| m == "watch");
    let knobs: &[(&str, &str)] = if watch_mode {
        &[
            ("DEV_IDP_ACCESS_TOKEN_TTL", "3"),
            ("DEV_IDP_CLOCK_TOLERANCE", "0"),
        ]
    } else {
        &[]
    };
    let (args, max_delay_ms): (&[&str], u64) = if watch_mode {
        (&["watch"], 3000)
    } else {
        (&["refresh", "--repeat", "100000"], 400)
    };
    let idp = DevIdp::start(knobs);
    let m = Machine::new(BIN, &idp);
    m.login();
    let seed: u64 = std::env::var("LATCHKEY_CHAOS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    // Shown with the failure (libtest prints a failed test's output): rerun with it.
    println!("chaos: seed {seed} (LATCHKEY_CHAOS_SEED={seed} replays these instants)");
    let mut state = seed | 1; // xorshift never leaves 0
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let refresh_grants = || {
        idp.stats_blocking()["grants"]["refresh_token"]
            .as_u64()
            .unwrap_or(0)
    };
    let (mut opened, mut survived, mut during) = (0u32, 0u32, 0u64);
    for kill in 0..kills {
        let before = refresh_grants();
        let mut child = m.spawn_with_pin(args);
        // The loop is running once the IdP has granted this child a refresh (its unlock, or the
        // first of the loop). The deadline only turns a hang into a failure.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while refresh_grants() == before {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("kill {kill}: the child ended ({status}) before its first refresh");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "kill {kill}: no refresh granted in 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // Chaos injection, not a timing assertion: kill somewhere in the refresh loop.
        std::thread::sleep(std::time::Duration::from_millis(next() % max_delay_ms));
        assert!(
            child.try_wait().unwrap().is_none(),
            "kill {kill}: the child had already exited, so nothing was interrupted"
        );
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "kill {kill}: the child must die of the kill, not exit by itself ({status})"
        );
        during += refresh_grants() - before;

        let vault = m.vault();
        vault
            .unlock(&pin())
            .expect("the vault always opens after kill -9");
        vault
            .load()
            .expect("and its session always reads")
            .expect("a session is stored");
        opened += 1;

        let out = m.with_pin(&["refresh"]);
        match out.status.code() {
            Some(0) => survived += 1,
            Some(3) => m.login(), // the unavoidable window: sign in again and go on
            other => panic!("unexpected exit {other:?}: {}", stderr(&out)),
        }
    }
    let mode = if watch_mode {
        "`watch`, a refresh every ~2 s"
    } else {
        "back-to-back refreshes"
    };
    println!("chaos: {kills} kill -9 during {mode}; {during} refreshes granted to the killed processes; vault opened {opened}/{kills}; sessions survived {survived}/{kills}");
    assert_eq!(opened, kills);
    assert!(
        during >= u64::from(kills),
        "each killed process had a refresh granted"
    );
}
