//! Location custom fields and tags (`apps/locations.json`).

use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::body::Body;
use super::contacts::named_location;
use super::http::{ApiError, ApiResult, Caller, created, ok};
use super::state::{CustomField, Tag, new_id};
use super::validate::{self, Kind, opt, req};

const DATA_TYPES: &[&str] = &[
    "TEXT",
    "LARGE_TEXT",
    "NUMERICAL",
    "PHONE",
    "MONETORY",
    "CHECKBOX",
    "SINGLE_OPTIONS",
    "MULTIPLE_OPTIONS",
    "FLOAT",
    "TIME",
    "DATE",
    "TEXTBOX_LIST",
    "FILE_UPLOAD",
    "SIGNATURE",
    "EMAIL",
    "RADIO",
];

#[derive(Debug, Deserialize)]
pub struct ModelQuery {
    model: Option<String>,
}

/// GET /locations/{locationId}/customFields (get-custom-fields).
pub async fn list_fields(
    State(app): State<App>,
    caller: Caller,
    Path(location_id): Path<String>,
    Query(q): Query<ModelQuery>,
) -> ApiResult {
    caller.require("locations/customFields.readonly")?;
    let model = q.model.unwrap_or_else(|| "all".to_owned());
    if !["contact", "opportunity", "all"].contains(&model.as_str()) {
        return Err(ApiError::unprocessable(vec![
            "model must be one of the following values: contact, opportunity, all".to_owned(),
        ]));
    }
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let fields: Vec<Value> = loc
        .custom_fields
        .values()
        .filter(|f| model == "all" || f.model == model)
        .map(|f| f.to_json(&location_id))
        .collect();
    ok(json!({"customFields": fields}))
}

fn snake(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_owned()
}

fn field_props(create: bool) -> Vec<validate::Prop> {
    let mut p = vec![
        req("name", Kind::Str),
        opt("placeholder", Kind::Str),
        opt("acceptedFormat", Kind::StrArray),
        opt("isMultipleFile", Kind::Bool),
        opt("maxNumberOfFiles", Kind::Num),
        opt("textBoxListOptions", Kind::Array),
        opt("position", Kind::Num),
        opt("model", Kind::Str),
        // Accepted though undocumented (confirmed by HighLevel on issue #300).
        opt("parentId", Kind::Str),
        opt("description", Kind::Str),
        opt("options", Kind::StrArray),
    ];
    if create {
        p.push(req("dataType", Kind::Str));
        p.push(opt("fieldKey", Kind::Str));
    }
    p
}

/// POST /locations/{locationId}/customFields (create-custom-field): 201.
pub async fn create_field(
    State(app): State<App>,
    caller: Caller,
    Path(location_id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    caller.require("locations/customFields.write")?;
    let input = validate::check(&body, &field_props(true))?;
    let data_type = input["dataType"].as_str().unwrap_or_default().to_owned();
    if !DATA_TYPES.contains(&data_type.as_str()) {
        return Err(ApiError::unprocessable(vec![format!(
            "dataType must be one of the following values: {}",
            DATA_TYPES.join(", ")
        )]));
    }
    let model = input
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("contact")
        .to_owned();
    let name = input["name"].as_str().unwrap_or_default().to_owned();
    let key = input
        .get("fieldKey")
        .and_then(Value::as_str)
        .map_or_else(|| format!("{model}.{}", snake(&name)), str::to_owned);
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    if loc.custom_fields.values().any(|f| f.field_key == key) {
        return Err(ApiError::bad_request(format!(
            "A custom field with key {key} already exists"
        )));
    }
    let field = CustomField {
        id: new_id(&mut rand::rng()),
        name,
        field_key: key,
        data_type,
        placeholder: input
            .get("placeholder")
            .and_then(Value::as_str)
            .map(str::to_owned),
        position: input.get("position").and_then(Value::as_i64).unwrap_or(0),
        model,
        picklist_options: input
            .get("options")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    };
    let out = field.to_json(&location_id);
    loc.custom_fields.insert(field.id.clone(), field);
    inner.rt.touch();
    created(json!({"customField": out}))
}

fn field_not_found(id: &str) -> ApiError {
    ApiError::bad_request(format!("Custom field with id {id} not found"))
}

/// GET /locations/{locationId}/customFields/{id} (get-custom-field).
pub async fn get_field(
    State(app): State<App>,
    caller: Caller,
    Path((location_id, id)): Path<(String, String)>,
) -> ApiResult {
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let field = loc
        .custom_fields
        .get(&id)
        .ok_or_else(|| field_not_found(&id))?;
    ok(json!({"customField": field.to_json(&location_id)}))
}

/// PUT /locations/{locationId}/customFields/{id} (update-custom-field).
pub async fn update_field(
    State(app): State<App>,
    caller: Caller,
    Path((location_id, id)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult {
    let input = validate::check(&body, &field_props(false))?;
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let field = loc
        .custom_fields
        .get_mut(&id)
        .ok_or_else(|| field_not_found(&id))?;
    if let Some(v) = input.get("name").and_then(Value::as_str) {
        v.clone_into(&mut field.name);
    }
    if let Some(v) = input.get("placeholder") {
        field.placeholder = v.as_str().map(str::to_owned);
    }
    if let Some(v) = input.get("position").and_then(Value::as_i64) {
        field.position = v;
    }
    let out = field.to_json(&location_id);
    inner.rt.touch();
    ok(json!({"customField": out}))
}

/// DELETE /locations/{locationId}/customFields/{id} (delete-custom-field).
pub async fn delete_field(
    State(app): State<App>,
    caller: Caller,
    Path((location_id, id)): Path<(String, String)>,
) -> ApiResult {
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    loc.custom_fields
        .shift_remove(&id)
        .ok_or_else(|| field_not_found(&id))?;
    for c in loc.contacts.values_mut() {
        if let Some(Value::Array(values)) = c.fields.get_mut("customFields") {
            values.retain(|v| v.get("id").and_then(Value::as_str) != Some(id.as_str()));
        }
    }
    inner.rt.touch();
    ok(json!({"succeded": true}))
}

fn tag_json(t: &Tag, location_id: &str) -> Value {
    json!({"name": t.name, "locationId": location_id, "id": t.id})
}

fn tag_not_found(id: &str) -> ApiError {
    ApiError::bad_request(format!("Tag with id {id} not found"))
}

/// GET /locations/{locationId}/tags (get-location-tags).
/// GET /users/?locationId= (get-user-by-location): the location's users, `{users}`.
pub async fn users(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<UsersQuery>,
) -> ApiResult {
    caller.require("users.readonly")?;
    let Some(location_id) = q.location_id.filter(|l| !l.is_empty()) else {
        return Err(ApiError::unprocessable(vec![
            "locationId should not be empty".to_owned(),
        ]));
    };
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let users: Vec<Value> = loc
        .users
        .iter()
        .map(|u| {
            let (first, last) = u.name.split_once(' ').unwrap_or((u.name.as_str(), ""));
            json!({
                "id": u.id,
                "name": u.name,
                "firstName": first,
                "lastName": last,
                "email": format!("{}.{}@{}.example", first.to_lowercase(), last.to_lowercase(), loc.id.to_lowercase()),
                "roles": {"type": "account", "role": "user", "locationIds": [loc.id]},
            })
        })
        .collect();
    ok(json!({"users": users}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersQuery {
    location_id: Option<String>,
}

pub async fn list_tags(
    State(app): State<App>,
    caller: Caller,
    Path(location_id): Path<String>,
) -> ApiResult {
    caller.require("locations/tags.readonly")?;
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let tags: Vec<Value> = loc
        .tags
        .values()
        .map(|t| tag_json(t, &location_id))
        .collect();
    ok(json!({"tags": tags}))
}

const TAG_PROPS: &[validate::Prop] = &[req("name", Kind::Str)];

/// POST /locations/{locationId}/tags (create-tag).
pub async fn create_tag(
    State(app): State<App>,
    caller: Caller,
    Path(location_id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    caller.require("locations/tags.write")?;
    let input = validate::check(&body, TAG_PROPS)?;
    let name = input["name"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    if loc.tags.values().any(|t| t.name == name) {
        return Err(ApiError::bad_request(format!("Tag {name} already exists")));
    }
    let tag = Tag {
        id: new_id(&mut rand::rng()),
        name,
    };
    let out = tag_json(&tag, &location_id);
    loc.tags.insert(tag.id.clone(), tag);
    inner.rt.touch();
    ok(json!({"tag": out}))
}

/// GET /locations/{locationId}/tags/{tagId} (get-tag-by-id).
pub async fn get_tag(
    State(app): State<App>,
    caller: Caller,
    Path((location_id, id)): Path<(String, String)>,
) -> ApiResult {
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let tag = loc.tags.get(&id).ok_or_else(|| tag_not_found(&id))?;
    ok(json!({"tag": tag_json(tag, &location_id)}))
}

/// PUT /locations/{locationId}/tags/{tagId} (update-tag): renames it on every contact too.
pub async fn update_tag(
    State(app): State<App>,
    caller: Caller,
    Path((location_id, id)): Path<(String, String)>,
    Body(body): Body,
) -> ApiResult {
    let input = validate::check(&body, TAG_PROPS)?;
    let name = input["name"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let tag = loc.tags.get_mut(&id).ok_or_else(|| tag_not_found(&id))?;
    let old = std::mem::replace(&mut tag.name, name.clone());
    let out = tag_json(tag, &location_id);
    for c in loc.contacts.values_mut() {
        let tags = c.tags();
        if tags.contains(&old) {
            let renamed = tags
                .into_iter()
                .map(|t| if t == old { name.clone() } else { t })
                .collect();
            c.set_tags(renamed);
        }
    }
    inner.rt.touch();
    ok(json!({"tag": out}))
}

/// DELETE /locations/{locationId}/tags/{tagId} (delete-tag): removes it from contacts too.
pub async fn delete_tag(
    State(app): State<App>,
    caller: Caller,
    Path((location_id, id)): Path<(String, String)>,
) -> ApiResult {
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let tag = loc
        .tags
        .shift_remove(&id)
        .ok_or_else(|| tag_not_found(&id))?;
    for c in loc.contacts.values_mut() {
        let mut tags = c.tags();
        if tags.contains(&tag.name) {
            tags.retain(|t| *t != tag.name);
            c.set_tags(tags);
        }
    }
    inner.rt.touch();
    ok(json!({"succeded": true}))
}

/// POST /locations/{locationId}/tasks/search (task-search): the location's tasks,
/// filtered by contacts, completion, assignees and a text in the title or body,
/// `skip` and `limit` (default 25) paging them in creation order.
pub async fn search_tasks(
    State(app): State<App>,
    caller: Caller,
    Path(location_id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    caller.require("locations/tasks.readonly")?;
    let input = validate::check(&body, TASK_SEARCH)?;
    let ids = |k: &str| -> Option<Vec<String>> {
        input.get(k).and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
    };
    let (contacts, assignees) = (ids("contactId"), ids("assignedTo"));
    let completed = input.get("completed").and_then(Value::as_bool);
    let query = input
        .get("query")
        .and_then(Value::as_str)
        .map(str::to_lowercase)
        .filter(|q| !q.is_empty());
    let count = |k: &str, default: u64| {
        input
            .get(k)
            .and_then(Value::as_f64)
            .map_or(default, |n| n.max(0.0) as u64)
    };
    let (skip, limit) = (count("skip", 0), count("limit", 25));
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let tasks: Vec<Value> = loc
        .tasks
        .values()
        .filter(|t| contacts.as_ref().is_none_or(|c| c.contains(&t.contact_id)))
        .filter(|t| {
            assignees
                .as_ref()
                .is_none_or(|a| t.assigned_to.as_ref().is_some_and(|u| a.contains(u)))
        })
        .filter(|t| completed.is_none_or(|c| t.completed == c))
        .filter(|t| {
            query.as_ref().is_none_or(|q| {
                t.title.to_lowercase().contains(q)
                    || t.body
                        .as_ref()
                        .is_some_and(|b| b.to_lowercase().contains(q))
            })
        })
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(super::state::Task::to_json)
        .collect();
    ok(json!({"tasks": tasks}))
}

const TASK_SEARCH: &[validate::Prop] = &[
    opt("contactId", Kind::StrArray),
    opt("completed", Kind::Bool),
    opt("assignedTo", Kind::StrArray),
    opt("query", Kind::Str),
    opt("limit", Kind::Num),
    opt("skip", Kind::Num),
    opt("businessId", Kind::Str),
];
