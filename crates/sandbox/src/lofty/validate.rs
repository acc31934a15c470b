//! Reading request bodies the way Lofty's Java stack does: scalars are coerced where
//! Jackson would coerce them (a number where a string is expected, a numeric string
//! where a number is expected), anything else is a 400 `20012 INVALID_PARAMETER`.
//! Unknown fields are ignored.

use serde_json::{Map, Value};

use super::http::ApiError;

/// The body as an object.
pub fn object(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    body.as_object()
        .ok_or_else(|| ApiError::invalid("The request body must be a JSON object"))
}

/// A string field (`null` or absent is `None`).
pub fn string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(ApiError::invalid(format!("{key} must be a string"))),
    }
}

/// A boolean field.
pub fn boolean(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::invalid(format!("{key} must be a boolean"))),
    }
}

/// An integer field (a numeric string is accepted, a fraction is not).
pub fn int(map: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::invalid(format!("{key} must be an integer"))),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ApiError::invalid(format!("{key} must be an integer"))),
        Some(_) => Err(ApiError::invalid(format!("{key} must be an integer"))),
    }
}

/// An integer field that must be a JSON number (Lofty rejects `"leadId": "123"` on notes).
pub fn number(map: &Map<String, Value>, key: &str) -> Result<Option<i64>, ApiError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::invalid(format!("{key} must be an integer"))),
        Some(_) => Err(ApiError::invalid(format!("{key} must be a number"))),
    }
}

/// A list of strings. Numbers become their text (Lofty turns `tags: [6536952]` into a
/// tag named "6536952"); with `tag_objects`, `{"tagName": ...}` items give their name.
pub fn strings(
    map: &Map<String, Value>,
    key: &str,
    tag_objects: bool,
) -> Result<Option<Vec<String>>, ApiError> {
    let items = match map.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ApiError::invalid(format!("{key} must be an array"))),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(s) => out.push(s.clone()),
            Value::Number(n) => out.push(n.to_string()),
            Value::Object(o) if tag_objects => match o.get("tagName").and_then(Value::as_str) {
                Some(name) => out.push(name.to_owned()),
                None => return Err(ApiError::invalid(format!("{key} items need a tagName"))),
            },
            _ => {
                return Err(ApiError::invalid(format!(
                    "{key} must be a list of strings"
                )));
            }
        }
    }
    Ok(Some(out))
}

/// The first `max` characters of `s`.
pub fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
