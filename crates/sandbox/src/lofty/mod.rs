//! The Lofty Open API emulator (`/v1.0`, `/v2.0`). Being written: see issue 4.

use axum::Router;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::SandboxConfig;

/// The `lofty` object of the sandbox's JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct LoftyInfo {
    pub base_url: String,
    /// A personal API key (`Authorization: token <key>`).
    pub api_key: String,
}

/// In-process access to the Lofty emulator.
#[derive(Debug, Clone)]
pub struct Handle {
    info: LoftyInfo,
}

impl Handle {
    pub fn info(&self) -> LoftyInfo {
        self.info.clone()
    }
}

/// Builds the router, handle and background tasks of the Lofty emulator.
pub(crate) async fn build(
    _config: &SandboxConfig,
    base_url: &str,
    _shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(Router, Handle, Vec<JoinHandle<()>>)> {
    let info = LoftyInfo {
        base_url: base_url.to_owned(),
        api_key: String::new(),
    };
    Ok((Router::new(), Handle { info }, Vec::new()))
}
