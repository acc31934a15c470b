//! `lofty.delivery`: turns one chunk of a journaled Lofty delivery into its
//! `lofty.change` jobs, and enqueues the job for the rest in the same statement.

use super::{Context, Failed, Outcome, Verdict};
use crate::intake::{LOFTY_CHUNK, lofty_chunk};
use crate::jobs::LoftyDelivery;

pub async fn run(ctx: &Context, job: &LoftyDelivery) -> Result<Outcome, Failed> {
    let store = ctx.store();
    let body = store
        .event_body("lofty", &job.event)
        .await?
        .ok_or_else(|| {
            Failed::give_up(format!(
                "journal entry {} is missing (deleted by hand?)",
                job.event
            ))
        })?;
    let batch = lofty::webhook::parse(body.as_bytes())
        .map_err(|e| Failed::give_up(format!("journal entry {}: {e}", job.event)))?;
    drop(body);
    let total = batch.changes.len();
    let end = (job.from + LOFTY_CHUNK).min(total);
    let jobs = lofty_chunk(job, &batch, store.now());
    drop(batch);
    let created = store.enqueue_many(&jobs).await?;
    let rest = if end < total {
        " (and the job for the rest)"
    } else {
        ""
    };
    Ok(Outcome::new(
        format!("lofty:delivery:{}", job.event),
        Verdict::Expanded,
        format!(
            "changes {}..{end} of {total}: {created} new jobs{rest}, the others already queued",
            job.from
        ),
    ))
}
