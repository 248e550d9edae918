//! Generates the app's own command permissions and reads capabilities from src-tauri/capabilities
//! (the plugin's permissions come with the plugin).

/// The app's own commands: each gets `allow-*`/`deny-*` permissions, and
/// capabilities/default.json grants exactly these (plus `latchkey:default` and the biometric
/// toggle) to the main window.
const COMMANDS: &[&str] = &["get_settings", "save_settings", "find_dev_idp", "call_api"];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        eprintln!("tauri-build failed: {e:#}");
        std::process::exit(1);
    }
}
