//! Turning an operation's JSON input into a URL, for every client of the project
//! (GHL, Lofty and Lytho): path parameters fill the path template,
//! query parameters become the query string, and what is left is the body's to
//! take. Errors are plain messages; each client wraps them with the operation id.

use serde_json::{Map, Value};
use url::Url;

/// The input as an object's fields (`null` is no fields).
pub fn fields(input: Value) -> Result<Map<String, Value>, String> {
    match input {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err("input must be a JSON object".to_owned()),
    }
}

/// Text form of a scalar for paths and queries; `None` for `null`.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// Pushes `key=value` pairs, repeating the key for arrays and dropping nulls.
pub fn push_pairs(out: &mut Vec<(String, String)>, key: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            out.extend(
                items
                    .iter()
                    .filter_map(scalar_text)
                    .map(|t| (key.to_owned(), t)),
            );
        }
        other => out.extend(scalar_text(other).map(|t| (key.to_owned(), t))),
    }
}

/// `base` joined with the path `template` (`/contacts/{contactId}`, `/contacts/`), each `{name}`
/// taken out of `fields` (a string or a number, not blank) and percent-encoded as
/// one segment.
pub fn fill_path(
    base: &Url,
    template: &str,
    fields: &mut Map<String, Value>,
) -> Result<Url, String> {
    let mut url = base.clone();
    {
        let mut segments = url
            .path_segments_mut()
            .map_err(|()| "the base URL cannot take a path".to_owned())?;
        segments.pop_if_empty();
        // A trailing slash is kept: GHL serves `/contacts/` and `/contacts` differently.
        for segment in template.trim_start_matches('/').split('/') {
            let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
                segments.push(segment);
                continue;
            };
            let value = fields
                .remove(name)
                .ok_or_else(|| format!("missing path parameter `{name}`"))?;
            let text = match &value {
                Value::String(_) | Value::Number(_) => scalar_text(&value).unwrap_or_default(),
                _ => {
                    return Err(format!(
                        "path parameter `{name}` must be a string or number"
                    ));
                }
            };
            if text.trim().is_empty() {
                return Err(format!("path parameter `{name}` is empty"));
            }
            segments.push(&text);
        }
    }
    Ok(url)
}

/// Moves the query parameters `names` out of `fields` onto `url`; a parameter that
/// is absent or `null` takes its value from `defaults`, if it has one there.
pub fn take_query(
    url: &mut Url,
    names: &[&str],
    defaults: &[(&str, &str)],
    fields: &mut Map<String, Value>,
) {
    let mut query = Vec::new();
    for name in names {
        match fields.remove(*name) {
            Some(value) if !value.is_null() => push_pairs(&mut query, name, &value),
            _ => {
                if let Some((_, default)) = defaults.iter().find(|(k, _)| k == name) {
                    query.push(((*name).to_owned(), (*default).to_owned()));
                }
            }
        }
    }
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
}

/// The keys left in `fields`, for "unknown input keys ..." errors.
pub fn keys(fields: &Map<String, Value>) -> String {
    fields
        .keys()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Takes a verbatim `body` out of `fields` when it has one of the accepted shapes,
/// refusing other keys beside it (they would be silently dropped).
pub fn take_verbatim_body(
    fields: &mut Map<String, Value>,
    accepts: impl Fn(&Value) -> bool,
) -> Result<Option<Value>, String> {
    if !fields.get("body").is_some_and(accepts) {
        return Ok(None);
    }
    let body = fields.remove("body");
    if !fields.is_empty() {
        return Err(format!(
            "keys {} are not parameters and `body` is given verbatim",
            keys(fields)
        ));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        fields(v).unwrap()
    }

    #[test]
    fn paths_are_filled_and_encoded() {
        let base = Url::parse("http://h/api/").unwrap();
        let mut f = map(json!({"id": "a/b c", "n": 7, "rest": 1}));
        let url = fill_path(&base, "/things/{id}/sub/{n}", &mut f).unwrap();
        assert_eq!(url.path(), "/api/things/a%2Fb%20c/sub/7");
        let url = fill_path(&base, "/things/", &mut map(json!({}))).unwrap();
        assert_eq!(url.path(), "/api/things/");
        assert_eq!(keys(&f), "rest");
        let mut f = map(json!({}));
        assert_eq!(
            fill_path(&base, "/t/{id}", &mut f).unwrap_err(),
            "missing path parameter `id`"
        );
        for bad in [json!({"id": true}), json!({"id": [1]}), json!({"id": null})] {
            let mut f = map(bad);
            assert!(fill_path(&base, "/t/{id}", &mut f).is_err());
        }
        let mut f = map(json!({"id": "  "}));
        assert!(
            fill_path(&base, "/t/{id}", &mut f)
                .unwrap_err()
                .contains("empty")
        );
        assert!(fields(json!([1])).is_err());
        assert!(fields(Value::Null).unwrap().is_empty());
    }

    #[test]
    fn queries_repeat_arrays_drop_nulls_and_take_defaults() {
        let mut url = Url::parse("http://h/x").unwrap();
        let mut f = map(json!({"ids": [1, 2, null], "q": "a b", "gone": null, "body": 1}));
        take_query(
            &mut url,
            &["ids", "q", "gone", "page"],
            &[("page", "1"), ("gone", "d")],
            &mut f,
        );
        assert_eq!(url.query(), Some("ids=1&ids=2&q=a+b&gone=d&page=1"));
        assert_eq!(keys(&f), "body");
    }

    #[test]
    fn a_verbatim_body_stands_alone() {
        let object = |v: &Value| v.is_object();
        let mut f = map(json!({"body": {"a": 1}}));
        assert_eq!(
            take_verbatim_body(&mut f, object).unwrap(),
            Some(json!({"a": 1}))
        );
        let mut f = map(json!({"body": {"a": 1}, "x": 2}));
        assert!(
            take_verbatim_body(&mut f, object)
                .unwrap_err()
                .contains("x")
        );
        let mut f = map(json!({"body": "text", "x": 2}));
        assert_eq!(take_verbatim_body(&mut f, object).unwrap(), None);
        assert_eq!(keys(&f), "body, x");
    }
}

/// What stands in for a secret in a [`Preview`].
pub const REDACTED: &str = "[redacted]";

/// A request as it would be sent, secrets redacted: what `call --dry-run` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    /// `GET`, `POST`, ...
    pub method: &'static str,
    /// The full URL, query included.
    pub url: Url,
    /// Headers in sending order; credentials show as [`REDACTED`].
    pub headers: Vec<(&'static str, String)>,
    /// The body: JSON, or a form's fields as an object (secret fields redacted).
    pub body: Option<Value>,
}

impl Preview {
    /// `{method, url, headers, body}`.
    pub fn to_json(&self) -> Value {
        let headers: Map<String, Value> = self
            .headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(v.as_str())))
            .collect();
        serde_json::json!({
            "method": self.method,
            "url": self.url.as_str(),
            "headers": headers,
            "body": self.body,
        })
    }
}

/// A form's fields as an object, with the values of secret-bearing fields (`*secret*`,
/// `*token*`, `code`, `password`) redacted.
pub fn redacted_form(pairs: &[(String, String)]) -> Value {
    let secret = |k: &str| {
        let k = k.to_ascii_lowercase();
        k.contains("secret") || k.contains("token") || k == "code" || k.contains("password")
    };
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| {
                let shown = if secret(k) { REDACTED } else { v.as_str() };
                (k.clone(), Value::from(shown))
            })
            .collect(),
    )
}
