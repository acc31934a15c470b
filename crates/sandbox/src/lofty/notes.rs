//! Notes: `GET/POST /v1.0/notes`, `GET/PUT/DELETE /v1.0/notes/{noteId}`.
//!
//! `leadId` (a JSON number), `content` (not blank, cut to 2000 characters) and `isPin`
//! (not null) are all required on create and update. A new note answers 404 on GET and
//! PUT for `consistency_delay_ms`; DELETE is not affected. Update and delete answer
//! with an empty body. Changes go to webhook list 9 (`createdNote`, `updatedNote`,
//! `deletedNote`, entries `{noteId, leadId, updateTime}`).

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::App;
use super::http::{ApiError, ApiResult, Body, Query, empty, ok, path_id};
use super::state::{Caller, Inner, LIST_NOTE, Note, World, now_ms};
use super::validate::{boolean, number, object, string, truncate};
use super::webhooks;

/// `content` and `isPin` of a create or update body.
fn content_and_pin(body: &Value) -> Result<(String, bool), ApiError> {
    let map = object(body)?;
    let content = string(map, "content")?
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| ApiError::invalid("content must not be blank"))?;
    let pin = boolean(map, "isPin")?.ok_or_else(|| ApiError::invalid("isPin must not be null"))?;
    Ok((truncate(&content, 2000), pin))
}

fn emit(inner: &mut Inner, bucket: &str, note: &Note, now: i64) {
    let Some(lead) = inner.world.leads.get(&note.lead_id).cloned() else {
        return;
    };
    let entry = json!({"noteId": note.note_id, "leadId": note.lead_id, "updateTime": now});
    webhooks::emit(inner, LIST_NOTE, bucket, "noteId", entry, &lead);
}

/// The note, if it exists, is readable at `now` and its lead is the caller's.
fn readable<'w>(
    world: &'w World,
    caller: &Caller,
    note_id: i64,
    now: i64,
) -> Result<&'w Note, ApiError> {
    let note = world
        .notes
        .get(&note_id)
        .filter(|n| n.visible_at_ms <= now)
        .ok_or_else(ApiError::note_not_exist)?;
    world
        .leads
        .get(&note.lead_id)
        .filter(|l| l.trashed.is_none() && world.can_manage(caller, l))
        .ok_or_else(ApiError::lead_not_exist)?;
    Ok(note)
}

/// GET /v1.0/notes?leadId=: `{notes: [...]}`.
pub async fn list(State(app): State<App>, caller: Caller, q: Query) -> ApiResult {
    let lead_id = q
        .int("leadId")?
        .filter(|id| *id >= 1)
        .ok_or_else(|| ApiError::invalid("leadId is required"))?;
    let system = q.bool("includeSystemNote")?.unwrap_or(false);
    let inner = app.shared.lock();
    let world = &inner.world;
    world
        .readable_lead(lead_id, now_ms())
        .filter(|l| world.can_manage(&caller, l))
        .ok_or_else(ApiError::lead_not_exist)?;
    let notes: Vec<Value> = world
        .notes
        .values()
        .filter(|n| n.lead_id == lead_id && (system || !n.system))
        .map(|n| n.to_json(world))
        .collect();
    ok(json!({"notes": notes}))
}

/// POST /v1.0/notes: `{noteId}`.
pub async fn create(State(app): State<App>, caller: Caller, Body(body): Body) -> ApiResult {
    let lead_id = number(object(&body)?, "leadId")?
        .filter(|id| *id >= 1)
        .ok_or_else(|| ApiError::invalid("leadId is required"))?;
    let (content, is_pin) = content_and_pin(&body)?;
    let now = now_ms();
    let mut inner = app.shared.lock();
    let Inner { world, rt } = &mut *inner;
    world
        .leads
        .get(&lead_id)
        .filter(|l| l.trashed.is_none() && world.can_manage(&caller, l))
        .ok_or_else(ApiError::lead_not_exist)?;
    let note_id = world.next_id(&mut rt.rng);
    let timeline_id = world.next_id(&mut rt.rng);
    let note = Note {
        note_id,
        timeline_id,
        lead_id,
        content,
        is_pin,
        system: false,
        creator_id: caller.member_user_id,
        last_editor_id: caller.member_user_id,
        created_ms: now,
        updated_ms: now,
        visible_at_ms: now + i64::try_from(rt.consistency_delay_ms).unwrap_or(0),
    };
    world.notes.insert(note_id, note.clone());
    emit(&mut inner, "createdNote", &note, now);
    inner.rt.dirty = true;
    drop(inner);
    app.shared.wake.notify_one();
    ok(json!({"noteId": note_id}))
}

/// GET /v1.0/notes/{noteId}: `{note: {...}}`.
pub async fn get(State(app): State<App>, caller: Caller, Path(raw): Path<String>) -> ApiResult {
    let note_id = path_id(&raw, "noteId")?;
    let inner = app.shared.lock();
    let note = readable(&inner.world, &caller, note_id, now_ms())?;
    ok(json!({"note": note.to_json(&inner.world)}))
}

/// PUT /v1.0/notes/{noteId}: empty body.
pub async fn update(
    State(app): State<App>,
    caller: Caller,
    Path(raw): Path<String>,
    Body(body): Body,
) -> ApiResult {
    let note_id = path_id(&raw, "noteId")?;
    let lead_id = number(object(&body)?, "leadId")?;
    let (content, is_pin) = content_and_pin(&body)?;
    let now = now_ms();
    let mut inner = app.shared.lock();
    let note = readable(&inner.world, &caller, note_id, now)?;
    if lead_id.is_some_and(|id| id != note.lead_id) {
        return Err(ApiError::bad(
            "INVALID_UPDATE_OPERATION_LEADID",
            "The leadId does not match the note's lead.",
        ));
    }
    let Some(note) = inner.world.notes.get_mut(&note_id) else {
        return Err(ApiError::note_not_exist());
    };
    note.content = content;
    note.is_pin = is_pin;
    note.last_editor_id = caller.member_user_id;
    note.updated_ms = now;
    let note = note.clone();
    emit(&mut inner, "updatedNote", &note, now);
    inner.rt.dirty = true;
    drop(inner);
    app.shared.wake.notify_one();
    empty()
}

/// DELETE /v1.0/notes/{noteId}: empty body.
pub async fn delete(State(app): State<App>, caller: Caller, Path(raw): Path<String>) -> ApiResult {
    let note_id = path_id(&raw, "noteId")?;
    let now = now_ms();
    let mut inner = app.shared.lock();
    // Delete is not subject to the read delay after create.
    let note = inner
        .world
        .notes
        .get(&note_id)
        .cloned()
        .ok_or_else(ApiError::note_not_exist)?;
    let world = &inner.world;
    world
        .leads
        .get(&note.lead_id)
        .filter(|l| world.can_manage(&caller, l))
        .ok_or_else(ApiError::lead_not_exist)?;
    inner.world.notes.shift_remove(&note_id);
    emit(&mut inner, "deletedNote", &note, now);
    inner.rt.dirty = true;
    drop(inner);
    app.shared.wake.notify_one();
    empty()
}
