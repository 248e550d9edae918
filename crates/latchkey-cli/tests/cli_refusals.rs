//! A refresh token the server refuses, however it says so, ends the session with exit code 3
//! ("sign in again") — never a protocol error a script would retry forever. Against the dev IdP
//! answering its token errors with a bare, empty-bodied 400 (`DEV_IDP_QUIRKS=bare_token_errors`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use latchkey_testkit::cli::{assert_exit, assert_stderr_has, Machine};
use latchkey_testkit::DevIdp;

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn a_refresh_token_refused_with_a_bare_400_exits_3_on_every_machine_that_holds_it() {
    let idp = DevIdp::start(&[("DEV_IDP_QUIRKS", "bare_token_errors")]);
    let laptop = Machine::new(BIN, &idp);
    laptop.login();
    // A stale copy of the vault elsewhere (a backup restored, a copied profile).
    let copy = Machine::new(BIN, &idp);
    copy_dir(&laptop.vault_dir(), &copy.vault_dir());

    // The laptop refreshes: the server rotates, the copy's refresh token is now retired.
    assert_exit(&laptop.with_pin(&["refresh"]), 0);
    // The copy replays it: the server revokes the whole grant and says so with a bare 400.
    let out = copy.with_pin(&["refresh"]);
    assert_exit(&out, 3);
    assert_stderr_has(&out, "HTTP 400 without an OAuth error");
    // The laptop's grant died with it: exit 3 there too, and the next command says sign in.
    assert_exit(&laptop.with_pin(&["refresh"]), 3);
    assert_exit(&laptop.with_pin(&["status"]), 0);
    assert_exit(&laptop.with_pin(&["call", &idp.api]), 3);
}
