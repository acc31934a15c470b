//! Who is calling the admin side, and what they may do.
//!
//! Three ways in, each with a role (`admin` changes things, `viewer` reads):
//! - a **session cookie** from `/login` (a person with an account; name and
//!   Argon2id password). Sessions live in the store, so logout ends them on the
//!   server, any instance sharing the database accepts them, and they end when idle;
//! - an **API token** (`ghlsync admin token create`), sent as `Authorization: Bearer`;
//!   only its hash is stored;
//! - the **operator token** (`admin_token`, `<data_dir>/admin.token`): what the CLI
//!   on the host uses to drive the server (an admin).
//!
//! [`authenticate`] runs in front of every admin route: it checks the address
//! against `admin.allow_from`, finds the caller, and refuses a state-changing
//! browser request whose CSRF token or `Origin` is wrong (403). Wrong passwords and
//! wrong tokens are throttled per account and per address ([`Throttle`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};
pub use store::Role;

use crate::AppState;
use crate::error::ApiError;

/// Cookie carrying the admin session.
pub const SESSION_COOKIE: &str = "ghlsync_session";
/// Form field (or `X-CSRF-Token` header) carrying the session's CSRF token.
pub const CSRF_FIELD: &str = "csrf";

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// How the admin side is guarded (from the configuration).
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after login, used or not.
    pub lifetime: Duration,
    /// Cookies get `Secure` (the public URL is https).
    pub secure: bool,
    /// `scheme://host[:port]` of the public URL: a browser's `Origin` must be it
    /// (or the request's own host).
    pub origin: String,
    /// Addresses allowed on the admin side; empty: any.
    pub allow_from: Vec<ipnet::IpNet>,
    /// Take the client address from the last `X-Forwarded-For` entry (behind a
    /// reverse proxy that sets it).
    pub trust_forwarded_for: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(3600),
            lifetime: Duration::from_secs(12 * 3600),
            secure: false,
            origin: String::new(),
            allow_from: Vec::new(),
            trust_forwarded_for: false,
        }
    }
}

/// How a caller got in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A browser session; `csrf` is its token (also what binds an OAuth flow to it).
    Session { id: String, csrf: String },
    /// An API token (its name is the caller's).
    Token,
    /// The operator token.
    Operator,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The account or token name (`operator` for the operator token).
    pub name: String,
    pub role: Role,
    pub via: Via,
}

impl Caller {
    /// The session's CSRF token, for forms (none for token callers).
    pub fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { csrf, .. } => csrf,
            _ => "",
        }
    }

    /// What binds an OAuth flow to this caller: the session's CSRF token for a
    /// browser (so the callback must come back in the same session), nothing for
    /// a token caller (the single-use state alone binds it).
    pub fn flow_binding(&self) -> Option<&str> {
        match &self.via {
            Via::Session { csrf, .. } => Some(csrf),
            _ => None,
        }
    }
}

/// Failures counted per key (an account or an address) in a sliding window.
#[derive(Debug)]
pub struct Throttle {
    window: Duration,
    per_account: usize,
    per_address: usize,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

/// Keys kept at most (the oldest are dropped past this), so a flood of addresses
/// cannot grow memory without bound.
const THROTTLE_KEYS: usize = 100_000;

impl Default for Throttle {
    fn default() -> Self {
        Self::new(Duration::from_secs(15 * 60), 5, 20)
    }
}

impl Throttle {
    /// At most `per_account` failures for one account and `per_address` from one
    /// address within `window`.
    pub fn new(window: Duration, per_account: usize, per_address: usize) -> Self {
        Self {
            window,
            per_account,
            per_address,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn key_limit(&self, key: &str) -> usize {
        if key.starts_with("addr:") {
            self.per_address
        } else {
            self.per_account
        }
    }

    fn wait(
        &self,
        map: &HashMap<String, Vec<Instant>>,
        keys: &[String],
        now: Instant,
    ) -> Option<Duration> {
        keys.iter()
            .filter_map(|k| {
                let live: Vec<&Instant> = map
                    .get(k)?
                    .iter()
                    .filter(|t| now.duration_since(**t) < self.window)
                    .collect();
                (live.len() >= self.key_limit(k))
                    .then(|| self.window.saturating_sub(now.duration_since(*live[0])))
            })
            .max()
    }

    /// How long until `keys` may try again; `None` when none is over its limit.
    pub fn blocked(&self, keys: &[String]) -> Option<Duration> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        self.wait(&map, keys, Instant::now())
    }

    /// Starts an attempt: refused (with the wait) when a key is over its limit, else
    /// counted as a failure against each key at once, so attempts running side by
    /// side cannot all pass the check. [`Throttle::succeeded`] takes it back.
    pub fn attempt(&self, keys: &[String]) -> Result<Instant, Duration> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(wait) = self.wait(&map, keys, now) {
            return Err(wait);
        }
        Self::record(&mut map, keys, now, self.window);
        Ok(now)
    }

    /// The attempt begun at `at` succeeded: it no longer counts against `keys`.
    pub fn succeeded(&self, keys: &[String], at: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for k in keys {
            if let Some(list) = map.get_mut(k)
                && let Some(i) = list.iter().position(|t| *t == at)
            {
                list.remove(i);
            }
        }
    }

    fn record(
        map: &mut HashMap<String, Vec<Instant>>,
        keys: &[String],
        now: Instant,
        window: Duration,
    ) {
        if map.len() >= THROTTLE_KEYS {
            map.retain(|_, v| v.iter().any(|t| now.duration_since(*t) < window));
            if map.len() >= THROTTLE_KEYS {
                map.clear();
            }
        }
        for k in keys {
            let list = map.entry(k.clone()).or_default();
            list.retain(|t| now.duration_since(*t) < window);
            list.push(now);
        }
    }

    /// Counts a failure against each key.
    pub fn fail(&self, keys: &[String]) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        Self::record(&mut map, keys, Instant::now(), self.window);
    }

    /// Forgets an account's failures (after a correct password).
    pub fn clear(&self, key: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(key);
    }
}

/// The operator token, the throttle and the settings.
pub struct AdminAuth {
    /// A random per-process key: candidate tokens are compared through their MAC under
    /// it, so the comparison takes the same time wherever they differ.
    compare: hmac::Key,
    operator_tag: hmac::Tag,
    pub throttle: Throttle,
    pub settings: AuthSettings,
}

impl std::fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminAuth")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl AdminAuth {
    pub fn new(operator_token: &SecretString, settings: AuthSettings) -> Self {
        let mut random = [0u8; 32];
        rand::rng().fill_bytes(&mut random);
        let compare = hmac::Key::new(hmac::HMAC_SHA256, &random);
        let operator_tag = hmac::sign(&compare, operator_token.expose_secret().as_bytes());
        Self {
            compare,
            operator_tag,
            throttle: Throttle::default(),
            settings,
        }
    }

    pub fn is_operator(&self, candidate: &str) -> bool {
        hmac::verify(
            &self.compare,
            candidate.as_bytes(),
            self.operator_tag.as_ref(),
        )
        .is_ok()
    }

    /// The `Set-Cookie` value opening session `id`.
    pub fn session_cookie(&self, id: &str) -> String {
        format!(
            "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Lax; Path=/; Max-Age={}{}",
            self.settings.lifetime.as_secs(),
            if self.settings.secure { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn cleared_cookie(&self) -> String {
        format!(
            "{SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{}",
            if self.settings.secure { "; Secure" } else { "" }
        )
    }
}

/// The session cookie's value in a request.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|c| c.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, v)| *k == SESSION_COOKIE && !v.is_empty())
        .map(|(_, v)| v)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The client's address: the connection's peer, or the last `X-Forwarded-For`
/// entry when the server is told it sits behind a proxy.
pub fn client_addr(
    parts_headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trust: bool,
) -> Option<IpAddr> {
    if trust
        && let Some(ip) = parts_headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return Some(ip);
    }
    peer.map(|p| p.ip())
}

/// The address of a request (see [`client_addr`]).
pub fn request_addr(req: &Request, trust: bool) -> Option<IpAddr> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    client_addr(req.headers(), peer, trust)
}

/// The client's address (see [`client_addr`]), for handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    /// The throttle key of this address.
    pub fn key(&self) -> String {
        format!("addr:{}", self.0.map(|i| i.to_string()).unwrap_or_default())
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        Ok(Self(client_addr(
            &parts.headers,
            peer,
            state.admin.settings.trust_forwarded_for,
        )))
    }
}

/// Whether `ip` may pass an allowlist (an empty list lets everyone pass).
pub fn allowed(list: &[ipnet::IpNet], ip: Option<IpAddr>) -> bool {
    list.is_empty() || ip.is_some_and(|ip| list.iter().any(|n| n.contains(&ip)))
}

/// Whether the caller asked for JSON (the CLI, scripts).
pub fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"))
}

/// A browser's `Origin` must be ours: the public URL's, or the host it asked for.
fn same_origin(headers: &HeaderMap, ours: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Browsers send Origin on every cross-site POST; its absence is a
        // same-site form or a non-browser client (which cannot carry our cookie
        // without the user's help). SameSite=Lax and the CSRF token cover the rest.
        return true;
    };
    if origin == "null" {
        return false;
    }
    if !ours.is_empty() && origin.eq_ignore_ascii_case(ours) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    host.is_some_and(|h| {
        origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(h))
    })
}

fn forbidden(message: &str) -> Response {
    ApiError::with_status(StatusCode::FORBIDDEN, message).into_response()
}

fn csrf_in_form(body: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned())
}

/// Constant-time equality of two tokens.
fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Finds the caller and guards state-changing browser requests (see the module
/// docs). Adds [`Caller`] to the request when there is one.
pub async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let auth = &state.admin;
    let ip = request_addr(&req, auth.settings.trust_forwarded_for);
    if !allowed(&auth.settings.allow_from, ip) {
        tracing::warn!(addr = ?ip, "AdminRefused: address not in admin.allow_from");
        return forbidden("your address is not allowed on the admin side (admin.allow_from)");
    }
    let (mut parts, body) = req.into_parts();
    let mut caller = None;
    if let Some(token) = bearer(&parts.headers) {
        let keys = [ClientIp(ip).key()];
        let attempt = match auth.throttle.attempt(&keys) {
            Ok(at) => at,
            Err(wait) => {
                return ApiError::throttled(
                    wait.as_secs().max(1),
                    "too many wrong tokens from this address; wait and try again",
                )
                .into_response();
            }
        };
        if auth.is_operator(token) {
            auth.throttle.succeeded(&keys, attempt);
            caller = Some(Caller {
                name: "operator".to_owned(),
                role: Role::Admin,
                via: Via::Operator,
            });
        } else {
            match state.store.use_api_token(token).await {
                Ok(Some((name, role))) => {
                    auth.throttle.succeeded(&keys, attempt);
                    caller = Some(Caller {
                        name,
                        role,
                        via: Via::Token,
                    });
                }
                Ok(None) => {
                    tracing::warn!(addr = ?ip, "AdminRefused: unknown API token");
                    return ApiError::unauthorized().into_response();
                }
                Err(e) => {
                    auth.throttle.succeeded(&keys, attempt);
                    return ApiError::unavailable("cannot check the API token", e).into_response();
                }
            }
        }
    } else if let Some(id) = session_cookie(&parts.headers) {
        match state.store.session(id).await {
            Ok(Some(s)) => {
                let now = state.store.now();
                let idle_ms = i64::try_from(auth.settings.idle.as_millis()).unwrap_or(i64::MAX);
                if s.expires_at > now && s.last_seen_at.saturating_add(idle_ms) > now {
                    if now - s.last_seen_at > 30_000 {
                        let _ = state.store.touch_session(id).await;
                    }
                    caller = Some(Caller {
                        name: s.user,
                        role: s.role,
                        via: Via::Session {
                            id: id.to_owned(),
                            csrf: s.csrf,
                        },
                    });
                }
            }
            Ok(None) => {}
            Err(e) => {
                return ApiError::unavailable("cannot check the session", e).into_response();
            }
        }
    }
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let mut body = body;
    if !safe && !parts.headers.contains_key(header::AUTHORIZATION) {
        // A browser request: same origin, and (with a session) its CSRF token.
        if !same_origin(&parts.headers, &auth.settings.origin) {
            tracing::warn!(addr = ?ip, "AdminRefused: cross-origin request");
            return forbidden("cross-origin request refused");
        }
        if let Some(Caller {
            via: Via::Session { csrf, .. },
            ..
        }) = &caller
        {
            let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
                return ApiError::bad_request("the request body could not be read").into_response();
            };
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .or_else(|| csrf_in_form(&bytes));
            if !sent.is_some_and(|s| tokens_equal(&s, csrf)) {
                tracing::warn!(addr = ?ip, "AdminRefused: missing or wrong CSRF token");
                return forbidden(
                    "missing or wrong CSRF token: reload the page and submit the form again",
                );
            }
            body = Body::from(bytes);
        }
    }
    if let Some(c) = caller {
        parts.extensions.insert(c);
    }
    let mut resp = next.run(Request::from_parts(parts, body)).await;
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Headers on every answer: no framing, no sniffing, a CSP that allows only our
/// own script and style, and HSTS behind TLS.
pub async fn security_headers(State(secure): State<bool>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if secure {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    resp
}

/// Any authenticated caller (a viewer or an admin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminCaller(pub Caller);

/// A caller allowed to change things (role `admin`); a viewer gets 403.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminOnly(pub Caller);

/// The caller, if any (pages that work for both, like the OAuth callback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaybeCaller(pub Option<Caller>);

/// Why a caller was refused: API callers (`/api/...`, `Accept: JSON`, a bearer
/// header) get a 401; a browser is sent to the login page and back; a viewer who
/// tries to change something gets a 403.
#[derive(Debug)]
pub enum AdminRejection {
    Unauthorized,
    Login { next: String },
    Forbidden,
}

impl IntoResponse for AdminRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized => ApiError::unauthorized().into_response(),
            Self::Forbidden => forbidden("this needs the admin role (you are a viewer)"),
            Self::Login { next } => {
                // Encoded for a query value; slashes stay readable.
                let next = url::form_urlencoded::byte_serialize(next.as_bytes())
                    .collect::<String>()
                    .replace("%2F", "/");
                Redirect::to(&format!("/login?next={next}")).into_response()
            }
        }
    }
}

fn refusal(parts: &Parts) -> AdminRejection {
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.clone(), |u| u.0.clone());
    let api = uri.path().starts_with("/api/")
        || wants_json(&parts.headers)
        || parts.headers.contains_key(header::AUTHORIZATION)
        || parts.method != Method::GET;
    if api {
        AdminRejection::Unauthorized
    } else {
        let next = uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        AdminRejection::Login { next }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AdminCaller {
    type Rejection = AdminRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Caller>() {
            Some(c) => Ok(Self(c.clone())),
            None => Err(refusal(parts)),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AdminOnly {
    type Rejection = AdminRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Caller>() {
            Some(c) if c.role == Role::Admin => Ok(Self(c.clone())),
            Some(_) => Err(AdminRejection::Forbidden),
            None => Err(refusal(parts)),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeCaller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<Caller>().cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_blocks_past_the_limit_and_forgets_after_success() {
        let t = Throttle::new(Duration::from_secs(60), 3, 5);
        let acct = vec!["user:ada".to_owned(), "addr:10.0.0.1".to_owned()];
        for _ in 0..2 {
            t.fail(&acct);
        }
        assert_eq!(t.blocked(&acct), None, "two failures of three allowed");
        // A successful attempt does not count; a failed one does.
        let at = t.attempt(&acct).unwrap();
        t.succeeded(&acct, at);
        assert_eq!(t.blocked(&acct), None);
        t.attempt(&acct).unwrap();
        assert!(
            t.attempt(&acct).is_err(),
            "three failures: the next is refused"
        );
        let wait = t.blocked(&acct).expect("blocked after three");
        assert!(wait <= Duration::from_secs(60) && wait > Duration::from_secs(50));
        // Another account from the same address: the address has 3 of its 5.
        let other = vec!["user:bob".to_owned(), "addr:10.0.0.1".to_owned()];
        assert_eq!(t.blocked(&other), None);
        t.fail(&other);
        t.fail(&other);
        assert!(t.blocked(&other).is_some(), "the address reached 5");
        t.clear("user:ada");
        assert!(t.blocked(&["user:ada".to_owned()]).is_none());
    }

    #[test]
    fn origins_must_be_ours() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(
            same_origin(&h, "https://sync.example.com"),
            "no Origin header"
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(
            same_origin(&h, "https://sync.example.com"),
            "the host asked for"
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://sync.example.com"),
        );
        assert!(same_origin(&h, "https://sync.example.com"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h, "https://sync.example.com"));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h, "https://sync.example.com"));
    }

    #[test]
    fn allowlists_and_forwarded_addresses() {
        let list: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert!(allowed(&[], None));
        assert!(allowed(&list, Some("10.1.2.3".parse().unwrap())));
        assert!(!allowed(&list, Some("192.168.1.1".parse().unwrap())));
        assert!(!allowed(&list, None));
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 10.0.0.9"),
        );
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert_eq!(client_addr(&h, Some(peer), false), Some(peer.ip()));
        assert_eq!(
            client_addr(&h, Some(peer), true),
            Some("10.0.0.9".parse().unwrap())
        );
    }

    #[test]
    fn session_cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; ghlsync_session=abc; b=2"),
        );
        assert_eq!(session_cookie(&h), Some("abc"));
        h.insert(header::COOKIE, HeaderValue::from_static("ghlsync_session="));
        assert_eq!(session_cookie(&h), None);
    }
}
