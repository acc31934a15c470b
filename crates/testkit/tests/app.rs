//! The test kit's own checks, and what only a whole application shows: with port 0
//! every address the app hands out is the bound one, so the sandbox's signed
//! webhooks reach the intake; connecting and calling through the worker works.

use engine::jobs::{GhlCall, Job};
use serde_json::json;
use testkit::{Backend, Spec, spawn_app, spawn_app_with};

#[tokio::test]
async fn port_zero_app_receives_the_sandboxes_webhooks_and_runs_calls() {
    let app = spawn_app().await;
    assert!(
        !app.address.ends_with(":0"),
        "bound address: {}",
        app.address
    );
    assert_eq!(app.config.public_url(), app.address);
    let conn = app
        .connect_ghl_pit(0, "contacts.readonly contacts.write")
        .await;
    let loc = app.location(0).id.clone();

    // A contact created in the sandbox: GHL's signed ContactCreate reaches our intake.
    let before = app.store.count_events().await.unwrap();
    let job = Job::from(
        GhlCall::new(
            &conn,
            "create-contact",
            json!({"locationId": loc, "email": "port.zero@example.com", "firstName": "Port"}),
            "port-zero-1",
        )
        .about("test:port-zero"),
    );
    app.store.enqueue(&job.into_new_job()).await.unwrap();
    let stats = app.drain().await;
    // The call, and maybe already the ContactCreate it caused (it races the drain).
    assert!(stats.done >= 1 && stats.failed == 0, "{stats:?}");
    let log = app.store.run_log("test:port-zero").await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].kind, "ghl.call");
    assert_eq!(log[0].outcome, "ok");
    let mut waited = 0;
    while app.store.count_events().await.unwrap() == before {
        assert!(
            waited < 100,
            "the sandbox's webhook never reached the intake"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    app.shutdown().await;
}

#[tokio::test]
async fn helpers_connect_every_system_and_post_signed_webhooks() {
    let app = spawn_app().await;
    let ids = app.connect_ghl_oauth(1).await;
    assert_eq!(ids, vec![format!("ghl:{}", app.location(1).id)]);
    let lofty = app.connect_lofty_key().await;
    let lytho = app.connect_lytho().await;
    for id in [&ids[0], &lofty, &lytho] {
        let health = app.connectors().healthcheck(id).await;
        assert!(health.ok, "{id}: {}", health.detail);
    }
    // Connections are named after the account, and a name opens them too.
    let named = app.store.connection(&lofty).await.unwrap().unwrap();
    assert!(named.name.starts_with("Lofty "), "{}", named.name);
    assert!(app.connectors().healthcheck(&named.name).await.ok);

    let body =
        json!({"type": "ContactCreate", "webhookId": "kit-1", "locationId": app.location(1).id});
    let first = app.post_ghl_webhook(&body).await;
    assert_eq!(first.status(), 200);
    let again = app.post_ghl_webhook(&body).await;
    assert_eq!(again.status(), 409, "a replayed webhookId is refused");
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["status"], "duplicate");
    app.shutdown().await;
}

#[tokio::test]
async fn postgres_apps_share_nothing_with_other_tests() {
    let Some(app) = spawn_app_with(Spec::default().on(Backend::Postgres)).await else {
        return;
    };
    assert_eq!(app.store.backend_name(), "postgres");
    let conn = app.connect_ghl_pit(0, "contacts.readonly").await;
    assert_eq!(app.store.connections().await.unwrap().len(), 1, "{conn}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_job_row_nobody_can_read_is_dead_lettered_with_what_is_wrong() {
    let app = spawn_app().await;
    for (kind, key, payload) in [
        ("ghl.cal", "bad-kind", json!({})),
        ("ghl.call", "bad-payload", json!({"op": "get-contacts"})),
    ] {
        app.store
            .enqueue(&store::NewJob::new(kind, key, payload))
            .await
            .unwrap();
    }
    let stats = app.drain().await;
    assert_eq!((stats.done, stats.failed), (0, 2));
    let dead = app.store.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 2, "{dead:?}");
    let error_of = |key: &str| {
        dead.iter()
            .find(|j| j.idempotency_key == key)
            .and_then(|j| j.last_error.clone())
            .unwrap_or_default()
    };
    assert!(
        error_of("bad-kind").contains("unknown job kind `ghl.cal`"),
        "{}",
        error_of("bad-kind")
    );
    let payload = error_of("bad-payload");
    assert!(
        payload.contains("the payload of this ghl.call job is invalid")
            && payload.contains("missing field"),
        "{payload}"
    );
    app.shutdown().await;
}
