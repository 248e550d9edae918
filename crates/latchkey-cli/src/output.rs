//! Everything the CLI prints: statuses, events, API responses, failures. Only types that hold no
//! token reach this module, so nothing here can print one.

use latchkey::verbs::StoredProvider;
use latchkey::{ApiResponse, ErrorKind, SessionEvent, SessionState, SessionStatus, SignOutReport};
use serde_json::json;

/// Why the CLI exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// An error from the engine.
    #[error(transparent)]
    Core(latchkey::Error),
    /// A required setting has no value: worded for this CLI (which flag, variable or key sets
    /// it), not taken from the engine's message, which is written for any front end.
    #[error("configuration: `{field}` is required ({hint})", hint = cli_hint(field))]
    MissingConfig {
        /// The configuration field.
        field: &'static str,
    },
    /// A session is stored for another provider than the configuration names.
    #[error(
        "configuration: the stored session is for client `{}` at {}, not client `{client_id}` at {issuer}; \
         to use it or sign it out (`latchkey logout`), leave out --issuer/--client-id, \
         LATCHKEY_ISSUER/LATCHKEY_CLIENT_ID and a --config file that sets them",
        stored.client_id,
        stored.issuer
    )]
    OtherSession {
        /// Whose session the vault holds.
        stored: StoredProvider,
        /// The configured issuer.
        issuer: String,
        /// The configured client.
        client_id: String,
    },
    /// The `--then` tail did not parse.
    #[error("{0}")]
    Usage(clap::Error),
    /// `call` got a non-success status.
    #[error("the API answered HTTP {0}")]
    HttpStatus(u16),
    /// No PIN can be asked for: no terminal and no --pin-stdin.
    #[error("a PIN is needed: run on a terminal or pass --pin-stdin")]
    NoPin,
    /// The two PINs typed differ.
    #[error("the PINs do not match")]
    PinMismatch,
    /// Reading from the terminal failed.
    #[error("could not read the PIN")]
    Terminal(#[source] std::io::Error),
    /// No platform data directory.
    #[error("no data directory could be determined; pass --data-dir")]
    NoDataDir,
    /// Choosing, adding or removing an account failed (an unknown or invalid name among them).
    #[error(transparent)]
    Account(latchkey::AccountError),
    /// Several accounts exist and none was named.
    #[error(
        "there are several accounts ({}): choose one with --account NAME or LATCHKEY_ACCOUNT",
        names.join(", ")
    )]
    AccountNeeded {
        /// The accounts' names.
        names: Vec<String>,
    },
}

impl From<latchkey::AccountError> for Failure {
    fn from(e: latchkey::AccountError) -> Self {
        match e {
            latchkey::AccountError::Engine(e) => e.into(),
            other => Failure::Account(other),
        }
    }
}

/// Where this CLI takes `field` from, by the field's name.
fn cli_hint(field: &str) -> String {
    let remembered = "; after `latchkey login`, the signed-in session's";
    match field {
        "issuer" => {
            format!("--issuer, LATCHKEY_ISSUER or `issuer` in the --config file{remembered}")
        }
        "client_id" => {
            format!(
                "--client-id, LATCHKEY_CLIENT_ID or `client_id` in the --config file{remembered}"
            )
        }
        "api_url" => "LATCHKEY_API_URL or `api_url` in the --config file".to_owned(),
        other => format!("`{other}` in the --config file"),
    }
}

impl From<latchkey::Error> for Failure {
    fn from(e: latchkey::Error) -> Self {
        match e {
            latchkey::Error::Core(latchkey::CoreError::Config(config)) => config.into(),
            other => Failure::Core(other),
        }
    }
}

impl From<latchkey::CoreError> for Failure {
    fn from(e: latchkey::CoreError) -> Self {
        latchkey::Error::from(e).into()
    }
}

impl From<latchkey::ConfigError> for Failure {
    fn from(e: latchkey::ConfigError) -> Self {
        match e {
            latchkey::ConfigError::Missing { field, .. } => Failure::MissingConfig { field },
            other => Failure::Core(other.into()),
        }
    }
}

impl Failure {
    /// The documented exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_)
            | Failure::NoDataDir
            | Failure::MissingConfig { .. }
            | Failure::OtherSession { .. }
            | Failure::AccountNeeded { .. } => 2,
            Failure::Account(e) => match e {
                latchkey::AccountError::InvalidName { .. }
                | latchkey::AccountError::Unknown { .. }
                | latchkey::AccountError::Exists { .. } => 2,
                other => kind_code(other.kind()),
            },
            Failure::HttpStatus(_) | Failure::Terminal(_) => 1,
            Failure::NoPin | Failure::PinMismatch => 5,
            Failure::Core(e) => kind_code(e.kind()),
        }
    }
}

fn kind_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Configuration => 2,
        ErrorKind::ReauthRequired | ErrorKind::NotSignedIn => 3,
        ErrorKind::Transient => 4,
        ErrorKind::Locked => 5,
        ErrorKind::StepUpRequired => 6,
        _ => 1,
    }
}

/// Logs go to stderr; `-v`/`-vv` raise the level, `RUST_LOG` overrides.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,latchkey_core=info",
        _ => "debug,latchkey_core=debug,hyper=info,reqwest=info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

/// Who is signed in, in words: the display name, else the subject.
fn who(status: &SessionStatus) -> &str {
    status
        .display_name
        .as_deref()
        .or(status.subject.as_deref())
        .unwrap_or("(unknown user)")
}

/// Prints a status object (`--json`: the account it is for beside it) or a readable summary.
pub fn print_status(
    account: &latchkey::AccountName,
    status: &SessionStatus,
    json: bool,
    heading: &str,
) {
    if json {
        print_json(&json!({ "account": account, "status": status }));
        return;
    }
    match status.state {
        SessionState::SignedOut => println!("{heading}: signed out"),
        SessionState::Locked => {
            let who = who(status);
            println!("{heading}: locked — {who} at {}", status.issuer);
            println!("  refresh token: stored in the vault; unlock with your PIN to use it");
        }
        SessionState::ReauthRequired => println!(
            "{heading}: sign-in required ({})",
            status
                .reauth_reason
                .as_ref()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "session ended".into())
        ),
        SessionState::SignedIn => {
            let who = who(status);
            println!("{heading}: {who} at {}", status.issuer);
            if let Some(secs) = status.access_token_expires_in_secs {
                let lifetime = status
                    .access_token_lifetime_secs
                    .map(|l| format!(" of {l} s"))
                    .unwrap_or_default();
                println!("  access token: valid for {secs} s{lifetime}");
            } else {
                println!("  access token: obtained on first use");
            }
            println!(
                "  refresh token: {}",
                match (status.has_refresh_token, status.key_bound) {
                    (true, true) => "held, bound to this device's DPoP key",
                    (true, false) => "held",
                    (false, _) => "none issued",
                }
            );
            if let Some(next) = status.next_refresh_in_secs {
                println!("  next refresh: in {next} s");
            }
            println!("  scopes: {}", status.scopes.join(" "));
            if status.offline {
                println!("  offline: the last refresh failed; retrying");
            }
        }
    }
}

/// Prints a session event, one line.
pub fn print_event(event: &SessionEvent, json: bool) {
    if json {
        print_json(&json!(event));
        return;
    }
    let now = chrono_like_now();
    match event {
        SessionEvent::Refreshed {
            trigger,
            rotated,
            status,
        } => println!(
            "{now} refreshed ({}{}): access token valid for {} s, next refresh in {} s",
            serde_json::to_value(trigger)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            if *rotated {
                ", refresh token rotated"
            } else {
                ""
            },
            status.access_token_expires_in_secs.unwrap_or(0),
            status.next_refresh_in_secs.unwrap_or(0),
        ),
        SessionEvent::RefreshFailed {
            message,
            retry_in_secs,
            ..
        } => println!(
            "{now} refresh failed: {message}; retrying in {} s",
            retry_in_secs.unwrap_or(0)
        ),
        SessionEvent::StoreFailed { message } => {
            println!("{now} could not store tokens: {message}")
        }
        SessionEvent::SessionEnded { reason } => println!("{now} session ended: {reason}"),
        SessionEvent::SignedIn { .. } => println!("{now} signed in"),
        SessionEvent::SignedOut => println!("{now} signed out"),
        SessionEvent::Locked => println!("{now} locked"),
        _ => {}
    }
}

fn chrono_like_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    format!("{h:02}:{m:02}:{s:02}Z")
}

/// Says that a call needs a step-up and that the browser opens for it (`--json`: what was
/// asked, as `{"step_up":{"acr_values":…,"max_age":…}}`).
pub fn print_step_up(asked: &latchkey::step_up::StepUpChallenge, json: bool) {
    if json {
        print_json(&json!({ "step_up": asked }));
    } else {
        eprintln!(
            "This call needs {}. Confirm it's you in the browser…",
            asked.describe()
        );
    }
}

/// Prints an API response: the body as is, or a JSON envelope with `--json`.
pub fn print_api_response(response: &ApiResponse, json: bool) {
    if json {
        let body = serde_json::from_slice::<serde_json::Value>(&response.body)
            .unwrap_or_else(|_| json!(String::from_utf8_lossy(&response.body)));
        print_json(&json!({
            "http_status": response.status,
            "content_type": response.content_type,
            "body": body,
        }));
    } else {
        println!("{}", String::from_utf8_lossy(&response.body).trim_end());
    }
}

/// Prints any JSON value, pretty.
pub fn print_json_value(value: &serde_json::Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(_) => println!("{value}"),
    }
}

/// Prints what sign-out did.
pub fn print_sign_out(report: &SignOutReport, json: bool) {
    if json {
        print_json(&json!({ "signed_out": report }));
        return;
    }
    let revocation = match &report.revocation {
        latchkey::RevocationOutcome::Revoked => "the refresh token was revoked".to_string(),
        latchkey::RevocationOutcome::NotSupported => {
            "the server does not support revocation".to_string()
        }
        latchkey::RevocationOutcome::NothingToRevoke => "there was no session".to_string(),
        latchkey::RevocationOutcome::Failed(why) => {
            format!("revocation failed ({why}); the token may stay valid at the server until it expires")
        }
    };
    println!("Signed out: {revocation}; local session forgotten.");
}

/// Prints a failure on stderr (and a JSON error object on stdout with `--json`).
pub fn print_failure(failure: &Failure, json: bool) {
    if let Failure::Usage(e) = failure {
        let _ = e.print();
        return;
    }
    let message = latchkey::error::full_message(failure);
    if json {
        let kind = match failure {
            Failure::Core(e) => json!(e.kind()),
            Failure::NoPin | Failure::PinMismatch => json!("locked"),
            Failure::HttpStatus(_) => json!("http_status"),
            Failure::Usage(_)
            | Failure::NoDataDir
            | Failure::MissingConfig { .. }
            | Failure::OtherSession { .. }
            | Failure::AccountNeeded { .. } => json!("configuration"),
            Failure::Account(e) => json!(e.kind()),
            Failure::Terminal(_) => json!("internal"),
        };
        let mut error = json!({ "kind": kind, "message": message });
        if let Failure::Core(latchkey::Error::Core(latchkey::CoreError::StepUpRequired(asked))) =
            failure
        {
            // What the API asked for (RFC 9470), for a script to act on.
            error["step_up"] = json!(asked);
        }
        print_json(&json!({ "error": error }));
    }
    eprintln!("latchkey: {message}");
}
