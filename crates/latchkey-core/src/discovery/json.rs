//! JSON parsing for every server response the engine reads (discovery, JWKS, token, userinfo).
//!
//! Server bodies can hold tokens, so a parse failure reports where it failed (the JSON path)
//! and what kind of failure it was, never a value: serde's own messages quote the input.

use crate::error::{Endpoint, Error, Result};

/// Parses JSON, reporting only the path of the failure, never values from the body.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    endpoint: Endpoint,
    body: &[u8],
) -> Result<T> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| Error::InvalidResponse {
        endpoint,
        problem: describe_json_error(e.path().to_string(), e.inner()),
    })
}

/// The value-free description [`parse_json`] gives, for callers that deserialize on their own.
pub(crate) fn describe_json_error(path: String, e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "unreadable",
        Category::Syntax => "not valid JSON",
        Category::Data => "a missing or mistyped field",
        Category::Eof => "truncated JSON",
    };
    if path == "." || path.is_empty() {
        what.to_string()
    } else {
        format!("{what} at `{path}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Doc {
        issuer: String,
    }

    #[test]
    fn a_mistyped_field_is_named_by_path_and_its_value_is_not_quoted() {
        let doc: Doc = parse_json(Endpoint::Discovery, br#"{"issuer": "https://x"}"#).unwrap();
        assert_eq!(doc.issuer, "https://x");
        let err = parse_json::<Doc>(Endpoint::Discovery, br#"{"issuer": 12345}"#).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("a missing or mistyped field at `issuer`"),
            "{text}"
        );
        assert!(!text.contains("12345"), "{text}");
    }
}
