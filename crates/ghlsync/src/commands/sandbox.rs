//! `ghlsync sandbox`: serve the emulators and print one JSON line when ready.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use sandbox::{RateLimitConfig, Sandbox, SandboxConfig};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Address of the Lofty emulator (default: next port after --listen, or a free one).
    #[arg(long)]
    pub lofty_listen: Option<SocketAddr>,
    /// Address of the Lytho emulator (default: two ports after --listen, or a free one).
    #[arg(long)]
    pub lytho_listen: Option<SocketAddr>,
    /// Contacts seeded per location (each with tasks, notes, appointments, custom fields).
    #[arg(long = "seed", default_value_t = 10)]
    pub contacts: usize,
    /// Number of locations (sub-accounts).
    #[arg(long, default_value_t = 2)]
    pub locations: usize,
    /// Random seed: the same seed gives the same ids, people and credentials.
    #[arg(long, default_value_t = 42)]
    pub rng_seed: u64,
    /// Keep the state in this file (loaded at start, saved while running).
    #[arg(long)]
    pub state_file: Option<PathBuf>,
    /// Burst window of the rate limit, in milliseconds (GHL: 10000).
    #[arg(long, default_value_t = 10_000)]
    pub rate_window_ms: u64,
    /// Requests per burst window (GHL: 100).
    #[arg(long, default_value_t = 100)]
    pub rate_max: u32,
    /// Requests per day (GHL: 200000).
    #[arg(long, default_value_t = 200_000)]
    pub rate_daily: u32,
    /// Lifetime of OAuth access tokens in seconds (GHL: 86399).
    #[arg(long, default_value_t = 86_399)]
    pub token_ttl_secs: u64,
    /// Delay before a webhook that got a 429 is retried, in milliseconds (GHL: about 600000).
    #[arg(long, default_value_t = 600_000)]
    pub webhook_retry_ms: u64,
    /// Send webhooks to this URL (repeatable).
    #[arg(long = "webhook-url")]
    pub webhook_urls: Vec<String>,
}

impl Args {
    /// The defaults a bare `ghlsync sandbox` runs with.
    pub fn defaults() -> Self {
        #[derive(clap::Parser)]
        struct Bare {
            #[command(flatten)]
            args: Args,
        }
        <Bare as clap::Parser>::parse_from(["sandbox"]).args
    }

    pub fn config(&self) -> SandboxConfig {
        SandboxConfig {
            listen: self.listen,
            lofty_listen: self.lofty_listen,
            lytho_listen: self.lytho_listen,
            seed: self.rng_seed,
            contacts_per_location: self.contacts,
            locations: self.locations,
            rate: RateLimitConfig {
                window: Duration::from_millis(self.rate_window_ms.max(1)),
                max_per_window: self.rate_max,
                daily: self.rate_daily,
            },
            access_token_ttl: Duration::from_secs(self.token_ttl_secs),
            webhook_retry_delay: Duration::from_millis(self.webhook_retry_ms),
            webhook_targets: self.webhook_urls.clone(),
            state_file: self.state_file.clone(),
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sandbox = Sandbox::start(args.config()).await?;
    let line = serde_json::to_string(sandbox.info()).context("cannot encode the sandbox info")?;
    println!("{line}");
    super::shutdown_signal().await;
    tracing::info!("stopping the sandbox");
    sandbox.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
