//! Tokens in memory, their expiry model, and the checks on token responses.
//!
//! Expiry is absolute and monotonic: `expires_at = (instant the request was sent) + expires_in`,
//! on tokio's clock (so tests can pause time). The monotonic clock stops while the machine sleeps
//! (Linux, macOS), so every expiry check adds the time it missed: how far the wall clock ran ahead
//! of it since the token was obtained. A laptop opened the next morning sees its token expired. Refresh is due a margin before expiry that suits
//! short lifetimes: a fifth of the lifetime, between 1 s and 60 s (a 5 s token refreshes at 4 s,
//! an hour-long one a minute early).

use std::time::{Duration, SystemTime};

use openidconnect::{AccessToken, RefreshToken};
use tokio::time::Instant;

use crate::secret::SecretString;
use crate::token_endpoint::IssuedFields;

/// Lifetimes above this are clamped: a server's absurd `expires_in` must not make a token "fresh"
/// for years (a 401 would still trigger a refresh, but the schedule would never run).
pub const MAX_TRUSTED_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Scheduled refreshes are never closer together than this, whatever `expires_in` says.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// How long before expiry a token stops counting as fresh and a refresh is due.
pub fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 5).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// The tokens of a signed-in session. `Debug` redacts every secret.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    /// None after a restore from the store, until the first refresh.
    pub access: Option<AccessToken>,
    pub expires_at: Option<Instant>,
    pub lifetime: Option<Duration>,
    pub obtained_at: Instant,
    /// The wall-clock time of `obtained_at`, to notice time spent asleep.
    pub obtained_wall: SystemTime,
    pub refresh: Option<RefreshToken>,
    pub id_token: Option<SecretString>,
    pub nonce: Option<SecretString>,
    pub subject: Option<String>,
    pub scopes: Vec<String>,
    /// The original authentication's `auth_time` (Unix seconds), if the ID token had one.
    pub auth_time: Option<i64>,
    /// The [`fingerprint`] of the refresh token the store holds, as far as this session knows:
    /// set whenever the session reads the store or saves to it. A `refresh` that differs from it
    /// is a rotation whose save failed, and is saved again before the next refresh.
    pub synced: Option<[u8; 32]>,
    /// The key the tokens are bound to (RFC 9449), when the session uses DPoP. Stored with the
    /// refresh token; its `Debug` shows only the thumbprint.
    pub dpop: Option<crate::dpop::DpopKey>,
}

impl Drop for Tokens {
    /// The session's copies of its tokens are zeroized when dropped (on lock, sign-out, refresh).
    fn drop(&mut self) {
        use zeroize::Zeroize;
        if let Some(at) = self.access.take() {
            at.into_secret().zeroize();
        }
        if let Some(rt) = self.refresh.take() {
            rt.into_secret().zeroize();
        }
    }
}

/// SHA-256 of a refresh token: enough to tell whether the store holds this token, without
/// keeping a second copy of the secret.
pub(crate) fn fingerprint(token: &RefreshToken) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.secret().as_bytes()).into()
}

/// Whether `fingerprint` is `token`'s (compared in constant time).
pub(crate) fn is_fingerprint_of(fingerprint_: &[u8; 32], token: &RefreshToken) -> bool {
    use subtle::ConstantTimeEq as _;
    fingerprint(token).ct_eq(fingerprint_).into()
}

impl Tokens {
    /// The refresh token in memory is not (known to be) the one in the store: a save failed.
    pub fn unsaved(&self) -> bool {
        match (&self.refresh, &self.synced) {
            (Some(rt), Some(synced)) => !is_fingerprint_of(synced, rt),
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// Marks the current refresh token as the one the store holds.
    pub fn mark_synced(&mut self) {
        self.synced = self.refresh.as_ref().map(fingerprint);
    }

    /// Usable and not within the refresh margin. A token without `expires_in` counts as fresh
    /// until a resource server rejects it.
    pub fn is_fresh(&self, now: Instant) -> bool {
        let now = now + self.time_asleep();
        match (&self.access, self.expires_at, self.lifetime) {
            (None, _, _) => false,
            (Some(_), None, _) => true,
            (Some(_), Some(at), lifetime) => {
                now + refresh_margin(lifetime.unwrap_or_default()) < at
            }
        }
    }

    /// Not yet expired (it may be within the margin).
    pub fn is_usable(&self, now: Instant) -> bool {
        let now = now + self.time_asleep();
        self.access.is_some() && self.expires_at.is_none_or(|at| now < at)
    }

    /// When the scheduler should refresh, if it should.
    pub fn refresh_due(&self) -> Option<Instant> {
        self.refresh.as_ref()?;
        let floor = self.obtained_at + MIN_REFRESH_INTERVAL;
        match (&self.access, self.expires_at) {
            (None, _) => Some(floor.min(Instant::now())),
            (Some(_), None) => None,
            (Some(_), Some(at)) => {
                let margin = refresh_margin(self.lifetime.unwrap_or_default());
                let due = at.checked_sub(margin).unwrap_or(at).max(floor);
                // Before the monotonic clock's origin (the machine booted less than the time
                // asleep ago: Windows' clock counts from boot) means long past: due since the
                // token was obtained.
                Some(
                    due.checked_sub(self.time_asleep())
                        .unwrap_or(self.obtained_at),
                )
            }
        }
    }

    /// How much longer the wall clock says it has been since the token was obtained than the
    /// monotonic clock does: time the machine spent asleep. Zero when the wall clock was set
    /// back, and below a second (the two clocks drift and are read a moment apart); a wall clock
    /// set forward only makes a refresh come early.
    pub fn time_asleep(&self) -> Duration {
        let wall = self.obtained_wall.elapsed().unwrap_or_default();
        let asleep = wall.saturating_sub(self.obtained_at.elapsed());
        if asleep < Duration::from_secs(1) {
            Duration::ZERO
        } else {
            asleep
        }
    }
}

/// A token response after its checks, ready to become [`Tokens`].
pub(crate) struct Issued {
    pub access: AccessToken,
    pub expires_at: Option<Instant>,
    pub lifetime: Option<Duration>,
    pub scopes: Option<Vec<String>>,
    pub id_token: Option<SecretString>,
}

/// Turns checked response fields into token state: the lifetime counts from the moment the
/// request was sent (never later than the server's clock started), clamped to
/// [`MAX_TRUSTED_LIFETIME`].
pub(crate) fn accept_token_response(fields: IssuedFields, sent_at: Instant) -> Issued {
    let lifetime = fields.expires_in.map(|d| {
        if d > MAX_TRUSTED_LIFETIME {
            tracing::warn!(
                expires_in = d.as_secs(),
                "expires_in is implausibly long; clamping to 24 h"
            );
            MAX_TRUSTED_LIFETIME
        } else {
            d
        }
    });
    Issued {
        access: AccessToken::new(fields.access_token.expose().to_owned()),
        expires_at: lifetime.map(|d| sent_at + d),
        lifetime,
        scopes: fields.scope,
        id_token: fields.id_token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(lifetime: Option<u64>, refresh: bool) -> Tokens {
        let now = Instant::now();
        Tokens {
            access: Some(AccessToken::new("at".into())),
            expires_at: lifetime.map(|l| now + Duration::from_secs(l)),
            lifetime: lifetime.map(Duration::from_secs),
            obtained_at: now,
            // Ahead of the real clock, so that real time passing during a paused-clock test (a
            // stalled CI machine) never looks like time asleep.
            obtained_wall: SystemTime::now() + Duration::from_secs(3600),
            refresh: refresh.then(|| RefreshToken::new("rt".into())),
            id_token: None,
            nonce: None,
            subject: None,
            scopes: vec![],
            auth_time: None,
            synced: None,
            dpop: None,
        }
    }

    #[test]
    fn the_margin_suits_short_and_long_lifetimes() {
        assert_eq!(
            refresh_margin(Duration::from_secs(5)),
            Duration::from_secs(1)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(60)),
            Duration::from_secs(12)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(3600)),
            Duration::from_secs(60)
        );
        assert_eq!(refresh_margin(Duration::ZERO), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_five_second_token_is_due_for_refresh_at_four_seconds() {
        let t = tokens(Some(5), true);
        let start = Instant::now();
        assert_eq!(t.refresh_due(), Some(start + Duration::from_secs(4)));
        assert!(t.is_fresh(start));
        tokio::time::advance(Duration::from_millis(4001)).await;
        assert!(!t.is_fresh(Instant::now()));
        assert!(t.is_usable(Instant::now()));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!t.is_usable(Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_lifetime_never_schedules_refreshes_faster_than_the_floor() {
        let t = tokens(Some(0), true);
        assert_eq!(t.refresh_due(), Some(t.obtained_at + MIN_REFRESH_INTERVAL));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_refresh_token_nothing_is_scheduled() {
        assert_eq!(tokens(Some(60), false).refresh_due(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_without_expiry_is_fresh_until_rejected() {
        let t = tokens(None, true);
        assert!(t.is_fresh(Instant::now()));
        assert_eq!(t.refresh_due(), None);
    }

    #[test]
    fn a_token_from_before_a_night_asleep_is_expired_though_the_monotonic_clock_stood_still() {
        let mut t = tokens(Some(3600), true);
        let now = Instant::now();
        assert!(t.is_fresh(now) && t.is_usable(now));
        // Eight hours asleep: the wall clock moved on, the monotonic clock did not.
        t.obtained_wall = SystemTime::now() - Duration::from_secs(8 * 3600);
        assert!(t.time_asleep() >= Duration::from_secs(8 * 3600 - 1));
        assert!(!t.is_fresh(now), "fresh after a night asleep");
        assert!(!t.is_usable(now), "usable after a night asleep");
        assert!(
            t.refresh_due().unwrap() <= now,
            "the refresh is due at once"
        );
    }

    #[test]
    fn a_wall_clock_set_back_changes_nothing() {
        let mut t = tokens(Some(3600), true);
        let due = t.refresh_due().unwrap();
        t.obtained_wall += Duration::from_secs(3 * 3600);
        assert_eq!(t.time_asleep(), Duration::ZERO);
        assert!(t.is_fresh(Instant::now()));
        assert_eq!(t.refresh_due(), Some(due));
    }
}
