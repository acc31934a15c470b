//! GHL's main errors, as the client surfaces them, with their retry classes.

use std::time::Duration;

use ghl::models::{CreateContact, UpdateContact};
use ghl::{GhlClient, GhlConfig, GhlError, RetryClass};
use sandbox::RateLimitConfig;
use secrecy::SecretString;
use serde_json::json;
use url::Url;

use crate::helpers::{assert_api_error, config, spawn, spawn_with};

/// A PIT with only contacts.readonly can read but not write: 401, GiveUp (a refreshed token has the same scopes).
#[tokio::test]
async fn scope_401_gives_up() {
    let ctx = spawn().await;
    let token = ctx.pit(&ctx.a.id, "contacts.readonly").await;
    let ro = ctx.client_with(&token, &ctx.a.id);
    let id = ctx.contact_ids(&ctx.a.id)[0].clone();
    assert_eq!(ro.get_contact(&id).await.unwrap().id, id);

    let err = ro
        .update_contact(
            &id,
            &UpdateContact {
                city: Some("Nope".to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_api_error(
        &err,
        401,
        RetryClass::GiveUp,
        "The token is not authorized for this scope.",
    );
    assert_eq!(
        err.server_message(),
        Some("The token is not authorized for this scope.")
    );
    assert_eq!(
        err.api().unwrap().operation.as_deref(),
        Some("update-contact")
    );
    let err = ro
        .create_contact(&CreateContact {
            location_id: ctx.a.id.clone(),
            first_name: Some("No".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(err.is_scope_refusal());
    assert_eq!(err.retry_class(), RetryClass::GiveUp);
    // Nothing was written.
    assert_ne!(
        ctx.client.get_contact(&id).await.unwrap().city.as_deref(),
        Some("Nope")
    );
    // Other families need their own scopes.
    let err = ro.list_location_tags(&ctx.a.id).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    let err = ro.list_custom_fields(&ctx.a.id, None).await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    ctx.shutdown().await;
}

/// Location A's token on location B's data: 403 "The token does not have access to this
/// location.", GiveUp.
#[tokio::test]
async fn other_location_403() {
    let ctx = spawn().await;
    let b_contact = ctx.contact_ids(&ctx.b.id)[0].clone();
    let msg = "The token does not have access to this location.";

    let err = ctx.client.get_contact(&b_contact).await.unwrap_err();
    assert_api_error(&err, 403, RetryClass::GiveUp, msg);
    assert_eq!(err.server_message(), Some(msg));

    let err = ctx
        .client
        .create_contact(&CreateContact {
            location_id: ctx.b.id.clone(),
            first_name: Some("Cross".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_api_error(&err, 403, RetryClass::GiveUp, msg);
    let err = ctx.client.list_location_tags(&ctx.b.id).await.unwrap_err();
    assert_api_error(&err, 403, RetryClass::GiveUp, msg);
    // B's own token still works on it.
    assert_eq!(
        ctx.client_b.get_contact(&b_contact).await.unwrap().id,
        b_contact
    );
    ctx.shutdown().await;
}

/// An unknown contact: 404, GiveUp, `is_not_found`.
#[tokio::test]
async fn unknown_contact_404() {
    let ctx = spawn().await;
    let err = ctx
        .client
        .get_contact("AAAAAAAAAAAAAAAAAAAA")
        .await
        .unwrap_err();
    assert_api_error(
        &err,
        404,
        RetryClass::GiveUp,
        "Contact with id AAAAAAAAAAAAAAAAAAAA not found",
    );
    assert!(err.is_not_found());
    let err = ctx
        .client
        .list_tasks("AAAAAAAAAAAAAAAAAAAA")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    ctx.shutdown().await;
}

/// An unknown body property (sent through `call`, the typed DTOs cannot carry one):
/// 422 with class-validator's message, GiveUp.
#[tokio::test]
async fn unknown_property_422() {
    let ctx = spawn().await;
    let err = ctx
        .client
        .call(
            "create-contact",
            json!({"locationId": ctx.a.id, "firstName": "Foo", "foo": 1}),
        )
        .await
        .unwrap_err();
    assert_api_error(
        &err,
        422,
        RetryClass::GiveUp,
        "property foo should not exist",
    );
    let api = err.api().unwrap();
    assert_eq!(api.error.as_deref(), Some("Unprocessable Entity"));
    assert_eq!(
        api.body["message"],
        json!(["property foo should not exist"])
    );
    assert!(err.to_string().contains("422"), "{err}");
    // `gender` is a create field but not an update field.
    let id = ctx.contact_ids(&ctx.a.id)[0].clone();
    let err = ctx
        .client
        .call(
            "update-contact",
            json!({"contactId": id, "gender": "female"}),
        )
        .await
        .unwrap_err();
    assert_api_error(
        &err,
        422,
        RetryClass::GiveUp,
        "property gender should not exist",
    );
    ctx.shutdown().await;
}

/// Creating the same email twice: 400 with `meta.contactId` of the first contact; once
/// the location allows duplicates, the second create succeeds.
#[tokio::test]
async fn duplicate_400_until_allowed() {
    let ctx = spawn().await;
    let first = ctx.new_contact("Dup").await;
    let email = first.email.clone().unwrap();
    let again = CreateContact {
        location_id: ctx.a.id.clone(),
        first_name: Some("Dup2".to_owned()),
        email: Some(email.clone()),
        ..Default::default()
    };
    let err = ctx.client.create_contact(&again).await.unwrap_err();
    assert_api_error(
        &err,
        400,
        RetryClass::GiveUp,
        "This location does not allow duplicated contacts.",
    );
    let meta = &err.api().unwrap().body["meta"];
    assert_eq!(meta["contactId"], json!(first.id));
    assert_eq!(meta["matchingField"], json!("email"));

    let settings = ctx
        .post(
            &format!("/_sandbox/locations/{}/settings", ctx.a.id),
            json!({"allowDuplicateContact": true}),
        )
        .await;
    assert_eq!(settings["allowDuplicateContact"], json!(true));
    let second = ctx.client.create_contact(&again).await.unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(second.email.as_deref(), Some(email.as_str()));
    assert_eq!(
        ctx.client
            .get_contact(&first.id)
            .await
            .unwrap()
            .first_name
            .as_deref(),
        Some("Dup"),
        "first contact untouched"
    );
    ctx.shutdown().await;
}

/// Over the burst limit: 429 whose rate-limit headers are parsed, RetryAfter(d > 0).
#[tokio::test]
async fn burst_limit_429_with_headers() {
    let mut cfg = config();
    cfg.rate = RateLimitConfig {
        window: Duration::from_secs(60),
        max_per_window: 2,
        daily: 1_000,
    };
    let ctx = spawn_with(cfg).await;
    let id = ctx.contact_ids(&ctx.a.id)[0].clone();
    ctx.client.get_contact(&id).await.unwrap();
    ctx.client.get_contact(&id).await.unwrap();
    let err = ctx.client.get_contact(&id).await.unwrap_err();
    assert_eq!(err.status(), Some(429), "{err}");
    let api = err.api().unwrap();
    assert_eq!(api.rate_limit.max, Some(2));
    assert_eq!(api.rate_limit.remaining, Some(0));
    assert_eq!(api.rate_limit.interval_ms, Some(60_000));
    assert_eq!(api.rate_limit.limit_daily, Some(1_000));
    assert_eq!(api.rate_limit.daily_remaining, Some(998));
    let wait = api.retry_after.expect("Retry-After");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    match err.retry_class() {
        RetryClass::RetryAfter(d) => assert!(d > Duration::ZERO && d == wait, "{d:?}"),
        other => panic!("expected RetryAfter, got {other:?}"),
    }
    let counter = ctx.counter(&ctx.a.id).await;
    assert_eq!(counter["rate_limited"], json!(1));
    ctx.shutdown().await;
}

/// A 429 storm (fault injection): the next call is 429 with RetryAfter, then service
/// resumes. A 500 fault: Retry.
#[tokio::test]
async fn storm_429_and_500_faults() {
    let ctx = spawn().await;
    let id = ctx.contact_ids(&ctx.a.id)[0].clone();
    ctx.post("/_sandbox/faults", json!({"storm_429": 1})).await;
    let err = ctx.client.get_contact(&id).await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert!(
        matches!(err.retry_class(), RetryClass::RetryAfter(d) if d > Duration::ZERO),
        "{:?}",
        err.retry_class()
    );
    let api = err.api().unwrap();
    assert!(api.rate_limit.max.is_some() && api.rate_limit.interval_ms.is_some());
    assert_eq!(ctx.client.get_contact(&id).await.unwrap().id, id);

    ctx.post("/_sandbox/faults", json!({"error_rate": 1.0}))
        .await;
    let err = ctx.client.get_contact(&id).await.unwrap_err();
    assert_api_error(&err, 500, RetryClass::Retry, "Internal server error");
    let err = ctx
        .client
        .create_contact(&CreateContact {
            location_id: ctx.a.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(err.retry_class(), RetryClass::Retry);
    ctx.delete("/_sandbox/faults").await;
    assert_eq!(ctx.client.get_contact(&id).await.unwrap().id, id);
    ctx.shutdown().await;
}

/// Transport failures: a timeout (latency fault longer than the client timeout) and a
/// refused connection are both Retry.
#[tokio::test]
async fn timeout_and_connection_refused_are_retry() {
    let ctx = spawn().await;
    let id = ctx.contact_ids(&ctx.a.id)[0].clone();
    ctx.post("/_sandbox/faults", json!({"latency_ms": 400}))
        .await;
    let impatient = GhlClient::new(
        GhlConfig::new(SecretString::from(ctx.a.token.clone()))
            .with_base_url(ctx.base.clone())
            .with_timeout(Duration::from_millis(100)),
    )
    .unwrap();
    let err = impatient.get_contact(&id).await.unwrap_err();
    assert!(
        matches!(&err, GhlError::Transport(t) if t.is_timeout()),
        "{err:?}"
    );
    assert_eq!(err.retry_class(), RetryClass::Retry);
    ctx.delete("/_sandbox/faults").await;

    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let nowhere = GhlClient::new(
        GhlConfig::new(SecretString::from("pit-x".to_owned()))
            .with_base_url(Url::parse(&format!("http://127.0.0.1:{port}")).unwrap()),
    )
    .unwrap();
    let err = nowhere.get_contact(&id).await.unwrap_err();
    assert!(
        matches!(&err, GhlError::Transport(t) if t.is_connect()),
        "{err:?}"
    );
    assert_eq!(err.retry_class(), RetryClass::Retry);
    ctx.shutdown().await;
}
