//! The sync engine's state: flows (a sync file switched on between two
//! connections), linked pairs with their shadow and last known states, the index
//! of both sides by match key, the per-record history, the review queue and the
//! short locks that keep two jobs for one pair apart.
//!
//! Records are stored as the JSON their API returns; the domain decides what they
//! mean. Sides are `left` and `right`, as in the sync file.

use serde::Serialize;
use sqlx::Row;

use crate::{Result, Store, StoreError, ms};

/// A flow as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowRow {
    /// The sync file's id (`lofty-ghl-contacts`).
    pub id: String,
    /// The sync file's TOML.
    pub file: String,
    pub left_connection: String,
    pub right_connection: String,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A record's state to store, with its version and its index keys
/// ([`Store::put_records`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPut {
    pub id: String,
    /// The record as its API returns it (JSON).
    pub state: String,
    pub version: Option<i64>,
    /// `(key, value)` pairs the record is matched by.
    pub keys: Vec<(String, String)>,
}

/// A linked pair of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairRow {
    pub flow_id: String,
    pub left_id: String,
    pub right_id: String,
    /// JSON of the domain's `Shadow`.
    pub shadow: String,
    /// The last known record on each side (JSON).
    pub left_state: String,
    pub right_state: String,
    /// When each side last changed, as its system says (epoch ms).
    pub left_version: Option<i64>,
    pub right_version: Option<i64>,
    /// The fingerprint of what we last wrote to each side.
    pub left_written: Option<String>,
    pub right_written: Option<String>,
}

/// One decision about a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    pub at: i64,
    pub flow: String,
    /// `system:type:id` of the record the change came from.
    pub source: String,
    /// `system:type:id` of the record acted on (empty when none).
    pub target: String,
    /// `create`, `update`, `skip`, `conflict`, `review`, `delete`, `echo`, `failed`.
    pub decision: String,
    pub reason: String,
    /// JSON list of `{field, before, after}`.
    pub diffs: String,
    pub api_status: Option<i32>,
    pub api_message: Option<String>,
    /// Who it is about: the normalised email, when known.
    pub subject: String,
}

/// Something waiting for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    pub id: i64,
    pub flow: String,
    /// `match` (several candidates), `conflict`, `delete`.
    pub kind: String,
    pub subject: String,
    /// JSON: what the person needs to decide.
    pub detail: String,
    /// `open`, `approved`, `dismissed`.
    pub status: String,
    pub created_at: i64,
}

const FLOW_COLS: &str =
    "id, file, left_connection, right_connection, enabled, created_at, updated_at";

/// A `flows` row in [`FLOW_COLS`] order.
type FlowTuple = (String, String, String, String, bool, i64, i64);

fn flow_row(
    (id, file, left_connection, right_connection, enabled, created_at, updated_at): FlowTuple,
) -> FlowRow {
    FlowRow {
        id,
        file,
        left_connection,
        right_connection,
        enabled,
        created_at,
        updated_at,
    }
}

const PAIR_COLS: &str = "flow_id, left_id, right_id, shadow, left_state, right_state, left_version, right_version, left_written, right_written";

fn side_col(side: &str) -> Result<&'static str> {
    match side {
        "left" => Ok("left_id"),
        "right" => Ok("right_id"),
        other => Err(StoreError::UnknownValue {
            table: "sync_pairs",
            column: "side",
            value: other.to_owned(),
        }),
    }
}

macro_rules! pair {
    ($r:expr) => {{
        let r = &$r;
        PairRow {
            flow_id: r.try_get("flow_id")?,
            left_id: r.try_get("left_id")?,
            right_id: r.try_get("right_id")?,
            shadow: r.try_get("shadow")?,
            left_state: r.try_get("left_state")?,
            right_state: r.try_get("right_state")?,
            left_version: r.try_get("left_version")?,
            right_version: r.try_get("right_version")?,
            left_written: r.try_get("left_written")?,
            right_written: r.try_get("right_written")?,
        }
    }};
}

/// Inserts one history entry in transaction `$tx`.
macro_rules! insert_history {
    ($tx:expr, $h:expr) => {{
        let h = $h;
        sqlx::query(
            "INSERT INTO history (at, flow_id, source, target, decision, reason, diffs, api_status, api_message, subject) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(h.at).bind(&h.flow).bind(&h.source).bind(&h.target).bind(&h.decision).bind(&h.reason)
        .bind(&h.diffs).bind(h.api_status).bind(&h.api_message).bind(&h.subject)
        .execute(&mut *$tx)
        .await?;
    }};
}

/// Counts committed decisions in `ghlsync_sync_records_total{flow,outcome}`.
fn count_decisions(entries: &[HistoryEntry]) {
    for h in entries {
        wire::metrics::sync_record(&h.flow, &h.decision);
    }
}

impl Store {
    /// Stores a flow (a new file or new connections replace the old ones).
    pub async fn put_flow(&self, flow: &FlowRow) -> Result<()> {
        let now = self.now();
        pool!(self, p => {
            sqlx::query(
                "INSERT INTO flows (id, file, left_connection, right_connection, enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                 ON CONFLICT (id) DO UPDATE SET file = excluded.file, left_connection = excluded.left_connection, \
                 right_connection = excluded.right_connection, enabled = excluded.enabled, updated_at = excluded.updated_at",
            )
            .bind(&flow.id).bind(&flow.file).bind(&flow.left_connection).bind(&flow.right_connection).bind(flow.enabled).bind(now)
            .execute(p).await?;
        });
        Ok(())
    }

    pub async fn flows(&self) -> Result<Vec<FlowRow>> {
        let sql = format!("SELECT {FLOW_COLS} FROM flows ORDER BY id");
        let rows: Vec<FlowTuple> =
            pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(p).await?);
        Ok(rows.into_iter().map(flow_row).collect())
    }

    /// One flow (one row read: the runner asks for it on every job).
    pub async fn flow(&self, id: &str) -> Result<Option<FlowRow>> {
        let sql = format!("SELECT {FLOW_COLS} FROM flows WHERE id = $1");
        let row: Option<FlowTuple> = pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await?);
        Ok(row.map(flow_row))
    }

    /// Switches a flow on or off; false when there is no such flow.
    pub async fn set_flow_enabled(&self, id: &str, enabled: bool) -> Result<bool> {
        let now = self.now();
        let n = pool!(self, p => sqlx::query("UPDATE flows SET enabled = $2, updated_at = $3 WHERE id = $1")
            .bind(id).bind(enabled).bind(now).execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// The pair of `flow` whose `side` (`left`/`right`) record is `id`.
    pub async fn pair(&self, flow: &str, side: &str, id: &str) -> Result<Option<PairRow>> {
        let sql = format!(
            "SELECT {PAIR_COLS} FROM sync_pairs WHERE flow_id = $1 AND {} = $2",
            side_col(side)?
        );
        pool!(self, p => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(flow).bind(id).fetch_optional(p).await?;
            Ok(match row { Some(r) => Some(pair!(r)), None => None })
        })
    }

    /// Every pair of a flow, in id order, `limit` from `after` (reconciliation).
    pub async fn pairs(&self, flow: &str, after: i64, limit: i64) -> Result<Vec<(i64, PairRow)>> {
        let sql = format!(
            "SELECT id, {PAIR_COLS} FROM sync_pairs WHERE flow_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        );
        pool!(self, p => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(flow).bind(after).bind(limit).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push((r.try_get("id")?, pair!(r)));
            }
            Ok(out)
        })
    }

    pub async fn count_pairs(&self, flow: &str) -> Result<i64> {
        pool!(self, p => Ok(sqlx::query_scalar("SELECT COUNT(*) FROM sync_pairs WHERE flow_id = $1").bind(flow).fetch_one(p).await?))
    }

    /// Creates or replaces a pair (by its left record), with a history entry in the
    /// same transaction: the history says exactly what the pair now holds.
    pub async fn put_pair(&self, pair: &PairRow, history: &[HistoryEntry]) -> Result<()> {
        let now = self.now();
        pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO sync_pairs (flow_id, left_id, right_id, shadow, left_state, right_state, left_version, right_version, left_written, right_written, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (flow_id, left_id) DO UPDATE SET right_id = excluded.right_id, shadow = excluded.shadow, \
                 left_state = excluded.left_state, right_state = excluded.right_state, left_version = excluded.left_version, \
                 right_version = excluded.right_version, left_written = excluded.left_written, right_written = excluded.right_written, \
                 updated_at = excluded.updated_at",
            )
            .bind(&pair.flow_id).bind(&pair.left_id).bind(&pair.right_id).bind(&pair.shadow)
            .bind(&pair.left_state).bind(&pair.right_state).bind(pair.left_version).bind(pair.right_version)
            .bind(&pair.left_written).bind(&pair.right_written).bind(now)
            .execute(&mut *tx).await?;
            for h in history {
                insert_history!(tx, h);
            }
            tx.commit().await?;
        });
        count_decisions(history);
        Ok(())
    }

    /// Forgets a pair (unlink); false when there was none.
    pub async fn remove_pair(&self, flow: &str, side: &str, id: &str) -> Result<bool> {
        let sql = format!(
            "DELETE FROM sync_pairs WHERE flow_id = $1 AND {} = $2",
            side_col(side)?
        );
        let n = pool!(self, p => sqlx::query(sqlx::AssertSqlSafe(sql)).bind(flow).bind(id).execute(p).await?.rows_affected());
        Ok(n > 0)
    }

    /// Replaces the index keys of one record (`(key, value)` pairs).
    pub async fn index_record(
        &self,
        flow: &str,
        side: &str,
        record: &str,
        keys: &[(String, String)],
    ) -> Result<()> {
        side_col(side)?;
        pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("DELETE FROM sync_index WHERE flow_id = $1 AND side = $2 AND record_id = $3")
                .bind(flow).bind(side).bind(record).execute(&mut *tx).await?;
            for (k, v) in keys {
                sqlx::query(
                    "INSERT INTO sync_index (flow_id, side, key_name, key_value, record_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(flow).bind(side).bind(k).bind(v).bind(record).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records of `side` whose key `key` is `value`.
    pub async fn find_by_key(
        &self,
        flow: &str,
        side: &str,
        key: &str,
        value: &str,
    ) -> Result<Vec<String>> {
        pool!(self, p => Ok(sqlx::query_scalar(
            "SELECT record_id FROM sync_index WHERE flow_id = $1 AND side = $2 AND key_name = $3 AND key_value = $4 ORDER BY record_id",
        ).bind(flow).bind(side).bind(key).bind(value).fetch_all(p).await?))
    }

    /// Appends history entries.
    pub async fn append_history(&self, entries: &[HistoryEntry]) -> Result<()> {
        pool!(self, p => {
            let mut tx = p.begin().await?;
            for h in entries {
                insert_history!(tx, h);
            }
            tx.commit().await?;
        });
        count_decisions(entries);
        Ok(())
    }

    /// The history of a person or a record: entries whose subject, source or target
    /// is `who`, oldest first.
    pub async fn history(&self, who: &str, limit: i64) -> Result<Vec<HistoryEntry>> {
        self.history_where("subject = $1 OR source = $1 OR target = $1", who, limit)
            .await
    }

    /// The newest entries of a flow (or of every flow when `flow` is empty), oldest first.
    pub async fn runs(&self, flow: &str, limit: i64) -> Result<Vec<HistoryEntry>> {
        self.history_where("($1 = '' OR flow_id = $1)", flow, limit)
            .await
    }

    /// How many decisions of each kind each flow made since `since` (epoch ms):
    /// `(flow, decision, count)`, by flow then decision.
    pub async fn decision_counts(&self, since: i64) -> Result<Vec<(String, String, i64)>> {
        pool!(self, p => Ok(sqlx::query_as(
            "SELECT flow_id, decision, COUNT(*) FROM history WHERE at >= $1 GROUP BY flow_id, decision ORDER BY flow_id, decision",
        ).bind(since).fetch_all(p).await?))
    }

    async fn history_where(
        &self,
        filter: &str,
        arg: &str,
        limit: i64,
    ) -> Result<Vec<HistoryEntry>> {
        let sql = format!(
            "SELECT at, flow_id, source, target, decision, reason, diffs, api_status, api_message, subject FROM \
             (SELECT * FROM history WHERE {filter} ORDER BY at DESC, id DESC LIMIT $2) AS h ORDER BY at, id"
        );
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            String,
            String,
            Option<i32>,
            Option<String>,
            String,
        );
        let rows: Vec<Row> = pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(arg).bind(limit).fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .map(
                |(
                    at,
                    flow,
                    source,
                    target,
                    decision,
                    reason,
                    diffs,
                    api_status,
                    api_message,
                    subject,
                )| HistoryEntry {
                    at,
                    flow,
                    source,
                    target,
                    decision,
                    reason,
                    diffs,
                    api_status,
                    api_message,
                    subject,
                },
            )
            .collect())
    }

    /// Deletes history older than `age`; returns how many entries went.
    pub async fn prune_history(&self, age: std::time::Duration) -> Result<u64> {
        let cutoff = self.now() - ms(age);
        pool!(self, p => Ok(sqlx::query("DELETE FROM history WHERE at < $1").bind(cutoff).execute(p).await?.rows_affected()))
    }

    /// Opens a review; returns its id.
    pub async fn open_review(
        &self,
        flow: &str,
        kind: &str,
        subject: &str,
        detail: &str,
    ) -> Result<i64> {
        let now = self.now();
        pool!(self, p => Ok(sqlx::query_scalar(
            "INSERT INTO reviews (flow_id, kind, subject, detail, status, created_at) VALUES ($1, $2, $3, $4, 'open', $5) RETURNING id",
        ).bind(flow).bind(kind).bind(subject).bind(detail).bind(now).fetch_one(p).await?))
    }

    /// Reviews with `status` (`open`, `approved`, `dismissed`; empty for all), oldest first.
    pub async fn reviews(&self, status: &str) -> Result<Vec<Review>> {
        type Row = (i64, String, String, String, String, String, i64);
        let rows: Vec<Row> = pool!(self, p => sqlx::query_as(
            "SELECT id, flow_id, kind, subject, detail, status, created_at FROM reviews WHERE ($1 = '' OR status = $1) ORDER BY created_at, id",
        ).bind(status).fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .map(
                |(id, flow, kind, subject, detail, status, created_at)| Review {
                    id,
                    flow,
                    kind,
                    subject,
                    detail,
                    status,
                    created_at,
                },
            )
            .collect())
    }

    /// Settles an open review (`approved` or `dismissed`); false when it is not open.
    /// One review, whatever its status.
    pub async fn review(&self, id: i64) -> Result<Option<Review>> {
        Ok(self.reviews("").await?.into_iter().find(|r| r.id == id))
    }

    pub async fn settle_review(&self, id: i64, approved: bool) -> Result<bool> {
        let now = self.now();
        let status = if approved { "approved" } else { "dismissed" };
        let n = pool!(self, p => sqlx::query("UPDATE reviews SET status = $2, settled_at = $3 WHERE id = $1 AND status = 'open'")
            .bind(id).bind(status).bind(now).execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// Takes the lock `key` for `owner` for `ttl` (free, expired, or already ours).
    pub async fn try_lock(&self, key: &str, owner: &str, ttl: std::time::Duration) -> Result<bool> {
        let now = self.now();
        let n = pool!(self, p => sqlx::query(
            "INSERT INTO sync_locks (key, owner, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at \
             WHERE sync_locks.expires_at < $4 OR sync_locks.owner = excluded.owner",
        ).bind(key).bind(owner).bind(now + ms(ttl)).bind(now).execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// Releases `key` if `owner` holds it.
    pub async fn unlock(&self, key: &str, owner: &str) -> Result<()> {
        pool!(self, p => {
            sqlx::query("DELETE FROM sync_locks WHERE key = $1 AND owner = $2").bind(key).bind(owner).execute(p).await?;
        });
        Ok(())
    }

    /// Remembers the last known state of a record (newer versions only: a late,
    /// older state never replaces a newer one). Returns false when it was older.
    pub async fn put_record_state(
        &self,
        flow: &str,
        side: &str,
        id: &str,
        state: &str,
        version: Option<i64>,
    ) -> Result<bool> {
        side_col(side)?;
        let now = self.now();
        let n = pool!(self, p => sqlx::query(
            "INSERT INTO sync_records (flow_id, side, record_id, state, version, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (flow_id, side, record_id) DO UPDATE SET state = excluded.state, version = excluded.version, updated_at = excluded.updated_at \
             WHERE sync_records.version IS NULL OR excluded.version IS NULL OR excluded.version >= sync_records.version",
        ).bind(flow).bind(side).bind(id).bind(state).bind(version).bind(now).execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// Stores many records' states and their index keys in one transaction: each
    /// state as [`Store::put_record_state`] does (a late, older one never replaces
    /// a newer one), and the keys of each state stored replace its index rows (an
    /// older state keeps the index of the newer). Returns, per record, whether its
    /// state was stored.
    pub async fn put_records(
        &self,
        flow: &str,
        side: &str,
        records: &[RecordPut],
    ) -> Result<Vec<bool>> {
        side_col(side)?;
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let mut stored = Vec::with_capacity(records.len());
        pool!(self, p => {
            let mut tx = p.begin().await?;
            for r in records {
                let n = sqlx::query(
                    "INSERT INTO sync_records (flow_id, side, record_id, state, version, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (flow_id, side, record_id) DO UPDATE SET state = excluded.state, version = excluded.version, updated_at = excluded.updated_at \
                     WHERE sync_records.version IS NULL OR excluded.version IS NULL OR excluded.version >= sync_records.version",
                ).bind(flow).bind(side).bind(&r.id).bind(&r.state).bind(r.version).bind(now).execute(&mut *tx).await?.rows_affected();
                stored.push(n == 1);
                if n != 1 {
                    continue;
                }
                sqlx::query("DELETE FROM sync_index WHERE flow_id = $1 AND side = $2 AND record_id = $3")
                    .bind(flow).bind(side).bind(&r.id).execute(&mut *tx).await?;
                for (k, v) in &r.keys {
                    sqlx::query(
                        "INSERT INTO sync_index (flow_id, side, key_name, key_value, record_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                    )
                    .bind(flow).bind(side).bind(k).bind(v).bind(&r.id).execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
        });
        Ok(stored)
    }

    /// One record's state and index keys ([`Store::put_records`] for one).
    pub async fn put_record(&self, flow: &str, side: &str, record: RecordPut) -> Result<bool> {
        Ok(self
            .put_records(flow, side, std::slice::from_ref(&record))
            .await?[0])
    }

    /// Ids and versions of the records a flow knows on `side`, in id order after
    /// `after`.
    pub async fn record_versions(
        &self,
        flow: &str,
        side: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, Option<i64>)>> {
        side_col(side)?;
        pool!(self, p => Ok(sqlx::query_as(
            "SELECT record_id, version FROM sync_records WHERE flow_id = $1 AND side = $2 AND record_id > $3 ORDER BY record_id LIMIT $4",
        ).bind(flow).bind(side).bind(after).bind(limit).fetch_all(p).await?))
    }

    /// The last known state of a record and its version.
    pub async fn record_state(
        &self,
        flow: &str,
        side: &str,
        id: &str,
    ) -> Result<Option<(String, Option<i64>)>> {
        pool!(self, p => Ok(sqlx::query_as(
            "SELECT state, version FROM sync_records WHERE flow_id = $1 AND side = $2 AND record_id = $3",
        ).bind(flow).bind(side).bind(id).fetch_optional(p).await?))
    }

    /// Ids of the records a flow knows on `side`, in id order after `after`.
    pub async fn record_ids(
        &self,
        flow: &str,
        side: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<String>> {
        side_col(side)?;
        pool!(self, p => Ok(sqlx::query_scalar(
            "SELECT record_id FROM sync_records WHERE flow_id = $1 AND side = $2 AND record_id > $3 ORDER BY record_id LIMIT $4",
        ).bind(flow).bind(side).bind(after).bind(limit).fetch_all(p).await?))
    }

    pub async fn count_records(&self, flow: &str, side: &str) -> Result<i64> {
        pool!(self, p => Ok(sqlx::query_scalar("SELECT COUNT(*) FROM sync_records WHERE flow_id = $1 AND side = $2")
            .bind(flow).bind(side).fetch_one(p).await?))
    }
}
