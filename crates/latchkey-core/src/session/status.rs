//! The status projection front ends render: a snapshot that never waits for a refresh.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::types::*;
use super::{Session, View};

impl Session {
    /// A snapshot of the session (never blocks on a refresh in flight).
    pub fn status(&self) -> SessionStatus {
        let meta = self.meta();
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
            issuer: self.inner.config.issuer.clone(),
            subject: view.as_ref().and_then(|v| v.subject.clone()),
            display_name: meta.display_name.clone(),
            scopes: view.as_ref().map(|v| v.scopes.clone()).unwrap_or_default(),
            has_refresh_token: view.as_ref().is_some_and(|v| v.has_refresh),
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
}
