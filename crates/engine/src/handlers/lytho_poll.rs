//! `lytho.poll`: Lytho sends no webhooks, so each Lytho connection that an
//! enabled flow syncs is polled once per interval. Per item type the flows need,
//! the poll lists the ids and reads the items in batches of 30 (1 + ⌈items / 30⌉
//! requests, whatever changed), and keeps the items whose `modifiedDate` is newer
//! than the type's stored cursor (`lytho:poll:<connection>:<type>`). Each changed
//! item's users are read (one call), and its comments when a flow syncs them;
//! every record that differs from what the flow holds becomes a `flow.run` job.
//!
//! At least once: the cursor is stored only after the jobs are queued, so a poll
//! that fails or dies is repeated from the old cursor; a record routed twice with
//! the same version is one job, and one whose values did not change is skipped by
//! the runner. A person on many items is one record, reported once per poll.

use std::collections::{BTreeMap, BTreeSet};

use domain::sync::Side;
use lytho::{Cursor, ItemType, PollOptions};

use crate::sync::systems::lytho::cursor_name;
use serde_json::Value;

use super::{Context, Failed, Outcome, Verdict};
use crate::connectors::Connector;
use crate::jobs::{FlowRun, Job, LythoPoll};
use crate::sync::systems::{self, lytho as lx};
use crate::sync::{self as engine_sync, Flow};

/// How a poll reads: batches of 30 items, 90 ids per request (three pages), so a
/// scan costs 1 + ⌈items / 30⌉ requests.
pub fn poll_options() -> PollOptions {
    PollOptions {
        ids_per_request: 90,
        ..PollOptions::default()
    }
}

/// The enabled flows that sync a Lytho type on `connection`, with the side.
pub async fn lytho_consumers(
    store: &store::Store,
    connection: &str,
) -> Result<Vec<(Flow, Side)>, store::StoreError> {
    let mut out = Vec::new();
    for object in ["lytho.user", "lytho.task", "lytho.comment"] {
        out.extend(engine_sync::consumers(store, object, connection).await?);
    }
    Ok(out)
}

/// The item types the enabled action flows of Lytho triggers on `connection` need.
pub async fn action_kinds(
    store: &store::Store,
    connection: &str,
) -> Result<BTreeSet<ItemType>, store::StoreError> {
    let mut out = BTreeSet::new();
    for flow in store.action_flows().await? {
        if !flow.enabled || flow.trigger_connection.as_deref() != Some(connection) {
            continue;
        }
        if let Some(t) = crate::catalog::catalog().find(&flow.trigger_id)
            && t.system == "lytho"
            && let Some(kind) = t
                .trigger
                .as_ref()
                .and_then(|r| ItemType::ALL.into_iter().find(|k| k.as_str() == r.event))
        {
            out.insert(kind);
        }
    }
    Ok(out)
}

pub async fn run(ctx: &Context, job: &LythoPoll) -> Result<Outcome, Failed> {
    let store = ctx.store();
    let record = format!("lytho:connection:{}", job.connection);
    let consumers = lytho_consumers(store, &job.connection).await?;
    let for_actions = action_kinds(store, &job.connection).await?;
    if consumers.is_empty() && for_actions.is_empty() {
        return Ok(Outcome::new(
            record,
            Verdict::Skipped,
            "no enabled flow syncs this Lytho connection",
        ));
    }
    let objects: BTreeSet<&'static str> = consumers
        .iter()
        .map(|(f, s)| f.spec.object(*s).name)
        .collect();
    let synced: BTreeSet<ItemType> = objects
        .iter()
        .flat_map(|o| lx::item_types(o).iter().copied())
        .collect();
    let kinds: BTreeSet<ItemType> = synced.union(&for_actions).copied().collect();
    let conn = ctx.connectors.open(&job.connection).await?;
    let Connector::Lytho(c) = &conn else {
        return Err(Failed::give_up(format!(
            "{} is not a Lytho connection",
            job.connection
        )));
    };
    let now = store.now();
    let (mut changed_items, mut queued) = (0usize, 0usize);
    for kind in kinds {
        let name = cursor_name(&job.connection, kind);
        let cursor: Cursor = store
            .cursor(&name)
            .await?
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let stream = c.client.changes_since(kind, cursor, poll_options());
        let (items, next) = stream
            .collect_changes()
            .await
            .map_err(|e| Failed::from(crate::connectors::ConnectorError::Lytho(e)))?;
        changed_items += items.len();
        wire::metrics::events_received("lytho", items.len() as u64);
        if for_actions.contains(&kind) {
            let events = crate::catalog::lytho_events(kind, &items);
            queued += crate::actions::route(store, &events, Some(&job.connection)).await?;
        }
        if !synced.contains(&kind) {
            let text = serde_json::to_string(&next).unwrap_or_default();
            store.set_cursor(&name, &text).await?;
            continue;
        }
        // The records each object type gets from the changed items (a person on
        // several items once).
        let mut found: BTreeMap<&str, BTreeMap<String, Value>> = BTreeMap::new();
        for item in &items {
            let users = c
                .client
                .item_users(kind, item.id)
                .await
                .map_err(|e| Failed::from(crate::connectors::ConnectorError::Lytho(e)))?;
            for object in &objects {
                if !lx::item_types(object).contains(&kind) {
                    continue;
                }
                for r in lx::records_of_item(c, object, kind, item, &users).await? {
                    if let Some(id) = systems::id_of(object, &r) {
                        found.entry(object).or_default().insert(id, r);
                    }
                }
            }
        }
        let mut jobs = Vec::new();
        for (flow, side) in &consumers {
            let object = flow.spec.object(*side).name;
            let Some(records) = found.get(object) else {
                continue;
            };
            let fid = flow.row.id.as_str();
            for (id, state) in records {
                let text = state.to_string();
                let known = store.record_state(fid, side.as_str(), id).await?;
                if known.as_ref().is_some_and(|(s, _)| s == &text) {
                    continue;
                }
                // A user has no modification time: the poll's time versions it.
                let version = systems::version_of(object, state).or(Some(now));
                let keys = domain::sync::key_values(&flow.spec, *side, state);
                let put = store::RecordPut {
                    id: id.clone(),
                    state: text,
                    version,
                    keys,
                };
                store.put_record(fid, side.as_str(), put).await?;
                jobs.push(
                    Job::from(FlowRun::known(fid, side.as_str(), id, version)).into_new_job(),
                );
            }
        }
        queued += store.enqueue_many(&jobs).await?;
        let text = serde_json::to_string(&next).unwrap_or_default();
        store.set_cursor(&name, &text).await?;
    }
    Ok(Outcome::new(
        record,
        Verdict::Done,
        format!("{changed_items} changed item(s); {queued} record(s) to sync"),
    ))
}
