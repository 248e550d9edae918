//! Which account a command runs on (`--account NAME`, `LATCHKEY_ACCOUNT`, or the only one), and
//! `latchkey accounts`, which lists them: name, provider, whether a session is stored. Never a
//! token: the listing reads only the registry and the vaults' non-secret metadata.

use latchkey::registry::{KnownAccount, Registry};
use latchkey::{AccountError, AccountName};
use serde_json::json;

use crate::output::Failure;

/// The account a command runs on.
///
/// - Named (`--account` / `LATCHKEY_ACCOUNT`): it must exist, except for `login`, which adds it,
///   and `default`, today's single-account directory, which always may be used.
/// - Not named: none yet, the default (the first `login`); exactly one, that one (scripts written
///   before accounts keep working); several, a usage error listing them.
///
/// # Errors
/// [`AccountError::InvalidName`], [`AccountError::Unknown`] (exit 2, naming it),
/// [`Failure::AccountNeeded`].
pub fn choose(
    registry: &Registry,
    named: Option<&str>,
    adding: bool,
) -> Result<(AccountName, Option<KnownAccount>), Failure> {
    let known = registry.list()?;
    let Some(named) = named else {
        return match known.len() {
            0 => Ok((AccountName::default(), None)),
            1 => {
                let only = known.into_iter().next();
                let name = only.as_ref().map(|a| a.name.clone()).unwrap_or_default();
                Ok((name, only))
            }
            _ => Err(Failure::AccountNeeded {
                names: known.iter().map(|a| a.name.to_string()).collect(),
            }),
        };
    };
    let name = AccountName::new(named)?;
    let found = known.into_iter().find(|a| a.name == name);
    if found.is_none() && !adding && !name.is_default() {
        return Err(AccountError::Unknown { name }.into());
    }
    Ok((name, found))
}

/// `latchkey accounts`: one line (or one JSON object per line) per account.
pub fn print(registry: &Registry, json: bool) -> Result<(), Failure> {
    let accounts = registry.list()?;
    if accounts.is_empty() && !json {
        println!("No accounts: `latchkey login` signs in the first one.");
    }
    for account in accounts {
        // A CLI process never keeps a key past one command: a stored session is locked here.
        let state = if account.stored {
            "locked"
        } else {
            "signed_out"
        };
        if json {
            println!(
                "{}",
                json!({ "account": {
                    "name": account.name,
                    "issuer": account.provider.issuer,
                    "client_id": account.provider.client_id,
                    "signed_in": account.stored,
                    "state": state,
                    "subject": account.subject,
                    "display_name": account.display_name,
                }})
            );
        } else {
            let who = account
                .display_name
                .as_deref()
                .or(account.subject.as_deref())
                .unwrap_or("-");
            println!(
                "{}\t{}\t{}\t{}\t{who}",
                account.name,
                if account.stored {
                    "signed in (locked)"
                } else {
                    "signed out"
                },
                account.provider.issuer.as_deref().unwrap_or("-"),
                account.provider.client_id.as_deref().unwrap_or("-"),
            );
        }
    }
    Ok(())
}
