//! Errors of the GHL client and their retry classes.
//!
//! Every failure surfaces as one [`GhlError`]. The durable queue does not need to know
//! HTTP: it asks [`GhlError::retry_class`] whether to retry soon, wait a given time,
//! re-authenticate the connection, or give up (Vector's `RetryLogic` idea).
//!
//! GHL error bodies look like `{"statusCode": 422, "message": [..] | "..", "error": ".."}`;
//! the message is kept (arrays joined with `"; "`) so it shows up in logs and the UI.
//! Tokens never appear in errors: request headers are not recorded, and response bodies
//! of the API do not echo them.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use wire::{TransportError, parse_retry_after};

use crate::governor::RateLimitHeaders;

pub use wire::RetryClass;

/// Wait used for a 429 when the response says nothing about when to come back.
pub const DEFAULT_429_WAIT: Duration = Duration::from_secs(10);

/// Longest server message kept from a non-JSON error body, in characters.
const MAX_TEXT_MESSAGE: usize = 500;

/// A non-2xx answer from GHL.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status code.
    pub status: u16,
    /// The server's message (`message`, arrays joined with `"; "`, else `error`, else the
    /// status reason).
    pub message: String,
    /// The `error` field of the body when present (e.g. `"Unprocessable Entity"`).
    pub error: Option<String>,
    /// The whole body: parsed JSON, or a JSON string holding the raw text.
    pub body: Value,
    /// Rate-limit headers of the response.
    pub rate_limit: RateLimitHeaders,
    /// `Retry-After` header, in seconds form only (HTTP dates are ignored).
    pub retry_after: Option<Duration>,
    /// The operation id that failed, when known.
    pub operation: Option<String>,
}

impl ApiError {
    /// Builds an error from the parts of an HTTP response.
    pub fn from_parts(status: u16, headers: &HeaderMap, body: &[u8]) -> Self {
        let rate_limit = RateLimitHeaders::from_headers(headers);
        let retry_after = parse_retry_after(headers);
        let parsed: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
        };
        let reason = StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        let error = parsed
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let message = match &parsed {
            Value::Object(map) => message_of(map.get("message"))
                .or_else(|| error.clone())
                .unwrap_or_else(|| reason.to_owned()),
            Value::String(text) if !text.trim().is_empty() => {
                text.trim().chars().take(MAX_TEXT_MESSAGE).collect()
            }
            _ => reason.to_owned(),
        };
        Self {
            status,
            message,
            error,
            body: parsed,
            rate_limit,
            retry_after,
            operation: None,
        }
    }

    /// The canonical reason phrase of the status (e.g. `"Unprocessable Entity"`).
    pub fn reason(&self) -> &'static str {
        StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error")
    }

    /// How long to wait before retrying a 429: `Retry-After`, else the rate-limit interval,
    /// else [`DEFAULT_429_WAIT`].
    pub fn rate_limit_wait(&self) -> Duration {
        self.retry_after
            .or_else(|| self.rate_limit.interval_ms.map(Duration::from_millis))
            .unwrap_or(DEFAULT_429_WAIT)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GHL {} {}: {}", self.status, self.reason(), self.message)?;
        if let Some(op) = &self.operation {
            write!(f, " (operation {op})")?;
        }
        Ok(())
    }
}

/// Turns GHL's `message` (a string or an array of strings) into one line.
fn message_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Array(items) if !items.is_empty() => Some(
            items
                .iter()
                .map(|item| match item {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ => None,
    }
}

/// Every failure of the GHL client.
#[derive(Debug, thiserror::Error)]
pub enum GhlError {
    /// GHL answered with a non-2xx status.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The call got no usable answer: it timed out, no connection could be made, or the
    /// connection broke (`GHL request timed out`, `GHL network error: ...`).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A 2xx body could not be decoded into the expected type.
    #[error("cannot decode GHL response{}: {message}", op_suffix(.operation))]
    Decode {
        /// Operation id, when known.
        operation: Option<String>,
        /// What went wrong (no body contents beyond serde's own message).
        message: String,
    },
    /// The caller's input cannot form a valid request (unknown operation, missing path
    /// parameter, wrong JSON shape).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The local rate governor refused to send (e.g. the daily budget is spent).
    #[error("rate budget exhausted for {key}: {reason}; retry in {}s", .retry_after.as_secs())]
    RateLimited {
        /// Governor key (location id or `"default"`).
        key: String,
        /// Why the budget refused.
        reason: String,
        /// When it makes sense to try again.
        retry_after: Duration,
    },
}

fn op_suffix(operation: &Option<String>) -> String {
    operation
        .as_deref()
        .map(|op| format!(" (operation {op})"))
        .unwrap_or_default()
}

impl From<ApiError> for GhlError {
    fn from(value: ApiError) -> Self {
        Self::Api(Box::new(value))
    }
}

impl GhlError {
    /// Maps a transport error from reqwest (sorted by [`TransportError::new`]).
    pub fn transport(operation: Option<&str>, err: reqwest::Error) -> Self {
        Self::Transport(TransportError::new("GHL", operation, err))
    }

    /// A decode error for an operation.
    pub fn decode(operation: &str, err: &serde_json::Error) -> Self {
        Self::Decode {
            operation: Some(operation.to_owned()),
            message: err.to_string(),
        }
    }

    /// What the caller should do next.
    pub fn retry_class(&self) -> RetryClass {
        match self {
            Self::Api(api) => match api.status {
                429 => RetryClass::RetryAfter(api.rate_limit_wait()),
                401 if self.is_scope_refusal() => RetryClass::GiveUp,
                401 => RetryClass::Reauth,
                408 => RetryClass::Retry,
                s if s >= 500 => RetryClass::Retry,
                _ => RetryClass::GiveUp,
            },
            Self::Transport(transport) => transport.retry_class(),
            Self::RateLimited { retry_after, .. } => RetryClass::RetryAfter(*retry_after),
            Self::Decode { .. } | Self::InvalidInput(_) => RetryClass::GiveUp,
        }
    }

    /// The HTTP status, for errors that carry one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(api) => Some(api.status),
            _ => None,
        }
    }

    /// The API error details, for errors that carry them.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(api) => Some(api),
            _ => None,
        }
    }

    /// The server's message, for API errors.
    pub fn server_message(&self) -> Option<&str> {
        self.api().map(|api| api.message.as_str())
    }

    /// Whether GHL refused the call because the token lacks the operation's scope
    /// (`401 "The token is not authorized for this scope."`). Refreshing cannot help;
    /// the connection must be re-authorized with the scope.
    pub fn is_scope_refusal(&self) -> bool {
        self.api().is_some_and(|api| {
            api.status == 401
                && api
                    .message
                    .to_ascii_lowercase()
                    .contains("not authorized for this scope")
        })
    }

    /// Whether this is a 404 or the 400 "not found" GHL uses for unknown ids.
    pub fn is_not_found(&self) -> bool {
        self.api().is_some_and(|api| {
            api.status == 404
                || (api.status == 400 && api.message.to_ascii_lowercase().contains("not found"))
        })
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
    fn joins_array_messages_and_displays_them() {
        let body = br#"{"statusCode":422,"message":["property foo should not exist","bar must be a string"],"error":"Unprocessable Entity"}"#;
        let err = GhlError::from(ApiError::from_parts(422, &HeaderMap::new(), body));
        assert_eq!(
            err.to_string(),
            "GHL 422 Unprocessable Entity: property foo should not exist; bar must be a string"
        );
        assert_eq!(err.status(), Some(422));
        assert_eq!(err.retry_class(), RetryClass::GiveUp);
        assert_eq!(
            err.api().unwrap().error.as_deref(),
            Some("Unprocessable Entity")
        );
    }

    #[test]
    fn string_message_and_reauth() {
        let body = br#"{"statusCode":401,"message":"Invalid JWT"}"#;
        let err = GhlError::from(ApiError::from_parts(401, &HeaderMap::new(), body));
        assert_eq!(err.to_string(), "GHL 401 Unauthorized: Invalid JWT");
        assert_eq!(err.retry_class(), RetryClass::Reauth);
        assert!(!err.is_scope_refusal());
        let body = br#"{"statusCode":401,"message":"The token is not authorized for this scope."}"#;
        let err = GhlError::from(ApiError::from_parts(401, &HeaderMap::new(), body));
        assert!(err.is_scope_refusal());
        assert_eq!(err.retry_class(), RetryClass::GiveUp);
    }

    #[test]
    fn non_json_and_empty_bodies() {
        let err = ApiError::from_parts(502, &HeaderMap::new(), b"<html>bad gateway</html>");
        assert_eq!(err.message, "<html>bad gateway</html>");
        assert_eq!(GhlError::from(err).retry_class(), RetryClass::Retry);
        let err = ApiError::from_parts(503, &HeaderMap::new(), b"");
        assert_eq!(err.message, "Service Unavailable");
        assert_eq!(err.body, Value::Null);
    }

    #[test]
    fn rate_limit_wait_order() {
        let with_retry_after = headers(&[
            ("retry-after", "3"),
            ("x-ratelimit-interval-milliseconds", "10000"),
        ]);
        let err = GhlError::from(ApiError::from_parts(429, &with_retry_after, b"{}"));
        assert_eq!(
            err.retry_class(),
            RetryClass::RetryAfter(Duration::from_secs(3))
        );

        let interval_only = headers(&[("X-RateLimit-Interval-Milliseconds", "2500")]);
        let err = GhlError::from(ApiError::from_parts(429, &interval_only, b"{}"));
        assert_eq!(
            err.retry_class(),
            RetryClass::RetryAfter(Duration::from_millis(2500))
        );

        let err = GhlError::from(ApiError::from_parts(429, &HeaderMap::new(), b""));
        assert_eq!(err.retry_class(), RetryClass::RetryAfter(DEFAULT_429_WAIT));
    }

    #[tokio::test]
    async fn other_classes() {
        assert_eq!(
            GhlError::InvalidInput("x".to_owned()).retry_class(),
            RetryClass::GiveUp
        );
        // A server that takes the connection and never answers: the call times out.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = url::Url::parse(&format!("http://{}/", silent.local_addr().unwrap())).unwrap();
        let client = crate::GhlClient::new(
            crate::GhlConfig::new("t")
                .with_base_url(url)
                .with_timeout(Duration::from_millis(50)),
        )
        .unwrap();
        let timeout = client.get_contact("c1").await.unwrap_err();
        assert!(
            matches!(&timeout, GhlError::Transport(t) if t.is_timeout()),
            "{timeout:?}"
        );
        assert_eq!(
            timeout.to_string(),
            "GHL request timed out (operation get-contact)"
        );
        assert_eq!(timeout.retry_class(), RetryClass::Retry);
        let err = GhlError::from(ApiError::from_parts(
            400,
            &HeaderMap::new(),
            br#"{"statusCode":400,"message":"Contact with id abc not found"}"#,
        ));
        assert!(err.is_not_found());
        assert_eq!(err.retry_class(), RetryClass::GiveUp);
    }
}
