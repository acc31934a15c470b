//! Errors of the Lytho client and their retry classes.
//!
//! Every failure is one [`LythoError`]; [`LythoError::retry_class`] tells the queue
//! what to do next with the same four classes as the GHL and Lofty clients
//! ([`RetryClass`] is `wire::RetryClass`), so the engine handles them the same way.
//!
//! Lytho documents only that error bodies carry "an error code and message"; the
//! parser takes the message from `message`, `detail`, `title`, `error_description`
//! or `error` (Keycloak's token endpoint uses the last two), and the code from
//! `code` or `error`. Secrets never appear: request headers are not recorded.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub use wire::RetryClass;
use wire::TransportError;

/// Wait used for a 429 that says nothing about when to come back.
pub const DEFAULT_429_WAIT: Duration = Duration::from_secs(10);

/// Longest message kept from a non-JSON error body, in characters.
const MAX_TEXT_MESSAGE: usize = 500;

/// `X-RateLimit-*` headers of an answer. Lytho documents no rate limits; the
/// sandbox sends these, and the client reads them if a tenant does too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// `X-RateLimit-Limit`: requests per window.
    pub limit: Option<u64>,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Reset`: seconds until the window resets.
    pub reset_secs: Option<u64>,
}

impl RateLimit {
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
            reset_secs: num("x-ratelimit-reset"),
        }
    }
}

/// A non-2xx answer from the API or the token endpoint.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The server's message, else the status reason.
    pub message: String,
    /// The server's error code (`code`, or OAuth's `error`), when present.
    pub code: Option<String>,
    /// The whole body: parsed JSON, or a JSON string holding the raw text.
    pub body: Value,
    /// Rate-limit headers of the answer.
    pub rate_limit: RateLimit,
    /// `Retry-After` in seconds form.
    pub retry_after: Option<Duration>,
    /// The operation id that failed (`lytho-token` for the token endpoint).
    pub operation: Option<String>,
}

fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// ASP.NET validation problems: `{"errors": {"pageSize": ["..."]}}`.
fn validation_errors(map: &serde_json::Map<String, Value>) -> Option<String> {
    let Value::Object(errors) = map.get("errors")? else {
        return None;
    };
    let lines: Vec<String> = errors
        .iter()
        .flat_map(|(field, msgs)| {
            let msgs: Vec<String> = match msgs {
                Value::Array(items) => items.iter().filter_map(|m| text_of(Some(m))).collect(),
                other => text_of(Some(other)).into_iter().collect(),
            };
            msgs.into_iter().map(move |m| format!("{field}: {m}"))
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("; "))
}

impl ApiError {
    /// Builds an error from the parts of an HTTP answer.
    pub fn from_parts(status: u16, headers: &HeaderMap, body: &[u8]) -> Self {
        let parsed: Value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
        };
        let reason = reason(status);
        let (message, code) = match &parsed {
            Value::Object(map) => {
                let message = validation_errors(map)
                    .or_else(|| text_of(map.get("message")))
                    .or_else(|| text_of(map.get("detail")))
                    .or_else(|| text_of(map.get("error_description")))
                    .or_else(|| text_of(map.get("title")))
                    .or_else(|| text_of(map.get("error")))
                    .unwrap_or_else(|| reason.to_owned());
                let code = text_of(map.get("code")).or_else(|| text_of(map.get("error")));
                (message, code)
            }
            Value::String(text) if !text.trim().is_empty() => {
                (text.trim().chars().take(MAX_TEXT_MESSAGE).collect(), None)
            }
            _ => (reason.to_owned(), None),
        };
        Self {
            status,
            message,
            code,
            body: parsed,
            rate_limit: RateLimit::from_headers(headers),
            retry_after: wire::parse_retry_after(headers),
            operation: None,
        }
    }

    /// How long to wait before retrying a 429: `Retry-After`, else
    /// `X-RateLimit-Reset`, else [`DEFAULT_429_WAIT`].
    pub fn rate_limit_wait(&self) -> Duration {
        self.retry_after
            .or_else(|| self.rate_limit.reset_secs.map(Duration::from_secs))
            .unwrap_or(DEFAULT_429_WAIT)
    }
}

fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Lytho {} {}: {}",
            self.status,
            reason(self.status),
            self.message
        )?;
        if let Some(op) = &self.operation {
            write!(f, " (operation {op})")?;
        }
        Ok(())
    }
}

fn op_suffix(operation: &Option<String>) -> String {
    operation
        .as_deref()
        .map(|op| format!(" (operation {op})"))
        .unwrap_or_default()
}

/// Every failure of the Lytho client.
#[derive(Debug, thiserror::Error)]
pub enum LythoError {
    /// The API answered with a non-2xx status.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The token endpoint refused or failed (bad client id or secret, unknown
    /// tenant, server error).
    #[error("cannot get a Lytho access token: {0}")]
    Token(Box<ApiError>),
    /// The call got no usable answer: it timed out, no connection could be made, or the
    /// connection broke (`Lytho request timed out`, `Lytho network error: ...`).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A 2xx body could not be decoded into the expected type.
    #[error("cannot decode Lytho response{}: {message}", op_suffix(.operation))]
    Decode {
        /// Operation id, when known.
        operation: Option<String>,
        /// What went wrong.
        message: String,
    },
    /// The input cannot form a valid request (unknown operation, missing path
    /// parameter, wrong JSON shape).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl LythoError {
    /// Maps a transport error from reqwest (sorted by [`TransportError::new`]).
    pub fn transport(operation: Option<&str>, err: reqwest::Error) -> Self {
        Self::Transport(TransportError::new("Lytho", operation, err))
    }

    /// A decode error for an operation.
    pub fn decode(operation: &str, message: impl std::fmt::Display) -> Self {
        Self::Decode {
            operation: Some(operation.to_owned()),
            message: message.to_string(),
        }
    }

    /// What the caller should do next.
    ///
    /// API: 429 waits, 401 re-authenticates (the client already fetched a new token
    /// once), 408 and 5xx retry, other 4xx give up (409 included: re-read and decide).
    /// Token endpoint: 429 waits, 408 and 5xx retry, any other refusal means the
    /// credentials or tenant are wrong, so the connection needs re-authentication.
    pub fn retry_class(&self) -> RetryClass {
        match self {
            Self::Api(api) => match api.status {
                429 => RetryClass::RetryAfter(api.rate_limit_wait()),
                401 => RetryClass::Reauth,
                408 => RetryClass::Retry,
                s if s >= 500 => RetryClass::Retry,
                _ => RetryClass::GiveUp,
            },
            Self::Token(api) => match api.status {
                429 => RetryClass::RetryAfter(api.rate_limit_wait()),
                408 => RetryClass::Retry,
                s if s >= 500 => RetryClass::Retry,
                _ => RetryClass::Reauth,
            },
            Self::Transport(transport) => transport.retry_class(),
            Self::Decode { .. } | Self::InvalidInput(_) => RetryClass::GiveUp,
        }
    }

    /// The error details of API and token errors.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(api) | Self::Token(api) => Some(api),
            _ => None,
        }
    }

    /// The HTTP status, for errors that carry one.
    pub fn status(&self) -> Option<u16> {
        self.api().map(|a| a.status)
    }

    /// The server's message, for errors that carry one.
    pub fn server_message(&self) -> Option<&str> {
        self.api().map(|a| a.message.as_str())
    }

    /// A 404 from the API.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api(api) if api.status == 404)
    }

    /// A 409 from the API: a JSON-Patch `test` operation did not match (someone
    /// else changed the item); re-read it and decide again.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Api(api) if api.status == 409)
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
    fn messages_and_codes() {
        let e = ApiError::from_parts(
            404,
            &HeaderMap::new(),
            br#"{"code":"NotFound","message":"Task 1 was not found."}"#,
        );
        assert_eq!(e.message, "Task 1 was not found.");
        assert_eq!(e.code.as_deref(), Some("NotFound"));
        assert_eq!(e.to_string(), "Lytho 404 Not Found: Task 1 was not found.");
        let e = ApiError::from_parts(
            401,
            &HeaderMap::new(),
            br#"{"error":"unauthorized_client","error_description":"Invalid client or Invalid client credentials"}"#,
        );
        assert_eq!(e.message, "Invalid client or Invalid client credentials");
        assert_eq!(e.code.as_deref(), Some("unauthorized_client"));
        let e = ApiError::from_parts(
            400,
            &HeaderMap::new(),
            br#"{"title":"One or more validation errors occurred.","status":400,"errors":{"pageSize":["The value '15' is not valid."]}}"#,
        );
        assert_eq!(e.message, "pageSize: The value '15' is not valid.");
        let e = ApiError::from_parts(502, &HeaderMap::new(), b"<html>bad gateway</html>");
        assert_eq!(e.message, "<html>bad gateway</html>");
        let e = ApiError::from_parts(503, &HeaderMap::new(), b"");
        assert_eq!(e.message, "Service Unavailable");
    }

    #[test]
    fn retry_classes() {
        let api = |status, h: &HeaderMap| {
            LythoError::Api(Box::new(ApiError::from_parts(status, h, b"{}")))
        };
        let none = HeaderMap::new();
        assert_eq!(
            api(429, &headers(&[("retry-after", "3")])).retry_class(),
            RetryClass::RetryAfter(Duration::from_secs(3))
        );
        assert_eq!(
            api(429, &headers(&[("x-ratelimit-reset", "7")])).retry_class(),
            RetryClass::RetryAfter(Duration::from_secs(7))
        );
        assert_eq!(
            api(429, &none).retry_class(),
            RetryClass::RetryAfter(DEFAULT_429_WAIT)
        );
        assert_eq!(api(401, &none).retry_class(), RetryClass::Reauth);
        assert_eq!(api(500, &none).retry_class(), RetryClass::Retry);
        assert_eq!(api(409, &none).retry_class(), RetryClass::GiveUp);
        assert!(api(409, &none).is_conflict());
        assert!(api(404, &none).is_not_found());
        let token =
            |status| LythoError::Token(Box::new(ApiError::from_parts(status, &none, b"{}")));
        assert_eq!(token(401).retry_class(), RetryClass::Reauth);
        assert_eq!(token(404).retry_class(), RetryClass::Reauth);
        assert_eq!(token(503).retry_class(), RetryClass::Retry);
        assert_eq!(
            LythoError::InvalidInput("x".to_owned()).retry_class(),
            RetryClass::GiveUp
        );
    }
}
