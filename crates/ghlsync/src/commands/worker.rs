//! `ghlsync worker`: queue workers only, against the configured database, so several
//! processes (or machines) can share one PostgreSQL.

use std::process::ExitCode;

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

impl Args {
    fn options(&self) -> ghlsync::WorkerOptions {
        ghlsync::WorkerOptions {
            queue: self.queue.clone(),
            batch: self.batch,
            concurrency: self.concurrency,
            lease_ms: self.lease_ms,
            id: self.id.clone(),
            idle: None,
        }
    }
}

pub async fn run(config: &Config, args: Args) -> anyhow::Result<ExitCode> {
    let store = config.open_store().await?;
    let worker = ghlsync::startup::worker(config, store, &args.options())?;
    tracing::info!(worker = worker.id(), queue = %args.queue, "WorkerStarted");
    if args.exit_when_idle {
        let stats = worker.drain().await?;
        crate::hint!(
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
