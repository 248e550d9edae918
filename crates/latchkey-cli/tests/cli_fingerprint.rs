//! The CLI's `--fingerprint` journey against the real daemons: the dev IdP, fprintd with
//! libfprint's virtual reader and gnome-keyring (testkit's fingerprint rig), each command a new
//! process as a user runs them. Needs the `test-rig` build (the only one that reads the rig's
//! buses from the environment): `cargo test -p latchkey-cli --features test-rig --test
//! cli_fingerprint`, which the test command runs.
#![cfg(all(target_os = "linux", feature = "test-rig"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Output, Stdio};

use latchkey_testkit::cli::{assert_exit, start, stderr, Machine, PIN};
use latchkey_testkit::fprint_rig::{self, FprintRig, GOOD};
use latchkey_testkit::DevIdp;

/// `latchkey ARGS` on the rig's buses, with `stdin`, while finger `finger` (if any) is placed
/// on the reader.
fn run(
    m: &Machine,
    rig: &FprintRig,
    args: &[&str],
    stdin: Option<&str>,
    finger: Option<&str>,
) -> Output {
    let mut cmd = m.command(args);
    cmd.env("LATCHKEY_TEST_SYSTEM_BUS", rig.system_bus())
        .env("LATCHKEY_TEST_SESSION_BUS", rig.session_bus());
    std::thread::scope(|s| {
        if let Some(id) = finger {
            s.spawn(move || rig.scan(id));
        }
        start(cmd, stdin, Stdio::piped())
            .wait_with_output()
            .unwrap()
    })
}

#[test]
fn the_cli_signs_in_with_fingerprint_unlock_kept_in_the_keyring_and_a_later_command_unlocks_with_the_finger(
) {
    assert!(
        fprint_rig::available(),
        "the fingerprint rig needs fprintd, python3-dbusmock, gnome-keyring (scripts/deps.sh)"
    );
    let rig = FprintRig::start();
    let idp = DevIdp::start(&[]);
    let m = Machine::new(env!("CARGO_BIN_EXE_latchkey"), &idp);
    let pin = format!("{PIN}\n");

    // `--fingerprint` alone is refused before anything happens: the CLI can keep the key only
    // in the keyring, and that is the user's explicit choice.
    let out = run(
        &m,
        &rig,
        &["--pin-stdin", "login", "--fingerprint"],
        Some(&pin),
        None,
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("--keep-in-keyring"),
        "{}",
        stderr(&out)
    );
    assert!(rig.keyring_items_another_program_finds().is_empty());

    // Chosen: the PIN, the finger, the browser sign-in; the key is in the keyring.
    let out = run(
        &m,
        &rig,
        &["--pin-stdin", "login", "--fingerprint", "--keep-in-keyring"],
        Some(&pin),
        Some(GOOD),
    );
    assert_exit(&out, 0);
    assert_eq!(rig.keyring_items_another_program_finds().len(), 1);

    // A later command, a new process, no PIN on stdin: a finger that isn't enrolled is refused
    // (and with no PIN to fall back on, the command fails); the enrolled finger unlocks.
    let out = run(&m, &rig, &["unlock", "--fingerprint"], None, Some("bad"));
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("no match"), "{}", stderr(&out));
    let out = run(&m, &rig, &["unlock", "--fingerprint"], None, Some(GOOD));
    assert_exit(&out, 0);

    // Signing out deletes the keyring item with the vault.
    let out = run(&m, &rig, &["--pin-stdin", "logout"], Some(&pin), None);
    assert_exit(&out, 0);
    assert!(rig.keyring_items_another_program_finds().is_empty());
}
