//! The run log (`run_log`): one line per job outcome about a record (created,
//! updated, skipped, failed, with the detail), the per-record integration history
//! the CLI and the UI show. A worker writes its lines with the job's completion, in
//! the same transaction ([`Store::complete_many`]), so a line exists exactly when
//! its job is done. Each line names the job kind that wrote it and, separately, the
//! sync flow it ran for.

use serde::{Deserialize, Serialize};

use crate::{Result, Store};

/// One line of a record's integration log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLogEntry {
    pub job_id: Option<i64>,
    /// The kind of job that wrote the line (`ghl.event`, `lofty.lead`...).
    pub kind: String,
    /// The name of the sync flow the job ran for; empty when no flow started it.
    pub flow: String,
    /// The record this is about, e.g. `ghl:contact:abc`.
    pub record: String,
    /// `created`, `updated`, `skipped`, `failed`, ...
    pub outcome: String,
    pub detail: String,
    pub duration_ms: i64,
    pub at: i64,
}

/// (job id, kind, flow, record, outcome, detail, duration ms, at) of a `run_log` row.
type LogRow = (
    Option<i64>,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
);

/// Inserts the lines of a JSON array of [`RunLogEntry`] (see [`logs_json`]), SQLite.
pub(crate) const INSERT_JSON_SQLITE: &str = "INSERT INTO run_log (job_id, kind, flow, record, outcome, detail, duration_ms, at) \
     SELECT json_extract(value, '$.job_id'), json_extract(value, '$.kind'), json_extract(value, '$.flow'), \
     json_extract(value, '$.record'), json_extract(value, '$.outcome'), json_extract(value, '$.detail'), \
     json_extract(value, '$.duration_ms'), json_extract(value, '$.at') FROM json_each($1)";

/// The same for PostgreSQL.
pub(crate) const INSERT_JSON_POSTGRES: &str = "INSERT INTO run_log (job_id, kind, flow, record, outcome, detail, duration_ms, at) \
     SELECT job_id, kind, flow, record, outcome, detail, duration_ms, at FROM json_to_recordset($1::json) \
     AS x(job_id bigint, kind text, flow text, record text, outcome text, detail text, duration_ms bigint, at bigint)";

impl Store {
    pub async fn append_run_log(&self, e: &RunLogEntry) -> Result<()> {
        pool!(self, p => {
            sqlx::query("INSERT INTO run_log (job_id, kind, flow, record, outcome, detail, duration_ms, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(e.job_id).bind(&e.kind).bind(&e.flow).bind(&e.record).bind(&e.outcome).bind(&e.detail)
                .bind(e.duration_ms).bind(e.at)
                .execute(p).await?;
        });
        Ok(())
    }

    /// The run log of one record, oldest first.
    pub async fn run_log(&self, record: &str) -> Result<Vec<RunLogEntry>> {
        let rows: Vec<LogRow> = pool!(self, p => {
            sqlx::query_as("SELECT job_id, kind, flow, record, outcome, detail, duration_ms, at FROM run_log WHERE record = $1 ORDER BY id")
                .bind(record).fetch_all(p).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(job_id, kind, flow, record, outcome, detail, duration_ms, at)| RunLogEntry {
                    job_id,
                    kind,
                    flow,
                    record,
                    outcome,
                    detail,
                    duration_ms,
                    at,
                },
            )
            .collect())
    }

    /// (job id, number of run-log entries) for every job that has any (crash tests).
    pub async fn run_log_counts(&self) -> Result<Vec<(i64, i64)>> {
        pool!(self, p => Ok(sqlx::query_as(
            "SELECT job_id, COUNT(*) FROM run_log WHERE job_id IS NOT NULL GROUP BY job_id",
        ).fetch_all(p).await?))
    }
}

/// The run-log entries of `owned` jobs as a JSON array (for batch inserts).
pub(crate) fn logs_json(items: &[(i64, Option<RunLogEntry>)], owned: &[i64]) -> Result<String> {
    let logs: Vec<&RunLogEntry> = items
        .iter()
        .filter(|(id, _)| owned.contains(id))
        .filter_map(|(_, log)| log.as_ref())
        .collect();
    Ok(serde_json::to_string(&logs)?)
}
