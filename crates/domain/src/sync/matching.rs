//! First-time matching: a record without a link is paired by the match keys, in
//! order. The first key that finds anyone decides: one record is a match, several
//! are ambiguous (a person decides; never a guess that merges two people), none
//! falls through to the next key and, after the last, to `on_none`. Afterwards the
//! link governs and matching is not consulted again.

use serde_json::Value;

use super::file::{Side, SyncSpec};
use super::value::{is_blank, set_items};

/// The normalised key values of a record: (key name, value), in key order. The
/// engine indexes both sides by these, so matching costs no API read.
pub fn key_values(spec: &SyncSpec, side: Side, record: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for k in &spec.keys {
        let path = match side {
            Side::Left => &k.left,
            Side::Right => &k.right,
        };
        for item in set_items(&path.get(record)) {
            // A value the key cannot normalise (a bad phone) matches nothing.
            let Ok(v) = k.normalize.apply(item, record) else {
                continue;
            };
            if is_blank(&v) {
                continue;
            }
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            if !out.iter().any(|(n, t)| n == &k.name && t == &text) {
                out.push((k.name.clone(), text));
            }
        }
    }
    // A child is found from its parent by the parent's id.
    if let Some(parent) = &spec.parent {
        match parent.path(side).get(record) {
            Value::String(s) if !s.is_empty() => out.push((PARENT_KEY.to_owned(), s)),
            Value::Number(n) => out.push((PARENT_KEY.to_owned(), n.to_string())),
            _ => {}
        }
    }
    out
}

/// The index key under which a child record is found from its parent's id.
pub const PARENT_KEY: &str = "parent";

/// What first-time matching found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchOutcome {
    /// Nobody (then the file's `on_none`).
    None,
    /// Exactly one record, by this key.
    One { id: String, key: String },
    /// Several, by this key: review.
    Ambiguous { ids: Vec<String>, key: String },
}

/// Decides from the candidates each key found, in key order (`(key, ids)`).
pub fn decide(candidates: &[(String, Vec<String>)]) -> MatchOutcome {
    for (key, ids) in candidates {
        let mut ids = ids.clone();
        ids.sort();
        ids.dedup();
        match ids.len() {
            0 => {}
            1 => {
                return MatchOutcome::One {
                    id: ids.remove(0),
                    key: key.clone(),
                };
            }
            _ => {
                return MatchOutcome::Ambiguous {
                    ids,
                    key: key.clone(),
                };
            }
        }
    }
    MatchOutcome::None
}
