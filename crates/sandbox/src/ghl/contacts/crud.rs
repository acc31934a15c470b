//! A contact itself: create, get, update, delete and upsert under GHL's duplicate
//! rules, the duplicate search, the two list endpoints (`GET /contacts/` with its
//! `startAfter` cursor, and the contacts of a business) and a contact's appointments.

use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::fields::{new_contact, update_existing};
use super::{READ, WRITE, contact_location, contact_not_found, matches_query, named_location};
use crate::ghl::App;
use crate::ghl::body::Body;
use crate::ghl::http::{ApiError, ApiResult, Caller, created, ok};
use crate::ghl::state::{Appointment, Contact, Location, MatchField};
use crate::ghl::validate::{self, normalize_phone};

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

/// POST /contacts/ (create-contact).
pub(super) async fn create_contact(
    State(app): State<App>,
    caller: Caller,
    Body(body): Body,
) -> ApiResult {
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
    loc.add_contact(contact);
    inner.rt.touch();
    created(json!({"contact": out}))
}

/// GET /contacts/{contactId} (get-contact).
pub(super) async fn get_contact(
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
pub(super) async fn update_contact(
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
    inner.rt.touch();
    ok(json!({"succeded": true, "contact": contact}))
}

/// DELETE /contacts/{contactId} (delete-contact).
pub(super) async fn delete_contact(
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
    inner.rt.touch();
    ok(json!({"succeded": true}))
}

/// POST /contacts/upsert (upsert-contact).
pub(super) async fn upsert_contact(
    State(app): State<App>,
    caller: Caller,
    Body(body): Body,
) -> ApiResult {
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
            loc.add_contact(contact);
            (true, out)
        }
    };
    inner.rt.touch();
    let trace = uuid::Uuid::new_v4().to_string();
    ok(json!({"new": is_new, "contact": contact, "traceId": trace}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DuplicateQuery {
    location_id: Option<String>,
    number: Option<String>,
    email: Option<String>,
}

/// GET /contacts/search/duplicate (get-duplicate-contact).
pub(super) async fn duplicate(
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
pub(super) struct ListQuery {
    location_id: Option<String>,
    limit: Option<String>,
    start_after: Option<String>,
    start_after_id: Option<String>,
    query: Option<String>,
}

fn added_ms(c: &Contact) -> i64 {
    c.date_added.timestamp_millis()
}

/// GET /contacts/ (get-contacts, deprecated): cursor by `startAfter` + `startAfterId`.
pub(super) async fn list_contacts(
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
pub(super) struct BusinessQuery {
    location_id: Option<String>,
    limit: Option<String>,
    skip: Option<String>,
    query: Option<String>,
}

/// GET /contacts/business/{businessId} (get-contacts-by-businessId): offset paging.
pub(super) async fn by_business(
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

/// GET /contacts/{contactId}/appointments (get-appointments-for-contact).
pub(super) async fn contact_appointments(
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
        .map(Appointment::to_contact_event_json)
        .collect();
    ok(json!({"events": events}))
}
