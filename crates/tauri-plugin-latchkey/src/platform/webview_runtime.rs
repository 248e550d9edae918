//! The system WebView, checked at start-up before the Tauri app is built. On Windows the window
//! is Microsoft Edge WebView2, a separate runtime that may be missing (Windows 10 without it, a
//! server, an image that removed it, a per-user install under another account). Without this
//! check a debug build prints Tauri's `WebviewRuntimeNotInstalled` error (or nothing a user sees,
//! for a windowed release build) and exits 1, after the plugin has opened the vault's directory.
//! This is start-up only: the sign-in never uses a WebView (it opens the system browser).

/// The process's exit code when the system WebView is missing (see
/// [`require_webview_runtime`]).
pub const EXIT_WEBVIEW_MISSING: i32 = 3;

/// Where Microsoft offers the WebView2 Runtime (the Evergreen bootstrapper or installer).
pub const WEBVIEW2_DOWNLOAD: &str = "https://developer.microsoft.com/microsoft-edge/webview2/";

/// The message box's title (the platform checks find the box by it).
#[cfg(any(windows, test))]
const TITLE: &str = "WebView2 Runtime missing";

/// Call first in `main` (or the `run` function `main` calls), before `tauri::Builder`. On
/// Windows, asks WebView2's loader for the installed runtime's version
/// (`tauri::webview_version`, GetAvailableCoreWebView2BrowserVersionString); when there is
/// none, says so on stderr and in a native message box that names where to get it, then exits
/// with [`EXIT_WEBVIEW_MISSING`] once the user closes the box. On other platforms it does
/// nothing: WebKitGTK and Apple's WebKit are linked into the process, so a missing one stops
/// it before `main`.
pub fn require_webview_runtime() {
    #[cfg(windows)]
    if let Err(e) = tauri::webview_version() {
        let text = message(&e.to_string());
        eprintln!("{}", text.join("\n"));
        message_box(TITLE, &text.join("\n\n"));
        std::process::exit(EXIT_WEBVIEW_MISSING);
    }
}

/// What the user is told, a paragraph a line: what is missing, where to get it, what the loader
/// said.
#[cfg(any(windows, test))]
fn message(cause: &str) -> [String; 3] {
    [
        format!(
            "{TITLE}: this app shows its window with Microsoft Edge WebView2, which is not \
             installed for this Windows user."
        ),
        format!("Install the WebView2 Runtime from {WEBVIEW2_DOWNLOAD} and start the app again."),
        format!("(WebView2's loader said: {cause})"),
    ]
}

/// A modal error box with an OK button, owned by no window (there is none yet).
// The workspace's one `unsafe`: a Win32 call with no safe wrapper in the dependencies. The
// plugin crate denies unsafe code instead of forbidding it for this function alone, and
// `only_this_function_may_use_unsafe_code` below keeps it that way.
#[cfg(windows)]
#[allow(unsafe_code)]
fn message_box(title: &str, text: &str) {
    use windows_sys::Win32::UI::WindowsAndMessaging::{
        MessageBoxW, MB_ICONERROR, MB_OK, MB_SETFOREGROUND,
    };
    let wide = |s: &str| s.encode_utf16().chain([0]).collect::<Vec<u16>>();
    let (title, text) = (wide(title), wide(text));
    // SAFETY: both pointers are to NUL-terminated UTF-16 buffers that live until the end of this
    // function, and MessageBoxW reads them only until it returns (it is modal); a null owner
    // window is allowed.
    unsafe {
        MessageBoxW(
            std::ptr::null_mut(),
            text.as_ptr(),
            title.as_ptr(),
            MB_OK | MB_ICONERROR | MB_SETFOREGROUND,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_says_what_is_missing_and_where_to_get_it() {
        let [what, fix, cause] = message("class not registered");
        assert!(what.starts_with("WebView2 Runtime missing: "));
        assert!(fix.contains("https://developer.microsoft.com/microsoft-edge/webview2/"));
        assert_eq!(cause, "(WebView2's loader said: class not registered)");
        assert_ne!(
            EXIT_WEBVIEW_MISSING, 1,
            "distinct from a failed Tauri run (exit 1)"
        );
    }

    /// The plugin crate denies `unsafe_code` (the workspace forbids it) so that `message_box`
    /// can allow it for its one block; no other source file of the crate names the lint.
    #[test]
    fn only_this_function_may_use_unsafe_code() {
        let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        let mut others = Vec::new();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("platform/webview_runtime.rs")
                    && std::fs::read_to_string(&path)
                        .unwrap()
                        .contains("unsafe_code")
                {
                    others.push(path);
                }
            }
        }
        assert!(others.is_empty(), "{others:?}");
        let this = include_str!("webview_runtime.rs");
        assert_eq!(
            this.matches(concat!("#[allow(", "unsafe_code)]")).count(),
            1
        );
        assert_eq!(this.matches(concat!("unsafe", " {")).count(), 1);
    }
}
