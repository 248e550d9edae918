//! The one route state takes to script: the account's whole [`Status`], pushed over each
//! subscriber's IPC [`Channel`] whenever the session's status changes (and when settings replace
//! the facade); the same channel carries what happened (a refresh, a rotation, a failure) for a
//! timeline — events, not state. Nothing is broadcast: only a webview that subscribed (and holds
//! `latchkey:allow-subscribe`) receives anything. Commands return only their own result.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use latchkey_core::Latchkey;
use tauri::ipc::Channel;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;

use crate::models::{Push, Status};
use crate::state::AccountState;

/// The channels subscribed to one account, by the webview that opened them (a page that reloads
/// loses its callbacks: its channels are dropped when it starts loading again).
#[derive(Default)]
pub struct Subscribers(Mutex<HashMap<String, Vec<Channel<Push>>>>);

impl Subscribers {
    /// Adds `channel` for `webview`.
    pub fn add(&self, webview: &str, channel: Channel<Push>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(webview.to_owned()).or_default().push(channel);
    }

    /// Drops `webview`'s channels.
    pub fn drop_webview(&self, webview: &str) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(webview);
    }

    /// Sends `push` to every channel (a channel whose webview is gone fails and is dropped).
    pub fn send(&self, push: &Push) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for channels in map.values_mut() {
            channels.retain(|channel| channel.send(push.clone()).is_ok());
        }
    }
}

/// Stops the forwarder when dropped (settings replaced the facade, or the app exits).
#[derive(Debug)]
pub struct Forwarder {
    _shutdown: oneshot::Sender<()>,
}

/// Forwards `latchkey`'s status changes (as statuses) and events to `account`'s subscribers until
/// the guard is dropped or the facade is gone. The same shape as the engine's background tasks:
/// `select!` on the work and a shutdown signal.
pub fn forward(account: Arc<AccountState>, latchkey: Arc<Latchkey>) -> Forwarder {
    let mut status = latchkey.watch_status();
    let mut events = latchkey.subscribe();
    drop(latchkey); // the task must not keep a replaced Latchkey alive
    let (shutdown, mut stopped) = oneshot::channel::<()>();
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                changed = status.changed() => {
                    if changed.is_none() {
                        return;
                    }
                    emit_view(&account).await;
                }
                event = events.recv() => match event {
                    Ok(event) => account.subscribers.send(&Push::Event(event)),
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
            }
        }
    });
    Forwarder {
        _shutdown: shutdown,
    }
}

/// Pushes the current status to `account`'s subscribers.
pub async fn emit_view(account: &AccountState) {
    let view: Status = account.view().await;
    account.subscribers.send(&Push::Status(Box::new(view)));
}
