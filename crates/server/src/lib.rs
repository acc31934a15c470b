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
pub mod error;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use ghl::WebhookVerifier;
use serde_json::json;
use store::{Journaled, Store};

use crate::admin::AdminCaller;
pub use crate::error::ApiError;
use crate::error::escape;

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

/// The router.
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

/// Serves on an already bound listener (the application binds first to learn the
/// address, so port 0 works).
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
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

/// Where to go after login: a local path only (no open redirect), made of
/// characters a `Location` header can carry. `Err` names what is wrong.
fn local_path(next: Option<&str>) -> Result<&str, ApiError> {
    let Some(next) = next.filter(|n| !n.is_empty()) else {
        return Ok("/");
    };
    if next.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Err(ApiError::bad_request(
            "`next` must be a plain path (no control or non-ASCII characters)",
        ));
    }
    Ok(
        if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
            next
        } else {
            "/"
        },
    )
}

async fn login_page(Query(q): Query<NextQuery>) -> Result<Html<String>, ApiError> {
    let next = escape(local_path(q.next.as_deref()).map_err(ApiError::page)?);
    Ok(Html(format!(
        "<!doctype html><title>ghlsync: log in</title><h1>ghlsync admin</h1>\
         <form method=\"post\" action=\"/login\"><label>Admin token <input type=\"password\" name=\"token\" autocomplete=\"current-password\"></label>\
         <input type=\"hidden\" name=\"next\" value=\"{next}\"><button type=\"submit\">Log in</button></form>\
         <p>The admin token is in <code>&lt;data_dir&gt;/admin.token</code> (or <code>GHLSYNC_ADMIN_TOKEN</code>).</p>"
    )))
}

async fn login(State(state): State<AppState>, Form(f): Form<LoginForm>) -> Response {
    // Check where to go first: a bad `next` sets no session.
    let next = match local_path(f.next.as_deref()) {
        Ok(n) => n,
        Err(e) => return e.page().into_response(),
    };
    match state.admin.login(&f.token) {
        Some(id) => {
            let cookie = format!(
                "{}={id}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}",
                admin::SESSION_COOKIE,
                admin::SESSION_TTL.as_secs()
            );
            let mut resp = Redirect::to(next).into_response();
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

async fn index(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> Result<Html<String>, ApiError> {
    let list = state
        .store
        .connections()
        .await
        .map_err(|e| ApiError::unavailable("cannot read connections", e).page())?;
    let rows = list
        .iter()
        .map(|c| {
            format!(
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&c.name),
                escape(&c.id),
                c.kind,
                c.status.as_str(),
                escape(&c.scopes),
                escape(c.status_reason.as_deref().unwrap_or(""))
            )
        })
        .collect::<String>();
    Ok(Html(format!(
        "<!doctype html><title>ghlsync</title><h1>ghlsync</h1>\
         <p><a href=\"/connect/ghl\">Connect a GHL location</a> · <a href=\"/connect/ghl?user_type=company\">Connect a GHL agency (all sub-accounts)</a></p>\
         <table border=1><tr><th>name</th><th>connection</th><th>kind</th><th>status</th><th>scopes</th><th>last error</th></tr>{rows}</table>"
    )))
}

/// GET /api/connections: every connection, never a secret.
async fn api_connections(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let list = state
        .store
        .connections()
        .await
        .map_err(|e| ApiError::unavailable("cannot read connections", e))?;
    Ok(Json(json!({"connections": list})))
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.queue_stats().await {
        Ok(stats) => {
            Json(json!({"status": "ready", "backend": state.store.backend_name(), "queue": stats}))
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "ReadinessFailed: the store cannot be read");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "error": "the database cannot be read"})),
            )
                .into_response()
        }
    }
}

async fn ghl_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.verifier.verify(&headers, &body).map_err(|e| {
        tracing::warn!(error = %e, "WebhookRejected: bad or missing signature");
        ApiError::rejected(format!("signature check failed: {e}"))
    })?;
    let (journal, event, job) =
        engine::intake::ghl_delivery(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    match state.store.intake(&journal, &[job]).await {
        Ok(Journaled::New(id)) => {
            tracing::info!(event = id, webhook_id = %event.webhook_id, event_type = %event.event_type, "EventJournaled");
            Ok(Json(json!({"status": "accepted"})))
        }
        Ok(Journaled::Duplicate(_)) => Ok(Json(json!({"status": "duplicate"}))),
        // GHL retries only a 429: the one answer that does not lose the event.
        Err(e) => Err(ApiError::busy(
            5,
            format_args!(
                "cannot journal webhook {}; answering 429 so GHL retries it: {e}",
                event.webhook_id
            ),
        )),
    }
}

async fn lofty_webhook(
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let unavailable = |e: store::StoreError| {
        ApiError::with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily unable to accept events; retry",
        )
        .because(e)
    };
    let owner = state
        .store
        .webhook_key_owner(&key)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| {
            tracing::warn!("WebhookRejected: unknown Lofty webhook key");
            ApiError::not_found("unknown webhook URL")
        })?;
    let batch = lofty::webhook::parse(&body).map_err(|e| {
        tracing::warn!(connection = %owner, error = %e, "WebhookRejected: unreadable Lofty delivery");
        ApiError::bad_request(e.to_string())
    })?;
    let (event, jobs) = engine::intake::lofty_delivery(&owner, &batch, &body, state.store.now());
    match state
        .store
        .intake(&event, &jobs)
        .await
        .map_err(unavailable)?
    {
        Journaled::New(id) => {
            tracing::info!(event = id, connection = %owner, list = batch.list_id, changes = jobs.len(), "EventJournaled");
            Ok(Json(json!({"status": "accepted", "changes": jobs.len()})))
        }
        Journaled::Duplicate(_) => Ok(Json(json!({"status": "duplicate"}))),
    }
}
