//! Tasks and notes: records that live on a contact (GHL) or a lead (Lofty). Their
//! writes name the parent (GHL in the path, Lofty in the body), so the parent's id
//! is taken from the patch (a create: the runner sets it to the linked partner)
//! or from what is known of the record (`current`, `hint`).
//!
//! - GHL answers a task or note write with the record; Lofty with the id only.
//! - A Lofty task's completion is a call of its own (finish / unfinish), so a
//!   change of completion and another field costs two writes.
//! - Lofty requires all three of a note's fields (lead, content, pin) on update,
//!   and cuts a note at 2,000 characters without saying so. A longer text is
//!   split ([`split_note`]): the linked note holds part 1, marked `[1/n] `, and
//!   each further part is a note of its own marked `[k/n] `, listed in the
//!   record as known (`parts`). Reads put the parts back together, so the text
//!   is whole on both sides and its echo is recognised.

use serde_json::{Map, Value, json};

use super::{WriteError, appointments, status};
use crate::connectors::{Connector, ConnectorError};

/// Whether `object` is a child type handled here.
pub fn is_child(object: &str) -> bool {
    matches!(
        object,
        "ghl.task" | "ghl.note" | "lofty.task" | "lofty.note"
    ) || appointments::is_appointment(object)
}

/// The field of `object` that names its parent.
pub fn parent_field(object: &str) -> &'static str {
    if object.starts_with("ghl.") {
        "contactId"
    } else {
        "leadId"
    }
}

pub(super) fn unsupported(what: &str, object: &str) -> ConnectorError {
    ConnectorError::Unsupported(format!(
        "cannot {what} {object} records through this connection"
    ))
}

pub(super) fn text_of(v: &Value) -> Option<String> {
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
pub(super) fn lofty_id(id: &str, what: &str) -> Result<i64, ConnectorError> {
    id.parse()
        .map_err(|_| ConnectorError::Unsupported(format!("Lofty {what} id `{id}` is not a number")))
}

pub(super) fn lofty(e: lofty::LoftyError) -> ConnectorError {
    ConnectorError::Lofty(e)
}

/// The record inside an answer (`{"task": {...}}`).
pub(super) fn inner(v: Value, key: &str) -> Value {
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
        _ if appointments::is_appointment(object) => {
            appointments::read(conn, object, id).await.map(|mut v| {
                let field = parent_field(object);
                if v.get(field).is_none_or(Value::is_null)
                    && let Some(p) = hint.get(field).and_then(text_of)
                {
                    v[field] = Value::String(p);
                }
                v
            })
        }
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
        ("lofty.note", Connector::Lofty(c)) => {
            match c
                .client
                .call("lofty-get-note", json!({"noteId": lofty_id(id, "note")?}))
                .await
                .map(|v| inner(v, "note"))
                .map_err(lofty)
            {
                Ok(note) => join_parts(&c.client, note, hint).await,
                Err(e) => Err(e),
            }
        }
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
pub(super) fn body_of(patch: &Map<String, Value>, drop: &[&str]) -> Map<String, Value> {
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
    if appointments::is_appointment(object) {
        return appointments::create(conn, object, parent, patch).await;
    }
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
            let text = patch["content"].as_str().unwrap_or_default().to_owned();
            let pin = patch.get("isPin").cloned().unwrap_or(Value::Bool(false));
            let lead = lofty_id(&parent, "lead")?;
            let (id, parts) = write_note(&c.client, lead, None, &text, &pin, &[]).await?;
            let mut state = patch;
            state.insert("noteId".into(), Value::String(id.clone()));
            state.insert("leadId".into(), Value::String(parent));
            if !parts.is_empty() {
                state.insert("parts".into(), json!(parts));
            }
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
    if appointments::is_appointment(object) {
        return appointments::update(conn, object, id, current, parent, patch).await;
    }
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
            let text = known["content"].as_str().unwrap_or_default().to_owned();
            let pin = known
                .get("isPin")
                .cloned()
                .filter(Value::is_boolean)
                .unwrap_or(Value::Bool(false));
            let lead = lofty_id(&parent, "lead")?;
            let old = parts_of(current);
            let (_, parts) = write_note(&c.client, lead, Some(id), &text, &pin, &old).await?;
            known.remove("lastUpdate");
            if parts.is_empty() {
                known.remove("parts");
            } else {
                known.insert("parts".into(), json!(parts));
            }
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
    if appointments::is_appointment(object) {
        return appointments::delete(conn, object, id).await;
    }
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
        ("lofty.note", Connector::Lofty(c)) => {
            for part in std::iter::once(id.to_owned()).chain(parts_of(hint)) {
                c.client
                    .call(
                        "lofty-delete-note",
                        json!({"noteId": lofty_id(&part, "note")?}),
                    )
                    .await
                    .map_err(lofty)?;
            }
            Ok(())
        }
        _ => Err(unsupported("delete", object)),
    }
}

/// Every child of one parent (a backfill pages children parent by parent).
pub async fn list_under(
    conn: &Connector,
    object: &str,
    parent: &str,
) -> Result<Vec<Value>, ConnectorError> {
    if appointments::is_appointment(object) {
        return appointments::list_under(conn, object, parent).await;
    }
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
        // The parts of a long note we split are read through its first part,
        // joined (a listing has them apart).
        .filter(|r| object != "lofty.note" || r["content"].as_str().and_then(note_part).is_none())
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

/// What Lofty keeps of a note's content.
pub const LOFTY_NOTE_MAX: usize = 2000;

/// The marker of part `k` of `n`.
fn part_marker(k: usize, n: usize) -> String {
    format!("[{k}/{n}] ")
}

/// A note's text as Lofty notes: one when it fits, else parts of at most
/// [`LOFTY_NOTE_MAX`] characters with their markers, cut after a line break or
/// a space where one is near (the parts joined without their markers are the
/// text again).
pub fn split_note(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= LOFTY_NOTE_MAX {
        return vec![text.to_owned()];
    }
    // Room for a marker up to `[99/99] `.
    let room = LOFTY_NOTE_MAX - 8;
    let mut chunks = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let mut end = (at + room).min(chars.len());
        if end < chars.len() {
            let floor = end.saturating_sub(200).max(at + 1);
            if let Some(cut) = (floor..end).rev().find(|&i| chars[i - 1] == '\n') {
                end = cut;
            } else if let Some(cut) = (floor..end).rev().find(|&i| chars[i - 1] == ' ') {
                end = cut;
            }
        }
        chunks.push(chars[at..end].iter().collect::<String>());
        at = end;
    }
    let n = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| format!("{}{c}", part_marker(i + 1, n)))
        .collect()
}

/// `(k, n, the text after the marker)` of a part; `None` for a note that is not
/// one.
pub fn note_part(content: &str) -> Option<(usize, usize, &str)> {
    let rest = content.strip_prefix('[')?;
    let (nums, text) = rest.split_once("] ")?;
    let (k, n) = nums.split_once('/')?;
    let (k, n): (usize, usize) = (k.parse().ok()?, n.parse().ok()?);
    (1..=n).contains(&k).then_some((k, n, text))
}

/// Whether a Lofty note is a further part of a longer note (its first part is the
/// one linked): not a note of its own to sync.
pub fn is_continuation(object: &str, record: &Value) -> bool {
    object == "lofty.note"
        && record["content"]
            .as_str()
            .and_then(note_part)
            .is_some_and(|(k, _, _)| k > 1)
}

/// The ids of a known Lofty note's further parts.
fn parts_of(known: &Value) -> Vec<String> {
    known["parts"]
        .as_array()
        .map(|a| a.iter().filter_map(text_of).collect())
        .unwrap_or_default()
}

/// A Lofty note read back: a first part is joined with the further parts the
/// record as known lists (one read each).
async fn join_parts(
    c: &lofty::LoftyClient,
    mut note: Value,
    hint: &Value,
) -> Result<Value, ConnectorError> {
    let Some((1, n, first)) = note["content"].as_str().and_then(note_part) else {
        return Ok(note);
    };
    let parts = parts_of(hint);
    if parts.len() + 1 != n {
        // Not the parts we made: the note is what it says.
        return Ok(note);
    }
    let mut text = first.to_owned();
    for id in &parts {
        let v = c
            .call("lofty-get-note", json!({"noteId": lofty_id(id, "note")?}))
            .await
            .map_err(lofty)?;
        let part = inner(v, "note");
        let content = part["content"].as_str().unwrap_or_default();
        text.push_str(note_part(content).map_or(content, |(_, _, t)| t));
    }
    note["content"] = Value::String(text);
    note["parts"] = Value::Array(parts.into_iter().map(Value::String).collect());
    Ok(note)
}

/// Writes `text` as the note `first` (existing) or a new note, and its further
/// parts, reusing the parts `old` lists and deleting those no longer needed.
/// Returns the first note's id and the further parts' ids.
async fn write_note(
    c: &lofty::LoftyClient,
    lead: i64,
    first: Option<&str>,
    text: &str,
    pin: &Value,
    old: &[String],
) -> Result<(String, Vec<String>), ConnectorError> {
    let parts = split_note(text);
    let body = |content: &str| json!({"leadId": lead, "content": content, "isPin": pin});
    let put = async |id: Option<&str>, content: &str| -> Result<String, ConnectorError> {
        match id {
            Some(id) => {
                c.call(
                    "lofty-update-note",
                    json!({"noteId": lofty_id(id, "note")?, "body": body(content)}),
                )
                .await
                .map_err(lofty)?;
                Ok(id.to_owned())
            }
            None => {
                let v = c
                    .call("lofty-create-note", json!({"body": body(content)}))
                    .await
                    .map_err(lofty)?;
                v.get("noteId").and_then(text_of).ok_or_else(|| {
                    ConnectorError::Unsupported("Lofty create-note answered no noteId".into())
                })
            }
        }
    };
    let id = put(first, &parts[0]).await?;
    let mut further = Vec::new();
    for (i, content) in parts.iter().enumerate().skip(1) {
        further.push(put(old.get(i - 1).map(String::as_str), content).await?);
    }
    for gone in old.iter().skip(parts.len() - 1) {
        c.call(
            "lofty-delete-note",
            json!({"noteId": lofty_id(gone, "note")?}),
        )
        .await
        .map_err(lofty)?;
    }
    Ok((id, further))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_note_is_split_into_marked_parts_that_join_back() {
        assert_eq!(split_note("short"), vec!["short".to_owned()]);
        let exactly: String = "x".repeat(LOFTY_NOTE_MAX);
        assert_eq!(split_note(&exactly), vec![exactly.clone()]);
        let words: String = (0..700).map(|i| format!("word{i} ")).collect();
        assert!(words.chars().count() > 2 * LOFTY_NOTE_MAX);
        let parts = split_note(&words);
        assert_eq!(parts.len(), 3);
        let mut joined = String::new();
        for (i, p) in parts.iter().enumerate() {
            assert!(p.chars().count() <= LOFTY_NOTE_MAX, "part {i} fits");
            let (k, n, text) = note_part(p).unwrap();
            assert_eq!((k, n), (i + 1, 3));
            if k < n {
                assert!(text.ends_with(' '), "cut after a space");
            }
            joined.push_str(text);
        }
        assert_eq!(joined, words);
        assert!(is_continuation("lofty.note", &json!({"content": parts[1]})));
        assert!(!is_continuation(
            "lofty.note",
            &json!({"content": parts[0]})
        ));
        assert!(!is_continuation(
            "lofty.note",
            &json!({"content": "[note] to self"})
        ));
    }
}
