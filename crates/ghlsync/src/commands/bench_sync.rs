//! `ghlsync bench backfill|rate-limited|resync`: the sync engine against the
//! sandbox, with the naive loop run in the same process as the baseline.
//!
//! The sandbox runs as a child process (`ghlsync sandbox`), so the CPU time and
//! peak memory measured here are the engine's (and the baseline's, which runs
//! after it). The engine is the one `ghlsync up` builds (server, intake, worker,
//! store), fed by the sandbox's webhooks as in production; it syncs Lofty leads
//! into GHL location 0 through the `lofty-ghl-contacts` recipe. The baseline
//! syncs the same leads into location 1 the way a sync is written by hand today:
//! for each lead a duplicate search, then a create or an update, one at a time,
//! waiting out each 429 for as long as GHL says.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Value, json};

use ghlsync::Config;
use ghlsync::{AppOptions, Application, WorkerOptions};

const FLOW: &str = "lofty-ghl-contacts";
/// GHL's page size for a `searchAfter` walk.
const GHL_PAGE: usize = 500;

/// Which sync scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Rate limits off.
    Backfill,
    /// GHL's limit shape, 100 requests per location, the window compressed to 1 s.
    RateLimited,
    /// A backfill, then the same again with nothing changed (the second is measured).
    Resync,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backends {
    Sqlite,
    Postgres,
    Both,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Lofty leads to sync (default: 10,000; 2,000 for `rate-limited`).
    #[arg(long)]
    pub records: Option<usize>,
    /// Leads the baseline syncs (default: as many; 500 for `rate-limited`, where
    /// it runs at about 50 a second).
    #[arg(long)]
    pub baseline_records: Option<usize>,
    /// Which store (PostgreSQL needs GHLSYNC_DATABASE_URL; ./scripts/pg-up.sh prints one).
    #[arg(long, value_enum, default_value = "both")]
    pub backend: Backends,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// What one engine run measured.
#[derive(Debug, Default, Clone, Serialize)]
pub struct EngineRun {
    records: usize,
    /// Until every record is paired (created or linked on the other side).
    seconds: f64,
    /// Until the queue is idle as well (the creates' echoes handled).
    seconds_to_idle: f64,
    records_per_s: f64,
    ghl_calls: u64,
    ghl_reads: u64,
    ghl_writes: u64,
    ghl_calls_per_record: f64,
    ghl_writes_per_record: f64,
    http_429: u64,
    /// Share of the allowed GHL request rate used (rate-limited only).
    #[serde(skip_serializing_if = "Option::is_none")]
    utilisation: Option<f64>,
    cpu_seconds: f64,
    peak_rss_mb: f64,
    jobs_enqueued: u64,
}

/// What the naive loop measured.
#[derive(Debug, Default, Clone, Serialize)]
pub struct BaselineRun {
    records: usize,
    seconds: f64,
    records_per_s: f64,
    ghl_calls: u64,
    ghl_calls_per_record: f64,
    http_429: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    utilisation: Option<f64>,
}

/// One backend's figures.
#[derive(Debug, Serialize)]
pub struct BackendFigures {
    backend: &'static str,
    #[serde(flatten)]
    engine: EngineRun,
    /// The backfill before a resync (resync only).
    #[serde(skip_serializing_if = "Option::is_none")]
    first_backfill: Option<EngineRun>,
    baseline: BaselineRun,
    baseline_records_per_s: f64,
    baseline_ghl_calls_per_record: f64,
    /// engine records/s over baseline records/s.
    speedup: f64,
}

/// The sandbox in a child process, killed on drop.
pub(super) struct SandboxProc {
    child: Child,
    pub(super) info: Value,
}

impl Drop for SandboxProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SandboxProc {
    fn start(scenario: Scenario) -> anyhow::Result<Self> {
        match scenario {
            Scenario::RateLimited => Self::start_with(1_000, 100, 2),
            _ => Self::start_with(10_000, 2_000_000_000, 2),
        }
    }

    /// `ghlsync sandbox` with no contacts, `locations` GHL locations, each allowed
    /// `max` requests per `window_ms` window.
    pub(super) fn start_with(window_ms: u64, max: u64, locations: usize) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find this executable")?;
        let (window, max, locations) = (
            window_ms.to_string(),
            max.to_string(),
            locations.to_string(),
        );
        let mut child = Command::new(exe)
            .args(["sandbox", "--seed", "0", "--locations", &locations])
            .args(["--rate-window-ms", &window, "--rate-max", &max])
            .args(["--rate-daily", "2000000000", "--webhook-retry-ms", "1000"])
            .env_remove("GHLSYNC_LOG_FORMAT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start `ghlsync sandbox`")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .context("the sandbox printed nothing")?;
        let info: Value = serde_json::from_str(&line)
            .with_context(|| format!("the sandbox's first line is not JSON: {line}"))?;
        Ok(Self { child, info })
    }

    pub(super) fn ghl(&self) -> &str {
        self.info["ghl"]["base_url"].as_str().unwrap_or_default()
    }

    pub(super) fn lofty(&self) -> &str {
        self.info["lofty"]["base_url"].as_str().unwrap_or_default()
    }

    pub(super) fn location(&self, i: usize) -> (String, String) {
        let l = &self.info["ghl"]["locations"][i];
        (
            l["id"].as_str().unwrap_or_default().to_owned(),
            l["token"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

pub(super) async fn control(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Value,
) {
    let sent = http.request(method, &url).json(&body).send().await;
    match sent {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::warn!(url, status = %r.status(), "sandbox control refused"),
        Err(e) => tracing::warn!(url, error = %e, "sandbox control failed"),
    }
}

/// GHL's counters of one location: (requests, 429s, reads, writes).
pub(super) async fn ghl_counters(
    http: &reqwest::Client,
    sbx: &SandboxProc,
    location: &str,
) -> [u64; 4] {
    let url = format!("{}/_sandbox/counters", sbx.ghl());
    let v: Value = match http.get(&url).send().await {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let c = &v["locations"][location];
    let (mut reads, mut writes) = (0, 0);
    for (route, n) in c["by_route"].as_object().into_iter().flatten() {
        let n = n.as_u64().unwrap_or(0);
        // A search is a POST that reads.
        if route.starts_with("GET ") || route.contains("/search") {
            reads += n;
        } else {
            writes += n;
        }
    }
    [
        c["requests"].as_u64().unwrap_or(0),
        c["rate_limited"].as_u64().unwrap_or(0),
        reads,
        writes,
    ]
}

/// This process's CPU time (user + system), from `/proc/self/stat` (Linux).
pub(super) fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|t| t.parse().unwrap_or(0.0))
        .collect();
    // Fields 14 and 15 (utime, stime), in clock ticks of 1/100 s.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

/// Peak resident memory since the last [`reset_peak_rss`], in MB (Linux).
pub(super) fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

pub(super) fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The engine as `ghlsync up` builds it, on `database_url` (SQLite in `dir` when
/// `None`), serving in the background.
pub(super) struct Engine {
    pub(super) store: store::Store,
    pub(super) connectors: engine::Connectors,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Engine {
    pub(super) async fn start(
        http: &reqwest::Client,
        sbx: &SandboxProc,
        dir: &Path,
        database_url: Option<String>,
    ) -> anyhow::Result<Self> {
        Self::start_listening(http, sbx, dir, database_url, None).await
    }

    /// The same on `listen`, when given, with it as the public URL (where Lofty
    /// delivers webhooks).
    pub(super) async fn start_listening(
        http: &reqwest::Client,
        sbx: &SandboxProc,
        dir: &Path,
        database_url: Option<String>,
        listen: Option<std::net::SocketAddr>,
    ) -> anyhow::Result<Self> {
        let ghl = &sbx.info["ghl"];
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let mut config = Config::default();
        config.data_dir = Some(dir.to_path_buf());
        config.database_url = database_url;
        config.ghl.base_url = Some(sbx.ghl().to_owned());
        config.ghl.auth_base = Some(sbx.ghl().to_owned());
        config.ghl.client_id = text(&ghl["client_id"]);
        config.ghl.client_secret = text(&ghl["client_secret"]);
        config.ghl.webhook_public_key = text(&ghl["webhook_public_key"]);
        config.lofty.base_url = Some(sbx.lofty().to_owned());
        if let Some(at) = listen {
            config.public_url = Some(format!("http://{at}"));
        }
        let options = AppOptions {
            listen: Some(listen.unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0)))),
            run_worker: true,
            worker: WorkerOptions {
                idle: Some(Duration::from_millis(10)),
                ..WorkerOptions::default()
            },
        };
        let app = Application::build(&config, options).await?;
        let address = app.address();
        let store = app.store().clone();
        let connectors = app.worker().connectors().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        // The sandbox's signed webhooks go to this engine's intake.
        control(
            http,
            reqwest::Method::POST,
            format!("{}/_sandbox/webhooks", sbx.ghl()),
            json!({"url": format!("http://{address}/webhooks/ghl")}),
        )
        .await;
        Ok(Self {
            store,
            connectors,
            stop,
            served,
        })
    }

    pub(super) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.served.await;
        self.store.close().await;
    }

    /// Connects GHL location 0 and the Lofty account, switches the recipe on.
    pub(super) async fn enable(&self, sbx: &SandboxProc) -> anyhow::Result<engine::sync::Flow> {
        let (location, token) = sbx.location(0);
        let ghl = engine::connections::connect_pit(
            &self.store,
            &url::Url::parse(sbx.ghl())?,
            &location,
            &SecretString::from(token),
            "contacts.readonly contacts.write locations/customFields.readonly",
        )
        .await?;
        let key = sbx.info["lofty"]["api_key"].as_str().unwrap_or_default();
        let lofty = engine::connections::connect_lofty_key(
            &self.store,
            &url::Url::parse(sbx.lofty())?,
            &SecretString::from(key.to_owned()),
        )
        .await?;
        let row = engine::sync::enable_recipe(&self.connectors, FLOW, &ghl, &lofty).await?;
        Ok(engine::sync::Flow {
            spec: engine::sync::build(&row)?,
            row,
        })
    }

    /// One backfill of `flow` (pages both sides, enqueues, waits until `records`
    /// pairs exist and the queue is idle), measured.
    pub(super) async fn backfill(
        &self,
        http: &reqwest::Client,
        sbx: &SandboxProc,
        flow: &engine::sync::Flow,
        records: usize,
        limit_per_s: Option<f64>,
    ) -> anyhow::Result<EngineRun> {
        let (location, _) = sbx.location(0);
        let before = ghl_counters(http, sbx, &location).await;
        reset_peak_rss();
        let cpu = cpu_seconds();
        let started = Instant::now();
        for side in [domain::sync::Side::Left, domain::sync::Side::Right] {
            engine::sync::backfill::index_side(&self.connectors, flow, side, |_| {}).await?;
        }
        let jobs_enqueued = engine::sync::backfill::enqueue(&self.store, flow).await?;
        let mut shown = Instant::now();
        let deadline = started + Duration::from_secs(3_600);
        let mut paired = None;
        loop {
            let pairs = usize::try_from(self.store.count_pairs(&flow.row.id).await?)?;
            if pairs >= records && paired.is_none() {
                paired = Some(started.elapsed().as_secs_f64());
            }
            let q = self.store.queue_stats().await?;
            if pairs >= records && q.queued == 0 && q.running == 0 {
                break;
            }
            if q.dead > 0 {
                bail!(
                    "{} jobs died during the backfill (ghlsync dead-letters shows why)",
                    q.dead
                );
            }
            if Instant::now() > deadline {
                bail!("the backfill did not finish in an hour: {pairs} of {records} paired");
            }
            if shown.elapsed() > Duration::from_secs(5) {
                eprintln!(
                    "  ... {pairs} of {records} paired, {} jobs queued ({:.0} s)",
                    q.queued,
                    started.elapsed().as_secs_f64()
                );
                shown = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let seconds_to_idle = started.elapsed().as_secs_f64();
        let seconds = paired.unwrap_or(seconds_to_idle);
        let cpu_seconds = cpu_seconds() - cpu;
        let peak_rss_mb = peak_rss_mb();
        // The creates' echoes (ContactCreate webhooks) settle before counting calls.
        settle(&self.store).await?;
        let after = ghl_counters(http, sbx, &location).await;
        let [calls, http_429, reads, writes] =
            std::array::from_fn(|i| after[i].saturating_sub(before[i]));
        let n = records.max(1) as f64;
        Ok(EngineRun {
            records,
            seconds,
            seconds_to_idle,
            records_per_s: records as f64 / seconds,
            ghl_calls: calls,
            ghl_reads: reads,
            ghl_writes: writes,
            ghl_calls_per_record: calls as f64 / n,
            ghl_writes_per_record: writes as f64 / n,
            http_429,
            utilisation: utilisation(calls, http_429, seconds, limit_per_s),
            cpu_seconds,
            peak_rss_mb,
            jobs_enqueued,
        })
    }
}

/// Waits until the queue has been idle for half a second (webhooks still in
/// flight enqueue more).
pub(super) async fn settle(store: &store::Store) -> anyhow::Result<()> {
    let mut idle_since = None::<Instant>;
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let q = store.queue_stats().await?;
        if q.queued == 0 && q.running == 0 {
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_millis(500) {
                return Ok(());
            }
        } else {
            idle_since = None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The share of the allowed request rate that did work: requests GHL accepted (a
/// 429 is refused work) over what the limit allows in the time taken.
fn utilisation(calls: u64, refused: u64, seconds: f64, limit_per_s: Option<f64>) -> Option<f64> {
    limit_per_s.map(|l| calls.saturating_sub(refused) as f64 / (seconds * l))
}

/// Retries `call` after each 429 for as long as the answer says (the SDK's own
/// 429 retry).
async fn on_429<T, F, Fut>(mut call: F) -> Result<T, ghl::GhlError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ghl::GhlError>>,
{
    loop {
        match call().await {
            Err(e) if e.status() == Some(429) => {
                let wait = match e.retry_class() {
                    ghl::RetryClass::RetryAfter(d) => d,
                    _ => Duration::from_secs(1),
                };
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

/// The naive loop into location 1: for each lead (read from Lofty as it goes) a
/// duplicate search by email and phone, then a create or an update, sequential.
async fn baseline(
    http: &reqwest::Client,
    sbx: &SandboxProc,
    records: usize,
    limit_per_s: Option<f64>,
) -> anyhow::Result<BaselineRun> {
    let (location, token) = sbx.location(1);
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
    let before = ghl_counters(http, sbx, &location).await;
    let started = Instant::now();
    let leads = lofty::pagination::leads_stream(
        &lofty,
        lofty::models::LeadQuery::default(),
        lofty::pagination::LeadPaging::Offset,
    )
    .take(records);
    let mut leads = std::pin::pin!(leads);
    let mut done = 0usize;
    while let Some(lead) = leads.next().await {
        let lead = lead?;
        let email = lead.emails.first().cloned();
        let phone = lead.phones.first().cloned();
        let found =
            on_429(|| ghl.get_duplicate_contact(&location, email.as_deref(), phone.as_deref()))
                .await?;
        match found {
            Some(contact) => {
                let update = ghl::models::UpdateContact {
                    first_name: lead.first_name.clone(),
                    last_name: lead.last_name.clone(),
                    email: email.clone(),
                    phone: phone.clone(),
                    ..Default::default()
                };
                on_429(|| ghl.update_contact(&contact.id, &update)).await?;
            }
            None => {
                let create = ghl::models::CreateContact {
                    location_id: location.clone(),
                    first_name: lead.first_name.clone(),
                    last_name: lead.last_name.clone(),
                    email: email.clone(),
                    phone: phone.clone(),
                    ..Default::default()
                };
                on_429(|| ghl.create_contact(&create)).await?;
            }
        }
        done += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    let after = ghl_counters(http, sbx, &location).await;
    let calls = after[0] - before[0];
    Ok(BaselineRun {
        records: done,
        seconds,
        records_per_s: done as f64 / seconds,
        ghl_calls: calls,
        ghl_calls_per_record: calls as f64 / done.max(1) as f64,
        http_429: after[1] - before[1],
        utilisation: utilisation(calls, after[1] - before[1], seconds, limit_per_s),
    })
}

/// A database for one run: SQLite in `dir`, or a fresh PostgreSQL schema (dropped
/// afterwards by [`drop_schema`]).
pub(super) async fn database(
    backend: &'static str,
    dir: &Path,
) -> anyhow::Result<Option<(String, String)>> {
    if backend == "sqlite" {
        return Ok(None);
    }
    let base = std::env::var("GHLSYNC_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .context("PostgreSQL needs GHLSYNC_DATABASE_URL (./scripts/pg-up.sh prints one), or pass --backend sqlite")?;
    let schema = format!("ghlsync_bench_{}", std::process::id());
    let mut o = store::StoreOptions::postgres(&base, dir);
    o.pg_schema = Some(schema.clone());
    // Opening creates and migrates the schema.
    store::Store::open_with_keyring(&o, store::Keyring::new(store::MasterKey::generate()))
        .await
        .context("cannot open PostgreSQL (GHLSYNC_DATABASE_URL)")?
        .close()
        .await;
    let sep = if base.contains('?') { '&' } else { '?' };
    Ok(Some((
        format!("{base}{sep}options=-c%20search_path%3D{schema}"),
        schema,
    )))
}

pub(super) async fn drop_schema(dir: &Path, schema: &str) {
    let Ok(base) = std::env::var("GHLSYNC_DATABASE_URL") else {
        return;
    };
    let o = store::StoreOptions::postgres(&base, dir);
    if let Ok(s) =
        store::Store::open_with_keyring(&o, store::Keyring::new(store::MasterKey::generate())).await
    {
        // A one-off statement naming this run's schema.
        let sql: &'static str =
            Box::leak(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE").into_boxed_str());
        let _ = s.execute_raw(sql).await;
        s.close().await;
    }
}

async fn run_backend(
    scenario: Scenario,
    backend: &'static str,
    records: usize,
    baseline_records: usize,
) -> anyhow::Result<BackendFigures> {
    let http = wire::http::http_client(Duration::from_secs(30));
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "ghlsync-bench-sync-{}-{backend}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let db = database(backend, &dir).await?;
    let sbx = SandboxProc::start(scenario)?;
    // Lofty's limits stay off: what is measured is the GHL side.
    control(
        &http,
        reqwest::Method::POST,
        format!("{}/_sandbox/config", sbx.lofty()),
        json!({"rate_per_minute": 2_000_000_000u32, "oauth_rate_per_minute": 2_000_000_000u32}),
    )
    .await;
    control(
        &http,
        reqwest::Method::POST,
        format!("{}/_sandbox/seed", sbx.lofty()),
        json!({"leads": records}),
    )
    .await;
    let limit = (scenario == Scenario::RateLimited).then_some(100.0);
    let engine = Engine::start(&http, &sbx, &dir, db.as_ref().map(|d| d.0.clone())).await?;
    let flow = engine.enable(&sbx).await?;
    eprintln!("{backend}: the engine syncs {records} Lofty leads into GHL ...");
    let mut run = engine.backfill(&http, &sbx, &flow, records, limit).await?;
    let mut first_backfill = None;
    if scenario == Scenario::Resync {
        eprintln!("{backend}: and again, nothing changed ...");
        engine::sync::backfill::reset(&engine.store, &flow.row.id).await?;
        first_backfill = Some(run);
        run = engine.backfill(&http, &sbx, &flow, records, limit).await?;
    }
    engine.stop().await;
    eprintln!("{backend}: the baseline syncs {baseline_records} of them ...");
    let base = baseline(&http, &sbx, baseline_records, limit).await?;
    if let Some((_, schema)) = &db {
        drop_schema(&dir, schema).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(BackendFigures {
        backend,
        baseline_records_per_s: base.records_per_s,
        baseline_ghl_calls_per_record: base.ghl_calls_per_record,
        speedup: run.records_per_s / base.records_per_s.max(f64::MIN_POSITIVE),
        engine: run,
        first_backfill,
        baseline: base,
    })
}

pub async fn run(scenario: Scenario, args: &SyncArgs) -> anyhow::Result<()> {
    let records = args.records.unwrap_or(match scenario {
        Scenario::RateLimited => 2_000,
        _ => 10_000,
    });
    let baseline_records = args.baseline_records.unwrap_or(match scenario {
        Scenario::RateLimited => records.min(500),
        _ => records,
    });
    let backends: &[&'static str] = match args.backend {
        Backends::Sqlite => &["sqlite"],
        Backends::Postgres => &["postgres"],
        Backends::Both => &["sqlite", "postgres"],
    };
    let mut all = Vec::new();
    for b in backends {
        all.push(run_backend(scenario, b, records, baseline_records).await?);
    }
    if args.json {
        let mut out = serde_json::Map::new();
        for f in &all {
            out.insert(f.backend.to_owned(), serde_json::to_value(f)?);
        }
        println!("{}", Value::Object(out));
        return Ok(());
    }
    print_table(scenario, &all);
    Ok(())
}

fn print_table(scenario: Scenario, all: &[BackendFigures]) {
    let name = match scenario {
        Scenario::Backfill => "backfill (rate limits off)",
        Scenario::RateLimited => "rate-limited (100 GHL requests per 1 s window)",
        Scenario::Resync => "resync (a second backfill, nothing changed)",
    };
    println!("bench {name}");
    println!(
        "  {:<9} {:>8} {:>10} {:>11} {:>11} {:>6} {:>6} {:>8} {:>8}",
        "", "records", "records/s", "GHL calls/r", "writes/r", "429s", "util", "cpu s", "RSS MB"
    );
    let util = |u: Option<f64>| u.map_or("-".to_owned(), |u| format!("{u:.2}"));
    for f in all {
        let e = &f.engine;
        if let Some(b) = &f.first_backfill {
            println!(
                "  {:<9} {:>8} {:>10.0} {:>11.3} {:>11.3} {:>6} {:>6} {:>8.2} {:>8.1}",
                format!("{} 1st", f.backend),
                b.records,
                b.records_per_s,
                b.ghl_calls_per_record,
                b.ghl_writes_per_record,
                b.http_429,
                util(b.utilisation),
                b.cpu_seconds,
                b.peak_rss_mb
            );
        }
        println!(
            "  {:<9} {:>8} {:>10.0} {:>11.3} {:>11.3} {:>6} {:>6} {:>8.2} {:>8.1}",
            f.backend,
            e.records,
            e.records_per_s,
            e.ghl_calls_per_record,
            e.ghl_writes_per_record,
            e.http_429,
            util(e.utilisation),
            e.cpu_seconds,
            e.peak_rss_mb
        );
        let b = &f.baseline;
        println!(
            "  {:<9} {:>8} {:>10.0} {:>11.3} {:>11} {:>6} {:>6}",
            "baseline",
            b.records,
            b.records_per_s,
            b.ghl_calls_per_record,
            "",
            b.http_429,
            util(b.utilisation)
        );
        if scenario == Scenario::Resync {
            println!(
                "  {}: {} GHL reads (pages: {}), {} writes, {} jobs",
                f.backend,
                e.ghl_reads,
                e.records.div_ceil(GHL_PAGE) + 1,
                e.ghl_writes,
                e.jobs_enqueued
            );
        }
        println!(
            "  {}: engine {:.1}x the baseline's records/s",
            f.backend, f.speedup
        );
    }
}
