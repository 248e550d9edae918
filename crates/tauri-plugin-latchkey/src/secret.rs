//! The access token as the host's Rust receives it: readable on purpose ([`AccessToken::secret`]),
//! never printed (its `Debug` is redacted), never serialized (it implements no `Serialize`, so a
//! command can't return it to script by accident), wiped from memory when dropped.

use zeroize::Zeroizing;

/// A fresh access token. For a DPoP-bound session (`Status.session.key_bound`) the token alone is
/// not accepted by the resource server: use [`crate::Latchkey::get`], which adds the proof.
pub struct AccessToken(Zeroizing<String>);

impl AccessToken {
    pub(crate) fn new(token: &openidconnect::AccessToken) -> Self {
        Self(Zeroizing::new(token.secret().clone()))
    }

    /// The token, to put in an `Authorization` header.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_token_debug_output_is_redacted() {
        let token = AccessToken::new(&openidconnect::AccessToken::new("eyJ.secret.value".into()));
        assert_eq!(format!("{token:?}"), "AccessToken(***)");
        assert_eq!(token.secret(), "eyJ.secret.value");
    }
}
