//! The main API errors as the client surfaces them, with their retry classes.

use std::time::Duration;

use lytho::{LythoClient, LythoConfig, LythoError, RetryClass};
use secrecy::SecretString;
use serde_json::json;
use url::Url;

use crate::helpers::{assert_api_error, spawn};

#[tokio::test]
async fn not_found_is_give_up() {
    let ctx = spawn().await;
    let err = ctx.client.get_task(123).await.unwrap_err();
    assert_api_error(&err, 404, RetryClass::GiveUp, "Task 123 was not found.");
    assert!(err.is_not_found());
    assert_eq!(err.api().unwrap().code.as_deref(), Some("NotFound"));
    assert_eq!(
        err.to_string(),
        "Lytho 404 Not Found: Task 123 was not found. (operation lytho-get-task)"
    );
    for err in [
        ctx.client.task_users(123).await.unwrap_err(),
        ctx.client
            .work_request_comments(123, &Default::default())
            .await
            .unwrap_err(),
        ctx.client
            .campaign_description(123, None)
            .await
            .unwrap_err(),
        ctx.client.proof_files(123).await.unwrap_err(),
    ] {
        assert!(err.is_not_found(), "{err}");
    }
    ctx.shutdown().await;
}

/// Lytho takes only 10, 20 or 30 as `pageSize`; the typed API cannot send
/// anything else, `call` can, and gets Lytho's 400.
#[tokio::test]
async fn invalid_page_size_is_400() {
    let ctx = spawn().await;
    let ids = ctx.ids("task");
    let err = ctx
        .client
        .call("lytho-get-tasks", json!({"ids": &ids[..3], "pageSize": 15}))
        .await
        .unwrap_err();
    assert_api_error(
        &err,
        400,
        RetryClass::GiveUp,
        "The value '15' is not valid for pageSize. Allowed values: 10, 20, 30.",
    );
    for (input, message) in [
        (json!({"ids": &ids[..3], "page": 0}), "not valid for page"),
        (json!({"ids": []}), "The ids field is required."),
        (json!({"ids": ["x"]}), "not valid for ids"),
    ] {
        let err = ctx.client.call("lytho-get-tasks", input).await.unwrap_err();
        assert_api_error(&err, 400, RetryClass::GiveUp, message);
    }
    let err = ctx
        .client
        .call(
            "lytho-get-task-comments",
            json!({"id": ids[0], "pageSize": 50}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    let err = ctx
        .client
        .call("lytho-search-tasks", json!({"operatorMode": 3}))
        .await
        .unwrap_err();
    assert_api_error(&err, 400, RetryClass::GiveUp, "operatorMode");
    let err = ctx
        .client
        .call("lytho-get-task", json!({"id": "abc"}))
        .await
        .unwrap_err();
    assert_api_error(&err, 400, RetryClass::GiveUp, "not valid for id");
    ctx.shutdown().await;
}

/// A 429 storm: the answer carries `Retry-After` and `X-RateLimit-*`, the retry
/// class says how long to wait, and the next call after the storm succeeds.
#[tokio::test]
async fn rate_limited_429_with_headers() {
    let ctx = spawn().await;
    let id = ctx.ids("task")[0];
    ctx.post("/_sandbox/faults", json!({"storm_429": 2})).await;
    for _ in 0..2 {
        let err = ctx.client.get_task(id).await.unwrap_err();
        assert_eq!(err.status(), Some(429));
        let api = err.api().unwrap();
        let wait = api.retry_after.expect("Retry-After");
        assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(60));
        assert_eq!(err.retry_class(), RetryClass::RetryAfter(wait));
        assert_eq!(api.rate_limit.limit, Some(600));
        assert!(api.rate_limit.remaining.is_some() && api.rate_limit.reset_secs.is_some());
        assert_eq!(api.message, "Too Many Requests");
    }
    assert_eq!(ctx.client.get_task(id).await.unwrap().id, id);

    // A real limit: 3 requests per window, the 4th is refused until it ends.
    ctx.post(
        "/_sandbox/config",
        json!({"rate_max": 3, "rate_window_ms": 60_000}),
    )
    .await;
    for _ in 0..3 {
        ctx.client.get_task(id).await.unwrap();
    }
    let err = ctx.client.get_task(id).await.unwrap_err();
    let api = err.api().unwrap();
    assert_eq!(
        (api.status, api.rate_limit.limit, api.rate_limit.remaining),
        (429, Some(3), Some(0))
    );
    assert!(matches!(err.retry_class(), RetryClass::RetryAfter(d) if d > Duration::from_secs(50)));
    assert_eq!(ctx.counters().await["rate_limited"], 3);
    ctx.shutdown().await;
}

/// Server errors and timeouts are retried later; unknown operations are input
/// errors.
#[tokio::test]
async fn server_errors_timeouts_and_bad_input() {
    let ctx = spawn().await;
    let id = ctx.ids("task")[0];
    ctx.client.get_task(id).await.unwrap();
    ctx.post("/_sandbox/faults", json!({"error_rate": 1.0}))
        .await;
    let err = ctx.client.get_task(id).await.unwrap_err();
    assert_api_error(&err, 500, RetryClass::Retry, "unexpected error");
    ctx.delete("/_sandbox/faults").await;

    ctx.post("/_sandbox/faults", json!({"latency_ms": 400}))
        .await;
    let slow = LythoClient::new(
        LythoConfig::with_urls(
            Url::parse(&ctx.info.base_url).unwrap(),
            Url::parse(&ctx.info.token_url).unwrap(),
            ctx.info.client_id.clone(),
            SecretString::from(ctx.info.client_secret.clone()),
        )
        .with_timeout(Duration::from_millis(100)),
    )
    .unwrap();
    let err = slow.get_task(id).await.unwrap_err();
    assert!(
        matches!(&err, LythoError::Transport(t) if t.is_timeout()),
        "{err:?}"
    );
    assert_eq!(err.retry_class(), RetryClass::Retry);
    ctx.delete("/_sandbox/faults").await;

    let err = ctx
        .client
        .call("lytho-create-task", json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, LythoError::InvalidInput(_)));
    assert_eq!(err.retry_class(), RetryClass::GiveUp);
    let err = ctx
        .client
        .call("lytho-get-task", json!({"id": id, "extra": 1}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown input keys extra"),
        "{err}"
    );
    ctx.shutdown().await;
}
