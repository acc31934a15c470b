//! The HTTP edge of the GHL emulator: error bodies, the `Version` header, bearer
//! tokens, scopes, location scoping, rate limits, faults and request counters.
//!
//! One middleware ([`gate`]) runs before every API route: it counts the request,
//! applies injected faults, checks `Version`, resolves the bearer token into a
//! [`Caller`] and spends one unit of the (app or token, location) budget, adding
//! GHL's `X-RateLimit-*` headers to the answer. Handlers then ask the caller for a
//! scope and a location.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use rand::Rng;
use serde_json::{Value, json};

use super::state::{Grant, Shared, now_ms};

/// Versions GHL accepts in the `Version` header.
pub const VERSIONS: &[&str] = &["2021-07-28", "2021-04-15", "2023-02-21", "v3"];

/// An error answered in GHL's NestJS shape `{statusCode, message, error}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiError {
    fn with(status: StatusCode, message: impl Into<Value>) -> Self {
        let error = status.canonical_reason().unwrap_or("Error");
        Self {
            status,
            body: json!({"statusCode": status.as_u16(), "message": message.into(), "error": error}),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::with(StatusCode::BAD_REQUEST, message.into())
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::with(StatusCode::NOT_FOUND, message.into())
    }
    /// 422 with a `message` array, as class-validator reports.
    pub fn unprocessable(messages: Vec<String>) -> Self {
        Self::with(StatusCode::UNPROCESSABLE_ENTITY, json!(messages))
    }
    pub fn unauthorized(message: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            body: json!({"statusCode": 401, "message": message}),
        }
    }
    pub fn forbidden_location() -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            body: json!({"statusCode": 403, "message": "The token does not have access to this location."}),
        }
    }
    pub fn scope() -> Self {
        Self::unauthorized("The token is not authorized for this scope.")
    }
    /// 400 "This location does not allow duplicated contacts." with `meta`.
    pub fn duplicate(contact_id: &str, contact_name: &str, field: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            body: json!({
                "statusCode": 400,
                "message": "This location does not allow duplicated contacts.",
                "meta": {"contactId": contact_id, "contactName": contact_name, "matchingField": field},
            }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

pub type ApiResult = Result<Response, ApiError>;

/// 200 with a JSON body.
pub fn ok(body: Value) -> ApiResult {
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// 201 with a JSON body.
pub fn created(body: Value) -> ApiResult {
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub grant: Grant,
}

impl Caller {
    /// 401 unless the token carries `scope`.
    pub fn require(&self, scope: &str) -> Result<(), ApiError> {
        if self.grant.has_scope(scope) {
            Ok(())
        } else {
            Err(ApiError::scope())
        }
    }

    /// 403 unless the token may act on `location_id`.
    pub fn location(&self, location_id: &str) -> Result<(), ApiError> {
        match &self.grant.location_id {
            Some(own) if own == location_id => Ok(()),
            _ => Err(ApiError::forbidden_location()),
        }
    }

    /// The token's own location, or 403 for agency tokens on location-only routes.
    pub fn own_location(&self) -> Result<String, ApiError> {
        self.grant
            .location_id
            .clone()
            .ok_or_else(ApiError::forbidden_location)
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("Unauthorized"))
    }
}

/// Answer to an unknown path, NestJS style.
pub async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("Cannot {method} {}", uri.path()))
}

/// Paths that need no bearer token and no `Version` header.
fn is_open(path: &str) -> bool {
    path == "/oauth/token"
        || path.ends_with("/oauth/chooselocation")
        || path.starts_with("/oauth/chooselocation")
        || path.starts_with("/v2/oauth/chooselocation")
}

pub use crate::common::bearer;

/// The middleware in front of every API route (see the module docs).
pub async fn gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let route = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map_or(path.as_str(), MatchedPath::as_str)
    );
    let open = is_open(&path);
    let token = bearer(req.headers()).map(str::to_owned);

    // Resolve the caller and apply faults under one short lock.
    let (latency, lost_answer, broken, decision) = {
        let mut inner = shared.lock();
        let latency = inner.rt.faults.latency_ms;
        let lost = inner.rt.faults.lost_answer_rate;
        let lost_answer = lost > 0.0
            && req.method() != axum::http::Method::GET
            && !path.contains("/search")
            && rand::rng().random_bool(lost.clamp(0.0, 1.0));
        let grant = token
            .as_deref()
            .and_then(|t| inner.world.tokens.get(t).cloned());
        let counter_key = grant
            .as_ref()
            .map(|g| {
                g.location_id
                    .clone()
                    .unwrap_or_else(|| g.company_id.clone())
            })
            .unwrap_or_else(|| "unauthenticated".to_owned());
        let counter = inner.rt.counters.entry(counter_key).or_default();
        counter.requests += 1;
        *counter.by_route.entry(route.clone()).or_default() += 1;
        let decision = decide(&mut inner, open, token.as_deref(), grant, req.headers());
        let broken = inner.rt.faults.break_answer();
        (latency, lost_answer, broken, decision)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let v3 = req
        .headers()
        .get("version")
        .is_some_and(|v| v.as_bytes() == b"v3");
    if v3 && REMOVED_IN_V3.contains(&route.as_str()) {
        let target = req
            .uri()
            .path_and_query()
            .map_or(path.as_str(), |pq| pq.as_str());
        return ApiError::bad_request(format!(
            "Endpoint {target} not available in API version v3. This endpoint was removed in version v3. Please use a version before v3."
        ))
        .into_response();
    }
    let resp = match decision {
        Decision::Reject(resp) => return resp,
        Decision::Open => next.run(req).await,
        Decision::Pass(caller, headers) => {
            let mut req = req;
            req.extensions_mut().insert(caller);
            let mut resp = next.run(req).await;
            if lost_answer && resp.status().is_success() {
                // Applied, and the answer lost on the way back.
                return ApiError::with(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
                    .into_response();
            }
            resp.headers_mut().extend(headers);
            if let Some(how) = broken {
                // Applied; the connection breaks while answering.
                return crate::common::broken(resp, how).await;
            }
            resp
        }
    };
    if v3 && resp.status().is_success() {
        v3_success(resp).await
    } else {
        resp
    }
}

/// v2 routes the v3 API answers with 400 "removed in version v3".
const REMOVED_IN_V3: &[&str] = &[
    "GET /contacts/",
    "GET /contacts",
    "DELETE /contacts/{contactId}/campaigns/removeAll",
    "POST /oauth/locationToken",
    "GET /oauth/installedLocations",
];

/// v3 success bodies carry `succeeded` next to the legacy misspelt `succeded`.
async fn v3_success(resp: Response) -> Response {
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let mut parts = parts;
    let fixed = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(mut map))
            if map.contains_key("succeded") && !map.contains_key("succeeded") =>
        {
            let flag = map.get("succeded").cloned().unwrap_or(Value::Bool(true));
            map.insert("succeeded".to_owned(), flag);
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            serde_json::to_vec(&map).map_or(bytes, axum::body::Bytes::from)
        }
        _ => bytes,
    };
    Response::from_parts(parts, axum::body::Body::from(fixed))
}

enum Decision {
    Open,
    Pass(Caller, HeaderMap),
    Reject(Response),
}

fn decide(
    inner: &mut super::state::Inner,
    open: bool,
    token: Option<&str>,
    grant: Option<Grant>,
    headers: &HeaderMap,
) -> Decision {
    let faults = &mut inner.rt.faults;
    if faults.error_rate > 0.0 && rand::rng().random_bool(faults.error_rate.clamp(0.0, 1.0)) {
        let err = ApiError::with(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
        return Decision::Reject(err.into_response());
    }
    if open {
        return Decision::Open;
    }
    let version = headers.get("version").and_then(|v| v.to_str().ok());
    match version {
        Some(v) if VERSIONS.contains(&v) => {}
        Some(v) => {
            let msg = format!(
                "Version header '{v}' is not supported. Use one of: {}",
                VERSIONS.join(", ")
            );
            return Decision::Reject(ApiError::bad_request(msg).into_response());
        }
        None => {
            return Decision::Reject(
                ApiError::bad_request("Version header was not found").into_response(),
            );
        }
    }
    let Some(token) = token else {
        return Decision::Reject(ApiError::unauthorized("Unauthorized").into_response());
    };
    let Some(grant) = grant else {
        return Decision::Reject(ApiError::unauthorized("Invalid JWT").into_response());
    };
    if grant.revoked || grant.expires_at.is_some_and(|t| t <= Utc::now()) {
        return Decision::Reject(ApiError::unauthorized("Invalid JWT").into_response());
    }
    // Budget key: the app for OAuth tokens, the token itself for PITs; per resource.
    let who = match grant.kind {
        super::state::TokenKind::OAuth => inner.world.client_id.clone(),
        super::state::TokenKind::Pit => token.to_owned(),
    };
    let resource = grant
        .location_id
        .clone()
        .unwrap_or_else(|| grant.company_id.clone());
    let cfg = inner.rt.rate;
    let now = now_ms();
    let window_ms = u64::try_from(cfg.window.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    const DAY_MS: u64 = 86_400_000;
    let storm = crate::common::take_storm(&mut inner.rt.faults.storm_429);
    {
        let bucket = inner
            .rt
            .buckets
            .entry((who.clone(), resource.clone()))
            .or_default();
        bucket.burst.roll(now, window_ms);
        bucket.day.roll(now, DAY_MS);
    }
    let forced = storm || crate::common::roll(inner.rt.faults.rate_429);
    let bucket = inner.rt.buckets.entry((who, resource.clone())).or_default();
    let limited = forced || bucket.burst.full(cfg.max_per_window) || bucket.day.full(cfg.daily);
    if !limited {
        bucket.burst.count += 1;
        bucket.day.count += 1;
    }
    let mut out = HeaderMap::new();
    let mut put = |name: &'static str, v: u64| {
        out.insert(name, HeaderValue::from(v));
    };
    put("x-ratelimit-limit-daily", u64::from(cfg.daily));
    put(
        "x-ratelimit-daily-remaining",
        u64::from(bucket.day.remaining(cfg.daily)),
    );
    put("x-ratelimit-interval-milliseconds", window_ms);
    put("x-ratelimit-max", u64::from(cfg.max_per_window));
    put(
        "x-ratelimit-remaining",
        u64::from(bucket.burst.remaining(cfg.max_per_window)),
    );
    if limited {
        // Until the burst window ends, or until the day ends when the day is spent.
        let ends = if bucket.day.full(cfg.daily) {
            bucket.day.ends_at(DAY_MS)
        } else {
            bucket.burst.ends_at(window_ms)
        };
        let wait_ms = ends.saturating_sub(now).max(1);
        let counter = inner.rt.counters.entry(resource).or_default();
        counter.rate_limited += 1;
        let body = json!({"statusCode": 429, "message": "Too Many Requests", "error": "Too Many Requests"});
        let mut resp = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
        resp.headers_mut().extend(out);
        if let Ok(v) = HeaderValue::from_str(&wait_ms.div_ceil(1000).to_string()) {
            resp.headers_mut().insert("retry-after", v);
        }
        return Decision::Reject(resp);
    }
    Decision::Pass(Caller { grant }, out)
}
