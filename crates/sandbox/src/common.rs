//! Pieces the three emulators share: the state file and the bearer header.

use std::path::{Path, PathBuf};

use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

/// Loads an emulator's world from its state file; `None` when there is none yet.
/// `what` names the emulator in errors ("GHL", "Lofty", "Lytho").
pub(crate) fn load_state<T: DeserializeOwned>(
    path: &Path,
    what: &str,
) -> anyhow::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "state file {} is not a {what} sandbox state: {e} (delete it to start fresh)",
                path.display()
            )
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::anyhow!(
            "cannot read state file {}: {e}",
            path.display()
        )),
    }
}

/// Writes a serialized world: to a temporary file, then renamed over the state
/// file, so a crash never leaves half a file. Failures are logged, not fatal.
pub(crate) fn write_state(path: &Path, bytes: &[u8], what: &str) {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        tracing::error!(path = %path.display(), error = %e, emulator = what, "cannot save sandbox state");
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}
