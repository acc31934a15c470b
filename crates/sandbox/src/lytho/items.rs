//! The Workflow Open API v1 routes: `/{type}/{id}`, batch get, search, users,
//! comments, descriptions, file URLs and JSON-Patch updates, for work requests,
//! tasks, projects, proofs and campaigns.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde_json::{Map, Value, json};

use super::http::{ApiError, ApiResult, QueryPairs, ok, page_of};
use super::patch::{self, PatchError};
use super::state::{Inner, Item, Kind, Presigned, Shared, World, iso, parse_date, plain_text};

/// The type segment, or 404 as for any unknown route.
fn kind_of(segment: &str) -> Result<Kind, ApiError> {
    Kind::parse(segment).ok_or_else(|| {
        ApiError::not_found(format!(
            "No resource matches /v1/{segment}: the type must be one of workrequest, task, project, proof, campaign."
        ))
    })
}

/// The id segment (int32), or 400 as ASP.NET model binding answers.
fn id_of(segment: &str) -> Result<i32, ApiError> {
    segment
        .parse()
        .map_err(|_| ApiError::bad_request(format!("The value '{segment}' is not valid for id.")))
}

fn not_found(kind: Kind, id: i32) -> ApiError {
    ApiError::not_found(format!("{} {id} was not found.", kind.label()))
}

/// The item, or 404.
fn find(world: &World, kind: Kind, id: i32) -> Result<&Item, ApiError> {
    world.item(kind, id).ok_or_else(|| not_found(kind, id))
}

fn parse(ty: &str, id: &str) -> Result<(Kind, i32), ApiError> {
    Ok((kind_of(ty)?, id_of(id)?))
}

/// GET /v1/{type}/{id}
pub async fn get_item(
    State(shared): State<Arc<Shared>>,
    Path((ty, id)): Path<(String, String)>,
) -> ApiResult {
    let (kind, id) = parse(&ty, &id)?;
    let inner = shared.lock();
    let item = find(&inner.world, kind, id)?;
    ok(item.to_json(inner.world.account_id))
}

/// GET /v1/{type}?ids=..&page=..&pageSize=.. (all three required). Unknown ids are
/// left out; the page is taken over the items found, in the order asked.
pub async fn batch(
    State(shared): State<Arc<Shared>>,
    Path(ty): Path<String>,
    q: QueryPairs,
) -> ApiResult {
    let kind = kind_of(&ty)?;
    let ids = q.ids()?;
    let page = q.page(true)?;
    let page_size = q.page_size(true)?;
    let inner = shared.lock();
    let w = &inner.world;
    let found: Vec<Value> = ids
        .iter()
        .filter_map(|id| w.item(kind, *id))
        .map(|item| item.to_json(w.account_id))
        .collect();
    ok(page_of(found, page, page_size))
}

/// GET /v1/{type}/search?name=&isArchived=&operatorMode= : matching ids, ascending.
/// `name` matches a part of the name, ignoring case; `operatorMode` 1 = Or, 2 = And
/// (default) combines the filters given; no filter matches everything.
pub async fn search(
    State(shared): State<Arc<Shared>>,
    Path(ty): Path<String>,
    q: QueryPairs,
) -> ApiResult {
    let kind = kind_of(&ty)?;
    let name = q.get("name").map(str::to_lowercase);
    let archived = match q.get("isArchived").map(str::to_ascii_lowercase).as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "The value '{other}' is not valid for isArchived."
            )));
        }
    };
    let any = match q
        .get("operatorMode")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("2" | "and") => false,
        Some("1" | "or") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "The value '{other}' is not valid for operatorMode. Allowed values: 1 (Or), 2 (And)."
            )));
        }
    };
    let inner = shared.lock();
    let ids: Vec<i32> = inner
        .world
        .items
        .get(&kind)
        .into_iter()
        .flat_map(|m| m.values())
        .filter(|item| {
            let mut checks = Vec::with_capacity(2);
            if let Some(n) = &name {
                checks.push(item.name.to_lowercase().contains(n.as_str()));
            }
            if let Some(a) = archived {
                checks.push(item.archived == a);
            }
            checks.is_empty()
                || if any {
                    checks.iter().any(|c| *c)
                } else {
                    checks.iter().all(|c| *c)
                }
        })
        .map(|item| item.id)
        .collect();
    ok(json!({"ids": ids, "totalCount": ids.len()}))
}

/// GET /v1/{type}/{id}/users : the users on the item (a bare array).
pub async fn users(
    State(shared): State<Arc<Shared>>,
    Path((ty, id)): Path<(String, String)>,
) -> ApiResult {
    let (kind, id) = parse(&ty, &id)?;
    let inner = shared.lock();
    let w = &inner.world;
    let item = find(w, kind, id)?;
    let users: Vec<Value> = item
        .user_ids
        .iter()
        .filter_map(|u| w.users.get(u))
        .map(|u| u.to_json(w.account_id))
        .collect();
    ok(Value::Array(users))
}

/// GET /v1/{type}/{id}/comments?format=&page=&pageSize= : oldest first.
pub async fn comments(
    State(shared): State<Arc<Shared>>,
    Path((ty, id)): Path<(String, String)>,
    q: QueryPairs,
) -> ApiResult {
    let (kind, id) = parse(&ty, &id)?;
    let plain = q.plain_format()?;
    let page = q.page(false)?;
    let page_size = q.page_size(false)?;
    let inner = shared.lock();
    let w = &inner.world;
    find(w, kind, id)?;
    let mut list: Vec<_> = w
        .comments
        .values()
        .filter(|c| c.kind == kind && c.item_id == id)
        .collect();
    list.sort_by_key(|c| (c.created_date, c.id));
    let items: Vec<Value> = list
        .into_iter()
        .map(|c| {
            let user = w.users.get(&c.user_id);
            json!({
                "id": c.id,
                "accountId": w.account_id,
                "userId": c.user_id,
                "firstName": user.map(|u| u.first_name.clone()),
                "lastName": user.map(|u| u.last_name.clone()),
                "comment": if plain { plain_text(&c.html) } else { c.html.clone() },
                "createdDate": iso(c.created_date),
            })
        })
        .collect();
    ok(page_of(items, page, page_size))
}

fn description_json(item: &Item, plain: bool) -> Value {
    let html = item.description.clone().unwrap_or_default();
    json!({
        "id": item.id,
        "description": if plain { plain_text(&html) } else { html },
    })
}

/// GET /v1/{type}/{id}/description?format= (not for work requests).
pub async fn description(
    State(shared): State<Arc<Shared>>,
    Path((ty, id)): Path<(String, String)>,
    q: QueryPairs,
) -> ApiResult {
    let (kind, id) = parse(&ty, &id)?;
    if !kind.has_description() {
        return Err(ApiError::not_found(
            "Work requests have no description endpoint.",
        ));
    }
    let plain = q.plain_format()?;
    let inner = shared.lock();
    let item = find(&inner.world, kind, id)?;
    ok(description_json(item, plain))
}

/// GET /v1/{type}/descriptions?ids=&format=&page=&pageSize= (not for work requests).
pub async fn descriptions(
    State(shared): State<Arc<Shared>>,
    Path(ty): Path<String>,
    q: QueryPairs,
) -> ApiResult {
    let kind = kind_of(&ty)?;
    if !kind.has_description() {
        return Err(ApiError::not_found(
            "Work requests have no description endpoint.",
        ));
    }
    let ids = q.ids()?;
    let plain = q.plain_format()?;
    let page = q.page(true)?;
    let page_size = q.page_size(true)?;
    let inner = shared.lock();
    let found: Vec<Value> = ids
        .iter()
        .filter_map(|id| inner.world.item(kind, *id))
        .map(|item| description_json(item, plain))
        .collect();
    ok(page_of(found, page, page_size))
}

/// Mints pre-signed URLs for an item's files.
fn file_urls(shared: &Shared, inner: &mut Inner, kind: Kind, id: i32) -> ApiResult {
    let ttl = Duration::from_std(inner.rt.file_url_ttl).unwrap_or(Duration::hours(1));
    let expires_at = Utc::now() + ttl;
    let files = find(&inner.world, kind, id)?.files.clone();
    let mut out = Vec::with_capacity(files.len());
    for file in files {
        let mut raw = [0u8; 16];
        rand::rng().fill_bytes(&mut raw);
        let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        inner.world.presigned.insert(
            token.clone(),
            Presigned {
                kind,
                item_id: id,
                file_version_id: file.file_version_id,
                expires_at,
            },
        );
        out.push(json!({
            "fileVersionName": file.file_version_name,
            "fileId": file.file_id,
            "fileVersionId": file.file_version_id,
            "url": format!("{}/files/{token}?expires={}", shared.origin, expires_at.timestamp()),
            "urlExpiration": iso(expires_at),
        }));
    }
    // Forget URLs that expired, so the map does not grow without bound.
    let now = Utc::now();
    inner.world.presigned.retain(|_, p| p.expires_at > now);
    inner.rt.dirty = true;
    ok(Value::Array(out))
}

/// GET /v1/{type}/{id}/files/urls (tasks, projects, proofs, campaigns).
pub async fn files(
    State(shared): State<Arc<Shared>>,
    Path((ty, id)): Path<(String, String)>,
) -> ApiResult {
    let (kind, id) = parse(&ty, &id)?;
    if kind == Kind::WorkRequest {
        return Err(ApiError::not_found(
            "Work request files are under /workrequest/{id}/deliverablefiles/urls.",
        ));
    }
    let mut inner = shared.lock();
    file_urls(&shared, &mut inner, kind, id)
}

/// GET /v1/workrequest/{id}/deliverablefiles/urls
pub async fn deliverable_files(
    State(shared): State<Arc<Shared>>,
    Path((ty, id)): Path<(String, String)>,
) -> ApiResult {
    let (kind, id) = parse(&ty, &id)?;
    if kind != Kind::WorkRequest {
        return Err(ApiError::not_found(
            "Deliverable files exist only for work requests; use /{type}/{id}/files/urls.",
        ));
    }
    let mut inner = shared.lock();
    file_urls(&shared, &mut inner, kind, id)
}

/// GET /files/{token}: the content behind a pre-signed URL, until it expires.
pub async fn download(State(shared): State<Arc<Shared>>, Path(token): Path<String>) -> Response {
    let inner = shared.lock();
    let denied = |msg: &str| (StatusCode::FORBIDDEN, msg.to_owned()).into_response();
    let Some(p) = inner.world.presigned.get(&token) else {
        return denied("Access Denied");
    };
    if p.expires_at <= Utc::now() {
        return denied("Request has expired");
    }
    let content = inner
        .world
        .item(p.kind, p.item_id)
        .and_then(|i| {
            i.files
                .iter()
                .find(|f| f.file_version_id == p.file_version_id)
        })
        .map(|f| f.content.clone());
    match content {
        Some(c) => ([("content-type", "application/pdf")], c).into_response(),
        None => denied("Access Denied"),
    }
}

/// Fields of an item document and whether a patch may change them.
const FIELDS: &[(&str, bool)] = &[
    ("accountId", false),
    ("id", false),
    ("name", true),
    ("archived", true),
    ("dueDate", true),
    ("completedDate", true),
    ("createdDate", false),
    ("modifiedDate", false),
    // Chosen (Lytho does not say): the rich-text description of the types that
    // have one can be patched too; it is not part of the item's answers.
    ("description", true),
];

fn date_field(doc: &Map<String, Value>, key: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_date(s).map(Some).ok_or_else(|| {
            ApiError::bad_request(format!("The value '{s}' is not valid for {key}."))
        }),
        Some(other) => Err(ApiError::bad_request(format!(
            "The value '{other}' is not valid for {key}."
        ))),
    }
}

/// Checks a patched document and writes it back; returns whether anything changed.
fn write_back(item: &mut Item, before: &Value, after: &Value) -> Result<bool, ApiError> {
    let Value::Object(doc) = after else {
        return Err(ApiError::bad_request(
            "The patched document must stay an object.",
        ));
    };
    for key in doc.keys() {
        if !FIELDS.iter().any(|(f, _)| f == key) {
            return Err(ApiError::bad_request(format!(
                "The target location specified by path segment '{key}' was not found."
            )));
        }
    }
    for (key, writable) in FIELDS {
        if !writable && doc.get(*key) != before.get(*key) {
            return Err(ApiError::bad_request(format!(
                "The property at path '/{key}' cannot be changed."
            )));
        }
    }
    let name = match doc.get("name") {
        Some(Value::String(s)) if s.chars().count() <= 255 => s.clone(),
        Some(Value::String(_)) => {
            return Err(ApiError::bad_request(
                "The field name must be a string with a maximum length of 255.",
            ));
        }
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request("The name field is required."));
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "The value '{other}' is not valid for name."
            )));
        }
    };
    let archived = match doc.get("archived") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "The value '{other}' is not valid for archived."
            )));
        }
    };
    let due_date = date_field(doc, "dueDate")?;
    let completed_date = date_field(doc, "completedDate")?;
    let description = match (doc.get("description"), &item.description) {
        (None, _) => item.description.clone(),
        (Some(Value::String(d)), Some(_)) => Some(d.clone()),
        (Some(Value::Null), Some(_)) => Some(String::new()),
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                "The target location specified by path segment 'description' was not found.",
            ));
        }
        (Some(other), Some(_)) => {
            return Err(ApiError::bad_request(format!(
                "The value '{other}' is not valid for description."
            )));
        }
    };
    let changed = item.name != name
        || item.archived != archived
        || item.due_date != due_date
        || item.completed_date != completed_date
        || item.description != description;
    item.description = description;
    item.name = name;
    item.archived = archived;
    item.due_date = due_date;
    item.completed_date = completed_date;
    Ok(changed)
}

/// PATCH /v1/{type}/{id} with `Content-Type: application/json-patch+json` and an
/// RFC 6902 document. Writable: `/name`, `/archived`, `/dueDate`, `/completedDate`,
/// and `/description` (HTML) on the types that have one (chosen: see docs/LYTHO.md);
/// the document patched holds the description, the answer does not.
/// 409 when a `test` operation fails; the item is unchanged on any error. Answers
/// the item after the patch.
pub async fn patch_item(
    State(shared): State<Arc<Shared>>,
    Path((ty, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let (kind, id) = parse(&ty, &id)?;
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !content_type.starts_with("application/json-patch+json") {
        return Err(ApiError::unsupported_media(format!(
            "Content-Type must be application/json-patch+json (got '{content_type}')."
        )));
    }
    let ops: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))?;
    let mut inner = shared.lock();
    let account_id = inner.world.account_id;
    let found = find(&inner.world, kind, id)?;
    let mut before = found.to_json(account_id);
    if let (Some(d), Value::Object(doc)) = (&found.description, &mut before) {
        doc.insert("description".to_owned(), Value::String(d.clone()));
    }
    let after = patch::apply(&before, &ops).map_err(|e| match e {
        PatchError::TestFailed(m) => ApiError::conflict(m),
        PatchError::Invalid(m) => ApiError::bad_request(m),
    })?;
    let mut item = find(&inner.world, kind, id)?.clone();
    if write_back(&mut item, &before, &after)? {
        item.modified_date = inner.world.tick();
        inner.rt.dirty = true;
    }
    let out = item.to_json(account_id);
    if let Some(slot) = inner.world.item_mut(kind, id) {
        *slot = item;
    }
    ok(out)
}
