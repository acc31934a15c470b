//! [`TransportError`]: a call that got no usable answer, sorted once for every client.
//!
//! reqwest reports timeouts, refused connections, broken connections and unreadable
//! bodies as one error type; this is the one place that sorts them (before, each client
//! had its own copy of the same `is_timeout` / `is_decode` mapping). Each client's error
//! enum wraps it as its `Transport` variant and keeps its own words: the error carries
//! the API's name (`"GHL"`, `"Lofty"`, `"Lytho"`), so messages read
//! `GHL request timed out (operation get-contact)` as they always did.
//!
//! The URL is dropped from the reqwest error: query strings can carry emails or ids,
//! which do not belong in logs.

use crate::RetryClass;

/// How a call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The request (or reading its answer) did not complete within the timeout.
    Timeout,
    /// No connection could be made: refused, DNS, TLS handshake.
    Connect,
    /// An answer began but its body broke off before it was read. Not retried for a
    /// write: the request may have taken effect, and repeating it could apply it
    /// twice. A read (`GET`, see [`TransportError::of_method`]) is retried.
    Body,
    /// Anything else: the connection broke while sending, the HTTP client could not be
    /// built (TLS backend), the request could not be formed.
    Other,
}

/// A call that got no usable answer, with the API and operation it was for.
#[derive(Debug)]
pub struct TransportError {
    api: &'static str,
    kind: TransportKind,
    operation: Option<String>,
    /// The request was a `GET`: repeating it changes nothing.
    read: bool,
    source: reqwest::Error,
}

impl TransportError {
    /// Sorts a reqwest error of a call to `api` (`"GHL"`, `"Lofty"`, `"Lytho"`) for
    /// `operation`, when known.
    pub fn new(api: &'static str, operation: Option<&str>, err: reqwest::Error) -> Self {
        let kind = if err.is_timeout() {
            TransportKind::Timeout
        } else if err.is_connect() {
            TransportKind::Connect
        } else if err.is_decode() {
            // `Response::bytes` reports a body that broke off as a decode error.
            TransportKind::Body
        } else {
            TransportKind::Other
        };
        Self {
            api,
            kind,
            operation: operation.map(str::to_owned),
            read: false,
            source: err.without_url(),
        }
    }

    /// The error of a request made with `method`: a `GET` whose answer broke off
    /// is safe to repeat.
    #[must_use]
    pub fn of_method(mut self, method: crate::Method) -> Self {
        self.read = method == crate::Method::Get;
        self
    }

    /// How the call failed.
    pub fn kind(&self) -> TransportKind {
        self.kind
    }

    /// Whether the call timed out.
    pub fn is_timeout(&self) -> bool {
        self.kind == TransportKind::Timeout
    }

    /// Whether no connection could be made.
    pub fn is_connect(&self) -> bool {
        self.kind == TransportKind::Connect
    }

    /// The operation id, when known.
    pub fn operation(&self) -> Option<&str> {
        self.operation.as_deref()
    }

    /// The API the call was for (`"GHL"`, `"Lofty"`, `"Lytho"`).
    pub fn api(&self) -> &'static str {
        self.api
    }

    /// What the caller should do next: retry with backoff, except for the answer
    /// to a write that broke off (see [`TransportKind::Body`]).
    pub fn retry_class(&self) -> RetryClass {
        match self.kind {
            TransportKind::Timeout | TransportKind::Connect | TransportKind::Other => {
                RetryClass::Retry
            }
            TransportKind::Body if self.read => RetryClass::Retry,
            TransportKind::Body => RetryClass::GiveUp,
        }
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let api = self.api;
        let op = match &self.operation {
            Some(op) => format!(" (operation {op})"),
            None => String::new(),
        };
        match self.kind {
            TransportKind::Timeout => write!(f, "{api} request timed out{op}"),
            TransportKind::Body => write!(f, "cannot decode {api} response{op}: {}", self.source),
            TransportKind::Connect | TransportKind::Other => {
                write!(f, "{api} network error{op}: {}", self.source)
            }
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port that was just free: nothing listens there.
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    #[tokio::test]
    async fn a_refused_connection_is_connect_and_retried() {
        let http = crate::http::http_client(std::time::Duration::from_secs(5));
        let url = format!("http://127.0.0.1:{}/x?email=a@b.c", closed_port());
        let err = http.get(&url).send().await.unwrap_err();
        let err = TransportError::new("GHL", Some("get-contact"), err);
        assert!(err.is_connect(), "{err:?}");
        assert_eq!(err.retry_class(), RetryClass::Retry);
        assert_eq!(err.operation(), Some("get-contact"));
        let text = err.to_string();
        assert!(
            text.starts_with("GHL network error (operation get-contact): "),
            "{text}"
        );
        assert!(!text.contains("a@b.c"), "the URL is dropped: {text}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[tokio::test]
    async fn a_timeout_reads_as_before() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Accept and never answer.
        let _hold = tokio::spawn(async move {
            let conn = listener.accept().await;
            std::future::pending::<()>().await;
            drop(conn);
        });
        let http = crate::http::http_client(std::time::Duration::from_millis(100));
        let err = http
            .get(format!("http://{addr}/"))
            .send()
            .await
            .unwrap_err();
        let err = TransportError::new("Lytho", None, err);
        assert!(err.is_timeout(), "{err:?}");
        assert_eq!(err.retry_class(), RetryClass::Retry);
        assert_eq!(err.to_string(), "Lytho request timed out");
    }
}
