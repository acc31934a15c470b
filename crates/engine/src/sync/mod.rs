//! The flow router and runner: from a changed record to the writes a flow's sync
//! file asks for. The decisions are the domain's ([`domain::sync`]); this module
//! loads what they need and acts on them.
//!
//! - **Routing** ([`route`]): a journaled change (a GHL contact webhook, a Lofty
//!   change) becomes one `flow.run` job per enabled flow with that object type on
//!   that connection, keyed by (flow, record, version).
//! - **Running** ([`run`]): under a short lock on the record (and, before a link
//!   exists, on its match keys), the runner loads the record (a GHL webhook carries
//!   it: no read; a Lofty change is ids only: one read), drops an older version
//!   than the one it knows, and recognises our own write coming back (its
//!   fingerprint equals what we wrote: an `echo`, no call). A linked record is
//!   planned three-way against the pair's shadow, with the other side's last known
//!   state standing in for it (no read). An unlinked one is matched against the
//!   engine's own index of the other side (no read), then created, linked and
//!   updated, or sent to review. Every decision goes to the history, and the pair's
//!   shadow, states and fingerprints are stored with it.

pub mod backfill;
mod enable;
pub mod preview;
pub mod reconcile;
pub mod review;
mod runner;
pub mod systems;

pub use enable::{EnableError, account_fields, add_scopes_hint, enable, enable_recipe, prepare};
pub use runner::{dry_run, run};

use domain::sync::{self, Registry, Side, SyncFile, SyncSpec};
use serde_json::Value;
use store::{FlowRow, Store, StoreError};

use crate::jobs::{FlowRun, Job};

/// An enabled flow, built.
#[derive(Debug, Clone)]
pub struct Flow {
    pub row: FlowRow,
    pub spec: SyncSpec,
}

impl Flow {
    pub fn connection(&self, side: Side) -> &str {
        match side {
            Side::Left => &self.row.left_connection,
            Side::Right => &self.row.right_connection,
        }
    }
}

/// Builds a stored flow's sync file.
pub fn build(row: &FlowRow) -> Result<SyncSpec, domain::sync::SyncFileError> {
    SyncFile::load(&format!("{}.toml", row.id), &row.file, &Registry::default())
}

/// The enabled flows (one whose file no longer builds is logged and left out).
pub async fn enabled_flows(store: &Store) -> Result<Vec<Flow>, StoreError> {
    let mut out = Vec::new();
    for row in store.flows().await? {
        if !row.enabled {
            continue;
        }
        match build(&row) {
            Ok(spec) => out.push(Flow { row, spec }),
            Err(e) => {
                tracing::error!(flow = %row.id, error = %e, "FlowInvalid: the flow's sync file does not build; it is not run")
            }
        }
    }
    Ok(out)
}

/// A changed record, as an event reports it.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// `ghl.contact`, `lofty.lead`, ...
    pub object: &'a str,
    pub connection: &'a str,
    pub record: &'a str,
    pub version: Option<i64>,
    /// The journal event whose body is the record (GHL webhooks).
    pub event: Option<&'a str>,
    /// The record, when the event carries it: indexed now, so the other side's
    /// jobs can match it at once.
    pub state: Option<&'a Value>,
    pub deleted: bool,
}

/// Routes a change: one `flow.run` job per enabled flow that syncs its object on
/// its connection. Returns how many.
pub async fn route(store: &Store, change: Change<'_>) -> Result<usize, StoreError> {
    let mut jobs = Vec::new();
    for flow in enabled_flows(store).await? {
        for side in [Side::Left, Side::Right] {
            if flow.spec.object(side).name != change.object
                || flow.connection(side) != change.connection
            {
                continue;
            }
            if let (Some(state), false) = (change.state, change.deleted) {
                let keys = sync::key_values(&flow.spec, side, state);
                store
                    .index_record(&flow.row.id, side.as_str(), change.record, &keys)
                    .await?;
            }
            jobs.push(
                Job::from(FlowRun {
                    flow: flow.row.id.clone(),
                    side: side.as_str().to_owned(),
                    record: change.record.to_owned(),
                    version: change.version,
                    event: change.event.map(str::to_owned),
                    deleted: change.deleted,
                    known: false,
                    settle: false,
                    review: None,
                    create: false,
                })
                .into_new_job(),
            );
        }
    }
    store.enqueue_many(&jobs).await?;
    Ok(jobs.len())
}

/// The enabled flows that sync `object` on `connection`, with the side it is on.
pub async fn consumers(
    store: &Store,
    object: &str,
    connection: &str,
) -> Result<Vec<(Flow, Side)>, StoreError> {
    let mut out = Vec::new();
    for flow in enabled_flows(store).await? {
        for side in [Side::Left, Side::Right] {
            if flow.spec.object(side).name == object && flow.connection(side) == connection {
                out.push((flow.clone(), side));
            }
        }
    }
    Ok(out)
}

/// Records read in bulk (a page walk for a batch of changes): each state is stored
/// and indexed for every flow that syncs it, and the returned `flow.run` jobs use it
/// without a read. `records` are (id, the change's version, the record).
pub async fn route_read(
    store: &Store,
    consumers: &[(Flow, Side)],
    records: &[(String, Option<i64>, Value)],
) -> Result<Vec<store::NewJob>, StoreError> {
    let mut jobs = Vec::new();
    for (flow, side) in consumers {
        let object = flow.spec.object(*side).name;
        let puts: Vec<store::RecordPut> = records
            .iter()
            .map(|(id, _, state)| store::RecordPut {
                id: id.clone(),
                state: state.to_string(),
                version: systems::version_of(object, state),
                keys: sync::key_values(&flow.spec, *side, state),
            })
            .collect();
        store
            .put_records(&flow.row.id, side.as_str(), &puts)
            .await?;
        for (id, version, _) in records {
            let mut run = FlowRun::known(&flow.row.id, side.as_str(), id, *version);
            run.settle = true;
            jobs.push(Job::from(run).into_new_job());
        }
    }
    Ok(jobs)
}

/// `system:type:id` of a record.
/// What history is searched by for `who`: an email's match key (so `Ada@Example.com `
/// finds ada@example.com), or a record as `system:type:id`, trimmed.
pub fn history_key(who: &str) -> String {
    if who.contains('@') {
        domain::Email::parse(who)
            .map(|e| e.match_key())
            .unwrap_or_else(|_| who.trim().to_lowercase())
    } else {
        who.trim().to_owned()
    }
}

pub fn reference(spec: &SyncSpec, side: Side, id: &str) -> String {
    let object = spec.object(side).name;
    let (system, kind) = object.split_once('.').unwrap_or((object, "record"));
    format!("{system}:{kind}:{id}")
}
