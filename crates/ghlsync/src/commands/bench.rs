//! `ghlsync bench queue`: jobs per second through the queue on SQLite and PostgreSQL;
//! `ghlsync bench sandbox` ([`super::bench_sandbox`]); `backfill`, `rate-limited`,
//! `resync` ([`super::bench_sync`]); `webhooks` ([`super::bench_intake`]);
//! `two-way` ([`super::bench_two_way`]); `locations` ([`super::bench_locations`]).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use engine::jobs::{Job, TestRecord};
use serde::Serialize;
use serde_json::json;
use store::{NewJob, Store, StoreOptions};

use super::bench_sync::Scenario;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Enqueue and claim+complete throughput of the job queue.
    #[command(
        after_help = "Examples:\n  ghlsync bench queue\n  ghlsync bench queue --jobs 100000 --json"
    )]
    Queue(QueueArgs),
    /// How fast the sandbox's emulators answer a sync's calls, measured alone (so
    /// the sync benchmarks measure the engine, not the sandbox).
    #[command(
        after_help = "Examples:\n  ghlsync bench sandbox\n  ghlsync bench sandbox --records 100000 --requests 20000 --json"
    )]
    Sandbox(super::bench_sandbox::SandboxArgs),
    /// 10,000 Lofty leads into GHL through the engine, rate limits off, against
    /// the naive loop (duplicate search, then create or update) in the same run.
    #[command(
        after_help = "Examples:\n  ghlsync bench backfill\n  ghlsync bench backfill --backend sqlite --records 2000 --json"
    )]
    Backfill(super::bench_sync::SyncArgs),
    /// The same under GHL's limit shape (100 requests per location per window,
    /// the window compressed to 1 s): utilisation and 429s.
    #[command(
        name = "rate-limited",
        after_help = "Examples:\n  ghlsync bench rate-limited\n  ghlsync bench rate-limited --backend sqlite --records 1000"
    )]
    RateLimited(super::bench_sync::SyncArgs),
    /// A backfill, then the same again with nothing changed: writes (0) and reads
    /// (the pages) of the second.
    #[command(
        after_help = "Examples:\n  ghlsync bench resync\n  ghlsync bench resync --backend sqlite --json"
    )]
    Resync(super::bench_sync::SyncArgs),
    /// Signed GHL webhooks posted to the intake on loopback: verified, journaled,
    /// answered; events/s and latency percentiles.
    #[command(
        after_help = "Examples:\n  ghlsync bench webhooks\n  ghlsync bench webhooks --backend sqlite --events 50000 --connections 128 --json"
    )]
    Webhooks(super::bench_intake::WebhookArgs),
    /// Edits on both sides of a running two-way sync: writes per real change,
    /// echo writes, and the time from receipt to the write on the other side.
    #[command(
        name = "two-way",
        after_help = "Examples:\n  ghlsync bench two-way\n  ghlsync bench two-way --backend sqlite --edits 200 --json"
    )]
    TwoWay(super::bench_two_way::TwoWayArgs),
    /// Many GHL locations at once, each with its own budget: records/s, the
    /// budget each location used, and how evenly they finish.
    #[command(
        after_help = "Examples:\n  ghlsync bench locations\n  ghlsync bench locations --backend sqlite --locations 100 --json"
    )]
    Locations(super::bench_locations::LocationsArgs),
}

#[derive(Debug, clap::Args)]
pub struct QueueArgs {
    /// Jobs per backend.
    #[arg(long, default_value_t = 20_000)]
    pub jobs: usize,
    /// Jobs per enqueue transaction.
    #[arg(long, default_value_t = 1_000)]
    pub enqueue_batch: usize,
    /// Jobs claimed (and completed) per round trip.
    #[arg(long, default_value_t = 500)]
    pub claim_batch: usize,
    /// Concurrent workers on PostgreSQL (SQLite has one writer: 1 worker).
    #[arg(long, default_value_t = 4)]
    pub pg_workers: usize,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Figures {
    jobs: usize,
    enqueue_per_s: f64,
    complete_per_s: f64,
    enqueue_batch: usize,
    claim_batch: usize,
    workers: usize,
}

async fn measure(store: &Store, args: &QueueArgs, workers: usize) -> anyhow::Result<Figures> {
    store.reset_queue().await?;
    let run = rand::random::<u32>();
    let jobs: Vec<NewJob> = (0..args.jobs)
        .map(|i| Job::from(TestRecord::new(format!("bench:{run}:{i}"))).into_new_job())
        .collect();
    let started = Instant::now();
    for chunk in jobs.chunks(args.enqueue_batch.max(1)) {
        store.enqueue_many(chunk).await?;
    }
    let enqueue = started.elapsed();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (store, batch) = (store.clone(), args.claim_batch);
        tasks.push(tokio::spawn(async move {
            let id = format!("bench-{w}");
            let mut n = 0usize;
            loop {
                let claimed = store
                    .claim("default", &id, batch, Duration::from_secs(60))
                    .await?;
                if claimed.is_empty() {
                    return Ok::<usize, store::StoreError>(n);
                }
                let items: Vec<(i64, Option<store::RunLogEntry>)> =
                    claimed.iter().map(|j| (j.id, None)).collect();
                n += store.complete_many(&id, &items).await?;
            }
        }));
    }
    let mut completed = 0;
    for t in tasks {
        completed += t.await??;
    }
    let complete = started.elapsed();
    anyhow::ensure!(
        completed == args.jobs,
        "completed {completed} of {} jobs",
        args.jobs
    );
    store.reset_queue().await?;
    Ok(Figures {
        jobs: args.jobs,
        enqueue_per_s: args.jobs as f64 / enqueue.as_secs_f64(),
        complete_per_s: args.jobs as f64 / complete.as_secs_f64(),
        enqueue_batch: args.enqueue_batch,
        claim_batch: args.claim_batch,
        workers,
    })
}

async fn sync(scenario: Scenario, args: &super::bench_sync::SyncArgs) -> anyhow::Result<ExitCode> {
    super::bench_sync::run(scenario, args).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn run(cmd: &BenchCommand) -> anyhow::Result<ExitCode> {
    let args = match cmd {
        BenchCommand::Queue(args) => args,
        BenchCommand::Sandbox(args) => {
            let figures = super::bench_sandbox::run(args).await?;
            super::bench_sandbox::print(args, &figures);
            return Ok(ExitCode::SUCCESS);
        }
        BenchCommand::Backfill(args) => return sync(Scenario::Backfill, args).await,
        BenchCommand::RateLimited(args) => return sync(Scenario::RateLimited, args).await,
        BenchCommand::Resync(args) => return sync(Scenario::Resync, args).await,
        BenchCommand::Webhooks(args) => {
            super::bench_intake::run(args).await?;
            return Ok(ExitCode::SUCCESS);
        }
        BenchCommand::TwoWay(args) => {
            super::bench_two_way::run(args).await?;
            return Ok(ExitCode::SUCCESS);
        }
        BenchCommand::Locations(args) => {
            super::bench_locations::run(args).await?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    let dir = std::env::temp_dir().join(format!("ghlsync-bench-{}", std::process::id()));
    let keyring = || store::Keyring::new(store::MasterKey::generate());
    let sqlite = Store::open_with_keyring(&StoreOptions::sqlite(&dir), keyring()).await?;
    let sqlite_figures = measure(&sqlite, args, 1).await?;
    sqlite.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    let pg_figures = match std::env::var("GHLSYNC_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
    {
        Some(url) => {
            let mut o = StoreOptions::postgres(url, &dir);
            o.pg_schema = Some("ghlsync_bench".to_owned());
            o.max_connections = u32::try_from(args.pg_workers + 2).unwrap_or(8);
            let pg = Store::open_with_keyring(&o, keyring())
                .await
                .context("cannot open PostgreSQL (GHLSYNC_DATABASE_URL)")?;
            let f = measure(&pg, args, args.pg_workers).await?;
            pg.close().await;
            Some(f)
        }
        None => None,
    };
    let _ = std::fs::remove_dir_all(&dir);
    if args.json {
        println!(
            "{}",
            json!({"sqlite": sqlite_figures, "postgres": pg_figures})
        );
    } else {
        println!(
            "queue benchmark: {} jobs per backend, enqueue batch {}, claim batch {}",
            args.jobs, args.enqueue_batch, args.claim_batch
        );
        let line = |name: &str, f: &Figures| {
            println!(
                "  {name:<9} enqueue {:>9.0} jobs/s   claim+complete {:>9.0} jobs/s   ({} worker{})",
                f.enqueue_per_s,
                f.complete_per_s,
                f.workers,
                if f.workers == 1 { "" } else { "s" }
            );
        };
        line("sqlite", &sqlite_figures);
        match &pg_figures {
            Some(f) => line("postgres", f),
            None => println!(
                "  postgres  skipped: set GHLSYNC_DATABASE_URL (./scripts/pg-up.sh prints one)"
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}
