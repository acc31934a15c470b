//! `ghlsync worker`: queue workers only, against the configured database, so several
//! processes (or machines) can share one PostgreSQL.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use engine::{TokenSource, Worker, WorkerConfig};

use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Queue to work on.
    #[arg(long, default_value = "default")]
    pub queue: String,
    /// Jobs claimed per round trip.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Jobs run at once.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Lease length in milliseconds (a dead worker's jobs come back after this).
    #[arg(long)]
    pub lease_ms: Option<u64>,
    /// Worker id (default: host-pid-random).
    #[arg(long)]
    pub id: Option<String>,
    /// Stop when no job is ready instead of waiting for more.
    #[arg(long)]
    pub exit_when_idle: bool,
}

pub fn worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".to_owned());
    format!(
        "{host}-{}-{:04x}",
        std::process::id(),
        rand::random::<u16>()
    )
}

pub async fn build(config: &Config, args: &Args) -> anyhow::Result<Worker> {
    let store = config.open_store().await?;
    let mut wc = WorkerConfig::new(args.id.clone().unwrap_or_else(worker_id));
    wc.queue.clone_from(&args.queue);
    wc.batch = args.batch.or(config.worker.batch).unwrap_or(wc.batch);
    wc.concurrency = args
        .concurrency
        .or(config.worker.concurrency)
        .unwrap_or(wc.concurrency);
    if let Some(ms) = args.lease_ms.or(config.worker.lease_ms) {
        wc.lease = Duration::from_millis(ms.max(100));
    }
    wc.ghl_base_url = config.ghl_base_url()?;
    let public = config.public_url();
    wc.public_url = Some(
        url::Url::parse(&public).with_context(|| format!("public_url is not a URL: {public}"))?,
    );
    let ahead = Duration::from_secs(config.worker.refresh_ahead_secs.unwrap_or(300));
    let lofty = config.lofty_oauth_settings()?.map(|s| s.app);
    let tokens = TokenSource::new(store.clone(), config.ghl_app()?, ahead).with_lofty(lofty);
    Ok(Worker::new(store, wc, tokens))
}

pub async fn run(config: &Config, args: Args) -> anyhow::Result<ExitCode> {
    let worker = build(config, &args).await?;
    tracing::info!(worker = worker.id(), queue = %args.queue, "WorkerStarted");
    if args.exit_when_idle {
        let stats = worker.drain().await?;
        eprintln!(
            "worker {}: {} done, {} failed",
            worker.id(),
            stats.done,
            stats.failed
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    let handle = {
        let worker = worker.clone();
        tokio::spawn(async move { worker.run(rx).await })
    };
    super::shutdown_signal().await;
    let _ = tx.send(true);
    let stats = handle.await?;
    tracing::info!(
        worker = worker.id(),
        done = stats.done,
        failed = stats.failed,
        "WorkerStopped"
    );
    Ok(ExitCode::SUCCESS)
}
