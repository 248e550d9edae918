//! Argument parsing and the commands. Each command is a call into latchkey-core and a print.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use latchkey_core::config::parse_param;
use latchkey_core::{
    ErrorKind, MemoryStore, PartialConfig, Session, SessionEvent, SignOutOptions, SystemBrowser,
};
use url::Url;

use crate::output::{self, Failure};

/// Sign in with OAuth 2.0 / OpenID Connect from a terminal, the way a native app does.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, about, long_about = None)]
pub struct Cli {
    /// A TOML configuration file (issuer, client_id, scopes, [params], timeouts).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The issuer URL (overrides LATCHKEY_ISSUER and the file).
    #[arg(long, global = true, value_name = "URL")]
    issuer: Option<String>,
    /// The public client's id (overrides LATCHKEY_CLIENT_ID and the file).
    #[arg(long, global = true, value_name = "ID")]
    client_id: Option<String>,
    /// A scope to request; repeat or separate with spaces (replaces the configured scopes).
    #[arg(long = "scope", global = true, value_name = "SCOPE")]
    scopes: Vec<String>,
    /// An extra authorization parameter, e.g. `--param prompt=consent`; repeatable.
    #[arg(long = "param", global = true, value_name = "KEY=VALUE", value_parser = parse_param)]
    params: Vec<(String, String)>,
    /// Machine-readable output: one JSON object per line, never a token.
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign in through the system browser (or the BROWSER command).
    Login(LoginArgs),
    #[command(flatten)]
    Action(Action),
}

#[derive(Debug, Args)]
struct LoginArgs {
    /// After signing in, run this command in the same process (e.g. `--then call URL`).
    #[arg(long, num_args = 1.., allow_hyphen_values = true, value_name = "COMMAND")]
    then: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Action {
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
    Refresh,
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

/// The `--then` tail, parsed with the same action grammar.
#[derive(Debug, Parser)]
#[command(name = "latchkey login --then", no_binary_name = true)]
struct Then {
    #[command(subcommand)]
    action: Action,
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let config = load_config(&cli)?;
    let session = Session::new(config, Arc::new(MemoryStore::new()))?;
    let json = cli.json;
    match cli.command {
        Command::Login(args) => {
            let then = if args.then.is_empty() {
                None
            } else {
                Some(
                    Then::try_parse_from(&args.then)
                        .map_err(Failure::Usage)?
                        .action,
                )
            };
            let browser = SystemBrowser::from_env();
            if !json {
                eprintln!("Opening the browser to sign in…");
            }
            let status = tokio::select! {
                status = session.sign_in(&browser) => status?,
                _ = tokio::signal::ctrl_c() => return Err(latchkey_core::Error::Cancelled.into()),
            };
            output::print_status(&status, json, "Signed in");
            match then {
                Some(action) => act(&session, action, json).await,
                None => Ok(()),
            }
        }
        Command::Action(action) => act(&session, action, json).await,
    }
}

async fn act(session: &Session, action: Action, json: bool) -> Result<(), Failure> {
    match action {
        Action::Status => {
            let status = session.status();
            output::print_status(&status, json, "Status");
            Ok(())
        }
        Action::Call { url } => {
            let response = session.get(&url).await?;
            output::print_api_response(&response, json);
            match response.status {
                200..=299 => Ok(()),
                401 => Err(Failure::Core(latchkey_core::Error::ReauthRequired(
                    latchkey_core::ReauthReason::AccessTokenRejected,
                ))),
                status => Err(Failure::HttpStatus(status)),
            }
        }
        Action::Userinfo => {
            let claims = session.userinfo().await?;
            output::print_json_value(&claims);
            Ok(())
        }
        Action::Refresh => {
            let status = session.refresh().await?;
            output::print_status(&status, json, "Refreshed");
            Ok(())
        }
        Action::Watch { count } => watch(session, count, json).await,
        Action::Logout { end_session } => {
            let browser = SystemBrowser::from_env();
            let options = SignOutOptions {
                end_session_in: end_session.then_some(&browser as &dyn latchkey_core::UserAgent),
            };
            let report = session.sign_out(options).await?;
            output::print_sign_out(&report, json);
            Ok(())
        }
    }
}

async fn watch(session: &Session, count: Option<u64>, json: bool) -> Result<(), Failure> {
    let mut events = session.subscribe();
    let _refresher = session.spawn_auto_refresh();
    output::print_status(&session.status(), json, "Watching");
    let mut refreshes = 0u64;
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let event = match event {
            Ok(e) => e,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
        };
        output::print_event(&event, json);
        match &event {
            SessionEvent::Refreshed { .. } => {
                refreshes += 1;
                if count.is_some_and(|n| refreshes >= n) {
                    return Ok(());
                }
            }
            SessionEvent::SessionEnded { reason } => {
                return Err(latchkey_core::Error::ReauthRequired(reason.clone()).into())
            }
            SessionEvent::SignedOut => return Ok(()),
            _ => {}
        }
        if session.status().state != latchkey_core::SessionState::SignedIn {
            return Err(Failure::Core(latchkey_core::Error::NotSignedIn));
        }
    }
}

fn load_config(cli: &Cli) -> Result<latchkey_core::Config, Failure> {
    let file = match &cli.config {
        Some(path) => PartialConfig::from_file(path)?,
        None => PartialConfig::default(),
    };
    let env = PartialConfig::from_env(std::env::vars())?;
    let flags = PartialConfig {
        issuer: cli.issuer.clone(),
        client_id: cli.client_id.clone(),
        scopes: (!cli.scopes.is_empty()).then(|| {
            cli.scopes
                .iter()
                .flat_map(|s| s.split_whitespace())
                .map(str::to_owned)
                .collect()
        }),
        params: cli.params.iter().cloned().collect(),
        ..PartialConfig::default()
    };
    Ok(file.merge(env).merge(flags).finish()?)
}

impl Failure {
    /// The documented exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::HttpStatus(_) => 1,
            Failure::Core(e) => match e.kind() {
                ErrorKind::Configuration => 2,
                ErrorKind::ReauthRequired | ErrorKind::NotSignedIn => 3,
                ErrorKind::Transient => 4,
                ErrorKind::VaultLocked => 5,
                _ => 1,
            },
        }
    }
}
