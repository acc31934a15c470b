//! `ghlsync bench locations`: many GHL locations at once, each with its own rate
//! budget: how fast the engine gets through all of them, how much of each
//! location's budget it used, and how evenly the locations finish (fairness).
//!
//! The sandbox runs as a child process with `--locations` locations, each allowed
//! 100 requests per 1 s window (GHL's shape, the window compressed). The engine is
//! the one `ghlsync up` builds; each location is connected with its own PIT and gets
//! `--per-location` contacts to create through the catalog's `create-contact`
//! action (one `ghl.call` job each, as a flow's action step runs them), queued
//! location after location: the order that starves the last location under a plain
//! first-in, first-out queue.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Value, json};

use super::bench_sync::{
    Backends, Engine, SandboxProc, cpu_seconds, database, drop_schema, peak_rss_mb, reset_peak_rss,
};

/// GHL's limit shape, the window compressed.
const WINDOW_MS: u64 = 1_000;
const PER_WINDOW: u64 = 100;

#[derive(Debug, clap::Args)]
pub struct LocationsArgs {
    /// GHL locations, each with its own connection and budget.
    #[arg(long, default_value_t = 1_000)]
    pub locations: usize,
    /// Contacts created in each location.
    #[arg(long, default_value_t = 20)]
    pub per_location: usize,
    /// Which store (PostgreSQL needs GHLSYNC_DATABASE_URL; ./scripts/pg-up.sh prints one).
    #[arg(long, value_enum, default_value = "both")]
    pub backend: Backends,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct LocationsFigures {
    backend: &'static str,
    locations: usize,
    records: usize,
    seconds: f64,
    records_per_s: f64,
    /// GHL requests over what the locations' budgets allowed while each had work
    /// (its first to last write, at least one window), for the location that used
    /// the least, the median one and the one that used the most.
    worst_location_utilisation: f64,
    median_location_utilisation: f64,
    best_location_utilisation: f64,
    /// The last location's finish minus the first's.
    completion_spread_s: f64,
    /// When the first and the last location finished, from the start.
    first_location_done_s: f64,
    last_location_done_s: f64,
    http_429: u64,
    cpu_seconds: f64,
    peak_rss_mb: f64,
}

/// The sandbox's per-location (requests, 429s).
async fn counters(http: &reqwest::Client, sbx: &SandboxProc) -> anyhow::Result<Value> {
    let url = format!("{}/_sandbox/counters", sbx.ghl());
    Ok(http.get(&url).send().await?.json().await?)
}

async fn run_backend(
    backend: &'static str,
    args: &LocationsArgs,
) -> anyhow::Result<LocationsFigures> {
    let http = wire::http::http_client(Duration::from_secs(30));
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "ghlsync-bench-locations-{}-{backend}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let db = database(backend, &dir).await?;
    let sbx = SandboxProc::start_with(WINDOW_MS, PER_WINDOW, args.locations)?;
    let engine = Engine::start(&http, &sbx, &dir, db.as_ref().map(|d| d.0.clone())).await?;
    eprintln!("{backend}: connecting {} locations ...", args.locations);
    let base = url::Url::parse(sbx.ghl())?;
    let mut connections = Vec::with_capacity(args.locations);
    for i in 0..args.locations {
        let (location, token) = sbx.location(i);
        anyhow::ensure!(!location.is_empty(), "the sandbox has no location {i}");
        let id = engine::connections::connect_pit(
            &engine.store,
            &base,
            &location,
            &SecretString::from(token),
            "contacts.readonly contacts.write",
        )
        .await
        .with_context(|| format!("connecting location {location}"))?;
        connections.push((id, location));
    }
    let before = counters(&http, &sbx).await?;

    let records = args.locations * args.per_location;
    eprintln!(
        "{backend}: {records} contacts to create, {} per location, queued location after location ...",
        args.per_location
    );
    let mut jobs = Vec::with_capacity(records);
    for (n, (conn, location)) in connections.iter().enumerate() {
        for k in 0..args.per_location {
            let input = json!({
                "locationId": location,
                "firstName": format!("Loc{n}"),
                "lastName": format!("Person{k}"),
                "email": format!("loc{n}.person{k}@bench.example"),
            });
            let call =
                engine::jobs::GhlCall::new(conn, "create-contact", input, format!("bench-{n}-{k}"));
            jobs.push(engine::jobs::Job::from(call).into_new_job());
        }
    }
    reset_peak_rss();
    let cpu = cpu_seconds();
    let started_at = engine.store.now();
    let started = Instant::now();
    for chunk in jobs.chunks(1_000) {
        engine.store.enqueue_many(chunk).await?;
    }
    let mut shown = Instant::now();
    let deadline = started + Duration::from_secs(3_600);
    loop {
        let q = engine.store.queue_stats().await?;
        if q.dead > 0 {
            bail!("{} jobs died (ghlsync dead-letters shows why)", q.dead);
        }
        if q.queued == 0 && q.running == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("not done in an hour: {} jobs still queued", q.queued);
        }
        if shown.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "  ... {} of {records} done ({:.0} s)",
                q.done,
                started.elapsed().as_secs_f64()
            );
            shown = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu_seconds() - cpu;
    let peak_rss_mb = peak_rss_mb();
    let after = counters(&http, &sbx).await?;

    let spans = engine.store.done_spans("ghl.call").await?;
    let done: i64 = spans.iter().map(|s| s.1).sum();
    anyhow::ensure!(
        usize::try_from(done)? == records,
        "{done} of {records} contacts created"
    );
    let location_of: std::collections::HashMap<&str, &str> = connections
        .iter()
        .map(|(c, l)| (c.as_str(), l.as_str()))
        .collect();
    let mut utilisation = Vec::new();
    let mut finished = Vec::new();
    let mut http_429 = 0;
    for (conn, _, first, last) in &spans {
        let location = location_of.get(conn.as_str()).copied().unwrap_or_default();
        let n = |v: &Value, k: &str| v["locations"][location][k].as_u64().unwrap_or(0);
        let requests = n(&after, "requests") - n(&before, "requests");
        let refused = n(&after, "rate_limited") - n(&before, "rate_limited");
        http_429 += refused;
        let span_ms = (last - first).max(0) as u64 + WINDOW_MS;
        let allowed = PER_WINDOW as f64 * span_ms as f64 / WINDOW_MS as f64;
        utilisation.push((requests - refused) as f64 / allowed);
        finished.push((last - started_at) as f64 / 1_000.0);
    }
    utilisation.sort_by(f64::total_cmp);
    finished.sort_by(f64::total_cmp);
    let at = |v: &[f64], q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    engine.stop().await;
    drop(sbx);
    if let Some((_, schema)) = &db {
        drop_schema(&dir, schema).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(LocationsFigures {
        backend,
        locations: args.locations,
        records,
        seconds,
        records_per_s: records as f64 / seconds,
        worst_location_utilisation: at(&utilisation, 0.0),
        median_location_utilisation: at(&utilisation, 0.5),
        best_location_utilisation: at(&utilisation, 1.0),
        completion_spread_s: at(&finished, 1.0) - at(&finished, 0.0),
        first_location_done_s: at(&finished, 0.0),
        last_location_done_s: at(&finished, 1.0),
        http_429,
        cpu_seconds,
        peak_rss_mb,
    })
}

pub async fn run(args: &LocationsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.locations > 0 && args.per_location > 0,
        "--locations and --per-location must be at least 1"
    );
    let backends: &[&'static str] = match args.backend {
        Backends::Sqlite => &["sqlite"],
        Backends::Postgres => &["postgres"],
        Backends::Both => &["sqlite", "postgres"],
    };
    let mut all = Vec::new();
    for b in backends {
        all.push(run_backend(b, args).await?);
    }
    if args.json {
        let mut out = serde_json::Map::new();
        for f in &all {
            out.insert(f.backend.to_owned(), serde_json::to_value(f)?);
        }
        println!("{}", Value::Object(out));
        return Ok(());
    }
    println!(
        "bench locations: {} locations, {} contacts each, every location {PER_WINDOW} requests per {WINDOW_MS} ms",
        args.locations, args.per_location
    );
    println!(
        "  {:<9} {:>8} {:>10} {:>10} {:>10} {:>10} {:>9} {:>6} {:>7}",
        "", "records", "records/s", "worst util", "median", "spread s", "last s", "429s", "cpu s"
    );
    for f in &all {
        println!(
            "  {:<9} {:>8} {:>10.0} {:>10.3} {:>10.3} {:>10.1} {:>9.1} {:>6} {:>7.2}",
            f.backend,
            f.records,
            f.records_per_s,
            f.worst_location_utilisation,
            f.median_location_utilisation,
            f.completion_spread_s,
            f.last_location_done_s,
            f.http_429,
            f.cpu_seconds
        );
    }
    Ok(())
}
