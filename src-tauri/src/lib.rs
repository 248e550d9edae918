//! The Latchkey reference app: tauri-plugin-latchkey's first user. What is here is the app's
//! own: the plugin's configuration (a settings file the user edits on the settings screen, the
//! `LATCHKEY_*` environment on top), and its commands (`commands.rs`: the settings, the first
//! run's dev-IdP probe, the "Call API" button). Sign-in, unlock, the vault, the pushed status
//! and the platform wiring are the plugin's.

mod commands;

/// The iOS/Android entry point. Tauri's macro emits the `start_app` C symbol (and Android's JNI
/// bindings) that the Xcode and Gradle projects call; it sits in a private module because that
/// symbol is the native projects' entry, not part of this crate's Rust API.
#[cfg(mobile)]
mod mobile_entry {
    #[tauri::mobile_entry_point]
    fn main() {
        super::run();
    }
}

/// Runs the app. On Windows without the WebView2 Runtime it says so in a message box and exits
/// with the plugin's `EXIT_WEBVIEW_MISSING` (3) before Tauri starts.
pub fn run() {
    tauri_plugin_latchkey::require_webview_runtime();
    init_logging();
    if let Err(e) = build(tauri::Builder::default()).run(tauri::generate_context!()) {
        eprintln!("latchkey-app: {e}");
        std::process::exit(1);
    }
}

/// Logs to stderr. `RUST_LOG` takes `target=level` pairs and a bare default level (`info` when
/// unset or unparsable): a `Targets` filter, not `EnvFilter`, whose span and regex directives
/// would bring a regex engine and its Unicode tables into the app (docs/BENCHMARKS.md, app
/// size).
fn init_logging() {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| {
            Targets::new().with_default(tracing_subscriber::filter::LevelFilter::INFO)
        });
    let _ = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(filter)
        .try_init();
}

/// The app's builder, generic over the runtime so tests can use `tauri::test::mock_builder()`.
pub fn build<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .plugin(
            tauri_plugin_latchkey::Builder::new()
                // The provider comes from the settings screen (stored in the data directory),
                // then the environment (`LATCHKEY_ISSUER`, ..., `LATCHKEY_DATA_DIR`), as the CLI's.
                .settings_file("settings.toml")
                .env_overrides(true)
                .build(),
        )
        .invoke_handler(tauri::generate_handler![
            commands::get_settings,
            commands::save_settings,
            commands::find_dev_idp,
            commands::call_api,
        ])
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_accounts;
#[cfg(test)]
mod tests_apple_bundle;
#[cfg(all(test, target_os = "linux"))]
mod tests_biometric;
#[cfg(test)]
mod tests_contract;
#[cfg(test)]
mod tests_journey;
#[cfg(test)]
mod tests_settings;
#[cfg(test)]
mod tests_step_up;
