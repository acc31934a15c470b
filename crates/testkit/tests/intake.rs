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
    let url = app.lofty_webhook_url().await;
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

async fn blocked_writes_are_answered_429_then_journaled_once(backend: Backend) {
    let _heavy = HEAVY.lock().await;
    let Some(app) = spawn_app_with(Spec::default().on(backend)).await else {
        eprintln!("skipped: PostgreSQL is not available (set GHLSYNC_DATABASE_URL)");
        return;
    };
    app.stop_ghl_webhooks().await;
    let deadline = app.config.intake.ghl_deadline();
    let warm = app.post_ghl_webhook(&contact_create(&app, "warm-1")).await;
    assert_eq!(warm.status(), 200);
    let events_before = app.store.count_events().await.unwrap();

    // The write path is held for 15 s, as another process holding the lock would.
    let hold = Duration::from_secs(15);
    let store = app.store.clone();
    let blocker = tokio::spawn(async move { store.hold_writes(hold).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let blocked_at = Instant::now();

    // Readiness names the journal.
    let ready = app
        .http
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["not_ready"], json!(["journal"]), "{ready}");
    assert!(
        ready["journal"]["error"]
            .as_str()
            .unwrap()
            .contains("cannot journal a delivery within"),
        "{ready}"
    );

    // One answer read whole: a 429 with Retry-After.
    let one = app
        .post_ghl_webhook(&contact_create(&app, "blocked-0"))
        .await;
    assert_eq!(one.status(), 429);
    assert!(one.headers().get("retry-after").is_some(), "{one:?}");

    // Every webhook sent while it is held is answered 429 within the deadline.
    let stop_at = blocked_at + hold - Duration::from_secs(deadline.as_secs() + 2);
    let sent = send_until(&app, "blocked", Duration::from_millis(250), async || {
        Instant::now() >= stop_at
    })
    .await;
    sent.print(&format!("{backend:?}: intake while the store is blocked"));
    assert!(sent.answers.len() >= 10, "{}", sent.answers.len());
    for (id, status, took) in &sent.answers {
        assert_eq!(
            *status, 429,
            "webhook {id} answered {status} after {took:?}"
        );
        assert!(
            *took < deadline + Duration::from_millis(750),
            "webhook {id}: 429 after {took:?}, not within the {deadline:?} deadline"
        );
    }
    blocker.await.unwrap().unwrap();

    // GHL retries each 429: every retry is journaled once. A 429's entry may have
    // committed after its deadline; its retry is then a duplicate (409), else 200.
    let mut ids: Vec<String> = sent.answers.iter().map(|a| a.0.clone()).collect();
    ids.push("blocked-0".to_owned());
    for id in &ids {
        let retry = app.post_ghl_webhook(&contact_create(&app, id)).await;
        let status = retry.status().as_u16();
        assert!(status == 200 || status == 409, "retry of {id}: {status}");
        assert!(app.store.event_body("ghl", id).await.unwrap().is_some());
    }
    assert_eq!(
        app.store.count_events().await.unwrap() - events_before,
        ids.len() as i64,
        "each webhook journaled exactly once"
    );
    let ready = app
        .http
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_blocked_store_answers_429_within_the_deadline() {
    blocked_writes_are_answered_429_then_journaled_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_blocked_store_answers_429_within_the_deadline() {
    blocked_writes_are_answered_429_then_journaled_once(Backend::Postgres).await;
}

/// Reads from `s` until the server closes it; `Err` when it stays open past `wait`.
async fn closed_within(s: &mut tokio::net::TcpStream, wait: Duration) -> Result<(), ()> {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    let until = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(until, s.read(&mut buf)).await {
            Err(_) => return Err(()),
            Ok(Ok(0) | Err(_)) => return Ok(()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn held_connections_cannot_stop_a_webhook_and_are_shed() {
    use tokio::io::AsyncWriteExt;
    let _heavy = HEAVY.lock().await;
    let header_timeout = Duration::from_secs(2);
    let app = testkit::spawn_app_configured(Spec::default(), |c| {
        c.server.header_timeout_secs = Some(header_timeout.as_secs());
    })
    .await
    .unwrap();
    app.stop_ghl_webhooks().await;
    let addr = app.address.trim_start_matches("http://").to_owned();

    // 500 connections that never finish their header.
    let mut held = Vec::new();
    for _ in 0..500 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"POST /webhooks/ghl HTTP/1.1\r\nHost: ghlsync\r\nContent-Ty")
            .await
            .unwrap();
        held.push(s);
    }
    let opened = Instant::now();
    // And one idle kept-alive connection after a finished request.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: ghlsync\r\n\r\n")
        .await
        .unwrap();

    let started = Instant::now();
    let health = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let hook = app
        .post_ghl_webhook(&contact_create(&app, "beside-held"))
        .await;
    assert_eq!(hook.status(), 200, "{}", hook.text().await.unwrap());
    eprintln!(
        "with 500 held connections: /healthz and a signed webhook answered in {:?}",
        started.elapsed()
    );
    assert!(
        app.store
            .event_body("ghl", "beside-held")
            .await
            .unwrap()
            .is_some()
    );

    // The server closes every held connection within the header timeout.
    let slack = Duration::from_secs(3);
    let mut open = 0;
    for s in &mut held {
        if closed_within(
            s,
            (opened + header_timeout + slack).saturating_duration_since(Instant::now()),
        )
        .await
        .is_err()
        {
            open += 1;
        }
    }
    let shed = opened.elapsed();
    eprintln!("500 held connections closed by the server {shed:?} after they opened");
    assert_eq!(open, 0, "{open} held connections still open after {shed:?}");
    assert!(
        closed_within(&mut idle, header_timeout + slack)
            .await
            .is_ok(),
        "the idle keep-alive connection stayed open"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_without_update_time_are_one_job_per_record_and_window() {
    let app = testkit::spawn_app_configured(Spec::default(), |c| {
        // A long window, closed by moving the store's clock: no race with a slow drain.
        c.intake.lofty_dedupe_window_secs = Some(60);
    })
    .await
    .unwrap();
    app.stop_ghl_webhooks().await;
    let url = app.lofty_webhook_url().await;
    app.drain().await;
    let sql = "SELECT COUNT(*) FROM jobs WHERE kind = 'lofty.change'";
    // Repeats within a delivery and across two deliveries: records 1..4, once each.
    let first = app
        .post_json(&url, br#"{"listId":2,"updatedLead":[1,2,2,3]}"#.to_vec())
        .await;
    assert_eq!(first.status(), 200);
    let second = app
        .post_json(
            &url,
            br#"{"listId":2,"updatedLead":[3,{"leadId":4}]}"#.to_vec(),
        )
        .await;
    assert_eq!(second.status(), 200);
    app.drain().await;
    assert_eq!(app.store.scalar_i64(sql).await.unwrap(), 4);
    // They run when the window closes (so they see every change of the window).
    assert_eq!(
        app.store
            .scalar_i64(
                "SELECT COUNT(*) FROM jobs WHERE kind = 'lofty.change' AND status = 'queued'"
            )
            .await
            .unwrap(),
        4,
        "waiting for the window to close"
    );
    app.store.advance_clock(Duration::from_secs(61));
    let stats = app.drain().await;
    assert_eq!(stats.done, 4, "{stats:?}");
    // A later window is a new job for the same record.
    let third = app
        .post_json(&url, br#"{"listId":2,"updatedLead":[1]}"#.to_vec())
        .await;
    assert_eq!(third.status(), 200);
    app.drain().await;
    assert_eq!(app.store.scalar_i64(sql).await.unwrap(), 5);
    app.shutdown().await;
}
