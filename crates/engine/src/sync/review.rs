//! Settling a review: what a person decided, carried out.
//!
//! - `delete` of one record (its side's policy is `review`): approving deletes the
//!   partner; dismissing keeps it. Either way the link goes (its record is gone).
//! - `delete` held by the reconciliation walk (more linked records missing than
//!   one walk may remove): approving runs each as deleted (its side's policy then
//!   applies); dismissing keeps every link.
//! - `match`: approving links the record to the candidate (`--link`, or the only
//!   one) and syncs them; a record that matched nobody is created on the other
//!   side. Dismissing leaves it unlinked.
//! - `conflict` (rule `review`): approving takes one side's values (`--take left`
//!   or `right`, or the system's name) for the fields in conflict; dismissing
//!   leaves both as they are.

use domain::sync::{Shadow, ShadowField, Side};
use serde_json::{Value, json};
use store::{HistoryEntry, Review, StoreError};

use super::{Flow, build, reference, systems};
use crate::connectors::{ConnectorError, Connectors};
use crate::jobs::{FlowRun, Job};

/// What a person decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// With the choice a review needs: the candidate to link (`system:type:id`),
    /// or the side whose values win a conflict.
    Approve(Option<String>),
    Dismiss,
}

/// Why a review cannot be settled (each names the fix).
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("review #{0} does not exist (see `ghlsync review list`)")]
    Unknown(i64),
    #[error("review #{0} is settled already ({1})")]
    Settled(i64, String),
    #[error("review #{id}: {message}")]
    Invalid { id: i64, message: String },
    #[error("review #{id}: {error}")]
    Connector { id: i64, error: ConnectorError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which side and id a `system:type:id` reference names in `flow` (review `id`'s
/// error when it names none).
fn side_of(flow: &Flow, id: i64, r: &str) -> Result<(Side, String), ReviewError> {
    [Side::Left, Side::Right]
        .into_iter()
        .find_map(|side| {
            let prefix = reference(&flow.spec, side, "");
            r.strip_prefix(&prefix).map(|rid| (side, rid.to_owned()))
        })
        .ok_or_else(|| ReviewError::Invalid {
            id,
            message: format!("`{r}` is not a record of this flow"),
        })
}

/// Carries out `decision` on review `id`; returns what was done.
pub async fn settle(
    connectors: &Connectors,
    id: i64,
    decision: Decision,
) -> Result<String, ReviewError> {
    let store = connectors.store();
    let review = store.review(id).await?.ok_or(ReviewError::Unknown(id))?;
    if review.status != "open" {
        return Err(ReviewError::Settled(id, review.status));
    }
    let invalid = |message: String| ReviewError::Invalid { id, message };
    let row = store
        .flow(&review.flow)
        .await?
        .ok_or_else(|| invalid(format!("its flow `{}` no longer exists", review.flow)))?;
    let spec = build(&row).map_err(|e| invalid(e.to_string()))?;
    let flow = Flow { row, spec };
    let detail: Value = serde_json::from_str(&review.detail).unwrap_or(Value::Null);
    let approved = matches!(decision, Decision::Approve(_));
    let done = match (review.kind.as_str(), decision) {
        ("delete", decision) => delete(connectors, &flow, &review, &detail, decision).await?,
        ("match", Decision::Approve(choice)) => {
            link(connectors, &flow, &review, &detail, choice).await?
        }
        ("conflict", Decision::Approve(choice)) => {
            take(connectors, &flow, &review, &detail, choice).await?
        }
        (_, Decision::Dismiss) => "left as it is".to_owned(),
        (kind, _) => {
            return Err(invalid(format!(
                "reviews of kind `{kind}` cannot be approved"
            )));
        }
    };
    if !store.settle_review(id, approved).await? {
        return Err(ReviewError::Settled(id, "settled meanwhile".to_owned()));
    }
    Ok(done)
}

fn entry(
    flow: &Flow,
    review: &Review,
    source: &str,
    target: &str,
    decision: &str,
    reason: String,
    at: i64,
) -> HistoryEntry {
    HistoryEntry {
        at,
        flow: flow.row.id.clone(),
        source: source.to_owned(),
        target: target.to_owned(),
        decision: decision.to_owned(),
        reason,
        diffs: "[]".to_owned(),
        api_status: None,
        api_message: None,
        subject: review.subject.clone(),
    }
}

fn run(flow: &Flow, side: Side, id: &str, review: i64) -> FlowRun {
    let mut run = FlowRun::known(&flow.row.id, side.as_str(), id, None);
    run.review = Some(review);
    run
}

async fn delete(
    connectors: &Connectors,
    flow: &Flow,
    review: &Review,
    detail: &Value,
    decision: Decision,
) -> Result<String, ReviewError> {
    let store = connectors.store();
    let approved = matches!(decision, Decision::Approve(_));
    // Held by the reconciliation walk: the records it no longer found.
    if let Some(records) = detail["records"].as_array() {
        if !approved {
            return Ok(format!("{} links kept", records.len()));
        }
        let mut jobs = Vec::new();
        for r in records.iter().filter_map(Value::as_str) {
            let (side, rid) = side_of(flow, review.id, r)?;
            let mut job = run(flow, side, &rid, review.id);
            job.deleted = true;
            job.known = false;
            jobs.push(Job::from(job).into_new_job());
        }
        let n = store.enqueue_many(&jobs).await?;
        return Ok(format!(
            "{n} records run as deleted (their side's delete policy applies)"
        ));
    }
    let deleted = detail["deleted"].as_str().unwrap_or_default();
    let (side, rid) = side_of(flow, review.id, deleted)?;
    let Some(pair) = store.pair(&flow.row.id, side.as_str(), &rid).await? else {
        return Ok("no longer linked; nothing to do".to_owned());
    };
    let partner_side = side.other();
    let partner = match partner_side {
        Side::Left => pair.left_id.clone(),
        Side::Right => pair.right_id.clone(),
    };
    let target = reference(&flow.spec, partner_side, &partner);
    let what = if approved {
        let conn = connectors
            .open(flow.connection(partner_side))
            .await
            .map_err(|error| ReviewError::Connector {
                id: review.id,
                error,
            })?;
        let state: Value = serde_json::from_str(match partner_side {
            Side::Left => &pair.left_state,
            Side::Right => &pair.right_state,
        })
        .unwrap_or(Value::Null);
        match systems::delete(&conn, flow.spec.object(partner_side).name, &partner, &state).await {
            Ok(()) => {}
            // Gone already: what the approval asked for.
            Err(e) if e.to_string().contains("404") => {}
            Err(error) => {
                return Err(ReviewError::Connector {
                    id: review.id,
                    error,
                });
            }
        }
        format!(
            "review #{} approved: {target} deleted, link removed",
            review.id
        )
    } else {
        format!(
            "review #{} dismissed: {target} kept, link removed",
            review.id
        )
    };
    store.remove_pair(&flow.row.id, side.as_str(), &rid).await?;
    store
        .append_history(&[entry(
            flow,
            review,
            deleted,
            &target,
            "delete",
            what.clone(),
            store.now(),
        )])
        .await?;
    Ok(what)
}

async fn link(
    connectors: &Connectors,
    flow: &Flow,
    review: &Review,
    detail: &Value,
    choice: Option<String>,
) -> Result<String, ReviewError> {
    let store = connectors.store();
    let invalid = |message: String| ReviewError::Invalid {
        id: review.id,
        message,
    };
    let record = detail["record"].as_str().unwrap_or_default();
    let (side, rid) = side_of(flow, review.id, record)?;
    let candidates: Vec<&str> = detail["candidates"]
        .as_array()
        .map(|c| c.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let fid = flow.row.id.as_str();
    if store.pair(fid, side.as_str(), &rid).await?.is_some() {
        return Err(invalid(format!(
            "{record} is linked already; dismiss this review"
        )));
    }
    let chosen = match (choice.as_deref(), candidates.as_slice()) {
        (Some(c), _) => Some(c.to_owned()),
        (None, [one]) => Some((*one).to_owned()),
        (None, []) => None,
        (None, many) => {
            return Err(invalid(format!(
                "choose the record to link: ghlsync review approve {} --link <one of {}>",
                review.id,
                many.join(", ")
            )));
        }
    };
    let Some(chosen) = chosen else {
        // It matched nobody: create it on the other side.
        let mut job = run(flow, side, &rid, review.id);
        job.create = true;
        store.enqueue_many(&[Job::from(job).into_new_job()]).await?;
        return Ok(format!("{record} will be created on the other side"));
    };
    let (other_side, oid) = side_of(flow, review.id, &chosen)
        .ok()
        .filter(|(s, _)| *s == side.other())
        .ok_or_else(|| {
            invalid(format!(
                "`{chosen}` is not a record of the other side of this flow"
            ))
        })?;
    if let Some(p) = store.pair(fid, other_side.as_str(), &oid).await? {
        let partner = match side {
            Side::Left => p.left_id,
            Side::Right => p.right_id,
        };
        return Err(invalid(format!(
            "{chosen} is linked to {} already",
            reference(&flow.spec, side, &partner)
        )));
    }
    let state = |s: Side, id: String| async move {
        store
            .record_state(fid, s.as_str(), &id)
            .await
            .map(|r| r.map_or(("null".to_owned(), None), |(st, v)| (st, v)))
    };
    let (mine, mine_v) = state(side, rid.clone()).await?;
    let (theirs, theirs_v) = state(other_side, oid.clone()).await?;
    let (left_id, right_id, left_state, right_state, left_version, right_version) = match side {
        Side::Left => (rid.clone(), oid.clone(), mine, theirs, mine_v, theirs_v),
        Side::Right => (oid.clone(), rid.clone(), theirs, mine, theirs_v, mine_v),
    };
    let pair = store::PairRow {
        flow_id: fid.to_owned(),
        left_id,
        right_id,
        shadow: "{}".to_owned(),
        left_state,
        right_state,
        left_version,
        right_version,
        left_written: None,
        right_written: None,
    };
    let what = format!(
        "review #{} approved: {record} linked to {chosen}",
        review.id
    );
    // Their first sync: fields that differ follow their rules (newest, ...).
    let h = entry(
        flow,
        review,
        record,
        &chosen,
        "update",
        what.clone(),
        store.now(),
    );
    keep_and_run(connectors, flow, review, &pair, h, side, &rid).await?;
    Ok(what)
}

/// Stores the pair with its history entry, then queues a run of `side`'s record.
#[allow(clippy::too_many_arguments)]
async fn keep_and_run(
    connectors: &Connectors,
    flow: &Flow,
    review: &Review,
    pair: &store::PairRow,
    history: HistoryEntry,
    side: Side,
    id: &str,
) -> Result<(), StoreError> {
    let store = connectors.store();
    store.put_pair(pair, &[history]).await?;
    store
        .enqueue_many(&[Job::from(run(flow, side, id, review.id)).into_new_job()])
        .await?;
    Ok(())
}

async fn take(
    connectors: &Connectors,
    flow: &Flow,
    review: &Review,
    detail: &Value,
    choice: Option<String>,
) -> Result<String, ReviewError> {
    let store = connectors.store();
    let invalid = |message: String| ReviewError::Invalid {
        id: review.id,
        message,
    };
    let system = |s: Side| {
        flow.spec
            .object(s)
            .name
            .split('.')
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let winner = match choice.as_deref() {
        Some("left") => Side::Left,
        Some("right") => Side::Right,
        Some(c) if c == system(Side::Left) => Side::Left,
        Some(c) if c == system(Side::Right) => Side::Right,
        _ => {
            return Err(invalid(format!(
                "say whose values win: ghlsync review approve {} --take {}|{}",
                review.id,
                system(Side::Left),
                system(Side::Right)
            )));
        }
    };
    let record = detail["record"].as_str().unwrap_or_default();
    let (side, rid) = side_of(flow, review.id, record)?;
    let Some(mut pair) = store.pair(&flow.row.id, side.as_str(), &rid).await? else {
        return Err(invalid(format!(
            "{record} is no longer linked; dismiss this review"
        )));
    };
    let fields: Vec<&str> = detail["fields"]
        .as_array()
        .map(|f| f.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // The shadow says the winner changed and the loser did not: the next run
    // writes the winner's values to the loser.
    let mut shadow: Shadow = serde_json::from_str(&pair.shadow).unwrap_or_default();
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    let (left, right) = (parse(&pair.left_state), parse(&pair.right_state));
    for name in &fields {
        let Some(rule) = flow.spec.fields.iter().find(|f| f.name == *name) else {
            continue;
        };
        let stale = json!({"review": review.id});
        let (l, r) = (rule.left.get(&left), rule.right.get(&right));
        shadow.fields.insert(
            (*name).to_owned(),
            match winner {
                Side::Left => ShadowField {
                    left: stale,
                    right: r,
                },
                Side::Right => ShadowField {
                    left: l,
                    right: stale,
                },
            },
        );
    }
    pair.shadow = serde_json::to_string(&shadow).unwrap_or_default();
    // The winner's state is not an echo of ours, whatever was written last.
    match winner {
        Side::Left => pair.left_written = None,
        Side::Right => pair.right_written = None,
    }
    let winner_id = match winner {
        Side::Left => pair.left_id.clone(),
        Side::Right => pair.right_id.clone(),
    };
    let what = format!(
        "review #{} approved: {} wins {}",
        review.id,
        system(winner),
        fields.join(", ")
    );
    let h = entry(
        flow,
        review,
        record,
        "",
        "conflict",
        what.clone(),
        store.now(),
    );
    keep_and_run(connectors, flow, review, &pair, h, winner, &winner_id).await?;
    Ok(what)
}
