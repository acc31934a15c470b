//! The event journal: every inbound event (webhook body, poll result) is written
//! to `events` before it is acknowledged, unique by (source, event id), together
//! with the jobs it causes, in one transaction: an event is never lost and a
//! replayed delivery enqueues nothing.
//!
//! Journal writes go through the intake's own connection (see `priority`): they
//! never wait for a connection the workers hold, and on SQLite the workers' writes
//! give way to them. Many events can share one transaction ([`Store::journal`]):
//! the intake commits what arrived while the previous commit ran, in one go.

use crate::{NewJob, Result, Store, ms};

/// An inbound event (webhook body, poll result), journaled before it is acknowledged.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// `ghl`, `lofty`, `lytho`, ...
    pub source: String,
    /// The source's id for the event (`webhookId` for GHL): the dedupe key.
    pub event_id: String,
    pub connection_id: Option<String>,
    pub body: String,
}

/// A journaled event as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: i64,
    pub source: String,
    pub event_id: String,
    pub connection_id: Option<String>,
    pub body: String,
    /// When it was journaled (epoch ms, the store's clock).
    pub received_at: i64,
}

/// Result of journaling an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Journaled {
    New(i64),
    Duplicate(i64),
}

impl Store {
    /// Journals an event and enqueues its jobs in one transaction. A replayed event
    /// id is stored once and enqueues nothing.
    pub async fn intake(&self, event: &NewEvent, jobs: &[NewJob]) -> Result<Journaled> {
        let mut out = self.journal(&[(event.clone(), jobs.to_vec())]).await?;
        Ok(out.remove(0))
    }

    /// Journals a group of events, each with its jobs, in one transaction on the
    /// intake's connection. One result per event, in order: `Duplicate` for an id
    /// already journaled (also earlier in the same group), whose jobs are not
    /// enqueued.
    pub async fn journal(&self, items: &[(NewEvent, Vec<NewJob>)]) -> Result<Vec<Journaled>> {
        let now = self.now();
        let _turn = self.priority.announce();
        intake_pool!(self, p => {
            let mut tx = p.begin().await?;
            let mut out = Vec::with_capacity(items.len());
            for (event, jobs) in items {
                let inserted: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO events (source, event_id, connection_id, received_at, body) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (source, event_id) DO NOTHING RETURNING id",
                )
                .bind(&event.source).bind(&event.event_id).bind(&event.connection_id).bind(now).bind(&event.body)
                .fetch_optional(&mut *tx).await?;
                let Some(id) = inserted else {
                    let id: i64 = sqlx::query_scalar("SELECT id FROM events WHERE source = $1 AND event_id = $2")
                        .bind(&event.source).bind(&event.event_id).fetch_one(&mut *tx).await?;
                    out.push(Journaled::Duplicate(id));
                    continue;
                };
                for job in jobs {
                    let payload = serde_json::to_string(&job.payload)?;
                    sqlx::query(
                        "INSERT INTO jobs (queue, kind, payload, idempotency_key, connection_id, status, attempts, max_attempts, run_at, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $8) ON CONFLICT (idempotency_key) DO NOTHING",
                    )
                    .bind(&job.queue).bind(&job.kind).bind(payload).bind(&job.idempotency_key).bind(&job.connection_id)
                    .bind(job.max_attempts).bind(now + ms(job.delay)).bind(now)
                    .execute(&mut *tx).await?;
                }
                out.push(Journaled::New(id));
            }
            tx.commit().await?;
            Ok(out)
        })
    }

    /// Proves the journal can take a write, as a delivery is written: in one
    /// transaction on the intake's connection, a probe event and job are inserted and
    /// removed again (so the locks a delivery needs are taken) and the `health` row
    /// is updated and committed (so the commit reaches the disk). Readiness calls it.
    pub async fn probe_write(&self) -> Result<()> {
        let now = self.now();
        let probe = format!("probe:{}", crate::vault::random_id());
        let _turn = self.priority.announce();
        intake_pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("INSERT INTO events (source, event_id, connection_id, received_at, body) VALUES ('probe', $1, NULL, $2, '')")
                .bind(&probe).bind(now).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM events WHERE source = 'probe' AND event_id = $1")
                .bind(&probe).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO jobs (queue, kind, payload, idempotency_key, connection_id, status, attempts, max_attempts, run_at, created_at, updated_at) \
                 VALUES ('probe', 'probe', '{}', $1, NULL, 'done', 0, 0, $2, $2, $2)",
            )
            .bind(&probe).bind(now).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM jobs WHERE idempotency_key = $1")
                .bind(&probe).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO health (name, at) VALUES ('intake', $1) ON CONFLICT (name) DO UPDATE SET at = excluded.at",
            )
            .bind(now).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// A journaled event's body by source and event id.
    pub async fn event_body(&self, source: &str, event_id: &str) -> Result<Option<String>> {
        pool!(self, p => Ok(sqlx::query_scalar("SELECT body FROM events WHERE source = $1 AND event_id = $2")
            .bind(source).bind(event_id).fetch_optional(p).await?))
    }

    /// Journaled events after id `after`, oldest first, at most `limit`: for readers
    /// that walk the journal with their own cursor (trigger checks, replays).
    pub async fn events_after(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        pool!(self, p => {
            let rows: Vec<(i64, String, String, Option<String>, String, i64)> = sqlx::query_as(
                "SELECT id, source, event_id, connection_id, body, received_at FROM events WHERE id > $1 AND source <> 'probe' ORDER BY id LIMIT $2",
            )
            .bind(after).bind(limit).fetch_all(p).await?;
            Ok(rows
                .into_iter()
                .map(|(id, source, event_id, connection_id, body, received_at)| StoredEvent { id, source, event_id, connection_id, body, received_at })
                .collect())
        })
    }

    pub async fn count_events(&self) -> Result<i64> {
        pool!(self, p => Ok(sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(p).await?))
    }

    /// Holds the write path for `hold` as another process could (SQLite: the write
    /// lock; PostgreSQL: an exclusive lock on `events` and `jobs`), then lets go.
    /// Tests use it to show what the intake answers while the store cannot write.
    #[doc(hidden)]
    pub async fn hold_writes(&self, hold: std::time::Duration) -> Result<()> {
        match &self.backend {
            crate::Backend::Sqlite(p) => {
                let tx = p.begin_with("BEGIN IMMEDIATE").await?;
                tokio::time::sleep(hold).await;
                tx.rollback().await?;
            }
            crate::Backend::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("LOCK TABLE events, jobs IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
                tokio::time::sleep(hold).await;
                tx.rollback().await?;
            }
        }
        Ok(())
    }
}
