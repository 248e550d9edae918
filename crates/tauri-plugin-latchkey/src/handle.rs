//! `app.latchkey()`: the host's Rust side of the plugin. The host's own commands use it to make
//! authorised requests or take a fresh access token inside Rust (neither goes to script unless
//! the host's command returns it, and [`AccessToken`] can't be serialized), and to reconfigure
//! while signed out.

use std::sync::Arc;

use latchkey::PartialConfig;
use tauri::{AppHandle, Manager, Runtime};

use crate::error::{Error, ErrorKind, Result};
use crate::models::{AccountId, Response, Status};
use crate::secret::AccessToken;
use crate::state::{AccountState, Accounts};

/// Access to the plugin from anything that has a Tauri manager (`App`, `AppHandle`, `Window`).
pub trait LatchkeyExt<R: Runtime> {
    /// The plugin's handle for the default account.
    fn latchkey(&self) -> Latchkey<R>;
}

impl<R: Runtime, T: Manager<R>> LatchkeyExt<R> for T {
    fn latchkey(&self) -> Latchkey<R> {
        Latchkey {
            app: self.app_handle().clone(),
            account: AccountId::default(),
        }
    }
}

/// One account's handle. Cheap to clone; every call finds the account's current state (the
/// facade is replaced when the settings change).
#[derive(Clone)]
pub struct Latchkey<R: Runtime> {
    app: AppHandle<R>,
    account: AccountId,
}

impl<R: Runtime> std::fmt::Debug for Latchkey<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latchkey")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> Latchkey<R> {
    /// The same handle for the account named `name` (today only [`AccountId::DEFAULT`] exists;
    /// others fail with [`ErrorKind::UnknownAccount`] when used).
    pub fn account(&self, name: impl Into<String>) -> Self {
        Self {
            app: self.app.clone(),
            account: AccountId::new(name),
        }
    }

    fn state(&self) -> Result<Arc<AccountState>> {
        let accounts = self.app.try_state::<Accounts>().ok_or_else(|| {
            Error::new(
                ErrorKind::Internal,
                "the latchkey plugin did not start (see the log)",
            )
        })?;
        accounts.get(&self.account)
    }

    /// The account's status.
    pub async fn status(&self) -> Result<Status> {
        Ok(self.state()?.view().await)
    }

    /// The configuration in effect: the layers merged and checked (a public client has no
    /// secret in it). Fails like every call while the settings are unusable.
    pub async fn config(&self) -> Result<latchkey::Config> {
        Ok(self.state()?.latchkey().await?.config().clone())
    }

    /// Sends the account's status (at once, then after every change) and its events to
    /// `channel`, as script's `subscribe` does: for host code that forwards them its own way.
    pub async fn subscribe(&self, channel: tauri::ipc::Channel<crate::models::Push>) -> Result<()> {
        let state = self.state()?;
        let _ = channel.send(crate::models::Push::Status(Box::new(state.view().await)));
        state.subscribers.add("", channel);
        Ok(())
    }

    /// The engine's facade for this account (`latchkey::Latchkey`), for host code that
    /// needs what this handle doesn't wrap. Host Rust is trusted; nothing of it reaches script.
    pub async fn facade(&self) -> Result<Arc<latchkey::Latchkey>> {
        self.state()?.latchkey().await
    }

    /// A fresh access token (refreshed first when it is due).
    pub async fn access_token(&self) -> Result<AccessToken> {
        let latchkey = self.state()?.latchkey().await?;
        let token = latchkey.session().fresh_access_token().await?;
        Ok(AccessToken::new(&token))
    }

    /// GET `url` with the access token (and the DPoP proof for a bound session); a 401 gets one
    /// refresh and one retry. Any https (or loopback http) URL: the host's Rust is trusted, the
    /// origin list applies to script's `fetch`.
    pub async fn get(&self, url: &url::Url) -> Result<Response> {
        let latchkey = self.state()?.latchkey().await?;
        Ok(latchkey.get(url).await?.into())
    }

    /// [`Latchkey::get`] for any method, with a body: `latchkey::ApiRequest::new("POST", url)?
    /// .with_body("application/json", bytes)?`.
    pub async fn request(&self, request: &latchkey::ApiRequest) -> Result<Response> {
        let latchkey = self.state()?.latchkey().await?;
        Ok(latchkey.request(request).await?.into())
    }

    /// The userinfo claims (their `sub` checked against the ID token's).
    pub async fn userinfo(&self) -> Result<serde_json::Value> {
        Ok(self.state()?.latchkey().await?.userinfo().await?)
    }

    /// Locks: tokens and key forgotten.
    pub async fn lock(&self) -> Result<()> {
        self.state()?.latchkey().await?.lock().await;
        Ok(())
    }

    /// The stored settings layer (without the builder's values or the environment).
    pub fn settings(&self) -> Result<PartialConfig> {
        self.state()?.settings()
    }

    /// Validates and stores `settings` as the settings layer, reopens the account with them and
    /// pushes the new status. Refused with [`ErrorKind::WrongState`] while a session exists
    /// (signed in, or locked in the vault): sign out first.
    pub async fn reconfigure(&self, settings: PartialConfig) -> Result<()> {
        let state = self.state()?;
        let latchkey = state.replace_settings(settings).await?;
        crate::start(state, latchkey).await
    }
}
