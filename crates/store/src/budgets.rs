//! Rate budgets (`rate_slots`): send times shared by every worker in every process,
//! so all of them together stay within an API's limit (GHL: per app and location).
//!
//! A budget is the first send time not yet handed out. [`Store::reserve_slots`]
//! takes the next `span` of time in one statement: from `max(next_at, now)` to that
//! plus `span`. The caller spaces its slots inside it (the engine's `budget` module
//! decides the spacing from the API's limit), so two processes never hold the same
//! moment, and a process makes one round trip per block of sends.

use crate::{Result, Store};

impl Store {
    /// Reserves the next `span_ms` of `key`'s send time: returns where the span starts
    /// (epoch ms, never before now). The span ends where the next caller's begins.
    pub async fn reserve_slots(&self, key: &str, span_ms: i64) -> Result<i64> {
        let now = self.now();
        let span = span_ms.max(1);
        let end: i64 = pool!(self, p => {
            sqlx::query_scalar(
                "INSERT INTO rate_slots (key, next_at, reserved_ms) VALUES ($1, $2 + $3, $3) \
                 ON CONFLICT (key) DO UPDATE SET \
                 next_at = CASE WHEN rate_slots.next_at > $2 THEN rate_slots.next_at ELSE $2 END + $3, \
                 reserved_ms = rate_slots.reserved_ms + $3 \
                 RETURNING next_at",
            )
            .bind(key).bind(now).bind(span).fetch_one(p).await?
        });
        Ok(end - span)
    }
}
