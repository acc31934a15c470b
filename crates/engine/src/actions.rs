//! Action flows at run time (the files are `domain::flow`): switching one on between
//! two connections, routing each trigger event to the enabled flows of its trigger
//! as `flow.action` jobs (one per flow and event), firing schedules, and running the
//! job: filter, mapping, the action's input check, then the action through the
//! flow's connection.

use domain::catalog::{BUILTIN, Entry};
use domain::flow::{ActionFlow, FlowFile};
use serde_json::{Value, json};
use store::{ActionFlowRow, Store, StoreError};

use crate::catalog::{TriggerEvent, catalog};
use crate::handlers::{Context, Failed, Outcome, Verdict};
use crate::jobs::{FlowAction, Job};

/// Why an action flow cannot be switched on (each names the fix).
#[derive(Debug, thiserror::Error)]
pub enum EnableError {
    #[error("{0}")]
    File(#[from] domain::flow::FlowError),
    #[error("{0}")]
    Connection(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Checks `text` (a flow file) and stores it switched on: the trigger's events come
/// from `trigger_connection` (none for schedule and manual triggers), the action
/// runs through `action_connection` (ids or names).
pub async fn enable(
    store: &Store,
    file: &str,
    text: &str,
    trigger_connection: Option<&str>,
    action_connection: &str,
) -> Result<ActionFlowRow, EnableError> {
    let flow = FlowFile::parse(file, text)?.build(file, catalog())?;
    let trigger = entry(&flow.trigger);
    let action = entry(&flow.action);
    let trigger_conn = match (trigger.system.as_str(), trigger_connection) {
        (BUILTIN, None) => None,
        (BUILTIN, Some(_)) => {
            return Err(EnableError::Connection(format!(
                "{} is fired by ghlsync itself: give no trigger connection",
                trigger.id
            )));
        }
        (system, None) => {
            return Err(EnableError::Connection(format!(
                "{} comes from a {system} account: name the {system} connection whose events fire it (`ghlsync connections` lists them)",
                trigger.id
            )));
        }
        (_, Some(name)) => Some(usable(store, name, trigger).await?),
    };
    let action_conn = usable(store, action_connection, action).await?;
    if let (Some(conn), "lytho") = (&trigger_conn, trigger.system.as_str()) {
        // Polls start now: the items as they are do not fire the flow.
        let event = trigger
            .trigger
            .as_ref()
            .map(|t| t.event.as_str())
            .unwrap_or_default();
        let kind = lytho::ItemType::ALL
            .into_iter()
            .find(|k| k.as_str() == event);
        let name = kind.map(|k| crate::sync::systems::lytho::cursor_name(&conn.id, k));
        if let Some(name) = name
            && store.cursor(&name).await?.is_none()
        {
            let text = serde_json::to_string(&lytho::Cursor::after(chrono::Utc::now()))
                .unwrap_or_default();
            store.set_cursor(&name, &text).await?;
        }
    }
    let row = ActionFlowRow {
        id: flow.id.clone(),
        file: text.to_owned(),
        trigger_id: flow.trigger.clone(),
        trigger_connection: trigger_conn.map(|c| c.id),
        action_connection: action_conn.id,
        enabled: true,
        fired_at: None,
        created_at: 0,
        updated_at: 0,
    };
    store.put_action_flow(&row).await?;
    Ok(store.action_flow(&row.id).await?.unwrap_or(row))
}

fn entry(id: &str) -> &'static Entry {
    catalog()
        .find(id)
        .expect("a built flow names catalog entries")
}

/// The connection `name` if it can serve `entry`: its system, active, and (GHL)
/// holding the entry's scopes.
async fn usable(
    store: &Store,
    name: &str,
    entry: &Entry,
) -> Result<store::Connection, EnableError> {
    let conn = store.find_connection(name).await?.ok_or_else(|| {
        EnableError::Connection(format!(
            "connection `{name}` does not exist: `ghlsync connections` lists them"
        ))
    })?;
    if conn.system.as_str() != entry.system {
        return Err(EnableError::Connection(format!(
            "connection `{}` is a {} connection; {} needs a {} one",
            conn.name, conn.system, entry.id, entry.system
        )));
    }
    if entry.system == "ghl" {
        let granted: Vec<&str> = conn.scopes.split_whitespace().collect();
        if let Some(missing) = entry.scopes.iter().find(|s| !granted.contains(&s.as_str())) {
            return Err(EnableError::Connection(format!(
                "{} needs the scope {missing}, which connection `{}` lacks; {}",
                entry.id,
                conn.name,
                crate::sync::add_scopes_hint(
                    &conn,
                    &[granted.clone(), vec![missing.as_str()]].concat().join(" ")
                )
            )));
        }
    }
    Ok(conn)
}

/// Enqueues a `flow.action` job for every enabled flow of each event's trigger
/// whose trigger connection is `from` (flows without one take every event); the
/// same event routed twice is one job. Returns how many were queued.
pub async fn route(
    store: &Store,
    events: &[TriggerEvent],
    from: Option<&str>,
) -> Result<usize, StoreError> {
    let mut jobs = Vec::new();
    let mut flows: std::collections::BTreeMap<&str, Vec<ActionFlowRow>> = Default::default();
    for ev in events {
        if !flows.contains_key(ev.trigger.as_str()) {
            let of = store.action_flows_of(&ev.trigger).await?;
            flows.insert(ev.trigger.as_str(), of);
        }
        for flow in &flows[ev.trigger.as_str()] {
            if flow.trigger_connection.is_some() && flow.trigger_connection.as_deref() != from {
                continue;
            }
            jobs.push(
                Job::from(FlowAction {
                    flow: flow.id.clone(),
                    connection: flow.action_connection.clone(),
                    event_key: ev.key.clone(),
                    event: ev.payload.clone(),
                })
                .into_new_job(),
            );
        }
    }
    if jobs.is_empty() {
        return Ok(0);
    }
    store.enqueue_many(&jobs).await
}

/// Fires the enabled schedule flows that are due at `now` (epoch ms): each slot
/// once, whichever worker sees it first.
pub async fn fire_schedules(store: &Store, now: i64) -> Result<usize, StoreError> {
    let mut fired = 0;
    for flow in store.action_flows_of("ghlsync.trigger.schedule").await? {
        let settings = FlowFile::parse(&flow.id, &flow.file)
            .map(|f| Value::Object(f.trigger))
            .unwrap_or_default();
        let Some(slot) = slot_of(&settings, now) else {
            continue;
        };
        if flow.fired_at.is_some_and(|at| at >= slot) {
            continue;
        }
        if !store
            .mark_action_flow_fired(&flow.id, flow.fired_at, slot)
            .await?
        {
            continue;
        }
        let fired_at = jiff::Timestamp::from_millisecond(slot)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let job = Job::from(FlowAction {
            flow: flow.id.clone(),
            connection: flow.action_connection.clone(),
            event_key: format!("schedule:{slot}"),
            event: json!({"firedAt": fired_at}),
        });
        store.enqueue(&job.into_new_job()).await?;
        fired += 1;
    }
    Ok(fired)
}

/// The start of the schedule slot `now` is in: the last multiple of `every_secs`,
/// or the last `at` (HH:MM) in `timezone`. `None` when the settings name neither.
pub fn slot_of(settings: &Value, now: i64) -> Option<i64> {
    if let Some(every) = settings.get("every_secs").and_then(Value::as_i64) {
        let every = every.max(60) * 1000;
        return Some(now - now.rem_euclid(every));
    }
    let at = settings.get("at").and_then(Value::as_str)?;
    let (h, m) = at.split_once(':')?;
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    let tz = settings
        .get("timezone")
        .and_then(Value::as_str)
        .and_then(|t| jiff::tz::TimeZone::get(t).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let here = jiff::Timestamp::from_millisecond(now)
        .ok()?
        .to_zoned(tz.clone());
    let mut day = here.date();
    loop {
        let at = day.at(h, m, 0, 0).to_zoned(tz.clone()).ok()?;
        if at.timestamp().as_millisecond() <= now {
            return Some(at.timestamp().as_millisecond());
        }
        day = day.yesterday().ok()?;
    }
}

/// The event a manual run fires: when, and what the person gave.
pub fn manual_event(input: Value) -> Value {
    json!({"firedAt": jiff::Timestamp::now().to_string(), "input": input})
}

/// A flow's action input for `event`, checked against the action's schema: `None`
/// when the filter says no.
pub fn prepare(flow: &ActionFlow, event: &Value) -> Result<Option<Value>, String> {
    if !flow
        .passes(event)
        .map_err(|e| format!("the filter failed: {e}"))?
    {
        return Ok(None);
    }
    let input = flow.input_for(event)?;
    let action = entry(&flow.action);
    let problems =
        domain::catalog::validate(&action.input_schema, &input).map_err(|e| e.to_string())?;
    if let Some(p) = problems.first() {
        let at = if p.path.is_empty() {
            "input".to_owned()
        } else {
            format!("input {}", p.path)
        };
        return Err(format!(
            "{}'s {at}: {} (mapped from the event: {input})",
            action.id, p.message
        ));
    }
    Ok(Some(input))
}

/// The stored flow `id`, built.
pub fn built(row: &ActionFlowRow) -> Result<ActionFlow, String> {
    FlowFile::parse(&row.id, &row.file)
        .and_then(|f| f.build(&row.id, catalog()))
        .map_err(|e| e.to_string())
}

/// What running a flow by hand did.
#[derive(Debug, Clone, PartialEq)]
pub enum Ran {
    /// The filter left the event out.
    Filtered,
    /// `dry_run`: the input the action would get; nothing was sent.
    Planned { input: Value },
    /// The action ran and answered.
    Done { input: Value, answer: Value },
}

/// Runs flow `row` now, in this process, on `event` (checked against the trigger's
/// output schema first): what `ghlsync flows run` does for an action flow.
pub async fn run_now(
    connectors: &crate::Connectors,
    row: &ActionFlowRow,
    event: &Value,
    dry_run: bool,
) -> Result<Ran, RunError> {
    let flow = built(row).map_err(RunError::Flow)?;
    let trigger = entry(&flow.trigger);
    let problems = domain::catalog::validate(&trigger.output_schema, event)
        .map_err(|e| RunError::Flow(e.to_string()))?;
    if let Some(p) = problems.first() {
        return Err(RunError::Event(format!(
            "the event does not fit {}: {}{} (`ghlsync catalog {}` shows its shape)",
            trigger.id,
            if p.path.is_empty() {
                String::new()
            } else {
                format!("{}: ", p.path)
            },
            p.message,
            trigger.id
        )));
    }
    let Some(input) = prepare(&flow, event).map_err(RunError::Event)? else {
        return Ok(Ran::Filtered);
    };
    if dry_run {
        return Ok(Ran::Planned { input });
    }
    let conn = connectors
        .store()
        .connection(&row.action_connection)
        .await
        .map_err(|e| RunError::Flow(e.to_string()))?
        .ok_or_else(|| {
            RunError::Flow(format!(
                "connection {} no longer exists",
                row.action_connection
            ))
        })?;
    let answer = crate::catalog::call(connectors, conn, entry(&flow.action), input.clone()).await?;
    Ok(Ran::Done { input, answer })
}

/// Why a flow run by hand failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The flow itself (file, connection) is broken.
    #[error("{0}")]
    Flow(String),
    /// The event or the input mapped from it is wrong.
    #[error("{0}")]
    Event(String),
    /// The action failed at the API.
    #[error("{0}")]
    Action(#[from] crate::ConnectorError),
}

/// Runs a `flow.action` job.
pub async fn run(ctx: &Context, job: &FlowAction) -> Result<Outcome, Failed> {
    let store = ctx.store();
    let record = format!("flow:{}:{}", job.flow, job.event_key);
    let Some(row) = store.action_flow(&job.flow).await? else {
        return Ok(Outcome::new(
            record,
            Verdict::Skipped,
            format!("flow {} no longer exists", job.flow),
        ));
    };
    if !row.enabled {
        return Ok(Outcome::new(
            record,
            Verdict::Skipped,
            format!("flow {} is switched off", job.flow),
        ));
    }
    let flow = built(&row).map_err(Failed::give_up)?;
    let Some(input) = prepare(&flow, &job.event).map_err(Failed::give_up)? else {
        return Ok(Outcome::new(
            record,
            Verdict::Skipped,
            "the filter left this event out",
        ));
    };
    let conn = store
        .connection(&row.action_connection)
        .await?
        .ok_or_else(|| {
            Failed::give_up(format!(
                "connection {} no longer exists",
                row.action_connection
            ))
        })?;
    let answer = crate::catalog::call(&ctx.connectors, conn, entry(&flow.action), input).await?;
    let mut shown = answer.to_string();
    if shown.len() > 300 {
        let mut end = 300;
        while !shown.is_char_boundary(end) {
            end -= 1;
        }
        shown.truncate(end);
        shown.push('…');
    }
    Ok(Outcome::new(
        record,
        Verdict::Ok,
        format!("{}: {shown}", flow.action),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_slots_follow_the_interval_or_the_daily_time() {
        let now = 1_790_000_123_456;
        assert_eq!(
            slot_of(&json!({"every_secs": 3600}), now),
            Some(now - now % 3_600_000)
        );
        let slot = slot_of(&json!({"at": "09:30", "timezone": "America/New_York"}), now).unwrap();
        let z = jiff::Timestamp::from_millisecond(slot)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::get("America/New_York").unwrap());
        assert_eq!((z.hour(), z.minute()), (9, 30));
        assert!(slot <= now && now - slot < 86_400_000);
        assert_eq!(slot_of(&json!({}), now), None);
    }
}
