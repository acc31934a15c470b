//! ghlsync's HTTP side: webhook intake, GHL OAuth connect, a small admin API and
//! page (login, connections), health.
//!
//! `POST /webhooks/ghl` verifies `X-GHL-Signature` (Ed25519, or the legacy RSA
//! `X-WH-Signature`) over the raw body, then journals the event and enqueues its job
//! in one transaction, deduplicated by `webhookId`, and only then answers 200. When
//! the event cannot be journaled it answers 429: GHL retries only a 429, so this is
//! the one answer that does not lose the event.
//!
//! `POST /webhooks/lofty/<key>` takes Lofty's unsigned, batched deliveries: the
//! unguessable per-connection key in the path authenticates them. Each batch is
//! journaled with one `lofty.change` job per changed record, deduplicated on
//! (list, record id, `updateTime`), before the 200.

pub mod admin;
pub mod connect;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use ghl::WebhookVerifier;
use serde_json::{Value, json};
use store::{Journaled, NewEvent, NewJob, Store};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub verifier: Arc<WebhookVerifier>,
    pub admin: Arc<admin::AdminAuth>,
    /// GHL OAuth, when the marketplace app is configured.
    pub oauth: Option<connect::OAuthSettings>,
    /// Lofty OAuth, when a vendor app is configured.
    pub lofty_oauth: Option<connect::LoftyOAuthSettings>,
}

impl AppState {
    pub fn new(
        store: Store,
        verifier: WebhookVerifier,
        admin_token: secrecy::SecretString,
        oauth: Option<connect::OAuthSettings>,
    ) -> Self {
        Self {
            store,
            verifier: Arc::new(verifier),
            admin: Arc::new(admin::AdminAuth::new(admin_token)),
            oauth,
            lofty_oauth: None,
        }
    }

    /// Adds Lofty OAuth.
    #[must_use]
    pub fn with_lofty_oauth(mut self, settings: Option<connect::LoftyOAuthSettings>) -> Self {
        self.lofty_oauth = settings;
        self
    }
}

/// The router (tests call it on port 0 through [`serve`]).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/login", get(login_page).post(login))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/webhooks/ghl", post(ghl_webhook))
        .route("/webhooks/lofty/{key}", post(lofty_webhook))
        .route("/connect/ghl", get(connect::start))
        .route("/oauth/callback/ghl", get(connect::callback))
        .route("/connect/status/{state}", get(connect::status))
        .route("/connect/lofty", get(connect::start_lofty))
        .route("/oauth/callback/lofty", get(connect::callback_lofty))
        .route("/api/connections", get(api_connections))
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

#[derive(Debug, serde::Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only local paths are followed after login (no open redirect).
fn local_path(next: Option<&str>) -> &str {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//"))
        .unwrap_or("/")
}

async fn login_page(Query(q): Query<NextQuery>) -> Html<String> {
    let next = local_path(q.next.as_deref()).replace('"', "");
    Html(format!(
        "<!doctype html><title>ghlsync: log in</title><h1>ghlsync admin</h1>\
         <form method=\"post\" action=\"/login\"><label>Admin token <input type=\"password\" name=\"token\" autocomplete=\"current-password\"></label>\
         <input type=\"hidden\" name=\"next\" value=\"{next}\"><button type=\"submit\">Log in</button></form>\
         <p>The admin token is in <code>&lt;data_dir&gt;/admin.token</code> (or <code>GHLSYNC_ADMIN_TOKEN</code>).</p>"
    ))
}

async fn login(State(state): State<AppState>, Form(f): Form<LoginForm>) -> Response {
    match state.admin.login(&f.token) {
        Some(id) => {
            let cookie = format!(
                "{}={id}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}",
                admin::SESSION_COOKIE,
                admin::SESSION_TTL.as_secs()
            );
            let mut resp = Redirect::to(local_path(f.next.as_deref())).into_response();
            if let Ok(v) = cookie.parse() {
                resp.headers_mut().insert("set-cookie", v);
            }
            resp
        }
        None => (
            StatusCode::UNAUTHORIZED,
            Html(
                "<!doctype html><p>Wrong admin token. <a href=\"/login\">Try again</a></p>"
                    .to_owned(),
            ),
        )
            .into_response(),
    }
}

async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.admin.caller(&headers).is_none() {
        return Redirect::to("/login").into_response();
    }
    let rows = match state.store.connections().await {
        Ok(list) => list
            .iter()
            .map(|c| {
                let esc = |s: &str| s.replace('<', "&lt;");
                format!(
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&c.id),
                    esc(&c.kind),
                    c.status.as_str(),
                    esc(&c.scopes),
                    esc(c.status_reason.as_deref().unwrap_or(""))
                )
            })
            .collect::<String>(),
        Err(e) => format!("<tr><td colspan=5>cannot read connections: {e}</td></tr>"),
    };
    Html(format!(
        "<!doctype html><title>ghlsync</title><h1>ghlsync</h1>\
         <p><a href=\"/connect/ghl\">Connect a GHL location</a> · <a href=\"/connect/ghl?user_type=company\">Connect a GHL agency (all sub-accounts)</a></p>\
         <table border=1><tr><th>connection</th><th>kind</th><th>status</th><th>scopes</th><th>last error</th></tr>{rows}</table>"
    ))
    .into_response()
}

/// GET /api/connections: every connection, never a secret.
async fn api_connections(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.admin.caller(&headers).is_none() {
        return reject(
            StatusCode::UNAUTHORIZED,
            "admin login required: send Authorization: Bearer <admin token>",
        );
    }
    match state.store.connections().await {
        Ok(list) => Json(json!({"connections": list})).into_response(),
        Err(e) => reject(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// Serves on an already bound listener (tests bind first to learn the address).
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
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
        json!({
            "webhookId": webhook_id,
            "type": event_type,
            "locationId": location,
            "companyId": event.get("companyId").and_then(Value::as_str),
            "timestamp": event.get("timestamp").and_then(Value::as_str),
        }),
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

async fn lofty_webhook(
    State(state): State<AppState>,
    axum::extract::Path(key): axum::extract::Path<String>,
    body: Bytes,
) -> Response {
    let owner = match state.store.webhook_key_owner(&key).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            tracing::warn!("WebhookRejected: unknown Lofty webhook key");
            return reject(StatusCode::NOT_FOUND, "unknown webhook URL");
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check a Lofty webhook key");
            return reject(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily unable to accept events; retry",
            );
        }
    };
    let batch = match lofty::webhook::parse(&body) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(connection = %owner, error = %e, "WebhookRejected: unreadable Lofty delivery");
            return reject(StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    let (event, jobs) = lofty_intake(&owner, &batch, &body, state.store.now());
    match state.store.intake(&event, &jobs).await {
        Ok(Journaled::New(id)) => {
            tracing::info!(event = id, connection = %owner, list = batch.list_id, changes = jobs.len(), "EventJournaled");
            Json(json!({"status": "accepted", "changes": jobs.len()})).into_response()
        }
        Ok(Journaled::Duplicate(_)) => Json(json!({"status": "duplicate"})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, connection = %owner, "cannot journal a Lofty delivery");
            reject(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily unable to accept events; retry",
            )
        }
    }
}

/// The journal entry and jobs of one Lofty delivery. A delivery whose every change
/// carries its `updateTime` has a content-derived event id, so a redelivery is stored
/// once; otherwise each receipt is its own event. Jobs are keyed by (list, record,
/// `updateTime`) when both are known, so the same change in two deliveries runs once.
fn lofty_intake(
    connection: &str,
    batch: &lofty::webhook::WebhookBatch,
    body: &[u8],
    now_ms: i64,
) -> (NewEvent, Vec<NewJob>) {
    use sha2::{Digest, Sha256};
    let digest = admin::hex(&Sha256::digest(body)[..16]);
    let replayable = batch.changes.iter().all(|c| c.update_time.is_some());
    let event_id = if replayable {
        format!("{connection}:{digest}")
    } else {
        format!("{connection}:{digest}:{now_ms}")
    };
    // `lead`, `note`, `task`, `timeline`, ... (from the list's id field).
    let entity = batch.event_list().map_or("record", |l| {
        l.id_field().strip_suffix("Id").unwrap_or("record")
    });
    let jobs = batch
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let key = match (c.id, c.update_time) {
                (Some(id), Some(at)) => {
                    format!(
                        "lofty:{connection}:{}:{}:{id}:{at}",
                        batch.list_id, c.bucket
                    )
                }
                _ => format!("lofty:{event_id}:{i}"),
            };
            NewJob::new(
                "lofty.change",
                key,
                json!({
                    "connection": connection,
                    "listId": batch.list_id,
                    "entity": entity,
                    "bucket": c.bucket,
                    "change": format!("{:?}", c.kind).to_ascii_lowercase(),
                    "id": c.id,
                    "leadId": c.lead_id,
                    "updateTime": c.update_time,
                }),
            )
            .on_connection(connection)
        })
        .collect();
    let event = NewEvent {
        source: "lofty".to_owned(),
        event_id,
        connection_id: Some(connection.to_owned()),
        body: String::from_utf8_lossy(body).into_owned(),
    };
    (event, jobs)
}
