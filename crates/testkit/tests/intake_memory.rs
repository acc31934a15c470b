//! One delivery, bounded work (issue 9): a 200,000-change Lofty delivery is refused
//! with a 413 naming the cap; ten deliveries of 5,000 (Lofty's largest) in a row are
//! taken with memory growth under 64 MB (from a process that has taken one such
//! delivery already) while GHL webhooks are answered before the deadline.
//!
//! Its own test binary with one test: the process's peak RSS is this test's alone.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::{Backend, Spec, spawn_app_configured};

/// Lofty's largest batch.
const BATCH: usize = 5_000;

/// `VmRSS` or `VmHWM` (peak) of this process, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn bounded_work(backend: Backend) {
    let Some(app) = spawn_app_configured(Spec::default().on(backend), |_| {}).await else {
        eprintln!("skipped: PostgreSQL is not available (set GHLSYNC_DATABASE_URL)");
        return;
    };
    app.stop_ghl_webhooks().await;
    let url = app.lofty_webhook_url().await;
    let deadline = app.config.intake.ghl_deadline();
    // One delivery first, drained: what the process allocates once (connection
    // pools and their page and statement caches, runtime, TLS) is not growth
    // from the deliveries measured below (it was counted for whichever backend
    // ran first).
    let warm: Vec<Value> = (10 * BATCH..11 * BATCH)
        .map(|i| json!({"leadId": i, "updateTime": 1_700_000_000_000_i64 + i as i64}))
        .collect();
    let resp = app
        .post_json(
            &url,
            serde_json::to_vec(&json!({"listId": 2, "updatedLead": warm})).unwrap(),
        )
        .await;
    assert_eq!(resp.status(), 200);
    app.drain().await;
    // Peak RSS from here (Linux: writing 5 to clear_refs resets VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kib("VmRSS:");

    // 200,000 bare ids (1.26 MB): over the cap, refused, nothing journaled.
    let events = app.store.count_events().await.unwrap();
    let ids: Vec<usize> = (0..200_000).collect();
    let huge = serde_json::to_vec(&json!({"listId": 2, "updatedLead": ids})).unwrap();
    eprintln!(
        "{backend:?}: a delivery of 200,000 ids, {} bytes",
        huge.len()
    );
    let refused = app.post_json(&url, huge).await;
    assert_eq!(refused.status(), 413);
    let text = refused.text().await.unwrap();
    assert!(
        text.contains("200000 changes")
            && text.contains("10000")
            && text.contains("intake.lofty_max_changes"),
        "{text}"
    );
    assert_eq!(app.store.count_events().await.unwrap(), events);
    eprintln!(
        "{backend:?}: after the refusal: RSS {} MB, peak {} MB",
        status_kib("VmRSS:") / 1024,
        status_kib("VmHWM:") / 1024
    );

    // Ten deliveries of 5,000, in a row, with the worker draining and a signed GHL
    // webhook every 100 ms.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = app.worker.clone();
    let running = tokio::spawn(async move { worker.run(stopped).await });
    let mut answers: Vec<(u16, Duration)> = Vec::new();
    let mut hooks = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut delivered = 0;
    let mut n = 0;
    loop {
        tick.tick().await;
        n += 1;
        let body = json!({"type": "ContactCreate", "locationId": app.location(0).id,
            "id": format!("m-{n}"), "webhookId": format!("mem-{n}")});
        let req = app.signed_ghl_webhook(&body);
        hooks.push(tokio::spawn(async move {
            let t = Instant::now();
            let s = req
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .map_or(0, |r| r.status().as_u16());
            (s, t.elapsed())
        }));
        if delivered < 10 {
            let leads: Vec<Value> = (delivered * BATCH..(delivered + 1) * BATCH)
                .map(|i| json!({"leadId": i, "updateTime": 1_700_000_000_000_i64 + i as i64}))
                .collect();
            let body = serde_json::to_vec(&json!({"listId": 2, "updatedLead": leads})).unwrap();
            let resp = app.post_json(&url, body).await;
            assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
            delivered += 1;
        } else {
            let s = app.store.queue_stats().await.unwrap();
            if s.queued + s.running == 0 {
                break;
            }
        }
    }
    let _ = stop.send(true);
    running.await.unwrap();
    for h in hooks {
        answers.push(h.await.unwrap());
    }
    let peak = status_kib("VmHWM:");
    let growth_mb = peak.saturating_sub(before) as f64 / 1024.0;
    let changes = app
        .store
        .scalar_i64("SELECT COUNT(*) FROM jobs WHERE kind = 'lofty.change' AND status = 'done'")
        .await
        .unwrap();
    let mut lat: Vec<Duration> = answers.iter().map(|a| a.1).collect();
    lat.sort();
    eprintln!(
        "{backend:?}: RSS before {} MB, peak {} MB, growth {growth_mb:.1} MB; {changes} change jobs; {} GHL webhooks meanwhile, p50 {:?}, max {:?}",
        before / 1024,
        peak / 1024,
        answers.len(),
        lat[lat.len() / 2],
        lat[lat.len() - 1]
    );
    assert_eq!(changes, (11 * BATCH) as i64, "the warm-up and the ten");
    assert!(growth_mb < 64.0, "memory grew {growth_mb:.1} MB");
    for (status, took) in &answers {
        assert_eq!(*status, 200, "after {took:?}");
        assert!(*took < deadline, "{took:?}");
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_lofty_delivery_is_bounded_work_on_both_backends() {
    bounded_work(Backend::Sqlite).await;
    bounded_work(Backend::Postgres).await;
}
