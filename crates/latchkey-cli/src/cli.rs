//! Argument parsing, the configuration (flags over env over file over the stored session's
//! provider), and opening the facade each command runs on.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use latchkey::config::parse_param;
use latchkey::verbs::{stored_provider, StoredProvider};
use latchkey::{Latchkey, PartialConfig, PinProtector};

use crate::action::Action;
use crate::commands::Ctx;
use crate::output::Failure;

/// Sign in with OAuth 2.0 / OpenID Connect from a terminal, the way a native app does.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, about, long_about = None)]
pub struct Cli {
    /// A TOML configuration file (issuer, client_id, scopes, [params], timeouts).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The issuer URL (overrides LATCHKEY_ISSUER and the file; default: the stored session's).
    #[arg(long, global = true, value_name = "URL")]
    issuer: Option<String>,
    /// The public client's id (overrides LATCHKEY_CLIENT_ID and the file; default: the stored
    /// session's).
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
    /// Use the fingerprint reader (Linux: fprintd): `login` also sets up fingerprint unlock (the
    /// PIN stays the fallback); an unlock asks for a finger first and falls back to the PIN.
    #[arg(long, global = true)]
    fingerprint: bool,
    /// With `login --fingerprint`: keep the vault key in the login keyring (Secret Service) so a
    /// later command can release it with a finger. Any program you run can read it there. (The
    /// CLI exits after each command, so it can't hold the key in memory as the app does.)
    #[arg(long, global = true)]
    keep_in_keyring: bool,
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

/// The `--then` tail, parsed with the same action grammar.
#[derive(Debug, Parser)]
#[command(name = "latchkey login --then", no_binary_name = true)]
struct Then {
    #[command(subcommand)]
    action: Action,
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let vault_dir = data_dir(cli.data_dir.as_deref())?.join("vault");
    let stored = stored_provider(&vault_dir)?;
    let config = load_config(&cli, stored.as_ref())?;
    if let Some(stored) = stored {
        // The facade would see no session at all (it ignores another provider's) and a sign-in
        // or sign-out would then replace or erase it: say whose it is instead.
        if stored.issuer != config.issuer || stored.client_id != config.client_id {
            return Err(Failure::OtherSession {
                stored,
                issuer: config.issuer,
                client_id: config.client_id,
            });
        }
    }
    let latchkey = open(config, &vault_dir)?;
    let ctx = Ctx {
        latchkey,
        json: cli.json,
        pin_stdin: cli.pin_stdin,
        fingerprint: cli.fingerprint,
        keep_in_keyring: cli.keep_in_keyring,
    };
    let result = dispatch(&ctx, cli.command).await;
    // As the app does when it closes: stop the refresher (a refresh in flight still stores its
    // rotated token), save a rotation whose save failed, and forget the key.
    ctx.latchkey.shutdown().await;
    result
}

async fn dispatch(ctx: &Ctx, command: Command) -> Result<(), Failure> {
    match command {
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
            // The facade refuses a sign-in over a stored session only once it has seen it.
            resume(ctx, then.as_ref()).await?;
            ctx.login().await?;
            match then {
                Some(action) => ctx.act(action).await,
                None => Ok(()),
            }
        }
        Command::Action(action) => {
            resume(ctx, Some(&action)).await?;
            if action.needs_key() {
                ctx.unlock_if_locked().await?;
            }
            ctx.act(action).await
        }
    }
}

/// Finds the stored session. Watching is the one command that runs the background refresher:
/// in any other, a background refresh would only race the command.
async fn resume(ctx: &Ctx, action: Option<&Action>) -> Result<(), Failure> {
    if matches!(action, Some(Action::Watch { .. })) {
        ctx.latchkey.start(None).await?;
    } else {
        ctx.latchkey.resume().await?;
    }
    Ok(())
}

// The test-rig build trusts buses named in the environment: it must never be a release.
#[cfg(all(feature = "test-rig", not(debug_assertions)))]
compile_error!(
    "the `test-rig` feature is for the CLI's fingerprint test build only, never a release"
);

/// The facade, with the PIN always and, on Linux, fingerprint unlock through fprintd on the
/// real system bus. Only a `test-rig` build (the fingerprint test's, never a release) reads
/// `LATCHKEY_TEST_SYSTEM_BUS` / `LATCHKEY_TEST_SESSION_BUS`, the private buses of testkit's
/// fingerprint rig.
fn open(config: latchkey::Config, vault_dir: &Path) -> Result<Latchkey, Failure> {
    let pin = Arc::new(PinProtector::default());
    #[cfg(target_os = "linux")]
    let latchkey = Latchkey::open_with_biometric(
        config,
        vault_dir,
        pin,
        fingerprint(),
        "Unlock your Latchkey session",
    )?;
    #[cfg(not(target_os = "linux"))]
    let latchkey = Latchkey::open(config, vault_dir, pin)?;
    Ok(latchkey)
}

#[cfg(target_os = "linux")]
fn fingerprint() -> Arc<dyn latchkey::vault::KeyProtector> {
    #[cfg(feature = "test-rig")]
    if let (Ok(system), Ok(session)) = (
        std::env::var("LATCHKEY_TEST_SYSTEM_BUS"),
        std::env::var("LATCHKEY_TEST_SESSION_BUS"),
    ) {
        use latchkey::vault::{FingerprintProtector, Fprintd, SecretServiceStorage};
        tracing::warn!("test-rig build: fprintd and the Secret Service on private test buses");
        return Arc::new(FingerprintProtector::new(
            Fprintd::on_bus(&system),
            SecretServiceStorage::on_bus(&session),
        ));
    }
    Arc::new(latchkey::vault::system_fingerprint())
}

fn data_dir(flag: Option<&Path>) -> Result<PathBuf, Failure> {
    match flag {
        Some(dir) => Ok(dir.to_owned()),
        None => directories::ProjectDirs::from("dev", "Latchkey", "latchkey")
            .map(|d| d.data_dir().to_owned())
            .ok_or(Failure::NoDataDir),
    }
}

/// Layers, each overriding the one before: the stored session's provider (so that after `login`
/// no flag is needed), the file, `LATCHKEY_*`, flags.
fn load_config(cli: &Cli, stored: Option<&StoredProvider>) -> Result<latchkey::Config, Failure> {
    let remembered = PartialConfig {
        issuer: stored.map(|s| s.issuer.clone()),
        client_id: stored.map(|s| s.client_id.clone()),
        ..PartialConfig::default()
    };
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
    Ok(remembered.merge(file).merge(env).merge(flags).finish()?)
}
