//! Races set up by holding, not by delays: a wiremock answer held until the test releases it
//! ([`held`]), and calls started and proven to be waiting before the test goes on
//! ([`spawn_waiting`]). On a slow machine the race still happens, because nothing is timed.

use std::future::Future;
use std::pin::pin;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;

use wiremock::{Request, Respond, ResponseTemplate};

/// A responder that reports each request's arrival and holds its answer until released.
pub struct Held {
    arrived: tokio::sync::mpsc::UnboundedSender<()>,
    release: Mutex<Receiver<()>>,
    response: ResponseTemplate,
}

/// The test's side of a [`Held`] answer.
pub struct Gate {
    arrived: tokio::sync::mpsc::UnboundedReceiver<()>,
    release: Option<Sender<()>>,
}

/// A responder answering `response` once released, and its gate.
pub fn held(response: ResponseTemplate) -> (Held, Gate) {
    let (arrived_tx, arrived) = tokio::sync::mpsc::unbounded_channel();
    let (release, release_rx) = channel();
    (
        Held {
            arrived: arrived_tx,
            release: Mutex::new(release_rx),
            response,
        },
        Gate {
            arrived,
            release: Some(release),
        },
    )
}

impl Respond for Held {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let _ = self.arrived.send(());
        // Err once released: any later request is answered at once.
        let _ = self.release.lock().unwrap().recv();
        self.response.clone()
    }
}

impl Gate {
    /// Waits until a request has arrived (and is being held).
    pub async fn arrived(&mut self) {
        self.arrived
            .recv()
            .await
            .expect("a request arrived at the held responder");
    }

    /// Lets the held answer (and every later one) go.
    pub fn release(&mut self) {
        self.release.take();
    }
}

/// Spawns `call` and returns once its first poll has come back pending: the call has started
/// and is waiting (on a lock, a held answer...), not finished and not yet to begin. Panics if
/// the call completed at once.
pub async fn spawn_waiting<F>(call: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let mut call = pin!(call);
        let mut first = Some(first_tx);
        std::future::poll_fn(|cx| {
            let poll = call.as_mut().poll(cx);
            if let Some(tx) = first.take() {
                let _ = tx.send(poll.is_pending());
            }
            poll
        })
        .await
    });
    let pending = first_rx.await.expect("the call was polled");
    assert!(pending, "the call completed at once instead of waiting");
    task
}
