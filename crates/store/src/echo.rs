//! The echo ledger (`echo_ledger`): a fingerprint of every write we make (content
//! hash, and the remote update time it produced), so the change event that write
//! causes is recognised as our own echo and dropped with zero API calls.

use serde::{Deserialize, Serialize};

use crate::{RecordRef, Result, Store};

/// A write we made, so the webhook it causes can be recognised as our own echo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Echo {
    pub target: RecordRef,
    pub content_hash: String,
    pub remote_updated_at: Option<String>,
    pub written_at: i64,
}

impl Store {
    /// Records a write we made (for echo suppression and no-op skips).
    pub async fn record_echo(&self, echo: &Echo) -> Result<()> {
        let t = &echo.target;
        pool!(self, p => {
            sqlx::query(
                "INSERT INTO echo_ledger (connection_id, object_type, object_id, content_hash, remote_updated_at, written_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (connection_id, object_type, object_id) \
                 DO UPDATE SET content_hash = $4, remote_updated_at = $5, written_at = $6",
            )
            .bind(t.connection_id.as_str()).bind(&t.object_type).bind(t.object_id.as_str())
            .bind(&echo.content_hash).bind(&echo.remote_updated_at).bind(echo.written_at)
            .execute(p).await?;
        });
        Ok(())
    }

    pub async fn echo(&self, target: &RecordRef) -> Result<Option<Echo>> {
        let row: Option<(String, Option<String>, i64)> = pool!(self, p => {
            sqlx::query_as(
                "SELECT content_hash, remote_updated_at, written_at FROM echo_ledger WHERE connection_id = $1 AND object_type = $2 AND object_id = $3",
            )
            .bind(target.connection_id.as_str()).bind(&target.object_type).bind(target.object_id.as_str())
            .fetch_optional(p).await?
        });
        Ok(row.map(|(h, r, w)| Echo {
            target: target.clone(),
            content_hash: h,
            remote_updated_at: r,
            written_at: w,
        }))
    }
}
