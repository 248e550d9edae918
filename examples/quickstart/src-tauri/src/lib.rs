// Learn more about Tauri commands at https://tauri.app/develop/calling-rust/
#[tauri::command]
fn greet(name: &str) -> String {
    format!("Hello, {name}! You've been greeted from Rust!")
}

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    // Latchkey: on Windows without the WebView2 Runtime, a message box says so; exit code 3.
    tauri_plugin_latchkey::require_webview_runtime();
    // Latchkey: the provider (the dev IdP, `npm run dev-idp`, unless LATCHKEY_ISSUER says
    // otherwise), the API origin the WebView's `fetch` may reach, and PIN unlock.
    let issuer =
        std::env::var("LATCHKEY_ISSUER").unwrap_or_else(|_| "http://127.0.0.1:9440".into());
    tauri::Builder::default()
        .plugin(tauri_plugin_opener::init())
        .plugin(
            tauri_plugin_latchkey::Builder::new()
                .issuer(&issuer)
                .client_id("latchkey-native")
                .param("prompt", "consent") // the dev IdP issues a refresh token only then
                .api_origin(&issuer)
                .unlock(tauri_plugin_latchkey::Unlock::Pin)
                .build(),
        )
        .invoke_handler(tauri::generate_handler![greet])
        .run(tauri::generate_context!())
        .expect("error while running tauri application");
}
