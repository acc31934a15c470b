//! Appointments: GHL's calendar events and Lofty's calendar appointments, children
//! of a contact (GHL) or a lead (Lofty).
//!
//! - GHL books an appointment on a calendar (the flow's `[accounts] left_create`
//!   names it) in the connection's location; reads come as `{event}`, writes
//!   answer with the appointment. A contact's appointment list gives times without
//!   an offset, so a backfill reads each one by id.
//! - Lofty keeps appointments with the tasks (one id space): read as a V2 task,
//!   written through the V2 calendar with the composite id `<id>-appointment`,
//!   finished and unfinished by calls of their own. Lofty refuses a create or a
//!   time change that does not lie in the future: [`refuses`] says so before any
//!   call, and the runner records the skip with that reason.

use serde_json::{Map, Value, json};

use super::WriteError;
use super::children::{body_of, inner, lofty, lofty_id, text_of, unsupported};
use crate::connectors::{Connector, ConnectorError};

/// Whether `object` is an appointment type handled here.
pub fn is_appointment(object: &str) -> bool {
    matches!(object, "ghl.appointment" | "lofty.appointment")
}

/// Lofty's calendar names an appointment `<id>-appointment`.
fn calendar_id(id: &str) -> String {
    let bare = id.strip_suffix("-appointment").unwrap_or(id);
    format!("{bare}-appointment")
}

/// Why the target refuses to hold `patch` (`None`: it may be written). Lofty
/// takes no appointment that starts (or ends) at or before now: a create, or a
/// change of its times, into the past is skipped with this reason rather than
/// sent and retried.
pub(super) fn refuses(
    object: &str,
    patch: &Map<String, Value>,
    create: bool,
    now_ms: i64,
) -> Option<String> {
    if object != "lofty.appointment" {
        return None;
    }
    if !create && !patch.contains_key("startAt") && !patch.contains_key("endAt") {
        return None;
    }
    let at = |k: &str| patch.get(k).and_then(domain::sync::transform::instant_ms);
    let start = at("startAt").or_else(|| at("endAt"))?;
    (start <= now_ms).then(|| {
        let when = jiff::Timestamp::from_millisecond(start)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| start.to_string());
        format!(
            "Lofty refuses appointments that start in the past (this one starts {when}); it is not retried, and is synced if it is moved into the future"
        )
    })
}

pub async fn read(conn: &Connector, object: &str, id: &str) -> Result<Value, ConnectorError> {
    match (object, conn) {
        ("ghl.appointment", Connector::Ghl(c)) => c
            .call_id("get-appointment", json!({"eventId": id}))
            .await
            .map(|v| inner(v, "event")),
        ("lofty.appointment", Connector::Lofty(c)) => c
            .client
            .call(
                "lofty-get-task",
                json!({"taskId": lofty_id(id, "appointment")?}),
            )
            .await
            .map(|v| inner(v, "task"))
            .map_err(lofty),
        _ => Err(unsupported("read", object)),
    }
}

/// Lofty's finish / unfinish of an appointment, when `patch` changes it.
async fn lofty_finish(
    c: &lofty::LoftyClient,
    id: &str,
    patch: &Map<String, Value>,
) -> Result<(), ConnectorError> {
    if let Some(done) = patch.get("finishFlag").and_then(Value::as_bool) {
        let op = if done {
            "lofty-finish-calendar-event"
        } else {
            "lofty-unfinish-calendar-event"
        };
        c.call(op, json!({"calendarId": calendar_id(id)}))
            .await
            .map_err(lofty)?;
    }
    Ok(())
}

pub async fn create(
    conn: &Connector,
    object: &str,
    parent: String,
    patch: Map<String, Value>,
) -> Result<(String, Value), WriteError> {
    match (object, conn) {
        ("ghl.appointment", Connector::Ghl(c)) => {
            let mut body = body_of(&patch, &["id", "notes"]);
            body.insert("contactId".into(), Value::String(parent.clone()));
            body.insert(
                "locationId".into(),
                Value::String(c.connection.location_id.clone().unwrap_or_default()),
            );
            // A synced appointment is one that exists already elsewhere: it is
            // not held to the calendar's free slots, and nobody is notified again.
            body.entry("ignoreFreeSlotValidation")
                .or_insert(Value::Bool(true));
            body.entry("toNotify").or_insert(Value::Bool(false));
            if !body.contains_key("calendarId") {
                return Err(ConnectorError::Unsupported(
                    "a GHL appointment needs a calendar: enable the flow again with `[ghl.calendars]` set in the config".into(),
                )
                .into());
            }
            let mut record = c
                .call_id("create-appointment", json!({"body": body}))
                .await
                .map(|v| inner(v, "event"))?;
            let id = record.get("id").and_then(text_of).ok_or_else(|| {
                ConnectorError::Unsupported("GHL create-appointment answered no id".into())
            })?;
            record["contactId"] = Value::String(parent);
            Ok((id, record))
        }
        ("lofty.appointment", Connector::Lofty(c)) => {
            let mut body = body_of(&patch, &["id", "leadId", "finishFlag"]);
            body.insert("type".into(), Value::String("APPOINTMENT".into()));
            body.insert("leadId".into(), json!(lofty_id(&parent, "lead")?));
            body.entry("content")
                .or_insert(Value::String("Appointment".into()));
            if !body.contains_key("endAt")
                && let Some(start) = body
                    .get("startAt")
                    .and_then(domain::sync::transform::instant_ms)
                && let Ok(end) = jiff::Timestamp::from_millisecond(start + 30 * 60_000)
            {
                body.insert("endAt".into(), Value::String(end.to_string()));
            }
            let v = c
                .client
                .call("lofty-create-calendar-event", json!({"body": body}))
                .await
                .map_err(lofty)?;
            let composite = v["data"]["id"].as_str().unwrap_or_default().to_owned();
            let id = composite
                .strip_suffix("-appointment")
                .filter(|i| !i.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    ConnectorError::Unsupported(format!(
                        "Lofty create-calendar answered no appointment id ({v})"
                    ))
                })?;
            if patch.get("finishFlag") == Some(&Value::Bool(true)) {
                lofty_finish(&c.client, &id, &patch).await?;
            }
            let mut state = body;
            state.extend(patch);
            state.remove("type");
            state.insert("id".into(), Value::String(id.clone()));
            state.insert("leadId".into(), Value::String(parent));
            Ok((id, Value::Object(state)))
        }
        _ => Err(unsupported("create", object).into()),
    }
}

pub async fn update(
    conn: &Connector,
    object: &str,
    id: &str,
    current: &Value,
    parent: String,
    patch: Map<String, Value>,
) -> Result<Value, WriteError> {
    let mut known = current.as_object().cloned().unwrap_or_default();
    known.extend(patch.clone());
    match (object, conn) {
        ("ghl.appointment", Connector::Ghl(c)) => {
            let body = body_of(&patch, &["id", "contactId", "notes"]);
            let mut record = c
                .call_id("edit-appointment", json!({"eventId": id, "body": body}))
                .await
                .map(|v| inner(v, "event"))?;
            if record.get("id").is_none() {
                return Ok(Value::Object(known));
            }
            record["contactId"] = Value::String(parent);
            Ok(record)
        }
        ("lofty.appointment", Connector::Lofty(c)) => {
            let body = body_of(&patch, &["id", "leadId", "finishFlag"]);
            if !body.is_empty() {
                c.client
                    .call(
                        "lofty-update-calendar-event",
                        json!({"calendarId": calendar_id(id), "body": body}),
                    )
                    .await
                    .map_err(lofty)?;
            }
            lofty_finish(&c.client, id, &patch).await?;
            known.remove("lastUpdate");
            Ok(Value::Object(known))
        }
        _ => Err(unsupported("update", object).into()),
    }
}

pub async fn delete(conn: &Connector, object: &str, id: &str) -> Result<(), ConnectorError> {
    match (object, conn) {
        ("ghl.appointment", Connector::Ghl(c)) => c
            .call_id("delete-event", json!({"eventId": id}))
            .await
            .map(drop),
        ("lofty.appointment", Connector::Lofty(c)) => c
            .client
            .call(
                "lofty-delete-calendar-event",
                json!({"calendarId": calendar_id(id)}),
            )
            .await
            .map(drop)
            .map_err(lofty),
        _ => Err(unsupported("delete", object)),
    }
}

/// Every appointment of one contact or lead (a backfill goes parent by parent).
pub async fn list_under(
    conn: &Connector,
    object: &str,
    parent: &str,
) -> Result<Vec<Value>, ConnectorError> {
    match (object, conn) {
        ("ghl.appointment", Connector::Ghl(c)) => {
            let listed = c
                .call_id("get-appointments-for-contact", json!({"contactId": parent}))
                .await?;
            // The list gives times without their offset: each is read whole.
            let mut out = Vec::new();
            for event in listed["events"].as_array().into_iter().flatten() {
                let Some(id) = event.get("id").and_then(text_of) else {
                    continue;
                };
                let mut full = read(conn, object, &id).await?;
                if full.get("contactId").is_none_or(Value::is_null) {
                    full["contactId"] = Value::String(parent.to_owned());
                }
                out.push(full);
            }
            Ok(out)
        }
        ("lofty.appointment", Connector::Lofty(c)) => {
            let v = c
                .client
                .call(
                    "lofty-list-tasks",
                    json!({"leadId": lofty_id(parent, "lead")?}),
                )
                .await
                .map_err(lofty)?;
            Ok(v["tasks"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|t| t["type"].as_str() == Some("Appointment"))
                .map(|mut t| {
                    if t.get("leadId").is_none_or(Value::is_null) {
                        t["leadId"] = Value::String(parent.to_owned());
                    }
                    t
                })
                .collect())
        }
        _ => Err(unsupported("list", object)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lofty_refuses_appointments_in_the_past_only() {
        let now = 1_800_000_000_000;
        let past = json!({"startAt": "2020-01-01T10:00:00Z", "content": "x"});
        let future = json!({"startAt": "2030-01-01T10:00:00Z", "content": "x"});
        let obj = |v: &Value| v.as_object().cloned().unwrap();
        let why = refuses("lofty.appointment", &obj(&past), true, now).unwrap();
        assert!(
            why.contains("in the past") && why.contains("2020-01-01T10:00:00Z"),
            "{why}"
        );
        assert!(refuses("lofty.appointment", &obj(&future), true, now).is_none());
        // An edit that leaves the times alone is fine whenever it starts.
        let text_only = obj(&json!({"content": "renamed"}));
        assert!(refuses("lofty.appointment", &text_only, false, now).is_none());
        assert!(refuses("lofty.appointment", &obj(&past), false, now).is_some());
        assert!(refuses("ghl.appointment", &obj(&past), true, now).is_none());
        assert_eq!(calendar_id("12"), "12-appointment");
        assert_eq!(calendar_id("12-appointment"), "12-appointment");
    }
}
