//! The 32 operations of GHL's Contacts API (`apps/contacts.json`).

use std::cmp::Ordering;

use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::App;
use super::body::Body;
use super::http::{ApiError, ApiResult, Caller, created, ok};
use super::state::{Contact, Location, MatchField, Note, Task, World, is_firebase_id, new_id};
use super::validate::{self, Kind, normalize_phone, opt, req};

const READ: &str = "contacts.readonly";
const WRITE: &str = "contacts.write";

fn contact_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Contact with id {id} not found"))
}

/// The location holding `contact_id`, after checking the caller may use it.
pub fn contact_location<'a>(
    world: &'a mut World,
    caller: &Caller,
    contact_id: &str,
) -> Result<&'a mut Location, ApiError> {
    let loc_id = world
        .location_of_contact(contact_id)
        .map(str::to_owned)
        .ok_or_else(|| contact_not_found(contact_id))?;
    caller.location(&loc_id)?;
    world
        .locations
        .get_mut(&loc_id)
        .ok_or_else(|| contact_not_found(contact_id))
}

/// The location named in a request, after checking the caller may use it.
pub fn named_location<'a>(
    world: &'a mut World,
    caller: &Caller,
    location_id: &str,
) -> Result<&'a mut Location, ApiError> {
    caller.location(location_id)?;
    world
        .locations
        .get_mut(location_id)
        .ok_or_else(ApiError::forbidden_location)
}

// ---------------------------------------------------------------------------
// Writing contact fields
// ---------------------------------------------------------------------------

/// What an input changed, so the right webhooks go out.
#[derive(Debug, Default)]
struct Changes {
    fields: bool,
    tags: bool,
    dnd: bool,
}

/// Applies validated DTO fields to a contact's stored fields.
fn apply_fields(
    loc: &mut Location,
    target: &mut Map<String, Value>,
    input: &Map<String, Value>,
    rng: &mut impl rand::Rng,
) -> Changes {
    let mut changes = Changes::default();
    for (key, value) in input {
        match key.as_str() {
            "locationId" | "createNewIfDuplicateAllowed" => {}
            "tags" => {
                let mut tags: Vec<String> = Vec::new();
                for t in value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    let t = t.trim().to_lowercase();
                    if !t.is_empty() && !tags.contains(&t) {
                        tags.push(t);
                    }
                }
                loc.ensure_tags(&tags, rng);
                if target.get("tags") != Some(&json!(tags)) {
                    changes.tags = true;
                    target.insert("tags".into(), json!(tags));
                }
            }
            "customFields" => {
                let mut current: Vec<Value> = target
                    .get("customFields")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for item in value.as_array().into_iter().flatten() {
                    let field = item
                        .get("id")
                        .and_then(Value::as_str)
                        .and_then(|id| loc.custom_fields.get(id))
                        .or_else(|| {
                            item.get("key")
                                .and_then(Value::as_str)
                                .and_then(|k| loc.custom_field_by_key(k))
                        });
                    // GHL ignores values for fields it does not know.
                    let Some(field) = field else { continue };
                    let v = item
                        .get("field_value")
                        .or_else(|| item.get("fieldValue"))
                        .or_else(|| item.get("value"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    current
                        .retain(|c| c.get("id").and_then(Value::as_str) != Some(field.id.as_str()));
                    if !v.is_null() && v != json!("") {
                        current.push(json!({"id": field.id, "value": v}));
                    }
                }
                if target.get("customFields") != Some(&json!(current)) {
                    changes.fields = true;
                    target.insert("customFields".into(), json!(current));
                }
            }
            "phone" => {
                let v = value
                    .as_str()
                    .and_then(normalize_phone)
                    .map_or(Value::Null, Value::from);
                if target.get("phone") != Some(&v) {
                    changes.fields = true;
                    target.insert("phone".into(), v);
                }
            }
            "dnd" | "dndSettings" | "inboundDndSettings" => {
                if target.get(key) != Some(value) {
                    changes.dnd = true;
                    target.insert(key.clone(), value.clone());
                }
            }
            _ => {
                if target.get(key) != Some(value) {
                    changes.fields = true;
                    target.insert(key.clone(), value.clone());
                }
            }
        }
    }
    if input.contains_key("firstName") || input.contains_key("lastName") {
        let first = target
            .get("firstName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let last = target
            .get("lastName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !input.contains_key("name") {
            let full = format!("{first} {last}").trim().to_owned();
            target.insert(
                "name".into(),
                if full.is_empty() {
                    Value::Null
                } else {
                    json!(full)
                },
            );
        }
    }
    changes
}

/// The first existing contact that duplicates `input`, in priority order.
fn find_duplicate(
    loc: &Location,
    input: &Map<String, Value>,
    except: Option<&str>,
) -> Option<(String, MatchField)> {
    for field in &loc.duplicate_priority {
        let value = match field {
            MatchField::Email => input
                .get("email")
                .and_then(Value::as_str)
                .map(str::to_owned),
            MatchField::Phone => input
                .get("phone")
                .and_then(Value::as_str)
                .and_then(normalize_phone),
        };
        if let Some(value) = value.filter(|v| !v.is_empty())
            && let Some(c) = loc.find_by(*field, &value, except)
        {
            return Some((c.id.clone(), *field));
        }
    }
    None
}

fn duplicate_error(loc: &Location, id: &str, field: MatchField) -> ApiError {
    let name = loc
        .contacts
        .get(id)
        .map(Contact::display_name)
        .unwrap_or_default();
    ApiError::duplicate(id, &name, field.as_str())
}

fn new_contact(app: &App, loc: &mut Location, input: &Map<String, Value>) -> Contact {
    let mut rng = rand::rng();
    let added = loc.next_added();
    let mut contact = Contact {
        id: new_id(&mut rng),
        location_id: loc.id.clone(),
        date_added: added,
        date_updated: added,
        ..Contact::default()
    };
    contact.fields.insert("type".into(), json!("lead"));
    let _ = apply_fields(loc, &mut contact.fields, input, &mut rng);
    app.shared
        .outbox
        .emit("ContactCreate", &loc.id, contact.to_webhook());
    contact
}

fn emit_changes(app: &App, contact: &Contact, changes: &Changes) {
    let loc = &contact.location_id;
    if changes.fields || changes.tags || changes.dnd {
        app.shared
            .outbox
            .emit("ContactUpdate", loc, contact.to_webhook());
    }
    if changes.tags {
        app.shared
            .outbox
            .emit("ContactTagUpdate", loc, contact.to_webhook());
    }
    if changes.dnd {
        app.shared
            .outbox
            .emit("ContactDndUpdate", loc, contact.to_webhook());
    }
}

/// Updates an existing contact in place and emits the webhooks of what changed.
fn update_existing(
    app: &App,
    loc: &mut Location,
    id: &str,
    input: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let mut rng = rand::rng();
    let mut fields = loc
        .contacts
        .get(id)
        .map(|c| c.fields.clone())
        .ok_or_else(|| contact_not_found(id))?;
    let changes = apply_fields(loc, &mut fields, input, &mut rng);
    let contact = loc
        .contacts
        .get_mut(id)
        .ok_or_else(|| contact_not_found(id))?;
    contact.fields = fields;
    if changes.fields || changes.tags || changes.dnd {
        contact.date_updated = Utc::now();
    }
    let contact = contact.clone();
    emit_changes(app, &contact, &changes);
    Ok(contact.to_json())
}

// ---------------------------------------------------------------------------
// Contacts
// ---------------------------------------------------------------------------

/// POST /contacts/ (create-contact).
pub async fn create_contact(State(app): State<App>, caller: Caller, Body(body): Body) -> ApiResult {
    caller.require(WRITE)?;
    let input = validate::check(&body, &validate::create_contact())?;
    let location_id = input
        .get("locationId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    if !loc.allow_duplicates
        && let Some((id, field)) = find_duplicate(loc, &input, None)
    {
        return Err(duplicate_error(loc, &id, field));
    }
    let contact = new_contact(&app, loc, &input);
    let out = contact.to_json();
    loc.contacts.insert(contact.id.clone(), contact);
    inner.rt.dirty = true;
    created(json!({"contact": out}))
}

/// GET /contacts/{contactId} (get-contact).
pub async fn get_contact(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require(READ)?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    let contact = loc
        .contacts
        .get(&id)
        .ok_or_else(|| contact_not_found(&id))?;
    ok(json!({"contact": contact.to_json()}))
}

/// PUT /contacts/{contactId} (update-contact).
pub async fn update_contact(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    caller.require(WRITE)?;
    let input = validate::check(&body, &validate::update_contact())?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    if !loc.allow_duplicates
        && let Some((dup, field)) = find_duplicate(loc, &input, Some(&id))
    {
        return Err(duplicate_error(loc, &dup, field));
    }
    let contact = update_existing(&app, loc, &id, &input)?;
    inner.rt.dirty = true;
    ok(json!({"succeded": true, "contact": contact}))
}

/// DELETE /contacts/{contactId} (delete-contact).
pub async fn delete_contact(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require(WRITE)?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    let contact = loc
        .contacts
        .shift_remove(&id)
        .ok_or_else(|| contact_not_found(&id))?;
    loc.deleted_contacts.insert(id.clone());
    loc.tasks.retain(|_, t| t.contact_id != id);
    loc.notes.retain(|_, n| n.contact_id != id);
    app.shared
        .outbox
        .emit("ContactDelete", &loc.id, contact.to_webhook());
    inner.rt.dirty = true;
    ok(json!({"succeded": true}))
}

/// POST /contacts/upsert (upsert-contact).
pub async fn upsert_contact(State(app): State<App>, caller: Caller, Body(body): Body) -> ApiResult {
    caller.require(WRITE)?;
    let mut input = validate::check(&body, &validate::upsert_contact())?;
    let location_id = input
        .get("locationId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let always_new = loc.allow_duplicates
        && input
            .get("createNewIfDuplicateAllowed")
            .and_then(Value::as_bool)
            == Some(true);
    let matched = if always_new {
        None
    } else {
        find_duplicate(loc, &input, None)
    };
    let (is_new, contact) = match matched {
        Some((id, _field)) => {
            // A second identifier that belongs to another contact is ignored, not merged.
            if let Some((other, field)) = find_duplicate(loc, &input, Some(&id))
                && other != id
            {
                input.remove(field.as_str());
            }
            // Upsert silently drops gender on existing contacts.
            input.remove("gender");
            (false, update_existing(&app, loc, &id, &input)?)
        }
        None => {
            let contact = new_contact(&app, loc, &input);
            let out = contact.to_json();
            loc.contacts.insert(contact.id.clone(), contact);
            (true, out)
        }
    };
    inner.rt.dirty = true;
    let trace = uuid::Uuid::new_v4().to_string();
    ok(json!({"new": is_new, "contact": contact, "traceId": trace}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DuplicateQuery {
    location_id: Option<String>,
    number: Option<String>,
    email: Option<String>,
}

/// GET /contacts/search/duplicate (get-duplicate-contact).
pub async fn duplicate(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<DuplicateQuery>,
) -> ApiResult {
    caller.require(READ)?;
    let Some(location_id) = q.location_id else {
        return Err(ApiError::unprocessable(vec![
            "locationId should not be empty".to_owned(),
            "locationId must be a string".to_owned(),
        ]));
    };
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let mut input = Map::new();
    if let Some(e) = q.email {
        input.insert("email".into(), json!(e));
    }
    if let Some(n) = q.number {
        input.insert("phone".into(), json!(n));
    }
    let found = find_duplicate(loc, &input, None)
        .and_then(|(id, _)| loc.contacts.get(&id))
        .map(Contact::to_json);
    ok(json!({"contact": found}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    location_id: Option<String>,
    limit: Option<String>,
    start_after: Option<String>,
    start_after_id: Option<String>,
    query: Option<String>,
}

fn added_ms(c: &Contact) -> i64 {
    c.date_added.timestamp_millis()
}

fn matches_query(c: &Contact, q: &str) -> bool {
    let q = q.to_lowercase();
    [
        "firstName",
        "lastName",
        "name",
        "email",
        "phone",
        "companyName",
    ]
    .iter()
    .filter_map(|k| c.str_field(k))
    .any(|v| v.to_lowercase().contains(&q))
}

/// GET /contacts/ (get-contacts, deprecated): cursor by `startAfter` + `startAfterId`.
pub async fn list_contacts(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    caller.require(READ)?;
    let Some(location_id) = q.location_id.clone() else {
        return Err(ApiError::unprocessable(vec![
            "locationId should not be empty".to_owned(),
        ]));
    };
    let limit = match q.limit.as_deref() {
        None => 20,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n > 100 => {
                return Err(ApiError::unprocessable(vec![
                    "limit must not be greater than 100".to_owned(),
                ]));
            }
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(ApiError::unprocessable(vec![
                    "limit must be a positive number".to_owned(),
                ]));
            }
        },
    };
    let after = match q.start_after.as_deref() {
        None | Some("") => None,
        Some(s) => Some(s.parse::<i64>().map_err(|_| {
            ApiError::unprocessable(vec!["startAfter must be a number".to_owned()])
        })?),
    };
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let mut all: Vec<&Contact> = loc
        .contacts
        .values()
        .filter(|c| {
            q.query
                .as_deref()
                .is_none_or(|s| s.is_empty() || matches_query(c, s))
        })
        .collect();
    all.sort_by(|a, b| added_ms(a).cmp(&added_ms(b)).then_with(|| a.id.cmp(&b.id)));
    let total = all.len();
    let start = match after {
        None => 0,
        Some(ms) => {
            let id = q.start_after_id.clone().unwrap_or_default();
            all.iter()
                .position(|c| (added_ms(c), c.id.as_str()) > (ms, id.as_str()))
                .unwrap_or(total)
        }
    };
    let page: Vec<&Contact> = all.iter().skip(start).take(limit).copied().collect();
    let current_page = start / limit + 1;
    let has_more = start + page.len() < total;
    let (next_after, next_id, next_url) = match page.last() {
        Some(last) if has_more => {
            let url = format!(
                "{}/contacts/?locationId={location_id}&limit={limit}&startAfter={}&startAfterId={}",
                app.shared.base_url,
                added_ms(last),
                last.id
            );
            (json!(added_ms(last)), json!(last.id), json!(url))
        }
        _ => (Value::Null, Value::Null, Value::Null),
    };
    let contacts: Vec<Value> = page.iter().map(|c| list_item(c)).collect();
    ok(json!({
        "contacts": contacts,
        "count": total,
        "meta": {
            "total": total,
            "nextPageUrl": next_url,
            "startAfterId": next_id,
            "startAfter": next_after,
            "currentPage": current_page,
            "nextPage": if has_more { json!(current_page + 1) } else { Value::Null },
            "prevPage": if current_page > 1 { json!(current_page - 1) } else { Value::Null },
        }
    }))
}

/// A contact in list answers (ContactsSearchSchema plus the usual name fields).
fn list_item(c: &Contact) -> Value {
    let mut v = c.to_json();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("attributions".into(), json!([]));
    }
    v
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessQuery {
    location_id: Option<String>,
    limit: Option<String>,
    skip: Option<String>,
    query: Option<String>,
}

/// GET /contacts/business/{businessId} (get-contacts-by-businessId): offset paging.
pub async fn by_business(
    State(app): State<App>,
    caller: Caller,
    Path(business_id): Path<String>,
    Query(q): Query<BusinessQuery>,
) -> ApiResult {
    caller.require(READ)?;
    let Some(location_id) = q.location_id else {
        return Err(ApiError::unprocessable(vec![
            "locationId should not be empty".to_owned(),
        ]));
    };
    let limit = q
        .limit
        .as_deref()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let skip = q
        .skip
        .as_deref()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    if !loc.businesses.iter().any(|b| b.id == business_id) {
        return Err(ApiError::bad_request(format!(
            "Business with id {business_id} not found"
        )));
    }
    let all: Vec<&Contact> = loc
        .contacts
        .values()
        .filter(|c| c.str_field("businessId") == Some(business_id.as_str()))
        .filter(|c| {
            q.query
                .as_deref()
                .is_none_or(|s| s.is_empty() || matches_query(c, s))
        })
        .collect();
    let contacts: Vec<Value> = all
        .iter()
        .skip(skip)
        .take(limit)
        .map(|c| list_item(c))
        .collect();
    ok(json!({"contacts": contacts, "count": all.len()}))
}

// ---------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------

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
pub async fn search(State(app): State<App>, caller: Caller, Body(body): Body) -> ApiResult {
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
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let mut docs = Vec::new();
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
            docs.push((key, doc));
        }
    }
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
    docs.sort_by(|a, b| order(&a.0, &b.0));
    let total = docs.len();
    let start = match &search_after {
        Some(cursor) => docs
            .iter()
            .position(|(k, _)| order(k, cursor) == Ordering::Greater)
            .unwrap_or(total),
        None => usize::try_from((page - 1) * page_limit).unwrap_or(usize::MAX),
    };
    let contacts: Vec<Value> = docs
        .into_iter()
        .skip(start)
        .take(usize::try_from(page_limit).unwrap_or(500))
        .map(|(key, mut doc)| {
            doc["searchAfter"] = json!(key);
            doc
        })
        .collect();
    ok(json!({"contacts": contacts, "total": total, "traceId": uuid::Uuid::new_v4().to_string()}))
}

// ---------------------------------------------------------------------------
// Tags, followers, campaigns, workflows
// ---------------------------------------------------------------------------

const TAGS_PROPS: &[validate::Prop] = &[req("tags", Kind::StrArray)];

fn change_tags(
    app: &App,
    caller: &Caller,
    id: &str,
    body: &Value,
    add: bool,
) -> Result<Value, ApiError> {
    caller.require(WRITE)?;
    let input = validate::check(body, TAGS_PROPS)?;
    let given: Vec<String> = input["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, caller, id)?;
    let mut tags = loc
        .contacts
        .get(id)
        .ok_or_else(|| contact_not_found(id))?
        .tags();
    if add {
        for t in &given {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
    } else {
        tags.retain(|t| !given.contains(t));
    }
    let mut input = Map::new();
    input.insert("tags".into(), json!(tags));
    update_existing(app, loc, id, &input)?;
    inner.rt.dirty = true;
    Ok(json!({"tags": tags}))
}

/// POST /contacts/{contactId}/tags (add-tags).
pub async fn add_tags(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    created(change_tags(&app, &caller, &id, &body, true)?)
}

/// DELETE /contacts/{contactId}/tags (remove-tags).
pub async fn remove_tags(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    ok(change_tags(&app, &caller, &id, &body, false)?)
}

const FOLLOWERS_PROPS: &[validate::Prop] = &[req("followers", Kind::StrArray)];

fn change_followers(
    app: &App,
    caller: &Caller,
    id: &str,
    body: &Value,
    add: bool,
) -> Result<Value, ApiError> {
    caller.require(WRITE)?;
    let input = validate::check(body, FOLLOWERS_PROPS)?;
    let given: Vec<String> = input["followers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, caller, id)?;
    if let Some(unknown) = given.iter().find(|u| !loc.has_user(u)) {
        return Err(ApiError::bad_request(format!(
            "User with id {unknown} not found in this location"
        )));
    }
    let contact = loc
        .contacts
        .get_mut(id)
        .ok_or_else(|| contact_not_found(id))?;
    let mut changed = Vec::new();
    for u in given {
        let present = contact.followers.contains(&u);
        if add && !present {
            contact.followers.push(u.clone());
            changed.push(u);
        } else if !add && present {
            contact.followers.retain(|f| *f != u);
            changed.push(u);
        }
    }
    let followers = contact.followers.clone();
    inner.rt.dirty = true;
    let key = if add {
        "followersAdded"
    } else {
        "followersRemoved"
    };
    Ok(json!({"followers": followers, key: changed}))
}

/// POST /contacts/{contactId}/followers (add-followers-contact).
pub async fn add_followers(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    created(change_followers(&app, &caller, &id, &body, true)?)
}

/// DELETE /contacts/{contactId}/followers (remove-followers-contact).
pub async fn remove_followers(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    ok(change_followers(&app, &caller, &id, &body, false)?)
}

/// Whether a campaign/workflow change adds or removes membership.
#[derive(Debug, Clone, Copy)]
enum Membership {
    Campaign,
    Workflow,
}

fn change_membership(
    app: &App,
    caller: &Caller,
    contact_id: &str,
    target: Option<&str>,
    kind: Membership,
    add: bool,
    body: &Value,
) -> Result<Value, ApiError> {
    caller.require(WRITE)?;
    match kind {
        Membership::Campaign if add => {
            validate::check(body, &[])?;
        }
        Membership::Campaign => {}
        Membership::Workflow => {
            validate::check(body, &[opt("eventStartTime", Kind::Str)])?;
        }
    }
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, caller, contact_id)?;
    if let Some(t) = target {
        let (known, what) = match kind {
            Membership::Campaign => (loc.campaigns.iter().any(|c| c.id == t), "Campaign"),
            Membership::Workflow => (loc.workflows.iter().any(|w| w.id == t), "Workflow"),
        };
        if !known {
            return Err(ApiError::bad_request(format!(
                "{what} with id {t} not found"
            )));
        }
    }
    let contact = loc
        .contacts
        .get_mut(contact_id)
        .ok_or_else(|| contact_not_found(contact_id))?;
    let set = match kind {
        Membership::Campaign => &mut contact.campaigns,
        Membership::Workflow => &mut contact.workflows,
    };
    match (target, add) {
        (Some(t), true) => {
            set.insert(t.to_owned());
        }
        (Some(t), false) => {
            set.remove(t);
        }
        (None, _) => set.clear(),
    }
    inner.rt.dirty = true;
    Ok(json!({"succeded": true}))
}

type TwoIds = Path<(String, String)>;

/// POST /contacts/{contactId}/campaigns/{campaignId} (add-contact-to-campaign).
pub async fn add_campaign(
    State(app): State<App>,
    caller: Caller,
    Path((id, c)): TwoIds,
    Body(body): Body,
) -> ApiResult {
    created(change_membership(
        &app,
        &caller,
        &id,
        Some(&c),
        Membership::Campaign,
        true,
        &body,
    )?)
}

/// DELETE /contacts/{contactId}/campaigns/{campaignId} (remove-contact-from-campaign).
pub async fn remove_campaign(
    State(app): State<App>,
    caller: Caller,
    Path((id, c)): TwoIds,
    Body(body): Body,
) -> ApiResult {
    ok(change_membership(
        &app,
        &caller,
        &id,
        Some(&c),
        Membership::Campaign,
        false,
        &body,
    )?)
}

/// DELETE /contacts/{contactId}/campaigns/removeAll (remove-contact-from-every-campaign).
pub async fn remove_all_campaigns(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    ok(change_membership(
        &app,
        &caller,
        &id,
        None,
        Membership::Campaign,
        false,
        &body,
    )?)
}

/// POST /contacts/{contactId}/workflow/{workflowId} (add-contact-to-workflow).
pub async fn add_workflow(
    State(app): State<App>,
    caller: Caller,
    Path((id, w)): TwoIds,
    Body(body): Body,
) -> ApiResult {
    ok(change_membership(
        &app,
        &caller,
        &id,
        Some(&w),
        Membership::Workflow,
        true,
        &body,
    )?)
}

/// DELETE /contacts/{contactId}/workflow/{workflowId} (delete-contact-from-workflow).
pub async fn remove_workflow(
    State(app): State<App>,
    caller: Caller,
    Path((id, w)): TwoIds,
    Body(body): Body,
) -> ApiResult {
    ok(change_membership(
        &app,
        &caller,
        &id,
        Some(&w),
        Membership::Workflow,
        false,
        &body,
    )?)
}

// ---------------------------------------------------------------------------
// Bulk
// ---------------------------------------------------------------------------

const BULK_TAGS_PROPS: &[validate::Prop] = &[
    req("contacts", Kind::StrArray),
    req("tags", Kind::StrArray),
    req("locationId", Kind::Str),
    opt("removeAllTags", Kind::Bool),
];

/// POST /contacts/bulk/tags/update/{type} (create-association): `type` is add or remove.
pub async fn bulk_tags(
    State(app): State<App>,
    caller: Caller,
    Path(kind): Path<String>,
    Body(body): Body,
) -> ApiResult {
    caller.require(WRITE)?;
    let add = match kind.as_str() {
        "add" => true,
        "remove" => false,
        other => {
            return Err(ApiError::unprocessable(vec![format!(
                "type must be one of the following values: add, remove (got {other})"
            )]));
        }
    };
    let input = validate::check(&body, BULK_TAGS_PROPS)?;
    let remove_all = input.get("removeAllTags").and_then(Value::as_bool) == Some(true);
    if remove_all && add {
        return Err(ApiError::unprocessable(vec![
            "removeAllTags can only be used with remove type".to_owned(),
        ]));
    }
    let location_id = input["locationId"].as_str().unwrap_or_default().to_owned();
    let strings = |k: &str| -> Vec<String> {
        input[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    let ids = strings("contacts");
    let tags: Vec<String> = strings("tags")
        .iter()
        .map(|t| t.trim().to_lowercase())
        .collect();
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let mut responses = Vec::new();
    let mut errors = 0;
    for id in ids {
        let fail = |msg: &str| json!({"contactId": id, "message": msg, "type": "error"});
        if !is_firebase_id(&id) {
            responses.push(fail("contact id is not a valid firebase id"));
        } else if loc.deleted_contacts.contains(&id) {
            responses.push(fail("contact is deleted"));
        } else if !loc.contacts.contains_key(&id) {
            responses.push(fail("contact does not belong to location"));
        } else {
            let old = loc.contacts[&id].tags();
            let mut new = old.clone();
            let (mut added, mut removed) = (Vec::new(), Vec::new());
            if add {
                for t in &tags {
                    if !new.contains(t) {
                        new.push(t.clone());
                        added.push(t.clone());
                    }
                }
            } else {
                let drop: Vec<String> = if remove_all {
                    old.clone()
                } else {
                    tags.clone()
                };
                new.retain(|t| !drop.contains(t));
                removed = old.iter().filter(|t| !new.contains(t)).cloned().collect();
            }
            let mut change = Map::new();
            change.insert("tags".into(), json!(new));
            update_existing(&app, loc, &id, &change)?;
            responses.push(json!({
                "contactId": id, "message": "Tags updated", "type": "success",
                "oldTags": old, "tagsAdded": added, "tagsRemoved": removed,
            }));
            continue;
        }
        errors += 1;
    }
    inner.rt.dirty = true;
    created(json!({"succeded": errors == 0, "errorCount": errors, "responses": responses}))
}

const BULK_BUSINESS_PROPS: &[validate::Prop] = &[
    req("locationId", Kind::Str),
    req("ids", Kind::StrArray),
    opt("businessId", Kind::NullableStr),
];

/// POST /contacts/bulk/business (add-remove-contact-from-business); null businessId removes.
pub async fn bulk_business(State(app): State<App>, caller: Caller, Body(body): Body) -> ApiResult {
    caller.require(WRITE)?;
    let input = validate::check(&body, BULK_BUSINESS_PROPS)?;
    if !input.contains_key("businessId") {
        return Err(ApiError::unprocessable(vec![
            "businessId must be a string".to_owned(),
        ]));
    }
    let location_id = input["locationId"].as_str().unwrap_or_default().to_owned();
    let business = input["businessId"].as_str().map(str::to_owned);
    let ids: Vec<String> = input["ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    if let Some(b) = &business
        && !loc.businesses.iter().any(|x| &x.id == b)
    {
        return Err(ApiError::bad_request(format!(
            "Business with id {b} not found"
        )));
    }
    if let Some(missing) = ids.iter().find(|id| !loc.contacts.contains_key(*id)) {
        return Err(ApiError::bad_request(format!(
            "Contact with id {missing} not found in this location"
        )));
    }
    for id in &ids {
        let mut change = Map::new();
        change.insert(
            "businessId".into(),
            business.clone().map_or(Value::Null, Value::from),
        );
        update_existing(&app, loc, id, &change)?;
    }
    inner.rt.dirty = true;
    ok(json!({"success": true, "ids": ids}))
}

// ---------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------

const CREATE_TASK: &[validate::Prop] = &[
    req("title", Kind::Str),
    opt("body", Kind::Str),
    req("dueDate", Kind::Str),
    req("completed", Kind::Bool),
    opt("assignedTo", Kind::Str),
];
const UPDATE_TASK: &[validate::Prop] = &[
    opt("title", Kind::Str),
    opt("body", Kind::Str),
    opt("dueDate", Kind::Str),
    opt("completed", Kind::Bool),
    opt("assignedTo", Kind::Str),
];

fn check_date(value: Option<&Value>, name: &str) -> Result<(), ApiError> {
    if let Some(s) = value.and_then(Value::as_str)
        && DateTime::parse_from_rfc3339(s).is_err()
    {
        return Err(ApiError::unprocessable(vec![format!(
            "{name} must be a valid ISO 8601 date string"
        )]));
    }
    Ok(())
}

fn task_webhook(t: &Task) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in [
        ("id", json!(t.id)),
        ("assignedTo", json!(t.assigned_to)),
        ("body", json!(t.body)),
        ("contactId", json!(t.contact_id)),
        ("title", json!(t.title)),
        ("dateAdded", json!(super::state::iso(t.date_added))),
        ("dueDate", json!(t.due_date)),
    ] {
        m.insert(k.into(), v);
    }
    m
}

fn task_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Task with id {id} not found"))
}

fn task_mut<'a>(
    loc: &'a mut Location,
    contact_id: &str,
    task_id: &str,
) -> Result<&'a mut Task, ApiError> {
    loc.tasks
        .get_mut(task_id)
        .filter(|t| t.contact_id == contact_id)
        .ok_or_else(|| task_not_found(task_id))
}

/// GET /contacts/{contactId}/tasks (get-all-tasks).
pub async fn list_tasks(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require(READ)?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    let tasks: Vec<Value> = loc
        .tasks
        .values()
        .filter(|t| t.contact_id == id)
        .map(Task::to_json)
        .collect();
    ok(json!({"tasks": tasks}))
}

/// POST /contacts/{contactId}/tasks (create-task).
pub async fn create_task(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    caller.require(WRITE)?;
    let input = validate::check(&body, CREATE_TASK)?;
    check_date(input.get("dueDate"), "dueDate")?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    let assigned = input
        .get("assignedTo")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(u) = assigned.as_deref().filter(|u| !loc.has_user(u)) {
        return Err(ApiError::bad_request(format!(
            "User with id {u} not found in this location"
        )));
    }
    let task = Task {
        id: new_id(&mut rand::rng()),
        contact_id: id,
        title: input["title"].as_str().unwrap_or_default().to_owned(),
        body: input.get("body").and_then(Value::as_str).map(str::to_owned),
        assigned_to: assigned,
        due_date: input["dueDate"].as_str().unwrap_or_default().to_owned(),
        completed: input["completed"].as_bool().unwrap_or(false),
        date_added: Utc::now(),
    };
    app.shared
        .outbox
        .emit("TaskCreate", &loc.id, task_webhook(&task));
    if task.completed {
        app.shared
            .outbox
            .emit("TaskComplete", &loc.id, task_webhook(&task));
    }
    let out = task.to_json();
    loc.tasks.insert(task.id.clone(), task);
    inner.rt.dirty = true;
    created(json!({"task": out}))
}

/// GET /contacts/{contactId}/tasks/{taskId} (get-task).
pub async fn get_task(
    State(app): State<App>,
    caller: Caller,
    Path((id, task_id)): TwoIds,
) -> ApiResult {
    caller.require(READ)?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    let task = task_mut(loc, &id, &task_id)?;
    ok(json!({"task": task.to_json()}))
}

fn write_task(
    app: &App,
    caller: &Caller,
    id: &str,
    task_id: &str,
    input: &Map<String, Value>,
) -> ApiResult {
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, caller, id)?;
    if let Some(u) = input
        .get("assignedTo")
        .and_then(Value::as_str)
        .filter(|u| !loc.has_user(u))
    {
        return Err(ApiError::bad_request(format!(
            "User with id {u} not found in this location"
        )));
    }
    let loc_id = loc.id.clone();
    let task = task_mut(loc, id, task_id)?;
    let was_completed = task.completed;
    if let Some(v) = input.get("title").and_then(Value::as_str) {
        v.clone_into(&mut task.title);
    }
    if let Some(v) = input.get("body") {
        task.body = v.as_str().map(str::to_owned);
    }
    if let Some(v) = input.get("dueDate").and_then(Value::as_str) {
        v.clone_into(&mut task.due_date);
    }
    if let Some(v) = input.get("completed").and_then(Value::as_bool) {
        task.completed = v;
    }
    if let Some(v) = input.get("assignedTo") {
        task.assigned_to = v.as_str().map(str::to_owned);
    }
    if task.completed && !was_completed {
        app.shared
            .outbox
            .emit("TaskComplete", &loc_id, task_webhook(task));
    }
    let out = task.to_json();
    inner.rt.dirty = true;
    ok(json!({"task": out}))
}

/// PUT /contacts/{contactId}/tasks/{taskId} (update-task).
pub async fn update_task(
    State(app): State<App>,
    caller: Caller,
    Path((id, task_id)): TwoIds,
    Body(body): Body,
) -> ApiResult {
    caller.require(WRITE)?;
    let input = validate::check(&body, UPDATE_TASK)?;
    check_date(input.get("dueDate"), "dueDate")?;
    write_task(&app, &caller, &id, &task_id, &input)
}

/// PUT /contacts/{contactId}/tasks/{taskId}/completed (update-task-completed).
pub async fn complete_task(
    State(app): State<App>,
    caller: Caller,
    Path((id, task_id)): TwoIds,
    Body(body): Body,
) -> ApiResult {
    caller.require(WRITE)?;
    let input = validate::check(&body, &[req("completed", Kind::Bool)])?;
    write_task(&app, &caller, &id, &task_id, &input)
}

/// DELETE /contacts/{contactId}/tasks/{taskId} (delete-task).
pub async fn delete_task(
    State(app): State<App>,
    caller: Caller,
    Path((id, task_id)): TwoIds,
) -> ApiResult {
    caller.require(WRITE)?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    task_mut(loc, &id, &task_id)?;
    if let Some(task) = loc.tasks.shift_remove(&task_id) {
        app.shared
            .outbox
            .emit("TaskDelete", &loc.id, task_webhook(&task));
    }
    inner.rt.dirty = true;
    ok(json!({"succeded": true}))
}

// ---------------------------------------------------------------------------
// Notes
// ---------------------------------------------------------------------------

const CREATE_NOTE: &[validate::Prop] = &[
    opt("userId", Kind::Str),
    req("body", Kind::Str),
    opt("title", Kind::Str),
    opt("color", Kind::Str),
    opt("pinned", Kind::Bool),
];
const UPDATE_NOTE: &[validate::Prop] = &[
    opt("userId", Kind::Str),
    opt("body", Kind::Str),
    opt("title", Kind::Str),
    opt("color", Kind::Str),
    opt("pinned", Kind::Bool),
];

fn note_webhook(n: &Note) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(n.id));
    m.insert("body".into(), json!(n.body));
    m.insert("contactId".into(), json!(n.contact_id));
    m.insert("dateAdded".into(), json!(super::state::iso(n.date_added)));
    m
}

fn note_mut<'a>(
    loc: &'a mut Location,
    contact_id: &str,
    note_id: &str,
) -> Result<&'a mut Note, ApiError> {
    loc.notes
        .get_mut(note_id)
        .filter(|n| n.contact_id == contact_id)
        .ok_or_else(|| ApiError::not_found(format!("Note with id {note_id} not found")))
}

fn check_user(loc: &Location, input: &Map<String, Value>) -> Result<(), ApiError> {
    match input.get("userId").and_then(Value::as_str) {
        Some(u) if !loc.has_user(u) => Err(ApiError::bad_request(format!(
            "User with id {u} not found in this location"
        ))),
        _ => Ok(()),
    }
}

/// GET /contacts/{contactId}/notes (get-all-notes).
pub async fn list_notes(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require(READ)?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    let notes: Vec<Value> = loc
        .notes
        .values()
        .filter(|n| n.contact_id == id)
        .map(Note::to_json)
        .collect();
    ok(json!({"notes": notes}))
}

/// POST /contacts/{contactId}/notes (create-note).
pub async fn create_note(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    caller.require(WRITE)?;
    let input = validate::check(&body, CREATE_NOTE)?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    check_user(loc, &input)?;
    let note = Note {
        id: new_id(&mut rand::rng()),
        contact_id: id,
        body: input["body"].as_str().unwrap_or_default().to_owned(),
        user_id: input
            .get("userId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        title: input
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_owned),
        color: input
            .get("color")
            .and_then(Value::as_str)
            .map(str::to_owned),
        pinned: input
            .get("pinned")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        date_added: Utc::now(),
    };
    app.shared
        .outbox
        .emit("NoteCreate", &loc.id, note_webhook(&note));
    let out = note.to_json();
    loc.notes.insert(note.id.clone(), note);
    inner.rt.dirty = true;
    created(json!({"note": out}))
}

/// GET /contacts/{contactId}/notes/{id} (get-note).
pub async fn get_note(
    State(app): State<App>,
    caller: Caller,
    Path((id, note_id)): TwoIds,
) -> ApiResult {
    caller.require(READ)?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    let note = note_mut(loc, &id, &note_id)?;
    ok(json!({"note": note.to_json()}))
}

/// PUT /contacts/{contactId}/notes/{id} (update-note).
pub async fn update_note(
    State(app): State<App>,
    caller: Caller,
    Path((id, note_id)): TwoIds,
    Body(body): Body,
) -> ApiResult {
    caller.require(WRITE)?;
    let input = validate::check(&body, UPDATE_NOTE)?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    check_user(loc, &input)?;
    let loc_id = loc.id.clone();
    let note = note_mut(loc, &id, &note_id)?;
    if let Some(v) = input.get("body").and_then(Value::as_str) {
        v.clone_into(&mut note.body);
    }
    if let Some(v) = input.get("userId") {
        note.user_id = v.as_str().map(str::to_owned);
    }
    if let Some(v) = input.get("title") {
        note.title = v.as_str().map(str::to_owned);
    }
    if let Some(v) = input.get("color") {
        note.color = v.as_str().map(str::to_owned);
    }
    if let Some(v) = input.get("pinned").and_then(Value::as_bool) {
        note.pinned = v;
    }
    app.shared
        .outbox
        .emit("NoteUpdate", &loc_id, note_webhook(note));
    let out = note.to_json();
    inner.rt.dirty = true;
    ok(json!({"note": out}))
}

/// DELETE /contacts/{contactId}/notes/{id} (delete-note).
pub async fn delete_note(
    State(app): State<App>,
    caller: Caller,
    Path((id, note_id)): TwoIds,
) -> ApiResult {
    caller.require(WRITE)?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    note_mut(loc, &id, &note_id)?;
    if let Some(note) = loc.notes.shift_remove(&note_id) {
        app.shared
            .outbox
            .emit("NoteDelete", &loc.id, note_webhook(&note));
    }
    inner.rt.dirty = true;
    ok(json!({"succeded": true}))
}

/// GET /contacts/{contactId}/appointments (get-appointments-for-contact).
pub async fn contact_appointments(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require(READ)?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    let events: Vec<Value> = loc
        .appointments
        .values()
        .filter(|a| a.contact_id == id)
        .map(super::state::Appointment::to_contact_event_json)
        .collect();
    ok(json!({"events": events}))
}
