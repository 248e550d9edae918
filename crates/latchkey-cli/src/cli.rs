//! Argument parsing and the commands. Each command is a call into latchkey-core and a print.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use latchkey_core::config::parse_param;
use std::io::IsTerminal;

use latchkey_core::vault::MIN_PIN_LEN;
use latchkey_core::{
    Credential, ErrorKind, PartialConfig, PinProtector, Session, SessionEvent, SessionState,
    SessionStatus, SignOutOptions, SystemBrowser, Vault,
};
use url::Url;
use zeroize::Zeroizing;

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
    /// Where the vault lives (default: the platform's app-data directory, e.g.
    /// ~/.local/share/latchkey).
    #[arg(long, global = true, value_name = "DIR", env = "LATCHKEY_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Read the PIN from the first line of standard input instead of prompting.
    #[arg(long, global = true)]
    pin_stdin: bool,
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
    let vault = Arc::new(open_vault(cli.data_dir.as_deref())?);
    let session = Session::new(config, vault.clone())?;
    let ctx = Ctx {
        session,
        vault,
        json: cli.json,
        pin_stdin: cli.pin_stdin,
    };
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
            let pin = new_pin(ctx.pin_stdin)?;
            ctx.vault.prepare(&Credential::Pin(pin))?;
            let browser = SystemBrowser::from_env();
            if !ctx.json {
                eprintln!("Opening the browser to sign in…");
            }
            let status = tokio::select! {
                status = ctx.session.sign_in(&browser) => status?,
                _ = tokio::signal::ctrl_c() => return Err(latchkey_core::Error::Cancelled.into()),
            };
            output::print_status(&status, ctx.json, "Signed in");
            match then {
                Some(action) => act(&ctx, action).await,
                None => Ok(()),
            }
        }
        Command::Action(action) => {
            let status = ctx.session.resume().await?;
            let needs_key = !matches!(
                action,
                Action::Status | Action::Lock | Action::Logout { .. }
            );
            if needs_key && status.state == SessionState::Locked {
                ctx.unlock_and_resume(&status).await?;
            }
            act(&ctx, action).await
        }
    }
}

struct Ctx {
    session: Session,
    vault: Arc<Vault>,
    json: bool,
    pin_stdin: bool,
}

impl Ctx {
    /// Asks for the PIN (stdin or terminal), unlocks the vault, and resumes the session.
    async fn unlock_and_resume(&self, locked: &SessionStatus) -> Result<(), Failure> {
        let who = locked
            .display_name
            .as_deref()
            .or(locked.subject.as_deref())
            .unwrap_or("you");
        let pin = existing_pin(self.pin_stdin, &format!("Welcome back, {who}. PIN: "))?;
        self.vault.unlock(&Credential::Pin(pin))?;
        self.session.resume().await?;
        Ok(())
    }
}

async fn act(ctx: &Ctx, action: Action) -> Result<(), Failure> {
    let (session, json) = (&ctx.session, ctx.json);
    match action {
        Action::Status => {
            let status = session.status();
            output::print_status(&status, json, "Status");
            Ok(())
        }
        Action::Unlock => {
            session.fresh_access_token().await?;
            output::print_status(&session.status(), json, "Unlocked");
            Ok(())
        }
        Action::Lock => {
            let status = session.lock().await;
            ctx.vault.lock();
            output::print_status(&status, json, "Locked");
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
        Action::Refresh { repeat } => {
            for _ in 0..repeat.max(1) {
                let status = session.refresh().await?;
                output::print_status(&status, json, "Refreshed");
            }
            Ok(())
        }
        Action::Watch { count } => watch(session, count, json).await,
        Action::Logout { end_session } => {
            // Revoking needs the refresh token, so try to unlock; signing out locally never
            // depends on it.
            let status = session.status();
            if status.state == SessionState::Locked {
                let unlocked = match existing_pin(ctx.pin_stdin, "PIN (to revoke at the server): ")
                {
                    Ok(pin) => ctx.vault.unlock(&Credential::Pin(pin)).is_ok(),
                    Err(_) => false,
                };
                if unlocked {
                    session.resume().await?;
                } else if !json {
                    eprintln!("The vault stays locked: the refresh token is erased locally but not revoked.");
                }
            }
            let browser = SystemBrowser::from_env();
            let options = SignOutOptions {
                end_session_in: end_session.then_some(&browser as &dyn latchkey_core::UserAgent),
            };
            let report = session.sign_out(options).await?;
            ctx.vault.destroy()?;
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
        if session.status().state != SessionState::SignedIn {
            return Err(Failure::Core(latchkey_core::Error::NotSignedIn));
        }
    }
}

fn open_vault(data_dir: Option<&std::path::Path>) -> Result<Vault, Failure> {
    let base = match data_dir {
        Some(dir) => dir.to_owned(),
        None => directories::ProjectDirs::from("dev", "Latchkey", "latchkey")
            .map(|d| d.data_dir().to_owned())
            .ok_or(Failure::NoDataDir)?,
    };
    Ok(Vault::open(
        &base.join("vault"),
        Arc::new(PinProtector::default()),
    )?)
}

/// A new PIN: from stdin's first line, or typed twice on a terminal.
fn new_pin(from_stdin: bool) -> Result<Zeroizing<String>, Failure> {
    if from_stdin {
        return read_stdin_line();
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::NoPin);
    }
    eprintln!("Choose a PIN or passphrase ({MIN_PIN_LEN}+ characters); you will need it to unlock the stored session.");
    let first = Zeroizing::new(rpassword::prompt_password("New PIN: ").map_err(Failure::Terminal)?);
    let second =
        Zeroizing::new(rpassword::prompt_password("Repeat PIN: ").map_err(Failure::Terminal)?);
    if first != second {
        return Err(Failure::PinMismatch);
    }
    Ok(first)
}

/// The PIN of an existing vault: from stdin's first line, or typed on a terminal.
fn existing_pin(from_stdin: bool, prompt: &str) -> Result<Zeroizing<String>, Failure> {
    if from_stdin {
        return read_stdin_line();
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Core(latchkey_core::StoreError::Locked.into()));
    }
    Ok(Zeroizing::new(
        rpassword::prompt_password(prompt).map_err(Failure::Terminal)?,
    ))
}

fn read_stdin_line() -> Result<Zeroizing<String>, Failure> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .read_line(&mut line)
        .map_err(Failure::Terminal)?;
    let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    Ok(trimmed)
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
            Failure::Usage(_) | Failure::NoDataDir => 2,
            Failure::HttpStatus(_) | Failure::Terminal(_) => 1,
            Failure::NoPin | Failure::PinMismatch => 5,
            Failure::Vault(e) => kind_code(e.kind()),
            Failure::Core(e) => kind_code(e.kind()),
        }
    }
}

fn kind_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Configuration => 2,
        ErrorKind::ReauthRequired | ErrorKind::NotSignedIn => 3,
        ErrorKind::Transient => 4,
        ErrorKind::VaultLocked => 5,
        _ => 1,
    }
}
