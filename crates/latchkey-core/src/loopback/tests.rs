//! The listener end to end, over real loopback sockets.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;
use crate::error::ErrorKind;
use crate::redirect::MAX_REQUEST_HEAD;
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

type Waiter = tokio::task::JoinHandle<Result<String, Error>>;

/// A listener on `path` waiting (30 s) for a callback with `state=good`: its port and the wait.
async fn listening(path: &str) -> (u16, Waiter) {
    let l = LoopbackListener::bind(path, &[]).await.unwrap();
    (
        l.port(),
        tokio::spawn(l.wait(Duration::from_secs(30), accept_code_param)),
    )
}

/// Sends the browser's callback `raw`: it is answered 200 and the wait ends with `code`. Returns
/// the answer.
async fn assert_completes(port: u16, v6: bool, raw: &[u8], waiter: Waiter, code: &str) -> String {
    let answer = send(port, v6, raw).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(waiter.await.unwrap().unwrap(), code);
    answer
}

const REAL: &[u8] = b"GET /callback?code=real&state=good HTTP/1.1\r\n\r\n";

#[tokio::test]
async fn the_redirect_uri_is_an_ip_literal_with_the_bound_port_and_exact_path() {
    let l = LoopbackListener::bind("/callback", &[]).await.unwrap();
    let uri = l.redirect_uri().unwrap();
    assert_eq!(
        uri.as_str(),
        format!("http://127.0.0.1:{}/callback", l.port())
    );
    assert_ne!(l.port(), 0);
}

#[tokio::test]
async fn without_ipv4_loopback_the_redirect_names_ipv6_loopback_and_the_callback_completes() {
    if !crate::test_skip::ipv6_loopback("without_ipv4_loopback_the_redirect_names_ipv6_loopback") {
        return;
    }
    // The machine has [::1]: the production fallback must bind it.
    let l = LoopbackListener::bind_ipv6_only("/callback").await.unwrap();
    let port = l.port();
    assert_eq!(
        l.redirect_uri().unwrap().as_str(),
        format!("http://[::1]:{port}/callback")
    );
    let waiter = tokio::spawn(l.wait(Duration::from_secs(30), accept_code_param));
    let raw = b"GET /callback?code=c6&state=good HTTP/1.1\r\n\r\n";
    assert_completes(port, true, raw, waiter, "c6").await;
}

#[tokio::test]
async fn on_a_machine_with_ipv6_loopback_the_listener_takes_both_families_and_v6_completes() {
    if !crate::test_skip::ipv6_loopback("on_a_machine_with_ipv6_loopback_the_listener_takes_both") {
        return;
    }
    let l = LoopbackListener::bind("/callback", &[]).await.unwrap();
    assert!(
        l.has_ipv6(),
        "[::1] is free here, so the listener binds it beside 127.0.0.1"
    );
    let port = l.port();
    let waiter = tokio::spawn(l.wait(Duration::from_secs(30), accept_code_param));
    let raw = b"GET /callback?code=both&state=good HTTP/1.1\r\n\r\n";
    assert_completes(port, true, raw, waiter, "both").await;
}

#[tokio::test]
async fn hostile_requests_get_400_and_the_real_callback_still_completes() {
    let l = LoopbackListener::bind("/callback", &[]).await.unwrap();
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

    let raw = b"GET /callback?code=the-code&state=good HTTP/1.1\r\n\r\n";
    let answer = assert_completes(port, v6, raw, waiter, "the-code").await;
    assert!(answer.contains("Signed in"));
    assert!(answer.contains("Content-Security-Policy: default-src 'none'"));
}

#[tokio::test]
async fn a_browser_with_large_cookies_for_127_0_0_1_still_completes() {
    let (port, waiter) = listening("/callback").await;
    // Cookies ignore ports: every dev server ever run on 127.0.0.1 adds to this header.
    let jar: String = (0..120)
        .map(|i| format!("dev_session_{i}={}; ", "v".repeat(200)))
        .collect();
    let head = format!(
        "GET /callback?code=real&state=good HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         User-Agent: Mozilla/5.0\r\nAccept: text/html\r\nCookie: {jar}\r\n\
         Sec-Fetch-Mode: navigate\r\n\r\n"
    );
    assert!(head.len() > 3 * MAX_REQUEST_HEAD);
    assert_completes(port, false, head.as_bytes(), waiter, "real").await;
}

#[tokio::test]
async fn a_configured_path_the_url_parser_would_rewrite_is_refused_at_bind() {
    for path in [
        "/a/./callback",
        "/a/../callback",
        "/%2e/callback",
        "/cb\\x",
        "/caf\u{e9}",
        "/cb{x}",
        "/cb?x",
        "/cb#x",
        "callback",
    ] {
        let err = LoopbackListener::bind(path, &[]).await.unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{path}: {err:?}");
        let err = LoopbackListener::bind_ipv6_only(path).await.unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{path}: {err:?}");
    }
}

#[tokio::test]
async fn the_browser_request_for_an_advertised_percent_encoded_path_completes_and_look_alikes_get_400(
) {
    let l = LoopbackListener::bind("/cb%2Fx%7E", &[]).await.unwrap();
    let port = l.port();
    assert_eq!(l.redirect_uri().unwrap().path(), "/cb%2Fx%7E");
    let waiter = tokio::spawn(l.wait(Duration::from_secs(30), accept_code_param));
    for look_alike in [
        "/cb/x~",
        "/cb%2fx%7e",
        "/cb%2Fx~",
        "/cb%252Fx%7E",
        "/./cb%2Fx%7E",
        "/cb%2Fx%7E/",
        "//cb%2Fx%7E",
    ] {
        let raw = format!("GET {look_alike}?code=x&state=good HTTP/1.1\r\n\r\n");
        let answer = send(port, false, raw.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{look_alike}: {answer}");
    }
    let raw = b"GET /cb%2Fx%7E?code=real&state=good HTTP/1.1\r\n\r\n";
    assert_completes(port, false, raw, waiter, "real").await;
}

#[tokio::test]
async fn the_listener_is_one_shot_and_closes_after_the_callback() {
    let (port, waiter) = listening("/callback").await;
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
    let (port, waiter) = listening("/callback").await;
    // A connection that never sends anything, held open.
    let _idle = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .unwrap();
    let mut partial = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .unwrap();
    partial.write_all(b"GET /callback?code=x").await.unwrap();
    assert_completes(port, false, REAL, waiter, "real").await;
}

#[tokio::test]
async fn more_silent_connections_than_the_limit_close_the_oldest_not_the_browser() {
    let (port, waiter) = listening("/callback").await;
    let mut silent = Vec::new();
    for _ in 0..MAX_CONNECTIONS * 3 {
        silent.push(
            TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .unwrap(),
        );
    }
    assert_completes(port, false, REAL, waiter, "real").await;
    // The oldest silent connection was closed to make room.
    let mut buf = [0u8; 1];
    assert_eq!(silent[0].read(&mut buf).await.unwrap_or(0), 0);
}

#[tokio::test(start_paused = true)]
async fn with_no_valid_callback_the_wait_times_out_with_a_typed_error() {
    let l = LoopbackListener::bind("/callback", &[]).await.unwrap();
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

/// A port free on loopback a moment ago: the system chose it, and it is released for the test.
async fn free_port() -> u16 {
    LoopbackListener::bind("/callback", &[])
        .await
        .unwrap()
        .port()
}

/// A port held on 127.0.0.1, as another program would hold it; taken while the listener lives.
async fn held_port() -> (TcpListener, u16) {
    let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = held.local_addr().unwrap().port();
    (held, port)
}

#[tokio::test]
async fn a_fixed_port_is_used_and_named_in_the_redirect_uri() {
    let port = free_port().await;
    let l = LoopbackListener::bind("/callback", &[port]).await.unwrap();
    assert_eq!(l.port(), port);
    assert_eq!(
        l.redirect_uri().unwrap().as_str(),
        format!("http://127.0.0.1:{port}/callback")
    );
    let waiter = tokio::spawn(l.wait(Duration::from_secs(30), accept_code_param));
    let raw = b"GET /callback?code=cf&state=good HTTP/1.1\r\n\r\n";
    assert_completes(port, false, raw, waiter, "cf").await;
}

#[tokio::test]
async fn a_taken_port_moves_to_the_next_in_the_list() {
    let (_held, taken) = held_port().await;
    let free = free_port().await;
    let l = LoopbackListener::bind("/callback", &[taken, free])
        .await
        .unwrap();
    assert_eq!(l.port(), free);
    assert_eq!(
        l.redirect_uri().unwrap().as_str(),
        format!("http://127.0.0.1:{free}/callback")
    );
}

#[tokio::test]
async fn a_port_taken_on_ipv6_alone_moves_to_the_next_and_leaves_no_ipv4_half_behind() {
    if !crate::test_skip::ipv6_loopback("a_port_taken_on_ipv6_alone_moves_to_the_next") {
        return;
    }
    let held = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).await.unwrap();
    let taken = held.local_addr().unwrap().port();
    let free = free_port().await;
    let l = LoopbackListener::bind("/callback", &[taken, free])
        .await
        .unwrap();
    assert_eq!(l.port(), free);
    // The 127.0.0.1 socket bound on the skipped port was closed, not kept.
    TcpListener::bind((Ipv4Addr::LOCALHOST, taken))
        .await
        .unwrap();
}

#[tokio::test]
async fn when_every_configured_port_is_taken_the_error_names_them() {
    let (_first, a) = held_port().await;
    let (_second, b) = held_port().await;
    let err = LoopbackListener::bind("/callback", &[a, b])
        .await
        .unwrap_err();
    match &err {
        Error::RedirectPortsTaken { ports } => assert_eq!(ports, &[a, b]),
        other => panic!("expected RedirectPortsTaken, got {other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(
        err.to_string(),
        format!(
            "all the configured redirect ports ({a}, {b}) are in use by other programs; close \
             them or configure other ports"
        )
    );
}
