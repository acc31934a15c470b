//! Refresh race across processes: 4 `ghlsync worker` processes share one
//! PostgreSQL and one GHL OAuth connection whose access tokens expire every 3 s
//! and whose refresh tokens are single use. Over a steady stream of jobs, not one
//! refresh token may be spent twice and the connection must stay active.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ghl::OAuthApp;
use sandbox::{Sandbox, SandboxConfig};
use secrecy::SecretString;
use serde_json::json;
use store::*;

const BIN: &str = env!("CARGO_BIN_EXE_ghlsync");
/// How long jobs keep coming (the issue asks for at least a minute).
const SOAK: Duration = Duration::from_secs(60);
const KEY_HEX: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn pg_url() -> Option<String> {
    match std::env::var("GHLSYNC_DATABASE_URL") {
        Ok(u) => Some(u),
        Err(_) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but GHLSYNC_DATABASE_URL is not set (scripts/test.sh starts PostgreSQL)"
            );
            eprintln!("skipped: GHLSYNC_DATABASE_URL not set");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_worker_processes_never_spend_a_refresh_token_twice() {
    let Some(base_url) = pg_url() else { return };
    let schema = format!(
        "race_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let sep = if base_url.contains('?') { '&' } else { '?' };
    let url = format!("{base_url}{sep}options=-c%20search_path%3D{schema}");
    let dir = std::env::temp_dir().join(&schema);
    let mut options = StoreOptions::postgres(base_url.clone(), &dir);
    options.pg_schema = Some(schema.clone());
    let store =
        Store::open_with_keyring(&options, Keyring::new(MasterKey::parse(KEY_HEX).unwrap()))
            .await
            .unwrap();

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
    let code: serde_json::Value = sandbox::ghl::http_client()
        .post(format!("{}/_sandbox/oauth/code", info.base_url))
        .json(&json!({"location_id": loc, "scope": "contacts.readonly contacts.write"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let oauth = OAuthApp::new(
        info.client_id.clone(),
        SecretString::from(info.client_secret.clone()),
        String::new(),
    )
    .with_api_base(url::Url::parse(&info.base_url).unwrap());
    let t = oauth
        .exchange_code(code["code"].as_str().unwrap(), None)
        .await
        .unwrap();
    store
        .upsert_connection(&NewConnection {
            id: "c1".to_owned(),
            system: "ghl".to_owned(),
            kind: "oauth".to_owned(),
            location_id: Some(loc.clone()),
            company_id: None,
            scopes: t.scope.clone().unwrap_or_default(),
        })
        .await
        .unwrap();
    let expires_at = store.now() + i64::try_from(t.expires_in.unwrap_or(3)).unwrap() * 1000;
    store
        .put_tokens(
            "c1",
            &TokenSet {
                access: t.access_token.clone(),
                refresh: t.refresh_token.clone(),
                expires_at: Some(expires_at),
            },
        )
        .await
        .unwrap();

    std::fs::create_dir_all(&dir).unwrap();
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
            .env("GHLSYNC_DATA_DIR", &dir)
            .env("GHLSYNC_MASTER_KEY", KEY_HEX)
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
        let job = NewJob::new(
            "ghl.call",
            format!("race-{n}"),
            json!({"op": "get-contacts", "input": {"locationId": loc, "limit": 1}}),
        )
        .on_connection("c1");
        store.enqueue(&job).await.unwrap();
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
    let conn = store.connection("c1").await.unwrap().unwrap();
    assert_eq!(
        conn.status,
        ConnectionStatus::Active,
        "{:?}",
        conn.status_reason
    );
    drop(workers);
    sbx.shutdown().await;
}
