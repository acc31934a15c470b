//! The rate governor under a compressed GHL window: 100 requests per second.
//!
//! 300 concurrent `get_contact` calls must all succeed with zero 429s when the client
//! is governed, and must take at least two windows (the pacing happened). The same
//! load without the governor gets 429s, which shows the test can fail.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream;
use ghl::{GhlClient, GhlError, Governor, RetryClass};
use sandbox::RateLimitConfig;
use serde_json::json;

use crate::helpers::{Ctx, config, spawn_with};

const WINDOW: Duration = Duration::from_millis(1_000);
const MAX_PER_WINDOW: u32 = 100;
const REQUESTS: usize = 300;
const CONCURRENCY: usize = 20;

async fn limited() -> Ctx {
    let mut cfg = config();
    cfg.rate = RateLimitConfig {
        window: WINDOW,
        max_per_window: MAX_PER_WINDOW,
        daily: 1_000_000,
    };
    spawn_with(cfg).await
}

/// Runs the load; returns (successes, 429s, other errors, elapsed).
async fn hammer(client: &GhlClient, contact_id: &str) -> (usize, usize, usize, Duration) {
    let started = Instant::now();
    let results: Vec<_> = stream::iter(0..REQUESTS)
        .map(|_| client.get_contact(contact_id))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let limited = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter(|e| e.status() == Some(429))
        .inspect(|e| assert!(matches!(e.retry_class(), RetryClass::RetryAfter(_))))
        .count();
    (ok, limited, REQUESTS - ok - limited, elapsed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governed_client_gets_no_429_and_is_paced() {
    let ctx = limited().await;
    let contact = ctx.contact_ids(&ctx.a.id)[0].clone();
    let governor = Arc::new(Governor::new());
    let client = ctx.client.clone().with_governor(Arc::clone(&governor));
    ctx.delete("/_sandbox/counters").await;

    let (ok, limited, other, elapsed) = hammer(&client, &contact).await;
    assert_eq!((ok, limited, other), (REQUESTS, 0, 0), "after {elapsed:?}");
    let counter = ctx.counter(&ctx.a.id).await;
    assert_eq!(counter["requests"], json!(REQUESTS));
    assert_eq!(counter["rate_limited"], json!(0));
    // 300 requests at 100 per window need at least two full windows.
    assert!(elapsed >= 2 * WINDOW, "not paced: {elapsed:?}");
    assert!(elapsed < 10 * WINDOW, "paced far too slowly: {elapsed:?}");
    // It learned the sandbox's limits from the headers.
    let snap = governor.snapshot(&ctx.a.id).expect("key seen");
    assert_eq!(snap.max, MAX_PER_WINDOW);
    assert_eq!(snap.interval, WINDOW);
    ctx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ungoverned_client_gets_429s() {
    let ctx = limited().await;
    let contact = ctx.contact_ids(&ctx.a.id)[0].clone();
    ctx.delete("/_sandbox/counters").await;

    let (ok, limited, other, elapsed) = hammer(&ctx.client, &contact).await;
    assert_eq!(other, 0);
    assert!(
        limited > 0,
        "no 429 without the governor ({ok} ok in {elapsed:?})"
    );
    assert_eq!(ok + limited, REQUESTS);
    let counter = ctx.counter(&ctx.a.id).await;
    assert_eq!(counter["rate_limited"], json!(limited));
    ctx.shutdown().await;
}

/// `X-RateLimit-Daily-Remaining: 0` makes the governor refuse locally (nothing is sent)
/// with a long RetryAfter; an ungoverned client would get the sandbox's 429.
#[tokio::test]
async fn spent_daily_budget_is_refused_locally() {
    let mut cfg = config();
    cfg.rate = RateLimitConfig {
        window: Duration::from_secs(10),
        max_per_window: 100,
        daily: 3,
    };
    let ctx = spawn_with(cfg).await;
    let contact = ctx.contact_ids(&ctx.a.id)[0].clone();
    let governor = Arc::new(Governor::new());
    let client = ctx.client.clone().with_governor(Arc::clone(&governor));
    for _ in 0..3 {
        client.get_contact(&contact).await.unwrap();
    }
    let err = client.get_contact(&contact).await.unwrap_err();
    assert!(matches!(err, GhlError::RateLimited { .. }), "{err:?}");
    assert!(
        matches!(err.retry_class(), RetryClass::RetryAfter(d) if d > Duration::from_secs(60)),
        "{:?}",
        err.retry_class()
    );
    let snap = governor.snapshot(&ctx.a.id).unwrap();
    assert!(snap.daily_blocked_for.is_some());
    assert_eq!(snap.last_headers.daily_remaining, Some(0));
    let counter = ctx.counter(&ctx.a.id).await;
    assert_eq!(
        counter["requests"],
        json!(3),
        "the refused call was not sent"
    );
    assert_eq!(counter["rate_limited"], json!(0));

    let err = ctx.client.get_contact(&contact).await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.api().unwrap().rate_limit.daily_remaining, Some(0));
    ctx.shutdown().await;
}
