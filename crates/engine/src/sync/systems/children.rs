//! Tasks and notes: records that live on a contact (GHL) or a lead (Lofty). Their
//! writes name the parent (GHL in the path, Lofty in the body), so the parent's id
//! is taken from the patch (a create: the runner sets it to the linked partner)
//! or from what is known of the record (`current`, `hint`).
//!
//! - GHL answers a task or note write with the record; Lofty with the id only.
//! - A Lofty task's completion is a call of its own (finish / unfinish), so a
//!   change of completion and another field costs two writes.
//! - Lofty requires all three of a note's fields (lead, content, pin) on update.

use serde_json::{Map, Value, json};

use super::{WriteError, status};
use crate::connectors::{Connector, ConnectorError};

/// Whether `object` is a child type handled here.
pub fn is_child(object: &str) -> bool {
    matches!(
        object,
        "ghl.task" | "ghl.note" | "lofty.task" | "lofty.note"
    )
}

/// The field of `object` that names its parent.
pub fn parent_field(object: &str) -> &'static str {
    if object.starts_with("ghl.") {
        "contactId"
    } else {
        "leadId"
    }
}

fn unsupported(what: &str, object: &str) -> ConnectorError {
    ConnectorError::Unsupported(format!(
        "cannot {what} {object} records through this connection"
    ))
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The parent id a write or read of a child needs, from the first of `from` that
/// has it.
fn parent_of(object: &str, from: &[&Value]) -> Result<String, ConnectorError> {
    let field = parent_field(object);
    from.iter()
        .find_map(|v| v.get(field).and_then(text_of))
        .ok_or_else(|| {
            ConnectorError::Unsupported(format!(
                "{object} record without `{field}`: its parent is not known"
            ))
        })
}

/// Lofty ids are numbers.
fn lofty_id(id: &str, what: &str) -> Result<i64, ConnectorError> {
    id.parse()
        .map_err(|_| ConnectorError::Unsupported(format!("Lofty {what} id `{id}` is not a number")))
}

fn lofty(e: lofty::LoftyError) -> ConnectorError {
    ConnectorError::Lofty(e)
}

/// The record inside an answer (`{"task": {...}}`).
fn inner(v: Value, key: &str) -> Value {
    match v {
        Value::Object(mut m) if m.get(key).is_some_and(Value::is_object) => {
            m.remove(key).unwrap_or_default()
        }
        other => other,
    }
}

/// A GHL task that a webhook named without its contact: found by a search over
/// the location's tasks (its title narrows it when known).
pub async fn find_ghl_task(
    conn: &Connector,
    id: &str,
    title: Option<&str>,
) -> Result<Option<Value>, ConnectorError> {
    let Connector::Ghl(c) = conn else {
        return Err(unsupported("search", "ghl.task"));
    };
    let loc = c.connection.location_id.clone().unwrap_or_default();
    const LIMIT: u64 = 100;
    for query in [title, None] {
        let mut skip = 0;
        loop {
            let mut body = json!({"limit": LIMIT, "skip": skip});
            if let Some(q) = query {
                body["query"] = Value::String(q.to_owned());
            }
            let v = c
                .call_id("task-search", json!({"locationId": loc, "body": body}))
                .await?;
            let tasks = v["tasks"].as_array().cloned().unwrap_or_default();
            if let Some(t) = tasks.iter().find(|t| t["id"].as_str() == Some(id)) {
                return Ok(Some(t.clone()));
            }
            if (tasks.len() as u64) < LIMIT {
                break;
            }
            skip += LIMIT;
        }
    }
    Ok(None)
}

pub async fn read(
    conn: &Connector,
    object: &str,
    id: &str,
    hint: &Value,
) -> Result<Option<Value>, ConnectorError> {
    let answer = match (object, conn) {
        ("ghl.task", Connector::Ghl(_)) => {
            let Ok(contact) = parent_of(object, &[hint]) else {
                return find_ghl_task(conn, id, hint["title"].as_str()).await;
            };
            ghl_call(
                conn,
                "get-task",
                json!({"contactId": contact, "taskId": id}),
            )
            .await
            .map(|v| inner(v, "task"))
        }
        ("ghl.note", Connector::Ghl(_)) => {
            let contact = parent_of(object, &[hint])?;
            ghl_call(conn, "get-note", json!({"contactId": contact, "id": id}))
                .await
                .map(|v| inner(v, "note"))
        }
        ("lofty.task", Connector::Lofty(c)) => c
            .client
            .call("lofty-get-task", json!({"taskId": lofty_id(id, "task")?}))
            .await
            .map(|v| inner(v, "task"))
            .map_err(lofty),
        ("lofty.note", Connector::Lofty(c)) => c
            .client
            .call("lofty-get-note", json!({"noteId": lofty_id(id, "note")?}))
            .await
            .map(|v| inner(v, "note"))
            .map_err(lofty),
        _ => return Err(unsupported("read", object)),
    };
    match answer {
        Ok(v) => Ok(Some(v)),
        Err(e) if status(&e) == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn ghl_call(conn: &Connector, op: &str, input: Value) -> Result<Value, ConnectorError> {
    match conn {
        Connector::Ghl(c) => c.call_id(op, input).await,
        _ => Err(unsupported("write", op)),
    }
}

/// The body of a write: the patch without what the write names otherwise (the
/// parent, read-only fields; a Lofty task's completion).
fn body_of(patch: &Map<String, Value>, drop: &[&str]) -> Map<String, Value> {
    patch
        .iter()
        .filter(|(k, _)| !drop.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub async fn create(
    conn: &Connector,
    object: &str,
    patch: Map<String, Value>,
) -> Result<(String, Value), WriteError> {
    let whole = Value::Object(patch.clone());
    let parent = parent_of(object, &[&whole])?;
    match (object, conn) {
        ("ghl.task", Connector::Ghl(_)) | ("ghl.note", Connector::Ghl(_)) => {
            let (op, key) = if object == "ghl.task" {
                ("create-task", "task")
            } else {
                ("create-note", "note")
            };
            let mut body = body_of(&patch, &["contactId", "id"]);
            if object == "ghl.task" {
                // GHL requires both.
                body.entry("completed").or_insert(Value::Bool(false));
                body.entry("title")
                    .or_insert(Value::String("(no title)".into()));
            }
            let v = ghl_call(conn, op, json!({"contactId": parent, "body": body})).await?;
            let mut record = inner(v, key);
            let id = record["id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| ConnectorError::Unsupported(format!("GHL {op} answered no id")))?;
            record["contactId"] = Value::String(parent);
            Ok((id, record))
        }
        ("lofty.task", Connector::Lofty(c)) => {
            let mut body = body_of(&patch, &["leadId", "id", "finishFlag"]);
            body.insert("leadId".into(), json!(lofty_id(&parent, "lead")?));
            body.entry("type").or_insert(Value::String("Other".into()));
            body.insert("assignedRole".into(), Value::String("Agent".into()));
            let v = c
                .client
                .call("lofty-create-task", json!({"body": body}))
                .await
                .map_err(lofty)?;
            let id = v.get("taskId").and_then(text_of).ok_or_else(|| {
                ConnectorError::Unsupported("Lofty create-task answered no taskId".into())
            })?;
            if patch.get("finishFlag") == Some(&Value::Bool(true)) {
                c.client
                    .call(
                        "lofty-finish-task",
                        json!({"taskId": lofty_id(&id, "task")?}),
                    )
                    .await
                    .map_err(lofty)?;
            }
            let mut state = patch;
            state.insert("id".into(), Value::String(id.clone()));
            state.insert("leadId".into(), Value::String(parent));
            Ok((id, Value::Object(state)))
        }
        ("lofty.note", Connector::Lofty(c)) => {
            let body = json!({
                "leadId": lofty_id(&parent, "lead")?,
                "content": patch.get("content").cloned().unwrap_or(Value::String(String::new())),
                "isPin": patch.get("isPin").cloned().unwrap_or(Value::Bool(false)),
            });
            let v = c
                .client
                .call("lofty-create-note", json!({"body": body}))
                .await
                .map_err(lofty)?;
            let id = v.get("noteId").and_then(text_of).ok_or_else(|| {
                ConnectorError::Unsupported("Lofty create-note answered no noteId".into())
            })?;
            let mut state = patch;
            state.insert("noteId".into(), Value::String(id.clone()));
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
    patch: Map<String, Value>,
) -> Result<Value, WriteError> {
    let mut known = current.as_object().cloned().unwrap_or_default();
    known.extend(patch.clone());
    let parent = parent_of(object, &[current, &Value::Object(patch.clone())])?;
    match (object, conn) {
        ("ghl.task", Connector::Ghl(_)) | ("ghl.note", Connector::Ghl(_)) => {
            let (op, key, id_key) = if object == "ghl.task" {
                ("update-task", "task", "taskId")
            } else {
                ("update-note", "note", "id")
            };
            let body = body_of(&patch, &["contactId", "id"]);
            let v = ghl_call(
                conn,
                op,
                json!({"contactId": parent, id_key: id, "body": body}),
            )
            .await?;
            let mut record = inner(v, key);
            if record.get("id").is_none() {
                return Ok(Value::Object(known));
            }
            record["contactId"] = Value::String(parent);
            Ok(record)
        }
        ("lofty.task", Connector::Lofty(c)) => {
            let task = lofty_id(id, "task")?;
            let body = body_of(&patch, &["leadId", "id", "finishFlag"]);
            if !body.is_empty() {
                c.client
                    .call("lofty-update-task", json!({"taskId": task, "body": body}))
                    .await
                    .map_err(lofty)?;
            }
            if let Some(done) = patch.get("finishFlag").and_then(Value::as_bool) {
                let op = if done {
                    "lofty-finish-task"
                } else {
                    "lofty-unfinish-task"
                };
                c.client
                    .call(op, json!({"taskId": task}))
                    .await
                    .map_err(lofty)?;
            }
            known.remove("lastUpdate");
            Ok(Value::Object(known))
        }
        ("lofty.note", Connector::Lofty(c)) => {
            let body = json!({
                "leadId": lofty_id(&parent, "lead")?,
                "content": known.get("content").cloned().unwrap_or(Value::String(String::new())),
                "isPin": known.get("isPin").cloned().filter(Value::is_boolean).unwrap_or(Value::Bool(false)),
            });
            c.client
                .call(
                    "lofty-update-note",
                    json!({"noteId": lofty_id(id, "note")?, "body": body}),
                )
                .await
                .map_err(lofty)?;
            known.remove("lastUpdate");
            Ok(Value::Object(known))
        }
        _ => Err(unsupported("update", object).into()),
    }
}

pub async fn delete(
    conn: &Connector,
    object: &str,
    id: &str,
    hint: &Value,
) -> Result<(), ConnectorError> {
    match (object, conn) {
        ("ghl.task", Connector::Ghl(_)) => {
            let contact = parent_of(object, &[hint])?;
            ghl_call(
                conn,
                "delete-task",
                json!({"contactId": contact, "taskId": id}),
            )
            .await
            .map(drop)
        }
        ("ghl.note", Connector::Ghl(_)) => {
            let contact = parent_of(object, &[hint])?;
            ghl_call(conn, "delete-note", json!({"contactId": contact, "id": id}))
                .await
                .map(drop)
        }
        ("lofty.task", Connector::Lofty(c)) => c
            .client
            .call(
                "lofty-delete-task",
                json!({"taskId": lofty_id(id, "task")?}),
            )
            .await
            .map(drop)
            .map_err(lofty),
        ("lofty.note", Connector::Lofty(c)) => c
            .client
            .call(
                "lofty-delete-note",
                json!({"noteId": lofty_id(id, "note")?}),
            )
            .await
            .map(drop)
            .map_err(lofty),
        _ => Err(unsupported("delete", object)),
    }
}

/// Every child of one parent (a backfill pages children parent by parent).
pub async fn list_under(
    conn: &Connector,
    object: &str,
    parent: &str,
) -> Result<Vec<Value>, ConnectorError> {
    let (answer, key) = match (object, conn) {
        ("ghl.task", Connector::Ghl(c)) => (
            c.call_id("get-all-tasks", json!({"contactId": parent}))
                .await?,
            "tasks",
        ),
        ("ghl.note", Connector::Ghl(c)) => (
            c.call_id("get-all-notes", json!({"contactId": parent}))
                .await?,
            "notes",
        ),
        ("lofty.task", Connector::Lofty(c)) => (
            c.client
                .call(
                    "lofty-list-tasks",
                    json!({"leadId": lofty_id(parent, "lead")?}),
                )
                .await
                .map_err(lofty)?,
            "tasks",
        ),
        ("lofty.note", Connector::Lofty(c)) => (
            c.client
                .call(
                    "lofty-list-notes",
                    json!({"leadId": lofty_id(parent, "lead")?, "includeSystemNote": false}),
                )
                .await
                .map_err(lofty)?,
            "notes",
        ),
        _ => return Err(unsupported("list", object)),
    };
    let field = parent_field(object);
    Ok(answer[key]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        // Lofty lists appointments with the tasks; they are their own recipe.
        .filter(|r| !(object == "lofty.task" && r["type"].as_str() == Some("Appointment")))
        .map(|mut r| {
            if r.get(field).is_none_or(Value::is_null) {
                r[field] = Value::String(parent.to_owned());
            }
            r
        })
        .collect())
}

/// One page of a GHL location's tasks (its task search: the only child type a
/// whole account can be paged for, and the one whose edits send no webhook).
pub async fn page_ghl_tasks(
    conn: &Connector,
    cursor: Option<&Value>,
) -> Result<(Vec<Value>, Option<Value>), ConnectorError> {
    const SIZE: u64 = 100;
    let Connector::Ghl(c) = conn else {
        return Err(unsupported("page", "ghl.task"));
    };
    let loc = c.connection.location_id.clone().unwrap_or_default();
    let skip = cursor.and_then(Value::as_u64).unwrap_or(0);
    let v = c
        .call_id(
            "task-search",
            json!({"locationId": loc, "body": {"limit": SIZE, "skip": skip}}),
        )
        .await?;
    let tasks = v["tasks"].as_array().cloned().unwrap_or_default();
    let next = (tasks.len() as u64 >= SIZE).then(|| Value::from(skip + SIZE));
    Ok((tasks, next))
}
