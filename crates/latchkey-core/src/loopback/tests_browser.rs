//! What a real browser sends to the loopback redirect, byte for byte as Chromium does: its full
//! header set, a favicon request, preconnected sockets that never speak, a keep-alive connection
//! that would be reused, and a reload of the success page after the listener closed.

use std::net::Ipv4Addr;

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A listener waiting for `state=good`: its port and the wait (which yields the code).
async fn listening() -> (u16, tokio::task::JoinHandle<Result<String, Error>>) {
    let l = LoopbackListener::bind("/callback", &[]).await.unwrap();
    let port = l.port();
    let wait = tokio::spawn(l.wait(Duration::from_secs(30), |p: &CallbackParams| {
        match (&p.state, &p.code) {
            (Some(s), Some(c)) if s.secret() == "good" => Ok(Accepted {
                value: c.secret().clone(),
                success: true,
            }),
            _ => Err(CallbackRejection::StateMismatch),
        }
    }));
    (port, wait)
}

/// Chromium's request for `target` on 127.0.0.1:`port`, as it sends it after a redirect.
fn chromium(port: u16, target: &str, accept: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\n\
         Host: 127.0.0.1:{port}\r\n\
         Connection: keep-alive\r\n\
         sec-ch-ua: \"Chromium\";v=\"156\", \"Not-A.Brand\";v=\"24\"\r\n\
         sec-ch-ua-mobile: ?0\r\n\
         sec-ch-ua-platform: \"Linux\"\r\n\
         Upgrade-Insecure-Requests: 1\r\n\
         User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36\r\n\
         Accept: {accept}\r\n\
         Sec-Fetch-Site: cross-site\r\n\
         Sec-Fetch-Mode: navigate\r\n\
         Sec-Fetch-Dest: document\r\n\
         Referer: https://idp.example.com/\r\n\
         Accept-Encoding: gzip, deflate, br, zstd\r\n\
         Accept-Language: en-GB,en;q=0.9\r\n\
         Cookie: session=dev-server-cookie; theme=dark\r\n\r\n"
    )
    .into_bytes()
}

const DOCUMENT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

async fn connect(port: u16) -> TcpStream {
    TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .unwrap()
}

async fn exchange(stream: &mut TcpStream, request: &[u8]) -> String {
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_chromium_navigation_with_its_full_headers_and_cookies_completes_the_sign_in() {
    let (port, wait) = listening().await;
    let mut browser = connect(port).await;
    let answer = exchange(
        &mut browser,
        &chromium(port, "/callback?code=real&state=good", DOCUMENT),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(wait.await.unwrap().unwrap(), "real");
}

#[tokio::test]
async fn preconnected_sockets_that_never_speak_and_a_favicon_request_do_not_hold_up_the_callback() {
    let (port, wait) = listening().await;
    // Chromium opens speculative connections before it knows it will need them.
    let _preconnected = [connect(port).await, connect(port).await];
    // It asks for the favicon of a page it shows (here, before the redirect lands).
    let mut favicon = connect(port).await;
    let answer = exchange(
        &mut favicon,
        &chromium(
            port,
            "/favicon.ico",
            "image/avif,image/webp,image/png,*/*;q=0.8",
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let mut browser = connect(port).await;
    let answer = exchange(
        &mut browser,
        &chromium(port, "/callback?code=real&state=good", DOCUMENT),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(wait.await.unwrap().unwrap(), "real");
}

#[tokio::test]
async fn a_keep_alive_connection_is_told_to_close_so_the_browser_never_reuses_it() {
    let (port, wait) = listening().await;
    let mut browser = connect(port).await;
    browser
        .write_all(&chromium(port, "/callback?code=real&state=good", DOCUMENT))
        .await
        .unwrap();
    let mut answer = Vec::new();
    // The listener closes its side after the answer: read_to_end returns, it doesn't hang.
    browser.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.contains("\r\nConnection: close\r\n"), "{answer}");
    assert!(
        answer.contains("\r\nCache-Control: no-store\r\n"),
        "{answer}"
    );
    assert_eq!(wait.await.unwrap().unwrap(), "real");
    // A second request on the kept-alive socket (the favicon after the page) goes nowhere.
    let _ = browser
        .write_all(&chromium(port, "/favicon.ico", "image/*"))
        .await;
    let mut more = Vec::new();
    let _ = browser.read_to_end(&mut more).await;
    assert!(more.is_empty(), "nothing answers on a closed connection");
}

#[tokio::test]
async fn reloading_the_success_page_after_the_sign_in_reaches_no_listener() {
    let (port, wait) = listening().await;
    let mut browser = connect(port).await;
    exchange(
        &mut browser,
        &chromium(port, "/callback?code=real&state=good", DOCUMENT),
    )
    .await;
    assert_eq!(wait.await.unwrap().unwrap(), "real");
    // The reload (or the back button) sends the same callback again: the one-shot listener is
    // gone, so the code can't be replayed into the app; the browser shows its own error page.
    let refused = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await;
    assert!(
        refused.is_err(),
        "the listener closed after the first callback"
    );
}
