//! Lofty reads per changed lead (issue 10, item 8). Lofty has no "updated since"
//! filter and no bulk get: a delivery names leads by id, and each costs one GET,
//! unless one walk over every lead in pages of 100 costs less. With 5,000 leads
//! known, a batch of 1,000 changes is read by a walk of 50 pages; a batch of 10 is
//! read one lead at a time. The figures are counted by the Lofty sandbox and
//! printed; the test asserts them, and that every changed lead was run.

use std::collections::HashSet;
use std::time::Duration;

use domain::sync::Side;
use engine::sync::backfill;
use serde_json::{Value, json};
use testkit::{Backend, Spec, TestApp};

const LEADS: usize = 5_000;
const BATCH: usize = 1_000;
const SMALL: usize = 10;

/// Lofty requests answered (a 429 under the real limits of a soak run is not a read).
async fn lofty_requests(app: &TestApp) -> u64 {
    let lofty = app.sandbox.lofty();
    lofty.requests("total") - lofty.rate_limited("total")
}

/// Posts one delivery of `ids` (an update time each, later than anything stored)
/// and drains; returns the Lofty requests it cost.
async fn deliver(app: &TestApp, url: &str, ids: &[String], at: i64) -> u64 {
    let changes: Vec<Value> = ids
        .iter()
        .map(|id| json!({"leadId": id.parse::<i64>().unwrap(), "updateTime": at}))
        .collect();
    let body =
        serde_json::to_vec(&json!({"listId": 2, "teamId": 1, "updatedLead": changes})).unwrap();
    let before = lofty_requests(app).await;
    let resp = app.post_json(url, body).await;
    assert_eq!(resp.status(), 200);
    // Under the real limits (a soak run) reads wait for Lofty's window.
    app.drain_all(Duration::from_secs(60) * testkit::soak_factor())
        .await;
    lofty_requests(app).await - before
}

async fn reads_per_changed_lead(backend: Backend) {
    let mut spec = Spec::default().on(backend);
    if !testkit::soak() {
        spec.sandbox.rate.max_per_window = 1_000_000;
    }
    let Some(app) =
        testkit::spawn_app_configured(spec, |c| c.worker.reconcile_every_secs = Some(0)).await
    else {
        eprintln!("skipped: PostgreSQL is not available (set GHLSYNC_DATABASE_URL)");
        return;
    };
    let lofty_base = app.sandbox.info().lofty.base_url.clone();
    if !testkit::soak() {
        app.sandbox
            .lofty()
            .set_rate(Duration::from_secs(60), 1_000_000, 1_000_000);
    }
    let have = app.sandbox.lofty().with_world(|w| w.leads.len());
    let seeded: Value = app
        .http
        .post(format!("{lofty_base}/_sandbox/seed"))
        .json(&json!({"leads": LEADS - have}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seeded["leads"], LEADS, "{seeded}");

    // The recipe, matching only (nothing is created on either side), its Lofty
    // side indexed as a backfill does.
    let ghl = app
        .connect_ghl_pit(0, "contacts.readonly contacts.write")
        .await;
    let lofty = app.connect_lofty_key().await;
    app.drain().await;
    let text = domain::sync::recipes::source("lofty-ghl-contacts")
        .unwrap()
        .replace("on_none = \"create\"", "on_none = \"skip\"");
    assert!(text.contains("on_none = \"skip\""));
    let row = engine::sync::enable(app.connectors(), &text, &ghl, &lofty)
        .await
        .unwrap();
    let flow = engine::sync::enabled_flows(&app.store)
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.row.id == row.id)
        .unwrap();
    let indexed = backfill::index_side(app.connectors(), &flow, Side::Right, |_| {})
        .await
        .unwrap();
    assert_eq!(indexed as usize, LEADS);
    let ids = app
        .store
        .record_ids(&flow.row.id, "right", "", LEADS as i64)
        .await
        .unwrap();
    assert_eq!(ids.len(), LEADS);
    let url = app.lofty_webhook_url().await;
    app.drain().await;
    let at = app.store.now() + 60_000;

    // A batch of 1,000 changes among 5,000 leads: one walk.
    let batch: Vec<String> = ids.iter().step_by(LEADS / BATCH).cloned().collect();
    assert_eq!(batch.len(), BATCH);
    let walked = deliver(&app, &url, &batch, at).await;
    // A batch of 10: one read each.
    let small: Vec<String> = ids.iter().skip(1).step_by(LEADS / SMALL).cloned().collect();
    assert_eq!(small.len(), SMALL);
    let one_by_one = deliver(&app, &url, &small, at).await;

    println!(
        "{backend:?}: Lofty reads per changed lead: {BATCH} changes among {LEADS} leads: {walked} reads ({:.3} per lead, by a walk); {SMALL} changes: {one_by_one} reads ({:.2} per lead, one GET each)",
        walked as f64 / BATCH as f64,
        one_by_one as f64 / SMALL as f64,
    );
    assert_eq!(
        walked as usize,
        LEADS / 100,
        "a walk of 5,000 leads in pages of 100"
    );
    assert_eq!(
        one_by_one as usize, SMALL,
        "a small batch: one GET per lead"
    );

    // Every changed lead was run by the flow (with no match and on_none = skip, its
    // history says so).
    let mut ran = HashSet::new();
    for h in app.store.runs(&flow.row.id, 20_000).await.unwrap() {
        if let Some(id) = h.source.strip_prefix("lofty:lead:") {
            ran.insert(id.to_owned());
        }
    }
    for id in batch.iter().chain(&small) {
        assert!(ran.contains(id), "lead {id} was not run");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_big_lofty_batch_is_read_by_one_walk() {
    reads_per_changed_lead(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_big_lofty_batch_is_read_by_one_walk() {
    reads_per_changed_lead(Backend::Postgres).await;
}
