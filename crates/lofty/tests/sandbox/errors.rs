//! Credentials, Content-Type, rate limits, faults and permissions: what Lofty answers
//! and which retry class the client gives it.

use std::time::Duration;

use lofty::{LoftyError, RetryClass};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_api_error, counter, key_client, oauth_client, spawn};

#[tokio::test]
async fn bad_keys_and_a_key_sent_as_bearer() {
    let ctx = spawn().await;
    let bad = key_client(&ctx.base, "eyJ.not-a-key.x");
    let err = bad.me().await.unwrap_err();
    assert_api_error(&err, 401, "BAD_CREDENTIALS", RetryClass::Reauth);

    // The documented live behaviour: a personal key as `Bearer` is 400 / 200058.
    let as_bearer = oauth_client(&ctx.base, &ctx.info.api_key);
    let err = as_bearer.me().await.unwrap_err();
    assert_api_error(&err, 400, "200058", RetryClass::Reauth);
    assert_eq!(err.server_message(), Some("User in token does not exist."));
    assert!(lofty::client::is_key_sent_as_bearer(&err));

    let unknown = oauth_client(&ctx.base, "lofty-at-unknown");
    let err = unknown.me().await.unwrap_err();
    assert_api_error(&err, 401, "BAD_CREDENTIALS", RetryClass::Reauth);

    // A revoked key stops working.
    let key = ctx.post("/_sandbox/keys", json!({})).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let fresh = key_client(&ctx.base, &key);
    fresh.me().await.unwrap();
    ctx.post("/_sandbox/tokens/revoke", json!({"token": key}))
        .await;
    let err = fresh.me().await.unwrap_err();
    assert_eq!(err.retry_class(), RetryClass::Reauth);
    // No credential leaks into errors.
    assert!(!err.to_string().contains(&key));
    assert!(!format!("{err:?}{fresh:?}").contains(&key));
    ctx.shutdown().await;
}

#[tokio::test]
async fn content_type_is_required_on_writes() {
    let ctx = spawn().await;
    let lead = ctx.new_lead("Typed").await;
    let auth = format!("token {}", ctx.info.api_key);
    let note_id = ctx
        .client
        .create_note(&lofty::models::NoteInput::new(lead.lead_id, "x"))
        .await
        .unwrap();
    // A bodiless DELETE without Content-Type is refused (observed live).
    let resp = ctx
        .http
        .delete(ctx.url(&format!("/v1.0/notes/{note_id}")))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"code": 20001, "message": "Content-type must be: application/json"})
    );
    // So is a POST with a form body.
    let resp = ctx
        .http
        .post(ctx.url("/v1.0/leads"))
        .header("authorization", &auth)
        .form(&[("firstName", "Form")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // listCustomField answers 415 without Content-Type.
    let resp = ctx
        .http
        .get(ctx.url("/v1.0/teamFeatures/listCustomField"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    // The client always sends it, so the same calls work.
    ctx.client.delete_note(note_id).await.unwrap();
    ctx.client.list_custom_fields().await.unwrap();
    // Unknown paths are Spring 404s.
    let (status, body) = ctx.raw(Method::GET, "/v1.0/leads/1/notes", None).await;
    assert_eq!(status, 401, "auth first: {body}");
    let resp = ctx
        .http
        .get(ctx.url("/v1.0/leads/1/notes"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    ctx.shutdown().await;
}

#[tokio::test]
async fn rate_limit_headers_and_429() {
    let ctx = spawn().await;
    ctx.config(json!({"rate_per_minute": 3, "rate_window_ms": 60_000}))
        .await;
    let paced = ctx.client.clone().with_pacing();
    for _ in 0..3 {
        paced.me().await.unwrap();
    }
    let seen = paced.pacer().unwrap().last();
    assert_eq!(seen.limit, Some(3));
    assert_eq!(seen.remaining, Some(0));
    assert!(seen.reset.is_some());
    let err = ctx.client.me().await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.server_message(), Some("Too Many Requests"));
    let api = err.api().unwrap();
    assert_eq!(api.rate_limit.limit, Some(3));
    assert_eq!(api.rate_limit.remaining, Some(0));
    let RetryClass::RetryAfter(wait) = err.retry_class() else {
        panic!("a 429 waits: {err}");
    };
    assert!(
        wait > Duration::from_secs(50) && wait <= Duration::from_secs(61),
        "until X-RateLimit-Reset: {wait:?}"
    );
    // The OAuth app has its own budget.
    ctx.oauth.me().await.unwrap();
    let owner = counter(&ctx, &ctx.owner().to_string()).await;
    assert_eq!(owner["rate_limited"], 1);
    ctx.shutdown().await;
}

#[tokio::test]
async fn pacing_waits_out_a_short_window_instead_of_failing() {
    let ctx = spawn().await;
    ctx.config(json!({"rate_per_minute": 2, "rate_window_ms": 400}))
        .await;
    let paced = ctx.client.clone().with_pacing();
    for _ in 0..5 {
        paced.me().await.unwrap();
    }
    let owner = counter(&ctx, &ctx.owner().to_string()).await;
    assert_eq!(owner["requests"], 5);
    assert_eq!(owner["rate_limited"], 0, "no 429 while pacing");
    ctx.shutdown().await;
}

#[tokio::test]
async fn faults_storms_and_vendor_permissions() {
    let ctx = spawn().await;
    ctx.post("/_sandbox/faults", json!({"storm_429": 2})).await;
    for _ in 0..2 {
        let err = ctx.client.me().await.unwrap_err();
        assert!(
            matches!(err.retry_class(), RetryClass::RetryAfter(_)),
            "{err}"
        );
    }
    ctx.client.me().await.unwrap();
    ctx.post("/_sandbox/faults", json!({"error_rate": 1.0}))
        .await;
    let err = ctx.client.me().await.unwrap_err();
    assert_api_error(&err, 500, "20005", RetryClass::Retry);
    ctx.ctl(Method::DELETE, "/_sandbox/faults", None).await;
    ctx.post("/_sandbox/faults", json!({"latency_ms": 300}))
        .await;
    let impatient = lofty::LoftyClient::new(
        lofty::LoftyConfig::api_key(secrecy::SecretString::from(ctx.info.api_key.clone()))
            .with_base_url(ctx.base.clone())
            .with_timeout(Duration::from_millis(100)),
    )
    .unwrap();
    let err = impatient.me().await.unwrap_err();
    assert!(
        matches!(&err, LoftyError::Transport(t) if t.is_timeout()),
        "{err}"
    );
    assert_eq!(err.retry_class(), RetryClass::Retry);
    let started = std::time::Instant::now();
    ctx.client.me().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    ctx.ctl(Method::DELETE, "/_sandbox/faults", None).await;

    // An OAuth token granted only some APIs gets 403 / 200100 elsewhere.
    let grant = ctx
        .post("/_sandbox/oauth/token", json!({"apis": ["leads"]}))
        .await;
    let limited = oauth_client(&ctx.base, grant["access_token"].as_str().unwrap());
    limited
        .list_leads(&lofty::models::LeadQuery::default())
        .await
        .unwrap();
    let err = limited.list_webhooks().await.unwrap_err();
    assert_api_error(&err, 403, "200100", RetryClass::GiveUp);
    // Expired OAuth tokens are 401.
    ctx.post("/_sandbox/tokens/expire-all", json!({})).await;
    let err = limited.me().await.unwrap_err();
    assert_api_error(&err, 401, "BAD_CREDENTIALS", RetryClass::Reauth);
    ctx.shutdown().await;
}
