//! Tasks and appointments: the V2 task API (`/v2.0/tasks...`) and the V2 calendar
//! (`/v2.0/calendar...`).
//!
//! Tasks and appointments share one `taskId` namespace: `/v2.0/tasks/{taskId}` resolves
//! either kind; the calendar names them with composite string ids
//! (`"<taskId>-task"`, `"<taskId>-appointment"`) that must be sent back as they are.
//! Calendar creates and time changes must lie after the server's current time (no
//! back-dating); an appointment from midnight to midnight is all-day. Changes go to
//! webhook lists 10 (tasks) and 11 (appointments): buckets `createdTask`,
//! `updatedTask`, `finishedTask`, `deletedTask` (and the same with `Appointment`), entries
//! `{taskId, leadId, updateTime}`.

use axum::extract::{Path, State};
use chrono::{DateTime, FixedOffset, Timelike};
use serde_json::{Map, Value, json};

use super::App;
use super::http::{ApiError, ApiResult, Body, Query, ok, path_id};
use super::state::{Caller, Entry, EntryKind, Inner, World, from_ms, now_ms, parse_time};
use super::validate::{int, object, string, truncate};
use super::webhooks;

const TASK_WAYS: &[&str] = &["Call", "Email", "Text", "Other"];
const ROLES: &[&str] = &["Agent", "Assistant"];

/// The canonical spelling of `value` among `allowed` (case-insensitive).
fn canonical(value: &str, allowed: &[&'static str]) -> Option<&'static str> {
    allowed
        .iter()
        .copied()
        .find(|a| a.eq_ignore_ascii_case(value.trim()))
}

/// A time given as ISO 8601 (`<key>`) or epoch milliseconds (`<key>Ms`).
fn time(map: &Map<String, Value>, key: &str) -> Result<Option<DateTime<FixedOffset>>, ApiError> {
    if let Some(raw) = string(map, key)?.filter(|s| !s.trim().is_empty()) {
        return parse_time(&raw)
            .map(Some)
            .ok_or_else(|| ApiError::invalid(format!("{key} must be ISO 8601 with an offset")));
    }
    match int(map, &format!("{key}Ms"))? {
        Some(ms) => from_ms(ms)
            .map(Some)
            .ok_or_else(|| ApiError::invalid(format!("{key}Ms is out of range"))),
        None => Ok(None),
    }
}

fn emit(inner: &mut Inner, action: &str, entry: &Entry, now: i64) {
    let Some(lead) = inner.world.leads.get(&entry.lead_id).cloned() else {
        return;
    };
    let noun = match entry.kind {
        EntryKind::Task => "Task",
        EntryKind::Appointment => "Appointment",
    };
    let item = json!({"taskId": entry.task_id, "leadId": entry.lead_id, "updateTime": now});
    webhooks::emit(
        inner,
        entry.kind.list_id(),
        &format!("{action}{noun}"),
        "taskId",
        item,
        &lead,
    );
}

/// The lead of a new or moved entry: it must exist and be the caller's to manage.
fn managed_lead(world: &World, caller: &Caller, lead_id: i64) -> Result<(), ApiError> {
    world
        .leads
        .get(&lead_id)
        .filter(|l| l.trashed.is_none() && world.can_manage(caller, l))
        .map(|_| ())
        .ok_or_else(ApiError::permission_denied)
}

/// An existing entry whose lead the caller manages.
fn entry_of(world: &World, caller: &Caller, task_id: i64) -> Result<Entry, ApiError> {
    let entry = world
        .entries
        .get(&task_id)
        .cloned()
        .ok_or_else(ApiError::task_not_exist)?;
    let lead = world
        .leads
        .get(&entry.lead_id)
        .ok_or_else(ApiError::lead_not_exist)?;
    if !world.can_manage(caller, lead) {
        return Err(ApiError::permission_denied());
    }
    Ok(entry)
}

fn ok_message(message: &str) -> ApiResult {
    ok(json!({"message": message}))
}

fn caller_zone(world: &World, caller: &Caller) -> String {
    world
        .member_by_user(caller.member_user_id)
        .map_or_else(|| "America/Chicago".to_owned(), |m| m.time_zone_id.clone())
}

// ------------------------------------------------------------------ V2 tasks

/// GET /v2.0/tasks?leadId=: `{tasks: [...]}` (tasks and appointments).
pub async fn list(State(app): State<App>, caller: Caller, q: Query) -> ApiResult {
    let lead_id = q
        .int("leadId")?
        .filter(|id| *id >= 1)
        .ok_or_else(|| ApiError::invalid("leadId is required"))?;
    let inner = app.shared.lock();
    let world = &inner.world;
    let lead = world
        .readable_lead(lead_id, now_ms())
        .ok_or_else(ApiError::lead_not_exist)?;
    if !world.can_manage(&caller, lead) {
        return Err(ApiError::permission_denied());
    }
    let tasks: Vec<Value> = world
        .entries
        .values()
        .filter(|e| e.lead_id == lead_id)
        .map(|e| e.to_json(world))
        .collect();
    ok(json!({"tasks": tasks}))
}

/// POST /v2.0/tasks: `{taskId}`.
pub async fn create(State(app): State<App>, caller: Caller, Body(body): Body) -> ApiResult {
    let map = object(&body)?;
    let kind_raw = string(map, "type")?.ok_or_else(|| ApiError::invalid("type is required"))?;
    let (kind, way) = if kind_raw.trim().eq_ignore_ascii_case("Appointment") {
        (EntryKind::Appointment, "Appointment")
    } else {
        let way = canonical(&kind_raw, TASK_WAYS)
            .ok_or_else(|| ApiError::invalid(format!("Invalid type: {kind_raw}")))?;
        (EntryKind::Task, way)
    };
    let content = string(map, "content")?
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("content is required"))?;
    let role_raw = string(map, "assignedRole")?
        .ok_or_else(|| ApiError::invalid("assignedRole is required"))?;
    let role = canonical(&role_raw, ROLES)
        .ok_or_else(|| ApiError::invalid(format!("Invalid assignedRole: {role_raw}")))?;
    let lead_id = int(map, "leadId")?.ok_or_else(|| ApiError::invalid("leadId is required"))?;
    let end = time(map, "endAt")?.ok_or_else(|| ApiError::invalid("endAt is required"))?;
    let start = time(map, "startAt")?;
    if start.is_some_and(|s| s > end) {
        return Err(ApiError::invalid("startAt must not be after endAt"));
    }
    let zone = string(map, "timeZoneCode")?.filter(|z| !z.trim().is_empty());
    let address = string(map, "address")?;
    let now = now_ms();
    let mut inner = app.shared.lock();
    managed_lead(&inner.world, &caller, lead_id)?;
    let zone = zone.unwrap_or_else(|| caller_zone(&inner.world, &caller));
    let Inner { world, rt } = &mut *inner;
    let task_id = world.next_id(&mut rt.rng);
    let entry = Entry {
        task_id,
        kind,
        lead_id,
        task_way: way.to_owned(),
        content: truncate(&content, 2000),
        start,
        end,
        time_zone_code: zone,
        all_day: false,
        finished: false,
        finish_ms: None,
        assigned_role: role.to_owned(),
        assigned_user_id: caller.member_user_id,
        creator_id: caller.member_user_id,
        address,
        reminder_type: 0,
        smart_plan: false,
        created_ms: now,
        updated_ms: now,
    };
    world.entries.insert(task_id, entry.clone());
    emit(&mut inner, "created", &entry, now);
    inner.rt.dirty = true;
    drop(inner);
    app.shared.wake.notify_one();
    ok(json!({"taskId": task_id}))
}

/// GET /v2.0/tasks/{taskId}: `{task: {...}}`.
pub async fn get(State(app): State<App>, caller: Caller, Path(raw): Path<String>) -> ApiResult {
    let task_id = path_id(&raw, "taskId")?;
    let inner = app.shared.lock();
    let entry = entry_of(&inner.world, &caller, task_id)?;
    ok(json!({"task": entry.to_json(&inner.world)}))
}

/// PUT /v2.0/tasks/{taskId}: partial; `{message}`.
pub async fn update(
    State(app): State<App>,
    caller: Caller,
    Path(raw): Path<String>,
    Body(body): Body,
) -> ApiResult {
    let task_id = path_id(&raw, "taskId")?;
    let map = object(&body)?;
    let content = string(map, "content")?.filter(|c| !c.trim().is_empty());
    let start = time(map, "startAt")?;
    let end = time(map, "endAt")?;
    let address = string(map, "address")?;
    let zone = string(map, "timeZoneCode")?.filter(|z| !z.trim().is_empty());
    if content.is_none() && start.is_none() && end.is_none() && address.is_none() {
        return Err(ApiError::bad(
            "MISSING_PARAMETER",
            "At least one of content, startAt, endAt, address is required",
        ));
    }
    let now = now_ms();
    let mut inner = app.shared.lock();
    let mut entry = entry_of(&inner.world, &caller, task_id)?;
    if let Some(c) = content {
        entry.content = truncate(&c, 2000);
    }
    if let Some(s) = start {
        entry.start = Some(s);
    }
    if let Some(e) = end {
        entry.end = e;
    }
    if entry.start.is_some_and(|s| s > entry.end) {
        return Err(ApiError::invalid("startAt must not be after endAt"));
    }
    if address.is_some() {
        entry.address = address;
    }
    if let Some(z) = zone {
        entry.time_zone_code = z;
    }
    entry.updated_ms = now;
    inner.world.entries.insert(task_id, entry.clone());
    emit(&mut inner, "updated", &entry, now);
    inner.rt.dirty = true;
    drop(inner);
    app.shared.wake.notify_one();
    ok_message("Operation successful")
}

/// DELETE /v2.0/tasks/{taskId}: `{message}`.
pub async fn delete(State(app): State<App>, caller: Caller, Path(raw): Path<String>) -> ApiResult {
    let task_id = path_id(&raw, "taskId")?;
    remove(&app, &caller, task_id)?;
    ok_message("Operation successful")
}

fn remove(app: &App, caller: &Caller, task_id: i64) -> Result<(), ApiError> {
    let now = now_ms();
    let mut inner = app.shared.lock();
    let entry = entry_of(&inner.world, caller, task_id)?;
    inner.world.entries.shift_remove(&task_id);
    emit(&mut inner, "deleted", &entry, now);
    inner.rt.dirty = true;
    drop(inner);
    app.shared.wake.notify_one();
    Ok(())
}

fn set_finished(app: &App, caller: &Caller, task_id: i64, finished: bool) -> Result<(), ApiError> {
    let now = now_ms();
    let mut inner = app.shared.lock();
    let mut entry = entry_of(&inner.world, caller, task_id)?;
    if finished && entry.smart_plan {
        return Err(ApiError::bad(
            "TASK_IS_SMARTPLAN",
            "A smart plan task cannot be finished.",
        ));
    }
    entry.finished = finished;
    entry.finish_ms = finished.then_some(now);
    entry.updated_ms = now;
    inner.world.entries.insert(task_id, entry.clone());
    emit(
        &mut inner,
        if finished { "finished" } else { "updated" },
        &entry,
        now,
    );
    inner.rt.dirty = true;
    drop(inner);
    app.shared.wake.notify_one();
    Ok(())
}

/// POST /v2.0/tasks/{taskId}/finish: `{message}`.
pub async fn finish(State(app): State<App>, caller: Caller, Path(raw): Path<String>) -> ApiResult {
    let task_id = path_id(&raw, "taskId")?;
    set_finished(&app, &caller, task_id, true)?;
    ok_message("Operation successful")
}

/// POST /v2.0/tasks/{taskId}/unfinish: `{message}`.
pub async fn unfinish(
    State(app): State<App>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult {
    let task_id = path_id(&raw, "taskId")?;
    set_finished(&app, &caller, task_id, false)?;
    ok_message("Operation successful")
}

/// GET /v2.0/tasks/my-tasks: tasks assigned to the user, newest start first, paged by
/// `currentId` (the last id returned) + `limit`.
pub async fn my_tasks(State(app): State<App>, caller: Caller, q: Query) -> ApiResult {
    let current = q.int("currentId")?.unwrap_or(0);
    if current < 0 {
        return Err(ApiError::invalid("currentId must be >= 0"));
    }
    let limit = match q.int("limit")? {
        None => 10,
        Some(l) if (1..=100).contains(&l) => usize::try_from(l).unwrap_or(10),
        Some(_) => {
            return Err(ApiError::bad(
                "LIMIT_NOT_VALID",
                "limit must be between 1 and 100",
            ));
        }
    };
    let user = q.int("userId")?.unwrap_or(caller.member_user_id);
    let inner = app.shared.lock();
    let world = &inner.world;
    let mut mine: Vec<&Entry> = world
        .entries
        .values()
        .filter(|e| e.kind == EntryKind::Task && e.assigned_user_id == user)
        .filter(|e| {
            world
                .leads
                .get(&e.lead_id)
                .is_some_and(|l| l.trashed.is_none() && world.can_manage(&caller, l))
        })
        .collect();
    mine.sort_by_key(|e| (e.start_or_end(), e.task_id));
    mine.reverse();
    let start = if current == 0 {
        0
    } else {
        match mine.iter().position(|e| e.task_id == current) {
            Some(i) => i + 1,
            // The anchor is gone (deleted): continue below its id.
            None => mine
                .iter()
                .position(|e| e.task_id < current)
                .unwrap_or(mine.len()),
        }
    };
    let tasks: Vec<Value> = mine
        .iter()
        .skip(start)
        .take(limit)
        .map(|e| e.to_json(world))
        .collect();
    ok(json!({"tasks": tasks}))
}

// ------------------------------------------------------------------ V2 calendar

/// A composite calendar id: `<taskId>-task` or `<taskId>-appointment`.
fn parse_calendar_id(raw: &str) -> Result<(i64, EntryKind), ApiError> {
    let bad = || ApiError::invalid(format!("Invalid calendarId format: {raw}"));
    let (id, suffix) = raw.trim().rsplit_once('-').ok_or_else(bad)?;
    let kind = match suffix {
        "task" => EntryKind::Task,
        "appointment" => EntryKind::Appointment,
        _ => return Err(bad()),
    };
    let id = id.parse::<i64>().ok().filter(|i| *i >= 1).ok_or_else(bad)?;
    Ok((id, kind))
}

/// The entry behind a composite id; calendar endpoints answer 400 when it is missing.
fn calendar_entry(world: &World, caller: &Caller, raw: &str) -> Result<Entry, ApiError> {
    let (id, kind) = parse_calendar_id(raw)?;
    match world.entries.get(&id) {
        Some(e) if e.kind == kind => entry_of(world, caller, id),
        _ => Err(ApiError::invalid(format!("Calendar not found: {raw}"))),
    }
}

fn in_future(t: DateTime<FixedOffset>, what: &str) -> Result<(), ApiError> {
    if t.timestamp_millis() <= now_ms() {
        return Err(ApiError::invalid(format!(
            "{what} must be later than the current time"
        )));
    }
    Ok(())
}

fn midnight(t: DateTime<FixedOffset>) -> bool {
    t.hour() == 0 && t.minute() == 0 && t.second() == 0
}

/// GET /v2.0/calendar: `{data: {total, page, pageSize, items}}`.
pub async fn calendar_list(State(app): State<App>, caller: Caller, q: Query) -> ApiResult {
    let bound = |key: &str| -> Result<Option<DateTime<FixedOffset>>, ApiError> {
        if let Some(raw) = q.get(key) {
            return parse_time(raw).map(Some).ok_or_else(|| {
                ApiError::invalid(format!("{key} must be ISO 8601 with an offset"))
            });
        }
        match q.int(&format!("{key}Ms"))? {
            Some(ms) => Ok(from_ms(ms)),
            None => Ok(None),
        }
    };
    let from = bound("startTime")?;
    let to = bound("endTime")?;
    if from.is_none() && to.is_none() {
        return Err(ApiError::invalid(
            "At least one of startTime or endTime is required",
        ));
    }
    let lead = q.int("leadId")?;
    let finished = q.bool("includeFinished")?.unwrap_or(false);
    let page = q.int("page")?.unwrap_or(0);
    let size = q.int("pageSize")?.unwrap_or(20);
    if page < 0 || !(1..=500).contains(&size) {
        return Err(ApiError::invalid(
            "page must be >= 0 and pageSize between 1 and 500",
        ));
    }
    let desc = q.bool("desc")?.unwrap_or(true);
    let inner = app.shared.lock();
    let world = &inner.world;
    let mut items: Vec<&Entry> = world
        .entries
        .values()
        .filter(|e| lead.is_none_or(|l| e.lead_id == l))
        .filter(|e| finished || !e.finished)
        .filter(|e| {
            let s = e.start_or_end();
            from.is_none_or(|f| s >= f) && to.is_none_or(|t| s <= t)
        })
        .filter(|e| {
            world
                .leads
                .get(&e.lead_id)
                .is_some_and(|l| l.trashed.is_none() && world.can_manage(&caller, l))
        })
        .collect();
    items.sort_by_key(|e| (e.start_or_end(), e.task_id));
    if desc {
        items.reverse();
    }
    let total = items.len();
    let skip = usize::try_from(page * size).unwrap_or(usize::MAX);
    let page_items: Vec<Value> = items
        .iter()
        .skip(skip)
        .take(usize::try_from(size).unwrap_or(20))
        .map(|e| e.to_calendar_json(world))
        .collect();
    ok(json!({"data": {"total": total, "page": page, "pageSize": size, "items": page_items}}))
}

/// POST /v2.0/calendar: `{data: {id, type, message}}`.
pub async fn calendar_create(
    State(app): State<App>,
    caller: Caller,
    Body(body): Body,
) -> ApiResult {
    let map = object(&body)?;
    let kind = match string(map, "type")?.map(|t| t.trim().to_ascii_uppercase()) {
        Some(t) if t == "TASK" => EntryKind::Task,
        Some(t) if t == "APPOINTMENT" => EntryKind::Appointment,
        Some(t) => return Err(ApiError::invalid(format!("Invalid type: {t}"))),
        None => return Err(ApiError::invalid("type is required")),
    };
    let content = string(map, "content")?
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("content is required"))?;
    let lead_id = int(map, "leadId")?.ok_or_else(|| ApiError::invalid("leadId is required"))?;
    let zone = string(map, "timeZoneCode")?
        .filter(|z| !z.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("timeZoneCode is required"))?;
    let start = time(map, "startAt")?.ok_or_else(|| ApiError::invalid("startAt is required"))?;
    let end = time(map, "endAt")?.ok_or_else(|| ApiError::invalid("endAt is required"))?;
    in_future(start, "startAt")?;
    in_future(end, "endAt")?;
    if start > end {
        return Err(ApiError::invalid("startAt must not be after endAt"));
    }
    let (way, role) = match kind {
        EntryKind::Task => {
            let raw = string(map, "taskWay")?
                .ok_or_else(|| ApiError::invalid("taskWay is required for TASK"))?;
            let way = canonical(&raw, TASK_WAYS)
                .ok_or_else(|| ApiError::invalid(format!("Invalid taskWay: {raw}")))?;
            let role = match string(map, "assignedRole")? {
                Some(r) => canonical(&r, ROLES)
                    .ok_or_else(|| ApiError::invalid(format!("Invalid assignedRole: {r}")))?,
                None => "Agent",
            };
            (way, role)
        }
        EntryKind::Appointment => ("Appointment", "Agent"),
    };
    let address = match kind {
        EntryKind::Appointment => string(map, "address")?,
        EntryKind::Task => None,
    };
    let now = now_ms();
    let mut inner = app.shared.lock();
    managed_lead(&inner.world, &caller, lead_id)?;
    let Inner { world, rt } = &mut *inner;
    let task_id = world.next_id(&mut rt.rng);
    let entry = Entry {
        task_id,
        kind,
        lead_id,
        task_way: way.to_owned(),
        content: truncate(&content, 2000),
        start: Some(start),
        end,
        time_zone_code: zone,
        all_day: kind == EntryKind::Appointment && midnight(start) && midnight(end),
        finished: false,
        finish_ms: None,
        assigned_role: role.to_owned(),
        assigned_user_id: caller.member_user_id,
        creator_id: caller.member_user_id,
        address,
        reminder_type: 0,
        smart_plan: false,
        created_ms: now,
        updated_ms: now,
    };
    let id = entry.calendar_id();
    world.entries.insert(task_id, entry.clone());
    emit(&mut inner, "created", &entry, now);
    inner.rt.dirty = true;
    drop(inner);
    app.shared.wake.notify_one();
    ok(json!({"data": {
        "id": id,
        "type": kind.calendar_type(),
        "message": "Calendar created successfully",
    }}))
}

/// PUT /v2.0/calendar/{calendarId}: partial; `{message}`.
pub async fn calendar_update(
    State(app): State<App>,
    caller: Caller,
    Path(raw): Path<String>,
    Body(body): Body,
) -> ApiResult {
    let map = object(&body)?;
    let content = string(map, "content")?.filter(|c| !c.trim().is_empty());
    let start = time(map, "startAt")?;
    let end = time(map, "endAt")?;
    if let Some(s) = start {
        in_future(s, "startAt")?;
    }
    if let Some(e) = end {
        in_future(e, "endAt")?;
    }
    let zone = string(map, "timeZoneCode")?.filter(|z| !z.trim().is_empty());
    let reminder = int(map, "reminderType")?;
    let lead_id = int(map, "leadId")?;
    let address = string(map, "address")?.filter(|a| !a.trim().is_empty());
    let now = now_ms();
    let mut inner = app.shared.lock();
    let mut entry = calendar_entry(&inner.world, &caller, &raw)?;
    if let Some(l) = lead_id {
        managed_lead(&inner.world, &caller, l)?;
        entry.lead_id = l;
    }
    if let Some(c) = content {
        entry.content = truncate(&c, 2000);
    }
    if let Some(s) = start {
        entry.start = Some(s);
    }
    if let Some(e) = end {
        entry.end = e;
    }
    if entry.start.is_some_and(|s| s > entry.end) {
        return Err(ApiError::invalid("startAt must not be after endAt"));
    }
    if let Some(z) = zone {
        entry.time_zone_code = z;
    }
    if let Some(r) = reminder {
        entry.reminder_type = r;
    }
    if entry.kind == EntryKind::Appointment && address.is_some() {
        entry.address = address;
    }
    if entry.kind == EntryKind::Appointment && (start.is_some() || end.is_some()) {
        entry.all_day = midnight(entry.start_or_end()) && midnight(entry.end);
    }
    entry.updated_ms = now;
    inner.world.entries.insert(entry.task_id, entry.clone());
    emit(&mut inner, "updated", &entry, now);
    inner.rt.dirty = true;
    drop(inner);
    app.shared.wake.notify_one();
    ok_message("Calendar updated successfully")
}

/// DELETE /v2.0/calendar/{calendarId}: `{message}`.
pub async fn calendar_delete(
    State(app): State<App>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult {
    let entry = calendar_entry(&app.shared.lock().world, &caller, &raw)?;
    remove(&app, &caller, entry.task_id)?;
    ok_message("Calendar deleted successfully")
}

/// POST /v2.0/calendar/{calendarId}/finish: `{message}`.
pub async fn calendar_finish(
    State(app): State<App>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult {
    let entry = calendar_entry(&app.shared.lock().world, &caller, &raw)?;
    set_finished(&app, &caller, entry.task_id, true)?;
    ok_message("Calendar finished successfully")
}

/// POST /v2.0/calendar/{calendarId}/unfinish: `{message}`.
pub async fn calendar_unfinish(
    State(app): State<App>,
    caller: Caller,
    Path(raw): Path<String>,
) -> ApiResult {
    let entry = calendar_entry(&app.shared.lock().world, &caller, &raw)?;
    set_finished(&app, &caller, entry.task_id, false)?;
    ok_message("Calendar unfinished successfully")
}
