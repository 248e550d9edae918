//! Generates the app's command permissions and reads capabilities from src-tauri/capabilities.

/// The app's own commands: each gets `allow-*`/`deny-*` permissions, and
/// capabilities/default.json grants exactly these to the main window.
const COMMANDS: &[&str] = &[
    "app_view",
    "sign_in",
    "cancel_sign_in",
    "unlock",
    "cancel_unlock",
    "set_biometric",
    "lock",
    "call_api",
    "userinfo",
    "sign_out",
    "get_settings",
    "save_settings",
    "find_dev_idp",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        eprintln!("tauri-build failed: {e:#}");
        std::process::exit(1);
    }
}
