//! The external user agent that shows the authorization page (RFC 8252 §4: never a WebView).
//!
//! [`SystemBrowser`] honours the `BROWSER` environment variable convention: a list of commands
//! separated by `:`, tried in order; in each, `%s` is replaced by the URL, or the URL is appended
//! as the last argument. Commands are split like a shell would split words, but no shell runs, so
//! nothing in the URL is interpreted. Without `BROWSER`, the platform's opener is used
//! (`xdg-open`, `open`, or `rundll32 url.dll,FileProtocolHandler`).

use std::process::{Command, Stdio};

use url::Url;

/// Failure to start the user agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserAgentError {
    /// `BROWSER` could not be split into words (e.g. an unbalanced quote).
    #[error("the BROWSER variable is not a valid command: {0}")]
    InvalidBrowserVariable(String),
    /// No command in the list could be started.
    #[error("could not open a browser (tried {tried}); set BROWSER to a command that opens URLs")]
    NoBrowser {
        /// The programs tried.
        tried: String,
        /// The last failure.
        #[source]
        source: std::io::Error,
    },
}

/// Opens the authorization URL somewhere the user can sign in.
pub trait UserAgent: Send + Sync {
    /// Opens `url`. Returns once the user agent has been started, not when sign-in ends.
    fn open(&self, url: &Url) -> Result<(), UserAgentError>;
}

/// The desktop system browser, or the command in `BROWSER`.
#[derive(Debug, Clone, Default)]
pub struct SystemBrowser {
    browser_var: Option<String>,
}

impl SystemBrowser {
    /// Uses `BROWSER` from the process environment, if set and not empty.
    pub fn from_env() -> Self {
        Self::with_browser_var(std::env::var("BROWSER").ok())
    }

    /// Uses the given `BROWSER`-style value (None: the platform opener).
    pub fn with_browser_var(value: Option<String>) -> Self {
        Self {
            browser_var: value.filter(|v| !v.trim().is_empty()),
        }
    }

    /// The command lines that would be tried for `url`, in order.
    pub fn commands(&self, url: &Url) -> Result<Vec<Vec<String>>, UserAgentError> {
        match &self.browser_var {
            Some(var) => var
                .split(':')
                .filter(|c| !c.trim().is_empty())
                .map(|c| expand(c, url.as_str()))
                .collect(),
            None => Ok(vec![platform_opener(url.as_str())]),
        }
    }
}

fn expand(command: &str, url: &str) -> Result<Vec<String>, UserAgentError> {
    let words = shell_words::split(command)
        .map_err(|e| UserAgentError::InvalidBrowserVariable(e.to_string()))?;
    if words.is_empty() {
        return Err(UserAgentError::InvalidBrowserVariable(
            "empty command".into(),
        ));
    }
    let has_placeholder = words.iter().any(|w| w.contains("%s"));
    let mut argv: Vec<String> = words.into_iter().map(|w| w.replace("%s", url)).collect();
    if !has_placeholder {
        argv.push(url.to_owned());
    }
    Ok(argv)
}

fn platform_opener(url: &str) -> Vec<String> {
    if cfg!(target_os = "macos") {
        vec!["open".into(), url.into()]
    } else if cfg!(target_os = "windows") {
        vec![
            "rundll32".into(),
            "url.dll,FileProtocolHandler".into(),
            url.into(),
        ]
    } else {
        vec!["xdg-open".into(), url.into()]
    }
}

impl UserAgent for SystemBrowser {
    fn open(&self, url: &Url) -> Result<(), UserAgentError> {
        let mut tried = Vec::new();
        let mut last = None;
        for argv in self.commands(url)? {
            let Some((program, args)) = argv.split_first() else {
                continue;
            };
            tried.push(program.clone());
            let spawned = Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn();
            match spawned {
                Ok(mut child) => {
                    let program = program.clone();
                    // Reap the child when it exits; its status is only worth a debug line.
                    std::thread::spawn(move || {
                        if let Ok(status) = child.wait() {
                            tracing::debug!(%program, %status, "browser command exited");
                        }
                    });
                    return Ok(());
                }
                Err(e) => {
                    tracing::debug!(%program, error = %e, "browser command failed to start");
                    last = Some(e);
                }
            }
        }
        Err(UserAgentError::NoBrowser {
            tried: tried.join(", "),
            source: last.unwrap_or_else(|| std::io::ErrorKind::NotFound.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("http://127.0.0.1:9/auth?a=1&b=2;$(touch /tmp/pwned)").unwrap()
    }

    #[test]
    fn the_placeholder_is_replaced_by_the_url() {
        let b = SystemBrowser::with_browser_var(Some("node driver.mjs --url=%s --quiet".into()));
        let cmds = b.commands(&url()).unwrap();
        assert_eq!(
            cmds,
            vec![vec![
                "node".to_string(),
                "driver.mjs".into(),
                format!("--url={}", url()),
                "--quiet".into()
            ]]
        );
    }

    #[test]
    fn without_a_placeholder_the_url_is_appended() {
        let b = SystemBrowser::with_browser_var(Some("firefox --new-tab".into()));
        let cmds = b.commands(&url()).unwrap();
        assert_eq!(cmds[0].last().unwrap(), url().as_str());
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "the browser that starts is the Unix `true` program; Windows has no such program"
    )]
    fn a_colon_separated_list_is_tried_in_order() {
        let b = SystemBrowser::with_browser_var(Some("/nonexistent/browser-a:true".into()));
        assert_eq!(b.commands(&url()).unwrap().len(), 2);
        // The first fails to start; the second (`true`) starts.
        b.open(&url()).unwrap();
    }

    #[test]
    fn when_nothing_starts_the_error_names_what_was_tried() {
        let b = SystemBrowser::with_browser_var(Some("/nonexistent/browser".into()));
        let err = b.open(&url()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/browser"), "{err}");
    }

    #[test]
    fn an_unbalanced_quote_is_a_clear_error() {
        let b = SystemBrowser::with_browser_var(Some("node 'driver.mjs".into()));
        assert!(matches!(
            b.commands(&url()),
            Err(UserAgentError::InvalidBrowserVariable(_))
        ));
    }

    #[test]
    fn the_url_is_passed_as_one_argument_and_never_through_a_shell() {
        let hostile = Url::parse("http://127.0.0.1:9/auth?x=1;touch%20/tmp/x&y='a b'").unwrap();
        let b = SystemBrowser::with_browser_var(Some("echo %s".into()));
        let cmds = b.commands(&hostile).unwrap();
        assert_eq!(cmds, vec![vec!["echo".to_string(), hostile.to_string()]]);
    }
}
