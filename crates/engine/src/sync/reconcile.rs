//! The reconciliation walk: webhooks get lost (GHL retries only a 429, Lofty
//! documents no retries), so every so often each side of a flow is paged through
//! and compared with what the engine knows. A record that changed without an event
//! (a newer version, or different values) runs through the runner; a linked record
//! that the walk no longer finds is confirmed gone by a read (a new Lofty lead can
//! answer 404 for a moment, so it must still be gone when asked) and then follows
//! the side's delete policy.
//!
//! A walk that ends early decides no delete. And a walk that would remove more than
//! a share of the flow's links in one pass (default 5%) removes none: it puts them
//! in one review instead. A bad page walk must never look like a mass delete.

use std::collections::HashSet;

use domain::sync::Side;
use serde_json::{Value, json};
use store::StoreError;

use super::backfill::BackfillError;
use super::{Flow, systems};
use crate::connectors::Connectors;
use crate::jobs::{FlowRun, Job};

/// What one walk of one side found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Walk {
    /// Records the walk saw.
    pub seen: u64,
    /// Records that changed without an event (now queued).
    pub changed: u64,
    /// Linked records confirmed gone (now queued as deletes).
    pub deleted: u64,
    /// Linked records missing, held for review because there were too many.
    pub held: u64,
    /// The review holding them, if any.
    pub review: Option<i64>,
}

/// Walks `side` of `flow`. `max_share` is the largest share of the flow's links
/// one walk may remove (0.05 = 5%).
pub async fn walk(
    connectors: &Connectors,
    flow: &Flow,
    side: Side,
    max_share: f64,
) -> Result<Walk, BackfillError> {
    let store = connectors.store();
    let fid = flow.row.id.as_str();
    let object = flow.spec.object(side).name;
    let conn = connectors.open(flow.connection(side)).await?;
    let mut out = Walk::default();
    let mut seen = HashSet::new();
    let mut jobs = Vec::new();
    let mut cursor = None;
    loop {
        let (records, next) = systems::page(&conn, object, cursor.as_ref()).await?;
        for r in &records {
            let Some(id) = systems::id_of(object, r) else {
                continue;
            };
            seen.insert(id.clone());
            let version = systems::version_of(object, r);
            let known = store.record_state(fid, side.as_str(), &id).await?;
            let different = match &known {
                None => true,
                Some((state, v)) => {
                    let before: serde_json::Value = serde_json::from_str(state).unwrap_or_default();
                    let newer = matches!((version, v), (Some(a), Some(b)) if a > *b);
                    newer
                        || domain::sync::fingerprint(&flow.spec, side, &before)
                            != domain::sync::fingerprint(&flow.spec, side, r)
                }
            };
            let put = store::RecordPut {
                id: id.clone(),
                state: r.to_string(),
                version,
                keys: domain::sync::key_values(&flow.spec, side, r),
            };
            if different && store.put_record(fid, side.as_str(), put).await? {
                // A record without an update time of its own (a GHL task) is
                // versioned by the walk's time: each walk's change is its own job.
                let version = version.or_else(|| Some(store.now()));
                jobs.push(run_job(flow, side, &id, version, false));
                out.changed += 1;
            }
        }
        out.seen += records.len() as u64;
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    // Linked records the walk did not see.
    let mut missing = Vec::new();
    let mut after = 0;
    let mut linked = 0u64;
    loop {
        let page = store.pairs(fid, after, 500).await?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (_, p) in &page {
            linked += 1;
            let id = match side {
                Side::Left => &p.left_id,
                Side::Right => &p.right_id,
            };
            if !seen.contains(id) {
                missing.push(id.clone());
            }
        }
    }
    let allowed = ((linked as f64) * max_share).floor() as usize;
    if !missing.is_empty() && missing.len() > allowed {
        let refs: Vec<String> = missing
            .iter()
            .map(|id| format!("{}:{id}", object.replace('.', ":")))
            .collect();
        let detail = json!({
            "why": format!("a walk of {object} no longer finds {} of {linked} linked records, more than the {:.0}% one walk may remove; nothing was unlinked or deleted", missing.len(), max_share * 100.0),
            "records": refs,
        });
        let id = store
            .open_review(fid, "delete", "", &detail.to_string())
            .await?;
        tracing::warn!(flow = fid, side = %side, missing = missing.len(), linked, review = id, "MassDeleteHeld: the reconciliation walk would remove too many links; held for review");
        out.held = missing.len() as u64;
        out.review = Some(id);
    } else {
        for id in &missing {
            // Gone only if a read says so now.
            let hint = store
                .record_state(fid, side.as_str(), id)
                .await?
                .and_then(|(s, _)| serde_json::from_str(&s).ok())
                .unwrap_or(Value::Null);
            if systems::read(&conn, object, id, &hint).await?.is_none() {
                jobs.push(run_job(flow, side, id, None, true));
                out.deleted += 1;
            }
        }
    }
    store
        .enqueue_many(&jobs)
        .await
        .map_err(BackfillError::Store)?;
    Ok(out)
}

fn run_job(
    flow: &Flow,
    side: Side,
    id: &str,
    version: Option<i64>,
    deleted: bool,
) -> store::NewJob {
    let mut run = FlowRun::known(&flow.row.id, side.as_str(), id, version);
    if deleted {
        run.deleted = true;
        run.known = false;
    }
    Job::from(run).into_new_job()
}

/// Walks both sides of every enabled flow.
pub async fn walk_all(
    connectors: &Connectors,
    max_share: f64,
    objects: &[String],
) -> Result<Vec<(String, Side, Walk)>, BackfillError> {
    let mut out = Vec::new();
    for flow in super::enabled_flows(connectors.store())
        .await
        .map_err(|e: StoreError| BackfillError::Store(e))?
    {
        for side in [Side::Left, Side::Right] {
            // A child type paged parent by parent (one call each) is not walked:
            // its webhooks report every change (GHL tasks are walked: their
            // edits and reopenings send none).
            let object = flow.spec.object(side).name;
            if !systems::walked(object)
                || !(objects.is_empty() || objects.iter().any(|o| o == object))
            {
                continue;
            }
            let w = walk(connectors, &flow, side, max_share).await?;
            out.push((flow.row.id.clone(), side, w));
        }
    }
    Ok(out)
}
