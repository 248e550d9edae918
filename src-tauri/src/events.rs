//! Pushes state to the UI: every session event is forwarded as `latchkey://event`, followed by
//! the new view as `latchkey://view`. The UI renders these; it polls nothing.

use std::sync::Arc;

use latchkey_core::Latchkey;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokio::sync::broadcast::error::RecvError;

use crate::state::AppState;

/// The event names (mirrored in ui/src/ipc/types.ts).
pub const EVENT: &str = "latchkey://event";
/// The view after each event.
pub const VIEW: &str = "latchkey://view";

/// Forwards `latchkey`'s events until it is replaced or the app exits.
pub fn forward<R: Runtime>(app: AppHandle<R>, latchkey: Arc<Latchkey>) {
    let mut events = latchkey.subscribe();
    drop(latchkey); // the task must not keep a replaced Latchkey alive
    tauri::async_runtime::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(event) => Some(event),
                Err(RecvError::Lagged(_)) => None,
                Err(RecvError::Closed) => return,
            };
            if let Some(event) = &event {
                let _ = app.emit(EVENT, event);
            }
            let view = app.state::<AppState>().view().await;
            let _ = app.emit(VIEW, view);
        }
    });
}
