//! Backfill: when a flow is switched on, both sides are paged through once, every
//! record stored and indexed by its match keys, and then each record runs through
//! the runner as a `flow.run` job with its stored state (no second read): pairs are
//! matched, what is missing is created, what differs is updated. Paging keeps a
//! checkpoint per side in `cursors` after every page, and the jobs are in the
//! durable queue, so a crash resumes where it stopped. Then webhooks take over.

use domain::sync::Side;
use serde_json::{Value, json};
use store::{RecordPut, Store, StoreError};

use super::{Flow, systems};
use crate::connectors::{ConnectorError, Connectors};
use crate::jobs::{FlowRun, Job};

/// Why a backfill stopped.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn checkpoint(flow: &str, side: Side) -> String {
    format!("backfill:{flow}:{side}")
}

/// Pages through one side of `flow`, storing and indexing every record; resumes
/// from its checkpoint. `progress` gets the count after each page. Returns how many
/// records the side has.
pub async fn index_side(
    connectors: &Connectors,
    flow: &Flow,
    side: Side,
    mut progress: impl FnMut(u64),
) -> Result<u64, BackfillError> {
    let store = connectors.store();
    let key = checkpoint(&flow.row.id, side);
    let saved: Value = store
        .cursor(&key)
        .await?
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null);
    let mut seen = saved["seen"].as_u64().unwrap_or(0);
    if saved["done"] == json!(true) {
        progress(seen);
        return Ok(seen);
    }
    let mut next = saved.get("next").cloned().filter(|v| !v.is_null());
    let conn = connectors.open(flow.connection(side)).await?;
    let object = flow.spec.object(side).name;
    // Lytho's poller takes over from the moment this walk starts (less a margin
    // for clocks): what changes during the walk is found by the next poll.
    if next.is_none() && systems::lytho::is_lytho(object) {
        let at = chrono::Utc::now() - chrono::Duration::seconds(2);
        systems::lytho::start_cursors(store, flow.connection(side), object, at).await?;
    }
    loop {
        let (records, after) = page_of(store, &conn, flow, side, next.as_ref()).await?;
        // The page in one transaction: its states and their index keys.
        let puts: Vec<RecordPut> = records
            .iter()
            .filter_map(|r| {
                Some(RecordPut {
                    id: systems::id_of(object, r)?,
                    state: r.to_string(),
                    version: systems::version_of(object, r),
                    keys: domain::sync::key_values(&flow.spec, side, r),
                })
            })
            .collect();
        store
            .put_records(&flow.row.id, side.as_str(), &puts)
            .await?;
        seen += records.len() as u64;
        let done = after.is_none();
        store
            .set_cursor(
                &key,
                &json!({"next": after, "done": done, "seen": seen}).to_string(),
            )
            .await?;
        progress(seen);
        if done {
            return Ok(seen);
        }
        next = after;
    }
}

/// How many parents one page of children covers.
const PARENTS_PER_PAGE: i64 = 20;

/// One page of a side's records: the account's own paging, or, for a child type
/// that has none (Lofty tasks and notes, GHL notes), the children of the next
/// parents the parent flow knows on that side (one list call per parent). A
/// child whose parent is not linked yet waits for it in the runner.
pub(crate) async fn page_of(
    store: &Store,
    conn: &crate::connectors::Connector,
    flow: &Flow,
    side: Side,
    cursor: Option<&Value>,
) -> Result<(Vec<Value>, Option<Value>), BackfillError> {
    let object = flow.spec.object(side).name;
    let Some(parent) = flow
        .spec
        .parent
        .as_ref()
        .filter(|_| !systems::pageable(object))
    else {
        return Ok(systems::page(conn, object, cursor).await?);
    };
    let after = cursor.and_then(Value::as_str).unwrap_or_default();
    let parents = store
        .record_ids(&parent.flow, side.as_str(), after, PARENTS_PER_PAGE)
        .await?;
    let mut records = Vec::new();
    for p in &parents {
        records.extend(systems::list_under(conn, object, p).await?);
    }
    let next = parents
        .last()
        .filter(|_| parents.len() as i64 == PARENTS_PER_PAGE)
        .map(|l| Value::String(l.clone()));
    Ok((records, next))
}

/// Enqueues one `flow.run` per stored record of both sides (left first), using the
/// stored state, once per backfill (a checkpoint says it is done). Returns how many
/// jobs are new.
pub async fn enqueue(store: &Store, flow: &Flow) -> Result<u64, StoreError> {
    let done_key = format!("backfill:{}:enqueued", flow.row.id);
    if store.cursor(&done_key).await?.as_deref() == Some("done") {
        return Ok(0);
    }
    let mut created = 0u64;
    for side in [Side::Left, Side::Right] {
        let mut after = String::new();
        loop {
            let ids = store
                .record_versions(&flow.row.id, side.as_str(), &after, 500)
                .await?;
            let Some(last) = ids.last().map(|(id, _)| id.clone()) else {
                break;
            };
            let jobs: Vec<_> = ids
                .iter()
                .map(|(id, version)| {
                    Job::from(FlowRun::known(&flow.row.id, side.as_str(), id, *version))
                        .into_new_job()
                })
                .collect();
            created += store.enqueue_many(&jobs).await? as u64;
            after = last;
        }
    }
    store.set_cursor(&done_key, "done").await?;
    Ok(created)
}

/// Forgets the checkpoints, so the next backfill pages through both sides again.
pub async fn reset(store: &Store, flow: &str) -> Result<(), StoreError> {
    for side in [Side::Left, Side::Right] {
        store.set_cursor(&checkpoint(flow, side), "{}").await?;
    }
    store
        .set_cursor(&format!("backfill:{flow}:enqueued"), "")
        .await?;
    Ok(())
}
