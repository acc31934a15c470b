//! Running one `flow.run`: load, lock, echo check, match or merge, act, store.
//! See the module docs of [`crate::sync`].

mod child;
mod create;
mod delete;
mod dry;

use std::time::Duration;

use domain::sync::{self, MatchOutcome, OnNone, Plan, Shadow, Side, SyncSpec, Versions};
use serde_json::{Value, json};
use store::{HistoryEntry, PairRow, Store, StoreError};

use super::systems::{self, WriteError};
use super::{Flow, build, reference};
use crate::connectors::Connector;
use crate::handlers::{Context, Failed, Outcome, Verdict};
use crate::jobs::FlowRun;

use create::Made;
pub use dry::dry_run;

fn side_of(s: &str) -> Result<Side, Failed> {
    match s {
        "left" => Ok(Side::Left),
        "right" => Ok(Side::Right),
        other => Err(Failed::give_up(format!(
            "flow.run side `{other}` is not left or right"
        ))),
    }
}

/// One history entry under construction.
struct Entry<'a> {
    flow: &'a Flow,
    source: String,
    subject: String,
    at: i64,
}

impl Entry<'_> {
    fn make(
        &self,
        target: &str,
        decision: &str,
        reason: impl Into<String>,
        diffs: Value,
        api: (Option<i32>, Option<String>),
    ) -> HistoryEntry {
        HistoryEntry {
            at: self.at,
            flow: self.flow.row.id.clone(),
            source: self.source.clone(),
            target: target.to_owned(),
            decision: decision.to_owned(),
            reason: reason.into(),
            diffs: diffs.to_string(),
            api_status: api.0,
            api_message: api.1,
            subject: self.subject.clone(),
        }
    }
}

/// The history entry of an update of `side`'s record `id`: the fields and their diffs.
fn update_entry(
    entry: &Entry<'_>,
    spec: &SyncSpec,
    plan: &Plan,
    side: Side,
    id: &str,
    verb: &str,
) -> HistoryEntry {
    let fields: Vec<&str> = plan
        .diffs
        .iter()
        .filter(|d| d.side == side)
        .map(|d| d.field.as_str())
        .collect();
    entry.make(
        &reference(spec, side, id),
        "update",
        format!("{verb}: {}", fields.join(", ")),
        diffs_json(plan, side),
        (None, None),
    )
}

fn diffs_json(plan: &Plan, side: Side) -> Value {
    Value::Array(
        plan.diffs
            .iter()
            .filter(|d| d.side == side)
            .map(|d| json!({"field": d.field, "before": d.before, "after": d.after}))
            .collect(),
    )
}

/// How long a new record waits for its other side before it is created there.
const SETTLE: Duration = Duration::from_secs(5);

/// How long a create that may have been made already waits before it is looked
/// for again (GHL's search lags a few seconds behind writes).
const LOOK_AGAIN: Duration = Duration::from_secs(5);

/// How long a lock on a record is held at most (a dead worker's expires).
const LOCK_TTL: Duration = Duration::from_secs(60);

/// Runs one `flow.run` job.
pub async fn run(
    ctx: &Context,
    job: &FlowRun,
    attempt: i32,
    owner: &str,
) -> Result<Outcome, Failed> {
    let store = ctx.store();
    let record_ref = format!("flow:{}:{}:{}", job.flow, job.side, job.record);
    let Some(row) = store.flow(&job.flow).await? else {
        return Ok(Outcome::new(
            record_ref,
            Verdict::Skipped,
            format!("flow {} no longer exists", job.flow),
        ));
    };
    if !row.enabled {
        return Ok(Outcome::new(
            record_ref,
            Verdict::Skipped,
            format!("flow {} is disabled", job.flow),
        ));
    }
    let spec = build(&row).map_err(|e| Failed::give_up(e.to_string()))?;
    let flow = Flow { row, spec };
    let side = side_of(&job.side)?;
    let lock = format!("sync:{}:{}:{}", job.flow, job.side, job.record);
    if !store.try_lock(&lock, owner, LOCK_TTL).await? {
        return Err(Failed::new(
            store::Failure::Busy(Duration::from_secs(1)),
            format!("{record_ref} is being synced by another job"),
        ));
    }
    let result = Runner {
        ctx,
        flow: &flow,
        job,
        side,
        owner,
        attempt,
        dry: None,
    }
    .go()
    .await;
    store.unlock(&lock, owner).await?;
    result.map(|(verdict, detail)| {
        Outcome::new(reference(&flow.spec, side, &job.record), verdict, detail)
    })
}

struct Runner<'a> {
    ctx: &'a Context,
    flow: &'a Flow,
    job: &'a FlowRun,
    side: Side,
    owner: &'a str,
    attempt: i32,
    /// A dry run: decisions are collected here, nothing is written (remote or
    /// pairs, history, reviews).
    dry: Option<&'a std::sync::Mutex<Vec<HistoryEntry>>>,
}

fn parse<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}

impl Runner<'_> {
    fn store(&self) -> &Store {
        self.ctx.store()
    }

    /// Records decisions: in the history, or (dry run) in the plan.
    async fn note(&self, entries: Vec<HistoryEntry>) -> Result<(), StoreError> {
        match self.dry {
            Some(plan) => {
                plan.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(entries);
                Ok(())
            }
            None => self.store().append_history(&entries).await,
        }
    }

    /// Stores a pair with its history (dry run: only the history, in the plan).
    async fn keep(&self, pair: &PairRow, entries: Vec<HistoryEntry>) -> Result<(), StoreError> {
        match self.dry {
            Some(_) => self.note(entries).await,
            None => self.store().put_pair(pair, &entries).await,
        }
    }

    /// Opens a review (dry run: none; its number is 0).
    async fn review(
        &self,
        flow: &str,
        kind: &str,
        subject: &str,
        detail: &str,
    ) -> Result<i64, StoreError> {
        match self.dry {
            Some(_) => Ok(0),
            None => self.store().open_review(flow, kind, subject, detail).await,
        }
    }

    async fn open(&self, side: Side) -> Result<Connector, Failed> {
        Ok(self.ctx.connectors.open(self.flow.connection(side)).await?)
    }

    async fn go(&self) -> Result<(Verdict, String), Failed> {
        let (flow, spec, side, job) = (self.flow, &self.flow.spec, self.side, self.job);
        let fid = flow.row.id.as_str();
        let object = spec.object(side).name;
        let now = self.store().now();
        let mut entry = Entry {
            flow,
            source: reference(spec, side, &job.record),
            subject: String::new(),
            at: now,
        };

        // A child another flow of the same records linked (the other direction of
        // a one-way pair) is that flow's: nothing to read.
        if spec.parent.is_some()
            && !job.deleted
            && self
                .store()
                .pair(fid, side.as_str(), &job.record)
                .await?
                .is_none()
            && let Some(done) = self.sibling_skip(&mut entry).await?
        {
            return Ok(done);
        }
        // The version of the stored state a `known` job runs (its state is then
        // stored and indexed already).
        let mut stored_version = None;
        // The record: carried by its event, else read.
        let source = match &job.event {
            Some(event) => match self.store().event_body("ghl", event).await? {
                Some(body) => {
                    systems::ghl_webhook_contact(&serde_json::from_str(&body).unwrap_or_default())
                }
                None => return Err(Failed::give_up(format!("journal event {event} is missing"))),
            },
            None if job.deleted => Value::Null,
            None if job.known => match self
                .store()
                .record_state(&flow.row.id, side.as_str(), &job.record)
                .await?
            {
                Some((state, v)) => {
                    stored_version = Some(v);
                    serde_json::from_str(&state).unwrap_or(Value::Null)
                }
                None => {
                    return Err(Failed::give_up(format!(
                        "{} was never stored",
                        entry.source
                    )));
                }
            },
            None => {
                if let Some(done) = self.known_version(&mut entry).await? {
                    return Ok(done);
                }
                let conn = self.open(side).await?;
                let hint = self
                    .store()
                    .record_state(fid, side.as_str(), &job.record)
                    .await?
                    .and_then(|(s, _)| serde_json::from_str(&s).ok())
                    .unwrap_or(Value::Null);
                match systems::read(&conn, object, &job.record, &hint).await? {
                    Some(r) => r,
                    // A new record can answer 404 for a moment after it is made
                    // (Lofty): look again before believing it is gone.
                    None if self.attempt < 3 => {
                        return Err(Failed::new(
                            store::Failure::RetryAfter(Duration::from_secs(2)),
                            format!(
                                "{} answered 404; looking again in 2 s (it may be new)",
                                entry.source
                            ),
                        ));
                    }
                    None => {
                        let h = entry.make(
                            "",
                            "skip",
                            format!(
                                "{} is gone (404): deletes are handled by policy",
                                entry.source
                            ),
                            json!([]),
                            (Some(404), None),
                        );
                        self.note(vec![h]).await?;
                        return Ok((Verdict::Skipped, "the record is gone".to_owned()));
                    }
                }
            }
        };
        if job.deleted {
            return self.delete().await;
        }
        let version = job.version.or_else(|| systems::version_of(object, &source));
        // A child's keys hold its parent's id (see `sync::key_values`).
        let keys = sync::key_values(spec, side, &source);
        entry.subject = subject_of(&keys);
        if let Some(parent) = &spec.parent
            && let Some(p) = child::parent_id(parent, side, &source)
        {
            // A child's history is about its parent's person.
            entry.subject = self.parent_subject(parent, side, &p).await?;
        }
        // A run of the stored state itself (a review carried out, a dry run) has
        // nothing older to drop.
        // The stored state at the version the job was made for (a backfill's) is
        // stored and indexed as it is: nothing to write again.
        let restate =
            !(job.known && (job.version.is_none() || stored_version == Some(job.version)));
        if restate
            && !self
                .store()
                .put_record(
                    fid,
                    side.as_str(),
                    store::RecordPut {
                        id: job.record.clone(),
                        state: source.to_string(),
                        version,
                        keys: keys.clone(),
                    },
                )
                .await?
        {
            let h = entry.make(
                "",
                "skip",
                "an older version than one already synced",
                json!([]),
                (None, None),
            );
            self.note(vec![h]).await?;
            return Ok((
                Verdict::Skipped,
                "older than the version already known".to_owned(),
            ));
        }
        // The flow's [filter]: a record it leaves out is not synced (a linked one
        // keeps its link, and is synced again once it passes).
        let passes = spec.passes(side, &source);
        if passes != Ok(true) {
            let condition = spec.filter_source(side).unwrap_or_default();
            let why = match passes {
                Err(e) => format!("[filter] {side} could not be checked ({e}): not synced"),
                _ => format!("left out by the flow's [filter] {side} = \"{condition}\""),
            };
            let h = entry.make("", "skip", why.clone(), json!([]), (None, None));
            self.note(vec![h]).await?;
            return Ok((Verdict::Skipped, why));
        }

        match self.store().pair(fid, side.as_str(), &job.record).await? {
            Some(pair) => self.linked(&mut entry, pair, source, version).await,
            None => match &spec.parent {
                Some(parent) => self.child_unlinked(&mut entry, parent, source).await,
                None => self.unlinked(&mut entry, source, version, &keys).await,
            },
        }
    }

    /// A change older than the version the pair already knows costs no read: it is
    /// dropped. `None`: the record must be read.
    ///
    /// A change in the same second as the version known, or later, is read: Lofty
    /// answers a write with the id only and its reads give `lastUpdateTime` in whole
    /// seconds, while a delivery's `updateTime` has milliseconds and a batch keeps
    /// only a lead's latest change, so our write's echo and someone's change made
    /// in that second after it look the same (taking the second alone for the echo
    /// lost edits in the loop test). Read, its values tell an echo (what we
    /// wrote) from a change.
    async fn known_version(
        &self,
        entry: &mut Entry<'_>,
    ) -> Result<Option<(Verdict, String)>, Failed> {
        let (side, job) = (self.side, self.job);
        let Some(v) = job.version else {
            return Ok(None);
        };
        let Some(pair) = self
            .store()
            .pair(&self.flow.row.id, side.as_str(), &job.record)
            .await?
        else {
            return Ok(None);
        };
        let (state, known) = match side {
            Side::Left => (&pair.left_state, pair.left_version),
            Side::Right => (&pair.right_state, pair.right_version),
        };
        let Some(known) = known else {
            return Ok(None);
        };
        let state: Value = serde_json::from_str(state).unwrap_or(Value::Null);
        entry.subject = subject_of(&sync::key_values(&self.flow.spec, side, &state));
        let (v_s, known_s) = (v.div_euclid(1000), known.div_euclid(1000));
        let target = reference(
            &self.flow.spec,
            side.other(),
            match side {
                Side::Left => &pair.right_id,
                Side::Right => &pair.left_id,
            },
        );
        if v_s < known_s {
            let h = entry.make(
                &target,
                "skip",
                "an older version than one already synced",
                json!([]),
                (None, None),
            );
            self.note(vec![h]).await?;
            return Ok(Some((
                Verdict::Skipped,
                "older than the version already known".to_owned(),
            )));
        }
        Ok(None)
    }

    async fn linked(
        &self,
        entry: &mut Entry<'_>,
        pair: PairRow,
        source: Value,
        version: Option<i64>,
    ) -> Result<(Verdict, String), Failed> {
        let (spec, side) = (&self.flow.spec, self.side);
        let other_side = side.other();
        let other_id = match other_side {
            Side::Left => pair.left_id.clone(),
            Side::Right => pair.right_id.clone(),
        };
        let target = reference(spec, other_side, &other_id);
        let written = match side {
            Side::Left => pair.left_written.clone(),
            Side::Right => pair.right_written.clone(),
        };
        let fingerprint = sync::fingerprint(spec, side, &source);
        let mut pair = pair;
        set_state(&mut pair, side, &source, version);
        if written.as_deref() == Some(fingerprint.as_str()) {
            let h = entry.make(
                &target,
                "echo",
                "our own write coming back: its values are what we wrote",
                json!([]),
                (None, None),
            );
            self.keep(&pair, vec![h]).await?;
            return Ok((Verdict::Skipped, "echo of our own write".to_owned()));
        }
        let shadow: Shadow = parse(&pair.shadow);
        let mut other: Value = serde_json::from_str(match other_side {
            Side::Left => &pair.left_state,
            Side::Right => &pair.right_state,
        })
        .unwrap_or(Value::Null);
        // About to write a side whose API is cheap to read (not GHL, whose reads
        // the budget keeps for writes): read it first, so a change made there since
        // its last event is a conflict decided by the rules, not overwritten.
        let other_object = spec.object(other_side).name;
        if !other_object.starts_with("ghl.") && self.dry.is_none() {
            let (l, r) = match side {
                Side::Left => (&source, &other),
                Side::Right => (&other, &source),
            };
            let first = sync::plan(spec, l, r, Some(&shadow), Versions::default());
            if !first.patch(other_side).is_empty() {
                let conn = self.open(other_side).await?;
                if let Some(fresh) = systems::read(&conn, other_object, &other_id, &other).await? {
                    let fresh_version = systems::version_of(other_object, &fresh);
                    set_state(&mut pair, other_side, &fresh, fresh_version);
                    other = fresh;
                }
            }
        }
        let versions = match side {
            Side::Left => Versions {
                left: version,
                right: pair.right_version,
            },
            Side::Right => Versions {
                left: pair.left_version,
                right: version,
            },
        };
        let (left, right) = match side {
            Side::Left => (&source, &other),
            Side::Right => (&other, &source),
        };
        let plan = sync::plan(spec, left, right, Some(&shadow), versions);
        self.act(entry, pair, plan, side, &source, &other, other_id, false)
            .await
    }

    async fn unlinked(
        &self,
        entry: &mut Entry<'_>,
        source: Value,
        version: Option<i64>,
        keys: &[(String, String)],
    ) -> Result<(Verdict, String), Failed> {
        let fid = self.flow.row.id.as_str();
        // One new person is handled by one job at a time, whichever side it came from.
        let mut locks: Vec<String> = keys
            .iter()
            .map(|(k, v)| format!("sync:{fid}:key:{k}:{v}"))
            .collect();
        locks.sort();
        let mut held: Vec<String> = Vec::new();
        for l in &locks {
            if !self.store().try_lock(l, self.owner, LOCK_TTL).await? {
                for h in &held {
                    self.store().unlock(h, self.owner).await?;
                }
                return Err(Failed::new(
                    store::Failure::Busy(Duration::from_secs(1)),
                    "another job is matching the same person",
                ));
            }
            held.push(l.to_owned());
        }
        let result = self.unlinked_locked(entry, source, version, keys).await;
        for h in &held {
            self.store().unlock(h, self.owner).await?;
        }
        result
    }

    async fn unlinked_locked(
        &self,
        entry: &mut Entry<'_>,
        source: Value,
        version: Option<i64>,
        keys: &[(String, String)],
    ) -> Result<(Verdict, String), Failed> {
        let (flow, spec, side, job) = (self.flow, &self.flow.spec, self.side, self.job);
        let fid = flow.row.id.as_str();
        let other_side = side.other();
        // A job that waited for the lock may find the pair made meanwhile.
        if let Some(pair) = self.store().pair(fid, side.as_str(), &job.record).await? {
            return self.linked(entry, pair, source, version).await;
        }
        let mut candidates: Vec<(String, Vec<String>)> = Vec::new();
        for k in &spec.keys {
            let mut ids = Vec::new();
            for (_, v) in keys.iter().filter(|(n, _)| n == &k.name) {
                ids.extend(
                    self.store()
                        .find_by_key(fid, other_side.as_str(), &k.name, v)
                        .await?,
                );
            }
            candidates.push((k.name.clone(), ids));
        }
        match sync::decide(&candidates) {
            MatchOutcome::Ambiguous { ids, key } => {
                let detail = json!({"record": entry.source, "candidates": ids.iter().map(|i| reference(spec, other_side, i)).collect::<Vec<_>>(), "key": key});
                let id = self
                    .review(fid, "match", &entry.subject, &detail.to_string())
                    .await?;
                let h = entry.make("", "review", format!("{} records on the other side share its {key}: review #{id} (never a guess)", ids.len()), json!([]), (None, None));
                self.note(vec![h]).await?;
                Ok((
                    Verdict::Skipped,
                    format!("ambiguous match by {key}: review #{id}"),
                ))
            }
            MatchOutcome::One { id, key } => {
                if let Some(existing) = self.store().pair(fid, other_side.as_str(), &id).await? {
                    let partner = match side {
                        Side::Left => &existing.left_id,
                        Side::Right => &existing.right_id,
                    };
                    if partner == &job.record {
                        // Linked to this very record meanwhile.
                        return self.linked(entry, existing, source, version).await;
                    }
                    let detail = json!({"record": entry.source, "candidates": [reference(spec, other_side, &id)], "key": key, "why": "already linked to another record"});
                    let rid = self
                        .review(fid, "match", &entry.subject, &detail.to_string())
                        .await?;
                    let h = entry.make(
                        &reference(spec, other_side, &id),
                        "review",
                        format!(
                            "matches by {key} a record already linked to another: review #{rid}"
                        ),
                        json!([]),
                        (None, None),
                    );
                    self.note(vec![h]).await?;
                    return Ok((
                        Verdict::Skipped,
                        format!("match already linked: review #{rid}"),
                    ));
                }
                let other = match self
                    .store()
                    .record_state(fid, other_side.as_str(), &id)
                    .await?
                {
                    Some((state, _)) => serde_json::from_str(&state).unwrap_or(Value::Null),
                    None => {
                        let conn = self.open(other_side).await?;
                        systems::read(&conn, spec.object(other_side).name, &id, &Value::Null)
                            .await?
                            .unwrap_or(Value::Null)
                    }
                };
                let other_version = systems::version_of(spec.object(other_side).name, &other);
                let (left, right, versions) = match side {
                    Side::Left => (
                        &source,
                        &other,
                        Versions {
                            left: version,
                            right: other_version,
                        },
                    ),
                    Side::Right => (
                        &other,
                        &source,
                        Versions {
                            left: other_version,
                            right: version,
                        },
                    ),
                };
                let plan = sync::plan(spec, left, right, None, versions);
                let mut pair = new_pair(fid, side, &job.record, &id);
                set_state(&mut pair, side, &source, version);
                set_state(&mut pair, other_side, &other, other_version);
                self.act(entry, pair, plan, side, &source, &other, id, false)
                    .await
            }
            MatchOutcome::None => match if job.create {
                OnNone::Create
            } else {
                spec.on_none
            } {
                OnNone::Skip => {
                    let h = entry.make(
                        "",
                        "skip",
                        "no match on the other side (on_none = skip)",
                        json!([]),
                        (None, None),
                    );
                    self.note(vec![h]).await?;
                    Ok((Verdict::Skipped, "no match; on_none = skip".to_owned()))
                }
                OnNone::Review => {
                    let detail = json!({"record": entry.source, "why": "no match"});
                    let id = self
                        .review(fid, "match", &entry.subject, &detail.to_string())
                        .await?;
                    let h = entry.make(
                        "",
                        "review",
                        format!("no match on the other side (on_none = review): review #{id}"),
                        json!([]),
                        (None, None),
                    );
                    self.note(vec![h]).await?;
                    Ok((Verdict::Skipped, format!("no match: review #{id}")))
                }
                // A new person seen on one side may be arriving on the other side
                // too (made in both at once, its event not here yet): wait once
                // before creating, so its record can be indexed and matched. A
                // backfill has indexed both sides already.
                OnNone::Create
                    if (!job.known || job.settle) && self.dry.is_none() && self.attempt <= 1 =>
                {
                    Err(Failed::new(
                        store::Failure::RetryAfter(SETTLE),
                        format!(
                            "{}: no match yet; looking again in {} s before creating (its other side may be on its way)",
                            entry.source,
                            SETTLE.as_secs()
                        ),
                    ))
                }
                OnNone::Create => {
                    let plan = self.create_plan(&source);
                    self.create(entry, source, plan).await
                }
            },
        }
    }

    /// The plan that makes `source` on the other side: a merge against nothing.
    fn create_plan(&self, source: &Value) -> Plan {
        let (left, right) = match self.side {
            Side::Left => (source, &Value::Null),
            Side::Right => (&Value::Null, source),
        };
        sync::plan(&self.flow.spec, left, right, None, Versions::default())
    }

    /// Creates the other side of `source` from `plan` (see [`Self::create_plan`])
    /// and links the two.
    async fn create(
        &self,
        entry: &mut Entry<'_>,
        source: Value,
        plan: Plan,
    ) -> Result<(Verdict, String), Failed> {
        let pair = new_pair(&self.flow.row.id, self.side, &self.job.record, "");
        self.act(
            entry,
            pair,
            plan,
            self.side,
            &source,
            &Value::Null,
            String::new(),
            true,
        )
        .await
    }

    /// Carries out a plan: writes the other side (creating it when `create`), then
    /// stores the pair, its shadow and states, and the history, together.
    #[allow(clippy::too_many_arguments)]
    async fn act(
        &self,
        entry: &mut Entry<'_>,
        mut pair: PairRow,
        plan: Plan,
        side: Side,
        source: &Value,
        other: &Value,
        mut other_id: String,
        create: bool,
    ) -> Result<(Verdict, String), Failed> {
        let spec = &self.flow.spec;
        let other_side = side.other();
        let object = spec.object(other_side).name;
        let mut history = Vec::new();
        if let Some(why) = &plan.failed {
            let h = entry.make("", "failed", why.clone(), json!([]), (None, None));
            self.note(vec![h]).await?;
            return Err(Failed::give_up(why.clone()));
        }
        for c in &plan.conflicts {
            history.push(entry.make(
                &reference(spec, other_side, &other_id),
                if c.winner.is_some() {
                    "conflict"
                } else {
                    "review"
                },
                format!(
                    "`{}` changed on both sides; rule {:?}: {}",
                    c.field,
                    c.rule,
                    c.winner.map_or("a person decides".to_owned(), |w| format!("{w} wins"))
                ),
                json!([{"field": c.field, "left": c.left, "right": c.right}]),
                (None, None),
            ));
        }
        if !plan.review.is_empty() {
            let detail =
                json!({"record": entry.source, "fields": plan.review, "conflicts": plan.conflicts});
            self.review(
                &self.flow.row.id,
                "conflict",
                &entry.subject,
                &detail.to_string(),
            )
            .await?;
        }
        for (field, why) in &plan.skipped {
            history.push(entry.make(
                &reference(spec, other_side, &other_id),
                "skip",
                format!("`{field}` not written: {why}"),
                json!([]),
                (None, None),
            ));
        }
        let mut patch = plan.patch(other_side).clone();
        let mut other_state = other.clone();
        if create && patch.is_empty() {
            let h = entry.make(
                "",
                "skip",
                "nothing to create from: no mapped field has a value",
                json!([]),
                (None, None),
            );
            self.note(vec![h]).await?;
            return Ok((Verdict::Skipped, "nothing to create".to_owned()));
        }
        if create {
            // What every record this flow makes there gets (a GHL appointment's
            // calendar), unless mapped.
            for (k, v) in spec.create_values(other_side) {
                patch
                    .entry(k.clone())
                    .or_insert_with(|| Value::String(v.clone()));
            }
        }
        // What the other system would refuse for good (Lofty: an appointment in
        // the past) is a skip with its reason, not a call that fails again.
        if let Some(why) = systems::refuses(object, &patch, create, self.store().now()) {
            let target = if create {
                String::new()
            } else {
                reference(spec, other_side, &other_id)
            };
            history.push(entry.make(&target, "skip", why.clone(), json!([]), (None, None)));
            self.note(history).await?;
            return Ok((Verdict::Skipped, why));
        }
        if create {
            if self.dry.is_some() {
                let h = entry.make(
                    &format!("{}:(new)", spec.object(other_side).name.replace('.', ":")),
                    "create",
                    format!("no {} matched; would create", spec.object(other_side).name),
                    diffs_json(&plan, other_side),
                    (None, None),
                );
                history.push(h);
                self.note(history).await?;
                return Ok((Verdict::Skipped, "dry run".to_owned()));
            }
            match self.create_other(entry, &patch).await? {
                Made::Settled(done) => return Ok(done),
                Made::Record(id, state) => {
                    other_id = id;
                    other_state = state;
                    let target = reference(spec, other_side, &other_id);
                    history.push(entry.make(
                        &target,
                        "create",
                        format!("no {} matched; created", spec.object(other_side).name),
                        diffs_json(&plan, other_side),
                        (None, None),
                    ));
                }
            }
        } else if !patch.is_empty() && self.dry.is_some() {
            history.push(update_entry(
                entry,
                spec,
                &plan,
                other_side,
                &other_id,
                "would change",
            ));
            self.note(history).await?;
            return Ok((Verdict::Skipped, "dry run".to_owned()));
        } else if !patch.is_empty() {
            let conn = self.open(other_side).await?;
            match systems::update(&conn, object, &other_id, other, patch.clone()).await {
                Ok(state) => {
                    other_state = state;
                    history.push(update_entry(
                        entry, spec, &plan, other_side, &other_id, "changed",
                    ));
                }
                Err(e) => return Err(self.failed(entry, &e).await?),
            }
        } else if plan.conflicts.is_empty() {
            history.push(entry.make(
                &reference(spec, other_side, &other_id),
                "skip",
                "no mapped field differs from the last sync",
                json!([]),
                (None, None),
            ));
        }
        // Writes back to the source side (set-valued fields that gained items).
        let mut source_state = source.clone();
        let mut back_version = None;
        let back = plan.patch(side).clone();
        if self.dry.is_some() {
            self.note(history).await?;
            return Ok((Verdict::Skipped, "dry run".to_owned()));
        }
        if !back.is_empty() {
            let conn = self.open(side).await?;
            match systems::update(
                &conn,
                spec.object(side).name,
                &self.job.record,
                source,
                back.clone(),
            )
            .await
            {
                Ok(state) => {
                    source_state = state;
                    let (fp, v) = after_write(spec, side, source, &back, &source_state);
                    set_written(&mut pair, side, fp);
                    back_version = v;
                    history.push(entry.make(
                        &entry.source.clone(),
                        "update",
                        format!(
                                "changed: {}",
                                plan.diffs
                                    .iter()
                                    .filter(|d| d.side == side)
                                    .map(|d| d.field.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        diffs_json(&plan, side),
                        (None, None),
                    ));
                }
                Err(e) => return Err(self.failed(entry, &e).await?),
            }
        }
        match other_side {
            Side::Left => pair.left_id = other_id.clone(),
            Side::Right => pair.right_id = other_id.clone(),
        }
        let source_version = back_version
            .or(self.job.version)
            .or(get_version(&pair, side));
        set_state(&mut pair, side, &source_state, source_version);
        if back_version.is_some() {
            self.store()
                .put_record_state(
                    &self.flow.row.id,
                    side.as_str(),
                    &self.job.record,
                    &source_state.to_string(),
                    back_version,
                )
                .await?;
        }
        // What our write produced (GHL answers with the contact and its new
        // dateUpdated): a late event older than it is then recognised as older and
        // dropped. Lofty answers with the id only: what we wrote is what its echo
        // must equal.
        let mut foreign = false;
        let other_version = if create || !patch.is_empty() {
            let (fp, v) = after_write(spec, other_side, other, &patch, &other_state);
            // GHL answers with the whole contact: a mapped field we did not write
            // that differs from what we knew was changed in GHL after its last event
            // reached us. That change is this answer's now (its late webhook is
            // older and dropped), so it is run from here: the echo must equal what
            // we meant to write, not the answer.
            foreign = !create
                && systems::answers_with_record(object)
                && spec.fields.iter().any(|f| {
                    let p = f.path(other_side);
                    !patch.contains_key(p.root())
                        && !sync::value::same(
                            &p.get(other),
                            &p.get(&other_state),
                            f.array != sync::ArrayMode::Replace,
                        )
                });
            if foreign {
                let mut intended = other.as_object().cloned().unwrap_or_default();
                intended.extend(patch.clone());
                set_written(
                    &mut pair,
                    other_side,
                    sync::fingerprint(spec, other_side, &Value::Object(intended)),
                );
            } else {
                set_written(&mut pair, other_side, fp);
            }
            v.or(get_version(&pair, other_side))
        } else {
            systems::version_of(object, &other_state).or(get_version(&pair, other_side))
        };
        set_state(&mut pair, other_side, &other_state, other_version);
        // A pair made now (created, or first matched) has no shadow yet.
        let first_link = pair.shadow == "{}";
        pair.shadow = serde_json::to_string(&plan.shadow).unwrap_or_default();
        let fid = &self.flow.row.id;
        let other_keys = sync::key_values(spec, other_side, &other_state);
        self.store()
            .put_record(
                fid,
                other_side.as_str(),
                store::RecordPut {
                    id: other_id.clone(),
                    state: other_state.to_string(),
                    version: other_version,
                    keys: other_keys,
                },
            )
            .await?;
        self.keep(&pair, history.clone()).await?;
        if foreign && self.dry.is_none() {
            let run = FlowRun::known(
                &self.flow.row.id,
                other_side.as_str(),
                &other_id,
                other_version,
            );
            self.store()
                .enqueue_many(&[crate::jobs::Job::from(run).into_new_job()])
                .await?;
        }
        if create {
            self.store().delete_cursor(&self.create_marker()).await?;
        }
        if first_link {
            self.wake_children(&pair).await?;
        }
        let verdict = if create || !patch.is_empty() {
            Verdict::Ok
        } else {
            Verdict::Skipped
        };
        let detail = history
            .last()
            .map(|h| format!("{}: {}", h.decision, h.reason))
            .unwrap_or_default();
        Ok((verdict, detail))
    }

    async fn failed(&self, entry: &Entry<'_>, e: &WriteError) -> Result<Failed, Failed> {
        let h = entry.make("", "failed", e.to_string(), json!([]), e.api());
        self.note(vec![h]).await?;
        Ok(match e {
            // The write may have been applied: a sync write is safe to run again (an
            // update plans from a fresh read; a create's marker makes the next attempt
            // look for what this one made before it creates).
            WriteError::Connector(c) if c.answer_broke_off() => Failed::retry(format!(
                "{c}: the write may have been applied; run again, looking for it first"
            )),
            WriteError::Connector(c) => Failed::of(c),
            WriteError::Duplicate(_) => Failed::retry(e.to_string()),
            WriteError::Conflict(m) => Failed::new(
                store::Failure::RetryAfter(Duration::from_secs(1)),
                m.clone(),
            ),
        })
    }
}

/// Who a record is about in the history: its normalised email, when it has one.
fn subject_of(keys: &[(String, String)]) -> String {
    keys.iter()
        .find(|(k, _)| k == "email")
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// After a write of `patch` to `side`'s record (`before` it, `state` after): the
/// fingerprint its echo must equal, and the version the write produced when that
/// is known to be ours. A system that answers a write with the record (GHL) gives
/// both. Otherwise (Lofty) the state is `before` with the patch applied, and its
/// version is not known.
fn after_write(
    spec: &SyncSpec,
    side: Side,
    before: &Value,
    patch: &serde_json::Map<String, Value>,
    state: &Value,
) -> (String, Option<i64>) {
    let object = spec.object(side).name;
    let got = sync::fingerprint(spec, side, state);
    let mut intended = before.as_object().cloned().unwrap_or_default();
    intended.extend(patch.clone());
    let intended = sync::fingerprint(spec, side, &Value::Object(intended));
    if systems::answers_with_record(object) || got == intended {
        (got, systems::version_of(object, state))
    } else {
        (intended, None)
    }
}

fn new_pair(flow: &str, side: Side, id: &str, other: &str) -> PairRow {
    let (left_id, right_id) = match side {
        Side::Left => (id, other),
        Side::Right => (other, id),
    };
    PairRow {
        flow_id: flow.to_owned(),
        left_id: left_id.to_owned(),
        right_id: right_id.to_owned(),
        shadow: "{}".to_owned(),
        left_state: "null".to_owned(),
        right_state: "null".to_owned(),
        left_version: None,
        right_version: None,
        left_written: None,
        right_written: None,
    }
}

fn set_state(pair: &mut PairRow, side: Side, state: &Value, version: Option<i64>) {
    match side {
        Side::Left => {
            pair.left_state = state.to_string();
            pair.left_version = version.or(pair.left_version);
        }
        Side::Right => {
            pair.right_state = state.to_string();
            pair.right_version = version.or(pair.right_version);
        }
    }
}

fn get_version(pair: &PairRow, side: Side) -> Option<i64> {
    match side {
        Side::Left => pair.left_version,
        Side::Right => pair.right_version,
    }
}

fn set_written(pair: &mut PairRow, side: Side, fp: String) {
    match side {
        Side::Left => pair.left_written = Some(fp),
        Side::Right => pair.right_written = Some(fp),
    }
}
