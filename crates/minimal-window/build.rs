//! Tauri's build step for the reference window (reads tauri.conf.json beside Cargo.toml).

fn main() {
    tauri_build::build();
}
