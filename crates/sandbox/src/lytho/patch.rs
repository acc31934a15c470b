//! RFC 6902 JSON Patch (with RFC 6901 JSON Pointers), as Lytho's `PATCH` routes
//! take it: `add`, `remove`, `replace`, `move`, `copy` and `test`.
//!
//! A patch applies atomically: [`apply`] works on a copy and returns it only when
//! every operation succeeded. A failed `test` is [`PatchError::TestFailed`] (the API
//! answers 409); anything else wrong is [`PatchError::Invalid`] (400).

use serde_json::{Map, Value};

/// Why a patch was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// Malformed operation, bad pointer, or a target that does not exist.
    Invalid(String),
    /// A `test` operation did not match.
    TestFailed(String),
}

impl std::fmt::Display for PatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(m) | Self::TestFailed(m) => f.write_str(m),
        }
    }
}

fn invalid(msg: impl Into<String>) -> PatchError {
    PatchError::Invalid(msg.into())
}

/// Splits a JSON Pointer into unescaped reference tokens.
pub fn parse_pointer(pointer: &str) -> Result<Vec<String>, PatchError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(invalid(format!(
            "The path '{pointer}' is not a valid JSON Pointer: it must start with '/'."
        )));
    };
    rest.split('/')
        .map(|token| {
            let mut out = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => {
                            return Err(invalid(format!(
                                "The path '{pointer}' has an invalid escape sequence."
                            )));
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            Ok(out)
        })
        .collect()
}

/// An array index token: digits without leading zeros.
fn index(token: &str, pointer: &str) -> Result<usize, PatchError> {
    let valid = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    valid.then(|| token.parse().ok()).flatten().ok_or_else(|| {
        invalid(format!(
            "The path '{pointer}' has an invalid array index '{token}'."
        ))
    })
}

fn get<'a>(doc: &'a Value, tokens: &[String], pointer: &str) -> Result<&'a Value, PatchError> {
    let mut cur = doc;
    for token in tokens {
        cur = match cur {
            Value::Object(map) => map.get(token),
            Value::Array(items) => items.get(index(token, pointer)?),
            _ => None,
        }
        .ok_or_else(|| {
            invalid(format!(
                "The target location specified by path '{pointer}' was not found."
            ))
        })?;
    }
    Ok(cur)
}

fn get_mut<'a>(
    doc: &'a mut Value,
    tokens: &[String],
    pointer: &str,
) -> Result<&'a mut Value, PatchError> {
    let mut cur = doc;
    for token in tokens {
        cur = match cur {
            Value::Object(map) => map.get_mut(token),
            Value::Array(items) => {
                let i = index(token, pointer)?;
                items.get_mut(i)
            }
            _ => None,
        }
        .ok_or_else(|| {
            invalid(format!(
                "The target location specified by path '{pointer}' was not found."
            ))
        })?;
    }
    Ok(cur)
}

fn add(doc: &mut Value, pointer: &str, value: Value) -> Result<(), PatchError> {
    let tokens = parse_pointer(pointer)?;
    let Some((last, parent)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match get_mut(doc, parent, pointer)? {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            if last == "-" {
                items.push(value);
                return Ok(());
            }
            let i = index(last, pointer)?;
            if i > items.len() {
                return Err(invalid(format!(
                    "The index in path '{pointer}' is out of bounds."
                )));
            }
            items.insert(i, value);
            Ok(())
        }
        _ => Err(invalid(format!(
            "The target location specified by path '{pointer}' was not found."
        ))),
    }
}

fn remove(doc: &mut Value, pointer: &str) -> Result<Value, PatchError> {
    let tokens = parse_pointer(pointer)?;
    let Some((last, parent)) = tokens.split_last() else {
        return Err(invalid("The whole document cannot be removed."));
    };
    let not_found = || {
        invalid(format!(
            "The target location specified by path '{pointer}' was not found."
        ))
    };
    match get_mut(doc, parent, pointer)? {
        Value::Object(map) => map.remove(last).ok_or_else(not_found),
        Value::Array(items) => {
            let i = index(last, pointer)?;
            if i < items.len() {
                Ok(items.remove(i))
            } else {
                Err(not_found())
            }
        }
        _ => Err(not_found()),
    }
}

/// JSON equality as RFC 6902 `test` defines it: numbers compare by value.
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn field<'a>(op: &'a Map<String, Value>, name: &str, n: usize) -> Result<&'a Value, PatchError> {
    op.get(name)
        .ok_or_else(|| invalid(format!("Operation {n} is missing '{name}'.")))
}

fn text<'a>(op: &'a Map<String, Value>, name: &str, n: usize) -> Result<&'a str, PatchError> {
    field(op, name, n)?
        .as_str()
        .ok_or_else(|| invalid(format!("Operation {n}: '{name}' must be a string.")))
}

/// Applies `patch` (a JSON array of operations) to a copy of `doc`.
pub fn apply(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Value::Array(ops) = patch else {
        return Err(invalid(
            "The request body must be a JSON Patch document (an array of operations).",
        ));
    };
    let mut out = doc.clone();
    for (n, op) in ops.iter().enumerate() {
        let Value::Object(op) = op else {
            return Err(invalid(format!("Operation {n} is not an object.")));
        };
        let path = text(op, "path", n)?;
        match text(op, "op", n)? {
            "add" => add(&mut out, path, field(op, "value", n)?.clone())?,
            "remove" => {
                remove(&mut out, path)?;
            }
            "replace" => {
                let tokens = parse_pointer(path)?;
                *get_mut(&mut out, &tokens, path)? = field(op, "value", n)?.clone();
            }
            "move" => {
                let from = text(op, "from", n)?;
                if path != from && path.starts_with(&format!("{from}/")) {
                    return Err(invalid(format!(
                        "Operation {n}: cannot move '{from}' into its own child '{path}'."
                    )));
                }
                let value = remove(&mut out, from)?;
                add(&mut out, path, value)?;
            }
            "copy" => {
                let from = text(op, "from", n)?;
                let value = get(&out, &parse_pointer(from)?, from)?.clone();
                add(&mut out, path, value)?;
            }
            "test" => {
                let expected = field(op, "value", n)?;
                let tokens = parse_pointer(path)?;
                let actual = get(&out, &tokens, path).map_err(|_| {
                    PatchError::TestFailed(format!(
                        "The test operation failed: '{path}' does not exist."
                    ))
                })?;
                if !json_equal(actual, expected) {
                    return Err(PatchError::TestFailed(format!(
                        "The current value '{}' at path '{path}' is not equal to the test value '{}'.",
                        display(actual),
                        display(expected)
                    )));
                }
            }
            other => {
                return Err(invalid(format!(
                    "Operation {n}: '{other}' is not a valid operation (add, remove, replace, move, copy, test)."
                )));
            }
        }
    }
    Ok(out)
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(doc: Value, patch: Value) -> Result<Value, PatchError> {
        apply(&doc, &patch)
    }

    #[test]
    fn rfc6902_examples() {
        // A.1, A.2, A.3, A.4, A.6, A.7, A.10, A.16
        assert_eq!(
            run(
                json!({"foo":"bar"}),
                json!([{"op":"add","path":"/baz","value":"qux"}])
            )
            .unwrap(),
            json!({"baz":"qux","foo":"bar"})
        );
        assert_eq!(
            run(
                json!({"foo":["bar","baz"]}),
                json!([{"op":"add","path":"/foo/1","value":"qux"}])
            )
            .unwrap(),
            json!({"foo":["bar","qux","baz"]})
        );
        assert_eq!(
            run(
                json!({"baz":"qux","foo":"bar"}),
                json!([{"op":"remove","path":"/baz"}])
            )
            .unwrap(),
            json!({"foo":"bar"})
        );
        assert_eq!(
            run(
                json!({"foo":["bar","qux","baz"]}),
                json!([{"op":"remove","path":"/foo/1"}])
            )
            .unwrap(),
            json!({"foo":["bar","baz"]})
        );
        assert_eq!(
            run(
                json!({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}),
                json!([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])
            )
            .unwrap(),
            json!({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})
        );
        assert_eq!(
            run(
                json!({"foo":["all","grass","cows","eat"]}),
                json!([{"op":"move","from":"/foo/1","path":"/foo/3"}])
            )
            .unwrap(),
            json!({"foo":["all","cows","eat","grass"]})
        );
        assert_eq!(
            run(
                json!({"foo":"bar"}),
                json!([{"op":"add","path":"/child","value":{"grandchild":{}}}])
            )
            .unwrap(),
            json!({"foo":"bar","child":{"grandchild":{}}})
        );
        assert_eq!(
            run(
                json!({"foo":["bar"]}),
                json!([{"op":"add","path":"/foo/-","value":["abc","def"]}])
            )
            .unwrap(),
            json!({"foo":["bar",["abc","def"]]})
        );
        // A.14: escapes.
        assert!(
            run(
                json!({"/":9,"~1":10}),
                json!([{"op":"test","path":"/~01","value":10}])
            )
            .is_ok()
        );
        // Numbers compare by value.
        assert!(
            run(
                json!({"a":1}),
                json!([{"op":"test","path":"/a","value":1.0}])
            )
            .is_ok()
        );
    }

    #[test]
    fn failures() {
        // A.9: test failure; A.12: add to a nonexistent target; A.15: wrong number.
        assert!(matches!(
            run(
                json!({"baz":"qux"}),
                json!([{"op":"test","path":"/baz","value":"bar"}])
            ),
            Err(PatchError::TestFailed(_))
        ));
        assert!(matches!(
            run(
                json!({"foo":"bar"}),
                json!([{"op":"add","path":"/baz/bat","value":"qux"}])
            ),
            Err(PatchError::Invalid(_))
        ));
        assert!(matches!(
            run(
                json!({"/":9,"~1":10}),
                json!([{"op":"test","path":"/~01","value":"10"}])
            ),
            Err(PatchError::TestFailed(_))
        ));
        assert!(
            run(
                json!({"a":1}),
                json!([{"op":"replace","path":"/b","value":1}])
            )
            .is_err()
        );
        assert!(
            run(
                json!({"a":[1]}),
                json!([{"op":"add","path":"/a/01","value":1}])
            )
            .is_err()
        );
        assert!(run(json!({"a":1}), json!([{"op":"jump","path":"/a"}])).is_err());
        assert!(run(json!({"a":1}), json!({"op":"remove","path":"/a"})).is_err());
        assert!(
            run(
                json!({"a":{}}),
                json!([{"op":"move","from":"/a","path":"/a/b"}])
            )
            .is_err()
        );
        // Atomic: the first op is not kept when the second fails.
        let doc = json!({"a":1});
        let err = apply(
            &doc,
            &json!([{"op":"replace","path":"/a","value":2},{"op":"test","path":"/a","value":3}]),
        );
        assert!(err.is_err());
        assert_eq!(doc, json!({"a":1}));
    }
}
