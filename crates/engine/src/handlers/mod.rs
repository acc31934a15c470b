//! One handler per job kind, each in its own file. A handler gets the typed payload
//! and the worker's [`Context`], and returns a typed [`Outcome`] (the run-log line)
//! or a [`Failed`] with the queue's retry class. The worker (`worker.rs`) only
//! claims, dispatches here, and settles.

mod flow_run;
mod ghl_call;
pub(crate) mod ghl_event;
mod lofty_change;
mod lofty_delivery;
mod lofty_subscribe;
mod lytho_poll;
mod test_record;

use std::fmt;

use store::Failure;

use crate::connectors::{ConnectorError, Connectors};
use crate::jobs::Job;
use crate::tokens::TokenError;

/// What handlers share: the store, the connectors, where we are reachable.
#[derive(Debug, Clone)]
pub struct Context {
    pub connectors: Connectors,
    /// The server's public address (Lofty delivers webhooks there).
    pub public_url: Option<url::Url>,
}

impl Context {
    pub fn store(&self) -> &store::Store {
        self.connectors.store()
    }
}

/// How a job ended, as the run log shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A test job did its work.
    Done,
    /// An API call succeeded.
    Ok,
    /// A connection was made (INSTALL).
    Connected,
    /// A connection was turned off (UNINSTALL).
    Disabled,
    /// Webhook subscriptions are in place.
    Subscribed,
    /// Nothing to do (no flow consumes the event, or it is not ours).
    Skipped,
    /// A delivery became its jobs (one chunk of it).
    Expanded,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Ok => "ok",
            Self::Connected => "connected",
            Self::Disabled => "disabled",
            Self::Subscribed => "subscribed",
            Self::Skipped => "skipped",
            Self::Expanded => "expanded",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A finished job: its run-log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The record it is about, e.g. `ghl:contact:abc`.
    pub record: String,
    pub verdict: Verdict,
    pub detail: String,
}

impl Outcome {
    pub fn new(record: impl Into<String>, verdict: Verdict, detail: impl Into<String>) -> Self {
        Self {
            record: record.into(),
            verdict,
            detail: detail.into(),
        }
    }
}

/// A failed attempt: what the queue does next, and the message the run log and dead
/// letters keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub failure: Failure,
    pub message: String,
    /// The connection that needs the user (a `Reauth` failure): the job waits for
    /// it even when it is not the job's own connection (a `flow.run` touches two).
    pub waits_for: Option<String>,
}

impl Failed {
    pub fn new(failure: Failure, message: impl Into<String>) -> Self {
        Self {
            failure,
            message: message.into(),
            waits_for: None,
        }
    }
    /// A connector's error: its retry class, its message, and the connection it
    /// waits for when that needs the user.
    pub fn of(e: &ConnectorError) -> Self {
        let mut failed = Self::new(e.failure(), e.to_string());
        failed.waits_for = e.waits_for().map(str::to_owned);
        failed
    }
    pub fn give_up(message: impl Into<String>) -> Self {
        Self::new(Failure::GiveUp, message)
    }
    pub fn retry(message: impl Into<String>) -> Self {
        Self::new(Failure::Retry, message)
    }
}

impl From<ConnectorError> for Failed {
    fn from(e: ConnectorError) -> Self {
        Self::of(&e)
    }
}

impl From<TokenError> for Failed {
    fn from(e: TokenError) -> Self {
        ConnectorError::Token(e).into()
    }
}

impl From<store::StoreError> for Failed {
    fn from(e: store::StoreError) -> Self {
        Self::retry(e.to_string())
    }
}

/// Runs one job. `attempts` counts this attempt; `owner` names this run of the job
/// (it holds the locks the job takes).
pub async fn run(ctx: &Context, job: &Job, attempts: i32, owner: &str) -> Result<Outcome, Failed> {
    match job {
        Job::TestRecord(j) => test_record::run(j, attempts).await,
        Job::GhlCall(j) => ghl_call::run(ctx, j).await,
        Job::GhlEvent(j) => ghl_event::run(ctx, j).await,
        Job::LoftyDelivery(j) => lofty_delivery::run(ctx, j).await,
        Job::LoftyChange(j) => lofty_change::run(ctx, j).await,
        Job::LoftySubscribe(j) => lofty_subscribe::run(ctx, j).await,
        Job::FlowRun(j) => flow_run::run(ctx, j, attempts, owner).await,
        Job::FlowReconcile(j) => flow_run::reconcile(ctx, j).await,
        Job::LythoPoll(j) => lytho_poll::run(ctx, j).await,
        Job::FlowAction(j) => crate::actions::run(ctx, j).await,
    }
}
