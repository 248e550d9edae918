//! The commands a CLI run performs (`status`, `call`, `logout`, ...): their grammar, shared by the
//! command line and `login --then`, and what each needs before it runs.

use clap::Subcommand;
use url::Url;

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Show the session (who, token lifetimes, refresh schedule); never a token.
    Status,
    /// GET a URL with a fresh access token and print the body.
    Call {
        /// The URL (https, or http on loopback).
        url: Url,
    },
    /// Print the userinfo claims.
    Userinfo,
    /// Refresh the access token now.
    Refresh {
        /// Refresh this many times in a row.
        #[arg(long, default_value_t = 1, value_name = "N")]
        repeat: u32,
    },
    /// Unlock the vault and resume the session silently (one refresh, no browser).
    Unlock,
    /// Lock: forget the key and tokens in memory (a CLI process never keeps them past one
    /// command, so this only confirms the vault is locked).
    Lock,
    /// Stay signed in and print each refresh as it happens (Ctrl-C to stop).
    Watch {
        /// Exit after this many refreshes.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Revoke the refresh token and forget the session.
    Logout {
        /// Also end the browser session at the server (opens the end-session page).
        #[arg(long)]
        end_session: bool,
    },
}

impl Action {
    /// Whether the command needs the refresh token, so a locked session is unlocked first.
    /// `logout` unlocks on its own terms (it works without the PIN too).
    pub fn needs_key(&self) -> bool {
        !matches!(self, Action::Status | Action::Lock | Action::Logout { .. })
    }
}
