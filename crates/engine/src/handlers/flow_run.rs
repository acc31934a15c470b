//! `flow.run`: one changed record for one flow (see `crate::sync`).

use super::{Context, Failed, Outcome};
use crate::jobs::FlowRun;

pub async fn run(
    ctx: &Context,
    job: &FlowRun,
    attempts: i32,
    owner: &str,
) -> Result<Outcome, Failed> {
    crate::sync::run(ctx, job, attempts, owner).await
}
