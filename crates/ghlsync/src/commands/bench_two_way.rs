//! `ghlsync bench two-way`: edits made on both sides of a running two-way sync,
//! how many writes each real change costs, whether an echo ever causes one, and how
//! long a change takes from the engine receiving it to being written on the other
//! side.
//!
//! The sandbox runs as a child process (rate limits off, as the edits are what is
//! measured, not GHL's limit), the engine in this process as `ghlsync up` builds it
//! with its public URL set, so Lofty delivers its webhooks as in production (batched
//! for `--lofty-batch-ms`) and GHL sends its signed ones. `--records` Lofty leads are
//! backfilled into GHL first; then `--edits` first names are changed at `--rate` a
//! second, every other one in GHL and the rest in Lofty, each on its own person. The
//! changes' receipt is the journal's `received_at` of the webhook that named the
//! record; the write is the history's `update` of that record. Both come from the
//! store's clock.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Value, json};

use super::bench_sync::{
    Backends, Engine, SandboxProc, control, cpu_seconds, database, drop_schema, ghl_counters,
    peak_rss_mb, reset_peak_rss, settle,
};

#[derive(Debug, clap::Args)]
pub struct TwoWayArgs {
    /// People synced before the edits (Lofty leads backfilled into GHL).
    #[arg(long, default_value_t = 1_000)]
    pub records: usize,
    /// Edits, every other one in GHL and the rest in Lofty, each on its own person
    /// (at most `--records`).
    #[arg(long, default_value_t = 1_000)]
    pub edits: usize,
    /// Edits made per second.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// How long the Lofty sandbox gathers changes into one delivery (real Lofty:
    /// up to 5 minutes, which no engine controls).
    #[arg(long, default_value_t = 1_000)]
    pub lofty_batch_ms: u64,
    /// Which store (PostgreSQL needs GHLSYNC_DATABASE_URL; ./scripts/pg-up.sh prints one).
    #[arg(long, value_enum, default_value = "both")]
    pub backend: Backends,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// One backend's figures.
#[derive(Debug, Default, Serialize)]
pub struct TwoWayFigures {
    backend: &'static str,
    records: usize,
    edits: usize,
    ghl_edits: usize,
    lofty_edits: usize,
    /// The rate the edits were made at.
    edits_per_s: f64,
    /// GHL and Lofty writes the engine made while the edits propagated (the edits'
    /// own writes not counted).
    engine_writes: u64,
    writes_per_real_change: f64,
    /// Creates and updates the engine made from a record it had itself written.
    echo_writes: usize,
    /// Echoes the engine recognised and left alone.
    echoes_recognised: usize,
    /// From the first edit until the last change was written on the other side.
    seconds_to_converge: f64,
    p50_propagation_s: f64,
    p99_propagation_s: f64,
    max_propagation_s: f64,
    p50_ghl_to_lofty_s: f64,
    p99_ghl_to_lofty_s: f64,
    p50_lofty_to_ghl_s: f64,
    p99_lofty_to_ghl_s: f64,
    /// From an edit to the engine receiving its webhook (the sandboxes' delivery:
    /// GHL sends at once, Lofty batches for `lofty_batch_ms`).
    p50_ghl_delivery_s: f64,
    p50_lofty_delivery_s: f64,
    lofty_batch_ms: u64,
    cpu_seconds: f64,
    peak_rss_mb: f64,
}

/// Requests the Lofty sandbox answered that were not reads.
async fn lofty_writes(http: &reqwest::Client, sbx: &SandboxProc) -> u64 {
    let url = format!("{}/_sandbox/counters", sbx.lofty());
    let v: Value = match http.get(&url).send().await {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    v["callers"]["total"]["by_route"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(route, _)| !route.starts_with("GET "))
        .map(|(_, n)| n.as_u64().unwrap_or(0))
        .sum()
}

/// The `q` quantile (0..=1) of `sorted`, in seconds from ms.
fn quantile(sorted: &[i64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1_000.0
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v
}

/// An edit: which record, on which side, the name it was given, when it was made.
struct Edit {
    source: String,
    /// The partner on the other side (its reference).
    target_id: String,
    ghl: bool,
    name: String,
    made_at: i64,
}

async fn run_backend(backend: &'static str, args: &TwoWayArgs) -> anyhow::Result<TwoWayFigures> {
    let http = wire::http::http_client(Duration::from_secs(30));
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "ghlsync-bench-two-way-{}-{backend}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let db = database(backend, &dir).await?;
    let sbx = SandboxProc::start_with(10_000, 2_000_000_000, 1)?;
    control(
        &http,
        reqwest::Method::POST,
        format!("{}/_sandbox/config", sbx.lofty()),
        json!({"rate_per_minute": 2_000_000_000u32, "oauth_rate_per_minute": 2_000_000_000u32,
               "webhook_batch_ms": args.lofty_batch_ms}),
    )
    .await;
    control(
        &http,
        reqwest::Method::POST,
        format!("{}/_sandbox/seed", sbx.lofty()),
        json!({"leads": args.records}),
    )
    .await;
    // A port of our own, so the public URL Lofty delivers to is known before start.
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("no free port on 127.0.0.1")?;
    let engine = Engine::start_listening(
        &http,
        &sbx,
        &dir,
        db.as_ref().map(|d| d.0.clone()),
        Some(listen),
    )
    .await?;
    let flow = engine.enable(&sbx).await?;
    eprintln!(
        "{backend}: {} Lofty leads backfilled into GHL first ...",
        args.records
    );
    engine
        .backfill(&http, &sbx, &flow, args.records, None)
        .await?;
    settle(&engine.store).await?;
    let (location, token) = sbx.location(0);
    let ghl = ghl::GhlClient::new(
        ghl::GhlConfig::new(SecretString::from(token))
            .with_base_url(url::Url::parse(sbx.ghl())?)
            .with_location(location.clone()),
    )?;
    let key = sbx.info["lofty"]["api_key"].as_str().unwrap_or_default();
    let lofty = lofty::LoftyClient::new(
        lofty::LoftyConfig::new(lofty::Credential::ApiKey(SecretString::from(
            key.to_owned(),
        )))
        .with_base_url(url::Url::parse(sbx.lofty())?),
    )?;
    anyhow::ensure!(
        !lofty.list_webhooks().await?.is_empty(),
        "the engine did not subscribe to Lofty's webhooks"
    );

    // The people to edit, each once.
    let mut pairs = Vec::new();
    let mut after = 0;
    while pairs.len() < args.edits {
        let page = engine.store.pairs(&flow.row.id, after, 1_000).await?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        pairs.extend(page.into_iter().map(|(_, p)| p));
    }
    anyhow::ensure!(
        pairs.len() >= args.edits,
        "{} people synced, fewer than the {} edits asked for",
        pairs.len(),
        args.edits
    );
    let spec = &flow.spec;
    let reference = |side, id: &str| engine::sync::reference(spec, side, id);
    use domain::sync::Side::{Left, Right};

    let ghl_before = ghl_counters(&http, &sbx, &location).await;
    let lofty_before = lofty_writes(&http, &sbx).await;
    reset_peak_rss();
    let cpu = cpu_seconds();
    eprintln!(
        "{backend}: {} edits at {}/s, half in GHL, half in Lofty ...",
        args.edits, args.rate
    );
    let started_at = engine.store.now();
    let started = Instant::now();
    let mut edits = Vec::with_capacity(args.edits);
    for (i, pair) in pairs.iter().take(args.edits).enumerate() {
        let due = started + Duration::from_secs_f64(i as f64 / f64::from(args.rate.max(1)));
        tokio::time::sleep_until(due.into()).await;
        let name = format!("Edit{i}");
        let on_ghl = i % 2 == 0;
        // Stamped before the call: GHL's webhook may be journaled before it returns.
        let made_at = engine.store.now();
        if on_ghl {
            let update = ghl::models::UpdateContact {
                first_name: Some(name.clone()),
                ..Default::default()
            };
            ghl.update_contact(&pair.left_id, &update).await?;
        } else {
            let id: i64 = pair.right_id.parse().context("a Lofty lead id")?;
            let update = lofty::models::UpdateLead {
                first_name: Some(name.clone()),
                ..Default::default()
            };
            lofty.update_lead(id, &update).await?;
        }
        edits.push(Edit {
            source: if on_ghl {
                reference(Left, &pair.left_id)
            } else {
                reference(Right, &pair.right_id)
            },
            target_id: if on_ghl {
                pair.right_id.clone()
            } else {
                pair.left_id.clone()
            },
            ghl: on_ghl,
            name,
            made_at,
        });
    }
    let edits_per_s = args.edits as f64 / started.elapsed().as_secs_f64();

    // Until every edit is written on the other side and the echoes are handled.
    let wanted: HashSet<&str> = edits.iter().map(|e| e.source.as_str()).collect();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut shown = Instant::now();
    let written: HashMap<String, i64> = loop {
        let mut written = HashMap::new();
        for h in engine.store.runs(&flow.row.id, 1_000_000).await? {
            if h.at >= started_at && h.decision == "update" && wanted.contains(h.source.as_str()) {
                let at = written.entry(h.source.clone()).or_insert(h.at);
                *at = (*at).min(h.at);
            }
        }
        if written.len() == wanted.len() {
            break written;
        }
        let q = engine.store.queue_stats().await?;
        if q.dead > 0 {
            bail!("{} jobs died (ghlsync dead-letters shows why)", q.dead);
        }
        if Instant::now() > deadline {
            bail!(
                "{} of {} edits written on the other side after 10 minutes",
                written.len(),
                wanted.len()
            );
        }
        if shown.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "  ... {} of {} edits written, {} jobs queued",
                written.len(),
                wanted.len(),
                q.queued
            );
            shown = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let converged_at = written.values().copied().max().unwrap_or(started_at);
    settle(&engine.store).await?;
    let cpu_seconds = cpu_seconds() - cpu;
    let peak_rss_mb = peak_rss_mb();
    let ghl_after = ghl_counters(&http, &sbx, &location).await;
    let lofty_after = lofty_writes(&http, &sbx).await;
    let ghl_edits = edits.iter().filter(|e| e.ghl).count();
    let lofty_edits = edits.len() - ghl_edits;
    let engine_writes = (ghl_after[3] - ghl_before[3]).saturating_sub(ghl_edits as u64)
        + (lofty_after - lofty_before).saturating_sub(lofty_edits as u64);

    // What the engine decided while the edits propagated.
    let history: Vec<store::HistoryEntry> = engine
        .store
        .runs(&flow.row.id, 1_000_000)
        .await?
        .into_iter()
        .filter(|h| h.at >= started_at)
        .collect();
    let echo_writes = history
        .iter()
        .filter(|h| matches!(h.decision.as_str(), "create" | "update"))
        .filter(|h| !wanted.contains(h.source.as_str()))
        .count();
    let echoes_recognised = history.iter().filter(|h| h.decision == "echo").count();

    // When the engine received each edit: the first webhook naming the record after
    // the edit was made.
    let made: HashMap<&str, i64> = edits
        .iter()
        .map(|e| (e.source.as_str(), e.made_at))
        .collect();
    let mut received: HashMap<String, i64> = HashMap::new();
    let mut note = |source: String, at: i64| {
        if made.get(source.as_str()).is_some_and(|m| at >= *m) {
            let r = received.entry(source).or_insert(at);
            *r = (*r).min(at);
        }
    };
    let mut after = 0;
    loop {
        let events = engine.store.events_after(after, 5_000).await?;
        let Some(last) = events.last() else { break };
        after = last.id;
        for e in &events {
            match e.source.as_str() {
                "ghl" => {
                    let v: Value = serde_json::from_str(&e.body).unwrap_or(Value::Null);
                    if let Some(id) = v["id"].as_str() {
                        note(reference(Left, id), e.received_at);
                    }
                }
                "lofty" => {
                    if let Ok(batch) = lofty::webhook::parse(e.body.as_bytes()) {
                        for id in batch.ids() {
                            note(reference(Right, &id.to_string()), e.received_at);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let (mut all, mut to_lofty, mut to_ghl) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ghl_delivery, mut lofty_delivery) = (Vec::new(), Vec::new());
    for e in &edits {
        let (Some(r), Some(w)) = (received.get(&e.source), written.get(&e.source)) else {
            bail!("no webhook named {} after its edit", e.source);
        };
        let took = (w - r).max(0);
        all.push(took);
        if e.ghl {
            to_lofty.push(took);
            ghl_delivery.push(r - e.made_at);
        } else {
            to_ghl.push(took);
            lofty_delivery.push(r - e.made_at);
        }
    }

    // Both sides hold every edit (read back after the measurement).
    let mut wrong = Vec::new();
    for e in &edits {
        let name = if e.ghl {
            let id: i64 = e.target_id.parse()?;
            lofty.get_lead(id).await?.first_name
        } else {
            ghl.get_contact(&e.target_id).await?.first_name
        };
        if name.as_deref() != Some(e.name.as_str()) {
            wrong.push(format!("{} -> {}: {name:?}", e.source, e.target_id));
        }
    }
    anyhow::ensure!(
        wrong.is_empty(),
        "{} edits did not arrive: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    engine.stop().await;
    drop(sbx);
    if let Some((_, schema)) = &db {
        drop_schema(&dir, schema).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (all, to_lofty, to_ghl) = (sorted(all), sorted(to_lofty), sorted(to_ghl));
    Ok(TwoWayFigures {
        backend,
        records: args.records,
        edits: edits.len(),
        ghl_edits,
        lofty_edits,
        edits_per_s,
        engine_writes,
        writes_per_real_change: engine_writes as f64 / edits.len().max(1) as f64,
        echo_writes,
        echoes_recognised,
        seconds_to_converge: (converged_at - started_at) as f64 / 1_000.0,
        p50_propagation_s: quantile(&all, 0.5),
        p99_propagation_s: quantile(&all, 0.99),
        max_propagation_s: quantile(&all, 1.0),
        p50_ghl_to_lofty_s: quantile(&to_lofty, 0.5),
        p99_ghl_to_lofty_s: quantile(&to_lofty, 0.99),
        p50_lofty_to_ghl_s: quantile(&to_ghl, 0.5),
        p99_lofty_to_ghl_s: quantile(&to_ghl, 0.99),
        p50_ghl_delivery_s: quantile(&sorted(ghl_delivery), 0.5),
        p50_lofty_delivery_s: quantile(&sorted(lofty_delivery), 0.5),
        lofty_batch_ms: args.lofty_batch_ms,
        cpu_seconds,
        peak_rss_mb,
    })
}

pub async fn run(args: &TwoWayArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.edits <= args.records,
        "--edits ({}) must not exceed --records ({}): each edit is on its own person",
        args.edits,
        args.records
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
        "bench two-way: {} edits on {} synced people, half in GHL and half in Lofty (Lofty batches {} ms)",
        args.edits, args.records, args.lofty_batch_ms
    );
    println!(
        "  {:<9} {:>8} {:>9} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "",
        "edits/s",
        "writes/ch",
        "echo w",
        "converge",
        "p50 s",
        "p99 s",
        "G->L p99",
        "L->G p99",
        "cpu s"
    );
    for f in &all {
        println!(
            "  {:<9} {:>8.0} {:>9.3} {:>6} {:>8.1}s {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>7.2}",
            f.backend,
            f.edits_per_s,
            f.writes_per_real_change,
            f.echo_writes,
            f.seconds_to_converge,
            f.p50_propagation_s,
            f.p99_propagation_s,
            f.p99_ghl_to_lofty_s,
            f.p99_lofty_to_ghl_s,
            f.cpu_seconds
        );
        println!(
            "  {}: {} echoes recognised and left alone; delivery to the engine p50: GHL {:.3} s, Lofty {:.3} s",
            f.backend, f.echoes_recognised, f.p50_ghl_delivery_s, f.p50_lofty_delivery_s
        );
    }
    Ok(())
}
