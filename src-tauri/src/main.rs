//! The Latchkey app's entry point; everything else is in the library (src-tauri/src/lib.rs).

// Prevents an additional console window on Windows in release. DO NOT REMOVE.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    latchkey_app::run();
}
