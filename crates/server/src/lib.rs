//! ghlsync's HTTP side. Today: webhook intake and health.
//!
//! `POST /webhooks/ghl` verifies `X-GHL-Signature` (Ed25519, or the legacy RSA
//! `X-WH-Signature`) over the raw body, then journals the event and enqueues its job
//! in one transaction, deduplicated by `webhookId`, and only then answers 200. When
//! the event cannot be journaled it answers 429: GHL retries only a 429, so this is
//! the one answer that does not lose the event.

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use ghl::WebhookVerifier;
use serde_json::{Value, json};
use store::{Journaled, NewEvent, NewJob, Store};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub verifier: std::sync::Arc<WebhookVerifier>,
}

/// The router (tests call it on port 0 through [`serve`]).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/webhooks/ghl", post(ghl_webhook))
        .with_state(state)
}

/// Binds and serves until `shutdown` resolves. Returns the bound address first via `on_bound`.
pub async fn serve(
    listen: SocketAddr,
    state: AppState,
    on_bound: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    on_bound(listener.local_addr()?);
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.queue_stats().await {
        Ok(stats) => {
            Json(json!({"status": "ready", "backend": state.store.backend_name(), "queue": stats}))
                .into_response()
        }
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "error": e.to_string()})),
        )
            .into_response(),
    }
}

fn reject(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

async fn ghl_webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(e) = state.verifier.verify(&headers, &body) {
        tracing::warn!(error = %e, "WebhookRejected: bad or missing signature");
        return reject(
            StatusCode::UNAUTHORIZED,
            &format!("signature check failed: {e}"),
        );
    }
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return reject(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    let Some(webhook_id) = event.get("webhookId").and_then(Value::as_str) else {
        return reject(StatusCode::BAD_REQUEST, "webhookId is missing");
    };
    let event_type = event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let location = event.get("locationId").and_then(Value::as_str);
    let job = NewJob::new(
        "ghl.event",
        format!("ghl:event:{webhook_id}"),
        json!({"webhookId": webhook_id, "type": event_type, "locationId": location}),
    );
    let new_event = NewEvent {
        source: "ghl".to_owned(),
        event_id: webhook_id.to_owned(),
        connection_id: None,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    match state.store.intake(&new_event, &[job]).await {
        Ok(Journaled::New(id)) => {
            tracing::info!(event = id, webhook_id, event_type, "EventJournaled");
            Json(json!({"status": "accepted"})).into_response()
        }
        Ok(Journaled::Duplicate(_)) => Json(json!({"status": "duplicate"})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, webhook_id, "cannot journal a webhook; answering 429 so GHL retries it");
            reject(
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily unable to accept events; retry",
            )
        }
    }
}
