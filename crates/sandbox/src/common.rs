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
    let result = write_private(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
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

/// Why a request body is not JSON.
pub(crate) enum BodyError {
    /// The body could not be read.
    Read(String),
    /// It is not JSON.
    Parse(String),
}

/// The request body as JSON, `{}` when empty or blank, with no `Content-Type` check
/// (each emulator answers the errors in its API's own words).
pub(crate) async fn json_body<S: Send + Sync>(
    req: axum::extract::Request,
    state: &S,
) -> Result<serde_json::Value, BodyError> {
    use axum::extract::FromRequest;
    let bytes = axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|e| BodyError::Read(e.to_string()))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    serde_json::from_slice(&bytes).map_err(|e| BodyError::Parse(e.to_string()))
}

/// One fixed rate window of an emulator's limiter. A window opens at the first
/// request after the previous one closed (as the APIs' headers suggest).
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub start_ms: u64,
    pub count: u32,
}

impl Window {
    /// Opens a new window if the current one (`len_ms` long) has closed by `now_ms`.
    pub fn roll(&mut self, now_ms: u64, len_ms: u64) {
        if now_ms >= self.start_ms.saturating_add(len_ms) {
            self.start_ms = now_ms;
            self.count = 0;
        }
    }

    /// Whether `limit` requests were already spent in it.
    pub fn full(&self, limit: u32) -> bool {
        self.count >= limit
    }

    pub fn remaining(&self, limit: u32) -> u32 {
        limit.saturating_sub(self.count)
    }

    /// When it closes (epoch ms).
    pub fn ends_at(&self, len_ms: u64) -> u64 {
        self.start_ms.saturating_add(len_ms)
    }
}

/// A fault's draw: true with probability `rate` (never for 0).
pub(crate) fn roll(rate: f64) -> bool {
    use rand::Rng as _;
    rate > 0.0 && rand::rng().random_bool(rate.clamp(0.0, 1.0))
}

/// How an applied request's answer is lost on the way back.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Broken {
    /// The status and headers arrive, then the connection drops mid-body.
    Reset,
    /// Nothing arrives for this long (the caller's timeout fires first), then the
    /// connection drops.
    Timeout(Duration),
}

/// `resp` as the fault `how` delivers it: its status and headers, then a body
/// that breaks off (the connection is closed mid-answer).
pub(crate) async fn broken(
    resp: axum::response::Response,
    how: Broken,
) -> axum::response::Response {
    if let Broken::Timeout(hold) = how {
        tokio::time::sleep(hold).await;
    }
    let (mut parts, _) = resp.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = vec![
        Ok(bytes::Bytes::from_static(b"{\"")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox fault: the connection was reset",
        )),
    ];
    // The first bytes go out with the headers; the break comes a moment later.
    let body = axum::body::Body::from_stream(futures_util::StreamExt::then(
        futures_util::stream::iter(chunks),
        |chunk| async move {
            if chunk.is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            chunk
        },
    ));
    axum::response::Response::from_parts(parts, body)
}

/// Spends one queued forced 429 (a `storm_429` fault), if any is left.
pub fn take_storm(storm_429: &mut u64) -> bool {
    let storm = *storm_429 > 0;
    if storm {
        *storm_429 -= 1;
    }
    storm
}

/// Writes `bytes` to a new file readable by the user only (a state file holds people's
/// names and emails, even if they are made up).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    open.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_opens_on_the_first_request_after_it_closed() {
        let mut w = Window::default();
        w.roll(1_000, 100);
        assert_eq!((w.start_ms, w.count), (1_000, 0));
        w.count = 2;
        assert!(w.full(2) && !w.full(3));
        assert_eq!(w.remaining(3), 1);
        assert_eq!(w.ends_at(100), 1_100);
        w.roll(1_099, 100);
        assert_eq!(w.count, 2, "still open");
        w.roll(1_250, 100);
        assert_eq!((w.start_ms, w.count), (1_250, 0), "aligned to the request");
        let mut storms = 1;
        assert!(take_storm(&mut storms));
        assert!(!take_storm(&mut storms));
    }
}
