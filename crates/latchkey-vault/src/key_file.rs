//! The key file's records (`vault.key.json`: the wrapped key, the failed-attempt counter, the
//! biometric wrap and its repeated-failure count) and the JSON files' reading and writing. Data
//! only: the vault's operations on them live in `records.rs`, `dual.rs` and `repeated.rs`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::VaultError;
use super::fsutil;
use super::key::{Keep, UnlockMethod};

/// The key file.
#[derive(Serialize, Deserialize)]
pub(super) struct KeyFile {
    pub(super) version: u32,
    pub(super) method: UnlockMethod,
    pub(super) wrapped: serde_json::Value,
    pub(super) failed_attempts: u32,
    /// The second wrap of the same key (biometrics); absent when biometric unlock is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) biometric: Option<BiometricSlot>,
    /// The same unrecognised biometric failure, unlock after unlock (`repeated.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) biometric_repeated: Option<RepeatedFailure>,
}

/// The biometric wrap in the key file. Present means biometric unlock is on; `wrapped` is `None`
/// after the platform key was lost, until the next PIN unlock wraps the key again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BiometricSlot {
    /// Which biometric protector wrote it.
    pub method: UnlockMethod,
    /// The key wrapped by it.
    pub wrapped: Option<serde_json::Value>,
    /// Where the platform keeps the key, where it leaves the choice (Linux); chosen with the PIN
    /// when biometric unlock was turned on, and kept when it is set up again.
    #[serde(default)]
    pub keep: Keep,
}

/// The same unrecognised failure, counted for one biometric wrap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct RepeatedFailure {
    /// Digest of the wrap it happened to (a new wrap starts afresh).
    pub(super) wrap: String,
    /// Digest of the failure's text.
    pub(super) failure: String,
    pub(super) count: u32,
}

/// Which kind of JSON failure (never the bytes).
pub(super) fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "io",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "data",
        serde_json::error::Category::Eof => "truncated",
    }
}

pub(super) fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<Option<T>, VaultError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| VaultError::Unreadable {
                path: path.display().to_string(),
                reason: format!("not valid JSON ({})", classify(&e)),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(VaultError::io("read", path, e)),
    }
}

pub(super) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), VaultError> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| VaultError::Stronghold(format!("serialising: {}", classify(&e))))?;
    fsutil::write_atomic(path, &bytes).map_err(|e| VaultError::io("written", path, e))
}
