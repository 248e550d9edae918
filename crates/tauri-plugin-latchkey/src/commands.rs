//! The commands the WebView may call (each behind its own permission, see permissions/). Each is
//! one call into latchkey-core plus error mapping, and returns only its own result: the state it
//! changes reaches script as a pushed status (`events.rs`). None returns a token, key, verifier
//! or `state`. Authorised requests are made here, in Rust, only to the origins the host allowed,
//! and only their result crosses IPC. Every command takes an optional `account`.

use std::sync::Arc;

use latchkey::vault::{BiometricStatus, Keep};
use latchkey::BiometricChange;
use latchkey::{ApiRequest, Credential, SignOutReport};
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State, Webview};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind};
use crate::models::{AccountId, FetchInit, FetchResponse, Push, Status};
use crate::state::{AccountState, Accounts};

fn account(accounts: &Accounts, name: Option<String>) -> Result<Arc<AccountState>, Error> {
    accounts.get(&AccountId::or_default(name))
}

/// The account's current status (for the first render; later ones are pushed).
#[tauri::command]
pub async fn status(
    accounts: State<'_, Accounts>,
    account: Option<String>,
) -> Result<Status, Error> {
    Ok(self::account(&accounts, account)?.view().await)
}

/// Subscribes `channel` to the account's statuses and events; the current status is sent at once.
#[tauri::command]
pub async fn subscribe<R: Runtime>(
    webview: Webview<R>,
    accounts: State<'_, Accounts>,
    account: Option<String>,
    channel: Channel<Push>,
) -> Result<(), Error> {
    let account = self::account(&accounts, account)?;
    let _ = channel.send(Push::Status(Box::new(account.view().await)));
    account.subscribers.add(webview.label(), channel);
    Ok(())
}

/// Signs in through the system browser. `pin` wraps the new vault key (PIN platforms); biometric
/// platforms pass none and prompt. `biometric`: also set up the platform's biometric unlock,
/// the PIN staying the fallback.
#[tauri::command]
pub async fn sign_in<R: Runtime>(
    app: AppHandle<R>,
    accounts: State<'_, Accounts>,
    account: Option<String>,
    pin: Option<String>,
    biometric: Option<bool>,
) -> Result<(), Error> {
    let latchkey = self::account(&accounts, account)?.latchkey().await?;
    latchkey
        .sign_in_choosing(
            credential(pin),
            biometric.unwrap_or(false).then_some(Keep::ThisRun),
            crate::platform::user_agent(&app).as_ref(),
            crate::platform::redirect(&app)?,
        )
        .await?;
    Ok(())
}

/// Cancels a sign-in waiting for the browser.
#[tauri::command]
pub async fn cancel_sign_in(
    accounts: State<'_, Accounts>,
    account: Option<String>,
) -> Result<(), Error> {
    self::account(&accounts, account)?
        .latchkey()
        .await?
        .cancel_sign_in();
    Ok(())
}

/// Unlocks and resumes silently (one refresh, no browser).
#[tauri::command]
pub async fn unlock(
    accounts: State<'_, Accounts>,
    account: Option<String>,
    pin: Option<String>,
) -> Result<(), Error> {
    let latchkey = self::account(&accounts, account)?.latchkey().await?;
    latchkey.unlock(credential(pin)).await?;
    Ok(())
}

/// Ends a biometric prompt in progress ("use PIN instead"): that unlock fails as cancelled.
#[tauri::command]
pub async fn cancel_unlock(
    accounts: State<'_, Accounts>,
    account: Option<String>,
) -> Result<(), Error> {
    let latchkey = self::account(&accounts, account)?.latchkey().await?;
    latchkey.vault().cancel_biometric_prompt();
    Ok(())
}

/// Turns biometric unlock on or off. On needs the user's PIN (`pin`, checked in Rust by
/// releasing the PIN wrap; a wrong one counts) and then the platform's own check (a matching
/// finger on Linux); `keep_across_restarts` (Linux) keeps the key in the login keyring, which any
/// program the user runs can read, instead of this process's memory. Off needs the session
/// unlocked. A bare call from script changes nothing.
#[tauri::command]
pub async fn set_biometric(
    accounts: State<'_, Accounts>,
    account: Option<String>,
    enabled: bool,
    pin: Option<String>,
    keep_across_restarts: Option<bool>,
) -> Result<BiometricStatus, Error> {
    let latchkey = self::account(&accounts, account)?.latchkey().await?;
    let change = if enabled {
        BiometricChange::On {
            proof: credential(pin),
            keep: if keep_across_restarts.unwrap_or(false) {
                Keep::AcrossRestarts
            } else {
                Keep::ThisRun
            },
        }
    } else {
        BiometricChange::Off
    };
    Ok(latchkey.set_biometric(change).await?)
}

/// Locks: tokens and key forgotten.
#[tauri::command]
pub async fn lock(accounts: State<'_, Accounts>, account: Option<String>) -> Result<(), Error> {
    self::account(&accounts, account)?
        .latchkey()
        .await?
        .lock()
        .await;
    Ok(())
}

/// `url` with the access token (and DPoP proof) added in Rust, if its origin is one the host
/// allowed: the method and body script asked for (GET, HEAD, POST, PUT, PATCH, DELETE; a body
/// of at most 1 MiB with its `content-type`), no other header.
#[tauri::command]
pub async fn fetch(
    accounts: State<'_, Accounts>,
    account: Option<String>,
    url: String,
    init: Option<FetchInit>,
) -> Result<FetchResponse, Error> {
    let account = self::account(&accounts, account)?;
    let url = account.allowed_url(&url)?;
    let request = api_request(url, init.unwrap_or_default())?;
    let latchkey = account.latchkey().await?;
    let response = latchkey.request(&request).await?;
    Ok(crate::models::Response::from(response).into())
}

/// Script's `fetch` options as an engine request, refusing what script may not set.
fn api_request(url: url::Url, init: FetchInit) -> Result<ApiRequest, Error> {
    let refused =
        |e: latchkey::ApiRequestError| Error::new(ErrorKind::Configuration, e.to_string());
    let mut content_type = None;
    for (name, value) in init.headers {
        if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value);
        } else {
            return Err(Error::new(
                ErrorKind::Configuration,
                format!(
                    "fetch may set only the content-type header, not {:?}",
                    name.chars().take(64).collect::<String>()
                ),
            ));
        }
    }
    let request = ApiRequest::new(init.method.as_deref().unwrap_or("GET"), url).map_err(refused)?;
    match init.body {
        Some(body) => request
            .with_body(
                content_type
                    .as_deref()
                    .unwrap_or("text/plain;charset=UTF-8"),
                body.into_bytes(),
            )
            .map_err(refused),
        None => Ok(request),
    }
}

/// What the latest API call that needed a stronger or more recent sign-in asked for (RFC 9470),
/// or null: for the "Confirm it's you" screen. Read from the server's challenge, held in Rust.
#[tauri::command]
pub async fn pending_step_up(
    accounts: State<'_, Accounts>,
    account: Option<String>,
) -> Result<Option<latchkey::step_up::StepUpChallenge>, Error> {
    let latchkey = self::account(&accounts, account)?.latchkey().await?;
    Ok(latchkey.pending_step_up())
}

/// Performs the pending step-up: the same user signs in again through the system browser at the
/// level the API's challenge asked (script can't say which, or change the call), then that call
/// is retried once and its response returned. `cancel_sign_in` cancels it; the session is then
/// as it was.
#[tauri::command]
pub async fn step_up<R: Runtime>(
    app: AppHandle<R>,
    accounts: State<'_, Accounts>,
    account: Option<String>,
) -> Result<FetchResponse, Error> {
    let latchkey = self::account(&accounts, account)?.latchkey().await?;
    let response = latchkey
        .step_up(
            crate::platform::user_agent(&app).as_ref(),
            crate::platform::redirect(&app)?,
        )
        .await?;
    Ok(crate::models::Response::from(response).into())
}

/// The userinfo claims.
#[tauri::command]
pub async fn userinfo(
    accounts: State<'_, Accounts>,
    account: Option<String>,
) -> Result<serde_json::Value, Error> {
    let latchkey = self::account(&accounts, account)?.latchkey().await?;
    Ok(latchkey.userinfo().await?)
}

/// Signs out: revoke, erase the vault and its key; with `everywhere`, also open the server's
/// end-session page in the browser, so the next sign-in doesn't reuse the browser's session.
#[tauri::command]
pub async fn sign_out<R: Runtime>(
    app: AppHandle<R>,
    accounts: State<'_, Accounts>,
    account: Option<String>,
    everywhere: Option<bool>,
) -> Result<SignOutReport, Error> {
    let browser = everywhere
        .unwrap_or(false)
        .then(|| crate::platform::user_agent(&app));
    let id = AccountId::or_default(account);
    let latchkey = accounts.get(&id)?.latchkey().await?;
    let report = latchkey.sign_out_with(browser.as_deref()).await?;
    // This account only; another account named is gone from the list, the default stays.
    accounts.forget(&id).await?;
    Ok(report)
}

/// Every account's status, the default first (no token in any): for an account switcher.
#[tauri::command]
pub async fn accounts(accounts: State<'_, Accounts>) -> Result<Vec<Status>, Error> {
    Ok(accounts.statuses().await)
}

/// Adds the account `name`, signed out, with the app's provider or one the host app offers by
/// the name `provider` (script can't supply a provider of its own); then `sign_in` with the
/// account's name signs it in with its own PIN. A name already in use is refused: an existing
/// account's provider and protection never change from here.
#[tauri::command]
pub async fn add_account(
    accounts: State<'_, Accounts>,
    name: String,
    provider: Option<String>,
) -> Result<Status, Error> {
    let account = accounts.add(&name, provider.as_deref())?;
    let latchkey = account.latchkey().await?;
    crate::start(account.clone(), latchkey).await?;
    Ok(account.view().await)
}

fn credential(pin: Option<String>) -> Credential {
    match pin {
        Some(pin) => Credential::Pin(Zeroizing::new(pin)),
        None => Credential::Prompt(crate::platform::PROMPT_REASON.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> url::Url {
        url::Url::parse("https://api.example/items").unwrap()
    }

    fn init(method: &str, headers: &[(&str, &str)], body: Option<&str>) -> FetchInit {
        FetchInit {
            method: Some(method.into()),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.map(str::to_owned),
        }
    }

    #[test]
    fn script_may_choose_the_method_body_and_content_type_and_nothing_that_carries_a_credential() {
        let post = api_request(
            url(),
            init("POST", &[("Content-Type", "application/json")], Some("{}")),
        )
        .unwrap();
        assert_eq!(post.method().as_str(), "POST");
        for header in ["Authorization", "DPoP", "cookie", "X-Forwarded-Host"] {
            let err = api_request(url(), init("GET", &[(header, "x")], None)).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Configuration, "{header}");
        }
        for (method, body) in [("TRACE", None), ("CONNECT", None), ("GET", Some("x"))] {
            assert!(
                api_request(url(), init(method, &[], body)).is_err(),
                "{method}"
            );
        }
    }
}
