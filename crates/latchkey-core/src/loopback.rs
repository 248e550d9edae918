//! The loopback redirect listener (RFC 8252 §7.3, §8.3).
//!
//! - Binds 127.0.0.1 and, when the machine has IPv6, [::1] on the same port: ephemeral, or the
//!   first free one of the configured ports for providers that match redirect URIs exactly (the
//!   `bind` submodule chooses). The redirect URI names 127.0.0.1 and that port. On a machine
//!   without IPv4 loopback it binds [::1] alone and the redirect URI names [::1] (RFC 8252 §7.3:
//!   use whichever is available).
//! - The path the listener accepts is the redirect URI's, byte for byte. A configured path that
//!   URL parsing would rewrite (dot segments, characters it percent-encodes, `\\`) is refused at
//!   bind: the authorization request would advertise one path and the listener expect another.
//! - Serves one sign-in: [`LoopbackListener::wait`] consumes the listener and returns on the
//!   first request its `check` accepts; the sockets close when it returns.
//! - Anything else — junk bytes, a wrong method or path, a foreign `state` or `iss`, a client that
//!   sends too slowly or too much — gets a 400 and the listener keeps waiting, so a hostile local
//!   process can't end the sign-in early, and the real callback still completes.
//! - At most [`MAX_CONNECTIONS`] connections are read at once, each for at most [`READ_TIMEOUT`].
//!   When all are busy, the oldest still being read is closed to make room: a browser sends its
//!   request at once, so a process holding many silent connections open can't crowd out the real
//!   callback, and a connection whose request has been read is never closed unanswered.
//! - `Cookie` header lines don't count against the request-head limit (browsers send every cookie
//!   set for 127.0.0.1, whatever the port); they are skipped unstored, within a hard overall cap.
//! - The pages it serves echo nothing from the request, forbid every subresource (CSP
//!   `default-src 'none'`) and send no referrer.

mod bind;
mod readers;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::config::ConfigError;
use crate::error::{CallbackRejection, Error};
use crate::redirect::CallbackParams;
use readers::{Parsed, Readers};

/// How long one connection may take to send its request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How many connections are read at once; a new one beyond this closes the oldest.
pub const MAX_CONNECTIONS: usize = 32;

const SUCCESS_PAGE: &str =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Latchkey</title></head>\
<body style=\"font-family:sans-serif;text-align:center;margin-top:4em\"><h1>Signed in</h1>\
<p>You can close this tab and return to Latchkey.</p></body></html>";
const FAILURE_PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Latchkey</title></head>\
<body style=\"font-family:sans-serif;text-align:center;margin-top:4em\"><h1>Sign-in did not complete</h1>\
<p>You can close this tab and return to Latchkey.</p></body></html>";
const BAD_REQUEST_PAGE: &str =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Bad request</title></head>\
<body><h1>Bad request</h1></body></html>";

/// What `check` decided about an acceptable callback: the value to return and which page the
/// browser sees.
pub struct Accepted<T> {
    /// Returned by [`LoopbackListener::wait`].
    pub value: T,
    /// True: "Signed in"; false: "Sign-in did not complete".
    pub success: bool,
}

/// A bound loopback listener for one sign-in.
#[derive(Debug)]
pub struct LoopbackListener {
    v4: Option<TcpListener>,
    v6: Option<TcpListener>,
    port: u16,
    path: String,
}

impl LoopbackListener {
    /// Binds 127.0.0.1 and, when possible, [::1] on the same port; [::1] alone when IPv4
    /// loopback is unavailable. The port is ephemeral when `ports` is empty, else the first of
    /// `ports` free (a port taken on either address family counts as taken).
    ///
    /// # Errors
    /// [`Error::RedirectPortsTaken`] when every one of `ports` is in use.
    pub async fn bind(path: &str, ports: &[u16]) -> Result<Self, Error> {
        check_path(path)?;
        let sockets = bind::sockets(ports).await?;
        Ok(Self::listening(sockets, path))
    }

    /// Binds [::1] alone on an ephemeral port, as [`LoopbackListener::bind`] does on a host
    /// without IPv4 loopback: tests reach that case through here.
    #[cfg(test)]
    pub(crate) async fn bind_ipv6_only(path: &str) -> Result<Self, Error> {
        check_path(path)?;
        let sockets = bind::ipv6_only(0).await.map_err(Error::LoopbackBind)?;
        Ok(Self::listening(sockets, path))
    }

    fn listening(sockets: bind::Sockets, path: &str) -> Self {
        let bind::Sockets { v4, v6, port } = sockets;
        Self {
            v4,
            v6,
            port,
            path: path.to_owned(),
        }
    }

    /// The redirect URI to register in the authorization request: `http://127.0.0.1:PORT/path`,
    /// or `http://[::1]:PORT/path` when only IPv6 loopback is bound.
    pub fn redirect_uri(&self) -> Result<Url, Error> {
        let host = if self.v4.is_some() {
            "127.0.0.1"
        } else {
            "[::1]"
        };
        loopback_url(host, self.port, &self.path)
            .map_err(|e| Error::Internal(format!("redirect URI: {e}")))
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// True when [::1] is bound too.
    pub fn has_ipv6(&self) -> bool {
        self.v6.is_some()
    }

    /// Waits for a callback that `check` accepts, until `timeout`. Every rejected request is
    /// answered 400 and counted; a timeout reports the count and the last reason.
    pub async fn wait<T, F>(self, timeout: Duration, mut check: F) -> Result<T, Error>
    where
        F: FnMut(&CallbackParams) -> Result<Accepted<T>, CallbackRejection>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        let (tx, mut rx) = mpsc::channel::<Parsed<TcpStream>>(MAX_CONNECTIONS);
        let mut readers = Readers::default();
        // Lingering closes hold a connection for up to READ_TIMEOUT; at most this many at once,
        // so a flood of junk can't turn them into a pile of open sockets.
        let lingering = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut rejected: u32 = 0;
        let mut last_rejection = None;
        // What the browser will request is what the authorization request advertised.
        let path: Arc<str> = Arc::from(self.redirect_uri()?.path());

        loop {
            tokio::select! {
                // Requests already read are judged before another connection is accepted: read
                // connections can't be closed to make room, so they must not pile up behind a
                // flood of new ones.
                biased;
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(Error::SignInTimedOut {
                        seconds: timeout.as_secs(),
                        rejected,
                        last_rejection,
                    });
                }
                Some((id, stream, parsed)) = rx.recv() => {
                    readers.finished(id);
                    match parsed.and_then(|params| check(&params)) {
                        Ok(accepted) => {
                            let page = if accepted.success { SUCCESS_PAGE } else { FAILURE_PAGE };
                            let _ = respond(stream, 200, "OK", page, None).await;
                            return Ok(accepted.value);
                        }
                        Err(rejection) => {
                            rejected = rejected.saturating_add(1);
                            last_rejection = Some(rejection);
                            tracing::debug!(%rejection, "rejected a request on the loopback redirect");
                            let drain = lingering.clone().try_acquire_owned().ok();
                            tokio::spawn(respond(stream, 400, "Bad Request", BAD_REQUEST_PAGE, drain));
                        }
                    }
                }
                accepted = accept_either(self.v4.as_ref(), self.v6.as_ref()) => match accepted {
                    Ok(stream) => readers.spawn(stream, &tx, &path),
                    Err(e) => accept_failed(e).await,
                },
            }
        }
    }
}

/// `http://{host}:{port}{path}`, parsed.
fn loopback_url(host: &str, port: u16, path: &str) -> Result<Url, url::ParseError> {
    Url::parse(&format!("http://{host}:{port}{path}"))
}

/// Refuses a path the redirect URI would not carry as given. The listener accepts exactly the
/// advertised path, and the authorization server compares the redirect URI with the registered
/// one; a silently rewritten path would fail one of the two with no hint why.
fn check_path(path: &str) -> Result<(), Error> {
    let invalid = |reason: String| Error::Config(ConfigError::invalid("redirect_path", reason));
    let url = loopback_url("127.0.0.1", 1, path)
        .map_err(|e| invalid(format!("does not form a redirect URI ({e})")))?;
    if url.path() != path || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(format!(
            "must be an absolute path written as the redirect URI carries it (here {:?}): no dot \
             segments, backslashes, query, fragment, or characters that need percent-encoding",
            url.path()
        )));
    }
    Ok(())
}

/// The next connection on either socket; neither is favoured.
async fn accept_either(
    v4: Option<&TcpListener>,
    v6: Option<&TcpListener>,
) -> std::io::Result<TcpStream> {
    tokio::select! {
        accepted = accept_optional(v4) => accepted.map(|(stream, _)| stream),
        accepted = accept_optional(v6) => accepted.map(|(stream, _)| stream),
    }
}

/// An `accept` error (typically out of file descriptors) would recur at once: pause briefly
/// instead of spinning, as servers do, and keep listening.
async fn accept_failed(e: std::io::Error) {
    tracing::debug!(error = %e, "accept failed on the loopback redirect; pausing");
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}

/// How long the listener pauses after a failed `accept`.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

async fn accept_optional(
    listener: Option<&TcpListener>,
) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Writes the answer and closes. Given a `drain` permit, it first reads and discards what the
/// client is still sending (a "lingering close", bounded by [`READ_TIMEOUT`] and [`MAX_DRAIN`]):
/// closing a socket with unread input makes the kernel reset the connection, and the client would
/// lose the 400. Without a permit (too many lingering already) it closes at once.
async fn respond(
    mut stream: TcpStream,
    status: u16,
    reason: &str,
    body: &str,
    drain: Option<OwnedSemaphorePermit>,
) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\n\
         Cache-Control: no-store\r\n\
         Referrer-Policy: no-referrer\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n\
         X-Content-Type-Options: nosniff\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await?;
        if let Some(_permit) = drain {
            let mut sink = [0u8; 1024];
            let mut drained = 0;
            while drained < MAX_DRAIN {
                match stream.read(&mut sink).await? {
                    0 => break,
                    n => drained += n,
                }
            }
        }
        Ok(())
    };
    tokio::time::timeout(READ_TIMEOUT, write)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

/// The most a rejected client's leftover input is read before its connection is closed.
const MAX_DRAIN: usize = 64 * 1024;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_browser;
