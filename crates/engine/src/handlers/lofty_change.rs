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
    // List 11 (appointments) names its records `taskId` too.
    let object = match (job.entity.as_str(), job.list_id) {
        ("lead", _) => Some("lofty.lead"),
        ("note", _) => Some("lofty.note"),
        ("task", 10) => Some("lofty.task"),
        ("task", 11) => Some("lofty.appointment"),
        _ => None,
    };
    if let (Some(object), Some(_)) = (object, job.id) {
        let routed = crate::sync::route(
            ctx.store(),
            crate::sync::Change {
                object,
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
                    "{} {} from {} routed to {routed} flow(s)",
                    job.change, job.entity, job.connection
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
