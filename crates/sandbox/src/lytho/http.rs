//! The HTTP edge of the Lytho emulator: error bodies, query parsing the way an
//! ASP.NET API binds it, bearer tokens, rate limits, faults and counters.
//!
//! [`gate`] runs before every `/v1` route: it counts the request, applies injected
//! faults, resolves the bearer token (401 when missing, unknown, expired or
//! revoked) and spends one unit of the client's request window, adding
//! `X-RateLimit-*` headers to the answer. [`open_gate`] runs before the token
//! endpoint and the pre-signed file URLs: faults only, no bearer token.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use rand::Rng;
use serde_json::{Value, json};

use super::state::{Inner, Shared, now_ms};

/// An error in the emulator's shape `{"code": "...", "message": "..."}`.
///
/// Lytho documents only "check the body for an error code and message"; the key
/// names are the emulator's choice (see `docs/LYTHO.md`).
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    /// Extra headers (`WWW-Authenticate`, rate-limit headers).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"code": code, "message": message.into()}),
            headers: Vec::new(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        let mut err = Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message);
        err.headers.push((
            HeaderName::from_static("www-authenticate"),
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        ));
        err
    }
    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            message,
        )
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "An unexpected error occurred.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(self.body)).into_response();
        for (name, value) in self.headers {
            resp.headers_mut().insert(name, value);
        }
        resp
    }
}

pub type ApiResult = Result<Response, ApiError>;

/// 200 with a JSON body.
pub fn ok(body: Value) -> ApiResult {
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// Answer to an unknown path.
pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("No resource matches {method} {}", uri.path()))
}

/// The query string as (key, value) pairs, looked up case-insensitively as ASP.NET
/// model binding does (`pageSize` and `PageSize` are the same parameter).
#[derive(Debug, Default)]
pub struct QueryPairs(pub Vec<(String, String)>);

impl QueryPairs {
    pub fn from_uri(uri: &Uri) -> Self {
        let pairs = uri
            .query()
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Self(pairs)
    }

    /// The first non-empty value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case(key) && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated key (`ids=1&ids=2`).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `page`: required or defaulting to 1; a positive integer.
    pub fn page(&self, required: bool) -> Result<usize, ApiError> {
        match self.get("page") {
            None if required => Err(ApiError::bad_request("The page field is required.")),
            None => Ok(1),
            Some(v) => match v.parse::<i32>() {
                Ok(n) if n >= 1 => Ok(usize::try_from(n).unwrap_or(1)),
                _ => Err(ApiError::bad_request(format!(
                    "The value '{v}' is not valid for page. It must be an integer of at least 1."
                ))),
            },
        }
    }

    /// `pageSize`: one of 10, 20, 30 (or the enum names Default, Twenty, Thirty);
    /// required or defaulting to 10.
    pub fn page_size(&self, required: bool) -> Result<usize, ApiError> {
        let Some(v) = self.get("pageSize") else {
            return if required {
                Err(ApiError::bad_request("The pageSize field is required."))
            } else {
                Ok(10)
            };
        };
        match v.to_ascii_lowercase().as_str() {
            "10" | "default" => Ok(10),
            "20" | "twenty" => Ok(20),
            "30" | "thirty" => Ok(30),
            _ => Err(ApiError::bad_request(format!(
                "The value '{v}' is not valid for pageSize. Allowed values: 10, 20, 30."
            ))),
        }
    }

    /// `ids`: one or more int32 values, repeated.
    pub fn ids(&self) -> Result<Vec<i32>, ApiError> {
        let raw = self.all("ids");
        let mut out = Vec::with_capacity(raw.len());
        for v in raw.into_iter().filter(|v| !v.is_empty()) {
            let id = v.parse::<i32>().map_err(|_| {
                ApiError::bad_request(format!("The value '{v}' is not valid for ids."))
            })?;
            if !out.contains(&id) {
                out.push(id);
            }
        }
        if out.is_empty() {
            return Err(ApiError::bad_request("The ids field is required."));
        }
        Ok(out)
    }

    /// `format`: `html` (default) or `plain`.
    pub fn plain_format(&self) -> Result<bool, ApiError> {
        match self.get("format").map(str::to_ascii_lowercase).as_deref() {
            None | Some("html") => Ok(false),
            Some("plain") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "The value '{other}' is not valid for format. Allowed values: html, plain."
            ))),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::from_uri(&parts.uri))
    }
}

/// One page of a list: `{items, page, pageSize, totalCount}`.
pub fn page_of(items: Vec<Value>, page: usize, page_size: usize) -> Value {
    let total = items.len();
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(page_size))
        .take(page_size)
        .collect();
    json!({"items": slice, "page": page, "pageSize": page_size, "totalCount": total})
}

pub use crate::common::bearer;

/// `GET /v1/task/{id}`: the route a request counts under (numbers become `{id}`).
fn route_label(method: &Method, path: &str) -> String {
    let shape: Vec<&str> = path
        .split('/')
        .map(|s| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                s
            }
        })
        .collect();
    format!("{method} {}", shape.join("/"))
}

/// Latency and injected 500s, shared by both gates. Returns the latency to wait
/// and whether to fail the request.
fn faults(inner: &mut Inner) -> (u64, bool) {
    let f = &inner.rt.faults;
    let fail = f.error_rate > 0.0 && rand::rng().random_bool(f.error_rate.clamp(0.0, 1.0));
    if fail {
        inner.rt.counters.injected_errors += 1;
    }
    (inner.rt.faults.latency_ms, fail)
}

/// Middleware of the token endpoint and file URLs: faults only.
pub async fn open_gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let (latency, fail) = faults(&mut shared.lock());
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if fail {
        return ApiError::internal().into_response();
    }
    next.run(req).await
}

enum Decision {
    Pass(HeaderMap),
    Reject(Response),
}

/// Middleware of every `/v1` route (see the module docs).
pub async fn gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let route = route_label(req.method(), req.uri().path());
    let token = bearer(req.headers()).map(str::to_owned);
    let (latency, decision) = {
        let mut inner = shared.lock();
        inner.rt.counters.requests += 1;
        *inner.rt.counters.by_route.entry(route).or_default() += 1;
        let (latency, fail) = faults(&mut inner);
        let decision = if fail {
            Decision::Reject(ApiError::internal().into_response())
        } else {
            decide(&mut inner, token.as_deref())
        };
        (latency, decision)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match decision {
        Decision::Reject(resp) => resp,
        Decision::Pass(headers) => {
            let mut resp = next.run(req).await;
            resp.headers_mut().extend(headers);
            resp
        }
    }
}

fn decide(inner: &mut Inner, token: Option<&str>) -> Decision {
    let grant = token.and_then(|t| inner.world.tokens.get(t));
    let client_id = match (token, grant) {
        (None, _) => {
            inner.rt.counters.unauthorized += 1;
            let err = ApiError::unauthorized("Missing bearer token.");
            return Decision::Reject(err.into_response());
        }
        (Some(_), Some(g)) if !g.revoked && g.expires_at > Utc::now() => g.client_id.clone(),
        (Some(_), _) => {
            inner.rt.counters.unauthorized += 1;
            let err = ApiError::unauthorized("The access token is invalid or has expired.");
            return Decision::Reject(err.into_response());
        }
    };
    let rate = inner.rt.rate;
    let window_ms = u64::try_from(rate.window.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let now = now_ms();
    let storm = crate::common::take_storm(&mut inner.rt.faults.storm_429);
    let window = &mut inner.rt.buckets.entry(client_id).or_default().window;
    window.roll(now, window_ms);
    let limited = storm || window.full(rate.max_per_window);
    if !limited {
        window.count += 1;
    }
    let reset_secs = window
        .ends_at(window_ms)
        .saturating_sub(now)
        .div_ceil(1000)
        .max(1);
    let mut headers = HeaderMap::new();
    headers.insert("x-ratelimit-limit", HeaderValue::from(rate.max_per_window));
    headers.insert(
        "x-ratelimit-remaining",
        HeaderValue::from(window.remaining(rate.max_per_window)),
    );
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset_secs));
    if limited {
        inner.rt.counters.rate_limited += 1;
        let mut err = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too Many Requests",
        );
        err.headers = headers
            .into_iter()
            .filter_map(|(name, value)| Some((name?, value)))
            .collect();
        err.headers.push((
            HeaderName::from_static("retry-after"),
            HeaderValue::from(reset_secs),
        ));
        return Decision::Reject(err.into_response());
    }
    Decision::Pass(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_binding() {
        let uri: Uri = "/v1/task?IDS=3&ids=1&ids=3&Page=2&pagesize=Twenty"
            .parse()
            .unwrap();
        let q = QueryPairs::from_uri(&uri);
        assert_eq!(q.ids().unwrap(), vec![3, 1]);
        assert_eq!(q.page(true).unwrap(), 2);
        assert_eq!(q.page_size(true).unwrap(), 20);
        let q = QueryPairs::from_uri(&"/v1/task?pageSize=15&ids=x".parse().unwrap());
        assert!(q.page_size(true).is_err());
        assert!(q.page(true).is_err());
        assert_eq!(q.page(false).unwrap(), 1);
        assert!(q.ids().is_err());
        assert_eq!(
            route_label(&Method::GET, "/v1/task/20001/users"),
            "GET /v1/task/{id}/users"
        );
    }

    #[test]
    fn paging() {
        let items: Vec<Value> = (0..25).map(|i| json!(i)).collect();
        let p = page_of(items.clone(), 3, 10);
        assert_eq!(p["items"], json!([20, 21, 22, 23, 24]));
        assert_eq!(p["totalCount"], 25);
        assert_eq!(page_of(items, 4, 10)["items"], json!([]));
    }
}
