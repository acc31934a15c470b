//! Children (tasks, notes): a record of a sync with a `[parent]` is synced only
//! once its parent is linked by the parent flow, and is created on the other side
//! under the parent's partner. One that arrives first waits: it is indexed under
//! its parent's id, and the parent's first link wakes it (never dropped, never a
//! parent of its own).

use domain::sync::{self, Parent, Side};
use serde_json::{Value, json};
use store::PairRow;

use super::{Entry, Runner};
use crate::handlers::{Failed, Verdict};
use crate::jobs::{FlowRun, Job};
use crate::sync::enabled_flows;

pub(super) use domain::sync::PARENT_KEY;

/// The parent id a child record names on `side`.
pub(super) fn parent_id(parent: &Parent, side: Side, record: &Value) -> Option<String> {
    match parent.path(side).get(record) {
        Value::String(s) if !s.is_empty() => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Runner<'_> {
    /// Who a child's parent is about (its email), from what the parent flow knows.
    pub(super) async fn parent_subject(
        &self,
        parent: &Parent,
        side: Side,
        parent_id: &str,
    ) -> Result<String, Failed> {
        let store = self.store();
        let Some(row) = store.flow(&parent.flow).await? else {
            return Ok(String::new());
        };
        let Ok(spec) = crate::sync::build(&row) else {
            return Ok(String::new());
        };
        let Some((state, _)) = store
            .record_state(&parent.flow, side.as_str(), parent_id)
            .await?
        else {
            return Ok(String::new());
        };
        let state: Value = serde_json::from_str(&state).unwrap_or(Value::Null);
        Ok(super::subject_of(&sync::key_values(&spec, side, &state)))
    }

    /// A child not linked yet: created under its parent's partner, or waiting.
    pub(super) async fn child_unlinked(
        &self,
        entry: &mut Entry<'_>,
        parent: &Parent,
        source: Value,
    ) -> Result<(Verdict, String), Failed> {
        let (spec, side) = (&self.flow.spec, self.side);
        let other_side = side.other();
        if crate::sync::systems::is_continuation(spec.object(side).name, &source) {
            let h = entry.make(
                "",
                "skip",
                "a further part of a longer note (its first part is the one linked)",
                json!([]),
                (None, None),
            );
            self.note(vec![h]).await?;
            return Ok((Verdict::Skipped, "part of a longer note".to_owned()));
        }
        let Some(parent_id) = parent_id(parent, side, &source) else {
            let h = entry.make(
                "",
                "skip",
                format!("names no parent (`{}` is blank)", parent.path(side)),
                json!([]),
                (None, None),
            );
            self.note(vec![h]).await?;
            return Ok((Verdict::Skipped, "no parent".to_owned()));
        };
        let parent_ref = format!("{}:{}", parent.flow, parent_id);
        let Some(link) = self
            .store()
            .pair(&parent.flow, side.as_str(), &parent_id)
            .await?
        else {
            let h = entry.make(
                "",
                "wait",
                format!(
                    "its parent {parent_ref} is not linked yet: it is synced when the parent is"
                ),
                json!([]),
                (None, None),
            );
            self.note(vec![h]).await?;
            return Ok((
                Verdict::Skipped,
                format!("waiting for its parent {parent_ref} to be linked"),
            ));
        };
        let partner = match other_side {
            Side::Left => link.left_id,
            Side::Right => link.right_id,
        };
        // The other side creates nothing (Lytho): attach to a record it has.
        let other_object = spec.object(other_side).name;
        if parent.attach.is_some()
            && crate::sync::systems::refuses(other_object, &Default::default(), true, 0).is_some()
        {
            return self.attach(entry, &partner, source).await;
        }
        let mut plan = self.create_plan(&source);
        // Made under the parent's partner (nothing to make when nothing mapped has a
        // value: act() records that skip).
        if !plan.patch(other_side).is_empty() {
            let target = match other_side {
                Side::Left => &mut plan.left,
                Side::Right => &mut plan.right,
            };
            target.insert(
                parent.path(other_side).root().to_owned(),
                Value::String(partner.clone()),
            );
            // A Lytho note goes in the description of the person's newest open task.
            if other_object == "lytho.note" {
                let Some(item) = self.note_item(&partner).await? else {
                    let why = "a GHL note goes in the description of the person's newest open Lytho task, and there is none (is lytho-ghl-tasks or ghl-lytho-tasks on?): it is written at its next change once there is".to_owned();
                    let h = entry.make("", "skip", why.clone(), json!([]), (None, None));
                    self.note(vec![h]).await?;
                    return Ok((Verdict::Skipped, why));
                };
                target.insert("itemType".to_owned(), Value::String("task".to_owned()));
                target.insert(
                    "itemId".to_owned(),
                    item.parse::<i64>().map_or(Value::String(item), Value::from),
                );
            }
        }
        self.create(entry, source, plan).await
    }

    /// `[parent] attach = "newest_open"`: links the child to the newest open
    /// record of the other side under the parent's partner that this flow has not
    /// linked, then syncs it as a linked pair (its mapped fields written there).
    async fn attach(
        &self,
        entry: &mut Entry<'_>,
        partner: &str,
        source: Value,
    ) -> Result<(Verdict, String), Failed> {
        let store = self.store();
        let (fid, side) = (self.flow.row.id.as_str(), self.side);
        let other_side = side.other();
        let other_object = self.flow.spec.object(other_side).name;
        let best = newest_open(store, fid, other_side, other_object, partner, true).await?;
        let Some((version, target, state)) = best else {
            let why = format!(
                "{other_object} cannot be created, and its parent's partner has no open {other_object} left to attach to: it is attached at its next change once one is there"
            );
            let h = entry.make("", "skip", why.clone(), json!([]), (None, None));
            self.note(vec![h]).await?;
            return Ok((Verdict::Skipped, why));
        };
        let mut pair = super::new_pair(fid, side, &self.job.record, &target);
        super::set_state(&mut pair, other_side, &state, Some(version));
        let reference = crate::sync::reference(&self.flow.spec, other_side, &target);
        let h = entry.make(
            &reference,
            "link",
            format!("attached to {reference}, the newest open {other_object} under the parent's partner ({other_object} cannot be created)"),
            json!([]),
            (None, None),
        );
        store.put_pair(&pair, &[h]).await?;
        let own = crate::sync::systems::version_of(self.flow.spec.object(side).name, &source);
        self.linked(entry, pair, source, own).await
    }

    /// Where a new Lytho note goes: the newest open Lytho task of the parent's
    /// partner (the person), as an enabled flow that syncs Lytho tasks on the
    /// same connection knows them (`lytho-ghl-tasks`). `None`: there is none.
    async fn note_item(&self, partner: &str) -> Result<Option<String>, Failed> {
        let store = self.store();
        let conn = self.flow.connection(self.side.other());
        let mut best: Option<(i64, String)> = None;
        for other in enabled_flows(store).await? {
            for side in [Side::Left, Side::Right] {
                if other.spec.object(side).name != "lytho.task" || other.connection(side) != conn {
                    continue;
                }
                if let Some((v, id, _)) =
                    newest_open(store, &other.row.id, side, "lytho.task", partner, false).await?
                    && best.as_ref().is_none_or(|(b, _)| v > *b)
                {
                    best = Some((v, id));
                }
            }
        }
        Ok(best.map(|(_, id)| id))
    }

    /// A child record this flow has not linked that a sibling flow has (see
    /// [`Self::sibling_owner`]): skipped before it is read.
    pub(super) async fn sibling_skip(
        &self,
        entry: &mut Entry<'_>,
    ) -> Result<Option<(Verdict, String)>, Failed> {
        let Some(owner) = self.sibling_owner().await? else {
            return Ok(None);
        };
        let h = entry.make(
            "",
            "skip",
            format!(
                "linked by flow `{owner}`, which syncs the same records the other way: it came from there"
            ),
            json!([]),
            (None, None),
        );
        self.note(vec![h]).await?;
        Ok(Some((Verdict::Skipped, format!("synced by {owner}"))))
    }

    /// Another enabled flow that has this record linked and must not have it
    /// copied back:
    /// - one over the same two object types (the other direction of a one-way
    ///   pair such as `ghl-lofty-appointments` and `lofty-ghl-appointments`): the
    ///   record was made by it, or made its partner;
    /// - one that links it to the same other system and may have made it here
    ///   (it writes this side, and this side's records can be created): a GHL
    ///   note `lytho-ghl-comments` made from a Lytho comment is not written back
    ///   into Lytho by `ghl-lytho-notes`.
    async fn sibling_owner(&self) -> Result<Option<String>, Failed> {
        let store = self.store();
        let spec = &self.flow.spec;
        let mine = self.spec_object();
        let system = |object: &str| object.split('.').next().unwrap_or_default().to_owned();
        let ours_across = spec.object(self.side.other()).name;
        let we_write = crate::sync::enable::writes_to(spec, self.side.other());
        let creatable = crate::sync::systems::refuses(mine, &Default::default(), true, 0).is_none();
        for other in enabled_flows(store).await? {
            if other.row.id == self.flow.row.id {
                continue;
            }
            let (l, r) = (other.spec.left.name, other.spec.right.name);
            let side = if (l, r) == (spec.left.name, spec.right.name) {
                self.side
            } else if (r, l) == (spec.left.name, spec.right.name) {
                self.side.other()
            } else {
                // The same records here, linked to the same other system.
                let Some(side) = [Side::Left, Side::Right].into_iter().find(|s| {
                    other.spec.object(*s).name == mine
                        && other.connection(*s) == self.flow.connection(self.side)
                }) else {
                    continue;
                };
                let made_here = crate::sync::enable::writes_to(&other.spec, side) && creatable;
                if !(we_write
                    && made_here
                    && system(other.spec.object(side.other()).name) == system(ours_across))
                {
                    continue;
                }
                side
            };
            debug_assert_eq!(other.spec.object(side).name, mine);
            if store
                .pair(&other.row.id, side.as_str(), &self.job.record)
                .await?
                .is_some()
            {
                return Ok(Some(other.row.id.clone()));
            }
        }
        Ok(None)
    }

    fn spec_object(&self) -> &'static str {
        self.flow.spec.object(self.side).name
    }

    /// After a record of this flow on `side` was deleted and unlinked: the
    /// linked children under it (in the flows whose parent this flow is) are run
    /// as deleted on the same side, so each follows its flow's delete policy
    /// (unlink by default) instead of keeping a link to a parent that is gone.
    pub(super) async fn release_children(&self, side: Side, parent: &str) -> Result<(), Failed> {
        let store = self.store();
        let mut jobs = Vec::new();
        for child in enabled_flows(store).await? {
            if child
                .spec
                .parent
                .as_ref()
                .is_none_or(|p| p.flow != self.flow.row.id)
            {
                continue;
            }
            for record in store
                .find_by_key(&child.row.id, side.as_str(), PARENT_KEY, parent)
                .await?
            {
                if store
                    .pair(&child.row.id, side.as_str(), &record)
                    .await?
                    .is_some()
                {
                    let mut run = FlowRun::known(&child.row.id, side.as_str(), &record, None);
                    run.known = false;
                    run.deleted = true;
                    jobs.push(Job::from(run).into_new_job());
                }
            }
        }
        store.enqueue_many(&jobs).await?;
        Ok(())
    }

    /// After `pair` of this flow was first linked: the children waiting for it (in
    /// the flows whose parent this flow is) are run again from what was stored.
    pub(super) async fn wake_children(&self, pair: &PairRow) -> Result<(), Failed> {
        let store = self.store();
        let mut jobs = Vec::new();
        for child in enabled_flows(store).await? {
            let Some(parent) = &child.spec.parent else {
                continue;
            };
            if parent.flow != self.flow.row.id {
                continue;
            }
            for (side, id) in [(Side::Left, &pair.left_id), (Side::Right, &pair.right_id)] {
                for record in store
                    .find_by_key(&child.row.id, side.as_str(), PARENT_KEY, id)
                    .await?
                {
                    if store
                        .pair(&child.row.id, side.as_str(), &record)
                        .await?
                        .is_none()
                    {
                        let run = FlowRun::known(&child.row.id, side.as_str(), &record, None);
                        jobs.push(Job::from(run).into_new_job());
                    }
                }
            }
        }
        store.enqueue_many(&jobs).await?;
        Ok(())
    }
}

/// The newest open record (by version) of `object` indexed under `partner` on
/// `side` of flow `fid`: `unlinked` only those the flow has not linked.
async fn newest_open(
    store: &store::Store,
    fid: &str,
    side: Side,
    object: &str,
    partner: &str,
    unlinked: bool,
) -> Result<Option<(i64, String, Value)>, Failed> {
    let mut best: Option<(i64, String, Value)> = None;
    for id in store
        .find_by_key(fid, side.as_str(), PARENT_KEY, partner)
        .await?
    {
        if unlinked && store.pair(fid, side.as_str(), &id).await?.is_some() {
            continue;
        }
        let Some((state, version)) = store.record_state(fid, side.as_str(), &id).await? else {
            continue;
        };
        let state: Value = serde_json::from_str(&state).unwrap_or(Value::Null);
        if !crate::sync::systems::is_open(object, &state) {
            continue;
        }
        let v = version.unwrap_or(0);
        if best.as_ref().is_none_or(|(b, _, _)| v > *b) {
            best = Some((v, id, state));
        }
    }
    Ok(best)
}
