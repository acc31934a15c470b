//! Appointments of the Calendars API (Version `2021-04-15`).

use axum::extract::{Path, Query, State};
use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::App;
use super::body::Body;
use super::contacts::named_location;
use super::http::{ApiError, ApiResult, Caller, created, ok};
use super::state::{Appointment, Location, World, new_id};
use super::validate::{self, Kind, opt, req};

const READ: &str = "calendars/events.readonly";
const CALENDARS_READ: &str = "calendars.readonly";
const WRITE: &str = "calendars/events.write";
const STATUSES: &[&str] = &[
    "new",
    "confirmed",
    "cancelled",
    "showed",
    "noshow",
    "invalid",
];
const MEETING_TYPES: &[&str] = &[
    "custom", "zoom", "gmeet", "phone", "address", "ms_teams", "google",
];

const COMMON: &[validate::Prop] = &[
    opt("title", Kind::Str),
    opt("meetingLocationType", Kind::Str),
    opt("meetingLocationId", Kind::Str),
    opt("overrideLocationConfig", Kind::Bool),
    opt("appointmentStatus", Kind::Str),
    opt("assignedUserId", Kind::Str),
    opt("description", Kind::Str),
    opt("address", Kind::Str),
    opt("ignoreDateRange", Kind::Bool),
    opt("toNotify", Kind::Bool),
    opt("ignoreFreeSlotValidation", Kind::Bool),
    opt("rrule", Kind::Str),
    opt("endTime", Kind::Str),
];

fn props(create: bool) -> Vec<validate::Prop> {
    let extra: &[validate::Prop] = if create {
        &[
            req("calendarId", Kind::Str),
            req("locationId", Kind::Str),
            req("contactId", Kind::Str),
            req("startTime", Kind::Str),
        ]
    } else {
        &[opt("calendarId", Kind::Str), opt("startTime", Kind::Str)]
    };
    COMMON.iter().chain(extra).copied().collect()
}

fn parse_time(
    input: &Map<String, Value>,
    key: &str,
) -> Result<Option<DateTime<FixedOffset>>, ApiError> {
    match input.get(key).and_then(Value::as_str) {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s).map(Some).map_err(|_| {
            ApiError::unprocessable(vec![format!("{key} must be a valid ISO 8601 date string")])
        }),
    }
}

fn check_enums(input: &Map<String, Value>) -> Result<(), ApiError> {
    let mut messages = Vec::new();
    for (key, allowed) in [
        ("appointmentStatus", STATUSES),
        ("meetingLocationType", MEETING_TYPES),
    ] {
        if let Some(v) = input.get(key).and_then(Value::as_str)
            && !allowed.contains(&v)
        {
            messages.push(format!(
                "{key} must be one of the following values: {}",
                allowed.join(", ")
            ));
        }
    }
    if messages.is_empty() {
        Ok(())
    } else {
        Err(ApiError::unprocessable(messages))
    }
}

fn check_refs(loc: &Location, input: &Map<String, Value>) -> Result<(), ApiError> {
    if let Some(c) = input.get("calendarId").and_then(Value::as_str)
        && !loc.calendars.iter().any(|x| x.id == c)
    {
        return Err(ApiError::bad_request(format!(
            "Calendar with id {c} not found"
        )));
    }
    if let Some(u) = input.get("assignedUserId").and_then(Value::as_str)
        && !loc.has_user(u)
    {
        return Err(ApiError::bad_request(format!(
            "User with id {u} not found in this location"
        )));
    }
    Ok(())
}

fn event_not_found(id: &str) -> ApiError {
    ApiError::bad_request(format!("Event with id {id} not found"))
}

fn event_location<'a>(
    world: &'a mut World,
    caller: &Caller,
    id: &str,
) -> Result<&'a mut Location, ApiError> {
    let loc_id = world
        .locations
        .values()
        .find(|l| l.appointments.contains_key(id))
        .map(|l| l.id.clone())
        .ok_or_else(|| event_not_found(id))?;
    named_location(world, caller, &loc_id)
}

/// POST /calendars/events/appointments (create-appointment).
pub async fn create(State(app): State<App>, caller: Caller, Body(body): Body) -> ApiResult {
    caller.require(WRITE)?;
    let input = validate::check(&body, &props(true))?;
    check_enums(&input)?;
    let start = parse_time(&input, "startTime")?.unwrap_or_else(|| Utc::now().fixed_offset());
    let end = parse_time(&input, "endTime")?.unwrap_or(start + chrono::Duration::minutes(30));
    if end <= start {
        return Err(ApiError::bad_request("endTime must be after startTime"));
    }
    let location_id = input["locationId"].as_str().unwrap_or_default().to_owned();
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    check_refs(loc, &input)?;
    let contact_id = input["contactId"].as_str().unwrap_or_default().to_owned();
    if !loc.contacts.contains_key(&contact_id) {
        return Err(ApiError::bad_request(format!(
            "Contact with id {contact_id} not found"
        )));
    }
    let calendar_id = input["calendarId"].as_str().unwrap_or_default().to_owned();
    let s = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_owned);
    let now = Utc::now();
    let mut rng = rand::rng();
    let appt = Appointment {
        id: new_id(&mut rng),
        location_id: location_id.clone(),
        group_id: format!("grp{}", &calendar_id[..calendar_id.len().min(17)]),
        calendar_id,
        contact_id,
        title: s("title").unwrap_or_else(|| "Appointment".to_owned()),
        appointment_status: s("appointmentStatus").unwrap_or_else(|| "confirmed".to_owned()),
        assigned_user_id: s("assignedUserId")
            .or_else(|| loc.users.first().map(|u| u.id.clone()))
            .unwrap_or_default(),
        address: s("address"),
        meeting_location_type: s("meetingLocationType"),
        notes: None,
        description: s("description"),
        start,
        end,
        date_added: now,
        date_updated: now,
        rrule: s("rrule"),
    };
    app.shared
        .outbox
        .emit_appointment("AppointmentCreate", &location_id, appt.to_webhook_json());
    let out = appt.to_flat_json();
    loc.appointments.insert(appt.id.clone(), appt);
    inner.rt.touch();
    ok(out)
}

/// PUT /calendars/events/appointments/{eventId} (edit-appointment).
pub async fn edit(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    caller.require(WRITE)?;
    let input = validate::check(&body, &props(false))?;
    check_enums(&input)?;
    let start = parse_time(&input, "startTime")?;
    let end = parse_time(&input, "endTime")?;
    let mut inner = app.shared.lock();
    let loc = event_location(&mut inner.world, &caller, &id)?;
    check_refs(loc, &input)?;
    let loc_id = loc.id.clone();
    let appt = loc
        .appointments
        .get_mut(&id)
        .ok_or_else(|| event_not_found(&id))?;
    let new_start = start.unwrap_or(appt.start);
    let new_end = end.unwrap_or(if start.is_some() {
        new_start + (appt.end - appt.start)
    } else {
        appt.end
    });
    if new_end <= new_start {
        return Err(ApiError::bad_request("endTime must be after startTime"));
    }
    appt.start = new_start;
    appt.end = new_end;
    let s = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(v) = s("title") {
        appt.title = v;
    }
    if let Some(v) = s("appointmentStatus") {
        appt.appointment_status = v;
    }
    if let Some(v) = s("assignedUserId") {
        appt.assigned_user_id = v;
    }
    if let Some(v) = s("calendarId") {
        appt.calendar_id = v;
    }
    if input.contains_key("address") {
        appt.address = s("address");
    }
    if input.contains_key("description") {
        appt.description = s("description");
    }
    if input.contains_key("meetingLocationType") {
        appt.meeting_location_type = s("meetingLocationType");
    }
    if input.contains_key("rrule") {
        appt.rrule = s("rrule");
    }
    appt.date_updated = Utc::now();
    app.shared
        .outbox
        .emit_appointment("AppointmentUpdate", &loc_id, appt.to_webhook_json());
    let out = appt.to_flat_json();
    inner.rt.touch();
    ok(out)
}

/// GET /calendars/events/appointments/{eventId} (get-appointment).
pub async fn get(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult {
    caller.require(READ)?;
    let mut inner = app.shared.lock();
    let loc = event_location(&mut inner.world, &caller, &id)?;
    let appt = loc
        .appointments
        .get(&id)
        .ok_or_else(|| event_not_found(&id))?;
    ok(json!({"event": appt.to_event_json()}))
}

/// DELETE /calendars/events/{eventId} (delete-event): 201 `{succeeded}`.
pub async fn delete(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(_body): Body,
) -> ApiResult {
    caller.require(WRITE)?;
    let mut inner = app.shared.lock();
    let loc = event_location(&mut inner.world, &caller, &id)?;
    let appt = loc
        .appointments
        .shift_remove(&id)
        .ok_or_else(|| event_not_found(&id))?;
    app.shared.outbox.emit_appointment(
        "AppointmentDelete",
        &appt.location_id,
        appt.to_webhook_json(),
    );
    inner.rt.touch();
    created(json!({"succeeded": true}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsQuery {
    location_id: Option<String>,
    user_id: Option<String>,
    calendar_id: Option<String>,
    group_id: Option<String>,
    start_time: Option<String>,
    end_time: Option<String>,
}

/// GET /calendars/events (get-calendar-events): a time window in epoch millis.
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<EventsQuery>,
) -> ApiResult {
    caller.require(READ)?;
    let mut missing = Vec::new();
    for (name, v) in [
        ("locationId", &q.location_id),
        ("startTime", &q.start_time),
        ("endTime", &q.end_time),
    ] {
        if v.is_none() {
            missing.push(format!("{name} should not be empty"));
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::unprocessable(missing));
    }
    if q.calendar_id.is_none() && q.user_id.is_none() && q.group_id.is_none() {
        return Err(ApiError::bad_request(
            "One of calendarId, userId or groupId is required",
        ));
    }
    let millis = |s: &Option<String>, name: &str| {
        s.as_deref()
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| {
                ApiError::unprocessable(vec![format!("{name} must be epoch milliseconds")])
            })
    };
    let (from, to) = (
        millis(&q.start_time, "startTime")?,
        millis(&q.end_time, "endTime")?,
    );
    let location_id = q.location_id.clone().unwrap_or_default();
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let events: Vec<Value> = loc
        .appointments
        .values()
        .filter(|a| q.calendar_id.as_ref().is_none_or(|c| *c == a.calendar_id))
        .filter(|a| q.user_id.as_ref().is_none_or(|u| *u == a.assigned_user_id))
        .filter(|a| q.group_id.as_ref().is_none_or(|g| *g == a.group_id))
        .filter(|a| a.end.timestamp_millis() > from && a.start.timestamp_millis() < to)
        .map(Appointment::to_event_json)
        .collect();
    ok(json!({"events": events}))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalendarsQuery {
    location_id: Option<String>,
    group_id: Option<String>,
}

/// GET /calendars/ (get-calendars): the location's calendars, `{calendars}`.
pub async fn calendars(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<CalendarsQuery>,
) -> ApiResult {
    caller.require(CALENDARS_READ)?;
    let Some(location_id) = q.location_id.filter(|l| !l.is_empty()) else {
        return Err(ApiError::unprocessable(vec![
            "locationId should not be empty".to_owned(),
        ]));
    };
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let calendars: Vec<Value> = loc
        .calendars
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "locationId": loc.id,
                "groupId": format!("grp{}", &c.id[..c.id.len().min(17)]),
                "name": c.name,
                "isActive": true,
                "calendarType": "event",
                "slotDuration": 30,
                "slotDurationUnit": "mins",
            })
        })
        .filter(|c| q.group_id.as_ref().is_none_or(|g| c["groupId"] == *g))
        .collect();
    ok(json!({"calendars": calendars}))
}
