//! Facade verbs beyond the app's buttons, for any front end: a GET of any URL, a refresh on
//! demand, resuming without background tasks (a front end that runs one action and exits, like a
//! CLI), and which provider a stored session belongs to before there is a configuration.
//!
//! They live on [`Latchkey`] so that a front end never needs the [`crate::Session`] or the
//! [`crate::Vault`] behind it: every user action is one facade call, with the facade's checks.

use std::path::Path;
use std::time::Duration;

use url::Url;

use crate::error::Result;
use crate::session::{ApiResponse, SessionState, SessionStatus};
use crate::vault::{Vault, KEY_FILE};
use crate::ApiRequest;
use crate::CoreError;

use crate::Latchkey;

/// The port `npm run dev-idp` listens on by default, so a first-run screen can find it.
pub const DEV_IDP_PORT: u16 = 9440;

/// The issuer of the bundled dev IdP when one is running on this machine at `port` (loopback
/// only, a second at most): for a first-run screen that offers it filled in. It must answer as
/// the dev IdP does — its discovery document naming `http://127.0.0.1:PORT` and its `/dev/stats`
/// counters — so another server on that port is not mistaken for it.
pub async fn find_dev_idp(port: u16) -> Option<String> {
    let issuer = format!("http://127.0.0.1:{port}");
    let http = crate::http::HttpClient::new(Duration::from_secs(1), 64 * 1024).ok()?;
    let get = |path: &str| {
        let url = Url::parse(&format!("{issuer}{path}")).ok();
        let http = http.clone();
        async move {
            let response = http.get_document(&url?).await.ok()?;
            (response.status == 200)
                .then(|| serde_json::from_slice::<serde_json::Value>(&response.body).ok())
                .flatten()
        }
    };
    let metadata = get("/.well-known/openid-configuration").await?;
    let stats = get("/dev/stats").await?;
    (metadata["issuer"] == issuer.as_str() && stats.get("token_requests").is_some())
        .then_some(issuer)
}

/// The provider a stored session belongs to. Not secret: read from the vault's metadata without
/// the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredProvider {
    /// The issuer the session was signed in at.
    pub issuer: String,
    /// The client it was signed in with.
    pub client_id: String,
}

impl Latchkey {
    /// Finds the stored session (`Locked` when there is one), as [`Latchkey::start`] does, but
    /// starts no background task: for a front end that runs one action and exits, where a
    /// background refresh would only race the action it was started for. Such a front end
    /// makes no later refresh to count a refusal without an OAuth error by: the session asks
    /// again within the refresh ([`crate::Session::set_one_shot`]).
    pub async fn resume(&self) -> Result<SessionStatus> {
        // One action, then exit: a refusal without an OAuth error is asked again within it.
        self.session.set_one_shot(true);
        Ok(self.session.resume().await?)
    }

    /// Refuses what [`Latchkey::sign_in`] would refuse (a session exists, signed in or locked),
    /// so that a front end can say so before asking for a new PIN.
    ///
    /// # Errors
    /// [`CoreError::SessionExists`].
    pub fn check_sign_in(&self) -> Result<()> {
        match self.session.status().state {
            SessionState::SignedIn | SessionState::Locked => Err(CoreError::SessionExists {
                action: "signing in again",
            }
            .into()),
            SessionState::SignedOut | SessionState::ReauthRequired => Ok(()),
        }
    }

    /// GETs `url` (https, or http on loopback) with a fresh access token; a 401 forces one
    /// refresh and one retry, whose response is returned whatever its status. Not user activity
    /// (script can call it): it never resets the idle clock, and locks if the idle time passed.
    ///
    /// # Errors
    /// [`CoreError::InsecureUrl`] for any other URL: the token is never sent in clear.
    pub async fn get(&self, url: &Url) -> Result<ApiResponse> {
        self.lock_if_idle().await?;
        Ok(self.session.get(url).await?)
    }

    /// Sends `request` (a method, a URL, a body: [`ApiRequest`]) with a fresh access token, as
    /// [`Latchkey::get`] does, and like it, not user activity.
    ///
    /// # Errors
    /// As [`Latchkey::get`].
    pub async fn request(&self, request: &ApiRequest) -> Result<ApiResponse> {
        self.lock_if_idle().await?;
        Ok(self.session.request(request).await?)
    }

    /// Refreshes now, whatever the access token's age, and returns the status. Like
    /// [`Latchkey::get`], not user activity.
    pub async fn refresh(&self) -> Result<SessionStatus> {
        self.lock_if_idle().await?;
        Ok(self.session.refresh().await?)
    }
}

/// The provider of the session stored in `vault_dir`, if one is stored: a front end without a
/// configuration of its own (a CLI run without flags) uses it, and one with a configuration can
/// tell the user that the stored session belongs elsewhere. Reads only non-secret metadata and
/// creates nothing.
///
/// # Errors
/// [`Error::Vault`] when the metadata file exists but can't be read.
pub fn stored_provider(vault_dir: &Path) -> Result<Option<StoredProvider>> {
    // The wrapped key, not the metadata, says a session is stored: an erasure removes the key
    // before the metadata, so metadata alone is the leftover of an interrupted one.
    if !vault_dir.join(KEY_FILE).exists() {
        return Ok(None);
    }
    Ok(Vault::metadata_in(vault_dir)?.map(|meta| StoredProvider {
        issuer: meta.issuer,
        client_id: meta.client_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_provider_needs_the_key_file_and_reads_the_metadata() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(stored_provider(dir.path()).unwrap(), None);
        std::fs::write(
            dir.path().join("vault.meta.json"),
            r#"{"issuer":"https://idp.example","client_id":"app","subject":"alice",
                "display_name":null,"unlock_method":"pin","last_used_at":0}"#,
        )
        .unwrap();
        assert_eq!(
            stored_provider(dir.path()).unwrap(),
            None,
            "metadata without a key is an interrupted erasure"
        );
        std::fs::write(dir.path().join(KEY_FILE), "{}").unwrap();
        assert_eq!(
            stored_provider(dir.path()).unwrap(),
            Some(StoredProvider {
                issuer: "https://idp.example".into(),
                client_id: "app".into(),
            })
        );
    }
}
