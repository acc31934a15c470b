//! The job queue (`jobs`): idempotent enqueue, claims with a lease (`BEGIN
//! IMMEDIATE` on SQLite, `FOR UPDATE SKIP LOCKED` on PostgreSQL), heartbeats,
//! lease-fenced completion that writes the run log in the same transaction,
//! failures by retry class with exponential backoff, dead letters and replay.
//! A worker that dies loses nothing: its leases expire and another worker takes
//! the jobs.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::run_log::{self, RunLogEntry};
use crate::{Backend, Result, Store, StoreError, ms};

/// Status of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Dead,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }

    /// Reads `jobs.status`. A value this version does not know is an error: taking
    /// it for `queued` would run a job someone meant to keep out of the queue.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "queued" => Ok(Self::Queued),
            "running" => Ok(Self::Running),
            "done" => Ok(Self::Done),
            "dead" => Ok(Self::Dead),
            _ => Err(StoreError::UnknownValue {
                table: "jobs",
                column: "status",
                value: s.to_owned(),
            }),
        }
    }
}

/// A job to enqueue. The idempotency key is unique: enqueuing it twice creates one job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewJob {
    pub queue: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub idempotency_key: String,
    /// Jobs of a connection wait while it is not active.
    pub connection_id: Option<String>,
    pub max_attempts: i32,
    /// Delay before the first run.
    pub delay: Duration,
}

impl NewJob {
    pub fn new(kind: &str, key: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            queue: "default".to_owned(),
            kind: kind.to_owned(),
            payload,
            idempotency_key: key.into(),
            connection_id: None,
            max_attempts: 8,
            delay: Duration::ZERO,
        }
    }
    pub fn on_connection(mut self, id: impl Into<String>) -> Self {
        self.connection_id = Some(id.into());
        self
    }
    pub fn in_queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }
    pub fn max_attempts(mut self, n: i32) -> Self {
        self.max_attempts = n;
        self
    }
}

/// A job as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub id: i64,
    pub queue: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub idempotency_key: String,
    pub connection_id: Option<String>,
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub last_error: Option<String>,
}

/// Result of an enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    pub id: i64,
    /// False when a job with this idempotency key already existed.
    pub created: bool,
}

/// How a failed job is retried: the error's retry class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Retry after exactly this long (a server-given wait, e.g. a 429).
    RetryAfter(Duration),
    /// Retry with exponential backoff and jitter (5xx, timeouts).
    Retry,
    /// The connection needs the user: the job waits, its attempt is not counted.
    Reauth,
    /// Do not retry: dead letter.
    GiveUp,
    /// Another job holds what this one needs (a record's lock): retry after this
    /// long; the attempt is not counted, since the job did not fail.
    Busy(Duration),
}

/// What `fail` did with the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Queued again to run at this time (epoch ms).
    Retrying { run_at: i64 },
    /// Waiting for its connection to be re-authorised.
    Held,
    /// Moved to the dead letters.
    Dead,
    /// The caller no longer held the lease (another worker took the job).
    LeaseLost,
}

/// Which dead letters to replay.
#[derive(Debug, Clone)]
pub enum ReplayFilter {
    One(i64),
    Kind(String),
    Queue(String),
    All,
}

/// Counts of jobs per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    pub queued: i64,
    pub running: i64,
    pub done: i64,
    pub dead: i64,
}

/// Columns of `jobs` in the order [`job!`] reads them.
const JOB_COLS: &str = "id, queue, kind, payload, idempotency_key, connection_id, status, attempts, max_attempts, run_at, lease_owner, lease_expires_at, last_error";

/// Builds a [`Job`] from a row (either backend).
macro_rules! job {
    ($r:expr) => {{
        let r = &$r;
        let payload: String = r.try_get("payload")?;
        let status: String = r.try_get("status")?;
        Job {
            id: r.try_get("id")?,
            queue: r.try_get("queue")?,
            kind: r.try_get("kind")?,
            payload: serde_json::from_str(&payload)?,
            idempotency_key: r.try_get("idempotency_key")?,
            connection_id: r.try_get("connection_id")?,
            status: JobStatus::parse(&status)?,
            attempts: r.try_get("attempts")?,
            max_attempts: r.try_get("max_attempts")?,
            run_at: r.try_get("run_at")?,
            lease_owner: r.try_get("lease_owner")?,
            lease_expires_at: r.try_get("lease_expires_at")?,
            last_error: r.try_get("last_error")?,
        }
    }};
}

/// Exponential backoff with jitter: 1 s, 2 s, 4 s, ... capped at 10 minutes, +-20 %.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 20) - 1;
    let base = 1000u64.saturating_mul(1u64 << exp).min(600_000);
    let jitter = rand::rng().random_range(0.8..1.2);
    Duration::from_millis((base as f64 * jitter) as u64)
}

impl Store {
    /// Empties the queue and the run log (benchmarks only).
    pub async fn reset_queue(&self) -> Result<()> {
        pool!(self, p => {
            sqlx::query("DELETE FROM jobs").execute(p).await?;
            sqlx::query("DELETE FROM run_log").execute(p).await?;
        });
        Ok(())
    }

    /// Enqueues a job; a second job with the same idempotency key is not created.
    pub async fn enqueue(&self, job: &NewJob) -> Result<Enqueued> {
        self.yield_to_intake().await;
        let now = self.now();
        let payload = serde_json::to_string(&job.payload)?;
        pool!(self, p => {
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO jobs (queue, kind, payload, idempotency_key, connection_id, status, attempts, max_attempts, run_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $8) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            )
            .bind(&job.queue).bind(&job.kind).bind(payload).bind(&job.idempotency_key).bind(&job.connection_id)
            .bind(job.max_attempts).bind(now + ms(job.delay)).bind(now)
            .fetch_optional(p).await?;
            match id {
                Some(id) => Ok(Enqueued { id, created: true }),
                None => {
                    let id: i64 = sqlx::query_scalar("SELECT id FROM jobs WHERE idempotency_key = $1")
                        .bind(&job.idempotency_key).fetch_one(p).await?;
                    Ok(Enqueued { id, created: false })
                }
            }
        })
    }

    /// Enqueues many jobs in one statement; returns how many were new.
    pub async fn enqueue_many(&self, jobs: &[NewJob]) -> Result<usize> {
        if jobs.is_empty() {
            return Ok(0);
        }
        self.yield_to_intake().await;
        let now = self.now();
        let rows: Vec<serde_json::Value> = jobs
            .iter()
            .map(|j| {
                Ok(serde_json::json!({
                    "queue": j.queue,
                    "kind": j.kind,
                    "payload": serde_json::to_string(&j.payload)?,
                    "idempotency_key": j.idempotency_key,
                    "connection_id": j.connection_id,
                    "max_attempts": j.max_attempts,
                    "run_at": now + ms(j.delay),
                }))
            })
            .collect::<Result<_>>()?;
        let rows = serde_json::to_string(&rows)?;
        let created = match &self.backend {
            Backend::Sqlite(p) => sqlx::query(
                "INSERT INTO jobs (queue, kind, payload, idempotency_key, connection_id, status, attempts, max_attempts, run_at, created_at, updated_at) \
                 SELECT json_extract(value, '$.queue'), json_extract(value, '$.kind'), json_extract(value, '$.payload'), \
                 json_extract(value, '$.idempotency_key'), json_extract(value, '$.connection_id'), 'queued', 0, \
                 json_extract(value, '$.max_attempts'), json_extract(value, '$.run_at'), $2, $2 \
                 FROM json_each($1) WHERE true ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(rows).bind(now).execute(p).await?.rows_affected(),
            Backend::Postgres(p) => sqlx::query(
                "INSERT INTO jobs (queue, kind, payload, idempotency_key, connection_id, status, attempts, max_attempts, run_at, created_at, updated_at) \
                 SELECT queue, kind, payload, idempotency_key, connection_id, 'queued', 0, max_attempts, run_at, $2, $2 \
                 FROM json_to_recordset($1::json) AS x(queue text, kind text, payload text, idempotency_key text, \
                 connection_id text, max_attempts int, run_at bigint) ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(rows).bind(now).execute(p).await?.rows_affected(),
        };
        Ok(usize::try_from(created).unwrap_or(0))
    }

    /// Claims up to `n` ready jobs of `queue` for `worker` with a lease. Ready: queued
    /// and due, or running with an expired lease (its worker died). Jobs of a
    /// connection that is not active are left alone.
    pub async fn claim(
        &self,
        queue: &str,
        worker: &str,
        n: usize,
        lease: Duration,
    ) -> Result<Vec<Job>> {
        self.yield_to_intake().await;
        let now = self.now();
        let until = now + ms(lease);
        let limit = i64::try_from(n).unwrap_or(i64::MAX);
        // Two index walks that stop at the batch size (expired leases first, then
        // queued jobs in (run_at, id) order), never a sort of the whole backlog: the
        // claim holds SQLite's write lock, and the intake waits for it.
        let pick = |status_and_time: &str, order: &str, lock: &str| {
            format!(
                "UPDATE jobs SET status = 'running', lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1, updated_at = $3 \
                 WHERE id IN (SELECT id FROM jobs WHERE queue = $4 AND {status_and_time} \
                 AND (connection_id IS NULL OR connection_id NOT IN (SELECT id FROM connections WHERE status <> 'active')) \
                 ORDER BY {order} LIMIT $5{lock}) RETURNING {JOB_COLS}"
            )
        };
        let expired = |lock: &str| {
            pick(
                "status = 'running' AND lease_expires_at < $3",
                "lease_expires_at, id",
                lock,
            )
        };
        let queued = |lock: &str| pick("status = 'queued' AND run_at <= $3", "run_at, id", lock);
        let mut jobs = Vec::new();
        macro_rules! claim_in {
            ($tx:expr, $lock:expr) => {{
                for sql in [expired($lock), queued($lock)] {
                    let want = limit - i64::try_from(jobs.len()).unwrap_or(0);
                    if want <= 0 {
                        break;
                    }
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(worker)
                        .bind(until)
                        .bind(now)
                        .bind(queue)
                        .bind(want)
                        .fetch_all(&mut *$tx)
                        .await?;
                    for r in rows {
                        jobs.push(job!(r));
                    }
                }
            }};
        }
        match &self.backend {
            Backend::Sqlite(p) => {
                let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                claim_in!(tx, "");
                tx.commit().await?;
            }
            Backend::Postgres(p) => {
                let mut tx = p.begin().await?;
                claim_in!(tx, " FOR UPDATE SKIP LOCKED");
                tx.commit().await?;
            }
        }
        jobs.sort_by_key(|j| (j.run_at, j.id));
        Ok(jobs)
    }

    /// Extends the leases of the jobs `worker` is still running (`ids`). Jobs it
    /// claimed but no longer works on are left to expire and be taken again.
    pub async fn heartbeat(&self, worker: &str, ids: &[i64], lease: Duration) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.yield_to_intake().await;
        let now = self.now();
        let ids = serde_json::to_string(ids)?;
        let r = match &self.backend {
            Backend::Sqlite(p) => sqlx::query(
                "UPDATE jobs SET lease_expires_at = $2 WHERE lease_owner = $1 AND status = 'running' \
                 AND id IN (SELECT value FROM json_each($3))",
            )
            .bind(worker).bind(now + ms(lease)).bind(ids).execute(p).await?.rows_affected(),
            Backend::Postgres(p) => sqlx::query(
                "UPDATE jobs SET lease_expires_at = $2 WHERE lease_owner = $1 AND status = 'running' \
                 AND id IN (SELECT value::bigint FROM json_array_elements_text($3::json))",
            )
            .bind(worker).bind(now + ms(lease)).bind(ids).execute(p).await?.rows_affected(),
        };
        Ok(r)
    }

    /// Marks a job done (if `worker` still holds it) and appends its run-log entry
    /// in the same transaction: the entry exists exactly when the job is done.
    /// Returns false when the lease was lost (nothing written).
    pub async fn complete(
        &self,
        worker: &str,
        job_id: i64,
        log: Option<&RunLogEntry>,
    ) -> Result<bool> {
        let done = self
            .complete_many(worker, &[(job_id, log.cloned())])
            .await?;
        Ok(done == 1)
    }

    /// Completes many jobs at once (see [`Store::complete`]); returns how many were still ours.
    pub async fn complete_many(
        &self,
        worker: &str,
        items: &[(i64, Option<RunLogEntry>)],
    ) -> Result<usize> {
        if items.is_empty() {
            return Ok(0);
        }
        self.yield_to_intake().await;
        let now = self.now();
        let ids: Vec<i64> = items.iter().map(|(id, _)| *id).collect();
        let owned: Vec<i64> = match &self.backend {
            Backend::Sqlite(p) => {
                let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                let owned: Vec<i64> = sqlx::query_scalar(
                    "UPDATE jobs SET status = 'done', lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
                     WHERE id IN (SELECT value FROM json_each($2)) AND lease_owner = $3 AND status = 'running' RETURNING id",
                )
                .bind(now).bind(serde_json::to_string(&ids)?).bind(worker)
                .fetch_all(&mut *tx).await?;
                let logs = run_log::logs_json(items, &owned)?;
                if logs != "[]" {
                    sqlx::query(run_log::INSERT_JSON_SQLITE)
                        .bind(logs)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                owned
            }
            Backend::Postgres(p) => {
                let mut tx = p.begin().await?;
                let owned: Vec<i64> = sqlx::query_scalar(
                    "UPDATE jobs SET status = 'done', lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
                     WHERE id = ANY($2) AND lease_owner = $3 AND status = 'running' RETURNING id",
                )
                .bind(now).bind(&ids).bind(worker)
                .fetch_all(&mut *tx).await?;
                let logs = run_log::logs_json(items, &owned)?;
                if logs != "[]" {
                    sqlx::query(run_log::INSERT_JSON_POSTGRES)
                        .bind(logs)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                owned
            }
        };
        Ok(owned.len())
    }

    /// Records a failure with its retry class; see [`Failure`].
    pub async fn fail(
        &self,
        worker: &str,
        job: &Job,
        failure: Failure,
        error: &str,
    ) -> Result<FailOutcome> {
        self.yield_to_intake().await;
        let now = self.now();
        let (status, run_at, attempts, outcome) = match failure {
            Failure::GiveUp => ("dead", now, job.attempts, FailOutcome::Dead),
            Failure::Reauth if job.connection_id.is_some() => {
                ("queued", now, (job.attempts - 1).max(0), FailOutcome::Held)
            }
            // Nothing to hold it on: a transient failure.
            Failure::Reauth if job.attempts >= job.max_attempts => {
                ("dead", now, job.attempts, FailOutcome::Dead)
            }
            Failure::Reauth => {
                let at = now + ms(backoff(job.attempts));
                (
                    "queued",
                    at,
                    job.attempts,
                    FailOutcome::Retrying { run_at: at },
                )
            }
            Failure::Busy(wait) => {
                let at = now + ms(wait);
                (
                    "queued",
                    at,
                    (job.attempts - 1).max(0),
                    FailOutcome::Retrying { run_at: at },
                )
            }
            Failure::RetryAfter(_) | Failure::Retry if job.attempts >= job.max_attempts => {
                ("dead", now, job.attempts, FailOutcome::Dead)
            }
            Failure::RetryAfter(wait) => {
                let at = now + ms(wait);
                (
                    "queued",
                    at,
                    job.attempts,
                    FailOutcome::Retrying { run_at: at },
                )
            }
            Failure::Retry => {
                let at = now + ms(backoff(job.attempts));
                (
                    "queued",
                    at,
                    job.attempts,
                    FailOutcome::Retrying { run_at: at },
                )
            }
        };
        let hold = matches!(failure, Failure::Reauth)
            .then_some(job.connection_id.as_deref())
            .flatten();
        let changed = pool!(self, p => {
            let mut tx = p.begin().await?;
            let changed = sqlx::query(
                "UPDATE jobs SET status = $1, run_at = $2, attempts = $3, last_error = $4, lease_owner = NULL, \
                 lease_expires_at = NULL, updated_at = $5 WHERE id = $6 AND lease_owner = $7 AND status = 'running'",
            )
            .bind(status).bind(run_at).bind(attempts).bind(error).bind(now).bind(job.id).bind(worker)
            .execute(&mut *tx).await?.rows_affected();
            if let (1, Some(conn)) = (changed, hold) {
                // Held jobs wait for the user: the connection says why, so nothing spins.
                sqlx::query(
                    "UPDATE connections SET status = 'needs_reauth', status_reason = COALESCE(status_reason, $2), updated_at = $3 \
                     WHERE id = $1 AND status = 'active'",
                )
                .bind(conn).bind(error).bind(now)
                .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            changed
        });
        Ok(if changed == 1 {
            outcome
        } else {
            FailOutcome::LeaseLost
        })
    }

    /// Holds a job until `connection` is active again: queued (its attempt not
    /// counted) and waiting on that connection from now on, which is marked
    /// `needs_reauth` with `error` (unless it already says why). For a job that needs
    /// a connection other than its own, e.g. a `flow.run`, which has none.
    pub async fn hold_for(
        &self,
        worker: &str,
        job: &Job,
        connection: &str,
        error: &str,
    ) -> Result<FailOutcome> {
        self.yield_to_intake().await;
        let now = self.now();
        let changed = pool!(self, p => {
            let mut tx = p.begin().await?;
            let changed = sqlx::query(
                "UPDATE jobs SET status = 'queued', run_at = $1, attempts = $2, last_error = $3, lease_owner = NULL, \
                 lease_expires_at = NULL, updated_at = $1, connection_id = $4 WHERE id = $5 AND lease_owner = $6 AND status = 'running'",
            )
            .bind(now).bind((job.attempts - 1).max(0)).bind(error).bind(connection).bind(job.id).bind(worker)
            .execute(&mut *tx).await?.rows_affected();
            if changed == 1 {
                sqlx::query(
                    "UPDATE connections SET status = 'needs_reauth', status_reason = COALESCE(status_reason, $2), updated_at = $3 \
                     WHERE id = $1 AND status = 'active'",
                )
                .bind(connection).bind(error).bind(now)
                .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            changed
        });
        Ok(if changed == 1 {
            FailOutcome::Held
        } else {
            FailOutcome::LeaseLost
        })
    }

    /// Puts dead letters back in the queue (attempts reset). Returns how many.
    pub async fn replay(&self, filter: &ReplayFilter) -> Result<u64> {
        let now = self.now();
        let base = "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, last_error = NULL, updated_at = $1 WHERE status = 'dead'";
        pool!(self, p => {
            let r = match filter {
                ReplayFilter::All => sqlx::query(base).bind(now).execute(p).await?,
                ReplayFilter::One(id) => sqlx::query(sqlx::AssertSqlSafe(format!("{base} AND id = $2"))).bind(now).bind(*id).execute(p).await?,
                ReplayFilter::Kind(k) => sqlx::query(sqlx::AssertSqlSafe(format!("{base} AND kind = $2"))).bind(now).bind(k).execute(p).await?,
                ReplayFilter::Queue(q) => sqlx::query(sqlx::AssertSqlSafe(format!("{base} AND queue = $2"))).bind(now).bind(q).execute(p).await?,
            };
            Ok(r.rows_affected())
        })
    }

    pub async fn job(&self, id: i64) -> Result<Option<Job>> {
        let sql = format!("SELECT {JOB_COLS} FROM jobs WHERE id = $1");
        pool!(self, p => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await?;
            Ok(match row { Some(r) => Some(job!(r)), None => None })
        })
    }

    /// Dead letters, newest first.
    pub async fn dead_letters(&self, limit: i64) -> Result<Vec<Job>> {
        let sql = format!(
            "SELECT {JOB_COLS} FROM jobs WHERE status = 'dead' ORDER BY updated_at DESC, id DESC LIMIT $1"
        );
        pool!(self, p => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(job!(r));
            }
            Ok(out)
        })
    }

    pub async fn queue_stats(&self) -> Result<QueueStats> {
        let rows: Vec<(String, i64)> = pool!(self, p => {
            sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetch_all(p).await?
        });
        let mut s = QueueStats::default();
        for (status, n) in rows {
            match JobStatus::parse(&status)? {
                JobStatus::Queued => s.queued = n,
                JobStatus::Running => s.running = n,
                JobStatus::Done => s.done = n,
                JobStatus::Dead => s.dead = n,
            }
        }
        Ok(s)
    }

    /// Done jobs of `kind` per connection: `(connection, jobs, first done, last
    /// done)`, times in epoch ms (for benchmarks of fairness across connections).
    pub async fn done_spans(&self, kind: &str) -> Result<Vec<(String, i64, i64, i64)>> {
        pool!(self, p => Ok(sqlx::query_as(
            "SELECT connection_id, COUNT(*), MIN(updated_at), MAX(updated_at) FROM jobs \
             WHERE kind = $1 AND status = 'done' AND connection_id IS NOT NULL \
             GROUP BY connection_id ORDER BY connection_id",
        ).bind(kind).fetch_all(p).await?))
    }

    /// Jobs waiting or running, per queue (every queue that has any, and `default`).
    pub async fn queue_depths(&self) -> Result<Vec<(String, i64)>> {
        let mut rows: Vec<(String, i64)> = pool!(self, p => {
            sqlx::query_as("SELECT queue, COUNT(*) FROM jobs WHERE status IN ('queued', 'running') GROUP BY queue ORDER BY queue")
                .fetch_all(p).await?
        });
        if !rows.iter().any(|(q, _)| q == "default") {
            rows.push(("default".to_owned(), 0));
        }
        Ok(rows)
    }

    /// Jobs that can run now (queued and due, or with an expired lease).
    pub async fn ready_count(&self, queue: &str) -> Result<i64> {
        let now = self.now();
        pool!(self, p => Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE queue = $1 AND ((status = 'queued' AND run_at <= $2) OR (status = 'running' AND lease_expires_at < $2)) \
             AND (connection_id IS NULL OR connection_id NOT IN (SELECT id FROM connections WHERE status <> 'active'))",
        ).bind(queue).bind(now).fetch_one(p).await?))
    }

    /// Deletes finished jobs older than `age` (their idempotency keys go with them).
    pub async fn purge_done(&self, age: Duration) -> Result<u64> {
        let cutoff = self.now() - ms(age);
        pool!(self, p => Ok(sqlx::query("DELETE FROM jobs WHERE status = 'done' AND updated_at < $1")
            .bind(cutoff).execute(p).await?.rows_affected()))
    }
}
