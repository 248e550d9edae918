//! `latchkey`: a headless front end on latchkey-core.
//!
//! ```text
//! latchkey [--config FILE] [--issuer URL] [--client-id ID] [--scope S]... [--param K=V]... [--json] <command>
//!   login [--then <command> ...]   sign in through the browser (honours BROWSER)
//!   status                          the session, without any token
//!   call <URL>                      GET with a fresh access token; prints the body
//!   userinfo                        the userinfo claims
//!   refresh                         refresh now
//!   watch [--count N]               stay signed in, print each refresh as it happens
//!   logout [--end-session]          revoke, forget, optionally end the browser session
//! ```
//!
//! Every command runs on the same facade as the app (`latchkey::Latchkey`). The session is
//! stored in the vault; after `login`, the other commands use its issuer and client without flags.
//!
//! Exit codes: 0 ok, 2 usage or configuration, 3 sign-in required, 4 network or server
//! unavailable, 5 vault locked, 1 anything else. `--json` output never contains a token.

mod action;
mod cli;
mod commands;
mod output;
mod pin;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    output::init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("latchkey: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let json = cli.json;
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            output::print_failure(&failure, json);
            ExitCode::from(failure.exit_code())
        }
    }
}
