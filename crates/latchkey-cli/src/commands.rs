//! The commands: each user verb is one call on the [`Latchkey`] facade (the one the app holds),
//! plus reading a PIN and printing. Nothing here touches the vault or the session directly, so
//! the CLI and the app can't drift apart: unlocking offline, a session ended elsewhere, erasing
//! the vault on sign-out all behave as the facade decides.

use latchkey::{Latchkey, SessionEvent, SessionState, SessionStatus, SystemBrowser, UserAgent};

use crate::action::Action;
use crate::output::{self, Failure};
use crate::pin;

/// One command's facade and output settings.
pub struct Ctx {
    /// The account this command runs on.
    pub account: latchkey::AccountName,
    /// The data directory's accounts.
    pub registry: latchkey::registry::Registry,
    pub latchkey: Latchkey,
    pub json: bool,
    pub pin_stdin: bool,
    /// `--fingerprint`: set up / try the fingerprint before the PIN.
    pub fingerprint: bool,
    /// `--keep-in-keyring`: the user's explicit choice to keep the fingerprint-released key in
    /// the login keyring (the only way a later CLI process can release it).
    pub keep_in_keyring: bool,
}

impl Ctx {
    /// `login`: refused by the facade while a session is stored (sign out first), asked before
    /// the PIN is; then the browser flow, cancelled by Ctrl-C through the facade.
    pub async fn login(&self) -> Result<SessionStatus, Failure> {
        self.latchkey.check_sign_in()?;
        let biometric = match (self.fingerprint, self.keep_in_keyring) {
            (false, _) => None,
            (true, true) => Some(latchkey::vault::Keep::AcrossRestarts),
            (true, false) => return Err(Failure::Usage(clap::Error::raw(
                clap::error::ErrorKind::MissingRequiredArgument,
                "login --fingerprint needs --keep-in-keyring: the CLI exits after each command, \
                     so a later one can release the key with a finger only from the login keyring, \
                     where any program you run can read it\n",
            ))),
        };
        let credential = pin::new_pin(self.pin_stdin)?;
        let browser = SystemBrowser::from_env();
        if !self.json {
            if biometric.is_some() {
                eprintln!("Touch the fingerprint reader to turn fingerprint unlock on…");
            }
            eprintln!("Opening the browser to sign in…");
        }
        let sign_in = self.latchkey.sign_in_choosing(
            credential,
            biometric,
            &browser,
            latchkey::Redirect::Loopback,
        );
        tokio::pin!(sign_in);
        let status = tokio::select! {
            status = &mut sign_in => status?,
            _ = tokio::signal::ctrl_c() => {
                // Through the facade, so that it forgets the staged key as for the app's Cancel.
                self.latchkey.cancel_sign_in();
                sign_in.await?
            }
        };
        // The account's provider settings, so that later commands need no flag (never a secret).
        let provider = latchkey::accounts::provider_of(self.latchkey.config());
        self.registry.register(&self.account, &provider)?;
        output::print_status(&self.account, &status, self.json, "Signed in");
        Ok(status)
    }

    /// Unlocks with the PIN if the stored session is locked (the facade's unlock: one silent
    /// refresh; offline it still unlocks, with `offline` in the status).
    pub async fn unlock_if_locked(&self) -> Result<(), Failure> {
        let status = self.latchkey.status();
        if status.state != SessionState::Locked {
            return Ok(());
        }
        let who = status
            .display_name
            .as_deref()
            .or(status.subject.as_deref())
            .unwrap_or("you");
        if self.fingerprint {
            if !self.json {
                eprintln!("Welcome back, {who}. Touch the fingerprint reader…");
            }
            let finger = latchkey::Credential::Prompt("Unlock your Latchkey session".into());
            match self.latchkey.unlock(finger).await {
                Ok(_) => return Ok(()),
                Err(latchkey::Error::Vault(e @ latchkey::VaultError::Biometric { .. })) => {
                    if !self.json {
                        eprintln!("{e}");
                    }
                    tracing::info!(error = %e, "fingerprint unlock failed; asking for the PIN");
                }
                Err(e) => return Err(e.into()),
            }
        }
        let credential = pin::existing_pin(self.pin_stdin, &format!("Welcome back, {who}. PIN: "))?;
        self.latchkey.unlock(credential).await?;
        Ok(())
    }

    /// Runs `action` on a resumed (and, where it needs the key, unlocked) session.
    pub async fn act(&self, action: Action) -> Result<(), Failure> {
        let (latchkey, json) = (&self.latchkey, self.json);
        match action {
            Action::Status => {
                output::print_status(&self.account, &latchkey.status(), json, "Status");
                Ok(())
            }
            Action::Unlock => {
                // The unlock itself happened before (see `Action::needs_key`); what is left is
                // whether there was anything to unlock.
                let status = latchkey.status();
                if status.state != SessionState::SignedIn {
                    return Err(latchkey::CoreError::NotSignedIn.into());
                }
                output::print_status(&self.account, &status, json, "Unlocked");
                Ok(())
            }
            Action::Lock => {
                output::print_status(&self.account, &latchkey.lock().await, json, "Locked");
                Ok(())
            }
            Action::Call { url } => {
                let response = match latchkey.get(&url).await {
                    Err(latchkey::Error::Core(latchkey::CoreError::StepUpRequired(asked)))
                        if can_open_browser() =>
                    {
                        self.step_up(&asked).await?
                    }
                    other => other?,
                };
                output::print_api_response(&response, json);
                match response.status {
                    200..=299 => Ok(()),
                    401 => Err(latchkey::CoreError::ReauthRequired(
                        latchkey::ReauthReason::AccessTokenRejected,
                    )
                    .into()),
                    status => Err(Failure::HttpStatus(status)),
                }
            }
            Action::Userinfo => {
                output::print_json_value(&latchkey.userinfo().await?);
                Ok(())
            }
            Action::Refresh { repeat } => {
                for _ in 0..repeat.max(1) {
                    let status = latchkey.refresh().await?;
                    output::print_status(&self.account, &status, json, "Refreshed");
                }
                Ok(())
            }
            Action::Watch { count } => self.watch(count).await,
            Action::Logout { end_session } => self.logout(end_session).await,
        }
    }

    /// The step-up an API call asked for (RFC 9470), through the browser as `login` does, then
    /// the call once more; Ctrl-C cancels it through the facade and leaves the session as it
    /// was.
    async fn step_up(
        &self,
        asked: &latchkey::step_up::StepUpChallenge,
    ) -> Result<latchkey::ApiResponse, Failure> {
        output::print_step_up(asked, self.json);
        let browser = SystemBrowser::from_env();
        let step_up = self
            .latchkey
            .step_up(&browser, latchkey::Redirect::Loopback);
        tokio::pin!(step_up);
        tokio::select! {
            response = &mut step_up => Ok(response?),
            _ = tokio::signal::ctrl_c() => {
                self.latchkey.cancel_sign_in();
                Ok((&mut step_up).await?)
            }
        }
    }

    /// Prints each event until `count` refreshes, the session ends, or Ctrl-C. The facade's
    /// background refresher (started with it) does the refreshing.
    async fn watch(&self, count: Option<u64>) -> Result<(), Failure> {
        let mut events = self.latchkey.subscribe();
        output::print_status(
            &self.account,
            &self.latchkey.status(),
            self.json,
            "Watching",
        );
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
            output::print_event(&event, self.json);
            match &event {
                SessionEvent::Refreshed { .. } => {
                    refreshes += 1;
                    if count.is_some_and(|n| refreshes >= n) {
                        return Ok(());
                    }
                }
                SessionEvent::SessionEnded { reason } => {
                    return Err(latchkey::CoreError::ReauthRequired(reason.clone()).into())
                }
                SessionEvent::SignedOut => return Ok(()),
                _ => {}
            }
            if self.latchkey.status().state != SessionState::SignedIn {
                return Err(latchkey::CoreError::NotSignedIn.into());
            }
        }
    }

    /// Signs out through the facade, which revokes what it holds and erases the vault whatever
    /// the server says. Revoking needs the refresh token, so a locked session is unlocked first
    /// if a PIN can be had; signing out never depends on it.
    async fn logout(&self, end_session: bool) -> Result<(), Failure> {
        if self.latchkey.status().state == SessionState::Locked {
            let unlocked =
                match pin::existing_pin(self.pin_stdin, "PIN (to revoke at the server): ") {
                    Ok(credential) => self
                        .latchkey
                        .unlock(credential)
                        .await
                        .map_err(Failure::from),
                    Err(e) => Err(e),
                };
            if let Err(e) = unlocked {
                tracing::info!(error = %e, "signing out without unlocking");
                if !self.json {
                    eprintln!("The vault stays locked: the refresh token is erased locally but not revoked.");
                }
            }
        }
        let browser = SystemBrowser::from_env();
        let end_session_in = end_session.then_some(&browser as &dyn UserAgent);
        let report = self.latchkey.sign_out_with(end_session_in).await?;
        // This account only: the others keep their sessions.
        self.registry.remove(&self.account)?;
        output::print_sign_out(&report, self.json);
        Ok(())
    }
}

/// Whether a browser can be opened for a step-up: `BROWSER` names one, or a person is at a
/// terminal of a desktop session. Otherwise (a script, a server) `call` exits with code 6 and
/// says what was asked.
fn can_open_browser() -> bool {
    use std::io::IsTerminal;
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("BROWSER") {
        return true;
    }
    let desktop = cfg!(any(target_os = "macos", target_os = "windows"))
        || set("DISPLAY")
        || set("WAYLAND_DISPLAY");
    desktop && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}
