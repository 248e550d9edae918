//! Secret values we own (as opposed to oauth2's token newtypes): redacted `Debug`, no `Display`,
//! zeroized on drop, and no derived `PartialEq` (compare with [`SecretString::ct_eq`]).

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A string that must never be printed or logged: an ID token, a vault key encoded as text.
///
/// `Debug` prints `SecretString([redacted])`; the memory is zeroized when the value is dropped.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wraps a value.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret itself.
    ///
    /// # Security warning
    /// Leaking this value may compromise the session. Never log it or send it to the WebView.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares with another secret in time independent of where the two differ.
    pub fn ct_eq(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

/// Constant-time equality of two strings (for `state` and other one-time values).
pub(crate) fn ct_str_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_secret_string_never_shows_the_value() {
        let s = SecretString::new("eyJhbGciOiJSUzI1NiJ9.payload.sig".into());
        let printed = format!("{s:?}");
        assert!(!printed.contains("eyJ"), "{printed}");
        assert_eq!(printed, "SecretString([redacted])");
    }

    #[test]
    fn constant_time_comparison_matches_only_equal_strings() {
        let s = SecretString::new("abc".into());
        assert!(s.ct_eq("abc"));
        assert!(!s.ct_eq("abd"));
        assert!(!s.ct_eq("ab"));
        assert!(ct_str_eq("x", "x"));
        assert!(!ct_str_eq("x", "y"));
    }
}
