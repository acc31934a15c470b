//! `ghl.call`: one GHL operation on a GHL connection, scopes checked before any call,
//! a refused token refreshed once.

use super::{Context, Failed, Outcome, Verdict};
use crate::connectors::ConnectorError;
use crate::jobs::GhlCall;

pub async fn run(ctx: &Context, job: &GhlCall) -> Result<Outcome, Failed> {
    let op = ghl::operations::find(&job.op)
        .ok_or_else(|| Failed::from(ConnectorError::UnknownOperation(job.op.clone())))?;
    let ghl = ctx.connectors.open(&job.connection).await?.into_ghl()?;
    let input = if job.input.is_null() {
        serde_json::Value::Object(serde_json::Map::new())
    } else {
        job.input.clone()
    };
    ghl.call(op, input).await?;
    let record = job
        .record
        .clone()
        .unwrap_or_else(|| format!("ghl:{}", job.op));
    Ok(Outcome::new(
        record,
        Verdict::Ok,
        format!("{} {}", op.method, op.path),
    ))
}
