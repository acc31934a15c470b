//! Field paths: where a mapped value lives in a record (the record as its API
//! returns it, as JSON).
//!
//! `firstName`, `address.city` (nested objects), `emails[0]` (an array item),
//! `tags[*].tagName` (every item: reads give an array, writes build one),
//! `customFields[id=budget].value` (the item whose `id` is `budget`; written, the
//! item is created with that `id` if missing).

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
    /// Every array item.
    Each,
    /// The array item whose `key` equals `value` (compared as text).
    Select { key: String, value: String },
}

/// A parsed field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    text: String,
    steps: Vec<Step>,
}

/// Why a path does not parse (names the path and the place).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}` is not a field path: {reason}")]
pub struct PathError {
    pub path: String,
    pub reason: String,
}

impl FromStr for Path {
    type Err = PathError;

    fn from_str(text: &str) -> Result<Self, PathError> {
        let fail = |reason: &str| PathError {
            path: text.to_owned(),
            reason: reason.to_owned(),
        };
        let mut steps = Vec::new();
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(fail("it is empty"));
        }
        loop {
            // A key: up to `.`, `[` or the end.
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let key = &rest[..end];
            if key.is_empty() {
                return Err(fail(
                    "a field name is missing (two dots, or a leading `.` or `[`)",
                ));
            }
            if !key
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            {
                return Err(fail(&format!(
                    "`{key}` is not a field name (letters, digits, `_` and `-` only)"
                )));
            }
            steps.push(Step::Key(key.to_owned()));
            rest = &rest[end..];
            while let Some(inner) = rest.strip_prefix('[') {
                let close = inner.find(']').ok_or_else(|| fail("a `[` is not closed"))?;
                let sel = inner[..close].trim();
                steps.push(if sel == "*" {
                    Step::Each
                } else if let Some((k, v)) = sel.split_once('=') {
                    let (k, v) = (k.trim(), v.trim().trim_matches('"'));
                    if k.is_empty() || v.is_empty() {
                        return Err(fail("a selector is `[key=value]`, both non-empty"));
                    }
                    Step::Select {
                        key: k.to_owned(),
                        value: v.to_owned(),
                    }
                } else {
                    Step::Index(sel.parse().map_err(|_| {
                        fail(&format!(
                            "`[{sel}]` is not an index, `[*]` or a `[key=value]` selector"
                        ))
                    })?)
                });
                rest = &inner[close + 1..];
            }
            match rest.strip_prefix('.') {
                Some(next) => rest = next,
                None if rest.is_empty() => break,
                None => return Err(fail(&format!("unexpected `{rest}`"))),
            }
        }
        Ok(Self {
            text: text.trim().to_owned(),
            steps,
        })
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Path {
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The top-level field the path starts at (`customFields` for
    /// `customFields[id=x].value`).
    pub fn root(&self) -> &str {
        match &self.steps[0] {
            Step::Key(k) => k,
            _ => unreachable!("a path starts with a key"),
        }
    }

    /// Whether the path reads many values (`[*]`).
    pub fn is_many(&self) -> bool {
        self.steps.contains(&Step::Each)
    }

    /// The value at this path in `record` (`Null` when any step is missing; an array
    /// for a `[*]` path).
    pub fn get(&self, record: &Value) -> Value {
        get_in(record, &self.steps)
    }

    /// Sets the value at this path in `record`, creating what is missing.
    pub fn set(&self, record: &mut Value, value: Value) {
        set_in(record, &self.steps, value);
    }

    /// Sets the value in `patch` (the body of a partial update): the path's
    /// top-level field is first copied from `current` when the patch lacks it, so
    /// that setting `emails[0]` or one custom field keeps the other items.
    pub fn set_in_patch(&self, patch: &mut Map<String, Value>, current: &Value, value: Value) {
        let root = self.root().to_owned();
        let mut top = patch
            .remove(&root)
            .unwrap_or_else(|| current.get(&root).cloned().unwrap_or(Value::Null));
        set_in(&mut top, &self.steps[1..], value);
        patch.insert(root, top);
    }
}

fn get_in(v: &Value, steps: &[Step]) -> Value {
    let Some((step, rest)) = steps.split_first() else {
        return v.clone();
    };
    match step {
        Step::Key(k) => v.get(k).map_or(Value::Null, |x| get_in(x, rest)),
        Step::Index(i) => v.get(*i).map_or(Value::Null, |x| get_in(x, rest)),
        Step::Each => match v {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|x| get_in(x, rest))
                    .filter(|x| !x.is_null())
                    .collect(),
            ),
            _ => Value::Array(Vec::new()),
        },
        Step::Select { key, value } => match v {
            Value::Array(items) => items
                .iter()
                .find(|x| x.get(key).and_then(text_of).as_deref() == Some(value))
                .map_or(Value::Null, |x| get_in(x, rest)),
            _ => Value::Null,
        },
    }
}

fn set_in(v: &mut Value, steps: &[Step], value: Value) {
    let Some((step, rest)) = steps.split_first() else {
        *v = value;
        return;
    };
    match step {
        Step::Key(k) => {
            if !v.is_object() {
                *v = Value::Object(Map::new());
            }
            let slot = v
                .as_object_mut()
                .map(|m| m.entry(k.clone()).or_insert(Value::Null));
            if let Some(slot) = slot {
                set_in(slot, rest, value);
            }
        }
        Step::Index(i) => {
            if !v.is_array() {
                *v = Value::Array(Vec::new());
            }
            if let Value::Array(items) = v {
                if items.len() <= *i {
                    items.resize(*i + 1, Value::Null);
                }
                set_in(&mut items[*i], rest, value);
                // A blank written to the last item removes it (no trailing nulls).
                if items.last().is_some_and(Value::is_null) {
                    items.pop();
                }
            }
        }
        Step::Each => {
            let values = match value {
                Value::Array(values) => values,
                Value::Null => Vec::new(),
                one => vec![one],
            };
            *v = Value::Array(
                values
                    .into_iter()
                    .map(|x| {
                        let mut item = Value::Null;
                        set_in(&mut item, rest, x);
                        item
                    })
                    .collect(),
            );
        }
        Step::Select { key, value: wanted } => {
            if !v.is_array() {
                *v = Value::Array(Vec::new());
            }
            if let Value::Array(items) = v {
                let at = items
                    .iter()
                    .position(|x| x.get(key).and_then(text_of).as_deref() == Some(wanted));
                let at = at.unwrap_or_else(|| {
                    let mut m = Map::new();
                    m.insert(key.clone(), Value::String(wanted.clone()));
                    items.push(Value::Object(m));
                    items.len() - 1
                });
                set_in(&mut items[at], rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Path {
        s.parse().unwrap()
    }

    #[test]
    fn reads_nested_items_selected_and_every_item() {
        let r = json!({"firstName": "Ann", "address": {"city": "Oslo"},
            "emails": ["a@x.io", "b@x.io"], "tags": [{"tagName": "Hot"}, {"tagName": "VIP"}],
            "customFields": [{"id": "budget", "value": 500}, {"id": 7, "value": "seven"}]});
        assert_eq!(p("firstName").get(&r), json!("Ann"));
        assert_eq!(p("address.city").get(&r), json!("Oslo"));
        assert_eq!(p("emails[1]").get(&r), json!("b@x.io"));
        assert_eq!(p("emails[5]").get(&r), Value::Null);
        assert_eq!(p("tags[*].tagName").get(&r), json!(["Hot", "VIP"]));
        assert_eq!(p("customFields[id=budget].value").get(&r), json!(500));
        assert_eq!(p("customFields[id=7].value").get(&r), json!("seven"));
        assert_eq!(p("missing.deeper[0]").get(&r), Value::Null);
        assert_eq!(p("customFields[id=budget]").root(), "customFields");
    }

    #[test]
    fn writes_create_what_is_missing_and_keep_the_rest() {
        let mut r = json!({"emails": ["a@x.io", "b@x.io"]});
        p("emails[0]").set(&mut r, json!("new@x.io"));
        p("address.city").set(&mut r, json!("Oslo"));
        p("customFields[id=budget].value").set(&mut r, json!(9));
        p("tags[*].tagName").set(&mut r, json!(["a", "b"]));
        assert_eq!(
            r,
            json!({"emails": ["new@x.io", "b@x.io"], "address": {"city": "Oslo"},
                "customFields": [{"id": "budget", "value": 9}],
                "tags": [{"tagName": "a"}, {"tagName": "b"}]})
        );
        // A patch starts from the record's current top-level field.
        let current =
            json!({"emails": ["a@x.io", "b@x.io"], "customFields": [{"id": "x", "value": 1}]});
        let mut patch = Map::new();
        p("emails[0]").set_in_patch(&mut patch, &current, json!("c@x.io"));
        p("customFields[id=y].value").set_in_patch(&mut patch, &current, json!(2));
        assert_eq!(
            Value::Object(patch),
            json!({"emails": ["c@x.io", "b@x.io"],
                "customFields": [{"id": "x", "value": 1}, {"id": "y", "value": 2}]})
        );
    }

    #[test]
    fn bad_paths_name_the_problem() {
        for (bad, why) in [
            ("", "empty"),
            ("a..b", "missing"),
            ("a[0", "not closed"),
            ("a[x]", "not an index"),
            ("a[=v]", "both non-empty"),
            ("a b", "not a field name"),
            ("a[0]b", "unexpected"),
        ] {
            let err = bad.parse::<Path>().unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
