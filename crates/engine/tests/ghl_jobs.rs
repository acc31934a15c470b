//! The worker against the GHL sandbox: `ghl.call` jobs through PIT and OAuth
//! connections, scope checks before any call, refresh under contention, and
//! `needs_reauth` holding jobs until the user reconnects.
//!
//! The apps come from the test kit. Their sandbox's webhooks are stopped: these tests
//! count the queue, and a contact created or an app installed would add a `ghl.event`
//! job to it whenever its delivery lands.

use std::time::Duration;

use engine::jobs::{GhlCall, Job};
use engine::{GhlApp, TokenSource, Worker, WorkerConfig};
use sandbox::SandboxConfig;
use secrecy::SecretString;
use serde_json::{Value, json};
use store::{ConnectionStatus, NewJob};
use testkit::{Spec, TestApp, spawn_app_with};

/// A SQLite app on a sandbox built from `sandbox`, its webhooks stopped.
async fn spawn(sandbox: SandboxConfig) -> TestApp {
    let app = spawn_app_with(Spec {
        sandbox,
        ..Spec::default()
    })
    .await
    .expect("SQLite is always available");
    app.stop_ghl_webhooks().await;
    app
}

/// A worker besides the app's, refreshing tokens with less than `ahead` left.
fn worker(app: &TestApp, id: &str, ahead: Duration) -> Worker {
    let info = &app.sandbox.info().ghl;
    let ghl = GhlApp {
        client_id: info.client_id.clone(),
        client_secret: SecretString::from(info.client_secret.clone()),
        api_base: url::Url::parse(&info.base_url).unwrap(),
    };
    let mut config = WorkerConfig::new(id);
    config.ghl_base_url = ghl.api_base.clone();
    config.idle = Duration::from_millis(20);
    Worker::new(
        app.store.clone(),
        config,
        TokenSource::new(app.store.clone(), Some(ghl), ahead),
    )
}

/// A `ghl.call` on `conn`, about the record `test:<key>`.
fn call_job(conn: &str, key: &str, op: &str, input: Value) -> NewJob {
    Job::from(GhlCall::new(conn, op, input, key).about(format!("test:{key}"))).into_new_job()
}

#[tokio::test]
async fn pit_connection_runs_calls_and_scopes_are_checked_before_any_call() {
    let app = spawn(SandboxConfig {
        contacts_per_location: 1,
        ..Default::default()
    })
    .await;
    let loc = app.location(0).id.clone();
    let conn = app
        .connect_ghl_pit(0, "contacts.readonly contacts.write")
        .await;
    app.store
        .enqueue(&call_job(
            &conn,
            "create",
            "create-contact",
            json!({"locationId": loc, "email": "worker@example.com"}),
        ))
        .await
        .unwrap();
    let stats = app.drain().await;
    assert_eq!(stats.done, 1);
    let created = app.sandbox.ghl().with_world(|world| {
        world.locations[0]
            .contacts
            .values()
            .any(|c| c.str_field("email") == Some("worker@example.com"))
    });
    assert!(created, "the contact exists in GHL");
    assert_eq!(
        app.store.run_log("test:create").await.unwrap()[0].outcome,
        "ok"
    );

    // A connection without the scope: refused before any request, naming both.
    assert_eq!(app.connect_ghl_pit(0, "contacts.readonly").await, conn);
    let before = app.sandbox.ghl().requests(&loc);
    app.store
        .enqueue(&call_job(
            &conn,
            "create2",
            "create-contact",
            json!({"locationId": loc, "email": "w2@example.com"}),
        ))
        .await
        .unwrap();
    app.drain().await;
    assert_eq!(
        app.sandbox.ghl().requests(&loc),
        before,
        "no request was made"
    );
    let dead = app.store.dead_letters(5).await.unwrap();
    let msg = dead[0].last_error.clone().unwrap();
    assert!(
        msg.contains("needs contacts.write")
            && msg.contains(&format!("connection {conn} has contacts.readonly")),
        "{msg}"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_workers_share_single_use_refresh_tokens_without_losing_one() {
    // Access tokens live 2 s; workers refresh when less than 1 s is left.
    let app = spawn(SandboxConfig {
        contacts_per_location: 3,
        access_token_ttl: Duration::from_secs(2),
        rate: sandbox::RateLimitConfig {
            max_per_window: 100_000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let conn = app.connect_ghl_oauth(0).await.remove(0);
    let loc = app.location(0).id.clone();
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut handles = Vec::new();
    for i in 0..4 {
        let w = worker(&app, &format!("w{i}"), Duration::from_secs(1));
        let rx = rx.clone();
        handles.push(tokio::spawn(async move { w.run(rx).await }));
    }
    // A steady stream of jobs for 7 s (3-4 token lifetimes).
    let started = std::time::Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(7) {
        app.store
            .enqueue(&call_job(
                &conn,
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
        if app.store.queue_stats().await.unwrap().done == i64::from(n) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tx.send(true).unwrap();
    let mut failed = 0;
    for h in handles {
        failed += h.await.unwrap().failed;
    }
    let stats = app.store.queue_stats().await.unwrap();
    let oauth = app.sandbox.ghl().oauth_counter();
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
        app.store.connection(&conn).await.unwrap().unwrap().status,
        ConnectionStatus::Active
    );
    app.shutdown().await;
}

#[tokio::test]
async fn revoked_refresh_token_holds_jobs_until_reconnect() {
    let app = spawn(SandboxConfig {
        contacts_per_location: 2,
        ..Default::default()
    })
    .await;
    let conn = app.connect_ghl_oauth(0).await.remove(0);
    let loc = app.location(0).id.clone();
    // GHL revokes every token, access and refresh.
    app.sandbox_control("/_sandbox/tokens/revoke-all", json!({}))
        .await;
    for i in 0..3 {
        app.store
            .enqueue(&call_job(
                &conn,
                &format!("j{i}"),
                "get-contacts",
                json!({"locationId": loc}),
            ))
            .await
            .unwrap();
    }
    app.drain().await;
    let status = app.store.connection(&conn).await.unwrap().unwrap();
    assert_eq!(status.status, ConnectionStatus::NeedsReauth);
    let reason = status.status_reason.unwrap();
    assert!(
        reason.contains("refresh token"),
        "the server's reason is kept: {reason}"
    );
    let stats = app.store.queue_stats().await.unwrap();
    assert_eq!(
        (stats.queued, stats.dead, stats.done),
        (3, 0, 0),
        "held, not lost: {stats:?}"
    );
    assert_eq!(
        app.drain().await.done,
        0,
        "nothing runs while it needs the user"
    );
    // The user reconnects.
    assert_eq!(app.connect_ghl_oauth(0).await, vec![conn]);
    assert_eq!(app.drain().await.done, 3);
    assert_eq!(app.store.queue_stats().await.unwrap().done, 3);
    app.shutdown().await;
}
