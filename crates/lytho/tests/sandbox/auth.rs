//! Client credentials: the token is fetched once and cached, replaced before it
//! expires and after a 401, and bad credentials surface as `Reauth`.

use std::time::Duration;

use lytho::{LythoClient, LythoConfig, LythoError, RetryClass};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use url::Url;

use crate::helpers::{client_for, spawn};

/// Many calls, one token; the token is a bearer token the API accepts.
#[tokio::test]
async fn token_is_fetched_once_and_cached() {
    let ctx = spawn().await;
    let ids = ctx.ids("task");
    for id in &ids[..3] {
        assert_eq!(ctx.client.get_task(*id).await.unwrap().id, *id);
    }
    // Concurrent first calls on a fresh client share one fetch too.
    let fresh = client_for(&ctx.info, &ctx.info.client_secret);
    let calls = ids[..8].iter().map(|id| fresh.get_task(*id));
    for r in futures_util::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(ctx.client.tokens().fetch_count(), 1);
    assert_eq!(fresh.tokens().fetch_count(), 1);
    let c = ctx.counters().await;
    assert_eq!(c["tokens_issued"], 2);
    assert_eq!(c["unauthorized"], 0);
    assert_eq!(c["requests"], 11);

    // The token endpoint answers Keycloak's shape to a direct fetch.
    let token = ctx.client.tokens().fetch().await.unwrap();
    assert_eq!(token.expires_in, 300);
    assert_eq!(token.token_type.as_deref(), Some("Bearer"));
    assert_eq!(token.access_token.expose_secret().split('.').count(), 3);
    ctx.shutdown().await;
}

/// A wrong client secret: the token endpoint's 401 is a `Token` error that asks
/// for re-authentication, and no API request is made.
#[tokio::test]
async fn bad_client_secret_is_reauth() {
    let ctx = spawn().await;
    let bad = client_for(&ctx.info, "not-the-secret");
    let err = bad.get_task(ctx.ids("task")[0]).await.unwrap_err();
    assert!(matches!(err, LythoError::Token(_)), "{err:?}");
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.retry_class(), RetryClass::Reauth);
    assert_eq!(
        err.server_message(),
        Some("Invalid client or Invalid client credentials")
    );
    assert_eq!(
        err.api().unwrap().code.as_deref(),
        Some("unauthorized_client")
    );
    assert_eq!(err.api().unwrap().operation.as_deref(), Some("lytho-token"));
    assert!(
        !format!("{err} {err:?} {bad:?}").contains("not-the-secret"),
        "the secret never shows"
    );

    // Unknown tenant: Keycloak's 404 "Realm does not exist", also Reauth.
    let token_url = ctx.info.token_url.replace(&ctx.info.tenant, "nobody");
    let config = LythoConfig::with_urls(
        Url::parse(&ctx.info.base_url).unwrap(),
        Url::parse(&token_url).unwrap(),
        ctx.info.client_id.clone(),
        SecretString::from(ctx.info.client_secret.clone()),
    );
    let err = LythoClient::new(config)
        .unwrap()
        .get_task(ctx.ids("task")[0])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.retry_class(), RetryClass::Reauth);
    assert_eq!(err.server_message(), Some("Realm does not exist"));

    let c = ctx.counters().await;
    assert_eq!(c["token_rejected"], 2);
    assert_eq!(c["requests"], 0, "no API call without a token");
    ctx.shutdown().await;
}

/// An expired or revoked token: the API's 401 makes the client fetch a new token
/// and retry once, so the caller sees a success.
#[tokio::test]
async fn expired_or_revoked_token_is_refetched() {
    let ctx = spawn().await;
    let id = ctx.ids("project")[0];
    ctx.client.get_project(id).await.unwrap();
    ctx.post("/_sandbox/tokens/expire-all", json!({})).await;
    assert_eq!(ctx.client.get_project(id).await.unwrap().id, id);
    assert_eq!(ctx.client.tokens().fetch_count(), 2);
    ctx.post("/_sandbox/tokens/revoke-all", json!({})).await;
    assert_eq!(ctx.client.project_users(id).await.unwrap().len(), 2);
    assert_eq!(ctx.client.tokens().fetch_count(), 3);
    let c = ctx.counters().await;
    assert_eq!(c["unauthorized"], 2);
    assert_eq!(c["tokens_issued"], 3);
    // 2 + 2 retried + 1 = 5 API requests for 3 calls.
    assert_eq!(c["requests"], 5);
    ctx.shutdown().await;
}

/// Lytho's "Reset Client Secret" breaks the integration: the cached token is
/// revoked and the old secret no longer gets a new one, so the call fails with
/// `Reauth` after exactly one retry of the token.
#[tokio::test]
async fn reset_client_secret_needs_reauth() {
    let ctx = spawn().await;
    let id = ctx.ids("proof")[0];
    ctx.client.get_proof(id).await.unwrap();
    let reset = ctx.post("/_sandbox/client-secret/reset", json!({})).await;
    let new_secret = reset["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, ctx.info.client_secret);
    assert_eq!(ctx.sandbox.lytho().info().client_secret, new_secret);

    let err = ctx.client.get_proof(id).await.unwrap_err();
    assert!(matches!(err, LythoError::Token(_)), "{err:?}");
    assert_eq!(err.retry_class(), RetryClass::Reauth);
    let renewed = client_for(&ctx.info, &new_secret);
    assert_eq!(renewed.get_proof(id).await.unwrap().id, id);
    ctx.shutdown().await;
}

/// A token is replaced shortly before it expires, without waiting for a 401: with
/// a 1 s lifetime the client renews after half of it.
#[tokio::test]
async fn token_is_renewed_before_expiry() {
    let ctx = spawn().await;
    ctx.post("/_sandbox/config", json!({"token_ttl_secs": 1}))
        .await;
    let id = ctx.ids("campaign")[0];
    ctx.client.get_campaign(id).await.unwrap();
    ctx.client.get_campaign(id).await.unwrap();
    assert_eq!(ctx.client.tokens().fetch_count(), 1, "still fresh");
    // Real time is what expires tokens here; 600 ms passes the renewal point (0.5 s)
    // but not the expiry (1 s).
    tokio::time::sleep(Duration::from_millis(600)).await;
    ctx.client.get_campaign(id).await.unwrap();
    assert_eq!(
        ctx.client.tokens().fetch_count(),
        2,
        "renewed ahead of expiry"
    );
    assert_eq!(
        ctx.counters().await["unauthorized"],
        0,
        "never sent a stale token"
    );
    ctx.shutdown().await;
}
