//! The decision for one linked pair: field by field, three-way against the shadow
//! (the values both sides had when they were last in sync).
//!
//! For each field: a side *changed* when what it would write across differs from
//! what its shadow value would (so a change the other side cannot see, such as a
//! reformatted phone, is no change). Changed on one side only: that side's value is
//! written to the other. Changed on both: the field's conflict rule decides, and the
//! conflict is noted with both values and the winner. Changed on neither: nothing
//! (no API call). Without a shadow (a new pair) a blank side takes the other's value
//! and two different values are a conflict. Set-valued fields (`union`, `append`)
//! give each side the union, so nothing is ever removed and nothing ping-pongs.
//!
//! Creating a record is the same decision against an empty record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::file::{ArrayMode, BlankPolicy, ConflictRule, FieldRule, Side, SyncSpec};
use super::transform::ChainError;
use super::value::{is_blank, same, set_items};

/// Per field, the values both sides had when they were last in sync.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Shadow {
    pub fields: BTreeMap<String, ShadowField>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShadowField {
    pub left: Value,
    pub right: Value,
}

/// When each record last changed (epoch ms), for `newest`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Versions {
    pub left: Option<i64>,
    pub right: Option<i64>,
}

/// A field written: on which side, from what to what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    pub field: String,
    /// The side written.
    pub side: Side,
    pub before: Value,
    pub after: Value,
}

/// A field changed on both sides since the last sync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub field: String,
    pub rule: ConflictRule,
    pub left: Value,
    pub right: Value,
    /// `None`: it waits for a person (rule `review`).
    pub winner: Option<Side>,
}

/// What to do with one pair.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// The partial update for the left record (top-level fields).
    pub left: Map<String, Value>,
    /// The partial update for the right record.
    pub right: Map<String, Value>,
    pub diffs: Vec<Diff>,
    pub conflicts: Vec<Conflict>,
    /// Fields waiting for a person.
    pub review: Vec<String>,
    /// Fields not written this time, and why.
    pub skipped: Vec<(String, String)>,
    /// Why the whole record fails (a transform with `on_error = "fail"`).
    pub failed: Option<String>,
    /// The shadow once the writes are done.
    pub shadow: Shadow,
}

impl Plan {
    /// The patch for `side`.
    pub fn patch(&self, side: Side) -> &Map<String, Value> {
        match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
    }
    /// Nothing to write on either side.
    pub fn is_noop(&self) -> bool {
        self.left.is_empty() && self.right.is_empty()
    }
}

/// Maps `v` of `from` across with the field's chain (`None`: it does not flow that way).
fn across(
    f: &FieldRule,
    from: Side,
    v: &Value,
    record: &Value,
) -> Option<Result<Value, ChainError>> {
    f.toward(from).map(|c| c.apply(v.clone(), record))
}

fn ok(r: Option<Result<Value, ChainError>>) -> Option<Value> {
    r.and_then(Result::ok)
}

/// Whether a side has something to give across: a non-blank mapped value, or one
/// that fails to map (the failure is then reported where the write would be).
fn has_value(mapped: Option<Result<Value, ChainError>>) -> bool {
    match mapped {
        None => false,
        Some(Ok(v)) => !is_blank(&v),
        Some(Err(_)) => true,
    }
}

/// Whether the two values already agree as the field sees them.
fn in_sync(f: &FieldRule, l: &Value, r: &Value, left: &Value, right: &Value) -> bool {
    let set = f.array != ArrayMode::Replace;
    match (f.to_right.is_some(), f.to_left.is_some()) {
        (true, true) => {
            let via_left = ok(across(f, Side::Left, l, left))
                .and_then(|x| ok(across(f, Side::Right, &x, right)));
            match (ok(across(f, Side::Right, r, right)), via_left) {
                (Some(a), Some(b)) => same(&a, &b, set),
                // A value one way cannot map (a phone number that does not parse):
                // equal as they are is still in sync.
                _ => same(l, r, set),
            }
        }
        (true, false) => ok(across(f, Side::Left, l, left)).is_some_and(|x| same(&x, r, set)),
        (false, true) => ok(across(f, Side::Right, r, right)).is_some_and(|x| same(&x, l, set)),
        (false, false) => true,
    }
}

/// Whether `now` differs from `base` as seen from the other side.
fn changed(
    f: &FieldRule,
    side: Side,
    now: &Value,
    base: &Value,
    other_base: &Value,
    record: &Value,
) -> bool {
    let set = f.array != ArrayMode::Replace;
    // A value computed from other fields (an expression, concat, ...) is compared
    // with what the other side got at the last sync: recomputing the base from
    // today's record would hide the change.
    if f.toward(side)
        .is_some_and(super::transform::Chain::reads_record)
    {
        return match across(f, side, now, record) {
            Some(Ok(a)) => !same(&a, other_base, set),
            _ => false,
        };
    }
    match (across(f, side, now, record), across(f, side, base, record)) {
        (None, _) => false,
        (Some(Ok(a)), Some(Ok(b))) => !same(&a, &b, set),
        // One of them cannot be mapped: compare as they are.
        _ => !same(now, base, set),
    }
}

/// `target` (a list on side `side`) with the items of `extra` (already mapped to
/// `side`) it lacks. Items are compared as the field maps them across, so a
/// reformatted item (`"Buyer "` and `"Buyer"` under `trim`) is not added twice.
fn union_into(f: &FieldRule, side: Side, target: &Value, extra: &Value, record: &Value) -> Value {
    let canon = |x: &Value| ok(across(f, side, x, record)).unwrap_or_else(|| x.clone());
    let mut items = set_items(target);
    let mut seen: Vec<Value> = items.iter().map(canon).collect();
    for x in set_items(extra) {
        let c = canon(&x);
        if !seen.iter().any(|s| same(s, &c, false)) {
            seen.push(c);
            items.push(x);
        }
    }
    Value::Array(items)
}

/// Decides what to write for the pair (`left`, `right`). `shadow` is the pair's
/// last synced state (`None` for a new pair). A record to create is `Value::Null`.
pub fn plan(
    spec: &SyncSpec,
    left: &Value,
    right: &Value,
    shadow: Option<&Shadow>,
    versions: Versions,
) -> Plan {
    let mut plan = Plan::default();
    for f in &spec.fields {
        let l = f.left.get(left);
        let r = f.right.get(right);
        let keep = |plan: &mut Plan, l: Value, r: Value| {
            plan.shadow
                .fields
                .insert(f.name.clone(), ShadowField { left: l, right: r });
        };
        if f.array != ArrayMode::Replace {
            let mut new_l = l.clone();
            let mut new_r = r.clone();
            for (from, value, record) in [(Side::Left, &l, left), (Side::Right, &r, right)] {
                match across(f, from, value, record) {
                    None => {}
                    Some(Err(ChainError::Skip(why))) => plan.skipped.push((f.name.clone(), why)),
                    Some(Err(ChainError::Fail(why))) => {
                        plan.failed = Some(format!("field `{}`: {why}", f.name));
                        return plan;
                    }
                    Some(Ok(mapped)) => match from {
                        Side::Left => new_r = union_into(f, Side::Right, &r, &mapped, right),
                        Side::Right => new_l = union_into(f, Side::Left, &l, &mapped, left),
                    },
                }
            }
            for (side, before, after) in [(Side::Left, &l, &new_l), (Side::Right, &r, &new_r)] {
                if !same(before, after, true) {
                    write(&mut plan, f, side, before, after.clone(), left, right);
                }
            }
            keep(&mut plan, new_l, new_r);
            continue;
        }

        let base = shadow.and_then(|s| s.fields.get(&f.name));
        let (cl, cr) = match base {
            Some(b) => (
                changed(f, Side::Left, &l, &b.left, &b.right, left),
                changed(f, Side::Right, &r, &b.right, &b.left, right),
            ),
            None if in_sync(f, &l, &r, left, right) => (false, false),
            None => (
                has_value(across(f, Side::Left, &l, left)),
                has_value(across(f, Side::Right, &r, right)),
            ),
        };
        let winner = match (cl, cr) {
            (false, false) => None,
            (true, false) => Some(Side::Left),
            (false, true) => Some(Side::Right),
            (true, true) if in_sync(f, &l, &r, left, right) => None,
            (true, true) => {
                let winner = resolve(f.conflict, &l, &r, versions);
                plan.conflicts.push(Conflict {
                    field: f.name.clone(),
                    rule: f.conflict,
                    left: l.clone(),
                    right: r.clone(),
                    winner,
                });
                if winner.is_none() {
                    plan.review.push(f.name.clone());
                }
                winner
            }
        };
        let Some(winner) = winner else {
            keep(&mut plan, l, r);
            continue;
        };
        let (source, record) = match winner {
            Side::Left => (&l, left),
            Side::Right => (&r, right),
        };
        let value = match across(f, winner, source, record) {
            None => {
                // The rule picked a side the field does not flow from.
                plan.skipped.push((
                    f.name.clone(),
                    format!("{winner} wins but the field does not flow from {winner}"),
                ));
                keep(&mut plan, l, r);
                continue;
            }
            Some(Err(ChainError::Skip(why))) => {
                plan.skipped.push((f.name.clone(), why));
                keep(&mut plan, l, r);
                continue;
            }
            Some(Err(ChainError::Fail(why))) => {
                plan.failed = Some(format!("field `{}`: {why}", f.name));
                return plan;
            }
            Some(Ok(v)) => v,
        };
        let target = winner.other();
        let current = match target {
            Side::Left => &l,
            Side::Right => &r,
        };
        if is_blank(&value) && f.blank == BlankPolicy::Ignore {
            if !is_blank(current) {
                plan.skipped.push((
                    f.name.clone(),
                    format!("blank on {winner}, not cleared on {target} (blank = \"ignore\")"),
                ));
            }
            keep(&mut plan, l, r);
            continue;
        }
        if !same(&value, current, false) {
            write(&mut plan, f, target, current, value.clone(), left, right);
        }
        match target {
            Side::Left => keep(&mut plan, value, r),
            Side::Right => keep(&mut plan, l, value),
        }
    }
    plan
}

fn write(
    plan: &mut Plan,
    f: &FieldRule,
    side: Side,
    before: &Value,
    after: Value,
    left: &Value,
    right: &Value,
) {
    let (patch, record) = match side {
        Side::Left => (&mut plan.left, left),
        Side::Right => (&mut plan.right, right),
    };
    f.path(side).set_in_patch(patch, record, after.clone());
    plan.diffs.push(Diff {
        field: f.name.clone(),
        side,
        before: before.clone(),
        after,
    });
}

fn resolve(rule: ConflictRule, l: &Value, r: &Value, v: Versions) -> Option<Side> {
    match rule {
        ConflictRule::Newest => Some(if v.right.unwrap_or(0) > v.left.unwrap_or(0) {
            Side::Right
        } else {
            Side::Left
        }),
        ConflictRule::Left => Some(Side::Left),
        ConflictRule::Right => Some(Side::Right),
        ConflictRule::LeftUnlessBlank => Some(if is_blank(l) { Side::Right } else { Side::Left }),
        ConflictRule::RightUnlessBlank => Some(if is_blank(r) { Side::Left } else { Side::Right }),
        ConflictRule::Review => None,
    }
}

/// The values of `side`'s record as they would be written across, field by field:
/// equal fingerprints mean the other side has nothing new to learn. Our own write
/// is recognised when it comes back (an echo) by this, with no time window.
pub fn fingerprint(spec: &SyncSpec, side: Side, record: &Value) -> String {
    let mut out: BTreeMap<&str, Value> = BTreeMap::new();
    for f in &spec.fields {
        let v = f.path(side).get(record);
        let mapped = ok(across(f, side, &v, record)).unwrap_or(v);
        let canonical = if is_blank(&mapped) {
            Value::Null
        } else if f.array != ArrayMode::Replace {
            let mut items: Vec<String> = set_items(&mapped)
                .iter()
                .map(|i| crate::sync::value::canonical(i).to_string())
                .collect();
            items.sort();
            Value::from(items)
        } else {
            crate::sync::value::canonical(&mapped)
        };
        out.insert(&f.name, canonical);
    }
    serde_json::to_string(&out).unwrap_or_default()
}
