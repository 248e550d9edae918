//! [`ConfigError`], and the words its messages use for each setting.
//!
//! The messages are for a person, whichever front end shows them: they say what the setting is
//! and what is wrong with it, never how to set it. Where a setting comes from (a flag, an
//! environment variable, a settings form) is the front end's business, so it reads
//! [`ConfigError::field`] and adds its own hint. The one exception is a value refused while
//! reading the environment: its message names the variable, because that is what the person
//! has to correct, in any front end.

/// A configuration problem, naming the setting at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting has no value in any layer. The message names the setting in words;
    /// each front end adds how to set it there (a flag, a field in a form).
    #[error("{} is required", described(.field))]
    #[non_exhaustive]
    Missing {
        /// The setting's key (as in the configuration file); see [`ConfigError::field`].
        field: &'static str,
    },
    /// A setting has a value that is not acceptable.
    #[error("{} {reason}", label(.field))]
    Invalid {
        /// The setting's key (`params.<name>` for one extra parameter), or the environment
        /// variable the value came from when it was refused while reading the environment.
        field: String,
        /// What is wrong with it, worded to follow the setting's name.
        reason: String,
    },
    /// The configuration file could not be read.
    #[error("cannot read the configuration file {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file could not be written.
    #[error("cannot save the configuration file {path}")]
    Write {
        /// The file.
        path: String,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML of the expected shape.
    #[error("the configuration file {path} is not valid")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message (names the key and line).
        #[source]
        source: toml::de::Error,
    },
}

impl ConfigError {
    /// A required setting (`field`, as the configuration names it) has no value.
    pub fn missing(field: &'static str) -> Self {
        ConfigError::Missing { field }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The setting at fault, as its configuration-file key (`issuer`, `client_id`,
    /// `params.max_age`) or, for a value refused while reading the environment, the variable's
    /// name. A front end maps it to the place its user sets it (a flag, a form field).
    /// `None` when the problem is the configuration file itself.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Missing { field, .. } => Some(*field),
            ConfigError::Invalid { field, .. } => Some(field.as_str()),
            ConfigError::Read { .. } | ConfigError::Write { .. } | ConfigError::Parse { .. } => {
                None
            }
        }
    }
}

/// A setting's name as a sentence uses it.
fn label(field: &str) -> String {
    let known = match field {
        "issuer" => "the issuer",
        "client_id" => "the client ID",
        "scopes" => "the scopes",
        "params" => "the extra sign-in parameters",
        "redirect_path" => "the redirect path",
        "redirect_ports" => "the redirect ports",
        "redirect_uri" => "the redirect URI",
        "http_timeout_secs" => "the HTTP timeout",
        "login_timeout_secs" => "the sign-in timeout",
        "max_response_bytes" => "the response size limit",
        "api_url" => "the API URL",
        "settings" => "the settings",
        _ => "",
    };
    if !known.is_empty() {
        known.to_owned()
    } else if let Some(param) = field.strip_prefix("params.") {
        format!("the sign-in parameter {param:?}")
    } else if field.starts_with("LATCHKEY_") {
        format!("the environment variable {field}")
    } else {
        format!("the setting {field:?}")
    }
}

/// A setting's name with what it is, for a person asked to provide it.
fn described(field: &str) -> String {
    let what = match field {
        "issuer" => "the provider's URL",
        "client_id" => "this app's ID at the provider",
        "api_url" => "the protected API to call",
        _ => return label(field),
    };
    format!("{} ({what})", label(field))
}
