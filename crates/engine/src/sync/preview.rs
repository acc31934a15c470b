//! What enabling a flow would do, before it is on: the dry-run preview the admin
//! UI shows, and the backfill it starts once the flow is enabled.

use domain::sync::Side;
use store::HistoryEntry;

use super::backfill::{self, BackfillError};
use super::{EnableError, Flow};
use crate::connectors::Connectors;

/// A dry run's plan and how many records each side has.
#[derive(Debug, Clone)]
pub struct Preview {
    /// One decision per record (with its field diffs); nothing was changed.
    pub entries: Vec<HistoryEntry>,
    pub left_records: u64,
    pub right_records: u64,
}

/// Why a preview or a backfill could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error(transparent)]
    Enable(#[from] EnableError),
    #[error("cannot read the records: {0}")]
    Backfill(#[from] BackfillError),
    #[error("the flow's file does not build: {0}")]
    File(#[from] domain::sync::SyncFileError),
    #[error("the dry run failed: {0}")]
    Run(String),
    #[error("there is no flow `{0}`")]
    NoFlow(String),
    #[error("{0}")]
    Store(#[from] store::StoreError),
}

/// The dry run of sync file `file` between connections `left` and `right`, as it
/// would run once enabled (the same checks as enabling; nothing is stored but the
/// records' index, which a later backfill reuses). `again` reads both sides anew
/// even when an earlier walk finished.
pub async fn preview(
    connectors: &Connectors,
    file: &str,
    left: &str,
    right: &str,
    again: bool,
) -> Result<Preview, PreviewError> {
    let row = super::enable::prepare(connectors, file, left, right).await?;
    let spec = super::build(&row)?;
    let flow = Flow { row, spec };
    if again {
        backfill::reset(connectors.store(), &flow.row.id).await?;
    }
    let left_records = backfill::index_side(connectors, &flow, Side::Left, |_| {}).await?;
    let right_records = backfill::index_side(connectors, &flow, Side::Right, |_| {}).await?;
    let ctx = crate::handlers::Context {
        connectors: connectors.clone(),
        public_url: None,
    };
    let entries = super::dry_run(&ctx, &flow)
        .await
        .map_err(|e| PreviewError::Run(e.message))?;
    Ok(Preview {
        entries,
        left_records,
        right_records,
    })
}

/// Starts the backfill of enabled flow `id`: reads both sides (resuming an earlier
/// walk) and queues one job per record. Returns how many were queued (0 when an
/// earlier backfill queued them already).
pub async fn start_backfill(connectors: &Connectors, id: &str) -> Result<u64, PreviewError> {
    let store = connectors.store();
    let row = store
        .flow(id)
        .await?
        .ok_or_else(|| PreviewError::NoFlow(id.to_owned()))?;
    let spec = super::build(&row)?;
    let flow = Flow { row, spec };
    for side in [Side::Left, Side::Right] {
        backfill::index_side(connectors, &flow, side, |_| {}).await?;
    }
    Ok(backfill::enqueue(store, &flow).await?)
}
