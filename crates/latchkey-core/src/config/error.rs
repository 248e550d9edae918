//! [`ConfigError`].

/// A configuration problem, naming the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required field has no value in any layer.
    #[error("configuration: `{field}` is required{hint}")]
    Missing {
        /// The field.
        field: &'static str,
        /// How to provide it.
        hint: &'static str,
    },
    /// A field has a value that is not acceptable.
    #[error("configuration: `{field}` {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration file could not be read.
    #[error("configuration: cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML of the expected shape.
    #[error("configuration: {path} is invalid")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message (names the key and line).
        #[source]
        source: toml::de::Error,
    },
}

impl ConfigError {
    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
