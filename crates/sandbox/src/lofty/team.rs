//! Members and team metadata: `/v1.0/me`, `/v1.0/members[/{account}]`,
//! `/v1.0/teamFeatures/listTag`, `listCustomField`, `custom-field` and
//! `lead-pipelines`.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::App;
use super::http::{ApiError, ApiResult, Body, Query, ok};
use super::state::{CUSTOM_FIELD_TYPES, Caller, CustomFieldDef, Inner, Member, World, gmt};
use super::validate::{object, string};

fn member_json(world: &World, m: &Member) -> Value {
    let assigned = world
        .leads
        .values()
        .filter(|l| l.trashed.is_none() && l.assigned_user_id == m.member_user_id)
        .count();
    m.to_json(world.team_id, world.admin().member_user_id, assigned)
}

/// GET /v1.0/me: the caller's `UserResponse`.
pub async fn me(State(app): State<App>, caller: Caller) -> ApiResult {
    let inner = app.shared.lock();
    let member = inner
        .world
        .member_by_user(caller.member_user_id)
        .ok_or_else(ApiError::user_not_exist)?;
    ok(member_json(&inner.world, member))
}

/// GET /v1.0/members: `{_metadata, members}` paged by `offset` + `limit` (25 by default,
/// at most 100).
pub async fn members(State(app): State<App>, _caller: Caller, q: Query) -> ApiResult {
    let offset = usize::try_from(q.int("offset")?.unwrap_or(0).max(0)).unwrap_or(0);
    let limit = match q.int("limit")? {
        None => 25,
        Some(l) if l > 100 => {
            return Err(ApiError::bad(
                "LIMIT_PARAM_OVERSIZE",
                "limit exceeds the maximum of 100",
            ));
        }
        Some(l) if l < 1 => return Err(ApiError::invalid("limit must be at least 1")),
        Some(l) => usize::try_from(l).unwrap_or(25),
    };
    let groups: Vec<i64> = q
        .all("groupIds")
        .iter()
        .map(|g| {
            g.parse()
                .map_err(|_| ApiError::invalid("groupIds must be integers"))
        })
        .collect::<Result<_, _>>()?;
    let inner = app.shared.lock();
    let world = &inner.world;
    let all: Vec<&Member> = world
        .members
        .iter()
        .filter(|m| groups.is_empty() || groups.contains(&m.group_id))
        .collect();
    if all.is_empty() {
        return Err(ApiError::user_not_exist());
    }
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|m| member_json(world, m))
        .collect();
    ok(json!({
        "_metadata": {
            "collection": "members",
            "limit": limit,
            "offset": offset,
            "total": all.len(),
            "scrollId": Value::Null,
        },
        "members": page,
    }))
}

/// GET /v1.0/members/{account}: a member by login email.
pub async fn member(
    State(app): State<App>,
    _caller: Caller,
    Path(account): Path<String>,
) -> ApiResult {
    let inner = app.shared.lock();
    let member = inner
        .world
        .members
        .iter()
        .find(|m| m.email.eq_ignore_ascii_case(account.trim()))
        .ok_or_else(ApiError::user_not_exist)?;
    ok(member_json(&inner.world, member))
}

/// GET /v1.0/teamFeatures/listTag: a bare array; entries with `leadId` 0 are the tag
/// definitions, the others are tags applied to leads the caller can see.
pub async fn tags(State(app): State<App>, caller: Caller) -> ApiResult {
    let inner = app.shared.lock();
    let world = &inner.world;
    let mut out: Vec<Value> = world
        .tags
        .values()
        .map(|t| {
            json!({
                "leadId": 0,
                "tagId": t.tag_id,
                "createTime": gmt(t.created_ms),
                "updateTime": gmt(t.created_ms),
                "tagName": t.name,
                "creatorUserId": t.creator_user_id,
                "visibleType": 0,
            })
        })
        .collect();
    for lead in world
        .leads
        .values()
        .filter(|l| l.trashed.is_none() && world.can_manage(&caller, l))
    {
        for t in &lead.tags {
            out.push(json!({
                "leadId": lead.lead_id,
                "tagId": t.tag_id,
                "createTime": gmt(t.created_ms),
                "updateTime": gmt(t.created_ms),
                "tagName": t.name,
                "creatorUserId": t.creator_user_id,
                "visibleType": 0,
            }));
        }
    }
    ok(Value::Array(out))
}

fn field_json(f: &CustomFieldDef) -> Value {
    json!({
        "id": f.id,
        "attributeName": f.name,
        "attributeType": f.attribute_type,
        "value": "",
        "params": f.params,
    })
}

/// GET /v1.0/teamFeatures/listCustomField: a bare array of definitions.
pub async fn custom_fields(State(app): State<App>, _caller: Caller) -> ApiResult {
    let inner = app.shared.lock();
    ok(Value::Array(
        inner.world.custom_fields.iter().map(field_json).collect(),
    ))
}

/// POST /v1.0/teamFeatures/custom-field: answers the JSON string `"success"`.
pub async fn add_custom_field(
    State(app): State<App>,
    _caller: Caller,
    Body(body): Body,
) -> ApiResult {
    let map = object(&body)?;
    let name = string(map, "attributeName")?
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad("ATTRIBUTE_NAME_EMPTY", "attributeName is empty"))?;
    let kind = string(map, "attributeType")?
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad("ATTRIBUTE_TYPE_EMPTY", "attributeType is empty"))?;
    if !CUSTOM_FIELD_TYPES.contains(&kind.as_str()) {
        return Err(ApiError::invalid(format!(
            "Unsupported attributeType {kind}; use one of {}",
            CUSTOM_FIELD_TYPES.join(", ")
        )));
    }
    let params = string(map, "params")?;
    if kind.ends_with("_select") && params.is_none() {
        return Err(ApiError::invalid(
            "params with the options is required for select fields",
        ));
    }
    let mut inner = app.shared.lock();
    let Inner { world, rt } = &mut *inner;
    if world
        .custom_fields
        .iter()
        .any(|f| f.name.eq_ignore_ascii_case(&name))
    {
        return Err(ApiError::invalid(format!(
            "Custom field {name} already exists"
        )));
    }
    let id = world.next_id(&mut rt.rng);
    world.custom_fields.push(CustomFieldDef {
        id,
        name,
        attribute_type: kind,
        params,
    });
    rt.dirty = true;
    ok(json!("success"))
}

/// GET /v1.0/teamFeatures/lead-pipelines: `{_metadata, pipelines}` paged by `currPage`
/// (0-based) + `pageSize` (10 by default), filtered by a `name` substring.
pub async fn pipelines(State(app): State<App>, _caller: Caller, q: Query) -> ApiResult {
    let page = q.int("currPage")?.unwrap_or(0);
    let size = q.int("pageSize")?.unwrap_or(10);
    if page < 0 || size < 1 {
        return Err(ApiError::invalid("currPage must be >= 0 and pageSize >= 1"));
    }
    let name = q.get("name").map(str::to_lowercase);
    let inner = app.shared.lock();
    let all: Vec<Value> = inner
        .world
        .pipelines
        .iter()
        .filter(|p| {
            name.as_ref()
                .is_none_or(|n| p.name.to_lowercase().contains(n.as_str()))
        })
        .map(|p| json!({"id": p.id, "name": p.name}))
        .collect();
    let offset = usize::try_from(page * size).unwrap_or(usize::MAX);
    let size_u = usize::try_from(size).unwrap_or(10);
    let items: Vec<Value> = all.iter().skip(offset).take(size_u).cloned().collect();
    ok(json!({
        "_metadata": {
            "collection": "pipelines",
            "limit": size,
            "offset": offset,
            "total": all.len(),
            "scrollId": Value::Null,
        },
        "pipelines": items,
    }))
}
