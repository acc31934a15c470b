//! Intake: what an inbound delivery becomes before it is acknowledged, one journal
//! entry (the body as received, deduplicated by the source's event id) and the jobs
//! that process it. The server verifies the sender and commits both in one
//! transaction before answering; pollers (Lytho) will hand their pages here too.

use serde_json::Value;
use sha2::{Digest, Sha256};
use store::{NewEvent, NewJob};

use crate::jobs::{GhlEvent, Job, LoftyChange};

/// A delivery that cannot be taken (the sender gets a 400 naming it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    #[error("body is not JSON")]
    NotJson,
    #[error("webhookId is missing")]
    NoWebhookId,
}

/// A GHL webhook, already verified: its journal entry (keyed by `webhookId`, so a
/// retried delivery is stored once) and its `ghl.event` job.
pub fn ghl_delivery(body: &[u8]) -> Result<(NewEvent, GhlEvent, NewJob), IntakeError> {
    let event: Value = serde_json::from_slice(body).map_err(|_| IntakeError::NotJson)?;
    let text = |k: &str| event.get(k).and_then(Value::as_str).map(str::to_owned);
    let webhook_id = text("webhookId").ok_or(IntakeError::NoWebhookId)?;
    let job = GhlEvent {
        webhook_id: webhook_id.clone(),
        event_type: text("type").unwrap_or_else(|| "unknown".to_owned()),
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

/// The journal entry and jobs of one Lofty delivery. A delivery whose every change
/// carries its `updateTime` has a content-derived event id, so a redelivery is stored
/// once; otherwise each receipt is its own event. Jobs are keyed by (list, record,
/// `updateTime`) when both are known, so the same change in two deliveries runs once.
pub fn lofty_delivery(
    connection: &str,
    batch: &lofty::webhook::WebhookBatch,
    body: &[u8],
    now_ms: i64,
) -> (NewEvent, Vec<NewJob>) {
    let digest = hex::encode(&Sha256::digest(body)[..16]);
    let replayable = batch.changes.iter().all(|c| c.update_time.is_some());
    let event_id = if replayable {
        format!("{connection}:{digest}")
    } else {
        format!("{connection}:{digest}:{now_ms}")
    };
    // `lead`, `note`, `task`, `timeline`, ... (from the list's id field).
    let entity = batch.event_list().map_or("record", |l| {
        l.id_field().strip_suffix("Id").unwrap_or("record")
    });
    let jobs = batch
        .changes
        .iter()
        .enumerate()
        .map(|(position, c)| {
            Job::from(LoftyChange {
                connection: connection.to_owned(),
                list_id: batch.list_id,
                entity: entity.to_owned(),
                bucket: c.bucket.clone(),
                change: format!("{:?}", c.kind).to_ascii_lowercase(),
                id: c.id,
                lead_id: c.lead_id,
                update_time: c.update_time,
                delivery: event_id.clone(),
                position,
            })
            .into_new_job()
        })
        .collect();
    let event = NewEvent {
        source: "lofty".to_owned(),
        event_id,
        connection_id: Some(connection.to_owned()),
        body: String::from_utf8_lossy(body).into_owned(),
    };
    (event, jobs)
}
