//! Every job the queue carries, as one closed enum with one payload struct per kind.
//!
//! This file is the only place the kind strings (`ghl.call`, `lofty.change`, ...) are
//! written: producers build a [`Job`] and turn it into a [`store::NewJob`] with
//! [`Job::into_new_job`]; the worker reads a stored row back with [`Job::from_row`].
//! Each payload knows its kind and its idempotency key, so the same change enqueued
//! twice is one job. A row whose kind or payload does not parse is an error that
//! names what is wrong; the worker dead-letters it with that message.
//!
//! Adding a kind: a payload struct here (with `kind()` and `idempotency_key()`), a
//! variant in [`Job`] and [`JobKind`], and a handler file in `handlers/`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The kinds of job, as stored in the `kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    TestRecord,
    GhlCall,
    GhlEvent,
    LoftyDelivery,
    LoftyChange,
    LoftySubscribe,
    FlowRun,
    FlowReconcile,
    LythoPoll,
    FlowAction,
}

impl JobKind {
    pub const ALL: [JobKind; 10] = [
        Self::TestRecord,
        Self::GhlCall,
        Self::GhlEvent,
        Self::LoftyDelivery,
        Self::LoftyChange,
        Self::LoftySubscribe,
        Self::FlowRun,
        Self::FlowReconcile,
        Self::LythoPoll,
        Self::FlowAction,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TestRecord => "test.record",
            Self::GhlCall => "ghl.call",
            Self::GhlEvent => "ghl.event",
            Self::LoftyDelivery => "lofty.delivery",
            Self::LoftyChange => "lofty.change",
            Self::LoftySubscribe => "lofty.subscribe",
            Self::FlowRun => "flow.run",
            Self::FlowReconcile => "flow.reconcile",
            Self::LythoPoll => "lytho.poll",
            Self::FlowAction => "flow.action",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobKind {
    type Err = JobError;
    fn from_str(s: &str) -> Result<Self, JobError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| JobError::UnknownKind(s.to_owned()))
    }
}

/// A stored job that cannot be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    #[error(
        "unknown job kind `{0}` (this worker knows: test.record, ghl.call, ghl.event, lofty.delivery, lofty.change, lofty.subscribe, flow.run, flow.reconcile, lytho.poll, flow.action)"
    )]
    UnknownKind(String),
    #[error("the payload of this {kind} job is invalid: {reason}")]
    BadPayload { kind: JobKind, reason: String },
}

/// `test.record`: writes one run-log line; used by crash tests and benchmarks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestRecord {
    /// The record the run-log line is about (also the idempotency key).
    pub record: String,
    /// Fail (retry class `Retry`) on the first this many attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_times: Option<i64>,
    /// Work this long before finishing (lease and crash tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep_ms: Option<u64>,
}

impl TestRecord {
    pub fn new(record: impl Into<String>) -> Self {
        Self {
            record: record.into(),
            fail_times: None,
            sleep_ms: None,
        }
    }
    pub fn kind() -> JobKind {
        JobKind::TestRecord
    }
    pub fn idempotency_key(&self) -> String {
        format!("{}:{}", Self::kind(), self.record)
    }
}

/// `ghl.call`: one GHL operation on a GHL connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GhlCall {
    pub connection: String,
    /// The operation id (HighLevel's `operationId`, e.g. `get-contacts`).
    pub op: String,
    #[serde(default)]
    pub input: Value,
    /// Names this request: two calls with the same request id are one job.
    pub request: String,
    /// The record the run-log line is about (default `ghl:<op>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
}

impl GhlCall {
    pub fn new(connection: &str, op: &str, input: Value, request: impl Into<String>) -> Self {
        Self {
            connection: connection.to_owned(),
            op: op.to_owned(),
            input,
            request: request.into(),
            record: None,
        }
    }
    #[must_use]
    pub fn about(mut self, record: impl Into<String>) -> Self {
        self.record = Some(record.into());
        self
    }
    pub fn kind() -> JobKind {
        JobKind::GhlCall
    }
    pub fn idempotency_key(&self) -> String {
        format!("{}:{}", Self::kind(), self.request)
    }
}

/// `ghl.event`: one journaled GHL webhook (the journal keeps its body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GhlEvent {
    pub webhook_id: String,
    /// `ContactCreate`, `INSTALL`, ... (`unknown` when absent).
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub location_id: Option<String>,
    #[serde(default)]
    pub company_id: Option<String>,
    #[serde(default)]
    pub timestamp: Option<String>,
}

impl GhlEvent {
    pub fn kind() -> JobKind {
        JobKind::GhlEvent
    }
    /// GHL's `webhookId` is unique per delivery: a retried delivery is one job.
    pub fn idempotency_key(&self) -> String {
        format!("ghl:event:{}", self.webhook_id)
    }
}

/// `lofty.delivery`: a journaled Lofty delivery, turned into its `lofty.change` jobs
/// a chunk at a time ([`crate::intake::lofty_chunk`]): each run enqueues one chunk and
/// the job for the rest, in one statement, so memory and transactions stay small
/// whatever the delivery's size, and a crash between chunks repeats nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoftyDelivery {
    pub connection: String,
    /// The journal event (source `lofty`) holding the delivery's body.
    pub event: String,
    pub list_id: i64,
    /// When it was received (epoch ms): places its changes in a dedupe window.
    pub received_at: i64,
    /// The dedupe window for changes without `updateTime`, in ms.
    pub window_ms: i64,
    /// The first change this job expands.
    pub from: usize,
}

impl LoftyDelivery {
    pub fn kind() -> JobKind {
        JobKind::LoftyDelivery
    }
    pub fn idempotency_key(&self) -> String {
        format!("lofty:delivery:{}:{}", self.event, self.from)
    }
}

/// `lofty.change`: one changed record of a journaled Lofty delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoftyChange {
    pub connection: String,
    pub list_id: i64,
    /// `lead`, `note`, `task`, ... (from the list's id field).
    pub entity: String,
    /// The bucket it came in (`updatedLead`, `createdNote`, ...).
    pub bucket: String,
    /// `created`, `updated`, `deleted`, ...
    pub change: String,
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub lead_id: Option<i64>,
    /// Epoch ms, when Lofty sent it.
    #[serde(default)]
    pub update_time: Option<i64>,
    /// Without `updateTime`: the start of the dedupe window it arrived in (epoch
    /// ms); every change to the record in that window is this one job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<i64>,
    /// The journal event of the delivery and the change's place in it: the key of a
    /// change that lacks an id or an `updateTime`.
    pub delivery: String,
    pub position: usize,
}

impl LoftyChange {
    pub fn kind() -> JobKind {
        JobKind::LoftyChange
    }
    /// (list, bucket, record, `updateTime`) when both are known, so the same change in
    /// two deliveries runs once; (list, bucket, record, window) without `updateTime`;
    /// otherwise (no id) the change's place in its delivery.
    pub fn idempotency_key(&self) -> String {
        match (self.id, self.update_time, self.window) {
            (Some(id), Some(at), _) => format!(
                "lofty:{}:{}:{}:{id}:{at}",
                self.connection, self.list_id, self.bucket
            ),
            (Some(id), None, Some(window)) => format!(
                "lofty:{}:{}:{}:{id}:w{window}",
                self.connection, self.list_id, self.bucket
            ),
            _ => format!("lofty:{}:{}", self.delivery, self.position),
        }
    }
}

/// `lofty.subscribe`: subscribes a Lofty connection's deliveries to
/// `<public_url>/webhooks/lofty/<key>` (skipping what exists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoftySubscribe {
    pub connection: String,
    /// When it was asked for (epoch ms): every connect or reconnect runs it again.
    pub requested_at: i64,
}

impl LoftySubscribe {
    pub fn kind() -> JobKind {
        JobKind::LoftySubscribe
    }
    pub fn idempotency_key(&self) -> String {
        format!("lofty:subscribe:{}:{}", self.connection, self.requested_at)
    }
}

/// `lytho.poll`: one poll of a Lytho connection (Lytho sends no webhooks): the
/// items changed since the stored cursors, turned into `flow.run` jobs for the
/// flows that sync them. One per connection and interval (the interval's start
/// names it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LythoPoll {
    pub connection: String,
    /// Start of the interval (epoch ms).
    pub window: i64,
}

impl LythoPoll {
    pub fn kind() -> JobKind {
        JobKind::LythoPoll
    }
    pub fn idempotency_key(&self) -> String {
        format!("lytho:poll:{}:{}", self.connection, self.window)
    }
}

/// `flow.run`: one changed record for one flow: the runner loads it, matches,
/// maps, decides and acts (see `crate::sync`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowRun {
    pub flow: String,
    /// `left` or `right`: the side the record is on.
    pub side: String,
    pub record: String,
    /// The record's version (Lofty `updateTime`, GHL `dateUpdated` or the webhook's
    /// `timestamp`, epoch ms), when the event gives one.
    #[serde(default)]
    pub version: Option<i64>,
    /// The journal event whose body is the record (a GHL contact webhook): then
    /// the record costs no read.
    #[serde(default)]
    pub event: Option<String>,
    /// The record was deleted.
    #[serde(default)]
    pub deleted: bool,
    /// The record's state is already stored (a backfill page): no read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub known: bool,
    /// With `known`: the other side has not been indexed as a backfill would have
    /// (a walk for a Lofty batch), so a new person waits once for its partner
    /// before being created there, as an event-driven run does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub settle: bool,
    /// The review whose decision this run carries out (part of its key, so the
    /// run is not taken for one already done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<i64>,
    /// A person approved creating the record on the other side (a review of a
    /// record that matched nobody).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create: bool,
}

impl FlowRun {
    /// A run of a record whose state is already stored (backfill, reconciliation,
    /// dry run): no read.
    pub fn known(flow: &str, side: &str, record: &str, version: Option<i64>) -> Self {
        Self {
            flow: flow.to_owned(),
            side: side.to_owned(),
            record: record.to_owned(),
            version,
            event: None,
            deleted: false,
            known: true,
            settle: false,
            review: None,
            create: false,
        }
    }

    pub fn kind() -> JobKind {
        JobKind::FlowRun
    }
    /// (flow, record, source version): the same change routed twice is one job.
    pub fn idempotency_key(&self) -> String {
        let at = match (self.version, &self.event) {
            (Some(v), _) => v.to_string(),
            (None, Some(e)) => format!("e{e}"),
            (None, None) => "unversioned".to_owned(),
        };
        format!(
            "flow:{}:{}:{}:{at}{}",
            self.flow,
            self.side,
            self.record,
            if self.deleted { ":deleted" } else { "" }
        ) + &self
            .review
            .map(|r| format!(":review{r}"))
            .unwrap_or_default()
    }
}

/// `flow.reconcile`: the reconciliation walk of every enabled flow, once per
/// interval (the interval's start names it: every worker may enqueue it, one runs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowReconcile {
    /// Start of the interval (epoch ms).
    pub window: i64,
    /// The largest share of a flow's links one walk may remove, in per mille.
    pub max_delete_permille: u32,
    /// Only the sides that sync these object types (empty: every side).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<String>,
}

impl FlowReconcile {
    pub fn kind() -> JobKind {
        JobKind::FlowReconcile
    }
    pub fn idempotency_key(&self) -> String {
        if self.objects.is_empty() {
            format!("flow:reconcile:{}", self.window)
        } else {
            format!("flow:reconcile:{}:{}", self.objects.join(","), self.window)
        }
    }
}

/// `flow.action`: one event of a catalog trigger for one action flow: the flow's
/// filter, its mapping, the action's input check, then the action through the
/// flow's action connection. One per (flow, event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowAction {
    pub flow: String,
    /// The connection the action runs through.
    pub connection: String,
    /// The event's identity (webhook id, Lofty change, poll item version, schedule
    /// slot, manual run).
    pub event_key: String,
    /// The event, as the trigger's output schema describes it.
    pub event: Value,
}

impl FlowAction {
    pub fn kind() -> JobKind {
        JobKind::FlowAction
    }
    pub fn idempotency_key(&self) -> String {
        format!("flow:action:{}:{}", self.flow, self.event_key)
    }
}

/// A job, typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Job {
    #[serde(rename = "test.record")]
    TestRecord(TestRecord),
    #[serde(rename = "ghl.call")]
    GhlCall(GhlCall),
    #[serde(rename = "ghl.event")]
    GhlEvent(GhlEvent),
    #[serde(rename = "lofty.delivery")]
    LoftyDelivery(LoftyDelivery),
    #[serde(rename = "lofty.change")]
    LoftyChange(LoftyChange),
    #[serde(rename = "lofty.subscribe")]
    LoftySubscribe(LoftySubscribe),
    #[serde(rename = "flow.run")]
    FlowRun(FlowRun),
    #[serde(rename = "flow.reconcile")]
    FlowReconcile(FlowReconcile),
    #[serde(rename = "lytho.poll")]
    LythoPoll(LythoPoll),
    #[serde(rename = "flow.action")]
    FlowAction(FlowAction),
}

impl Job {
    pub fn kind(&self) -> JobKind {
        match self {
            Self::TestRecord(_) => TestRecord::kind(),
            Self::GhlCall(_) => GhlCall::kind(),
            Self::GhlEvent(_) => GhlEvent::kind(),
            Self::LoftyDelivery(_) => LoftyDelivery::kind(),
            Self::LoftyChange(_) => LoftyChange::kind(),
            Self::LoftySubscribe(_) => LoftySubscribe::kind(),
            Self::FlowRun(_) => FlowRun::kind(),
            Self::FlowReconcile(_) => FlowReconcile::kind(),
            Self::LythoPoll(_) => LythoPoll::kind(),
            Self::FlowAction(_) => FlowAction::kind(),
        }
    }

    pub fn idempotency_key(&self) -> String {
        match self {
            Self::TestRecord(j) => j.idempotency_key(),
            Self::GhlCall(j) => j.idempotency_key(),
            Self::GhlEvent(j) => j.idempotency_key(),
            Self::LoftyDelivery(j) => j.idempotency_key(),
            Self::LoftyChange(j) => j.idempotency_key(),
            Self::LoftySubscribe(j) => j.idempotency_key(),
            Self::FlowRun(j) => j.idempotency_key(),
            Self::FlowReconcile(j) => j.idempotency_key(),
            Self::LythoPoll(j) => j.idempotency_key(),
            Self::FlowAction(j) => j.idempotency_key(),
        }
    }

    /// The connection the job runs on: its jobs wait while it is not active.
    pub fn connection(&self) -> Option<&str> {
        match self {
            Self::GhlCall(j) => Some(&j.connection),
            Self::LoftyDelivery(j) => Some(&j.connection),
            Self::LoftyChange(j) => Some(&j.connection),
            Self::LoftySubscribe(j) => Some(&j.connection),
            Self::LythoPoll(j) => Some(&j.connection),
            Self::FlowAction(j) => Some(&j.connection),
            Self::TestRecord(_) | Self::GhlEvent(_) | Self::FlowRun(_) | Self::FlowReconcile(_) => {
                None
            }
        }
    }

    /// The row to enqueue: kind, key, payload (the fields without the tag), connection.
    pub fn into_new_job(self) -> store::NewJob {
        let kind = self.kind();
        let key = self.idempotency_key();
        let connection = self.connection().map(str::to_owned);
        let mut payload = serde_json::to_value(&self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut payload {
            map.remove("kind");
        }
        let job = store::NewJob::new(kind.as_str(), key, payload);
        match connection {
            Some(c) => job.on_connection(c),
            None => job,
        }
    }

    /// Reads a stored job back.
    pub fn from_row(kind: &str, payload: &Value) -> Result<Self, JobError> {
        let kind: JobKind = kind.parse()?;
        let Value::Object(fields) = payload else {
            return Err(JobError::BadPayload {
                kind,
                reason: format!("expected a JSON object, found {payload}"),
            });
        };
        let mut tagged = fields.clone();
        tagged.insert("kind".to_owned(), Value::from(kind.as_str()));
        serde_json::from_value(Value::Object(tagged)).map_err(|e| JobError::BadPayload {
            kind,
            reason: e.to_string(),
        })
    }
}

macro_rules! into_job {
    ($($t:ident),+) => {$(
        impl From<$t> for Job {
            fn from(j: $t) -> Self {
                Self::$t(j)
            }
        }
    )+};
}
into_job!(
    TestRecord,
    GhlCall,
    GhlEvent,
    LoftyDelivery,
    LoftyChange,
    LoftySubscribe,
    FlowRun,
    FlowReconcile,
    LythoPoll,
    FlowAction
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn one_of_each() -> Vec<Job> {
        vec![
            Job::TestRecord(TestRecord {
                record: "test:1".to_owned(),
                fail_times: Some(2),
                sleep_ms: Some(5),
            }),
            GhlCall::new("ghl:loc1", "get-contacts", json!({"limit": 1}), "r1")
                .about("ghl:contact:x")
                .into(),
            Job::GhlEvent(GhlEvent {
                webhook_id: "wh-1".to_owned(),
                event_type: "ContactCreate".to_owned(),
                location_id: Some("loc1".to_owned()),
                company_id: None,
                timestamp: Some("2026-12-01T00:00:00Z".to_owned()),
            }),
            Job::LoftyDelivery(LoftyDelivery {
                connection: "lofty:7".to_owned(),
                event: "lofty:7:abc".to_owned(),
                list_id: 2,
                received_at: 1_700_000_000_000,
                window_ms: 10_000,
                from: 500,
            }),
            Job::LoftyChange(LoftyChange {
                connection: "lofty:7".to_owned(),
                list_id: 2,
                entity: "lead".to_owned(),
                bucket: "updatedLead".to_owned(),
                change: "updated".to_owned(),
                id: Some(42),
                lead_id: Some(42),
                update_time: Some(1_700_000_000_000),
                window: None,
                delivery: "lofty:7:abc".to_owned(),
                position: 0,
            }),
            Job::LoftySubscribe(LoftySubscribe {
                connection: "lofty:7".to_owned(),
                requested_at: 5,
            }),
            Job::FlowRun(FlowRun {
                flow: "lofty-ghl-contacts".to_owned(),
                side: "right".to_owned(),
                record: "42".to_owned(),
                version: Some(1_700_000_000_000),
                event: None,
                deleted: false,
                known: true,
                settle: true,
                review: Some(3),
                create: true,
            }),
            Job::FlowReconcile(FlowReconcile {
                window: 1_700_000_000_000,
                max_delete_permille: 50,
                objects: vec!["ghl.task".to_owned()],
            }),
            Job::LythoPoll(LythoPoll {
                connection: "lytho:wf-oa-1".to_owned(),
                window: 1_700_000_000_000,
            }),
            Job::FlowAction(FlowAction {
                flow: "new-lead-call".to_owned(),
                connection: "ghl:loc1".to_owned(),
                event_key: "wh-1".to_owned(),
                event: json!({"type": "ContactCreate", "id": "c1"}),
            }),
        ]
    }

    #[tokio::test]
    async fn every_kind_round_trips_through_a_stored_job_row() {
        let dir = std::env::temp_dir().join(format!("ghlsync-jobs-{}", rand_suffix()));
        let store = store::Store::open_with_keyring(
            &store::StoreOptions::sqlite(&dir),
            store::Keyring::new(store::MasterKey::generate()),
        )
        .await
        .unwrap();
        let jobs = one_of_each();
        assert_eq!(
            jobs.iter().map(Job::kind).collect::<Vec<_>>(),
            JobKind::ALL.to_vec(),
            "one of each kind"
        );
        for job in &jobs {
            let new = job.clone().into_new_job();
            assert_eq!(new.kind, job.kind().as_str());
            assert_eq!(new.connection_id.as_deref(), job.connection());
            assert!(new.payload.get("kind").is_none(), "the tag is the column");
            let id = store.enqueue(&new).await.unwrap().id;
            let row = store.job(id).await.unwrap().unwrap();
            assert_eq!(row.idempotency_key, job.idempotency_key());
            assert_eq!(&Job::from_row(&row.kind, &row.payload).unwrap(), job);
            // Enqueued twice, one job.
            assert!(
                !store
                    .enqueue(&job.clone().into_new_job())
                    .await
                    .unwrap()
                    .created
            );
        }
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_rows_are_errors_that_name_the_problem() {
        let err = Job::from_row("ghl.cal", &json!({})).unwrap_err();
        assert!(
            err.to_string().starts_with("unknown job kind `ghl.cal`"),
            "{err}"
        );
        let err = Job::from_row("ghl.call", &json!({"op": "get-contacts"})).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the payload of this ghl.call job is invalid: missing field"),
            "{err}"
        );
        let err = Job::from_row("lofty.subscribe", &json!([1])).unwrap_err();
        assert!(err.to_string().contains("expected a JSON object"), "{err}");
    }

    fn rand_suffix() -> String {
        format!(
            "{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        )
    }
}
