//! Lofty's four time formats, read into UTC.
//!
//! | where | format |
//! |---|---|
//! | leads, V2 task answers | `2026-05-01T17:03:22GMT` |
//! | calendar, V2 task writes | ISO 8601 with offset, `2026-03-01T15:00:00-08:00` |
//! | notes, V1 tasks, calls | `2026-04-22 10:15:30` (UTC) |
//! | calendar `*Ms`, webhook `updateTime` | epoch milliseconds |

use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat, TimeZone, Utc};

/// Parses any of Lofty's time formats (see the module docs); `None` if none fits.
pub fn parse(raw: &str) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Some(base) = s.strip_suffix("GMT").or_else(|| s.strip_suffix("UTC")) {
        return NaiveDateTime::parse_from_str(base.trim(), "%Y-%m-%dT%H:%M:%S")
            .ok()
            .map(|n| n.and_utc());
    }
    if let Ok(n) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
        return Some(n.and_utc());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().and_then(from_ms);
    }
    None
}

/// A time from epoch milliseconds.
pub fn from_ms(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// ISO 8601 with offset, seconds precision: what the calendar and V2 tasks accept.
pub fn iso(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format() {
        let want = Utc.with_ymd_and_hms(2026, 5, 1, 17, 3, 22).unwrap();
        assert_eq!(parse("2026-05-01T17:03:22GMT"), Some(want));
        assert_eq!(parse("2026-05-01T10:03:22-07:00"), Some(want));
        assert_eq!(parse("2026-05-01 17:03:22"), Some(want));
        assert_eq!(parse(&want.timestamp_millis().to_string()), Some(want));
        assert_eq!(parse("May 1"), None);
        assert_eq!(parse(""), None);
        let t = DateTime::parse_from_rfc3339("2026-03-01T15:00:00-08:00").unwrap();
        assert_eq!(iso(t), "2026-03-01T15:00:00-08:00");
    }
}
