//! Intake: what an inbound delivery becomes before it is acknowledged, and the one
//! writer that journals it.
//!
//! A delivery becomes one journal entry (the body as received, deduplicated by the
//! source's event id) and a few jobs: one `ghl.event` for a GHL webhook, one
//! `lofty.delivery` for a Lofty batch, however many changes it carries (that job
//! turns them into `lofty.change` jobs a chunk at a time, outside the intake's
//! transaction).
//!
//! [`Intake`] is the writer. Handlers hand it their entry and wait, up to their
//! deadline, for the commit; one task commits whatever arrived while the previous
//! commit ran, in one transaction, on the store's intake connection (which the
//! workers' writes give way to). A handler whose deadline passes answers 429 so the
//! sender retries; the entry it handed over may still commit, and the retry is then
//! a duplicate, journaled once. Memory is bounded: deliveries waiting for the writer
//! may hold at most [`IntakeSettings::max_pending_bytes`] of bodies; past that the
//! answer is 429 at once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use store::{Journaled, NewEvent, NewJob, Store};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;

use crate::jobs::{GhlEvent, Job, LoftyChange, LoftyDelivery};

/// Changes one `lofty.delivery` job turns into jobs at a time.
pub const LOFTY_CHUNK: usize = 500;

/// Entries the writer commits in one transaction, at most.
const GROUP: usize = 256;

/// How the intake behaves (`[intake]` in the configuration).
#[derive(Debug, Clone)]
pub struct IntakeSettings {
    /// How long a GHL webhook waits for its commit before the answer is 429 (GHL
    /// gives up after 10 s and retries only a 429).
    pub ghl_deadline: Duration,
    /// How long a Lofty delivery waits: Lofty documents no retries, so it gets the
    /// longest wait (its entry is one row).
    pub lofty_deadline: Duration,
    /// Changes one Lofty delivery may carry (Lofty's largest batch is 5,000); above
    /// it the delivery is refused with a 413 naming this cap.
    pub lofty_max_changes: usize,
    /// Changes without `updateTime` to the same record within this window are one
    /// job, run when the window closes (so it sees every change of the window).
    pub lofty_dedupe_window: Duration,
    /// Bytes of bodies that may wait for the writer.
    pub max_pending_bytes: usize,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            ghl_deadline: Duration::from_secs(3),
            lofty_deadline: Duration::from_secs(10),
            lofty_max_changes: 10_000,
            lofty_dedupe_window: Duration::from_secs(10),
            max_pending_bytes: 64 << 20,
        }
    }
}

/// A delivery that cannot be taken (the sender gets a 4xx naming it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    #[error("body is not JSON")]
    NotJson,
    #[error("webhookId is missing")]
    NoWebhookId,
    #[error("type is missing (every GHL webhook names its event type)")]
    NoType,
    #[error(
        "event type {0:?} is not one ghlsync handles (INSTALL, UNINSTALL and the GHL triggers `ghlsync catalog --system ghl --kind trigger` lists); unsubscribe the app from it"
    )]
    UnknownType(String),
    #[error("{0}")]
    Lofty(#[from] lofty::webhook::WebhookError),
}

/// The journal could not take a delivery in time: answer 429 (`Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct IntakeBusy {
    pub reason: String,
    /// When to try again.
    pub retry_after: Duration,
}

impl IntakeBusy {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            retry_after: Duration::from_secs(5),
        }
    }
}

/// What the writer was handed: an entry to journal, or a readiness probe.
#[derive(Debug)]
struct Pending {
    entry: Option<(NewEvent, Vec<NewJob>)>,
    reply: oneshot::Sender<Result<Option<Journaled>, String>>,
    /// The room its body takes, given back when it is written.
    _room: tokio::sync::OwnedSemaphorePermit,
}

/// The intake's writer (cheap to clone). Dropping every clone stops its task.
#[derive(Debug, Clone)]
pub struct Intake {
    store: Store,
    settings: Arc<IntakeSettings>,
    queue: mpsc::Sender<Pending>,
    /// Room for waiting bodies, in KiB.
    room: Arc<Semaphore>,
}

impl Intake {
    /// Starts the writer on `store`.
    pub fn start(store: Store, settings: IntakeSettings) -> Self {
        let (queue, rx) = mpsc::channel(4 * GROUP);
        tokio::spawn(write_loop(store.clone(), rx));
        let room = Arc::new(Semaphore::new((settings.max_pending_bytes >> 10).max(1)));
        Self {
            store,
            settings: Arc::new(settings),
            queue,
            room,
        }
    }

    pub fn settings(&self) -> &IntakeSettings {
        &self.settings
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Journals `event` with its `jobs`, waiting for the commit until `until`.
    pub async fn submit(
        &self,
        event: NewEvent,
        jobs: Vec<NewJob>,
        until: Instant,
    ) -> Result<Journaled, IntakeBusy> {
        let kib = u32::try_from(event.body.len() >> 10)
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        match self.hand_over(Some((event, jobs)), kib, until).await? {
            Some(journaled) => Ok(journaled),
            None => Err(IntakeBusy::new("the journal answered nothing")),
        }
    }

    /// Readiness: writes a probe row through the writer, as a delivery would be
    /// written. `Err` says why it could not within `deadline`.
    pub async fn probe(&self, deadline: Duration) -> Result<Duration, IntakeBusy> {
        let started = Instant::now();
        self.hand_over(None, 1, started + deadline).await?;
        Ok(started.elapsed())
    }

    async fn hand_over(
        &self,
        entry: Option<(NewEvent, Vec<NewJob>)>,
        kib: u32,
        until: Instant,
    ) -> Result<Option<Journaled>, IntakeBusy> {
        let room = self.room.clone().try_acquire_many_owned(kib).map_err(|_| {
            IntakeBusy::new(format!(
                "{} MiB of deliveries are already waiting for the journal",
                self.settings.max_pending_bytes >> 20
            ))
        })?;
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            entry,
            reply,
            _room: room,
        };
        self.queue.try_send(pending).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                IntakeBusy::new("too many deliveries are waiting for the journal")
            }
            mpsc::error::TrySendError::Closed(_) => IntakeBusy::new("the journal writer stopped"),
        })?;
        match tokio::time::timeout_at(until, answer).await {
            Ok(Ok(Ok(journaled))) => Ok(journaled),
            Ok(Ok(Err(e))) => Err(IntakeBusy::new(format!(
                "the journal could not commit: {e}"
            ))),
            Ok(Err(_)) => Err(IntakeBusy::new("the journal writer stopped")),
            Err(_) => Err(IntakeBusy::new(
                "the journal did not commit before the deadline (the database is busy or locked)",
            )),
        }
    }
}

/// The writer: commits what is waiting, in groups, until every [`Intake`] is gone.
async fn write_loop(store: Store, mut rx: mpsc::Receiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(GROUP);
    while rx.recv_many(&mut batch, GROUP).await > 0 {
        let (mut entries, mut probes): (Vec<Pending>, Vec<Pending>) =
            batch.drain(..).partition(|p| p.entry.is_some());
        if !entries.is_empty() {
            let items: Vec<(NewEvent, Vec<NewJob>)> =
                entries.iter_mut().filter_map(|p| p.entry.take()).collect();
            let started = std::time::Instant::now();
            match store.journal(&items).await {
                Ok(results) => {
                    for (p, r) in entries.into_iter().zip(results) {
                        let _ = p.reply.send(Ok(Some(r)));
                    }
                }
                Err(e) => {
                    tracing::error!(entries = items.len(), waited_ms = started.elapsed().as_millis() as u64, error = %e, "JournalFailed: deliveries not journaled; their senders are answered 429");
                    for p in entries {
                        let _ = p.reply.send(Err(e.to_string()));
                    }
                }
            }
        }
        for p in probes.drain(..) {
            let r = store
                .probe_write()
                .await
                .map(|()| None)
                .map_err(|e| e.to_string());
            let _ = p.reply.send(r);
        }
    }
}

/// A GHL webhook, already verified: its journal entry (keyed by `webhookId`, so a
/// retried delivery is stored once) and its `ghl.event` job.
pub fn ghl_delivery(body: &[u8]) -> Result<(NewEvent, GhlEvent, NewJob), IntakeError> {
    let event: Value = serde_json::from_slice(body).map_err(|_| IntakeError::NotJson)?;
    let text = |k: &str| event.get(k).and_then(Value::as_str).map(str::to_owned);
    let webhook_id = text("webhookId").ok_or(IntakeError::NoWebhookId)?;
    let event_type = text("type").ok_or(IntakeError::NoType)?;
    if !crate::handlers::ghl_event::handles(&event_type) {
        return Err(IntakeError::UnknownType(event_type));
    }
    let job = GhlEvent {
        webhook_id: webhook_id.clone(),
        event_type,
        location_id: text("locationId"),
        company_id: text("companyId"),
        timestamp: text("timestamp"),
    };
    let journal = NewEvent {
        source: "ghl".to_owned(),
        event_id: webhook_id,
        connection_id: None,
        body: String::from_utf8_lossy(body).into_owned(),
    };
    let new_job = Job::from(job.clone()).into_new_job();
    Ok((journal, job, new_job))
}

/// A Lofty delivery: its journal entry and the one `lofty.delivery` job that expands
/// it, and how many changes it carries. A delivery whose every change carries its
/// `updateTime` has a content-derived event id, so a redelivery is stored once;
/// otherwise each receipt is its own event (its changes are still deduplicated, by
/// record within the dedupe window). More changes than the cap is an error naming it.
pub fn lofty_delivery(
    connection: &str,
    body: &[u8],
    now_ms: i64,
    settings: &IntakeSettings,
) -> Result<(NewEvent, NewJob, lofty::webhook::WebhookBatch), IntakeError> {
    let batch = lofty::webhook::parse_capped(body, settings.lofty_max_changes)?;
    let digest = hex::encode(&Sha256::digest(body)[..16]);
    let replayable = batch.changes.iter().all(|c| c.update_time.is_some());
    let event_id = if replayable {
        format!("{connection}:{digest}")
    } else {
        format!("{connection}:{digest}:{now_ms}")
    };
    let job = Job::from(LoftyDelivery {
        connection: connection.to_owned(),
        event: event_id.clone(),
        list_id: batch.list_id,
        received_at: now_ms,
        window_ms: i64::try_from(settings.lofty_dedupe_window.as_millis())
            .unwrap_or(i64::MAX)
            .max(1),
        from: 0,
    })
    .into_new_job();
    let event = NewEvent {
        source: "lofty".to_owned(),
        event_id,
        connection_id: Some(connection.to_owned()),
        body: String::from_utf8_lossy(body).into_owned(),
    };
    Ok((event, job, batch))
}

/// The jobs of one chunk of a journaled Lofty delivery: a `lofty.change` per change
/// in `[delivery.from, delivery.from + LOFTY_CHUNK)`, and the `lofty.delivery` job
/// for the rest, if any. Keys: (list, bucket, record, `updateTime`) when both are
/// known, so the same change in two deliveries runs once; (list, bucket, record,
/// window) when `updateTime` is missing, the job then waiting for the window to close.
pub fn lofty_chunk(
    delivery: &LoftyDelivery,
    batch: &lofty::webhook::WebhookBatch,
    now_ms: i64,
) -> Vec<NewJob> {
    let end = (delivery.from + LOFTY_CHUNK).min(batch.changes.len());
    let mut jobs: Vec<NewJob> = (delivery.from..end)
        .map(|i| lofty_change_job(delivery, batch, i, now_ms))
        .collect();
    if end < batch.changes.len() {
        jobs.push(
            Job::from(LoftyDelivery {
                from: end,
                ..delivery.clone()
            })
            .into_new_job(),
        );
    }
    jobs
}

/// The `lofty.change` job of change `i` of a delivery.
pub fn lofty_change_job(
    delivery: &LoftyDelivery,
    batch: &lofty::webhook::WebhookBatch,
    i: usize,
    now_ms: i64,
) -> NewJob {
    // `lead`, `note`, `task`, `timeline`, ... (from the list's id field).
    let entity = batch.event_list().map_or("record", |l| {
        l.id_field().strip_suffix("Id").unwrap_or("record")
    });
    let window = delivery.received_at - delivery.received_at.rem_euclid(delivery.window_ms);
    let c = &batch.changes[i];
    let windowed = c.update_time.is_none() && c.id.is_some();
    let mut job = Job::from(LoftyChange {
        connection: delivery.connection.clone(),
        list_id: batch.list_id,
        entity: entity.to_owned(),
        bucket: c.bucket.clone(),
        change: format!("{:?}", c.kind).to_ascii_lowercase(),
        id: c.id,
        lead_id: c.lead_id,
        update_time: c.update_time,
        window: windowed.then_some(window),
        delivery: delivery.event.clone(),
        position: i,
    })
    .into_new_job();
    if windowed {
        let closes = window + delivery.window_ms;
        job.delay = Duration::from_millis(u64::try_from(closes - now_ms).unwrap_or(0));
    }
    job
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> IntakeSettings {
        IntakeSettings {
            lofty_max_changes: 1_200,
            ..IntakeSettings::default()
        }
    }

    #[test]
    fn a_lofty_delivery_is_one_entry_and_one_job_then_chunks() {
        let leads: Vec<Value> = (0..1_200)
            .map(|i| serde_json::json!({"leadId": i, "updateTime": 1_000 + i}))
            .collect();
        let body =
            serde_json::to_vec(&serde_json::json!({"listId": 2, "updatedLead": leads})).unwrap();
        let (event, job, batch) = lofty_delivery("lofty:1", &body, 50_000, &settings()).unwrap();
        assert_eq!(event.source, "lofty");
        assert_eq!(job.kind, "lofty.delivery");
        assert_eq!(batch.changes.len(), 1_200);
        let Job::LoftyDelivery(first) = Job::from_row(&job.kind, &job.payload).unwrap() else {
            panic!("{job:?}")
        };
        // 500, 500, 200: each chunk names the next.
        let mut at = first;
        let mut changes = Vec::new();
        loop {
            let jobs = lofty_chunk(&at, &batch, 50_000);
            let (more, these): (Vec<_>, Vec<_>) =
                jobs.into_iter().partition(|j| j.kind == "lofty.delivery");
            assert!(these.len() <= LOFTY_CHUNK);
            changes.extend(these);
            match more.first() {
                Some(next) => {
                    let Job::LoftyDelivery(next) =
                        Job::from_row(&next.kind, &next.payload).unwrap()
                    else {
                        panic!()
                    };
                    assert_eq!(next.from, at.from + LOFTY_CHUNK);
                    at = next;
                }
                None => break,
            }
        }
        assert_eq!(changes.len(), 1_200);
        assert!(
            changes.iter().all(|j| j.delay.is_zero()),
            "updateTime known: no wait"
        );
        let keys: std::collections::HashSet<_> =
            changes.iter().map(|j| &j.idempotency_key).collect();
        assert_eq!(keys.len(), 1_200);

        // Over the cap: refused, naming the count and the cap.
        let err = lofty_delivery(
            "lofty:1",
            &body,
            50_000,
            &IntakeSettings {
                lofty_max_changes: 1_000,
                ..settings()
            },
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("1200 changes, more than the 1000"),
            "{err}"
        );
    }

    #[test]
    fn changes_without_update_time_share_a_key_per_window_and_wait_for_it() {
        let window = |received_at: i64, body: &[u8]| {
            let (_, job, batch) =
                lofty_delivery("lofty:1", body, received_at, &settings()).unwrap();
            let Job::LoftyDelivery(d) = Job::from_row(&job.kind, &job.payload).unwrap() else {
                panic!()
            };
            lofty_chunk(&d, &batch, received_at)
        };
        let a = window(12_000, br#"{"listId":2,"updatedLead":[7,7]}"#);
        let b = window(19_999, br#"{"listId":2,"updatedLead":[{"leadId":7}]}"#);
        let c = window(20_000, br#"{"listId":2,"updatedLead":[7]}"#);
        assert_eq!(a[0].idempotency_key, a[1].idempotency_key);
        assert_eq!(
            a[0].idempotency_key, b[0].idempotency_key,
            "same 10 s window"
        );
        assert_ne!(a[0].idempotency_key, c[0].idempotency_key, "next window");
        // Run when the window [10 s, 20 s) closes.
        assert_eq!(a[0].delay, Duration::from_millis(8_000));
        assert_eq!(b[0].delay, Duration::from_millis(1));
    }
}
