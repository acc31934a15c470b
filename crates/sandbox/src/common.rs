//! Pieces the three emulators share: the state file and the bearer header.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

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

/// An emulator whose world is kept in a state file.
pub(crate) trait Persisted: Send + Sync + 'static {
    /// Names the emulator in messages ("GHL", "Lofty", "Lytho").
    const NAME: &'static str;
    fn state_file(&self) -> Option<&Path>;
    /// The world serialized, marked clean; `None` when `only_if_dirty` and nothing
    /// changed since the last snapshot.
    fn snapshot(&self, only_if_dirty: bool) -> Option<serde_json::Result<Vec<u8>>>;
}

/// Implements [`Persisted`] for an emulator's `Shared` (a `lock()` giving
/// `world` and `rt.dirty`, and a `state_file` field).
macro_rules! persisted {
    ($shared:ty, $name:literal) => {
        impl $crate::common::Persisted for $shared {
            const NAME: &'static str = $name;
            fn state_file(&self) -> Option<&std::path::Path> {
                self.state_file.as_deref()
            }
            fn snapshot(&self, only_if_dirty: bool) -> Option<serde_json::Result<Vec<u8>>> {
                let mut inner = self.lock();
                if only_if_dirty && !inner.rt.dirty {
                    return None;
                }
                inner.rt.dirty = false;
                Some(serde_json::to_vec(&inner.world))
            }
        }
    };
}
pub(crate) use persisted;

/// Writes the state file now (when there is one).
pub(crate) fn save<P: Persisted>(emulator: &P) {
    save_if(emulator, false);
}

fn save_if<P: Persisted>(emulator: &P, only_if_dirty: bool) {
    let Some(path) = emulator.state_file() else {
        return;
    };
    match emulator.snapshot(only_if_dirty) {
        Some(Ok(bytes)) => write_state(path, &bytes, P::NAME),
        Some(Err(e)) => {
            tracing::error!(error = %e, emulator = P::NAME, "cannot serialize sandbox state");
        }
        None => {}
    }
}

/// With a state file: saves now, then within a second of each change, and once
/// more at shutdown.
pub(crate) fn spawn_saver<P: Persisted>(
    emulator: Arc<P>,
    mut stop: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    emulator.state_file()?;
    save(&*emulator);
    Some(tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => save_if(&*emulator, true),
                _ = stop.changed() => {
                    save(&*emulator);
                    return;
                }
            }
        }
    }))
}
