//! The worker against the GHL sandbox: `ghl.call` jobs through PIT and OAuth
//! connections, scope checks before any call, refresh under contention, and
//! `needs_reauth` holding jobs until the user reconnects.

use std::time::Duration;

use engine::{GhlApp, TokenSource, Worker, WorkerConfig};
use ghl::OAuthApp;
use sandbox::{Sandbox, SandboxConfig};
use secrecy::SecretString;
use serde_json::{Value, json};
use store::*;

async fn store() -> Store {
    let dir = std::env::temp_dir().join(format!(
        "ghlsync-engine-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    Store::open_with_keyring(
        &StoreOptions::sqlite(dir),
        Keyring::new(MasterKey::from_bytes([3; 32])),
    )
    .await
    .unwrap()
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn app(sbx: &Sandbox) -> GhlApp {
    let info = &sbx.info().ghl;
    GhlApp {
        client_id: info.client_id.clone(),
        client_secret: SecretString::from(info.client_secret.clone()),
        api_base: url::Url::parse(&sbx.ghl_base_url()).unwrap(),
    }
}

fn worker(store: &Store, sbx: &Sandbox, id: &str, ahead: Duration) -> Worker {
    let mut config = WorkerConfig::new(id);
    config.ghl_base_url = url::Url::parse(&sbx.ghl_base_url()).unwrap();
    config.idle = Duration::from_millis(20);
    Worker::new(
        store.clone(),
        config,
        TokenSource::new(store.clone(), Some(app(sbx)), ahead),
    )
}

async fn control(sbx: &Sandbox, path: &str, body: Value) -> Value {
    sandbox::ghl::http_client()
        .post(format!("{}{path}", sbx.ghl_base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Connects location `index` over OAuth (as the callback will) and stores the tokens.
async fn connect_oauth(store: &Store, sbx: &Sandbox, conn_id: &str, scope: &str) {
    let loc = sbx.info().ghl.locations[0].id.clone();
    let code = control(
        sbx,
        "/_sandbox/oauth/code",
        json!({"location_id": loc, "scope": scope}),
    )
    .await;
    let a = app(sbx);
    let oauth =
        OAuthApp::new(a.client_id, a.client_secret, String::new()).with_api_base(a.api_base);
    let t = oauth
        .exchange_code(code["code"].as_str().unwrap(), None)
        .await
        .unwrap();
    store
        .upsert_connection(&NewConnection {
            id: conn_id.to_owned(),
            system: "ghl".to_owned(),
            kind: "oauth".to_owned(),
            location_id: Some(loc),
            company_id: None,
            scopes: t.scope.clone().unwrap_or_default(),
        })
        .await
        .unwrap();
    let expires_at = store.now() + i64::try_from(t.expires_in.unwrap_or(0)).unwrap() * 1000;
    store
        .put_tokens(
            conn_id,
            &TokenSet {
                access: t.access_token.clone(),
                refresh: t.refresh_token.clone(),
                expires_at: Some(expires_at),
            },
        )
        .await
        .unwrap();
}

fn call_job(key: &str, op: &str, input: Value) -> NewJob {
    NewJob::new(
        "ghl.call",
        key,
        json!({"op": op, "input": input, "record": format!("test:{key}")}),
    )
    .on_connection("c1")
}

#[tokio::test]
async fn pit_connection_runs_calls_and_scopes_are_checked_before_any_call() {
    let sbx = Sandbox::start(SandboxConfig {
        contacts_per_location: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let store = store().await;
    let loc = sbx.info().ghl.locations[0].clone();
    store
        .upsert_connection(&NewConnection {
            id: "c1".to_owned(),
            system: "ghl".to_owned(),
            kind: "pit".to_owned(),
            location_id: Some(loc.id.clone()),
            company_id: None,
            scopes: "contacts.readonly contacts.write".to_owned(),
        })
        .await
        .unwrap();
    store
        .put_secret("c1", "access_token", &SecretString::from(loc.token.clone()))
        .await
        .unwrap();
    store
        .enqueue(&call_job(
            "create",
            "create-contact",
            json!({"locationId": loc.id, "email": "worker@example.com"}),
        ))
        .await
        .unwrap();
    let w = worker(&store, &sbx, "w1", Duration::from_secs(60));
    let stats = w.drain().await.unwrap();
    assert_eq!(stats.done, 1);
    let created = sbx.ghl().with_world(|world| {
        world.locations[0]
            .contacts
            .values()
            .any(|c| c.str_field("email") == Some("worker@example.com"))
    });
    assert!(created, "the contact exists in GHL");
    assert_eq!(store.run_log("test:create").await.unwrap()[0].outcome, "ok");

    // A connection without the scope: refused before any request, naming both.
    store
        .upsert_connection(&NewConnection {
            scopes: "contacts.readonly".to_owned(),
            ..NewConnection {
                id: "c1".to_owned(),
                system: "ghl".to_owned(),
                kind: "pit".to_owned(),
                location_id: Some(loc.id.clone()),
                company_id: None,
                scopes: String::new(),
            }
        })
        .await
        .unwrap();
    let before = sbx.ghl().requests(&loc.id);
    store
        .enqueue(&call_job(
            "create2",
            "create-contact",
            json!({"locationId": loc.id, "email": "w2@example.com"}),
        ))
        .await
        .unwrap();
    w.drain().await.unwrap();
    assert_eq!(sbx.ghl().requests(&loc.id), before, "no request was made");
    let dead = store.dead_letters(5).await.unwrap();
    let msg = dead[0].last_error.clone().unwrap();
    assert!(
        msg.contains("needs contacts.write") && msg.contains("connection c1 has contacts.readonly"),
        "{msg}"
    );
    sbx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_workers_share_single_use_refresh_tokens_without_losing_one() {
    // Access tokens live 2 s; workers refresh when less than 1 s is left.
    let config = SandboxConfig {
        contacts_per_location: 3,
        access_token_ttl: Duration::from_secs(2),
        rate: sandbox::RateLimitConfig {
            max_per_window: 100_000,
            ..Default::default()
        },
        ..Default::default()
    };
    let sbx = Sandbox::start(config).await.unwrap();
    let store = store().await;
    connect_oauth(&store, &sbx, "c1", "contacts.readonly contacts.write").await;
    let loc = sbx.info().ghl.locations[0].id.clone();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut handles = Vec::new();
    for i in 0..4 {
        let w = worker(&store, &sbx, &format!("w{i}"), Duration::from_secs(1));
        let rx = rx.clone();
        handles.push(tokio::spawn(async move { w.run(rx).await }));
    }
    // A steady stream of jobs for 7 s (3-4 token lifetimes).
    let started = std::time::Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(7) {
        store
            .enqueue(&call_job(
                &format!("j{n}"),
                "get-contacts",
                json!({"locationId": loc, "limit": 1}),
            ))
            .await
            .unwrap();
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Let the workers finish what is queued.
    for _ in 0..200 {
        if store.queue_stats().await.unwrap().done == i64::from(n) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tx.send(true).unwrap();
    let mut failed = 0;
    for h in handles {
        failed += h.await.unwrap().failed;
    }
    let stats = store.queue_stats().await.unwrap();
    let oauth = sbx.ghl().oauth_counter();
    eprintln!(
        "{n} jobs, {} refreshes, {} rejected refresh tokens, {failed} failures",
        oauth.refreshed, oauth.refresh_rejected
    );
    assert_eq!(stats.done, i64::from(n), "{stats:?}");
    assert_eq!(
        oauth.refresh_rejected, 0,
        "a single-use refresh token was spent twice"
    );
    assert!(
        oauth.refreshed >= 3,
        "tokens were refreshed as they expired ({})",
        oauth.refreshed
    );
    assert_eq!(failed, 0, "no job saw a 401");
    assert_eq!(
        store.connection("c1").await.unwrap().unwrap().status,
        ConnectionStatus::Active
    );
    sbx.shutdown().await;
}

#[tokio::test]
async fn revoked_refresh_token_holds_jobs_until_reconnect() {
    let sbx = Sandbox::start(SandboxConfig {
        contacts_per_location: 2,
        ..Default::default()
    })
    .await
    .unwrap();
    let store = store().await;
    connect_oauth(&store, &sbx, "c1", "contacts.readonly contacts.write").await;
    let loc = sbx.info().ghl.locations[0].id.clone();
    // GHL revokes everything and the access token has expired.
    control(&sbx, "/_sandbox/tokens/revoke-all", json!({})).await;
    for i in 0..3 {
        store
            .enqueue(&call_job(
                &format!("j{i}"),
                "get-contacts",
                json!({"locationId": loc}),
            ))
            .await
            .unwrap();
    }
    let w = worker(&store, &sbx, "w1", Duration::from_secs(60));
    w.drain().await.unwrap();
    let conn = store.connection("c1").await.unwrap().unwrap();
    assert_eq!(conn.status, ConnectionStatus::NeedsReauth);
    let reason = conn.status_reason.unwrap();
    assert!(
        reason.contains("refresh token"),
        "the server's reason is kept: {reason}"
    );
    let stats = store.queue_stats().await.unwrap();
    assert_eq!(
        (stats.queued, stats.dead, stats.done),
        (3, 0, 0),
        "held, not lost: {stats:?}"
    );
    assert_eq!(
        w.drain().await.unwrap().done,
        0,
        "nothing runs while it needs the user"
    );
    // The user reconnects.
    connect_oauth(&store, &sbx, "c1", "contacts.readonly contacts.write").await;
    assert_eq!(w.drain().await.unwrap().done, 3);
    assert_eq!(store.queue_stats().await.unwrap().done, 3);
    sbx.shutdown().await;
}
