//! `ghlsync bench webhooks`: signed GHL webhooks posted to the intake by a load
//! generator on loopback. Each is verified (Ed25519 over the raw body), journaled
//! durably (committed before the answer) and answered; the engine is the one
//! `ghlsync up` builds, worker running, so the intake shares the store with the
//! jobs it makes, as in production.
//!
//! The generator runs in this process: the bodies and their signatures are made
//! before the clock starts, then `--connections` clients post them as fast as they
//! are answered. It shares the machine's cores with the server, so the figure is a
//! floor of what the intake takes from a generator on another host.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use serde::Serialize;
use serde_json::{Value, json};

use super::bench_sync::{
    Backends, cpu_seconds, database, drop_schema, peak_rss_mb, reset_peak_rss,
};
use ghlsync::{AppOptions, Application, Config, WorkerOptions};

#[derive(Debug, clap::Args)]
pub struct WebhookArgs {
    /// Webhooks to post per backend.
    #[arg(long, default_value_t = 20_000)]
    pub events: usize,
    /// Connections posting at once.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Which store (PostgreSQL needs GHLSYNC_DATABASE_URL; ./scripts/pg-up.sh prints one).
    #[arg(long, value_enum, default_value = "both")]
    pub backend: Backends,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// One backend's figures.
#[derive(Debug, Serialize)]
pub struct IntakeFigures {
    backend: &'static str,
    events: usize,
    connections: usize,
    seconds: f64,
    events_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// Answers other than 200 (429s when the journal could not keep up).
    refused: usize,
    /// Journal entries afterwards (every 200 is one).
    journaled: i64,
    cpu_seconds: f64,
    peak_rss_mb: f64,
}

/// A `ContactCreate` for location `location`, as GHL sends it, with its signature.
fn signed_event(key: &ed25519_dalek::SigningKey, location: &str, i: usize) -> (Vec<u8>, String) {
    let body = serde_json::to_vec(&json!({
        "type": "ContactCreate",
        "locationId": location,
        "id": format!("bench-contact-{i}"),
        "firstName": "Bench",
        "lastName": format!("Load {i}"),
        "email": format!("load-{i}@example.com"),
        "phone": format!("+1415555{:04}", i % 10_000),
        "tags": ["bench"],
        "dateAdded": "2026-12-01T00:00:00.000Z",
        "webhookId": format!("bench-webhook-{i}-{}", std::process::id()),
        "timestamp": "2026-12-01T00:00:00.000Z",
    }))
    .unwrap_or_default();
    let signature = base64::engine::general_purpose::STANDARD.encode(key.sign(&body).to_bytes());
    (body, signature)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn run_backend(backend: &'static str, args: &WebhookArgs) -> anyhow::Result<IntakeFigures> {
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "ghlsync-bench-webhooks-{}-{backend}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let db = database(backend, &dir).await?;
    let key = sandbox::ghl::webhooks::signing_key(
        &base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>()),
    );
    let mut config = Config::default();
    config.data_dir = Some(dir.clone());
    config.database_url = db.as_ref().map(|d| d.0.clone());
    config.ghl.webhook_public_key = Some(sandbox::ghl::webhooks::public_key_pem(&key));
    let options = AppOptions {
        listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        run_worker: true,
        worker: WorkerOptions::default(),
    };
    let app = Application::build(&config, options).await?;
    let address = app.address();
    let store = app.store().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let journaled_before = store.count_events().await?;

    eprintln!("{backend}: signing {} webhooks ...", args.events);
    let bodies: Arc<Vec<(Vec<u8>, String)>> = Arc::new(
        (0..args.events)
            .map(|i| signed_event(&key, "bench-location", i))
            .collect(),
    );
    eprintln!(
        "{backend}: posting them on {} connections ...",
        args.connections
    );
    let url = format!("http://{address}/webhooks/ghl");
    let next = Arc::new(AtomicUsize::new(0));
    let http = wire::http::http_client_builder(Duration::from_secs(10))
        .pool_max_idle_per_host(args.connections)
        .build()
        .context("cannot build the load generator's HTTP client")?;
    reset_peak_rss();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.connections.max(1) {
        let (http, url, next, bodies) = (http.clone(), url.clone(), next.clone(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut refused = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((body, signature)) = bodies.get(i) else {
                    return (latencies, refused);
                };
                let sent = Instant::now();
                let answer = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-ghl-signature", signature)
                    .body(body.clone())
                    .send()
                    .await;
                latencies.push(sent.elapsed());
                match answer {
                    Ok(r) if r.status() == reqwest::StatusCode::OK => {
                        let _ = r.bytes().await;
                    }
                    _ => refused += 1,
                }
            }
        }));
    }
    let mut latencies = Vec::with_capacity(args.events);
    let mut refused = 0;
    for t in tasks {
        let (l, r) = t.await?;
        latencies.extend(l);
        refused += r;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu_seconds() - cpu;
    let peak_rss_mb = peak_rss_mb();
    latencies.sort();
    let journaled = store.count_events().await? - journaled_before;
    let _ = stop.send(());
    let _ = served.await;
    store.close().await;
    if let Some((_, schema)) = &db {
        drop_schema(&dir, schema).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let accepted = args.events - refused;
    if journaled != accepted as i64 {
        bail!(
            "{backend}: {accepted} webhooks were answered 200 but {journaled} are in the journal"
        );
    }
    Ok(IntakeFigures {
        backend,
        events: args.events,
        connections: args.connections,
        seconds,
        events_per_s: accepted as f64 / seconds,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        refused,
        journaled,
        cpu_seconds,
        peak_rss_mb,
    })
}

pub async fn run(args: &WebhookArgs) -> anyhow::Result<()> {
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
    println!("bench webhooks (signed GHL webhooks, verified, journaled, answered)");
    println!(
        "  {:<9} {:>8} {:>6} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "",
        "events",
        "conns",
        "events/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "refused",
        "cpu s",
        "RSS MB"
    );
    for f in &all {
        println!(
            "  {:<9} {:>8} {:>6} {:>10.0} {:>8.2} {:>8.2} {:>8.1} {:>8} {:>8.2} {:>8.1}",
            f.backend,
            f.events,
            f.connections,
            f.events_per_s,
            f.p50_ms,
            f.p99_ms,
            f.max_ms,
            f.refused,
            f.cpu_seconds,
            f.peak_rss_mb
        );
    }
    println!(
        "  (the load generator runs in this process and shares its cores; cpu s and RSS are both)"
    );
    Ok(())
}
