//! Refresh race across processes: 4 `ghlsync worker` processes share one
//! PostgreSQL and one GHL OAuth connection whose access tokens expire every 3 s
//! and whose refresh tokens are single use. Over a steady stream of jobs, not one
//! refresh token may be spent twice and the connection must stay active.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use engine::jobs::{GhlCall, Job};
use sandbox::{Sandbox, SandboxConfig};
use serde_json::json;
use store::ConnectionStatus;
use testkit::{Backend, connect_ghl_oauth_code, master_key, test_store};

const BIN: &str = env!("CARGO_BIN_EXE_ghlsync");
/// How long jobs keep coming (the issue asks for at least a minute).
const SOAK: Duration = Duration::from_secs(60);

struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_worker_processes_never_spend_a_refresh_token_twice() {
    let (key_hex, keyring) = master_key();
    let Some(db) = test_store(Backend::Postgres, keyring).await else {
        return;
    };
    let (store, dir) = (&db.store, &db.dir);
    let url = db.url.clone().expect("a PostgreSQL URL");

    let sbx = Sandbox::start(SandboxConfig {
        contacts_per_location: 2,
        access_token_ttl: Duration::from_secs(3),
        rate: sandbox::RateLimitConfig {
            max_per_window: 100_000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let info = sbx.info().ghl.clone();
    let loc = info.locations[0].id.clone();

    // Connect over OAuth the way the callback does.
    let conn = connect_ghl_oauth_code(store, &sbx, 0, "contacts.readonly contacts.write").await;

    let config = dir.join("ghlsync.toml");
    std::fs::write(
        &config,
        "[worker]\nrefresh_ahead_secs = 1\nbatch = 10\nlease_ms = 5000\n",
    )
    .unwrap();
    let mut workers = Workers(Vec::new());
    for i in 0..4 {
        let child = Command::new(BIN)
            .args([
                "worker",
                "--config",
                config.to_str().unwrap(),
                "--id",
                &format!("race-{i}"),
            ])
            .env("GHLSYNC_DATABASE_URL", &url)
            .env("GHLSYNC_DATA_DIR", dir)
            .env("GHLSYNC_MASTER_KEY", &key_hex)
            .env("GHLSYNC_GHL_BASE_URL", &info.base_url)
            .env("GHLSYNC_GHL_CLIENT_ID", &info.client_id)
            .env("GHLSYNC_GHL_CLIENT_SECRET", &info.client_secret)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ghlsync worker starts");
        workers.0.push(child);
    }

    // A minute of jobs: twenty token lifetimes, each refreshed by exactly one process.
    let started = Instant::now();
    let mut n: i64 = 0;
    while started.elapsed() < SOAK {
        let job = Job::from(GhlCall::new(
            &conn,
            "get-contacts",
            json!({"locationId": loc, "limit": 1}),
            format!("race-{n}"),
        ));
        store.enqueue(&job.into_new_job()).await.unwrap();
        n += 1;
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.queue_stats().await.unwrap().done < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = store.queue_stats().await.unwrap();
    let oauth_counts = sbx.ghl().oauth_counter();
    eprintln!(
        "refresh race: {n} jobs over {:?}, {} refreshes by 4 processes, {} rejected refresh tokens",
        started.elapsed(),
        oauth_counts.refreshed,
        oauth_counts.refresh_rejected
    );
    assert_eq!(stats.done, n, "every job ran: {stats:?}");
    assert_eq!(stats.dead, 0);
    assert_eq!(
        oauth_counts.refresh_rejected, 0,
        "a single-use refresh token was spent twice"
    );
    // 3 s tokens refreshed 1 s ahead: one refresh every ~2 s over the minute.
    assert!(
        oauth_counts.refreshed >= 15,
        "tokens expired and were refreshed ({})",
        oauth_counts.refreshed
    );
    let status = store.connection(&conn).await.unwrap().unwrap();
    assert_eq!(
        status.status,
        ConnectionStatus::Active,
        "{:?}",
        status.status_reason
    );
    drop(workers);
    sbx.shutdown().await;
    db.remove().await;
}
