//! ghlsync's HTTP side: webhook intake, GHL OAuth connect, a small admin API and
//! page (login, connections), health.
//!
//! `POST /webhooks/ghl` verifies `X-GHL-Signature` (Ed25519, or the legacy RSA
//! `X-WH-Signature`) over the raw body, then hands the event and its job to the
//! intake's writer ([`engine::Intake`]), deduplicated by `webhookId`, and only then
//! answers 200. When the journal cannot commit within the deadline (3 s by default)
//! it answers 429 with `Retry-After`: GHL retries only a 429, and gives up after
//! 10 s, so this is the one answer that does not lose the event.
//!
//! `POST /webhooks/lofty/<key>` takes Lofty's unsigned, batched deliveries: the
//! unguessable per-connection key in the path authenticates them. Each batch is
//! journaled as one row with one `lofty.delivery` job (which makes the per-record
//! jobs later, a chunk at a time) before the 200; it waits longest for the journal
//! (Lofty documents no retries). A batch over the cap is refused with a 413.
//!
//! The server itself ([`serve`]) sheds slow and idle connections and caps how many
//! are open; `/readyz` proves the journal takes a write.

pub mod accounts;
pub mod admin;
pub mod api;
pub mod connect;
pub mod connections;
pub mod dead_letters;
pub mod error;
pub mod flows;
pub mod health;
pub mod login;
pub mod pages;
pub mod review;
pub mod runs;
pub mod serve;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use ghl::WebhookVerifier;
use serde_json::json;
use store::{Journaled, Store};
use tokio::time::Instant;

pub use crate::error::ApiError;
pub use crate::serve::ServeLimits;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    /// The journal's writer: every delivery is committed through it.
    pub intake: engine::Intake,
    pub verifier: Arc<WebhookVerifier>,
    pub admin: Arc<admin::AdminAuth>,
    /// GHL OAuth, when the marketplace app is configured.
    pub oauth: Option<connect::OAuthSettings>,
    /// Lofty OAuth, when a vendor app is configured.
    pub lofty_oauth: Option<connect::LoftyOAuthSettings>,
    /// Who may post to the webhook routes.
    pub webhook_allow: WebhookAllow,
    /// What opens connections (settling reviews calls the APIs).
    pub connectors: Option<engine::Connectors>,
    /// Where accounts connected from the admin UI point.
    pub connect_defaults: connections::ConnectDefaults,
}

/// Addresses allowed to post to each webhook route; an empty list allows any.
#[derive(Debug, Clone, Default)]
pub struct WebhookAllow {
    pub ghl: Vec<ipnet::IpNet>,
    pub lofty: Vec<ipnet::IpNet>,
}

impl AppState {
    /// The state, with the intake's writer started on `intake.store()`.
    pub fn new(
        intake: engine::Intake,
        verifier: WebhookVerifier,
        admin_token: secrecy::SecretString,
        oauth: Option<connect::OAuthSettings>,
    ) -> Self {
        Self::with_auth(
            intake,
            verifier,
            &admin_token,
            admin::AuthSettings::default(),
            oauth,
        )
    }

    /// The state with explicit admin settings (sessions, allowlist, cookies).
    pub fn with_auth(
        intake: engine::Intake,
        verifier: WebhookVerifier,
        operator_token: &secrecy::SecretString,
        auth: admin::AuthSettings,
        oauth: Option<connect::OAuthSettings>,
    ) -> Self {
        Self {
            store: intake.store().clone(),
            intake,
            verifier: Arc::new(verifier),
            admin: Arc::new(admin::AdminAuth::new(operator_token, auth)),
            webhook_allow: WebhookAllow::default(),
            connectors: None,
            connect_defaults: connections::ConnectDefaults::default(),
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

    /// Adds the connectors (reviews are settled through them).
    #[must_use]
    pub fn with_connectors(mut self, connectors: engine::Connectors) -> Self {
        self.connectors = Some(connectors);
        self
    }

    /// The connectors, or the 503 that says this server runs without them (what
    /// calls the APIs: settling reviews, enabling and previewing flows).
    pub fn connectors(&self) -> Result<&engine::Connectors, ApiError> {
        self.connectors.as_ref().ok_or_else(|| {
            ApiError::with_status(
                StatusCode::SERVICE_UNAVAILABLE,
                "this server runs without the engine's connectors, so it cannot call the connected APIs",
            )
        })
    }

    /// Sets where accounts connected from the admin UI point.
    #[must_use]
    pub fn with_connect_defaults(mut self, defaults: connections::ConnectDefaults) -> Self {
        self.connect_defaults = defaults;
        self
    }

    /// Adds webhook allowlists.
    #[must_use]
    pub fn with_webhook_allow(mut self, allow: WebhookAllow) -> Self {
        self.webhook_allow = allow;
        self
    }
}

/// The router: the admin side (pages, API, connect) behind [`admin::authenticate`],
/// the webhook routes behind their allowlists, health open; security headers on all.
pub fn router(state: AppState) -> Router {
    let (api_routes, _) = api::routes();
    let admin_side = Router::new()
        .merge(api_routes)
        .route("/api/openapi.json", get(api::openapi_json))
        .route("/", get(connections::page_list))
        .route("/connections/add", post(connections::page_add))
        .route("/connections/{id}/test", post(connections::page_test))
        .route("/connections/{id}/rotate", post(connections::page_rotate))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", post(login::logout))
        .route("/setup", get(login::setup_page).post(login::setup))
        .route("/connect/ghl", get(connect::start))
        .route("/oauth/callback/ghl", get(connect::callback))
        .route("/connect/status/{state}", get(connect::status))
        .route("/connect/lofty", get(connect::start_lofty))
        .route("/oauth/callback/lofty", get(connect::callback_lofty))
        .route("/dead-letters", get(dead_letters::page_list))
        .route("/dead-letters/replay", post(dead_letters::page_replay))
        .route("/dead-letters/{id}", get(dead_letters::page_one))
        .route("/flows", get(flows::page_list))
        .route(
            "/flows/{id}",
            get(flows::page_editor).post(flows::page_post),
        )
        .route("/flows/{id}/switch", post(flows::page_switch))
        .route("/runs", get(runs::page_runs))
        .route("/health", get(health::page_health))
        .route("/review", get(review::page_list))
        .route("/review/settle", post(review::page_settle))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin::authenticate,
        ));
    let webhooks = Router::new()
        .route("/webhooks/ghl", post(ghl_webhook))
        .route("/webhooks/lofty/{key}", post(lofty_webhook))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            webhook_allowlist,
        ));
    let secure = state.admin.settings.secure;
    Router::new()
        .merge(admin_side)
        .merge(webhooks)
        .route("/assets/app.css", get(pages::stylesheet))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            secure,
            admin::security_headers,
        ))
        .layer(axum::middleware::from_fn(request_id))
}

/// Gives each request an id (the caller's `X-Request-Id` when it is a plain short
/// token, else a new one), runs it inside a span carrying it, so every log line of
/// the request names it, and echoes it in the answer's `X-Request-Id`.
async fn request_id(mut req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use tracing::Instrument;
    let given = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_owned);
    let id = given.unwrap_or_else(|| admin::random_token()[..16].to_owned());
    if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
        req.headers_mut().insert("x-request-id", v.clone());
        // The route's template, never the path itself: a Lofty webhook path holds
        // its connection's secret key.
        let route = req
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map_or("unmatched", |m| m.as_str())
            .to_owned();
        let span = tracing::info_span!("request", request_id = %id, method = %req.method(), route = %route);
        let mut resp = next.run(req).instrument(span).await;
        resp.headers_mut().insert("x-request-id", v);
        return resp;
    }
    next.run(req).await
}

/// Refuses a webhook from an address outside the route's allowlist
/// (`[intake] ghl_allow_from`, `lofty_allow_from`).
async fn webhook_allowlist(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let list = if req.uri().path().starts_with("/webhooks/lofty/") {
        &state.webhook_allow.lofty
    } else {
        &state.webhook_allow.ghl
    };
    let ip = admin::request_addr(&req, state.admin.settings.trust_forwarded_for);
    if !admin::allowed(list, ip) {
        tracing::warn!(addr = ?ip, path = req.uri().path(), "WebhookRejected: address not allowed");
        return ApiError::with_status(
            StatusCode::FORBIDDEN,
            "this address may not post to this webhook (intake allowlist)",
        )
        .into_response();
    }
    next.run(req).await
}

/// Serves on an already bound listener (the application binds first to learn the
/// address, so port 0 works), within `limits` (see [`serve`]).
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ServeLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve::serve(listener, router(state), limits, shutdown).await
}

/// GET /metrics: the process's counters (see [`wire::metrics`]) and the queue's
/// depth, read from the store now. Open like `/healthz` (no ids or secrets in it);
/// `admin.allow_from` does not cover it: keep it off the internet at the proxy.
async fn metrics(State(state): State<AppState>) -> Response {
    match state.store.queue_depths().await {
        Ok(depths) => {
            for (queue, n) in depths {
                wire::metrics::set_queue_depth(&queue, n);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "MetricsIncomplete: the queue depth could not be read")
        }
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            wire::metrics::CONTENT_TYPE,
        )],
        wire::metrics::encode(),
    )
        .into_response()
}

/// GET /readyz: ready when the journal takes a write (a probe row, written through
/// the intake's writer within the GHL deadline) and the queue can be read. The
/// answer names each part and what is wrong with it.
async fn readyz(State(state): State<AppState>) -> Response {
    let deadline = state.intake.settings().ghl_deadline;
    let journal = match state.intake.probe(deadline).await {
        Ok(took) => json!({"ready": true, "ms": took.as_millis() as u64}),
        Err(e) => {
            tracing::error!(error = %e, "ReadinessFailed: the journal cannot take a write");
            json!({"ready": false, "error": format!("cannot journal a delivery within {} ms: {e}", deadline.as_millis())})
        }
    };
    let queue = match tokio::time::timeout(deadline, state.store.queue_stats()).await {
        Ok(Ok(stats)) => json!({"ready": true, "jobs": stats}),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "ReadinessFailed: the queue cannot be read");
            json!({"ready": false, "error": "the queue cannot be read (the database is unavailable)"})
        }
        Err(_) => {
            json!({"ready": false, "error": format!("the queue could not be read within {} ms", deadline.as_millis())})
        }
    };
    let parts = [("journal", &journal), ("queue", &queue)];
    let not_ready: Vec<&str> = parts
        .iter()
        .filter(|(_, v)| v["ready"] != json!(true))
        .map(|(name, _)| *name)
        .collect();
    let body = json!({
        "status": if not_ready.is_empty() { "ready" } else { "not_ready" },
        "not_ready": not_ready,
        "backend": state.store.backend_name(),
        "journal": journal,
        "queue": queue,
    });
    let status = if not_ready.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// The 429 that makes a sender retry, naming why the journal did not take it.
fn journal_busy(what: &str, busy: &engine::IntakeBusy) -> ApiError {
    ApiError::busy(
        busy.retry_after.as_secs().max(1),
        format_args!("cannot journal {what}; answering 429 so it is retried: {busy}"),
    )
}

/// A webhook's body must be JSON: a `Content-Type` that declares something else is
/// refused (415); none at all is taken (the body must still parse).
fn json_body(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(axum::http::header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("(not text)");
    let essence = text.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        tracing::warn!(content_type = %text, "WebhookRejected: not JSON");
        Err(ApiError::not_json(text))
    }
}

/// The answer to a delivery already journaled: 409, so a replay is never taken for
/// one processed (GHL retries only a 429; the first delivery's work goes on).
fn duplicate(what: &str) -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::CONFLICT,
        Json(json!({
            "status": "duplicate",
            "error": format!("{what} was already received; it is not processed again"),
        })),
    )
}

type Answer = (StatusCode, Json<serde_json::Value>);

async fn ghl_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Answer, ApiError> {
    let until = Instant::now() + state.intake.settings().ghl_deadline;
    state.verifier.verify(&headers, &body).map_err(|e| {
        tracing::warn!(error = %e, "WebhookRejected: bad or missing signature");
        ApiError::rejected(format!("signature check failed: {e}"))
    })?;
    json_body(&headers)?;
    let (journal, event, job) = engine::intake::ghl_delivery(&body).map_err(|e| {
        tracing::warn!(error = %e, "WebhookRejected: GHL webhook refused");
        match e {
            engine::intake::IntakeError::UnknownType(_) => ApiError::unprocessable(e.to_string()),
            _ => ApiError::bad_request(e.to_string()),
        }
    })?;
    drop(body);
    match state.intake.submit(journal, vec![job], until).await {
        Ok(Journaled::New(id)) => {
            wire::metrics::events_received("ghl", 1);
            tracing::info!(event = id, webhook_id = %event.webhook_id, event_type = %event.event_type, "EventJournaled");
            Ok((StatusCode::OK, Json(json!({"status": "accepted"}))))
        }
        Ok(Journaled::Duplicate(_)) => Ok(duplicate(&format!("webhook {}", event.webhook_id))),
        Err(busy) => Err(journal_busy(
            &format!("GHL webhook {}", event.webhook_id),
            &busy,
        )),
    }
}

async fn lofty_webhook(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Answer, ApiError> {
    let settings = state.intake.settings();
    let until = Instant::now() + settings.lofty_deadline;
    let owner = match tokio::time::timeout_at(until, state.store.webhook_key_owner(&key)).await {
        Ok(Ok(owner)) => owner,
        Ok(Err(e)) => {
            return Err(journal_busy(
                "a Lofty delivery",
                &engine::IntakeBusy {
                    reason: format!("its webhook key could not be looked up: {e}"),
                    retry_after: std::time::Duration::from_secs(5),
                },
            ));
        }
        Err(_) => {
            return Err(journal_busy(
                "a Lofty delivery",
                &engine::IntakeBusy {
                    reason: "its webhook key could not be looked up before the deadline".to_owned(),
                    retry_after: std::time::Duration::from_secs(5),
                },
            ));
        }
    }
    .ok_or_else(|| {
        tracing::warn!("WebhookRejected: unknown Lofty webhook key");
        ApiError::not_found("unknown webhook URL")
    })?;
    json_body(&headers)?;
    let (event, job, batch) =
        engine::intake::lofty_delivery(&owner, &body, state.store.now(), settings).map_err(|e| {
            tracing::warn!(connection = %owner, error = %e, "WebhookRejected: Lofty delivery refused");
            match e {
                engine::intake::IntakeError::Lofty(lofty::webhook::WebhookError::TooManyChanges { .. }) => {
                    ApiError::too_large(format!("{e} (intake.lofty_max_changes); the sync's reconciliation walk will pick these records up"))
                }
                _ => ApiError::bad_request(e.to_string()),
            }
        })?;
    drop(body);
    let (changes, list) = (batch.changes.len(), batch.list_id);
    drop(batch);
    match state.intake.submit(event, vec![job], until).await {
        Ok(Journaled::New(id)) => {
            wire::metrics::events_received("lofty", changes as u64);
            tracing::info!(event = id, connection = %owner, list, changes, "EventJournaled");
            Ok((
                StatusCode::OK,
                Json(json!({"status": "accepted", "changes": changes})),
            ))
        }
        Ok(Journaled::Duplicate(_)) => Ok(duplicate("this Lofty delivery")),
        Err(busy) => {
            tracing::error!(connection = %owner, list, changes, error = %busy, "DeliveryRefused: a Lofty delivery could not be journaled; Lofty documents no retries, so the reconciliation walk must close this gap");
            Err(journal_busy("a Lofty delivery", &busy))
        }
    }
}
