//! Plain data types of the store.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Status of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Active,
    /// Only the user can fix it (refresh rejected, token revoked); its jobs wait.
    NeedsReauth,
    /// Turned off (uninstalled); data and jobs are kept.
    Disabled,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::NeedsReauth => "needs_reauth",
            Self::Disabled => "disabled",
        }
    }
    pub fn parse(s: &str) -> Self {
        match s {
            "needs_reauth" => Self::NeedsReauth,
            "disabled" => Self::Disabled,
            _ => Self::Active,
        }
    }
}

/// A connected account (GHL location or agency, Lofty, Lytho). Its secrets live in the vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub id: String,
    /// `ghl`, `lofty` or `lytho`.
    pub system: String,
    /// `oauth`, `pit`, `api_key`, `client_credentials`.
    pub kind: String,
    pub location_id: Option<String>,
    pub company_id: Option<String>,
    pub status: ConnectionStatus,
    /// Why the status is what it is (the server's message for `needs_reauth`).
    pub status_reason: Option<String>,
    /// Space-separated scopes.
    pub scopes: String,
    /// When the current access token expires (epoch ms), if it does.
    pub token_expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What to create or update in `connections`.
#[derive(Debug, Clone, Default)]
pub struct NewConnection {
    pub id: String,
    pub system: String,
    pub kind: String,
    pub location_id: Option<String>,
    pub company_id: Option<String>,
    pub scopes: String,
}

/// Access and refresh token of a connection, as the vault holds them.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access: SecretString,
    pub refresh: Option<SecretString>,
    /// Epoch ms.
    pub expires_at: Option<i64>,
}

/// What a refresh attempt decided, under the connection's refresh lease.
#[derive(Debug)]
pub enum RefreshDecision {
    /// The current tokens are fine (another worker refreshed them meanwhile).
    Keep,
    /// Store these (the new refresh token is committed before anyone uses it).
    Replace(TokenSet),
    /// The server rejected the refresh token: the connection needs the user.
    Reject(String),
    /// A transient failure (network, 5xx): nothing changes, try again later.
    Fail(String),
}

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
    pub fn parse(s: &str) -> Self {
        match s {
            "running" => Self::Running,
            "done" => Self::Done,
            "dead" => Self::Dead,
            _ => Self::Queued,
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

/// Result of journaling an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Journaled {
    New(i64),
    Duplicate(i64),
}

/// One end of a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    pub connection_id: String,
    pub object_type: String,
    pub object_id: String,
}

impl RecordRef {
    pub fn new(connection_id: &str, object_type: &str, object_id: &str) -> Self {
        Self {
            connection_id: connection_id.to_owned(),
            object_type: object_type.to_owned(),
            object_id: object_id.to_owned(),
        }
    }
}

/// A write we made, so the webhook it causes can be recognised as our own echo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Echo {
    pub target: RecordRef,
    pub content_hash: String,
    pub remote_updated_at: Option<String>,
    pub written_at: i64,
}

/// One line of a record's integration log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLogEntry {
    pub job_id: Option<i64>,
    pub flow: String,
    /// The record this is about, e.g. `ghl:contact:abc`.
    pub record: String,
    /// `created`, `updated`, `skipped`, `failed`, ...
    pub outcome: String,
    pub detail: String,
    pub duration_ms: i64,
    pub at: i64,
}
