//! Lytho Workflow: the people on work items (`lytho.user`), tasks (`lytho.task`)
//! and comments (`lytho.comment`), as the engine keeps them.
//!
//! Lytho's API has no contacts, no create, no webhooks and read-only comments, so:
//! - a user is known only from the items it is on (`GET /{type}/{id}/users`); a
//!   record carries what that endpoint gives, with `active` for its status;
//! - a task and a comment carry their item's users in Lytho's order (`users`),
//!   so the sync file's `[parent]` picks whose contact they belong to
//!   (`users[0].id`: the item's first user);
//! - a comment's id is `<type>-<item id>-<comment id>` (comment ids are only known
//!   to be unique within their item), its `text` the comment as plain text;
//! - the only write is a task's JSON Patch: `name`, `dueDate`, `archived`, and
//!   `completed` (sets or removes `completedDate`), led by a `test` of the
//!   `modifiedDate` last read, so a change made in Lytho in between is a 409
//!   conflict ([`WriteError::Conflict`]), never overwritten;
//! - nothing is created: [`refuses`] says so, and the runner records it.
//!
//! Changes are found by the poller (`handlers/lytho_poll.rs`); [`page`] is the
//! backfill's walk over the same items.

use std::collections::BTreeSet;

use lytho::{
    CommentsQuery, Format, ItemId, ItemType, LythoError, PageSize, PatchOp, User, WorkItem,
};
use serde_json::{Map, Value, json};

use super::WriteError;
use crate::connectors::{Connector, ConnectorError, LythoConnector};

/// Whether `object` is a Lytho type handled here.
pub fn is_lytho(object: &str) -> bool {
    matches!(
        object,
        "lytho.user" | "lytho.task" | "lytho.comment" | "lytho.note"
    )
}

/// The item types whose items give `object`'s records: tasks are tasks; users and
/// comments come from every kind of work item.
pub fn item_types(object: &str) -> &'static [ItemType] {
    match object {
        "lytho.task" => &[ItemType::Task],
        _ => &ItemType::ALL,
    }
}

/// Why Lytho would refuse a write, before it is tried.
pub fn refuses(object: &str, create: bool) -> Option<String> {
    if !is_lytho(object) || object == "lytho.note" {
        return None;
    }
    if create {
        return Some(format!(
            "Lytho's API creates nothing (no create endpoint for any record): this record has no {object} to go to, and none can be made"
        ));
    }
    (object != "lytho.task")
        .then(|| format!("Lytho's API cannot change a {object} (only work items take JSON Patch)"))
}

fn client(conn: &Connector) -> Result<&LythoConnector, ConnectorError> {
    match conn {
        Connector::Lytho(c) => Ok(c),
        _ => Err(ConnectorError::Unsupported(
            "Lytho records need a Lytho connection".to_owned(),
        )),
    }
}

fn lytho(e: LythoError) -> ConnectorError {
    ConnectorError::Lytho(e)
}

fn item_id(id: &str, what: &str) -> Result<ItemId, ConnectorError> {
    id.parse()
        .map_err(|_| ConnectorError::Unsupported(format!("Lytho {what} id `{id}` is not a number")))
}

/// A user as the engine keeps it.
pub fn user_record(u: &User) -> Value {
    json!({
        "id": u.id,
        "accountId": u.account_id,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "email": u.email,
        "active": u.is_active(),
    })
}

fn users_list(users: &[User]) -> Value {
    Value::Array(users.iter().map(user_record).collect())
}

/// A task (or any work item) as the engine keeps it, with its users.
pub fn item_record(item: &WorkItem, users: &Value) -> Value {
    json!({
        "id": item.id,
        "accountId": item.account_id,
        "name": item.name,
        "dueDate": item.due_date,
        "completed": item.is_completed(),
        "completedDate": item.completed_date,
        "archived": item.archived,
        "createdDate": item.created_date,
        "modifiedDate": item.modified_date,
        "users": users,
    })
}

/// A comment as the engine keeps it, with its item's name and users.
pub fn comment_record(
    kind: ItemType,
    item: &WorkItem,
    comment: &lytho::Comment,
    users: &Value,
) -> Value {
    json!({
        "id": format!("{kind}-{}-{}", item.id, comment.id),
        "itemType": kind.as_str(),
        "itemId": item.id,
        "itemName": item.name,
        "comment": comment.comment,
        "text": domain::sync::html::html_to_text(&comment.comment),
        "userId": comment.user_id,
        "firstName": comment.first_name,
        "lastName": comment.last_name,
        "users": users,
        "createdDate": comment.created_date,
    })
}

/// Every comment of an item, oldest first.
pub async fn comments_of(
    c: &LythoConnector,
    kind: ItemType,
    id: ItemId,
) -> Result<Vec<lytho::Comment>, ConnectorError> {
    use futures_util::TryStreamExt;
    let query = CommentsQuery {
        format: Some(Format::Html),
        page: None,
        page_size: Some(PageSize::Thirty),
    };
    lytho::pagination::comments_stream(&c.client, kind, id, query)
        .try_collect()
        .await
        .map_err(lytho)
}

/// The records of `object` that one changed item gives: the item's active users,
/// the item itself (a task), or its comments.
pub async fn records_of_item(
    c: &LythoConnector,
    object: &str,
    kind: ItemType,
    item: &WorkItem,
    users: &[User],
) -> Result<Vec<Value>, ConnectorError> {
    let list = users_list(users);
    Ok(match object {
        "lytho.user" => users
            .iter()
            .filter(|u| u.is_active())
            .map(user_record)
            .collect(),
        "lytho.task" if kind == ItemType::Task => vec![item_record(item, &list)],
        "lytho.comment" => comments_of(c, kind, item.id)
            .await?
            .iter()
            .map(|m| comment_record(kind, item, m, &list))
            .collect(),
        _ => Vec::new(),
    })
}

/// Reads one record (`Ok(None)`: it does not exist). A task's users are taken
/// from `hint` when it has them (one call instead of two); a user, which Lytho
/// cannot read on its own, is what `hint` holds.
pub async fn read(
    conn: &Connector,
    object: &str,
    id: &str,
    hint: &Value,
) -> Result<Option<Value>, ConnectorError> {
    let c = client(conn)?;
    match object {
        "lytho.task" => {
            let id = item_id(id, "task")?;
            let item = match c.client.get_item(ItemType::Task, id).await {
                Ok(item) => item,
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(lytho(e)),
            };
            let users = match hint.get("users") {
                Some(list @ Value::Array(_)) => list.clone(),
                _ => users_list(
                    &c.client
                        .item_users(ItemType::Task, id)
                        .await
                        .map_err(lytho)?,
                ),
            };
            Ok(Some(item_record(&item, &users)))
        }
        "lytho.comment" => {
            let mut parts = id.splitn(3, '-');
            let (Some(kind), Some(item), Some(comment)) = (
                parts.next().and_then(ItemType::parse),
                parts.next().and_then(|p| p.parse::<ItemId>().ok()),
                parts.next().and_then(|p| p.parse::<i32>().ok()),
            ) else {
                return Err(ConnectorError::Unsupported(format!(
                    "Lytho comment id `{id}` is not <type>-<item id>-<comment id>"
                )));
            };
            let found = match c.client.get_item(kind, item).await {
                Ok(found) => found,
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(lytho(e)),
            };
            let users = match hint.get("users") {
                Some(list @ Value::Array(_)) => list.clone(),
                _ => users_list(&c.client.item_users(kind, item).await.map_err(lytho)?),
            };
            Ok(comments_of(c, kind, item)
                .await?
                .iter()
                .find(|m| m.id == comment)
                .map(|m| comment_record(kind, &found, m, &users)))
        }
        "lytho.note" => {
            let (kind, item) = note_item(id)?;
            let description = description_of(c, kind, item).await?;
            Ok(description.and_then(|d| {
                note_block(&d, id).map(|body| {
                    let mut note = note_record(id, kind, item, &body);
                    note["userId"] = hint.get("userId").cloned().unwrap_or(Value::Null);
                    note
                })
            }))
        }
        "lytho.user" if hint.is_object() => Ok(Some(hint.clone())),
        _ => Err(ConnectorError::Unsupported(format!(
            "Lytho cannot read a {object} on its own: users are found on the items they are on, by the poller"
        ))),
    }
}

/// The JSON Patch that makes a task what `patch` says, led by a `test` of the
/// `modifiedDate` of `current`.
pub fn task_patch(current: &Value, patch: &Map<String, Value>, now: &str) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    if let Some(at) = current.get("modifiedDate").filter(|v| v.is_string()) {
        ops.push(PatchOp::test("/modifiedDate", at.clone()));
    }
    let set = |ops: &mut Vec<PatchOp>, path: &str, v: &Value| {
        if v.is_null() {
            ops.push(PatchOp::remove(path));
        } else {
            ops.push(PatchOp::replace(path, v.clone()));
        }
    };
    for (field, value) in patch {
        match field.as_str() {
            "name" => ops.push(PatchOp::replace("/name", value.clone())),
            "dueDate" => set(&mut ops, "/dueDate", value),
            "archived" => ops.push(PatchOp::replace(
                "/archived",
                Value::Bool(value.as_bool().unwrap_or(false)),
            )),
            "completed" => {
                let was = current["completed"].as_bool().unwrap_or(false);
                match (value.as_bool().unwrap_or(false), was) {
                    (true, false) => ops.push(PatchOp::replace("/completedDate", now)),
                    (false, true) => ops.push(PatchOp::remove("/completedDate")),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    ops
}

/// Updates a task with `patch` through one JSON Patch; returns the task as Lytho
/// answered it.
pub async fn update(
    conn: &Connector,
    object: &str,
    id: &str,
    current: &Value,
    patch: Map<String, Value>,
) -> Result<Value, WriteError> {
    if let Some(why) = refuses(object, false) {
        return Err(ConnectorError::Unsupported(why).into());
    }
    let c = client(conn)?;
    if object == "lytho.note" {
        let body = patch
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let (kind, item) = note_item(id)?;
        write_note(c, kind, item, id, Some(&body)).await?;
        let mut state = note_record(id, kind, item, &body);
        state["userId"] = current.get("userId").cloned().unwrap_or(Value::Null);
        return Ok(state);
    }
    let task = item_id(id, "task")?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let ops = task_patch(current, &patch, &now);
    if ops.iter().all(|o| matches!(o, PatchOp::Test { .. })) {
        return Ok(current.clone());
    }
    match c.client.patch_item(ItemType::Task, task, &ops).await {
        Ok(item) => Ok(item_record(
            &item,
            current.get("users").unwrap_or(&Value::Array(Vec::new())),
        )),
        Err(e) if e.is_conflict() => Err(WriteError::Conflict(format!(
            "Lytho task {id} changed since it was read (the JSON Patch's test of modifiedDate failed: 409): it is read again and the change planned anew"
        ))),
        Err(e) => Err(ConnectorError::Lytho(e).into()),
    }
}

/// The backfill's walk: `cursor` is `{"type": index into the item types,
/// "ids": the type's ids still to read}`; each page reads up to 30 items (one
/// batch read), their users, and for comments their comments.
pub async fn page(
    conn: &Connector,
    object: &str,
    cursor: Option<&Value>,
) -> Result<(Vec<Value>, Option<Value>), ConnectorError> {
    const PAGE: usize = 30;
    let c = client(conn)?;
    // Notes live in descriptions, where only ghlsync puts them: nothing to page.
    if object == "lytho.note" {
        return Ok((Vec::new(), None));
    }
    let types = item_types(object);
    let mut at = cursor
        .and_then(|c| c["type"].as_u64())
        .map_or(0, |t| t as usize);
    let mut ids: Vec<ItemId> = match cursor.and_then(|c| c.get("ids")) {
        Some(v) => serde_json::from_value(v.clone()).unwrap_or_default(),
        None => search(c, types.first().copied()).await?,
    };
    while ids.is_empty() {
        at += 1;
        if at >= types.len() {
            return Ok((Vec::new(), None));
        }
        ids = search(c, types.get(at).copied()).await?;
    }
    let kind = types[at];
    let rest = ids.split_off(ids.len().min(PAGE));
    let items = c
        .client
        .get_items(kind, &ids, 1, PageSize::Thirty)
        .await
        .map_err(lytho)?
        .items;
    let mut records = Vec::new();
    let mut seen = BTreeSet::new();
    for item in &items {
        let users = c.client.item_users(kind, item.id).await.map_err(lytho)?;
        for r in records_of_item(c, object, kind, item, &users).await? {
            if super::id_of(object, &r).is_some_and(|id| seen.insert(id)) {
                records.push(r);
            }
        }
    }
    let next = if rest.is_empty() && at + 1 >= types.len() {
        None
    } else {
        Some(json!({"type": at, "ids": rest}))
    };
    Ok((records, next))
}

async fn search(c: &LythoConnector, kind: Option<ItemType>) -> Result<Vec<ItemId>, ConnectorError> {
    let Some(kind) = kind else {
        return Ok(Vec::new());
    };
    let mut ids = c
        .client
        .search_items(kind, &lytho::SearchQuery::default())
        .await
        .map_err(lytho)?
        .ids;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Where a connection's poll of one item type stands (a [`lytho::Cursor`]).
pub fn cursor_name(connection: &str, kind: ItemType) -> String {
    format!("lytho:poll:{connection}:{kind}")
}

/// Starts a connection's polls at `at` for the types of `object` that have no
/// cursor yet: a backfill reads everything before it.
pub async fn start_cursors(
    store: &store::Store,
    connection: &str,
    object: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), store::StoreError> {
    for kind in item_types(object) {
        let name = cursor_name(connection, *kind);
        if store.cursor(&name).await?.is_none() {
            let text = serde_json::to_string(&lytho::Cursor::after(at)).unwrap_or_default();
            store.set_cursor(&name, &text).await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- notes

/// A note's block in a description is between these markers (HTML comments, so
/// the text reads as it is in Lytho), so it is found again to edit or remove.
fn markers(id: &str) -> (String, String) {
    (
        format!("<!--ghlsync:{id}-->"),
        format!("<!--/ghlsync:{id}-->"),
    )
}

/// The text of note `id` in `description`, if it is there.
pub fn note_block(description: &str, id: &str) -> Option<String> {
    let (open, close) = markers(id);
    let start = description.find(&open)? + open.len();
    let end = description[start..].find(&close)? + start;
    Some(description[start..end].to_owned())
}

/// `description` with note `id` set to `body` (appended when it is not there) or
/// removed (`None`).
pub fn with_note(description: &str, id: &str, body: Option<&str>) -> String {
    let (open, close) = markers(id);
    let block = body.map(|b| format!("{open}{b}{close}"));
    if let Some(start) = description.find(&open)
        && let Some(len) = description[start..].find(&close)
    {
        let end = start + len + close.len();
        return format!(
            "{}{}{}",
            &description[..start],
            block.unwrap_or_default(),
            &description[end..]
        );
    }
    match block {
        Some(b) => format!("{description}{b}"),
        None => description.to_owned(),
    }
}

fn note_record(id: &str, kind: ItemType, item: ItemId, body: &str) -> Value {
    json!({"id": id, "itemType": kind.as_str(), "itemId": item, "body": body})
}

/// The item a note id names (`<type>-<item id>-note-<n>`).
fn note_item(id: &str) -> Result<(ItemType, ItemId), ConnectorError> {
    let mut parts = id.splitn(3, '-');
    match (
        parts.next().and_then(ItemType::parse),
        parts.next().and_then(|p| p.parse::<ItemId>().ok()),
    ) {
        (Some(kind), Some(item)) => Ok((kind, item)),
        _ => Err(ConnectorError::Unsupported(format!(
            "Lytho note id `{id}` is not <type>-<item id>-note-<n>"
        ))),
    }
}

async fn description_of(
    c: &LythoConnector,
    kind: ItemType,
    item: ItemId,
) -> Result<Option<String>, ConnectorError> {
    match c
        .client
        .item_description(kind, item, Some(Format::Html))
        .await
    {
        Ok(d) => Ok(Some(d.description)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(lytho(e)),
    }
}

/// Sets (or removes) note `id` in the item's description: one read and one JSON
/// Patch that tests the description read, so a change made in Lytho meanwhile is
/// a conflict (409), not lost.
async fn write_note(
    c: &LythoConnector,
    kind: ItemType,
    item: ItemId,
    id: &str,
    body: Option<&str>,
) -> Result<(), WriteError> {
    let Some(before) = description_of(c, kind, item).await? else {
        return Err(ConnectorError::Unsupported(format!(
            "Lytho {kind} {item} is gone or has no description: note {id} has nowhere to be"
        ))
        .into());
    };
    let after = with_note(&before, id, body);
    if after == before {
        return Ok(());
    }
    let ops = [
        PatchOp::test("/description", before),
        PatchOp::replace("/description", after),
    ];
    match c.client.patch_item(kind, item, &ops).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_conflict() => Err(WriteError::Conflict(format!(
            "the description of Lytho {kind} {item} changed while note {id} was written (409 on the JSON Patch's test): read again and written anew"
        ))),
        Err(e) => Err(ConnectorError::Lytho(e).into()),
    }
}

/// Creates a note in the description of the item the patch names (`itemType`,
/// `itemId`, set by the runner to the person's newest open task).
pub async fn create(
    conn: &Connector,
    object: &str,
    patch: Map<String, Value>,
) -> Result<(String, Value), WriteError> {
    if let Some(why) = refuses(object, true) {
        return Err(ConnectorError::Unsupported(why).into());
    }
    let c = client(conn)?;
    let kind = patch
        .get("itemType")
        .and_then(Value::as_str)
        .and_then(ItemType::parse)
        .unwrap_or(ItemType::Task);
    let item = patch
        .get("itemId")
        .and_then(Value::as_i64)
        .and_then(|i| ItemId::try_from(i).ok())
        .ok_or_else(|| {
            ConnectorError::Unsupported("a Lytho note needs the item it goes in (itemId)".into())
        })?;
    let body = patch
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let id = format!("{kind}-{item}-note-{stamp:x}");
    write_note(c, kind, item, &id, Some(body)).await?;
    let mut state = note_record(&id, kind, item, body);
    state["userId"] = patch.get("userId").cloned().unwrap_or(Value::Null);
    Ok((id, state))
}

/// Removes a note from its item's description.
pub async fn delete(conn: &Connector, object: &str, id: &str) -> Result<(), ConnectorError> {
    if object != "lytho.note" {
        return Err(ConnectorError::Unsupported(format!(
            "Lytho's API cannot delete a {object}"
        )));
    }
    let c = client(conn)?;
    let (kind, item) = note_item(id)?;
    match write_note(c, kind, item, id, None).await {
        Ok(()) => Ok(()),
        Err(WriteError::Connector(e)) => Err(e),
        Err(e) => Err(ConnectorError::Unsupported(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_block_is_appended_edited_and_removed_in_place() {
        let d = "<p>Brief</p>";
        let one = with_note(d, "task-1-note-a", Some("<p>Call Ann</p>"));
        assert_eq!(
            one,
            "<p>Brief</p><!--ghlsync:task-1-note-a--><p>Call Ann</p><!--/ghlsync:task-1-note-a-->"
        );
        let two = with_note(&one, "task-1-note-b", Some("<p>Sent</p>"));
        assert_eq!(
            note_block(&two, "task-1-note-a").as_deref(),
            Some("<p>Call Ann</p>")
        );
        let edited = with_note(&two, "task-1-note-a", Some("<p>Called</p>"));
        assert_eq!(
            note_block(&edited, "task-1-note-a").as_deref(),
            Some("<p>Called</p>")
        );
        assert_eq!(
            note_block(&edited, "task-1-note-b").as_deref(),
            Some("<p>Sent</p>")
        );
        assert!(edited.starts_with("<p>Brief</p><!--ghlsync:task-1-note-a--><p>Called</p>"));
        let removed = with_note(&edited, "task-1-note-a", None);
        assert_eq!(note_block(&removed, "task-1-note-a"), None);
        assert_eq!(with_note(&removed, "task-1-note-b", None), d);
        assert_eq!(note_item("task-1-note-a").unwrap(), (ItemType::Task, 1));
    }

    #[test]
    fn a_task_patch_tests_the_version_read_and_completes_with_one_call() {
        let current = json!({"completed": false, "modifiedDate": "2026-01-01T00:00:00.000Z"});
        let mut patch = Map::new();
        patch.insert("completed".into(), json!(true));
        patch.insert("name".into(), json!("Cover"));
        patch.insert("dueDate".into(), Value::Null);
        let ops = task_patch(&current, &patch, "2026-02-01T00:00:00.000Z");
        assert_eq!(
            serde_json::to_value(&ops).unwrap(),
            json!([
                {"op": "test", "path": "/modifiedDate", "value": "2026-01-01T00:00:00.000Z"},
                {"op": "replace", "path": "/completedDate", "value": "2026-02-01T00:00:00.000Z"},
                {"op": "replace", "path": "/name", "value": "Cover"},
                {"op": "remove", "path": "/dueDate"},
            ])
        );
        // Reopening removes completedDate; an unchanged completion adds nothing.
        let done = json!({"completed": true});
        let mut reopen = Map::new();
        reopen.insert("completed".into(), json!(false));
        assert_eq!(
            serde_json::to_value(task_patch(&done, &reopen, "x")).unwrap(),
            json!([{"op": "remove", "path": "/completedDate"}])
        );
        let mut same = Map::new();
        same.insert("completed".into(), json!(true));
        assert!(task_patch(&done, &same, "x").is_empty());
    }
}
