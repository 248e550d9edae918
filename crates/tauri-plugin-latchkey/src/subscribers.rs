//! Who hears an account's pushes: the IPC channels script subscribed with, by webview, and the
//! guard that keeps the forwarder (`events.rs`) running.

use std::collections::HashMap;
use std::sync::Mutex;

use tauri::ipc::Channel;
use tokio::sync::oneshot;

use crate::models::Push;

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

impl Forwarder {
    /// A guard that sends `shutdown` (by dropping it) when it is dropped.
    pub(crate) fn new(shutdown: oneshot::Sender<()>) -> Self {
        Self {
            _shutdown: shutdown,
        }
    }
}
