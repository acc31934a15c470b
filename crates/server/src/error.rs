//! The server's errors, mapped to responses in one place.
//!
//! A handler returns `Result<_, ApiError>`. What the caller sees is a status and a
//! message written for them (`{"error": "..."}`, or an HTML page for browser routes);
//! what went wrong inside (a database error, a client error) is logged here with
//! its detail and never sent: a store error's text can name tables, files or hosts.

use std::fmt;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    /// What the caller is told.
    public: String,
    /// What the log gets (never the caller).
    detail: Option<String>,
    /// `Retry-After` seconds, for 429 and 503.
    retry_after: Option<u64>,
    /// Render as an HTML page (browser routes) instead of JSON.
    html: bool,
}

impl ApiError {
    fn new(status: StatusCode, public: impl Into<String>) -> Self {
        Self {
            status,
            public: public.into(),
            detail: None,
            retry_after: None,
            html: false,
        }
    }

    /// What the caller is told.
    pub fn public_message(&self) -> &str {
        &self.public
    }

    /// 400: the request is wrong; `message` says how (it is shown).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401: no valid admin credentials.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "admin login required: log in at /login, or send Authorization: Bearer <API token> (ghlsync admin token create)",
        )
    }

    /// 429 with `Retry-After` and a message that is shown (too many wrong logins).
    pub fn throttled(retry_after_secs: u64, message: impl Into<String>) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, message)
        }
    }

    /// 401 with a reason that is safe to show (a signature check).
    pub fn rejected(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 415: a body declared as something other than JSON.
    pub fn not_json(content_type: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type {content_type:?} is not JSON: send the body as application/json"),
        )
    }

    /// 422: well-formed, but not something this endpoint takes; `message` says why.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 413.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    /// 429 with `Retry-After`: the event could not be taken now; the sender retries.
    pub fn busy(retry_after_secs: u64, detail: impl fmt::Display) -> Self {
        Self {
            detail: Some(detail.to_string()),
            retry_after: Some(retry_after_secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily unable to accept events; retry",
            )
        }
    }

    /// 503: a dependency is down. `doing` is shown ("cannot read connections"), the
    /// error is only logged.
    pub fn unavailable(doing: &str, detail: impl fmt::Display) -> Self {
        Self {
            detail: Some(detail.to_string()),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{doing}: the database is unavailable; try again"),
            )
        }
    }

    /// 500: our fault. `doing` is shown, the error is only logged.
    pub fn internal(doing: &str, detail: impl fmt::Display) -> Self {
        Self {
            detail: Some(detail.to_string()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{doing}: an internal error occurred (see the server log)"),
            )
        }
    }

    /// A failure the caller may read in full (a remote system's refusal, our own
    /// wording): shown as is.
    pub fn with_status(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, message)
    }

    /// Logs `detail` with the answer (the caller still sees only the message).
    #[must_use]
    pub fn because(mut self, detail: impl fmt::Display) -> Self {
        self.detail = Some(detail.to_string());
        self
    }

    /// Renders as an HTML page (for routes a browser opens).
    #[must_use]
    pub fn page(mut self) -> Self {
        self.html = true;
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What the caller is told.
    pub fn message(&self) -> &str {
        &self.public
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.public)
    }
}

/// Escapes text for an HTML page.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(detail) = &self.detail {
            if self.status.is_server_error() || self.status == StatusCode::TOO_MANY_REQUESTS {
                tracing::error!(status = self.status.as_u16(), error = %detail, "{}", self.public);
            } else {
                tracing::warn!(status = self.status.as_u16(), error = %detail, "{}", self.public);
            }
        }
        let mut response = if self.html {
            let body = format!(
                "<!doctype html><title>ghlsync: error</title><h1>{}</h1><p>{}</p><p><a href=\"/\">Back</a></p>",
                self.status.canonical_reason().unwrap_or("Error"),
                escape(&self.public)
            );
            (self.status, Html(body)).into_response()
        } else {
            (self.status, Json(json!({"error": self.public}))).into_response()
        };
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(e: ApiError) -> (StatusCode, Option<String>, String) {
        let r = e.into_response();
        let status = r.status();
        let retry = r
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        (status, retry, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn details_are_logged_never_answered() {
        let secret_detail = "database error: error returned from database: relation \"secrets\" does not exist at /var/lib/ghlsync/ghlsync.db";
        for e in [
            ApiError::unavailable("cannot read connections", secret_detail),
            ApiError::internal("cannot store the connection", secret_detail),
            ApiError::busy(5, secret_detail),
            ApiError::unavailable("cannot read connections", secret_detail).page(),
        ] {
            let (status, _, text) = body(e).await;
            assert!(status.as_u16() >= 429, "{status}");
            assert!(!text.contains("database error"), "{text}");
            assert!(!text.contains("secrets"), "{text}");
            assert!(!text.contains("/var/lib"), "{text}");
        }
        let (status, retry, text) = body(ApiError::busy(7, "x")).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry.as_deref(), Some("7"));
        assert_eq!(
            text,
            r#"{"error":"temporarily unable to accept events; retry"}"#
        );
        let (_, _, page) = body(ApiError::bad_request("a <b> tag").page()).await;
        assert!(page.contains("a &lt;b&gt; tag"), "{page}");
    }
}
