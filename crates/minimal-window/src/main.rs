//! A minimal Tauri 2 window: the baseline for the app's size, start-up and memory benchmarks
//! (`cargo run -p latchkey-bench -- app`). Same plugins and profile as the app; no commands, no
//! state, a static page.

fn main() {
    if let Err(e) = tauri::Builder::default()
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_biometric::init())
        .run(tauri::generate_context!())
    {
        eprintln!("minimal-window: {e}");
        std::process::exit(1);
    }
}
