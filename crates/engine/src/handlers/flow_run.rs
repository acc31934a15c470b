//! `flow.run`: one changed record for one flow (see `crate::sync`).

use super::Verdict;
use super::{Context, Failed, Outcome};
use crate::jobs::{FlowReconcile, FlowRun};

pub async fn run(
    ctx: &Context,
    job: &FlowRun,
    attempts: i32,
    owner: &str,
) -> Result<Outcome, Failed> {
    crate::sync::run(ctx, job, attempts, owner).await
}

/// `flow.reconcile`: walks both sides of every enabled flow.
pub async fn reconcile(ctx: &Context, job: &FlowReconcile) -> Result<Outcome, Failed> {
    let share = f64::from(job.max_delete_permille) / 1000.0;
    let walks = crate::sync::reconcile::walk_all(&ctx.connectors, share, &job.objects)
        .await
        .map_err(|e| match e {
            crate::sync::backfill::BackfillError::Connector(c) => Failed::from(c),
            crate::sync::backfill::BackfillError::Store(s) => Failed::from(s),
        })?;
    let detail = walks
        .iter()
        .map(|(flow, side, w)| {
            format!(
                "{flow} {side}: {} seen, {} changed, {} deleted{}",
                w.seen,
                w.changed,
                w.deleted,
                w.review
                    .map(|r| format!(", {} held for review #{r}", w.held))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Ok(Outcome::new(
        job.idempotency_key(),
        Verdict::Done,
        if detail.is_empty() {
            "no enabled flow".to_owned()
        } else {
            detail
        },
    ))
}
