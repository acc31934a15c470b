//! What two mapped values being "the same" means: blanks are one value (missing,
//! `null`, `""`, whitespace, `[]`, `{}`), numbers compare by value whatever their
//! JSON spelling, and a set-valued field (tags) compares without order or repeats.

use serde_json::Value;

/// Missing, `null`, an empty or blank string, an empty array or object.
pub fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.iter().all(is_blank),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Whether `a` and `b` are the same mapped value; `as_set` for set-valued fields.
pub fn same(a: &Value, b: &Value, as_set: bool) -> bool {
    if is_blank(a) || is_blank(b) {
        return is_blank(a) && is_blank(b);
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) if as_set => {
            x.iter().all(|i| y.iter().any(|j| same(i, j, false)))
                && y.iter().all(|j| x.iter().any(|i| same(i, j, false)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(i, j)| same(i, j, false))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same(v, w, false)))
        }
        _ => a == b,
    }
}

/// The items of a set-valued field, blanks and repeats dropped, first seen first.
pub fn set_items(v: &Value) -> Vec<Value> {
    let items: Vec<Value> = match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        one => vec![one.clone()],
    };
    let mut out: Vec<Value> = Vec::new();
    for i in items {
        if !is_blank(&i) && !out.iter().any(|o| same(o, &i, false)) {
            out.push(i);
        }
    }
    out
}

/// Short text of a value for messages and history (strings unquoted).
pub fn show(v: &Value) -> String {
    match v {
        Value::Null => "(blank)".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blanks_numbers_and_sets() {
        for b in [
            json!(null),
            json!(""),
            json!("  "),
            json!([]),
            json!({}),
            json!([null, ""]),
        ] {
            assert!(is_blank(&b), "{b}");
            assert!(same(&b, &Value::Null, false));
        }
        assert!(!is_blank(&json!(0)) && !is_blank(&json!(false)));
        assert!(same(&json!(1), &json!(1.0), false));
        assert!(!same(&json!("1"), &json!(1), false));
        assert!(same(&json!(["a", "b", "a"]), &json!(["b", "a"]), true));
        assert!(!same(&json!(["a", "b"]), &json!(["b", "a"]), false));
        assert!(!same(&json!(["a"]), &json!(["a", "c"]), true));
        assert_eq!(
            set_items(&json!(["a", "", "a", "b"])),
            vec![json!("a"), json!("b")]
        );
    }
}
