//! The connections the loopback listener is reading, and which one to close when there are too
//! many.
//!
//! Only a connection still sending its request head may be closed to make room. The moment a
//! reader has the whole head, it claims its connection, and from then on no flood of new
//! connections can close it: otherwise a hostile process could let the browser's request be read
//! and then push it out before it is answered.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::{MAX_CONNECTIONS, READ_TIMEOUT};
use crate::error::CallbackRejection;
use crate::redirect::{parse_callback, CallbackParams, HeadReader};

/// A reader's result: its id, the connection (to answer on) and what its request said.
pub(super) type Parsed<S> = (u64, S, Result<CallbackParams, CallbackRejection>);

/// The connections whose result the wait loop has not taken yet, oldest first. Owned by the wait
/// loop alone; dropping it (when the sign-in ends) aborts every reader and closes its connection.
#[derive(Default)]
pub(super) struct Readers {
    next_id: u64,
    active: VecDeque<Reader>,
}

struct Reader {
    id: u64,
    claim: Arc<Claim>,
    task: AbortHandle,
}

/// Who decides a connection's fate: its reader, once it has the head, or the tracker, evicting it
/// while it is still being read — whichever moves it out of `READING` first. A single atomic
/// step, so there is no moment at which both think they own it.
struct Claim(AtomicU8);

const READING: u8 = 0;
const READ: u8 = 1;
const EVICTED: u8 = 2;

impl Claim {
    fn new() -> Self {
        Claim(AtomicU8::new(READING))
    }

    /// Moves from `READING` to `to`; false if the other side got there first.
    fn take(&self, to: u8) -> bool {
        self.0
            .compare_exchange(READING, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn is_reading(&self) -> bool {
        self.0.load(Ordering::Acquire) == READING
    }
}

impl Readers {
    /// Reads `stream`'s request head in a task, first closing the oldest connection still being
    /// read when [`MAX_CONNECTIONS`] are.
    pub(super) fn spawn<S>(&mut self, mut stream: S, tx: &mpsc::Sender<Parsed<S>>, path: &Arc<str>)
    where
        S: AsyncRead + Unpin + Send + 'static,
    {
        let reading = self.active.iter().filter(|r| r.claim.is_reading()).count();
        if reading >= MAX_CONNECTIONS {
            self.evict_oldest_reading();
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let claim = Arc::new(Claim::new());
        let tx = tx.clone();
        let path = path.clone();
        let reader_claim = claim.clone();
        let task = tokio::spawn(async move {
            let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await;
            if !reader_claim.take(READ) {
                // Evicted while reading: the abort is on its way, and the connection closes.
                return;
            }
            let parsed = match head {
                Ok(Ok((method, target))) => parse_callback(&method, &target, &path),
                Ok(Err(rejection)) => Err(rejection),
                Err(_) => Err(CallbackRejection::MalformedRequest),
            };
            let _ = tx.send((id, stream, parsed)).await;
        });
        self.active.push_back(Reader {
            id,
            claim,
            task: task.abort_handle(),
        });
    }

    /// Closes the oldest connection whose head is still incomplete. One that has been read is
    /// skipped, however old: its request is waiting for an answer.
    fn evict_oldest_reading(&mut self) {
        // `take` succeeds only on a connection still being read; the search stops at the first.
        let Some(oldest) = self.active.iter().position(|r| r.claim.take(EVICTED)) else {
            return;
        };
        if let Some(reader) = self.active.remove(oldest) {
            reader.task.abort();
            tracing::debug!("loopback connection limit reached; closed the oldest");
        }
    }

    /// Forgets a reader whose result the wait loop has taken.
    pub(super) fn finished(&mut self, id: u64) {
        self.active.retain(|r| r.id != id);
    }
}

impl Drop for Readers {
    fn drop(&mut self) {
        for reader in self.active.drain(..) {
            reader.task.abort();
        }
    }
}

async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<(String, String), CallbackRejection> {
    let mut head = HeadReader::default();
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| CallbackRejection::MalformedRequest)?;
        if n == 0 {
            return Err(CallbackRejection::MalformedRequest);
        }
        if let Some(request) = head.feed(&chunk[..n])? {
            return Ok(request);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};

    #[tokio::test(start_paused = true)]
    async fn a_flood_after_the_real_callback_was_read_does_not_evict_it() {
        let (tx, mut rx) = mpsc::channel::<Parsed<DuplexStream>>(MAX_CONNECTIONS);
        let path: Arc<str> = Arc::from("/callback");
        let mut readers = Readers::default();
        // Results the wait loop has not taken yet: the real callback's reader has to wait its
        // turn to deliver, which is when a flood could reach it.
        const QUEUED: u64 = 1 << 40;
        for n in 0..MAX_CONNECTIONS as u64 {
            let (server, _) = duplex(1);
            tx.try_send((QUEUED + n, server, Err(CallbackRejection::WrongPath)))
                .unwrap();
        }

        let head: &[u8] = b"GET /callback?code=real&state=s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        let (server, mut browser) = duplex(head.len());
        browser.write_all(head).await.unwrap();
        readers.spawn(server, &tx, &path);
        // The pipe holds exactly the head, so this write completes only once the reader took it.
        browser.write_all(b"\r\n").await.unwrap();

        let mut flood = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            let (server, silent) = duplex(64);
            flood.push(silent);
            readers.spawn(server, &tx, &path);
        }

        for _ in 0..MAX_CONNECTIONS {
            let (id, _, _) = rx.recv().await.unwrap();
            assert!(id >= QUEUED);
        }
        let (_, mut stream, parsed) = rx.recv().await.unwrap();
        let params = parsed.expect("the real callback is delivered, not a flood connection");
        assert_eq!(params.code.unwrap().secret(), "real");
        // Its connection is still open for the answer.
        stream.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        drop(stream);
        let mut answer = String::new();
        browser.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}
