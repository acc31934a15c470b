//! Links (`links`): which record in one connection is which record in another
//! (a GHL contact and its Lofty lead). After first-time matching, a link is what
//! decides where a change goes; it is looked up from either side.

use crate::{RecordRef, Result, Store};

impl Store {
    /// Links two records (idempotent).
    pub async fn link(&self, a: &RecordRef, b: &RecordRef) -> Result<()> {
        let now = self.now();
        pool!(self, p => {
            sqlx::query(
                "INSERT INTO links (a_connection, a_type, a_id, b_connection, b_type, b_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (a_connection, a_type, a_id, b_connection, b_type) DO UPDATE SET b_id = $6",
            )
            .bind(a.connection_id.as_str()).bind(&a.object_type).bind(a.object_id.as_str())
            .bind(b.connection_id.as_str()).bind(&b.object_type).bind(b.object_id.as_str()).bind(now)
            .execute(p).await?;
        });
        Ok(())
    }

    /// The record linked to `from` in `other_connection`, looking at both directions.
    pub async fn linked(
        &self,
        from: &RecordRef,
        other_connection: &str,
    ) -> Result<Option<RecordRef>> {
        let row: Option<(String, String, String)> = pool!(self, p => {
            sqlx::query_as(
                "SELECT b_connection, b_type, b_id FROM links WHERE a_connection = $1 AND a_type = $2 AND a_id = $3 AND b_connection = $4 \
                 UNION ALL \
                 SELECT a_connection, a_type, a_id FROM links WHERE b_connection = $1 AND b_type = $2 AND b_id = $3 AND a_connection = $4 \
                 LIMIT 1",
            )
            .bind(from.connection_id.as_str()).bind(&from.object_type).bind(from.object_id.as_str()).bind(other_connection)
            .fetch_optional(p).await?
        });
        Ok(row.map(|(c, t, i)| RecordRef::new(c, &t, i)))
    }
}
