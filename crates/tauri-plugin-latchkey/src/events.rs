//! The one route state takes to script: the account's whole [`Status`], pushed over each
//! subscriber's IPC channel ([`crate::subscribers`]) whenever the session's status changes (and when settings replace
//! the facade); the same channel carries what happened (a refresh, a rotation, a failure) for a
//! timeline — events, not state. Nothing is broadcast: only a webview that subscribed (and holds
//! `latchkey:allow-subscribe`) receives anything. Commands return only their own result.

use std::sync::Arc;

use latchkey::Latchkey;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;

use crate::models::{Push, Status};
use crate::state::AccountState;
use crate::subscribers::Forwarder;

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
    Forwarder::new(shutdown)
}

/// Pushes the current status to `account`'s subscribers.
pub async fn emit_view(account: &AccountState) {
    let view: Status = account.view().await;
    account.subscribers.send(&Push::Status(Box::new(view)));
}
