//! One GHL location's rate budget, shared by every worker process: 4 `ghlsync worker`
//! processes on one PostgreSQL each run 300 calls to one location whose (sandbox)
//! limit is 100 requests per 1 s window. Together they must get no 429 and finish
//! within 15 % of the 12 s the limit allows.
//!
//! Without the shared budget each process paces only itself (its governor learns the
//! limit from the headers, but four of them each send up to the whole limit), which
//! is what this test would catch.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use engine::jobs::{GhlCall, Job};
use sandbox::{RateLimitConfig, Sandbox, SandboxConfig};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_ghlsync");
const WORKERS: usize = 4;
const CALLS_EACH: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_worker_processes_share_one_locations_rate_budget() {
    let Some(db) = testkit::pg::database().await else {
        return;
    };
    let sbx = Sandbox::start(SandboxConfig {
        contacts_per_location: 1,
        rate: RateLimitConfig {
            window: Duration::from_secs(1),
            max_per_window: 100,
            daily: 200_000,
        },
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let dir = testkit::temp_dir("ghlsync_budget");
    let (key_hex, keyring) = testkit::master_key();
    let mut options = store::StoreOptions::postgres(&db.url, &dir);
    options.max_connections = 2;
    let store = store::Store::open_with_keyring(&options, keyring)
        .await
        .unwrap();
    let loc = sbx.info().ghl.locations[0].clone();
    let base = url::Url::parse(&sbx.ghl_base_url()).unwrap();
    let conn = engine::connections::connect_pit(
        &store,
        &base,
        &loc.id,
        &secrecy::SecretString::from(loc.token.clone()),
        "contacts.readonly",
    )
    .await
    .unwrap();
    for w in 0..WORKERS {
        let jobs: Vec<store::NewJob> = (0..CALLS_EACH)
            .map(|i| {
                let call = GhlCall::new(
                    &conn,
                    "get-contacts",
                    json!({"locationId": loc.id, "limit": 1}),
                    format!("budget-{w}-{i}"),
                );
                Job::from(call).into_new_job().in_queue(format!("q{w}"))
            })
            .collect();
        assert_eq!(store.enqueue_many(&jobs).await.unwrap(), CALLS_EACH);
    }
    let http = wire::http::default_http_client();
    let counters = format!("{}/_sandbox/counters", sbx.ghl_base_url());
    http.delete(&counters).send().await.unwrap();

    let started = Instant::now();
    let children: Vec<_> = (0..WORKERS)
        .map(|w| {
            Command::new(BIN)
                .args(["worker", "--exit-when-idle", "--queue", &format!("q{w}")])
                .env("GHLSYNC_DATABASE_URL", &db.url)
                .env("GHLSYNC_DATA_DIR", &dir)
                .env("GHLSYNC_MASTER_KEY", &key_hex)
                .env("GHLSYNC_GHL_BASE_URL", sbx.ghl_base_url())
                .env("GHLSYNC_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn a worker")
        })
        .collect();
    let outputs: Vec<_> = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().expect("worker output"))
            .collect()
    })
    .await
    .unwrap();
    let elapsed = started.elapsed();
    for out in &outputs {
        assert!(
            out.status.success(),
            "a worker failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let seen: Value = http
        .get(&counters)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let here = &seen["locations"][&loc.id];
    let requests = here["requests"].as_u64().unwrap_or(0);
    let limited = here["rate_limited"].as_u64().unwrap_or(0);
    let stats = store.queue_stats().await.unwrap();
    let allowed = Duration::from_secs(12);
    eprintln!(
        "shared budget: {WORKERS} processes x {CALLS_EACH} calls in {:.2} s ({:.1} % of the {} s the limit allows), {requests} requests, {limited} answered 429, {} done, {} queued, {} dead",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() / allowed.as_secs_f64() * 100.0,
        allowed.as_secs(),
        stats.done,
        stats.queued,
        stats.dead
    );
    assert_eq!(limited, 0, "no request may get a 429");
    assert_eq!(stats.done, (WORKERS * CALLS_EACH) as i64, "{stats:?}");
    assert_eq!(
        requests,
        (WORKERS * CALLS_EACH) as u64,
        "one request per call"
    );
    assert!(
        elapsed <= allowed.mul_f64(1.15),
        "took {elapsed:?}, more than 15 % over the {allowed:?} the limit allows"
    );
    store.close().await;
    sbx.shutdown().await;
    testkit::pg::drop_schema(&db.base_url, &db.schema).await;
    let _ = std::fs::remove_dir_all(&dir);
}
