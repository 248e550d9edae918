//! The status projection front ends render: a snapshot that never waits for a refresh.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::types::*;
use tokio::sync::watch;

use super::{Meta, Session, View};

impl Session {
    /// A snapshot of the session (never blocks on a refresh in flight).
    pub fn status(&self) -> SessionStatus {
        project(&self.meta(), &self.inner.config.issuer)
    }

    /// The session's status each time it changes: the one route state takes to a front end.
    pub fn watch_status(&self) -> StatusWatch {
        StatusWatch {
            changes: self.inner.meta.subscribe(),
            issuer: self.inner.config.issuer.clone(),
        }
    }
}

/// Yields the session's status each time it changes; ends when the session is dropped. Holds
/// no reference to the session (a front end's forwarder doesn't keep a replaced one alive).
pub struct StatusWatch {
    changes: watch::Receiver<Meta>,
    issuer: String,
}

impl std::fmt::Debug for StatusWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusWatch")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl StatusWatch {
    /// The next status after a change (changes in between are folded into one); `None` once the
    /// session is gone.
    pub async fn changed(&mut self) -> Option<SessionStatus> {
        self.changes.changed().await.ok()?;
        Some(project(&self.changes.borrow_and_update(), &self.issuer))
    }
}

fn project(meta: &Meta, issuer: &str) -> SessionStatus {
    let now = Instant::now();
    let wall = SystemTime::now();
    let unix = |t: SystemTime| t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs());
    let (state, view) = match (&meta.view, &meta.ended, &meta.locked) {
        (Some(v), _, _) => (SessionState::SignedIn, Some(v.clone())),
        (None, Some(_), _) => (SessionState::ReauthRequired, None),
        (None, None, Some(hint)) => (
            SessionState::Locked,
            Some(View {
                subject: hint.subject.clone(),
                scopes: Vec::new(),
                has_refresh: true,
                key_bound: false,
                expires_at: None,
                lifetime: None,
                next_refresh: None,
            }),
        ),
        (None, None, None) => (SessionState::SignedOut, None),
    };
    let expires_in = view
        .as_ref()
        .and_then(|v| v.expires_at)
        .map(|at| at.saturating_duration_since(now));
    SessionStatus {
        state,
        issuer: issuer.to_owned(),
        subject: view.as_ref().and_then(|v| v.subject.clone()),
        display_name: meta.display_name.clone(),
        scopes: view.as_ref().map(|v| v.scopes.clone()).unwrap_or_default(),
        has_refresh_token: view.as_ref().is_some_and(|v| v.has_refresh),
        key_bound: view.as_ref().is_some_and(|v| v.key_bound),
        access_token_expires_in_secs: expires_in.map(|d| d.as_secs()),
        access_token_expires_at: expires_in.and_then(|d| unix(wall + d)),
        access_token_lifetime_secs: view.as_ref().and_then(|v| v.lifetime).map(|d| d.as_secs()),
        next_refresh_in_secs: view
            .as_ref()
            .and_then(|v| v.next_refresh)
            .map(|at| meta.retry_at.map_or(at, |r| r.max(at)))
            .map(|at| at.saturating_duration_since(now).as_secs()),
        refresh_count: meta.refresh_count,
        rotation_count: meta.rotation_count,
        last_refresh_at: meta.last_refresh_at.and_then(unix),
        offline: meta.offline,
        reauth_reason: meta.ended.clone(),
    }
}
