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
        (Value::Number(_), Value::String(_)) | (Value::String(_), Value::Number(_)) => {
            canonical(a) == canonical(b)
        }
        _ => a == b,
    }
}

/// A value in the form comparisons use: numbers as their text (`63` and `"63"`
/// are the same value: GHL keeps a number custom field as a number, Lofty as
/// text), inside lists and objects too.
pub fn canonical(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::String(match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{f:.0}"),
            _ => n.to_string(),
        }),
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        other => other.clone(),
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
        // A number and its text are one value (GHL number fields, Lofty text).
        assert!(same(&json!("1"), &json!(1), false));
        assert!(same(&json!(42), &json!("42"), false));
        assert!(!same(&json!("1.5"), &json!(1), false));
        assert!(!same(&json!("01"), &json!(1), false));
        assert!(same(&json!(["a", "b", "a"]), &json!(["b", "a"]), true));
        assert!(!same(&json!(["a", "b"]), &json!(["b", "a"]), false));
        assert!(!same(&json!(["a"]), &json!(["a", "c"]), true));
        assert_eq!(
            set_items(&json!(["a", "", "a", "b"])),
            vec![json!("a"), json!("b")]
        );
    }
}
