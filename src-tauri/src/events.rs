//! The one route state takes to the UI: `latchkey://view`, the whole view, pushed whenever the
//! session's status changes (and when settings replace the facade). `latchkey://event` carries
//! what happened (a refresh, a rotation, a failure) for the timeline; it is not state. Commands
//! return only their own result; the UI pulls the view once, at start.

use std::sync::Arc;

use latchkey_core::Latchkey;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;

use crate::state::AppState;

/// The event names (mirrored in ui/src/ipc/types.ts).
pub const EVENT: &str = "latchkey://event";
/// The view, after every change.
pub const VIEW: &str = "latchkey://view";

/// Stops the forwarder when dropped (settings replaced the facade, or the app exits).
#[derive(Debug)]
pub struct Forwarder {
    _shutdown: oneshot::Sender<()>,
}

/// Forwards `latchkey`'s status changes (as views) and events until the guard is dropped or the
/// facade is gone. The same shape as the engine's background tasks: `select!` on the work and a
/// shutdown signal.
pub fn forward<R: Runtime>(app: AppHandle<R>, latchkey: Arc<Latchkey>) -> Forwarder {
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
                    emit_view(&app).await;
                }
                event = events.recv() => match event {
                    Ok(event) => {
                        let _ = app.emit(EVENT, &event);
                    }
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

/// Pushes the current view.
pub async fn emit_view<R: Runtime>(app: &AppHandle<R>) {
    let view = app.state::<AppState>().view().await;
    let _ = app.emit(VIEW, view);
}
