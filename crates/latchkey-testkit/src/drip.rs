//! A raw HTTP server for the one response wiremock can't make: a slow drip.

use std::sync::Arc;

/// A raw HTTP server for the one response wiremock can't make, a slow drip: requests whose text
/// contains `normal_when` get `200` with `normal` as the JSON body; every other request gets its
/// headers at once and then a chunked body that drips one byte every 100 ms and never ends. Stops on drop.
pub struct DripServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl DripServer {
    /// Starts the server on an ephemeral loopback port.
    pub async fn start(normal_when: &'static str, normal: serde_json::Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let normal = Arc::new(normal.to_string());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(drip_or_answer(stream, normal_when, normal.clone()));
            }
        });
        Self { url, task }
    }
}

impl Drop for DripServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn drip_or_answer(mut stream: tokio::net::TcpStream, normal_when: &str, normal: Arc<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read the head and a Content-Length body.
    loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        request.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&request);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if request.len() >= end + 4 + length {
                break;
            }
        }
    }
    if String::from_utf8_lossy(&request).contains(normal_when) {
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{normal}",
            normal.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        return;
    }
    // Chunked, so no Content-Length gives the size away up front; one byte per chunk.
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n";
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if stream.write_all(b"1\r\n \r\n").await.is_err() {
            return;
        }
    }
}
