//! Several accounts in one data directory through the `latchkey` binary, against the real dev
//! IdP: `login --account NAME` adds one, `accounts [--json]` lists them (never a token),
//! `--account` / `LATCHKEY_ACCOUNT` picks one, one account needs no flag, an unknown one is exit
//! 2 naming it, and kill -9 during one account's refreshes leaves both vaults openable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Output, Stdio};
use std::sync::Arc;

use latchkey::accounts::vault_dir;
use latchkey::AccountName;
use latchkey::{PinProtector, SecretStore, Vault};
use latchkey_testkit::browser_command;
use latchkey_testkit::cli::{
    assert_exit, assert_stderr_has, pin, start, stderr, stdout, Machine, PIN,
};
use latchkey_testkit::DevIdp;

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

/// `latchkey --pin-stdin ARGS` with `user` signing in at the login driver, extra environment
/// `env`.
fn run_as(m: &Machine, user: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = m.command(&[&["--pin-stdin"], args].concat());
    cmd.env("BROWSER", browser_command(user, "login"));
    cmd.envs(env.iter().copied());
    start(cmd, Some(&format!("{PIN}\n")), Stdio::piped())
        .wait_with_output()
        .unwrap()
}

fn sub(out: &Output) -> String {
    assert_exit(out, 0);
    let value: serde_json::Value = serde_json::from_str(stdout(out).trim()).unwrap();
    value["sub"].as_str().unwrap().to_owned()
}

fn alice_and_bob(idp: &DevIdp) -> Machine {
    let m = Machine::new(BIN, idp);
    assert_exit(
        &run_as(&m, "alice", &["login", "--account", "alice"], &[]),
        0,
    );
    assert_exit(&run_as(&m, "bob", &["login", "--account", "bob"], &[]), 0);
    m
}

#[test]
fn two_accounts_are_listed_without_tokens_and_each_command_runs_as_the_one_named() {
    let idp = DevIdp::start(&[]);
    let m = alice_and_bob(&idp);

    let listed = m.run(&["accounts", "--json"], None);
    assert_exit(&listed, 0);
    let lines: Vec<serde_json::Value> = stdout(&listed)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", stdout(&listed));
    for (line, user) in lines.iter().zip(["alice", "bob"]) {
        let account = &line["account"];
        assert_eq!(account["name"], user);
        assert_eq!(account["subject"], user);
        assert_eq!(account["issuer"], idp.issuer.as_str());
        assert_eq!(account["signed_in"], true);
        assert_eq!(account["state"], "locked");
        let mut keys: Vec<&str> = account
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "client_id",
                "display_name",
                "issuer",
                "name",
                "signed_in",
                "state",
                "subject"
            ],
            "names, provider and state only"
        );
    }
    let text = m.run(&["accounts"], None);
    assert_exit(&text, 0);
    assert!(
        stdout(&text).contains("alice\tsigned in (locked)"),
        "{}",
        stdout(&text)
    );

    assert_eq!(
        sub(&m.with_pin(&["--account", "alice", "userinfo"])),
        "alice"
    );
    assert_eq!(
        sub(&run_as(
            &m,
            "bob",
            &["userinfo"],
            &[("LATCHKEY_ACCOUNT", "bob")]
        )),
        "bob"
    );

    // `status --json` names the account it reports on.
    let status = m.run(&["--account", "bob", "status", "--json"], None);
    assert_exit(&status, 0);
    let status: serde_json::Value = serde_json::from_str(stdout(&status).trim()).unwrap();
    assert_eq!(status["account"], "bob");
    assert_eq!(status["status"]["subject"], "bob");

    // Two accounts and none named: exit 2, naming both.
    let none = m.with_pin(&["userinfo"]);
    assert_exit(&none, 2);
    assert_stderr_has(&none, "alice, bob");
    // An account that doesn't exist: exit 2, naming it; nothing created for it.
    let unknown = m.with_pin(&["--account", "carol", "status"]);
    assert_exit(&unknown, 2);
    assert_stderr_has(&unknown, "\"carol\"");
    assert!(!m.data.path().join("accounts/carol").exists());
    let invalid = m.with_pin(&["--account", "../alice", "status"]);
    assert_exit(&invalid, 2);

    // Signing out alice: bob's session stays, and being the only account needs no flag.
    let out = m.with_pin(&["--account", "alice", "logout"]);
    assert_exit(&out, 0);
    assert_eq!(sub(&m.with_pin(&["userinfo"])), "bob");
    let gone = m.with_pin(&["--account", "alice", "userinfo"]);
    assert_exit(&gone, 2);
}

#[test]
fn one_account_signed_in_as_today_needs_no_flag_and_is_listed_as_default() {
    let idp = DevIdp::start(&[]);
    let m = Machine::new(BIN, &idp);
    m.login();
    assert_eq!(sub(&m.with_pin(&["userinfo"])), "alice");
    // Today's layout: the vault where it always was.
    assert!(m.vault_dir().join("vault.key.json").exists());
    let listed = m.run(&["accounts", "--json"], None);
    let line: serde_json::Value = serde_json::from_str(stdout(&listed).trim()).unwrap();
    assert_eq!(line["account"]["name"], "default");
    // A second account beside it: the default keeps working, now by name.
    assert_exit(&run_as(&m, "bob", &["login", "--account", "work"], &[]), 0);
    assert_eq!(
        sub(&m.with_pin(&["--account", "default", "userinfo"])),
        "alice"
    );
    assert_eq!(sub(&m.with_pin(&["--account", "work", "userinfo"])), "bob");
}

#[test]
fn kill_dash_nine_during_alices_refreshes_leaves_both_vaults_openable() {
    use std::os::unix::process::ExitStatusExt;
    let idp = DevIdp::start(&[]);
    let m = alice_and_bob(&idp);
    let refresh_grants = || {
        idp.stats_blocking()["grants"]["refresh_token"]
            .as_u64()
            .unwrap_or(0)
    };
    let open = |account: &str| {
        let dir = vault_dir(m.data.path(), &AccountName::new(account).unwrap());
        let vault = Vault::open(&dir, Arc::new(PinProtector::default())).unwrap();
        vault.unlock(&pin()).expect("the vault opens after kill -9");
        let stored = vault.load().expect("its session reads").expect("stored");
        stored.subject.clone()
    };
    for kill in 0..5u64 {
        let before = refresh_grants();
        let mut child = m.spawn_with_pin(&["--account", "alice", "refresh", "--repeat", "100000"]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while refresh_grants() == before {
            assert!(
                child.try_wait().unwrap().is_none(),
                "kill {kill}: ended early"
            );
            assert!(std::time::Instant::now() < deadline, "no refresh in 60 s");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // Chaos injection, not a timing assertion: somewhere in the refresh loop.
        std::thread::sleep(std::time::Duration::from_millis(37 * kill % 200));
        child.kill().unwrap(); // SIGKILL
        assert_eq!(child.wait().unwrap().signal(), Some(9));

        assert_eq!(open("alice").as_deref(), Some("alice"));
        assert_eq!(open("bob").as_deref(), Some("bob"));
        // Bob's session works, with no sign-in.
        assert_eq!(sub(&m.with_pin(&["--account", "bob", "userinfo"])), "bob");
        let out = m.with_pin(&["--account", "alice", "refresh"]);
        match out.status.code() {
            Some(0) => {}
            // The window between the server's rotation and our write: sign alice in again.
            Some(3) => assert_exit(
                &run_as(&m, "alice", &["login", "--account", "alice"], &[]),
                0,
            ),
            other => panic!("unexpected exit {other:?}: {}", stderr(&out)),
        }
    }
}
