//! A scanner for every secret of a journey, in clear or in a common encoding.

use std::path::PathBuf;

use url::Url;

/// Every secret of a journey, gathered from the records the dev IdP
/// (`DEV_IDP_RECORD_SECRETS`) and the login driver (`LATCHKEY_DRIVER_RECORD`) keep, plus what a
/// test adds (the vault key, the PIN). [`Secrets::found_in`] names each one present in some
/// bytes, in clear or in a common encoding.
#[derive(Default, Debug)]
pub struct Secrets {
    named: Vec<(String, String)>,
    challenges: Vec<String>,
    keys: Vec<(String, Vec<u8>)>,
}

impl Secrets {
    /// Reads the records: every authorization code, access token and refresh token the IdP
    /// issued; every `state`, nonce and PKCE challenge the app sent (the verifier is found by
    /// its hash).
    pub fn from_records(idp_record: &std::path::Path, driver_record: &std::path::Path) -> Self {
        let mut secrets = Self::default();
        for path in [idp_record, driver_record] {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            for line in text.lines() {
                let record: serde_json::Value = serde_json::from_str(line).unwrap();
                let (kind, value) = (
                    record["kind"].as_str().unwrap(),
                    record["value"].as_str().unwrap(),
                );
                match kind {
                    "authorization_url" => {
                        let url = Url::parse(value).unwrap();
                        for (k, v) in url.query_pairs() {
                            match &*k {
                                "state" | "nonce" => secrets.add(&k, &v),
                                "code_challenge" => secrets.challenges.push(v.into_owned()),
                                _ => {}
                            }
                        }
                    }
                    // Recorded by the dev IdP from a pushed request (RFC 9126).
                    "code_challenge" => secrets.challenges.push(value.to_owned()),
                    "state" | "nonce" if secrets.named.iter().any(|(_, s)| s == value) => {}
                    "redirect" => {
                        // Its code is in the IdP's record; its state is the request's (the
                        // one place a pushed request's state shows).
                        if let Ok(url) = Url::parse(value) {
                            for (k, v) in url.query_pairs() {
                                if k == "state" && !secrets.named.iter().any(|(_, s)| *s == v) {
                                    secrets.add("state", &v);
                                }
                            }
                        }
                    }
                    kind => secrets.add(kind, value),
                }
            }
        }
        secrets
    }

    /// Adds a secret string.
    pub fn add(&mut self, kind: &str, value: &str) {
        assert!(value.len() >= 8, "{kind} is too short to scan for");
        self.named.push((kind.to_owned(), value.to_owned()));
    }

    /// Adds key bytes: found raw, as hex, base64, base64url or a JSON array of numbers.
    pub fn add_key(&mut self, kind: &str, key: &[u8]) {
        self.keys.push((kind.to_owned(), key.to_vec()));
    }

    /// Adds a session's DPoP private key (kind `dpop_private_key`): its 32-byte scalar, found
    /// in any of [`Secrets::add_key`]'s encodings (the stored form is base64url).
    pub fn add_dpop_key(&mut self, material: &latchkey::dpop::DpopKeyMaterial) {
        use base64::Engine;
        let scalar = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(material.d.expose())
            .expect("the stored DPoP key is base64url");
        assert_eq!(scalar.len(), 32, "a P-256 scalar");
        self.add_key("dpop_private_key", &scalar);
    }

    /// How many secrets of each kind are known (a scan that knows none proves nothing).
    pub fn count(&self, kind: &str) -> usize {
        match kind {
            "code_verifier" => self.challenges.len(),
            _ => {
                self.named.iter().filter(|(k, _)| k == kind).count()
                    + self.keys.iter().filter(|(k, _)| k == kind).count()
            }
        }
    }

    /// The kinds of the secrets that appear in `haystack`.
    pub fn found_in(&self, haystack: &[u8]) -> Vec<String> {
        use base64::Engine;
        let contains = |needle: &[u8]| {
            !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
        };
        let mut found = Vec::new();
        for (kind, value) in &self.named {
            let encoded = crate::form_encode(value);
            if contains(value.as_bytes()) || contains(encoded.as_bytes()) {
                found.push(kind.clone());
            }
        }
        for (kind, key) in &self.keys {
            let forms = [
                key.clone(),
                key.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
                    .into_bytes(),
                base64::engine::general_purpose::STANDARD
                    .encode(key)
                    .into_bytes(),
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(key)
                    .into_bytes(),
                serde_json::to_vec(key).unwrap(),
            ];
            if forms.iter().any(|f| contains(f)) {
                found.push(kind.clone());
            }
        }
        // A PKCE verifier is 43-128 unreserved characters whose SHA-256 is a challenge we saw.
        let unreserved = |b: &u8| b.is_ascii_alphanumeric() || b"-._~".contains(b);
        for run in haystack.split(|b| !unreserved(b)).filter(|r| r.len() >= 43) {
            let mut candidates: Vec<&[u8]> = run.windows(43).collect();
            if run.len() <= 128 {
                candidates.push(run);
            }
            for candidate in candidates {
                let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(<sha2::Sha256 as sha2::Digest>::digest(candidate));
                if self.challenges.contains(&hash) {
                    found.push("code_verifier".into());
                }
            }
        }
        found.sort();
        found.dedup();
        found
    }

    /// `(file, kinds)` for every file under `dir` that holds a secret.
    pub fn found_in_dir(&self, dir: &std::path::Path) -> Vec<(PathBuf, Vec<String>)> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return out;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(self.found_in_dir(&path));
            } else if let Ok(bytes) = std::fs::read(&path) {
                let found = self.found_in(&bytes);
                if !found.is_empty() {
                    out.push((path, found));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn the_scanner_finds_a_pkce_verifier_by_its_challenge_and_tokens_in_clear_or_url_encoded() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
        let mut secrets = Secrets {
            challenges: vec![challenge],
            ..Default::default()
        };
        secrets.add("refresh_token", "rt/with+special=chars");
        let body = format!("grant_type=authorization_code&code_verifier={verifier}&x=1");
        assert_eq!(secrets.found_in(body.as_bytes()), ["code_verifier"]);
        assert_eq!(
            secrets.found_in(b"refresh_token=rt%2Fwith%2Bspecial%3Dchars"),
            ["refresh_token"]
        );
        assert!(secrets.found_in(b"nothing to see here").is_empty());
    }
}
