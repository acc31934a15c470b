//! The Lytho Workflow Open API v1 emulator. Being written: see issue 4.

use axum::Router;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::SandboxConfig;

/// The `lytho` object of the sandbox's JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct LythoInfo {
    pub base_url: String,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub tenant: String,
}

/// In-process access to the Lytho emulator.
#[derive(Debug, Clone)]
pub struct Handle {
    info: LythoInfo,
}

impl Handle {
    pub fn info(&self) -> LythoInfo {
        self.info.clone()
    }
}

/// Builds the router, handle and background tasks of the Lytho emulator.
pub(crate) async fn build(
    _config: &SandboxConfig,
    base_url: &str,
    _shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(Router, Handle, Vec<JoinHandle<()>>)> {
    let info = LythoInfo {
        base_url: format!("{base_url}/v1"),
        token_url: String::new(),
        client_id: String::new(),
        client_secret: String::new(),
        tenant: String::new(),
    };
    Ok((Router::new(), Handle { info }, Vec::new()))
}
