//! Faithful local emulators of the APIs ghlsync talks to.
//!
//! Today this is the HighLevel (GHL) API v2 emulator ([`ghl`]): the 32 Contacts
//! operations, appointments, location custom fields and tags, the OAuth server,
//! rate limits, signed webhooks out, and `/_sandbox/` controls for seeding, faults
//! and counters. Tests, benchmarks and `ghlsync up` use it in place of the real
//! service, so it must be impossible for a client to tell the two apart for the
//! operations it emulates.
//!
//! Start one with [`Sandbox::start`]; it binds its own listener (port 0 works) and
//! reports what it serves in a [`SandboxInfo`], which `ghlsync sandbox` prints as
//! one JSON line.

mod common;
pub mod ghl;
pub mod lofty;
pub mod lytho;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use ghl::{GhlInfo, LocationInfo};
pub use lofty::LoftyInfo;
pub use lytho::LythoInfo;

/// Rate limit applied per (app or token, location), as GHL does.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitConfig {
    /// Length of the burst window (GHL: 10 s).
    pub window: Duration,
    /// Requests allowed per burst window (GHL: 100).
    pub max_per_window: u32,
    /// Requests allowed per day (GHL: 200,000).
    pub daily: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(10),
            max_per_window: 100,
            daily: 200_000,
        }
    }
}

/// Everything that shapes a sandbox run. `Default` gives GHL's real values.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address the GHL emulator binds; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Address of the Lofty emulator (default: same IP, GHL's port + 1, or port 0).
    pub lofty_listen: Option<SocketAddr>,
    /// Address of the Lytho emulator (default: same IP, GHL's port + 2, or port 0).
    pub lytho_listen: Option<SocketAddr>,
    /// Seed for deterministic data (ids, names); same seed, same world.
    pub seed: u64,
    /// Contacts seeded per location (each with tasks, notes, appointments, custom fields).
    pub contacts_per_location: usize,
    /// Number of locations (sub-accounts) in the one company.
    pub locations: usize,
    /// Burst and daily limits.
    pub rate: RateLimitConfig,
    /// Lifetime of OAuth access tokens (GHL: 86,399 s).
    pub access_token_ttl: Duration,
    /// Delay between webhook retries after a 429 (GHL: about 10 minutes).
    pub webhook_retry_delay: Duration,
    /// Webhook targets registered at start.
    pub webhook_targets: Vec<String>,
    /// Optional file the state is loaded from at start and saved to while running.
    pub state_file: Option<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            lofty_listen: None,
            lytho_listen: None,
            seed: 42,
            contacts_per_location: 10,
            locations: 2,
            rate: RateLimitConfig::default(),
            access_token_ttl: Duration::from_secs(86_399),
            webhook_retry_delay: Duration::from_secs(600),
            webhook_targets: Vec::new(),
            state_file: None,
        }
    }
}

/// What a running sandbox serves, printed by `ghlsync sandbox` as one JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxInfo {
    pub ghl: GhlInfo,
    pub lofty: LoftyInfo,
    pub lytho: LythoInfo,
}

/// A running sandbox. Dropping it does not stop the server; call [`Sandbox::shutdown`].
#[derive(Debug)]
pub struct Sandbox {
    info: SandboxInfo,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    ghl: ghl::Handle,
    lofty: lofty::Handle,
    lytho: lytho::Handle,
}

/// Binds `explicit`, or a port derived from the GHL one (`offset` above it) when unset.
async fn bind_next(
    explicit: Option<SocketAddr>,
    ghl: SocketAddr,
    requested_port: u16,
    offset: u16,
) -> anyhow::Result<tokio::net::TcpListener> {
    let addr = explicit.unwrap_or_else(|| {
        let port = if requested_port == 0 {
            0
        } else {
            requested_port.saturating_add(offset)
        };
        SocketAddr::new(ghl.ip(), port)
    });
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e} (pick other addresses)"))
}

/// Serves `router` on `listener` until shutdown.
fn spawn_server(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    mut rx: watch::Receiver<bool>,
    name: &'static str,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let stop = async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!(error = %e, emulator = name, "sandbox server stopped with an error");
        }
    })
}

impl Sandbox {
    /// Binds the listener, builds (or loads) the world and starts serving.
    pub async fn start(config: SandboxConfig) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot listen on {}: {e} (pick another --listen address)",
                    config.listen
                )
            })?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let lofty_listener = bind_next(config.lofty_listen, addr, config.listen.port(), 1).await?;
        let lytho_listener = bind_next(config.lytho_listen, addr, config.listen.port(), 2).await?;
        let lofty_url = format!("http://{}", lofty_listener.local_addr()?);
        let lytho_url = format!("http://{}", lytho_listener.local_addr()?);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (router, ghl, mut tasks) = ghl::build(&config, &base_url, shutdown_rx.clone()).await?;
        let (lofty_router, lofty, lofty_tasks) =
            lofty::build(&config, &lofty_url, shutdown_rx.clone()).await?;
        let (lytho_router, lytho, lytho_tasks) =
            lytho::build(&config, &lytho_url, shutdown_rx.clone()).await?;
        tasks.extend(lofty_tasks);
        tasks.extend(lytho_tasks);
        let info = SandboxInfo {
            ghl: ghl.info(),
            lofty: lofty.info(),
            lytho: lytho.info(),
        };
        tasks.push(spawn_server(listener, router, shutdown_rx.clone(), "ghl"));
        tasks.push(spawn_server(
            lofty_listener,
            lofty_router,
            shutdown_rx.clone(),
            "lofty",
        ));
        tasks.push(spawn_server(
            lytho_listener,
            lytho_router,
            shutdown_rx,
            "lytho",
        ));
        tracing::info!(ghl = %base_url, lofty = %lofty_url, lytho = %lytho_url, "sandbox ready");
        Ok(Self {
            info,
            addr,
            shutdown,
            tasks,
            ghl,
            lofty,
            lytho,
        })
    }

    /// Base URLs and credentials of the emulators.
    pub fn info(&self) -> &SandboxInfo {
        &self.info
    }

    /// Address the sandbox listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL of the GHL emulator (`http://127.0.0.1:port`).
    pub fn ghl_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Direct access to the GHL emulator's controls (same as `/_sandbox/` over HTTP).
    pub fn ghl(&self) -> &ghl::Handle {
        &self.ghl
    }

    /// Direct access to the Lofty emulator.
    pub fn lofty(&self) -> &lofty::Handle {
        &self.lofty
    }

    /// Direct access to the Lytho emulator.
    pub fn lytho(&self) -> &lytho::Handle {
        &self.lytho
    }

    /// Stops serving, saves the state file if one is configured, and waits for the tasks.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        self.ghl.save_now();
    }
}
