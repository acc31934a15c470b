//! Metric samples (`metric_samples`): one value per series per minute, for the
//! Health page's charts over time. Any worker may take the minute's samples; the
//! first one does (the primary key turns the others' inserts into no-ops), so
//! several workers sampling give one series, not several.

use serde::Serialize;

use crate::{Result, Store};

/// How long samples are kept.
const KEEP_MS: i64 = 7 * 24 * 3_600_000;

/// One sampled value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Sample {
    /// Minutes since the epoch.
    pub minute: i64,
    pub series: String,
    pub value: i64,
}

impl Store {
    /// Samples this minute unless a sample of it exists: each queue's depth
    /// (`queue:<name>`), the jobs done and dead in the minute before (`done`,
    /// `dead`), each rate budget's reserved send time so far (`budget:<key>`, ms).
    /// Returns whether it sampled. Samples older than 7 days go.
    pub async fn take_samples(&self) -> Result<bool> {
        let now = self.now();
        let minute = now.div_euclid(60_000);
        let taken: Option<i64> = pool!(self, p => sqlx::query_scalar("SELECT value FROM metric_samples WHERE minute = $1 AND series = 'done'")
            .bind(minute).fetch_optional(p).await?);
        if taken.is_some() {
            return Ok(false);
        }
        let mut values: Vec<(String, i64)> = self
            .queue_depths()
            .await?
            .into_iter()
            .map(|(q, n)| (format!("queue:{q}"), n))
            .collect();
        for status in ["done", "dead"] {
            let n: i64 = pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = $1 AND updated_at >= $2 AND updated_at < $3")
                .bind(status).bind(now - 60_000).bind(now).fetch_one(p).await?);
            values.push((status.to_owned(), n));
        }
        let budgets: Vec<(String, i64)> = pool!(self, p => sqlx::query_as("SELECT key, reserved_ms FROM rate_slots ORDER BY key")
            .fetch_all(p).await?);
        values.extend(budgets.into_iter().map(|(k, v)| (format!("budget:{k}"), v)));
        // `done` last: it marks the minute as sampled.
        values.sort_by_key(|(s, _)| s == "done");
        for (series, value) in values {
            pool!(self, p => {
                sqlx::query("INSERT INTO metric_samples (minute, series, value) VALUES ($1, $2, $3) ON CONFLICT (minute, series) DO NOTHING")
                    .bind(minute).bind(&series).bind(value).execute(p).await?;
            });
        }
        pool!(self, p => {
            sqlx::query("DELETE FROM metric_samples WHERE minute < $1")
                .bind((now - KEEP_MS).div_euclid(60_000)).execute(p).await?;
        });
        Ok(true)
    }

    /// The samples from minute `since` on, by series then minute.
    pub async fn samples(&self, since: i64) -> Result<Vec<Sample>> {
        pool!(self, p => Ok(sqlx::query_as("SELECT minute, series, value FROM metric_samples WHERE minute >= $1 ORDER BY series, minute")
            .bind(since).fetch_all(p).await?))
    }
}
