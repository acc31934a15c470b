//! What a contact's tasks and notes share: both live on one contact and are listed,
//! read, created, updated and deleted the same way (scopes, the contact's location,
//! the 404 that names the missing one, the check that a named user belongs to the
//! location, the webhooks, the answer keys). [`SubResource`] says what differs; the
//! handlers here are written once, generic over it, and routed as `list::<Task>` etc.

use axum::extract::{Path, State};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::{READ, TwoIds, WRITE, contact_location};
use crate::ghl::App;
use crate::ghl::body::Body;
use crate::ghl::http::{ApiError, ApiResult, Caller, created, ok};
use crate::ghl::state::{Location, new_id};
use crate::ghl::validate::{self, Prop, opt};

/// A kind of record kept on a contact: a task or a note.
pub(super) trait SubResource: Sized + Send + 'static {
    /// The word of its 404 ("Task with id … not found") and of its `…Delete` webhook.
    const NAME: &'static str;
    /// The answer key of one (`task`) and of a list (`tasks`).
    const ONE: &'static str;
    const MANY: &'static str;
    /// The input field naming a user, who must belong to the location.
    const USER_FIELD: &'static str;
    /// The create DTO; the update DTO has the same properties, none required (as
    /// GHL's `UpdateTaskBody` and `UpdateNoteDTO` do).
    const DTO: &'static [Prop];

    /// Where a location keeps this kind.
    fn stored(loc: &mut Location) -> &mut IndexMap<String, Self>;
    fn contact_id(&self) -> &str;
    /// The answer JSON.
    fn json(&self) -> Value;
    /// The fields of its webhooks.
    fn webhook(&self) -> Map<String, Value>;
    /// Checks a create or update input beyond its DTO, before any lookup.
    fn check(_input: &Map<String, Value>) -> Result<(), ApiError> {
        Ok(())
    }
    /// A new one from a validated create input.
    fn from_input(id: String, contact_id: String, input: &Map<String, Value>) -> Self;
    /// The webhooks a new one sends.
    fn created_events(&self) -> &'static [&'static str];
    /// Applies a validated update and says which webhooks it sends.
    fn apply(&mut self, input: &Map<String, Value>) -> &'static [&'static str];
}

/// The one with `id` on contact `contact_id` (one on another contact is not found).
fn find<'a, T: SubResource>(
    loc: &'a mut Location,
    contact_id: &str,
    id: &str,
) -> Result<&'a mut T, ApiError> {
    T::stored(loc)
        .get_mut(id)
        .filter(|t| t.contact_id() == contact_id)
        .ok_or_else(|| ApiError::not_found(format!("{} with id {id} not found", T::NAME)))
}

fn check_user<T: SubResource>(loc: &Location, input: &Map<String, Value>) -> Result<(), ApiError> {
    match input.get(T::USER_FIELD).and_then(Value::as_str) {
        Some(u) if !loc.has_user(u) => Err(ApiError::bad_request(format!(
            "User with id {u} not found in this location"
        ))),
        _ => Ok(()),
    }
}

/// GET /contacts/{contactId}/tasks (get-all-tasks), /notes (get-all-notes).
pub(super) async fn list<T: SubResource>(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    caller.require(READ)?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    let items: Vec<Value> = T::stored(loc)
        .values()
        .filter(|t| t.contact_id() == id)
        .map(T::json)
        .collect();
    ok(json!({ T::MANY: items }))
}

/// POST /contacts/{contactId}/tasks (create-task), /notes (create-note).
pub(super) async fn create<T: SubResource>(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    caller.require(WRITE)?;
    let input = validate::check(&body, T::DTO)?;
    T::check(&input)?;
    let mut inner = app.shared.lock();
    let inner_documented = inner.rt.documented_webhooks;
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    check_user::<T>(loc, &input)?;
    let item_id = new_id(&mut rand::rng());
    let item = T::from_input(item_id.clone(), id, &input);
    let documented = inner_documented;
    for event in item.created_events() {
        let mut fields = item.webhook();
        // HighLevel's API-docs tracker reports real `TaskCreate` events without
        // the `contactId` and `body` the schema lists.
        if *event == "TaskCreate" && !documented {
            fields.remove("contactId");
            fields.remove("body");
        }
        app.shared.outbox.emit(event, &loc.id, fields);
    }
    let out = item.json();
    T::stored(loc).insert(item_id, item);
    inner.rt.touch();
    created(json!({ T::ONE: out }))
}

/// GET /contacts/{contactId}/tasks/{taskId} (get-task), /notes/{id} (get-note).
pub(super) async fn get<T: SubResource>(
    State(app): State<App>,
    caller: Caller,
    Path((id, item_id)): TwoIds,
) -> ApiResult {
    caller.require(READ)?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    let item = find::<T>(loc, &id, &item_id)?;
    ok(json!({ T::ONE: item.json() }))
}

/// PUT /contacts/{contactId}/tasks/{taskId} (update-task), /notes/{id} (update-note).
pub(super) async fn update<T: SubResource>(
    State(app): State<App>,
    caller: Caller,
    Path(ids): TwoIds,
    Body(body): Body,
) -> ApiResult {
    let dto: Vec<Prop> = T::DTO.iter().map(|p| opt(p.name, p.kind)).collect();
    write::<T>(&app, &caller, &ids, &body, &dto)
}

/// Updates the one `(contact id, its id)` names with `body`, validated against `dto`.
pub(super) fn write<T: SubResource>(
    app: &App,
    caller: &Caller,
    (id, item_id): &(String, String),
    body: &Value,
    dto: &[Prop],
) -> ApiResult {
    caller.require(WRITE)?;
    let input = validate::check(body, dto)?;
    T::check(&input)?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, caller, id)?;
    check_user::<T>(loc, &input)?;
    let loc_id = loc.id.clone();
    let item = find::<T>(loc, id, item_id)?;
    for event in item.apply(&input) {
        app.shared.outbox.emit(event, &loc_id, item.webhook());
    }
    let out = item.json();
    inner.rt.touch();
    ok(json!({ T::ONE: out }))
}

/// DELETE /contacts/{contactId}/tasks/{taskId} (delete-task), /notes/{id} (delete-note).
pub(super) async fn delete<T: SubResource>(
    State(app): State<App>,
    caller: Caller,
    Path((id, item_id)): TwoIds,
) -> ApiResult {
    caller.require(WRITE)?;
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, &caller, &id)?;
    find::<T>(loc, &id, &item_id)?;
    if let Some(item) = T::stored(loc).shift_remove(&item_id) {
        let event = format!("{}Delete", T::NAME);
        app.shared.outbox.emit(&event, &loc.id, item.webhook());
    }
    inner.rt.touch();
    ok(json!({"succeded": true}))
}
