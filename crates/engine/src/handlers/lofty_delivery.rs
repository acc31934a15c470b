//! `lofty.delivery`: turns one chunk of a journaled Lofty delivery into its
//! `lofty.change` jobs, and enqueues the job for the rest in the same statement.
//!
//! A batch that names many leads is read the cheaper way. Lofty has no "updated
//! since" filter and no bulk get, so each changed lead costs one GET, unless one walk
//! over all leads (pages of 100) costs less: when the batch names more than twice
//! as many leads as the walk has pages (from the count of leads the flows know), the
//! walk reads them, and their `flow.run` jobs use what it read. Deleted leads and
//! leads the walk did not see (too new to be listed) go the usual way.

use std::collections::{HashMap, HashSet};

use lofty::webhook::{ChangeKind, WebhookBatch};

use super::{Context, Failed, Outcome, Verdict};
use crate::intake::{LOFTY_CHUNK, lofty_change_job, lofty_chunk};
use crate::jobs::LoftyDelivery;
use crate::sync::{self, systems};

/// How long a walk waits in all for Lofty's rate window before it gives up (and
/// the job is retried).
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Below this many changed leads a batch is never walked.
const WALK_MIN: usize = 50;

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
    if job.from == 0 {
        // The action flows of these changes' triggers, once per delivery (a change
        // seen in two deliveries, by its update time, is one job). Events are built
        // only for triggers some flow listens to: a delivery holds thousands.
        let live = store.live_action_triggers().await?;
        if !live.is_empty() {
            let events = crate::catalog::lofty_events(&batch, &job.event, |t| live.contains(t));
            crate::actions::route(store, &events, Some(&job.connection)).await?;
        }
    }
    if job.from == 0
        && let Some(done) = walk(ctx, job, &batch).await?
    {
        return Ok(done);
    }
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

/// Reads a batch's changed leads by walking every lead, when that costs fewer
/// reads than one GET each; `None` when it does not (or no flow syncs leads here).
async fn walk(
    ctx: &Context,
    job: &LoftyDelivery,
    batch: &WebhookBatch,
) -> Result<Option<Outcome>, Failed> {
    if batch.event_list().map(|l| l.id_field()) != Some("leadId") {
        return Ok(None);
    }
    // The changed leads, with the latest update time each was given.
    let mut wanted: HashMap<String, Option<i64>> = HashMap::new();
    for c in &batch.changes {
        if let (Some(id), false) = (c.id, c.kind == ChangeKind::Deleted) {
            let v = wanted.entry(id.to_string()).or_insert(c.update_time);
            *v = (*v).max(c.update_time);
        }
    }
    if wanted.len() < WALK_MIN {
        return Ok(None);
    }
    let store = ctx.store();
    let consumers = sync::consumers(store, "lofty.lead", &job.connection).await?;
    let mut known = 0;
    for (flow, side) in &consumers {
        known = known.max(store.count_records(&flow.row.id, side.as_str()).await?);
    }
    let pages = usize::try_from(known).unwrap_or(usize::MAX) / 100 + 1;
    if consumers.is_empty() || known == 0 || wanted.len() <= 2 * pages {
        return Ok(None);
    }
    let conn = ctx.connectors.open(&job.connection).await?;
    let mut found = Vec::new();
    let (mut cursor, mut read) = (None, 0usize);
    let mut waited = std::time::Duration::ZERO;
    loop {
        // A 429 in the middle of the walk waits for Lofty's window and reads the
        // same page again, keeping the pages read (the whole walk is not redone).
        let (records, next) = match systems::page(&conn, "lofty.lead", cursor.as_ref()).await {
            Ok(page) => page,
            Err(e) => match e.failure() {
                store::Failure::RetryAfter(wait) if waited + wait <= MAX_WAIT => {
                    tracing::info!(
                        wait_ms = wait.as_millis() as u64,
                        "LoftyWalkWaits: rate limited; the walk goes on after the wait"
                    );
                    tokio::time::sleep(wait).await;
                    waited += wait;
                    continue;
                }
                _ => return Err(e.into()),
            },
        };
        read += 1;
        for r in records {
            if let Some(id) = systems::id_of("lofty.lead", &r)
                && let Some(v) = wanted.get(&id)
            {
                found.push((id, *v, r));
            }
        }
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let mut jobs = sync::route_read(store, &consumers, &found).await?;
    let seen: HashSet<&str> = found.iter().map(|(id, _, _)| id.as_str()).collect();
    let now = store.now();
    let mut rest = 0;
    for (i, c) in batch.changes.iter().enumerate() {
        let walked = c.kind != ChangeKind::Deleted
            && c.id
                .is_some_and(|id| seen.contains(id.to_string().as_str()));
        if !walked {
            jobs.push(lofty_change_job(job, batch, i, now));
            rest += 1;
        }
    }
    let created = store.enqueue_many(&jobs).await?;
    Ok(Some(Outcome::new(
        format!("lofty:delivery:{}", job.event),
        Verdict::Expanded,
        format!(
            "{} changed leads read by a walk of {read} pages (instead of one read each); {rest} other changes go one by one; {created} new jobs",
            found.len()
        ),
    )))
}
