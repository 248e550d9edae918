//! RFC 9470 step-up authentication: what a resource server's `insufficient_user_authentication`
//! challenge asks for, and whether a new ID token satisfies it.
//!
//! A protected API answers `401` with
//!
//! ```text
//! WWW-Authenticate: Bearer error="insufficient_user_authentication",
//!     error_description="A different authentication level is required",
//!     acr_values="urn:example:mfa", max_age=300
//! ```
//!
//! (or the same in a `DPoP` challenge, RFC 9449 §7.1), possibly among other challenges. That is
//! not a bad token: a refresh can't raise the level, and the session is fine for other calls. It
//! becomes [`crate::Error::StepUpRequired`] with a [`StepUpChallenge`]; the front end offers one
//! step ("Confirm it's you") that runs a new authorization request with those `acr_values` /
//! `max_age` ([`crate::Session::step_up`]), and the new ID token's `acr` and `auth_time` are
//! checked against what was asked ([`StepUpChallenge::check`], OIDC Core §2, §3.1.2.1).
//!
//! The values come from a server's header: they are bounded and filtered here (each ACR a
//! printable token of at most [`MAX_ACR_LEN`] characters, at most [`MAX_ACR_VALUES`] of them;
//! `max_age` a whole number of seconds no larger than [`MAX_MAX_AGE`]) before they reach an
//! authorization URL or a screen.

use serde::Serialize;

use crate::http::Challenge;

/// The RFC 9470 §3 error code.
pub const INSUFFICIENT_USER_AUTHENTICATION: &str = "insufficient_user_authentication";
/// The most ACR values kept from one challenge.
pub const MAX_ACR_VALUES: usize = 8;
/// The longest ACR value kept (longer ones are dropped).
pub const MAX_ACR_LEN: usize = 200;
/// The largest `max_age` accepted (one year); a larger or malformed one is ignored.
pub const MAX_MAX_AGE: u64 = 365 * 24 * 3600;

/// What a resource server asked for: a stronger (`acr_values`, in order of preference) and/or a
/// more recent (`max_age`, seconds) authentication. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepUpChallenge {
    /// The acceptable authentication context classes; empty when only `max_age` was asked.
    pub acr_values: Vec<String>,
    /// The longest time since the user's authentication the resource server accepts.
    pub max_age: Option<u64>,
}

impl StepUpChallenge {
    /// The step-up asked by any of `challenges` (Bearer or DPoP scheme), if one carries
    /// `error="insufficient_user_authentication"`. The first such challenge wins.
    pub fn from_challenges(challenges: &[Challenge]) -> Option<Self> {
        let c = challenges.iter().find(|c| {
            (c.is("Bearer") || c.is("DPoP")) && c.error() == Some(INSUFFICIENT_USER_AUTHENTICATION)
        })?;
        let acr_values = c
            .param("acr_values")
            .map(|v| {
                let mut kept: Vec<String> = Vec::new();
                for acr in v.split(' ').filter(|a| is_acceptable_acr(a)) {
                    if !kept.iter().any(|k| k == acr) && kept.len() < MAX_ACR_VALUES {
                        kept.push(acr.to_owned());
                    }
                }
                kept
            })
            .unwrap_or_default();
        let max_age = c
            .param("max_age")
            .filter(|v| !v.is_empty() && v.len() <= 12 && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|v| *v <= MAX_MAX_AGE);
        Some(Self {
            acr_values,
            max_age,
        })
    }

    /// Checks the new ID token's `acr` and `auth_time` (Unix seconds) against what was asked, at
    /// `now` (Unix seconds), allowing `skew` seconds of clock difference for `auth_time`.
    ///
    /// # Errors
    /// A sentence saying what the provider's answer lacks.
    pub fn check(
        &self,
        acr: Option<&str>,
        auth_time: Option<i64>,
        now: i64,
        skew: i64,
    ) -> Result<(), String> {
        if !self.acr_values.is_empty() {
            match acr {
                Some(acr) if self.acr_values.iter().any(|a| a == acr) => {}
                Some(acr) => {
                    let shown: String = acr.chars().filter(|c| !c.is_control()).take(80).collect();
                    return Err(format!(
                        "the provider signed you in at level {shown:?}, not one of those asked ({})",
                        self.acr_values.join(", ")
                    ));
                }
                None => {
                    return Err(format!(
                        "the provider's ID token names no authentication level (acr); asked: {}",
                        self.acr_values.join(", ")
                    ))
                }
            }
        }
        if let Some(max_age) = self.max_age {
            let max_age = i64::try_from(max_age).unwrap_or(i64::MAX);
            match auth_time {
                Some(t) if now.saturating_sub(t) <= max_age.saturating_add(skew) => {}
                Some(_) => {
                    return Err(format!(
                        "the provider's sign-in is older than the {max_age} s asked"
                    ))
                }
                None => {
                    return Err(
                        "the provider's ID token has no auth_time although max_age was asked"
                            .into(),
                    )
                }
            }
        }
        Ok(())
    }

    /// Whether the step-up must send `prompt=login`: the server said the current level is
    /// insufficient (`acr_values`), or the last authentication (`auth_time`, Unix seconds) is
    /// unknown or older than `max_age` at `now`.
    pub fn needs_login_prompt(&self, auth_time: Option<i64>, now: i64) -> bool {
        if !self.acr_values.is_empty() {
            return true;
        }
        match (self.max_age, auth_time) {
            (Some(max_age), Some(t)) => {
                now.saturating_sub(t) >= i64::try_from(max_age).unwrap_or(i64::MAX)
            }
            (Some(_), None) => true,
            // Asked for nothing we can read: a fresh authentication is the only thing to offer.
            (None, _) => true,
        }
    }

    /// A short description for a screen ("a stronger sign-in (urn:…)", "a sign-in in the last
    /// 300 s").
    pub fn describe(&self) -> String {
        match (self.acr_values.is_empty(), self.max_age) {
            (false, Some(s)) => format!(
                "a stronger sign-in ({}) within the last {s} s",
                self.acr_values.join(", ")
            ),
            (false, None) => format!("a stronger sign-in ({})", self.acr_values.join(", ")),
            (true, Some(s)) => format!("a sign-in within the last {s} s"),
            (true, None) => "a new sign-in".into(),
        }
    }
}

/// An ACR value worth sending: visible ASCII without quotes or backslashes (URNs, URLs, short
/// names), bounded in length.
fn is_acceptable_acr(acr: &str) -> bool {
    !acr.is_empty()
        && acr.len() <= MAX_ACR_LEN
        && acr
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::parse_challenges;

    fn parse(values: &[&str]) -> Option<StepUpChallenge> {
        StepUpChallenge::from_challenges(&parse_challenges(values.iter().copied()))
    }

    #[test]
    fn a_bearer_challenge_among_several_gives_its_acr_values_and_max_age() {
        let c = parse(&[
            r#"Basic realm="x", DPoP algs="ES256", Bearer realm="api", error="insufficient_user_authentication", acr_values="urn:a urn:b", max_age=300"#,
        ])
        .unwrap();
        assert_eq!(c.acr_values, ["urn:a", "urn:b"]);
        assert_eq!(c.max_age, Some(300));
    }

    #[test]
    fn a_dpop_challenge_in_a_second_header_counts_too() {
        let c = parse(&[
            r#"Bearer realm="api""#,
            r#"DPoP error="insufficient_user_authentication", max_age="60""#,
        ])
        .unwrap();
        assert!(c.acr_values.is_empty());
        assert_eq!(c.max_age, Some(60));
    }

    #[test]
    fn other_errors_and_other_schemes_are_not_a_step_up() {
        assert!(parse(&[r#"Bearer error="invalid_token""#]).is_none());
        assert!(parse(&[r#"Basic error="insufficient_user_authentication""#]).is_none());
        assert!(parse(&[r#"DPoP error="use_dpop_nonce""#]).is_none());
        assert!(parse(&[]).is_none());
    }

    #[test]
    fn hostile_values_are_filtered_and_bounded() {
        let long = "u".repeat(MAX_ACR_LEN + 1);
        let many: Vec<String> = (0..50).map(|i| format!("urn:{i}")).collect();
        let header = format!(
            r#"Bearer error="insufficient_user_authentication", acr_values="{long} ok urn:a urn:a a\"b {}", max_age=-5"#,
            many.join(" ")
        );
        let c = parse(&[&header]).unwrap();
        assert!(
            !c.acr_values.contains(&long),
            "an overlong value is dropped"
        );
        assert!(c.acr_values.iter().all(|a| !a.contains('"')));
        assert_eq!(c.acr_values.len(), MAX_ACR_VALUES);
        assert_eq!(
            &c.acr_values[..2],
            ["ok", "urn:a"],
            "duplicates are kept once"
        );
        assert_eq!(c.max_age, None, "a negative max_age is ignored");
        for bad in ["1e3", "3.5", "99999999999999999999", "", "31536001", " 5"] {
            let header =
                format!(r#"Bearer error="insufficient_user_authentication", max_age="{bad}""#);
            assert_eq!(parse(&[&header]).unwrap().max_age, None, "{bad:?}");
        }
        let control =
            "Bearer error=\"insufficient_user_authentication\", acr_values=\"urn:\u{7}bell\"";
        assert!(parse(&[control]).unwrap().acr_values.is_empty());
    }

    #[test]
    fn the_new_id_token_must_carry_an_asked_acr_and_a_recent_auth_time() {
        let c = StepUpChallenge {
            acr_values: vec!["urn:mfa".into(), "urn:hw".into()],
            max_age: Some(300),
        };
        let now = 1_000_000;
        assert!(c.check(Some("urn:hw"), Some(now - 10), now, 0).is_ok());
        assert!(c
            .check(Some("urn:pwd"), Some(now), now, 0)
            .unwrap_err()
            .contains("urn:pwd"));
        assert!(c.check(None, Some(now), now, 0).is_err());
        assert!(c.check(Some("urn:mfa"), Some(now - 301), now, 0).is_err());
        assert!(
            c.check(Some("urn:mfa"), Some(now - 301), now, 5).is_ok(),
            "skew allowed"
        );
        assert!(c.check(Some("urn:mfa"), None, now, 0).is_err());
        let recency_only = StepUpChallenge {
            acr_values: vec![],
            max_age: Some(60),
        };
        assert!(recency_only.check(None, Some(now - 5), now, 0).is_ok());
    }

    #[test]
    fn prompt_login_is_sent_when_the_last_sign_in_is_too_old_or_the_level_too_low() {
        let now = 10_000;
        let recency = StepUpChallenge {
            acr_values: vec![],
            max_age: Some(300),
        };
        assert!(!recency.needs_login_prompt(Some(now - 10), now));
        assert!(recency.needs_login_prompt(Some(now - 300), now));
        assert!(recency.needs_login_prompt(None, now));
        let level = StepUpChallenge {
            acr_values: vec!["urn:mfa".into()],
            max_age: None,
        };
        assert!(level.needs_login_prompt(Some(now), now));
    }
}
