//! `POST /contacts/search`: GHL's advanced search with filter groups (`eq`, `contains`,
//! `exists`, `range`...), multi-field sort, and either page numbers or a `searchAfter`
//! cursor.

use std::cmp::Ordering;

use axum::extract::State;
use chrono::DateTime;
use serde_json::{Value, json};

use super::{READ, matches_query, named_location};
use crate::ghl::App;
use crate::ghl::body::Body;
use crate::ghl::http::{ApiError, ApiResult, Caller, ok};
use crate::ghl::state::SearchOrder;
use crate::ghl::validate::{self, Kind, opt, req};

const SEARCH_PROPS: &[validate::Prop] = &[
    req("locationId", Kind::Str),
    req("pageLimit", Kind::Num),
    opt("page", Kind::Num),
    opt("searchAfter", Kind::Array),
    opt("filters", Kind::Array),
    opt("sort", Kind::Array),
    opt("query", Kind::Str),
];

/// Reads a (possibly dotted) field of a contact's JSON; `customFields.<id>` reads a value.
fn field_value<'a>(doc: &'a Value, field: &str) -> Option<&'a Value> {
    if let Some(id) = field
        .strip_prefix("customFields.")
        .or_else(|| field.strip_prefix("customField."))
    {
        return doc
            .get("customFields")?
            .as_array()?
            .iter()
            .find(|f| f.get("id").and_then(Value::as_str) == Some(id))
            .and_then(|f| f.get("value"));
    }
    let mut cur = doc;
    for part in field.split('.') {
        cur = cur.get(part)?;
    }
    Some(cur)
}

fn as_millis(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.parse::<i64>().ok().or_else(|| {
            DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|d| d.timestamp_millis())
        }),
        _ => None,
    }
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        (Value::Array(items), other) => items.iter().any(|i| loose_eq(i, other)),
        (x, Value::Array(options)) => options.iter().any(|o| loose_eq(x, o)),
        (Value::Number(_), Value::String(_)) | (Value::String(_), Value::Number(_)) => {
            as_millis(a).is_some() && as_millis(a) == as_millis(b)
        }
        (x, y) => x == y,
    }
}

fn contains(a: &Value, needle: &Value) -> bool {
    let needle = match needle {
        Value::String(s) => s.to_lowercase(),
        other => other.to_string(),
    };
    match a {
        Value::String(s) => s.to_lowercase().contains(&needle),
        Value::Array(items) => items
            .iter()
            .any(|i| contains(i, &Value::String(needle.clone()))),
        other => other.to_string().contains(&needle),
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (as_millis(a), as_millis(b)) {
        return Some(x.cmp(&y));
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        _ => None,
    }
}

fn in_range(v: &Value, range: &Value) -> bool {
    let check = |key: &str, ok: fn(Ordering) -> bool| {
        range
            .get(key)
            .is_none_or(|bound| compare(v, bound).is_some_and(ok))
    };
    check("gt", |o| o == Ordering::Greater)
        && check("gte", |o| o != Ordering::Less)
        && check("lt", |o| o == Ordering::Less)
        && check("lte", |o| o != Ordering::Greater)
}

fn filter_matches(doc: &Value, filter: &Value) -> Result<bool, String> {
    if let Some(group) = filter.get("group").and_then(Value::as_str) {
        let parts = filter
            .get("filters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let results = parts
            .iter()
            .map(|f| filter_matches(doc, f))
            .collect::<Result<Vec<_>, _>>()?;
        return match group.to_uppercase().as_str() {
            "AND" => Ok(results.iter().all(|r| *r)),
            "OR" => Ok(results.iter().any(|r| *r)),
            other => Err(format!("group must be one of AND, OR (got {other})")),
        };
    }
    let field = filter
        .get("field")
        .and_then(Value::as_str)
        .ok_or("filters.field must be a string")?;
    let operator = filter
        .get("operator")
        .and_then(Value::as_str)
        .ok_or("filters.operator must be a string")?;
    let value = filter.get("value").cloned().unwrap_or(Value::Null);
    let actual = field_value(doc, field).filter(|v| !v.is_null());
    let present = actual
        .is_some_and(|v| !(v.as_str() == Some("") || v.as_array().is_some_and(Vec::is_empty)));
    Ok(match operator {
        "eq" => actual.is_some_and(|a| loose_eq(a, &value)),
        "not_eq" => !actual.is_some_and(|a| loose_eq(a, &value)),
        "contains" => actual.is_some_and(|a| contains(a, &value)),
        "not_contains" => !actual.is_some_and(|a| contains(a, &value)),
        "exists" => present,
        "not_exists" => !present,
        "range" => actual.is_some_and(|a| in_range(a, &value)),
        other => {
            return Err(format!(
                "operator {other} is not supported; use eq, not_eq, contains, not_contains, exists, not_exists or range"
            ));
        }
    })
}

/// POST /contacts/search (search-contacts-advanced).
pub(super) async fn search(State(app): State<App>, caller: Caller, Body(body): Body) -> ApiResult {
    caller.require(READ)?;
    let input = validate::check(&body, SEARCH_PROPS)?;
    let location_id = input
        .get("locationId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let page_limit = input.get("pageLimit").and_then(Value::as_u64).unwrap_or(0);
    if !(1..=500).contains(&page_limit) {
        return Err(ApiError::unprocessable(vec![
            "pageLimit must not be greater than 500".to_owned(),
            "pageLimit must not be less than 1".to_owned(),
        ]));
    }
    let search_after = input.get("searchAfter").and_then(Value::as_array).cloned();
    let page = input.get("page").and_then(Value::as_u64);
    if search_after.is_some() && page.is_some() {
        return Err(ApiError::bad_request(
            "page and searchAfter cannot be used together",
        ));
    }
    let page = page.unwrap_or(1).max(1);
    if search_after.is_none() && page * page_limit > 10_000 {
        return Err(ApiError::bad_request(
            "Standard pagination can only fetch the first 10000 records; use searchAfter to go further",
        ));
    }
    if let Some(q) = input.get("query").and_then(Value::as_str)
        && q.chars().count() > 75
    {
        return Err(ApiError::unprocessable(vec![
            "query must be shorter than or equal to 75 characters".to_owned(),
        ]));
    }
    let sort: Vec<(String, bool)> = match input.get("sort").and_then(Value::as_array) {
        Some(items) if !items.is_empty() => items
            .iter()
            .map(|s| {
                let field = s
                    .get("field")
                    .and_then(Value::as_str)
                    .unwrap_or("dateAdded")
                    .to_owned();
                let desc = s.get("direction").and_then(Value::as_str) == Some("desc");
                (field, desc)
            })
            .collect(),
        _ => vec![("dateAdded".to_owned(), true)],
    };
    let filters = input
        .get("filters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();

    let mut inner = app.shared.lock();
    let question = json!([location_id, input.get("query"), filters, input.get("sort")]).to_string();
    let generation = inner.rt.generation;
    let cached = inner
        .rt
        .search_order
        .take()
        .filter(|o| o.generation == generation && o.question == question);
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let order = |a: &[Value], b: &[Value]| -> Ordering {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            let desc = sort.get(i).is_some_and(|s| s.1);
            let o = match (x.is_null(), y.is_null()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ => compare(x, y).unwrap_or_else(|| x.to_string().cmp(&y.to_string())),
            };
            let o = if desc && i < sort.len() {
                o.reverse()
            } else {
                o
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    };
    let rows = match cached {
        Some(o) => o.rows,
        None => {
            let mut rows = Vec::new();
            for c in loc.contacts.values() {
                if let Some(q) = input.get("query").and_then(Value::as_str)
                    && !q.is_empty()
                    && !matches_query(c, q)
                {
                    continue;
                }
                let doc = c.to_json();
                let mut keep = true;
                for f in &filters {
                    if !filter_matches(&doc, f).map_err(|m| ApiError::unprocessable(vec![m]))? {
                        keep = false;
                        break;
                    }
                }
                if keep {
                    let mut key: Vec<Value> = sort
                        .iter()
                        .map(|(field, _)| match field.as_str() {
                            "dateAdded" => json!(c.date_added.timestamp_millis()),
                            "dateUpdated" => json!(c.date_updated.timestamp_millis()),
                            f => field_value(&doc, f).cloned().unwrap_or(Value::Null),
                        })
                        .collect();
                    key.push(json!(c.id));
                    rows.push((key, c.id.clone()));
                }
            }
            rows.sort_by(|a, b| order(&a.0, &b.0));
            rows
        }
    };
    let total = rows.len();
    let start = match &search_after {
        Some(cursor) => rows.partition_point(|(k, _)| order(k, cursor) != Ordering::Greater),
        None => usize::try_from((page - 1) * page_limit).unwrap_or(usize::MAX),
    };
    let contacts: Vec<Value> = rows
        .iter()
        .skip(start)
        .take(usize::try_from(page_limit).unwrap_or(500))
        .filter_map(|(key, id)| {
            let mut doc = loc.contacts.get(id)?.to_json();
            doc["searchAfter"] = json!(key);
            Some(doc)
        })
        .collect();
    inner.rt.search_order = Some(SearchOrder {
        generation,
        question,
        rows,
    });
    ok(json!({"contacts": contacts, "total": total, "traceId": uuid::Uuid::new_v4().to_string()}))
}
