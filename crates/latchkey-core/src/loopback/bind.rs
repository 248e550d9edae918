//! Which port the loopback listener takes, and on which address families.
//!
//! - No ports configured (the default): an ephemeral port, as RFC 8252 §7.3 recommends. The
//!   provider accepts any port on a loopback redirect URI, so the system picks a free one.
//! - Ports configured, for providers that compare redirect URIs byte for byte: each is tried in
//!   order, and the first free one is used. A port taken on either 127.0.0.1 or [::1] counts as
//!   taken, so the listener never ends up split across two ports; the next one is tried instead.
//!   When every port is taken: [`Error::RedirectPortsTaken`], naming them.
//!
//! Either way, a host without IPv4 loopback gets [::1] alone, and one without IPv6 loopback
//! gets 127.0.0.1 alone.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::TcpListener;

use crate::error::Error;

/// The bound sockets and the port they share.
#[derive(Debug)]
pub(super) struct Sockets {
    pub(super) v4: Option<TcpListener>,
    pub(super) v6: Option<TcpListener>,
    pub(super) port: u16,
}

/// Binds the first of `ports` free on loopback, or an ephemeral port when `ports` is empty.
pub(super) async fn sockets(ports: &[u16]) -> Result<Sockets, Error> {
    if ports.is_empty() {
        ephemeral().await
    } else {
        configured(ports).await
    }
}

/// 127.0.0.1 on an ephemeral port and [::1] on the same port when possible.
async fn ephemeral() -> Result<Sockets, Error> {
    let mut last_err = None;
    // A port free on IPv4 may be taken on IPv6; try a few ports before settling for IPv4 only.
    for _ in 0..4 {
        let v4 = match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await {
            Ok(v4) => v4,
            Err(e) => {
                tracing::debug!(error = %e, "no IPv4 loopback; trying [::1] alone");
                return ipv6_only(0).await.map_err(|_| Error::LoopbackBind(e));
            }
        };
        let port = v4.local_addr().map_err(Error::LoopbackBind)?.port();
        match TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await {
            Ok(v6) => {
                return Ok(Sockets {
                    v4: Some(v4),
                    v6: Some(v6),
                    port,
                })
            }
            Err(e) if is_taken(&e) => last_err = Some((v4, e)),
            Err(e) => {
                tracing::debug!(error = %e, "no IPv6 loopback; listening on 127.0.0.1 only");
                return Ok(Sockets {
                    v4: Some(v4),
                    v6: None,
                    port,
                });
            }
        }
    }
    match last_err {
        Some((v4, e)) => {
            tracing::debug!(error = %e, "[::1] port busy; listening on 127.0.0.1 only");
            let port = v4.local_addr().map_err(Error::LoopbackBind)?.port();
            Ok(Sockets {
                v4: Some(v4),
                v6: None,
                port,
            })
        }
        None => Err(Error::Internal(
            "loopback bind loop ended without a listener".into(),
        )),
    }
}

/// [::1] alone on `port` (0: an ephemeral one), for a host without IPv4 loopback.
pub(super) async fn ipv6_only(port: u16) -> io::Result<Sockets> {
    let v6 = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await?;
    let port = v6.local_addr()?.port();
    Ok(Sockets {
        v4: None,
        v6: Some(v6),
        port,
    })
}

/// The first of `ports` that binds. Unlike the ephemeral case, a port taken on [::1] is not
/// settled for with 127.0.0.1 alone: another configured port may be free on both, and a port
/// another program already listens on is better left to it.
async fn configured(ports: &[u16]) -> Result<Sockets, Error> {
    let mut failure = None;
    for &port in ports {
        match on_port(port).await {
            Ok(sockets) => return Ok(sockets),
            Err(e) if is_taken(&e) => {
                tracing::debug!(port, "redirect port in use; trying the next");
            }
            Err(e) => {
                tracing::debug!(port, error = %e, "cannot listen on the redirect port; trying the next");
                failure.get_or_insert(io::Error::new(e.kind(), format!("port {port}: {e}")));
            }
        }
    }
    Err(match failure {
        // Saying "in use" when a port failed for another reason (a privileged port, say) would
        // send the person looking for a program that isn't there.
        Some(e) => Error::LoopbackBind(e),
        None => Error::RedirectPortsTaken {
            ports: ports.to_vec(),
        },
    })
}

/// Both families on `port`, or whichever one the host has. Fails with `AddrInUse` when the port
/// is taken on a family the host has.
async fn on_port(port: u16) -> io::Result<Sockets> {
    match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
        Ok(v4) => match TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await {
            Ok(v6) => Ok(Sockets {
                v4: Some(v4),
                v6: Some(v6),
                port,
            }),
            // Taken on [::1]: `v4` closes as it drops, and the caller tries the next port.
            Err(e) if is_taken(&e) => Err(e),
            Err(e) => {
                tracing::debug!(error = %e, "no IPv6 loopback; listening on 127.0.0.1 only");
                Ok(Sockets {
                    v4: Some(v4),
                    v6: None,
                    port,
                })
            }
        },
        Err(e) if is_taken(&e) => Err(e),
        // Not "taken": most likely no IPv4 loopback. Report the IPv4 failure unless [::1] shows
        // the port is taken after all.
        Err(e) => {
            tracing::debug!(port, error = %e, "no IPv4 loopback; trying [::1] alone");
            ipv6_only(port)
                .await
                .map_err(|e6| if is_taken(&e6) { e6 } else { e })
        }
    }
}

fn is_taken(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::AddrInUse
}
