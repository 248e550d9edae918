//! The loopback redirect listener (RFC 8252 §7.3, §8.3).
//!
//! - Binds 127.0.0.1 and, when the machine has IPv6, [::1] on the same ephemeral port; the
//!   redirect URI names 127.0.0.1. On a machine without IPv4 loopback it binds [::1] alone and
//!   the redirect URI names [::1] (RFC 8252 §7.3: use whichever is available).
//! - Serves one sign-in: [`LoopbackListener::wait`] consumes the listener and returns on the
//!   first request its `check` accepts; the sockets close when it returns.
//! - Anything else — junk bytes, a wrong method or path, a foreign `state` or `iss`, a client that
//!   sends too slowly or too much — gets a 400 and the listener keeps waiting, so a hostile local
//!   process can't end the sign-in early, and the real callback still completes.
//! - At most [`MAX_CONNECTIONS`] connections are read at once, each for at most [`READ_TIMEOUT`].
//!   When all are busy, the oldest is closed to make room: a browser sends its request at once,
//!   so a process holding many silent connections open can't crowd out the real callback.
//! - The pages it serves echo nothing from the request, forbid every subresource (CSP
//!   `default-src 'none'`) and send no referrer.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::AbortHandle;
use url::Url;

use crate::error::{CallbackRejection, Error};
use crate::redirect::{parse_callback, parse_request_head, CallbackParams, MAX_REQUEST_HEAD};

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
    /// Binds 127.0.0.1 on an ephemeral port and [::1] on the same port when possible; [::1]
    /// alone when IPv4 loopback is unavailable.
    pub async fn bind(path: &str) -> Result<Self, Error> {
        let mut last_err = None;
        // A port free on IPv4 may be taken on IPv6; try a few ports before settling for IPv4 only.
        for _ in 0..4 {
            let v4 = match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await {
                Ok(v4) => v4,
                Err(e) => {
                    tracing::debug!(error = %e, "no IPv4 loopback; trying [::1] alone");
                    return Self::bind_ipv6_only(path)
                        .await
                        .map_err(|_| Error::LoopbackBind(e));
                }
            };
            let port = v4.local_addr().map_err(Error::LoopbackBind)?.port();
            match TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await {
                Ok(v6) => {
                    return Ok(Self {
                        v4: Some(v4),
                        v6: Some(v6),
                        port,
                        path: path.to_owned(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => last_err = Some((v4, e)),
                Err(e) => {
                    tracing::debug!(error = %e, "no IPv6 loopback; listening on 127.0.0.1 only");
                    return Ok(Self {
                        v4: Some(v4),
                        v6: None,
                        port,
                        path: path.to_owned(),
                    });
                }
            }
        }
        match last_err {
            Some((v4, e)) => {
                tracing::debug!(error = %e, "[::1] port busy; listening on 127.0.0.1 only");
                let port = v4.local_addr().map_err(Error::LoopbackBind)?.port();
                Ok(Self {
                    v4: Some(v4),
                    v6: None,
                    port,
                    path: path.to_owned(),
                })
            }
            None => Err(Error::Internal(
                "loopback bind loop ended without a listener".into(),
            )),
        }
    }

    /// Binds [::1] alone on an ephemeral port (a host without IPv4 loopback).
    pub(crate) async fn bind_ipv6_only(path: &str) -> Result<Self, Error> {
        let v6 = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)))
            .await
            .map_err(Error::LoopbackBind)?;
        let port = v6.local_addr().map_err(Error::LoopbackBind)?.port();
        Ok(Self {
            v4: None,
            v6: Some(v6),
            port,
            path: path.to_owned(),
        })
    }

    /// The redirect URI to register in the authorization request: `http://127.0.0.1:PORT/path`,
    /// or `http://[::1]:PORT/path` when only IPv6 loopback is bound.
    pub fn redirect_uri(&self) -> Result<Url, Error> {
        let host = if self.v4.is_some() {
            "127.0.0.1"
        } else {
            "[::1]"
        };
        Url::parse(&format!("http://{host}:{}{}", self.port, self.path))
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
        let (tx, mut rx) = mpsc::channel::<Parsed>(MAX_CONNECTIONS);
        let mut readers = Readers::default();
        // Lingering closes hold a connection for up to READ_TIMEOUT; at most this many at once,
        // so a flood of junk can't turn them into a pile of open sockets.
        let lingering = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut rejected: u32 = 0;
        let mut last_rejection = None;
        let path: Arc<str> = Arc::from(self.path.as_str());

        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(Error::SignInTimedOut {
                        seconds: timeout.as_secs(),
                        rejected,
                        last_rejection,
                    });
                }
                accepted = accept_optional(self.v4.as_ref()) => match accepted {
                    Ok((stream, _)) => readers.spawn(stream, &tx, &path),
                    Err(e) => accept_failed(e).await,
                },
                accepted = accept_optional(self.v6.as_ref()) => match accepted {
                    Ok((stream, _)) => readers.spawn(stream, &tx, &path),
                    Err(e) => accept_failed(e).await,
                },
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
            }
        }
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

type Parsed = (u64, TcpStream, Result<CallbackParams, CallbackRejection>);

/// The connections being read, oldest first. Owned by the wait loop alone; dropping it (when the
/// sign-in ends) aborts every reader and closes its connection.
#[derive(Default)]
struct Readers {
    next_id: u64,
    active: VecDeque<(u64, AbortHandle)>,
}

impl Readers {
    /// Reads `stream`'s request head in a task, closing the oldest connection first when
    /// [`MAX_CONNECTIONS`] are already being read.
    fn spawn(&mut self, mut stream: TcpStream, tx: &mpsc::Sender<Parsed>, path: &Arc<str>) {
        if self.active.len() >= MAX_CONNECTIONS {
            if let Some((_, oldest)) = self.active.pop_front() {
                oldest.abort();
                tracing::debug!("loopback connection limit reached; closed the oldest");
            }
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let tx = tx.clone();
        let path = path.clone();
        let task = tokio::spawn(async move {
            let parsed = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
                Ok(Ok((method, target))) => parse_callback(&method, &target, &path),
                Ok(Err(rejection)) => Err(rejection),
                Err(_) => Err(CallbackRejection::MalformedRequest),
            };
            let _ = tx.send((id, stream, parsed)).await;
        });
        self.active.push_back((id, task.abort_handle()));
    }

    /// Forgets a reader that has delivered its request.
    fn finished(&mut self, id: u64) {
        self.active.retain(|(active, _)| *active != id);
    }
}

impl Drop for Readers {
    fn drop(&mut self) {
        for (_, reader) in self.active.drain(..) {
            reader.abort();
        }
    }
}

async fn read_head(stream: &mut TcpStream) -> Result<(String, String), CallbackRejection> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| CallbackRejection::MalformedRequest)?;
        if n == 0 {
            return Err(CallbackRejection::MalformedRequest);
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_REQUEST_HEAD {
            return Err(CallbackRejection::MalformedRequest);
        }
        if let Some(head) = parse_request_head(&buf)? {
            return Ok(head);
        }
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
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn send(port: u16, v6: bool, raw: &[u8]) -> String {
        let addr: SocketAddr = if v6 {
            (Ipv6Addr::LOCALHOST, port).into()
        } else {
            (Ipv4Addr::LOCALHOST, port).into()
        };
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(raw).await.unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out).await;
        out
    }

    fn accept_code_param(p: &CallbackParams) -> Result<Accepted<String>, CallbackRejection> {
        match (&p.state, &p.code) {
            (Some(s), Some(c)) if s.secret() == "good" => Ok(Accepted {
                value: c.secret().clone(),
                success: true,
            }),
            _ => Err(CallbackRejection::StateMismatch),
        }
    }

    #[tokio::test]
    async fn the_redirect_uri_is_an_ip_literal_with_the_bound_port_and_exact_path() {
        let l = LoopbackListener::bind("/callback").await.unwrap();
        let uri = l.redirect_uri().unwrap();
        assert_eq!(
            uri.as_str(),
            format!("http://127.0.0.1:{}/callback", l.port())
        );
        assert_ne!(l.port(), 0);
    }

    #[tokio::test]
    async fn without_ipv4_loopback_the_redirect_names_ipv6_loopback_and_the_callback_completes() {
        let Ok(l) = LoopbackListener::bind_ipv6_only("/callback").await else {
            eprintln!("skipped: this machine has no IPv6 loopback");
            return;
        };
        let port = l.port();
        assert_eq!(
            l.redirect_uri().unwrap().as_str(),
            format!("http://[::1]:{port}/callback")
        );
        let waiter = tokio::spawn(l.wait(Duration::from_secs(30), accept_code_param));
        let answer = send(
            port,
            true,
            b"GET /callback?code=c6&state=good HTTP/1.1\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert_eq!(waiter.await.unwrap().unwrap(), "c6");
    }

    #[tokio::test]
    async fn hostile_requests_get_400_and_the_real_callback_still_completes() {
        let l = LoopbackListener::bind("/callback").await.unwrap();
        let port = l.port();
        let v6 = l.has_ipv6();
        let waiter = tokio::spawn(l.wait(Duration::from_secs(30), accept_code_param));

        let hostile: &[&[u8]] = &[
            b"GET /callback?code=x&state=bad HTTP/1.1\r\nHost: a\r\n\r\n",
            b"POST /callback?code=x&state=good HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /other?code=x&state=good HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /callback?code=x&state=good&state=good HTTP/1.1\r\n\r\n",
            b"\x00\x01\x02 junk \xff\xfe\r\n\r\n",
        ];
        for raw in hostile {
            let answer = send(port, false, raw).await;
            assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
            assert!(
                !answer.contains("code=") && !answer.contains("state"),
                "echoes nothing"
            );
        }
        // An oversize head is cut off with a 400 too.
        let mut big = b"GET /callback?".to_vec();
        big.resize(MAX_REQUEST_HEAD + 100, b'a');
        assert!(send(port, false, &big).await.starts_with("HTTP/1.1 400"));

        let answer = send(
            port,
            v6,
            b"GET /callback?code=the-code&state=good HTTP/1.1\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains("Signed in"));
        assert!(answer.contains("Content-Security-Policy: default-src 'none'"));
        assert_eq!(waiter.await.unwrap().unwrap(), "the-code");
    }

    #[tokio::test]
    async fn the_listener_is_one_shot_and_closes_after_the_callback() {
        let l = LoopbackListener::bind("/callback").await.unwrap();
        let port = l.port();
        let waiter = tokio::spawn(l.wait(Duration::from_secs(30), accept_code_param));
        send(
            port,
            false,
            b"GET /callback?code=c&state=good HTTP/1.1\r\n\r\n",
        )
        .await;
        waiter.await.unwrap().unwrap();
        let again = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await;
        assert!(again.is_err(), "the port must be closed after the sign-in");
    }

    #[tokio::test]
    async fn a_silent_client_does_not_block_the_real_callback() {
        let l = LoopbackListener::bind("/callback").await.unwrap();
        let port = l.port();
        let waiter = tokio::spawn(l.wait(Duration::from_secs(30), accept_code_param));
        // A connection that never sends anything, held open.
        let _idle = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap();
        let mut partial = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .unwrap();
        partial.write_all(b"GET /callback?code=x").await.unwrap();
        let answer = send(
            port,
            false,
            b"GET /callback?code=real&state=good HTTP/1.1\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert_eq!(waiter.await.unwrap().unwrap(), "real");
    }

    #[tokio::test]
    async fn more_silent_connections_than_the_limit_close_the_oldest_not_the_browser() {
        let l = LoopbackListener::bind("/callback").await.unwrap();
        let port = l.port();
        let waiter = tokio::spawn(l.wait(Duration::from_secs(30), accept_code_param));
        let mut silent = Vec::new();
        for _ in 0..MAX_CONNECTIONS * 3 {
            silent.push(
                TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                    .await
                    .unwrap(),
            );
        }
        let answer = send(
            port,
            false,
            b"GET /callback?code=real&state=good HTTP/1.1\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert_eq!(waiter.await.unwrap().unwrap(), "real");
        // The oldest silent connection was closed to make room.
        let mut buf = [0u8; 1];
        assert_eq!(silent[0].read(&mut buf).await.unwrap_or(0), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn with_no_valid_callback_the_wait_times_out_with_a_typed_error() {
        let l = LoopbackListener::bind("/callback").await.unwrap();
        let err = l
            .wait(Duration::from_secs(120), accept_code_param)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::SignInTimedOut {
                    seconds: 120,
                    rejected: 0,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
