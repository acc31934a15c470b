//! The HTTP edge of the Lofty emulator: error bodies, credentials, the
//! `Content-Type` rule, rate limits, faults and request counters.
//!
//! One middleware ([`gate`]) runs before every API route: it counts the request,
//! applies injected faults, resolves `Authorization: token <key>` or
//! `Authorization: Bearer <oauth token>` into a [`Caller`], checks the OAuth grant's
//! API families, spends one unit of the credential's per-minute budget (adding
//! `X-RateLimit-Limit/-Remaining/-Reset` to the answer) and enforces
//! `Content-Type: application/json` on writes. Handlers then answer in Lofty's
//! `{code, message}` error shape.

use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::{Value, json};

use super::App;
use super::state::{Caller, Inner, now_ms};

/// `INVALID_PARAMETER`: validation failures.
pub const INVALID_PARAMETER: i64 = 20012;
/// `LEAD_NOT_EXIST`: lead missing, trashed or inaccessible.
pub const LEAD_NOT_EXIST: i64 = 20006;
/// `RESOURCE_NOT_EXIST`: note missing.
pub const RESOURCE_NOT_EXIST: i64 = 20007;
/// `USER_NOT_EXIST`: member lookup failed.
pub const USER_NOT_EXIST: i64 = 20003;
/// `PERMISSION_DENIED`: the caller cannot manage the lead (answered with 400).
pub const PERMISSION_DENIED: i64 = 20017;
/// "Content-type must be: application/json".
pub const CONTENT_TYPE: i64 = 20001;
/// "User in token does not exist." (an API key sent as `Bearer`).
pub const USER_IN_TOKEN: i64 = 200058;
/// The OAuth app was not granted this API.
pub const VENDOR_NO_PERMISSION: i64 = 200100;
/// `PARAMETER_TOO_LONG`.
pub const PARAMETER_TOO_LONG: i64 = 20043;
/// `PROPERTY_ADDRESS_EMPTY`.
pub const PROPERTY_ADDRESS_EMPTY: i64 = 200057;
/// `LEAD_PROPERTY_NOT_EXIST`: `property.id` is not on this lead.
pub const LEAD_PROPERTY_NOT_EXIST: i64 = 200108;
/// "Please enter url in right format" (webhook body with `url` instead of `callbackUrl`).
pub const URL_FORMAT: i64 = 20049;
/// Server error.
pub const SERVER_ERROR: i64 = 20005;

/// An error answered as Lofty does: `{code, message}` with a numeric or symbolic code.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<Value>, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"code": code.into(), "message": message.into()}),
        }
    }

    /// 400 `20012` INVALID_PARAMETER.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, INVALID_PARAMETER, message)
    }

    /// 400 with a symbolic code.
    pub fn bad(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn lead_not_exist() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            LEAD_NOT_EXIST,
            "The lead does not exist.",
        )
    }

    pub fn note_not_exist() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            RESOURCE_NOT_EXIST,
            "The resource does not exist.",
        )
    }

    pub fn task_not_exist() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "TASK_NOT_EXIST",
            "The task does not exist.",
        )
    }

    pub fn user_not_exist() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            USER_NOT_EXIST,
            "The user does not exist.",
        )
    }

    pub fn permission_denied() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            PERMISSION_DENIED,
            "Permission denied: you cannot manage this lead.",
        )
    }

    pub fn bad_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "BAD_CREDENTIALS",
            "Bad credentials.",
        )
    }

    pub fn server_error() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            SERVER_ERROR,
            "System error, please try again later.",
        )
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

/// 200 with an empty body (Lofty's answer to several writes and deletes).
pub fn empty() -> ApiResult {
    Ok(StatusCode::OK.into_response())
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(ApiError::bad_credentials)
    }
}

/// The request body parsed as JSON (`{}` when empty); bad JSON is a 400 `20012`.
#[derive(Debug)]
pub struct Body(pub Value);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        use crate::common::{BodyError, json_body};
        json_body(req, state).await.map(Body).map_err(|e| match e {
            BodyError::Read(e) => {
                ApiError::invalid(format!("Could not read the request body: {e}"))
            }
            BodyError::Parse(e) => ApiError::invalid(format!("JSON parse error: {e}")),
        })
    }
}

/// Query parameters, keeping repeated keys (`groupIds=1&groupIds=2`).
#[derive(Debug, Default)]
pub struct Query(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
            .map(Query)
            .map_err(|e| ApiError::invalid(format!("Bad query string: {e}")))
    }
}

impl Query {
    /// The first non-empty value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, comma-separated lists split.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// An integer parameter; a non-integer is a 400 `20012`.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| ApiError::invalid(format!("{key} must be an integer")))
            })
            .transpose()
    }

    /// A boolean parameter; anything but true/false is a 400 `20012`.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.get(key)
            .map(|v| match v.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(ApiError::invalid(format!("{key} must be true or false"))),
            })
            .transpose()
    }
}

/// A numeric path id; anything else is a 400 `20012`.
pub fn path_id(raw: &str, name: &str) -> Result<i64, ApiError> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id >= 1)
        .ok_or_else(|| ApiError::invalid(format!("{name} must be a positive integer")))
}

/// Answer to an unknown path, as Lofty's Spring stack does.
pub async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    let body = json!({
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "status": 404,
        "error": "Not Found",
        "message": format!("No handler found for {method} {}", uri.path()),
        "path": uri.path(),
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

/// Paths that take no API credential (the OAuth token endpoints).
fn is_open(path: &str) -> bool {
    path == "/oauth/token" || path == "/api/user-web/oauth/token"
}

/// The API family of a path, for OAuth grants limited to some APIs.
pub fn family(path: &str) -> &'static str {
    let rest = path
        .strip_prefix("/v1.0/")
        .or_else(|| path.strip_prefix("/v2.0/"))
        .unwrap_or(path);
    let first = rest.split('/').next().unwrap_or_default();
    match first {
        "leads" => "leads",
        "notes" => "notes",
        "tasks" => "tasks",
        "calendar" => "calendar",
        "me" | "members" | "users" => "members",
        "teamFeatures" | "team-features" => "team",
        "webhook" | "webhooks" => "webhooks",
        _ => "other",
    }
}

/// GET routes that Lofty's stack rejects with 415 when `Content-Type` is absent.
const GET_NEEDS_CONTENT_TYPE: &[&str] = &["/v1.0/teamFeatures/listCustomField"];

enum Decision {
    Open,
    Pass(Caller, HeaderMap),
    Reject(Response),
}

/// The middleware in front of every API route (see the module docs).
pub async fn gate(State(app): State<App>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let route = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map_or(path.as_str(), MatchedPath::as_str)
    );
    let (latency, broken, decision) = {
        let mut inner = app.shared.lock();
        let latency = inner.rt.faults.latency_ms;
        let decision = decide(&mut inner, &req, &path, &route);
        (latency, inner.rt.faults.break_answer(), decision)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match decision {
        Decision::Reject(resp) => resp,
        Decision::Open => next.run(req).await,
        Decision::Pass(caller, headers) => {
            let mut req = req;
            req.extensions_mut().insert(caller);
            let mut resp = next.run(req).await;
            resp.headers_mut().extend(headers);
            match broken {
                // Applied; the connection breaks while answering.
                Some(how) => crate::common::broken(resp, how).await,
                None => resp,
            }
        }
    }
}

fn reject(err: ApiError) -> Decision {
    Decision::Reject(err.into_response())
}

fn count(inner: &mut Inner, key: &str, route: &str) {
    let counter = inner.rt.counters.entry(key.to_owned()).or_default();
    counter.requests += 1;
    *counter.by_route.entry(route.to_owned()).or_default() += 1;
}

fn decide(inner: &mut Inner, req: &Request, path: &str, route: &str) -> Decision {
    let headers = req.headers();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(|v| v.split_once(' '))
        .map(|(scheme, value)| (scheme.to_ascii_lowercase(), value.trim().to_owned()));
    // Resolve the caller first so the request is counted under it.
    let now = now_ms();
    let resolved: Result<(Caller, String, u32, Option<&'static str>), ApiError> = match &auth {
        None => Err(ApiError::bad_credentials()),
        Some((scheme, value)) if scheme == "token" => match inner.world.api_keys.get(value) {
            Some(k) if !k.revoked => {
                let member = inner.world.member_by_user(k.member_user_id);
                match member {
                    Some(m) => Ok((
                        Caller {
                            member_user_id: m.member_user_id,
                            is_admin: m.is_admin,
                            vendor_id: 0,
                        },
                        format!("key:{value}"),
                        inner.rt.rate.key_limit,
                        None,
                    )),
                    None => Err(ApiError::bad_credentials()),
                }
            }
            _ => Err(ApiError::bad_credentials()),
        },
        Some((scheme, value)) if scheme == "bearer" => {
            if inner.world.api_keys.contains_key(value) {
                // A personal key sent as a bearer token (documented live behaviour).
                Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    USER_IN_TOKEN,
                    "User in token does not exist.",
                ))
            } else {
                match inner.world.tokens.get(value) {
                    Some(g) if !g.revoked && g.expires_ms.is_none_or(|t| t > now) => {
                        let family = family(path);
                        let denied = (!g.allows(family)).then_some(family);
                        match inner.world.member_by_user(g.member_user_id) {
                            Some(m) => Ok((
                                Caller {
                                    member_user_id: m.member_user_id,
                                    is_admin: m.is_admin,
                                    vendor_id: inner.world.app.vendor_id,
                                },
                                format!("app:{}", inner.world.app.client_id),
                                inner.rt.rate.oauth_limit,
                                denied,
                            )),
                            None => Err(ApiError::bad_credentials()),
                        }
                    }
                    _ => Err(ApiError::bad_credentials()),
                }
            }
        }
        Some(_) => Err(ApiError::bad_credentials()),
    };
    let counter_key = if is_open(path) {
        "oauth".to_owned()
    } else {
        resolved.as_ref().map_or_else(
            |_| "unauthenticated".to_owned(),
            |(c, ..)| c.member_user_id.to_string(),
        )
    };
    count(inner, &counter_key, route);
    count(inner, "total", route);

    let faults = &inner.rt.faults;
    if faults.error_rate > 0.0 && rand::rng().random_bool(faults.error_rate.clamp(0.0, 1.0)) {
        return reject(ApiError::server_error());
    }
    if is_open(path) {
        return Decision::Open;
    }
    let (caller, bucket_key, limit, denied) = match resolved {
        Ok(r) => r,
        Err(e) => return reject(e),
    };
    if let Some(family) = denied {
        return reject(ApiError::new(
            StatusCode::FORBIDDEN,
            VENDOR_NO_PERMISSION,
            format!("Sorry, the vendor does not have permission for this API. ({family})"),
        ));
    }

    // Per-credential window: OAuth apps share one budget, each key has its own.
    let now_u = u64::try_from(now).unwrap_or_default();
    let window_ms = inner.rt.rate.window_ms.max(1);
    let storm = crate::common::take_storm(&mut inner.rt.faults.storm_429)
        || crate::common::roll(inner.rt.faults.rate_429);
    let window = &mut inner.rt.buckets.entry(bucket_key).or_default().window;
    window.roll(now_u, window_ms);
    let limited = storm || window.full(limit);
    if !limited {
        window.count += 1;
    }
    let reset_secs = window.ends_at(window_ms).div_ceil(1000);
    let mut out = HeaderMap::new();
    out.insert("x-ratelimit-limit", HeaderValue::from(limit));
    out.insert(
        "x-ratelimit-remaining",
        HeaderValue::from(window.remaining(limit)),
    );
    out.insert("x-ratelimit-reset", HeaderValue::from(reset_secs));
    if limited {
        let key = caller.member_user_id.to_string();
        inner.rt.counters.entry(key).or_default().rate_limited += 1;
        inner
            .rt
            .counters
            .entry("total".into())
            .or_default()
            .rate_limited += 1;
        let body = json!({"message": "Too Many Requests"});
        let mut resp = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
        resp.headers_mut().extend(out);
        return Decision::Reject(resp);
    }

    let content_type_ok = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    let method = req.method();
    let write = method == Method::POST || method == Method::PUT || method == Method::DELETE;
    if write && !content_type_ok {
        // Observed as errorCode 20001; sent as `code` like every other error.
        let mut resp = ApiError::new(
            StatusCode::BAD_REQUEST,
            CONTENT_TYPE,
            "Content-type must be: application/json",
        )
        .into_response();
        resp.headers_mut().extend(out);
        return Decision::Reject(resp);
    }
    let route_path = route.split_once(' ').map_or("", |(_, p)| p);
    if method == Method::GET
        && GET_NEEDS_CONTENT_TYPE.contains(&route_path)
        && headers.get("content-type").is_none()
    {
        let body = json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "status": 415,
            "error": "Unsupported Media Type",
            "message": "Content-Type 'null' is not supported",
            "path": path,
        });
        let mut resp = (StatusCode::UNSUPPORTED_MEDIA_TYPE, Json(body)).into_response();
        resp.headers_mut().extend(out);
        return Decision::Reject(resp);
    }
    Decision::Pass(caller, out)
}
