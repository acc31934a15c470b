//! [`RetryClass`]: what the durable queue should do about a failed call, the same four
//! answers for every client (Vector's `RetryLogic` idea), so the engine maps them to
//! the queue in one place; and [`parse_retry_after`], the `Retry-After` reader the
//! clients share.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// What the caller (usually the job queue) should do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// Rate limited: try again after this long (429, or a local budget refusal).
    RetryAfter(Duration),
    /// Transient: 5xx, timeouts, connection failures. Retry with backoff.
    Retry,
    /// 401: the token is expired or revoked; refresh it or re-authenticate, then retry.
    Reauth,
    /// Retrying the same request cannot help (other 4xx, decode errors, bad input, and a
    /// 401 that refuses a scope the token lacks: a fresh token has the same scopes).
    GiveUp,
}

/// Parses a `Retry-After` header given in seconds (fractional seconds accepted).
///
/// HTTP dates are ignored (`None`): none of the three APIs sends them.
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = raw.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn retry_after(value: &'static str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_static(value),
        );
        parse_retry_after(&headers)
    }

    #[test]
    fn retry_after_in_seconds_only() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(" 1.5 "), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after("-1"), None);
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after(&HeaderMap::new()), None);
    }
}
