//! The dry run: every stored record through the runner, nothing written.

use serde_json::json;
use store::HistoryEntry;

use super::{Entry, Runner};
use crate::handlers::{Context, Failed};
use crate::jobs::FlowRun;
use crate::sync::{Flow, reference};
use domain::sync::Side;

/// A dry run of a flow over the records its backfill stored: what the runner would
/// decide for each (create, update with the field diffs, skip and why, conflict,
/// review), with nothing written anywhere but the local index. Left records first;
/// a right record already planned with its left partner is not listed twice.
pub async fn dry_run(ctx: &Context, flow: &Flow) -> Result<Vec<HistoryEntry>, Failed> {
    let plan = std::sync::Mutex::new(Vec::new());
    let store = ctx.store();
    for side in [Side::Left, Side::Right] {
        let mut after = String::new();
        loop {
            let ids = store
                .record_ids(&flow.row.id, side.as_str(), &after, 500)
                .await?;
            let Some(last) = ids.last().cloned() else {
                break;
            };
            for id in ids {
                let me = reference(&flow.spec, side, &id);
                let seen = plan
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .any(|h: &HistoryEntry| h.target == me);
                if seen {
                    continue;
                }
                let job = FlowRun::known(&flow.row.id, side.as_str(), &id, None);
                let owner = format!("dry-run:{}", job.record);
                let runner = Runner {
                    ctx,
                    flow,
                    job: &job,
                    side,
                    owner: &owner,
                    attempt: 1,
                    dry: Some(&plan),
                };
                if let Err(e) = runner.go().await {
                    let entry = Entry {
                        flow,
                        source: me.clone(),
                        subject: String::new(),
                        at: store.now(),
                    };
                    plan.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(entry.make("", "failed", e.message, json!([]), (None, None)));
                }
            }
            after = last;
        }
    }
    Ok(plan.into_inner().unwrap_or_else(|p| p.into_inner()))
}
