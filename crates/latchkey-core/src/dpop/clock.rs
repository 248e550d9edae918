//! The servers' clocks, as their `Date` headers tell them (RFC 9110 §6.6.1), so that a proof's
//! `iat` is the receiving server's time rather than this machine's.
//!
//! - **Per origin** (scheme, host, port), not per issuer and not per endpoint: the `Date` header
//!   is written by whatever answers at that origin, and a proof's `iat` is judged by the server
//!   it is sent to. An authorization server and a resource server on different hosts keep
//!   different clocks; endpoints of one origin share one (nonces differ per endpoint, a clock
//!   doesn't), so an offset learned from the API also dates the next refresh at that origin.
//!   Scoping by origin is also what bounds a lying server: the offset it reports only dates
//!   proofs addressed to itself.
//! - **Learned from every DPoP request's response**, whatever its status (a `use_dpop_nonce`
//!   challenge has a `Date` too, so its retry is already dated right). The local time of the
//!   sample is the midpoint of send and receive; the server time is the `Date` plus half a
//!   second (the header is truncated to the second).
//!   Not from the ID token's `iat`: it comes from the same server in the same response as a
//!   `Date`, so it adds nothing, and only at sign-in and refresh.
//! - **Ignored**: a missing or unparseable `Date` (the previous estimate stays); an offset of
//!   more than [`MAX_OFFSET_SECS`] either way (a broken server, a stale cached response, or a
//!   lie: no honest server is a day off, and clamping would only produce proofs nobody
//!   accepts). Offsets within [`NOISE_SECS`] are taken as zero: a 1-second `Date` can't tell
//!   them from the network's delay.
//! - **In memory only**, per session: not persisted. Clocks move overnight (NTP, a user fixing
//!   the device's time, travel across a misconfigured network), so yesterday's offset could be
//!   wrong when it would be used, and a proof the server finds too old or too new costs one
//!   `use_dpop_nonce` round trip, which also teaches the new offset.
//! - **Only proof `iat`** uses it. Access-token expiry is computed from the relative
//!   `expires_in` on this machine's clock and does not change.
//!
//! What a server that lies about its time can do: date the proofs sent *to it* up to a day
//! early or late. Those proofs are judged only by that server, so it can only make its own
//! proofs fail (its nonces still work: a proof carrying a valid nonce is fresh whatever its
//! `iat`). It cannot move the `iat` of proofs sent to any other origin.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use url::Url;

/// The largest offset believed, either way: a day.
pub const MAX_OFFSET_SECS: i64 = 24 * 3600;

/// Offsets this small are taken as zero.
pub const NOISE_SECS: i64 = 2;

/// What one `Date` header taught.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateSample {
    /// The origin's clock is this many milliseconds ahead of ours (negative: behind); zero
    /// within [`NOISE_SECS`].
    Offset(i64),
    /// No `Date` header: nothing learned.
    Missing,
    /// A `Date` that isn't an HTTP-date: nothing learned.
    Unparseable,
    /// More than [`MAX_OFFSET_SECS`] off: ignored.
    Absurd,
}

/// Each origin's clock offset from this machine's, as learned from its `Date` headers.
#[derive(Debug, Default)]
pub struct ServerClocks {
    by_origin: Mutex<HashMap<String, i64>>,
}

impl ServerClocks {
    /// Learns from a response of `url`'s origin: its `Date` header, the local time the request
    /// was sent and the local time the response arrived.
    pub fn observe(
        &self,
        url: &Url,
        date: Option<&str>,
        sent: SystemTime,
        received: SystemTime,
    ) -> DateSample {
        let sample = sample(date, sent, received);
        match sample {
            DateSample::Offset(ms) => {
                let mut map = self.by_origin.lock().unwrap_or_else(|p| p.into_inner());
                map.insert(origin(url), ms);
            }
            DateSample::Absurd => {
                tracing::warn!(origin = %origin(url), "a Date header more than a day off was ignored");
            }
            DateSample::Missing | DateSample::Unparseable => {}
        }
        sample
    }

    /// The offset learned for `url`'s origin, in milliseconds, if any.
    pub fn offset_ms(&self, url: &Url) -> Option<i64> {
        let map = self.by_origin.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&origin(url)).copied()
    }

    /// `iat` for a proof sent to `url` now: this machine's time moved by the origin's offset.
    pub fn iat_for(&self, url: &Url) -> i64 {
        self.iat_at(url, SystemTime::now())
    }

    /// `iat` for a proof sent to `url` when this machine's clock reads `local`.
    pub fn iat_at(&self, url: &Url, local: SystemTime) -> i64 {
        let offset = self.offset_ms(url).unwrap_or(0);
        (millis(local) + offset).div_euclid(1000)
    }
}

fn sample(date: Option<&str>, sent: SystemTime, received: SystemTime) -> DateSample {
    let Some(date) = date else {
        return DateSample::Missing;
    };
    let Ok(server) = httpdate::parse_http_date(date.trim()) else {
        return DateSample::Unparseable;
    };
    let (sent, received) = (millis(sent), millis(received));
    // A clock stepped back mid-request: the receive time alone.
    let local = if received >= sent {
        sent + (received - sent) / 2
    } else {
        received
    };
    let offset = millis(server) + 500 - local;
    if offset.abs() > MAX_OFFSET_SECS * 1000 {
        DateSample::Absurd
    } else if offset.abs() <= NOISE_SECS * 1000 {
        DateSample::Offset(0)
    } else {
        DateSample::Offset(offset)
    }
}

/// Milliseconds since the epoch (negative before it), saturating.
fn millis(t: SystemTime) -> i64 {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => ms(d),
        Err(e) => -ms(e.duration()),
    }
}

/// The key: scheme, host and port.
fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000;

    fn at(secs: u64, ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms)
    }

    fn http_date(secs: u64) -> String {
        httpdate::fmt_http_date(at(secs, 0))
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn a_date_ten_minutes_ahead_dates_proofs_ten_minutes_ahead_from_the_request_midpoint() {
        let clocks = ServerClocks::default();
        let token = url("https://as.example/token");
        // Sent at T0, answered 800 ms later; the server said T0 + 600 s.
        let sample = clocks.observe(&token, Some(&http_date(T0 + 600)), at(T0, 0), at(T0, 800));
        assert_eq!(sample, DateSample::Offset(600_000 + 500 - 400));
        assert_eq!(clocks.iat_at(&token, at(T0 + 10, 0)), (T0 + 610) as i64);
        // Another endpoint of the same origin shares the clock, another origin doesn't.
        let api = url("https://as.example/api/hello?x=1");
        assert_eq!(clocks.iat_at(&api, at(T0 + 10, 0)), (T0 + 610) as i64);
        let other = url("https://api.example/v1");
        assert_eq!(clocks.iat_at(&other, at(T0 + 10, 0)), (T0 + 10) as i64);
        let other_port = url("https://as.example:8443/token");
        assert_eq!(clocks.offset_ms(&other_port), None);
    }

    #[test]
    fn a_server_behind_dates_proofs_behind() {
        let clocks = ServerClocks::default();
        let u = url("https://as.example/token");
        clocks.observe(&u, Some(&http_date(T0 - 300)), at(T0, 0), at(T0, 0));
        assert_eq!(clocks.iat_at(&u, at(T0, 0)), (T0 - 300) as i64);
    }

    #[test]
    fn a_missing_or_garbled_date_teaches_nothing_and_keeps_the_last_estimate() {
        let clocks = ServerClocks::default();
        let u = url("https://as.example/token");
        assert_eq!(
            clocks.observe(&u, None, at(T0, 0), at(T0, 0)),
            DateSample::Missing
        );
        for garbled in ["", "yesterday", "Sun, 06 Nov 1994 08:49:37", "1800000600"] {
            assert_eq!(
                clocks.observe(&u, Some(garbled), at(T0, 0), at(T0, 0)),
                DateSample::Unparseable,
                "{garbled:?}"
            );
        }
        assert_eq!(clocks.iat_at(&u, at(T0, 0)), T0 as i64);
        clocks.observe(&u, Some(&http_date(T0 + 60)), at(T0, 0), at(T0, 0));
        clocks.observe(&u, Some("garbage"), at(T0, 0), at(T0, 0));
        clocks.observe(&u, None, at(T0, 0), at(T0, 0));
        assert_eq!(clocks.iat_at(&u, at(T0, 0)), (T0 + 60) as i64);
    }

    #[test]
    fn the_obsolete_http_date_formats_are_accepted() {
        // RFC 9110 §5.6.7: a recipient must accept all three formats.
        let clocks = ServerClocks::default();
        let u = url("https://as.example/token");
        let local = UNIX_EPOCH + Duration::from_secs(784_111_777 - 3600);
        for date in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                clocks.observe(&u, Some(date), local, local),
                DateSample::Offset(3_600_500),
                "{date}"
            );
        }
    }

    #[test]
    fn an_offset_beyond_a_day_is_ignored_and_one_within_it_is_believed() {
        let clocks = ServerClocks::default();
        let u = url("https://as.example/token");
        clocks.observe(&u, Some(&http_date(T0 + 600)), at(T0, 0), at(T0, 0));
        for absurd in [T0 + 2 * 86_400, T0 - 86_402, 0] {
            assert_eq!(
                clocks.observe(&u, Some(&http_date(absurd)), at(T0, 0), at(T0, 0)),
                DateSample::Absurd
            );
        }
        assert_eq!(clocks.iat_at(&u, at(T0, 0)), (T0 + 600) as i64);
        // The bound: a server may move its own proofs' iat by at most a day.
        clocks.observe(&u, Some(&http_date(T0 + 86_399)), at(T0, 0), at(T0, 0));
        assert_eq!(clocks.iat_at(&u, at(T0, 0)), (T0 + 86_399) as i64);
    }

    #[test]
    fn an_offset_within_the_dates_resolution_is_taken_as_zero() {
        let clocks = ServerClocks::default();
        let u = url("https://as.example/token");
        // The same second on both sides, a slow answer, a server a second behind.
        for (date, sent, received) in [
            (T0, at(T0, 900), at(T0, 950)),
            (T0, at(T0, 0), at(T0 + 3, 0)),
            (T0 - 1, at(T0, 0), at(T0, 0)),
        ] {
            assert_eq!(
                clocks.observe(&u, Some(&http_date(date)), sent, received),
                DateSample::Offset(0)
            );
            assert_eq!(clocks.iat_at(&u, at(T0, 999)), T0 as i64);
        }
    }
}
