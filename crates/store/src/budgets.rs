//! Rate budgets (`rate_budgets`): fixed-window counters shared by every worker in
//! every process, so all of them together stay within an API's limit (GHL: per app
//! and location).

use std::time::Duration;

use crate::{Result, Store, ms};

impl Store {
    /// Spends one unit of a shared budget (`max` per `window`). `Ok(())` when
    /// granted, `Err(wait)` with the time until the window ends when spent.
    pub async fn take_budget(
        &self,
        key: &str,
        window: Duration,
        max: i64,
    ) -> Result<Result<(), Duration>> {
        let now = self.now();
        let w = ms(window).max(1);
        let (start, used): (i64, i64) = pool!(self, p => {
            sqlx::query_as(
                "INSERT INTO rate_budgets (key, window_start, used) VALUES ($1, $2, 1) \
                 ON CONFLICT (key) DO UPDATE SET \
                 window_start = CASE WHEN rate_budgets.window_start + $3 <= $2 THEN $2 ELSE rate_budgets.window_start END, \
                 used = CASE WHEN rate_budgets.window_start + $3 <= $2 THEN 1 ELSE rate_budgets.used + 1 END \
                 RETURNING window_start, used",
            )
            .bind(key).bind(now).bind(w).fetch_one(p).await?
        });
        if used <= max {
            Ok(Ok(()))
        } else {
            Ok(Err(Duration::from_millis(
                u64::try_from(start + w - now).unwrap_or(1).max(1),
            )))
        }
    }
}
