//! Cursors (`cursors`): named positions of pollers and backfills (a timestamp, a
//! page token), so a restart resumes where it stopped instead of starting over.

use crate::{Result, Store};

impl Store {
    pub async fn cursor(&self, name: &str) -> Result<Option<String>> {
        pool!(self, p => Ok(sqlx::query_scalar("SELECT value FROM cursors WHERE name = $1").bind(name).fetch_optional(p).await?))
    }

    pub async fn set_cursor(&self, name: &str, value: &str) -> Result<()> {
        let now = self.now();
        pool!(self, p => {
            sqlx::query("INSERT INTO cursors (name, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET value = $2, updated_at = $3")
                .bind(name).bind(value).bind(now).execute(p).await?;
        });
        Ok(())
    }

    pub async fn delete_cursor(&self, name: &str) -> Result<()> {
        pool!(self, p => {
            sqlx::query("DELETE FROM cursors WHERE name = $1").bind(name).execute(p).await?;
        });
        Ok(())
    }
}
