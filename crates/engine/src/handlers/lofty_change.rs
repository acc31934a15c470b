//! `lofty.change`: one changed record of a journaled Lofty delivery, routed to the
//! flows that sync it (a lead: one `flow.run` per flow). Other records are
//! recorded as skipped until a flow consumes them.

use super::{Context, Failed, Outcome, Verdict};
use crate::jobs::LoftyChange;

pub async fn run(ctx: &Context, job: &LoftyChange) -> Result<Outcome, Failed> {
    let id = job
        .id
        .map_or_else(|| "unknown".to_owned(), |id| id.to_string());
    let record = format!("lofty:{}:{id}", job.entity);
    if job.entity == "lead" && job.id.is_some() {
        let routed = crate::sync::route(
            ctx.store(),
            crate::sync::Change {
                object: "lofty.lead",
                connection: &job.connection,
                record: &id,
                version: job.update_time,
                event: None,
                state: None,
                deleted: job.change == "deleted",
            },
        )
        .await?;
        if routed > 0 {
            return Ok(Outcome::new(
                record,
                Verdict::Done,
                format!(
                    "{} lead from {} routed to {routed} flow(s)",
                    job.change, job.connection
                ),
            ));
        }
    }
    Ok(Outcome::new(
        record,
        Verdict::Skipped,
        format!(
            "{} {} from {}: no flow consumes this event yet",
            job.change, job.entity, job.connection
        ),
    ))
}
