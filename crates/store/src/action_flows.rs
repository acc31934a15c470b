//! Action flows (`action_flows`): a flow file switched on between the account whose
//! events fire its trigger and the account its action runs through. The engine
//! routes each trigger event to the enabled flows of that trigger.

use crate::{Result, Store};

/// A stored action flow.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActionFlowRow {
    /// The flow file's `[flow] id`.
    pub id: String,
    /// The flow file's TOML.
    pub file: String,
    /// The catalog trigger (`ghl.trigger.contact_create`), for routing.
    pub trigger_id: String,
    /// Whose events fire it; `None` for schedule and manual triggers.
    pub trigger_connection: Option<String>,
    /// The connection the action runs through.
    pub action_connection: String,
    pub enabled: bool,
    /// A schedule's last firing (epoch ms).
    pub fired_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLS: &str = "id, file, trigger_id, trigger_connection, action_connection, enabled, fired_at, created_at, updated_at";
type Tuple = (
    String,
    String,
    String,
    Option<String>,
    String,
    bool,
    Option<i64>,
    i64,
    i64,
);

fn row(t: Tuple) -> ActionFlowRow {
    ActionFlowRow {
        id: t.0,
        file: t.1,
        trigger_id: t.2,
        trigger_connection: t.3,
        action_connection: t.4,
        enabled: t.5,
        fired_at: t.6,
        created_at: t.7,
        updated_at: t.8,
    }
}

impl Store {
    /// Creates or replaces an action flow (its schedule keeps its last firing).
    pub async fn put_action_flow(&self, flow: &ActionFlowRow) -> Result<()> {
        let now = self.now();
        pool!(self, p => {
            sqlx::query(
                "INSERT INTO action_flows (id, file, trigger_id, trigger_connection, action_connection, enabled, fired_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $7) \
                 ON CONFLICT (id) DO UPDATE SET file = excluded.file, trigger_id = excluded.trigger_id, \
                 trigger_connection = excluded.trigger_connection, action_connection = excluded.action_connection, \
                 enabled = excluded.enabled, updated_at = excluded.updated_at",
            )
            .bind(&flow.id).bind(&flow.file).bind(&flow.trigger_id).bind(&flow.trigger_connection)
            .bind(&flow.action_connection).bind(flow.enabled).bind(now)
            .execute(p).await?;
        });
        Ok(())
    }

    /// Every action flow, by id.
    pub async fn action_flows(&self) -> Result<Vec<ActionFlowRow>> {
        let sql = format!("SELECT {COLS} FROM action_flows ORDER BY id");
        let rows: Vec<Tuple> =
            pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(p).await?);
        Ok(rows.into_iter().map(row).collect())
    }

    /// The enabled action flows of one trigger.
    pub async fn action_flows_of(&self, trigger_id: &str) -> Result<Vec<ActionFlowRow>> {
        let sql = format!(
            "SELECT {COLS} FROM action_flows WHERE trigger_id = $1 AND enabled = TRUE ORDER BY id"
        );
        let rows: Vec<Tuple> = pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(trigger_id).fetch_all(p).await?);
        Ok(rows.into_iter().map(row).collect())
    }

    /// The triggers that have at least one enabled flow: a cheap check before
    /// building the trigger events of a large delivery.
    pub async fn live_action_triggers(&self) -> Result<std::collections::BTreeSet<String>> {
        let rows: Vec<(String,)> = pool!(self, p => sqlx::query_as(
            "SELECT DISTINCT trigger_id FROM action_flows WHERE enabled = TRUE",
        ).fetch_all(p).await?);
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    pub async fn action_flow(&self, id: &str) -> Result<Option<ActionFlowRow>> {
        let sql = format!("SELECT {COLS} FROM action_flows WHERE id = $1");
        let r: Option<Tuple> = pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await?);
        Ok(r.map(row))
    }

    /// Switches an action flow on or off; false when there is no such flow.
    pub async fn set_action_flow_enabled(&self, id: &str, enabled: bool) -> Result<bool> {
        let now = self.now();
        let n = pool!(self, p => sqlx::query("UPDATE action_flows SET enabled = $2, updated_at = $3 WHERE id = $1")
            .bind(id).bind(enabled).bind(now).execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// Records a schedule's firing at `at` if its last one was `last` (compare and
    /// set: of two workers, one fires).
    pub async fn mark_action_flow_fired(
        &self,
        id: &str,
        last: Option<i64>,
        at: i64,
    ) -> Result<bool> {
        let n = pool!(self, p => sqlx::query(
            "UPDATE action_flows SET fired_at = $2 WHERE id = $1 AND (fired_at = $3 OR (fired_at IS NULL AND $3 IS NULL))",
        )
        .bind(id).bind(at).bind(last).execute(p).await?.rows_affected());
        Ok(n == 1)
    }
}
