//! The intake under load (issue 9): signed GHL webhooks are answered before the
//! deadline while the worker drains a large backlog, and answered 429 (never dropped)
//! while the store cannot take a write; held connections cannot starve it.
//!
//! The heavy tests take one lock so that their latency figures are their own.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::{Backend, Spec, TestApp, spawn_app_with};

static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Lofty's largest batch.
const BATCH: usize = 5_000;

/// A Lofty delivery of `n` updated leads starting at `first`, each with its own
/// `updateTime` (so every change is a distinct job).
fn lofty_body(first: usize, n: usize) -> Vec<u8> {
    let leads: Vec<Value> = (first..first + n)
        .map(|i| json!({"leadId": i, "updateTime": 1_700_000_000_000_i64 + i as i64}))
        .collect();
    serde_json::to_vec(&json!({"listId": 2, "teamId": 1, "updatedLead": leads})).unwrap()
}

/// The Lofty connection's webhook URL.
async fn lofty_url(app: &TestApp) -> String {
    let conn = app.connect_lofty_key().await;
    let key = app.store.webhook_key(&conn).await.unwrap();
    format!("{}/webhooks/lofty/{}", app.address, store::expose(&key))
}

/// What the sender saw: per webhook, its id, status and latency.
#[derive(Debug, Default)]
struct Sent {
    answers: Vec<(String, u16, Duration)>,
}

impl Sent {
    fn latencies(&self) -> Vec<Duration> {
        let mut l: Vec<Duration> = self.answers.iter().map(|a| a.2).collect();
        l.sort();
        l
    }
    fn percentile(&self, p: f64) -> Duration {
        let l = self.latencies();
        if l.is_empty() {
            return Duration::ZERO;
        }
        let i = ((l.len() as f64 - 1.0) * p).round() as usize;
        l[i]
    }
    fn print(&self, label: &str) {
        eprintln!(
            "{label}: {} webhooks, p50 {:?}, p99 {:?}, max {:?}",
            self.answers.len(),
            self.percentile(0.5),
            self.percentile(0.99),
            self.latencies().last().copied().unwrap_or_default()
        );
    }
}

/// A signed `ContactCreate` with webhook id `id`.
fn contact_create(app: &TestApp, id: &str) -> Value {
    json!({
        "type": "ContactCreate",
        "locationId": app.location(0).id,
        "id": format!("c-{id}"),
        "email": format!("{id}@example.com"),
        "webhookId": id,
        "timestamp": "2026-12-01T00:00:00.000Z",
    })
}

/// Posts a signed webhook every `every` until `done` says stop; each is sent in its
/// own task (a slow answer does not delay the next), with GHL's 10 s timeout.
async fn send_until(
    app: &TestApp,
    prefix: &str,
    every: Duration,
    mut done: impl AsyncFnMut() -> bool,
) -> Sent {
    let mut tasks = Vec::new();
    let mut n = 0;
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if done().await {
            break;
        }
        n += 1;
        let id = format!("{prefix}-{n}");
        let body = contact_create(app, &id);
        let post = app.signed_ghl_webhook(&body);
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let status = match post.timeout(Duration::from_secs(10)).send().await {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            };
            (id, status, started.elapsed())
        }));
    }
    let mut sent = Sent::default();
    for t in tasks {
        sent.answers.push(t.await.unwrap());
    }
    sent
}

async fn backlog_drain_leaves_the_intake_fast(backend: Backend) {
    let _heavy = HEAVY.lock().await;
    let Some(app) = spawn_app_with(Spec::default().on(backend)).await else {
        eprintln!("skipped: PostgreSQL is not available (set GHLSYNC_DATABASE_URL)");
        return;
    };
    app.stop_ghl_webhooks().await;
    let url = lofty_url(&app).await;
    for d in 0..10 {
        let resp = app
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(lofty_body(d * BATCH, BATCH))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = app.worker.clone();
    let started = Instant::now();
    let running = tokio::spawn(async move { worker.run(stopped).await });
    let store = app.store.clone();
    let deadline = app.config.intake.ghl_deadline();
    let sent = send_until(&app, "backlog", Duration::from_millis(100), async || {
        let s = store.queue_stats().await.unwrap();
        s.done >= (10 * BATCH) as i64 && s.queued + s.running == 0
    })
    .await;
    let drained = started.elapsed();
    let _ = stop.send(true);
    running.await.unwrap();
    let stats = app.store.queue_stats().await.unwrap();
    eprintln!(
        "{backend:?}: drained {} jobs in {drained:?} ({:.0} jobs/s)",
        stats.done,
        stats.done as f64 / drained.as_secs_f64()
    );
    sent.print(&format!("{backend:?}: intake while draining"));
    assert!(stats.done >= (10 * BATCH) as i64, "{stats:?}");
    assert!(sent.answers.len() >= 10, "the drain outlasted a second");
    for (id, status, took) in &sent.answers {
        assert_eq!(
            *status, 200,
            "webhook {id} answered {status} after {took:?}"
        );
        assert!(
            *took < deadline,
            "webhook {id} took {took:?}, over the {deadline:?} deadline"
        );
        assert!(
            app.store.event_body("ghl", id).await.unwrap().is_some(),
            "webhook {id} was answered 200 but not journaled"
        );
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_intake_answers_before_the_deadline_while_50k_jobs_drain() {
    backlog_drain_leaves_the_intake_fast(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_intake_answers_before_the_deadline_while_50k_jobs_drain() {
    backlog_drain_leaves_the_intake_fast(Backend::Postgres).await;
}
