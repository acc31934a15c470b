//! `lofty.change`: one changed record of a journaled Lofty delivery. No flow consumes
//! it yet: it is recorded as skipped (the journal keeps the delivery).

use super::{Outcome, Verdict};
use crate::jobs::LoftyChange;

pub fn run(job: &LoftyChange) -> Outcome {
    let id = job
        .id
        .map_or_else(|| "unknown".to_owned(), |id| id.to_string());
    Outcome::new(
        format!("lofty:{}:{id}", job.entity),
        Verdict::Skipped,
        format!(
            "{} {} from {}: no flow consumes this event yet",
            job.change, job.entity, job.connection
        ),
    )
}
