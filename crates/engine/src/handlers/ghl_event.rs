//! `ghl.event`: a journaled GHL webhook. INSTALL and UNINSTALL change connections;
//! other events are recorded as skipped until a flow consumes them (the journal
//! keeps the body for replay).

use super::{Context, Failed, Outcome, Verdict};
use crate::connections::{agency_connection_id, on_install, on_uninstall};
use crate::jobs::GhlEvent;

/// Whether the intake takes an event of this type: INSTALL, UNINSTALL and every
/// GHL trigger of the catalog (the contact, note, task and appointment events).
pub fn handles(event_type: &str) -> bool {
    matches!(event_type, "INSTALL" | "UNINSTALL")
        || crate::catalog::trigger_of("ghl", event_type).is_some()
}

pub async fn run(ctx: &Context, job: &GhlEvent) -> Result<Outcome, Failed> {
    let record = format!("ghl:event:{}", job.webhook_id);
    let location = job.location_id.as_deref();
    route_to_action_flows(ctx, job).await?;
    match job.event_type.as_str() {
        "INSTALL" => install(ctx, job, record).await,
        "UNINSTALL" => {
            let at = job.timestamp.as_deref().unwrap_or("unknown time");
            match on_uninstall(ctx.store(), location, at).await {
                Ok(Some(id)) => Ok(Outcome::new(
                    record,
                    Verdict::Disabled,
                    format!("UNINSTALL: connection {id} disabled; jobs held"),
                )),
                Ok(None) => Ok(Outcome::new(
                    record,
                    Verdict::Skipped,
                    "UNINSTALL for an unknown location",
                )),
                Err(e) => Err(Failed::retry(format!("UNINSTALL: {e}"))),
            }
        }
        "ContactCreate" | "ContactUpdate" | "ContactDelete" | "ContactTagUpdate"
        | "ContactDndUpdate" => contact(ctx, job, record).await,
        "TaskCreate" | "TaskComplete" | "TaskDelete" | "NoteCreate" | "NoteUpdate"
        | "NoteDelete" | "AppointmentCreate" | "AppointmentUpdate" | "AppointmentDelete" => {
            child(ctx, job, record).await
        }
        other => Ok(Outcome::new(
            record,
            Verdict::Skipped,
            format!(
                "{other} for location {}: no flow consumes this event yet",
                location.unwrap_or("unknown")
            ),
        )),
    }
}

/// Hands the event to the action flows of its trigger (their own `flow.action` jobs;
/// the sync flows carry on below).
async fn route_to_action_flows(ctx: &Context, job: &GhlEvent) -> Result<(), Failed> {
    let Some(trigger) = crate::catalog::trigger_of("ghl", &job.event_type) else {
        return Ok(());
    };
    if ctx.store().action_flows_of(&trigger.id).await?.is_empty() {
        return Ok(());
    }
    let body = body_of(ctx, job).await?;
    let from = job
        .location_id
        .as_deref()
        .map(crate::connections::location_connection_id);
    crate::actions::route(
        ctx.store(),
        &crate::catalog::ghl_events(&body),
        from.as_deref(),
    )
    .await?;
    Ok(())
}

/// The journaled body of a GHL event.
async fn body_of(ctx: &Context, job: &GhlEvent) -> Result<serde_json::Value, Failed> {
    let Some(body) = ctx.store().event_body("ghl", &job.webhook_id).await? else {
        return Err(Failed::give_up(format!(
            "journal event {} is missing",
            job.webhook_id
        )));
    };
    Ok(serde_json::from_str(&body).unwrap_or_default())
}

/// The connection of the event's location.
async fn connection_of(ctx: &Context, job: &GhlEvent) -> Result<Option<store::Connection>, Failed> {
    let connections = ctx.store().connections().await?;
    Ok(connections.into_iter().find(|c| {
        c.system == domain::System::Ghl
            && c.location_id.is_some()
            && c.location_id == job.location_id
    }))
}

fn no_connection(job: &GhlEvent, record: String) -> Outcome {
    Outcome::new(
        record,
        Verdict::Skipped,
        format!("{} for a location with no connection", job.event_type),
    )
}

/// A contact event: routed to the flows that sync this location's contacts. The
/// webhook carries the contact, so the flows read nothing from GHL.
async fn contact(ctx: &Context, job: &GhlEvent, record: String) -> Result<Outcome, Failed> {
    let store = ctx.store();
    let body = body_of(ctx, job).await?;
    let contact = crate::sync::systems::ghl_webhook_contact(&body);
    let Some(id) = crate::sync::systems::id_of("ghl.contact", &contact) else {
        return Ok(Outcome::new(
            record,
            Verdict::Skipped,
            format!("{} without a contact id", job.event_type),
        ));
    };
    let Some(conn) = connection_of(ctx, job).await? else {
        return Ok(no_connection(job, record));
    };
    let version = crate::sync::systems::version_of("ghl.contact", &contact).or_else(|| {
        job.timestamp
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_millisecond())
    });
    let deleted = job.event_type == "ContactDelete";
    let routed = crate::sync::route(
        store,
        crate::sync::Change {
            object: "ghl.contact",
            connection: &conn.id,
            record: &id,
            version,
            event: Some(&job.webhook_id),
            state: Some(&contact),
            deleted,
        },
    )
    .await?;
    let verdict = if routed == 0 {
        Verdict::Skipped
    } else {
        Verdict::Done
    };
    Ok(Outcome::new(
        format!("ghl:contact:{id}"),
        verdict,
        format!("{} routed to {routed} flow(s)", job.event_type),
    ))
}

/// A task or note event: routed to the flows that sync this location's tasks or
/// notes, with the record the webhook carries (no GHL read). GHL is reported to
/// send `TaskCreate` without `contactId` and `body` (HighLevel's API-docs
/// tracker): such a task is found by one search of the location's tasks.
/// `TaskComplete` carries no `completed`: it is set.
async fn child(ctx: &Context, job: &GhlEvent, record: String) -> Result<Outcome, Failed> {
    let store = ctx.store();
    let object = if job.event_type.starts_with("Task") {
        "ghl.task"
    } else if job.event_type.starts_with("Appointment") {
        "ghl.appointment"
    } else {
        "ghl.note"
    };
    let mut body = body_of(ctx, job).await?;
    // An appointment event carries the appointment under `appointment`.
    if object == "ghl.appointment" {
        body = body
            .get("appointment")
            .cloned()
            .unwrap_or(serde_json::Value::Null);
    }
    let mut state = crate::sync::systems::ghl_webhook_contact(&body);
    state.as_object_mut().map(|m| m.remove("locationId"));
    let Some(id) = crate::sync::systems::id_of(object, &state) else {
        return Ok(Outcome::new(
            record,
            Verdict::Skipped,
            format!("{} without an id", job.event_type),
        ));
    };
    let Some(conn) = connection_of(ctx, job).await? else {
        return Ok(no_connection(job, record));
    };
    let reference = format!("{}:{id}", object.replace('.', ":"));
    let consumers = crate::sync::consumers(store, object, &conn.id).await?;
    if consumers.is_empty() {
        return Ok(Outcome::new(
            reference,
            Verdict::Skipped,
            format!("{}: no flow syncs {object} records", job.event_type),
        ));
    }
    let deleted = job.event_type.ends_with("Delete");
    if deleted {
        let routed = crate::sync::route(
            store,
            crate::sync::Change {
                object,
                connection: &conn.id,
                record: &id,
                version: None,
                event: None,
                state: None,
                deleted: true,
            },
        )
        .await?;
        return Ok(Outcome::new(
            reference,
            Verdict::Done,
            format!("{} routed to {routed} flow(s)", job.event_type),
        ));
    }
    if job.event_type == "TaskComplete" {
        state["completed"] = serde_json::Value::Bool(true);
    }
    let no_contact =
        |s: &serde_json::Value| s.get("contactId").is_none_or(serde_json::Value::is_null);
    // A task the flows know (our own create coming back, for one): its contact is
    // known, and what the webhook lacks is kept from what was known.
    if no_contact(&state) {
        for (flow, side) in &consumers {
            if let Some(pair) = store.pair(&flow.row.id, side.as_str(), &id).await? {
                let known: serde_json::Value = serde_json::from_str(match side {
                    domain::sync::Side::Left => &pair.left_state,
                    domain::sync::Side::Right => &pair.right_state,
                })
                .unwrap_or_default();
                if let (Some(mut merged), Some(carried)) =
                    (known.as_object().cloned(), state.as_object())
                {
                    merged.extend(carried.clone());
                    state = serde_json::Value::Object(merged);
                }
                break;
            }
        }
    }
    if no_contact(&state) && object == "ghl.task" {
        let connector = ctx.connectors.open(&conn.id).await?;
        match crate::sync::systems::find_ghl_task(&connector, &id, state["title"].as_str()).await? {
            Some(found) => {
                let mut full = found;
                if job.event_type == "TaskComplete" {
                    full["completed"] = serde_json::Value::Bool(true);
                }
                state = full;
            }
            None => {
                return Ok(Outcome::new(
                    reference,
                    Verdict::Skipped,
                    format!(
                        "{} names no contact, and no task {id} was found in location {}",
                        job.event_type,
                        job.location_id.as_deref().unwrap_or("unknown")
                    ),
                ));
            }
        }
    }
    // GHL's tasks and notes carry no update time: the event's time stands in (the
    // change's version, and the record's `dateUpdated` for `newest`), so each
    // event is its own change and a late one never replaces a newer state.
    let at = job
        .timestamp
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .unwrap_or_else(|| {
            jiff::Timestamp::from_millisecond(store.now()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        });
    if body
        .get("dateUpdated")
        .is_none_or(serde_json::Value::is_null)
    {
        state["dateUpdated"] = serde_json::Value::String(at.to_string());
    }
    let version = crate::sync::systems::version_of(object, &state).or(Some(at.as_millisecond()));
    let jobs = crate::sync::route_read(store, &consumers, &[(id, version, state)]).await?;
    let n = store.enqueue_many(&jobs).await?;
    Ok(Outcome::new(
        reference,
        Verdict::Done,
        format!("{} routed to {n} flow(s)", job.event_type),
    ))
}

/// INSTALL on a location of a connected agency: mint the location's token from the
/// agency's (kept fresh by the token source) and store its connection.
async fn install(ctx: &Context, job: &GhlEvent, record: String) -> Result<Outcome, Failed> {
    let tokens = ctx.connectors.tokens();
    let Some(app) = tokens.app() else {
        return Err(Failed::give_up(
            "INSTALL received but no GHL client_id/client_secret is configured",
        ));
    };
    let not_ours = || {
        Ok(Outcome::new(
            record.clone(),
            Verdict::Skipped,
            "INSTALL for a location of no connected agency",
        ))
    };
    let (Some(company), Some(location)) = (job.company_id.as_deref(), job.location_id.as_deref())
    else {
        return not_ours();
    };
    let Some(agency) = ctx
        .store()
        .connection(&agency_connection_id(company))
        .await?
    else {
        // A location install without an agency connection: the user connects it via OAuth.
        return not_ours();
    };
    let agency_token = tokens
        .access_token(&agency)
        .await
        .map_err(|e| Failed::retry(format!("INSTALL: {e}")))?;
    match on_install(ctx.store(), app, &agency_token, company, location).await {
        Ok(id) => Ok(Outcome::new(
            record,
            Verdict::Connected,
            format!("INSTALL: connection {id} is active"),
        )),
        Err(e) => Err(Failed::retry(format!("INSTALL: {e}"))),
    }
}
