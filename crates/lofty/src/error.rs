//! Errors of the Lofty client and their retry classes.
//!
//! Every failure surfaces as one [`LoftyError`]. The job queue asks
//! [`LoftyError::retry_class`] what to do next, with the same four classes as the GHL
//! client ([`RetryClass`], re-exported from `wire`): wait a given time (429), retry
//! (5xx, timeouts), re-authenticate (401, or a personal key sent as a bearer token), or
//! give up (other 4xx, with Lofty's code and message).
//!
//! Lofty's error bodies are `{"code": <number or NAME>, "message": "..."}`, but the spec
//! declares most error bodies as a bare JSON *string*, practitioners have seen
//! `errorCode` instead of `code`, and framework errors come in Spring's
//! `{status, error, message, path}` shape; [`ApiError::from_parts`] accepts all of them
//! and an empty body. Credentials never appear in errors.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub use wire::RetryClass;
use wire::TransportError;

/// Wait used for a 429 when the answer says nothing about when to come back (Lofty's
/// rate window is one minute).
pub const DEFAULT_429_WAIT: Duration = Duration::from_secs(60);

/// Longest server message kept from a non-JSON error body, in characters.
const MAX_TEXT_MESSAGE: usize = 500;

/// Lofty error codes seen in the spec, the docs and practitioners' notes.
pub mod codes {
    /// Validation failure (`INVALID_PARAMETER`).
    pub const INVALID_PARAMETER: i64 = 20012;
    /// Lead missing, trashed or not accessible (`LEAD_NOT_EXIST`).
    pub const LEAD_NOT_EXIST: i64 = 20006;
    /// Note missing (`RESOURCE_NOT_EXIST`).
    pub const RESOURCE_NOT_EXIST: i64 = 20007;
    /// Member lookup failed (`USER_NOT_EXIST`).
    pub const USER_NOT_EXIST: i64 = 20003;
    /// The caller cannot manage the lead (`PERMISSION_DENIED`, sent with HTTP 400).
    pub const PERMISSION_DENIED: i64 = 20017;
    /// "Content-type must be: application/json".
    pub const CONTENT_TYPE: i64 = 20001;
    /// A value is too long (`PARAMETER_TOO_LONG`).
    pub const PARAMETER_TOO_LONG: i64 = 20043;
    /// "User in token does not exist." — a personal API key sent as `Bearer`.
    pub const USER_IN_TOKEN: i64 = 200058;
    /// The OAuth app was not granted this API (HTTP 403).
    pub const VENDOR_NO_PERMISSION: i64 = 200100;
    /// A `property` block with every address field blank.
    pub const PROPERTY_ADDRESS_EMPTY: i64 = 200057;
    /// `property.id` does not belong to the lead.
    pub const LEAD_PROPERTY_NOT_EXIST: i64 = 200108;
    /// Webhook subscription body used `url` instead of `callbackUrl`.
    pub const URL_FORMAT: i64 = 20049;
    /// Server error.
    pub const SERVER_ERROR: i64 = 20005;
}

/// Lofty's `code`: a number (`20006`) or a symbolic name (`TASK_NOT_EXIST`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    /// A numeric code.
    Number(i64),
    /// A symbolic code.
    Name(String),
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Name(s) => f.write_str(s),
        }
    }
}

impl ErrorCode {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Number(n) => n.as_i64().map(Self::Number),
            Value::String(s) if !s.trim().is_empty() => Some(match s.trim().parse::<i64>() {
                Ok(n) => Self::Number(n),
                Err(_) => Self::Name(s.trim().to_owned()),
            }),
            _ => None,
        }
    }
}

/// `X-RateLimit-*` headers of a Lofty answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// `X-RateLimit-Limit`: requests allowed per window.
    pub limit: Option<u64>,
    /// `X-RateLimit-Remaining`: requests left in the current window.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Reset`: when the window resets, in UTC epoch seconds.
    pub reset: Option<u64>,
}

impl RateLimit {
    /// Reads the three headers (absent or malformed ones stay `None`).
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        Self {
            limit: num("x-ratelimit-limit"),
            remaining: num("x-ratelimit-remaining"),
            reset: num("x-ratelimit-reset"),
        }
    }

    /// Whether any header was present.
    pub fn is_known(&self) -> bool {
        self.limit.is_some() || self.remaining.is_some() || self.reset.is_some()
    }

    /// Time until the window resets, if the reset lies in the future.
    pub fn until_reset(&self) -> Option<Duration> {
        let reset = self.reset?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
        let at = Duration::from_secs(reset);
        (at > now).then(|| at - now)
    }
}

/// A non-2xx answer from Lofty.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status code.
    pub status: u16,
    /// Lofty's `code` (or `errorCode`), when the body has one.
    pub code: Option<ErrorCode>,
    /// The server's message, else the status reason.
    pub message: String,
    /// The whole body: parsed JSON, a JSON string holding the raw text, or `null`.
    pub body: Value,
    /// Rate-limit headers of the answer.
    pub rate_limit: RateLimit,
    /// `Retry-After`, in seconds form only.
    pub retry_after: Option<Duration>,
    /// The operation id that failed, when known.
    pub operation: Option<String>,
}

impl ApiError {
    /// Builds an error from the parts of an HTTP answer.
    pub fn from_parts(status: u16, headers: &HeaderMap, body: &[u8]) -> Self {
        let rate_limit = RateLimit::from_headers(headers);
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut parsed: Value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
        };
        // A JSON string that itself holds a JSON object (the spec's string schema).
        if let Value::String(text) = &parsed
            && let Ok(inner @ Value::Object(_)) = serde_json::from_str::<Value>(text.trim())
        {
            parsed = inner;
        }
        let reason = StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        let (code, message) = match &parsed {
            Value::Object(map) => {
                let code = ["code", "errorCode"]
                    .iter()
                    .find_map(|k| map.get(*k).and_then(ErrorCode::from_value));
                let message = ["message", "msg", "error_description", "error"]
                    .iter()
                    .find_map(|k| {
                        map.get(*k)
                            .and_then(Value::as_str)
                            .filter(|s| !s.trim().is_empty())
                    })
                    .map_or_else(|| reason.to_owned(), str::to_owned);
                (code, message)
            }
            Value::String(text) if !text.trim().is_empty() => {
                (None, text.trim().chars().take(MAX_TEXT_MESSAGE).collect())
            }
            _ => (None, reason.to_owned()),
        };
        Self {
            status,
            code,
            message,
            body: parsed,
            rate_limit,
            retry_after,
            operation: None,
        }
    }

    /// The canonical reason phrase of the status.
    pub fn reason(&self) -> &'static str {
        StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error")
    }

    /// Whether the code is this number (`20006`) or name (`"TASK_NOT_EXIST"`).
    pub fn has_code(&self, code: impl Into<CodeRef>) -> bool {
        match (code.into(), &self.code) {
            (CodeRef::Number(n), Some(ErrorCode::Number(m))) => n == *m,
            (CodeRef::Name(n), Some(ErrorCode::Name(m))) => n.eq_ignore_ascii_case(m),
            (CodeRef::Name(n), Some(ErrorCode::Number(m))) => n == m.to_string(),
            _ => false,
        }
    }

    /// How long to wait before retrying a 429: `Retry-After`, else until
    /// `X-RateLimit-Reset`, else [`DEFAULT_429_WAIT`]. At least one second.
    pub fn rate_limit_wait(&self) -> Duration {
        self.retry_after
            .or_else(|| self.rate_limit.until_reset())
            .unwrap_or(DEFAULT_429_WAIT)
            .max(Duration::from_secs(1))
    }
}

/// A code to compare with [`ApiError::has_code`].
#[derive(Debug, Clone)]
pub enum CodeRef {
    /// A numeric code.
    Number(i64),
    /// A symbolic code.
    Name(String),
}

impl From<i64> for CodeRef {
    fn from(value: i64) -> Self {
        Self::Number(value)
    }
}

impl From<&str> for CodeRef {
    fn from(value: &str) -> Self {
        Self::Name(value.to_owned())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lofty {} {}", self.status, self.reason())?;
        if let Some(code) = &self.code {
            write!(f, " [{code}]")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(op) = &self.operation {
            write!(f, " (operation {op})")?;
        }
        Ok(())
    }
}

/// Every failure of the Lofty client.
#[derive(Debug, thiserror::Error)]
pub enum LoftyError {
    /// Lofty answered with a non-2xx status.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The call got no usable answer: it timed out, no connection could be made, or the
    /// connection broke (`Lofty request timed out`, `Lofty network error: ...`).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A 2xx body could not be decoded into the expected type.
    #[error("cannot decode Lofty response{}: {message}", op_suffix(.operation))]
    Decode {
        /// Operation id, when known.
        operation: Option<String>,
        /// What went wrong.
        message: String,
    },
    /// The caller's input cannot form a valid request.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A record did not become readable in time (eventual consistency after create).
    #[error("Lofty {what} {id} still not readable after {}ms", .waited.as_millis())]
    NotYetVisible {
        /// What was read (`lead`, `note`).
        what: &'static str,
        /// Its id.
        id: i64,
        /// How long the client waited.
        waited: Duration,
    },
}

fn op_suffix(operation: &Option<String>) -> String {
    operation
        .as_deref()
        .map(|op| format!(" (operation {op})"))
        .unwrap_or_default()
}

impl From<ApiError> for LoftyError {
    fn from(value: ApiError) -> Self {
        Self::Api(Box::new(value))
    }
}

impl LoftyError {
    /// Maps a transport error from reqwest (sorted by [`TransportError::new`]).
    pub fn transport(operation: Option<&str>, err: reqwest::Error) -> Self {
        Self::Transport(TransportError::new("Lofty", operation, err))
    }

    /// A decode error for an operation.
    pub fn decode(operation: &str, message: impl std::fmt::Display) -> Self {
        Self::Decode {
            operation: Some(operation.to_owned()),
            message: message.to_string(),
        }
    }

    /// What the caller should do next.
    pub fn retry_class(&self) -> RetryClass {
        match self {
            Self::Api(api) => match api.status {
                429 => RetryClass::RetryAfter(api.rate_limit_wait()),
                401 => RetryClass::Reauth,
                400 if api.has_code(codes::USER_IN_TOKEN) => RetryClass::Reauth,
                408 => RetryClass::Retry,
                s if s >= 500 => RetryClass::Retry,
                _ => RetryClass::GiveUp,
            },
            Self::Transport(transport) => transport.retry_class(),
            Self::NotYetVisible { .. } => RetryClass::RetryAfter(Duration::from_secs(5)),
            Self::Decode { .. } | Self::InvalidInput(_) => RetryClass::GiveUp,
        }
    }

    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        self.api().map(|a| a.status)
    }

    /// The API error details, for API errors.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(api) => Some(api),
            _ => None,
        }
    }

    /// Lofty's code, for API errors that carry one.
    pub fn code(&self) -> Option<&ErrorCode> {
        self.api().and_then(|a| a.code.as_ref())
    }

    /// The server's message, for API errors.
    pub fn server_message(&self) -> Option<&str> {
        self.api().map(|a| a.message.as_str())
    }

    /// Whether the record does not exist (404, or a not-yet-visible record).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotYetVisible { .. }) || self.status() == Some(404)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn reads_every_body_shape() {
        let e = ApiError::from_parts(
            404,
            &HeaderMap::new(),
            br#"{"code":20006,"message":"The lead does not exist."}"#,
        );
        assert_eq!(e.code, Some(ErrorCode::Number(20006)));
        assert!(e.has_code(codes::LEAD_NOT_EXIST));
        assert!(e.has_code("20006"));
        assert_eq!(
            LoftyError::from(e).to_string(),
            "Lofty 404 Not Found [20006]: The lead does not exist."
        );

        let e = ApiError::from_parts(
            400,
            &HeaderMap::new(),
            br#"{"errorCode":"20001","message":"Content-type must be: application/json"}"#,
        );
        assert!(e.has_code(codes::CONTENT_TYPE));

        let e = ApiError::from_parts(
            404,
            &HeaderMap::new(),
            br#"{"code":"TASK_NOT_EXIST","message":"gone"}"#,
        );
        assert!(e.has_code("task_not_exist"));

        // The spec's string schema, holding JSON or plain text.
        let e = ApiError::from_parts(
            400,
            &HeaderMap::new(),
            br#""{\"code\":200058,\"message\":\"User in token does not exist.\"}""#,
        );
        assert!(e.has_code(codes::USER_IN_TOKEN));
        assert_eq!(LoftyError::from(e).retry_class(), RetryClass::Reauth);
        let e = ApiError::from_parts(400, &HeaderMap::new(), br#""LIMIT_NOT_VALID""#);
        assert_eq!(e.message, "LIMIT_NOT_VALID");
        let e = ApiError::from_parts(500, &HeaderMap::new(), b"<html>oops</html>");
        assert_eq!(e.message, "<html>oops</html>");
        assert_eq!(LoftyError::from(e).retry_class(), RetryClass::Retry);
        let e = ApiError::from_parts(502, &HeaderMap::new(), b"");
        assert_eq!(e.message, "Bad Gateway");
        assert_eq!(e.body, Value::Null);
        // Spring's framework errors.
        let e = ApiError::from_parts(
            415,
            &HeaderMap::new(),
            br#"{"status":415,"error":"Unsupported Media Type","message":"Content-Type 'null' is not supported"}"#,
        );
        assert_eq!(e.message, "Content-Type 'null' is not supported");
        assert_eq!(e.code, None);
    }

    #[test]
    fn retry_classes() {
        let e = ApiError::from_parts(401, &HeaderMap::new(), br#"{"code":"BAD_CREDENTIALS"}"#);
        assert_eq!(LoftyError::from(e).retry_class(), RetryClass::Reauth);
        let e = ApiError::from_parts(403, &HeaderMap::new(), br#"{"code":200100}"#);
        assert_eq!(LoftyError::from(e).retry_class(), RetryClass::GiveUp);
        let e = ApiError::from_parts(
            429,
            &headers(&[("retry-after", "7")]),
            br#"{"message":"Too Many Requests"}"#,
        );
        assert_eq!(
            LoftyError::from(e).retry_class(),
            RetryClass::RetryAfter(Duration::from_secs(7))
        );
        let e = ApiError::from_parts(429, &HeaderMap::new(), b"");
        assert_eq!(
            LoftyError::from(e).retry_class(),
            RetryClass::RetryAfter(DEFAULT_429_WAIT)
        );
        let far = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 30;
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", HeaderValue::from(far));
        h.insert("x-ratelimit-limit", HeaderValue::from(100));
        h.insert("x-ratelimit-remaining", HeaderValue::from(0));
        let e = ApiError::from_parts(429, &h, b"");
        assert_eq!(e.rate_limit.limit, Some(100));
        let RetryClass::RetryAfter(wait) = LoftyError::from(e).retry_class() else {
            panic!("429 waits");
        };
        assert!(wait > Duration::from_secs(28) && wait <= Duration::from_secs(30));
        assert_eq!(
            LoftyError::InvalidInput("x".into()).retry_class(),
            RetryClass::GiveUp
        );
    }
}
