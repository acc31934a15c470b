//! How the runner reads and writes each object type through its connector: the
//! operations, the shapes of their bodies and answers, where a record keeps its id
//! and its version. The only place that knows that GHL nests a contact in
//! `contact` or that Lofty reads tags as objects but writes them as names.

use serde_json::{Map, Value};

use crate::connectors::{Connector, ConnectorError};

/// A write that failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// GHL says the person exists already (400 with `meta.contactId`).
    #[error("GHL says the contact exists already ({0})")]
    Duplicate(String),
    /// The record changed since it was read (Lytho: a JSON Patch `test` failed):
    /// nothing was written; read it again and plan anew.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

impl WriteError {
    /// The API's status and message, for the history.
    pub fn api(&self) -> (Option<i32>, Option<String>) {
        match self {
            Self::Duplicate(id) => (Some(400), Some(format!("duplicate of contact {id}"))),
            Self::Connector(ConnectorError::Ghl(e)) => (
                e.status().map(i32::from),
                e.server_message().map(str::to_owned),
            ),
            Self::Conflict(m) => (Some(409), Some(m.clone())),
            Self::Connector(e) => (None, Some(e.to_string())),
        }
    }
}

mod appointments;
mod children;
pub mod lytho;

/// What the other system would refuse for good (Lofty: an appointment in the
/// past; Lytho: any create), as the reason to record instead of a call.
pub fn refuses(
    object: &str,
    patch: &Map<String, Value>,
    create: bool,
    now_ms: i64,
) -> Option<String> {
    lytho::refuses(object, create).or_else(|| appointments::refuses(object, patch, create, now_ms))
}

pub use children::{find_ghl_task, is_continuation, list_under, parent_field};

/// Whether every record of `object` in an account can be paged through
/// ([`page`]); a child type that cannot is paged parent by parent ([`list_under`]).
pub fn pageable(object: &str) -> bool {
    !children::is_child(object) || object == "ghl.task"
}

/// Whether a record is open (a Lytho task neither completed nor archived): what
/// `[parent] attach = "newest_open"` may attach to.
pub fn is_open(object: &str, record: &Value) -> bool {
    match object {
        "lytho.task" => {
            !record["completed"].as_bool().unwrap_or(false)
                && !record["archived"].as_bool().unwrap_or(false)
        }
        _ => true,
    }
}

/// Whether the reconciliation walk covers `object`: Lytho's are not walked, as
/// every poll scans all of their ids already.
pub fn walked(object: &str) -> bool {
    pageable(object) && !lytho::is_lytho(object)
}

/// The field holding a record's id.
fn id_field(object: &str) -> &'static str {
    match object {
        "lofty.lead" => "leadId",
        "lofty.note" => "noteId",
        _ => "id",
    }
}

/// The field holding when a record last changed.
fn version_field(object: &str) -> &'static str {
    match object {
        "lofty.lead" => "lastUpdateTime",
        "lofty.task" | "lofty.note" | "lofty.appointment" => "lastUpdate",
        "lytho.task" => "modifiedDate",
        "lytho.comment" => "createdDate",
        // Lytho users have no modification time.
        "lytho.user" => "",
        _ => "dateUpdated",
    }
}

/// The record's id as text.
pub fn id_of(object: &str, record: &Value) -> Option<String> {
    match record.get(id_field(object))? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// When the record last changed (epoch ms), from its own fields.
/// GHL: RFC 3339; Lofty: `YYYY-MM-DDThh:mm:ssGMT` or `YYYY-MM-DD hh:mm:ss` (UTC).
pub fn version_of(object: &str, record: &Value) -> Option<i64> {
    let v = record.get(version_field(object))?;
    if v.is_null() {
        return None;
    }
    domain::sync::transform::instant_ms(v)
}

/// The contact a GHL contact webhook carries (the webhook's own fields removed).
pub fn ghl_webhook_contact(body: &Value) -> Value {
    let mut contact = body.as_object().cloned().unwrap_or_default();
    for k in ["type", "webhookId", "timestamp", "appId", "versionId"] {
        contact.remove(k);
    }
    Value::Object(contact)
}

/// Reads one record (`Ok(None)`: it does not exist). `hint` is what is known of
/// it (`Null` when nothing): a child's parent id comes from there (GHL reads a
/// task as `/contacts/{contactId}/tasks/{id}`).
pub async fn read(
    conn: &Connector,
    object: &str,
    id: &str,
    hint: &Value,
) -> Result<Option<Value>, ConnectorError> {
    if children::is_child(object) {
        return children::read(conn, object, id, hint).await;
    }
    if lytho::is_lytho(object) {
        return lytho::read(conn, object, id, hint).await;
    }
    let answer = match (object, conn) {
        ("ghl.contact", Connector::Ghl(c)) => {
            c.call_id("get-contact", serde_json::json!({"contactId": id}))
                .await
        }
        ("lofty.lead", Connector::Lofty(c)) => c
            .client
            .call("lofty-get-lead", serde_json::json!({"leadId": id}))
            .await
            .map_err(ConnectorError::Lofty),
        _ => {
            return Err(ConnectorError::Unsupported(format!(
                "cannot read {object} records through this connection"
            )));
        }
    };
    match answer {
        Ok(v) => Ok(Some(unwrap_record(object, v))),
        Err(e) if status(&e) == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) fn status(e: &ConnectorError) -> Option<u16> {
    match e {
        ConnectorError::Ghl(g) => g.status(),
        ConnectorError::Lofty(l) => l.status(),
        _ => None,
    }
}

fn unwrap_record(object: &str, v: Value) -> Value {
    let key = if object == "lofty.lead" {
        "lead"
    } else {
        "contact"
    };
    match v {
        Value::Object(mut m) if m.get(key).is_some_and(Value::is_object) => {
            m.remove(key).unwrap_or_default()
        }
        other => other,
    }
}

/// The body a write sends, where it differs from what reads give:
/// - Lofty takes tag names where it reads tag objects, and custom fields as
///   `customAttributeList[{attributeName, value}]` where it reads
///   `customAttributes`;
/// - GHL takes a custom field's value as `field_value` where it reads `value`.
fn write_body(object: &str, mut patch: Map<String, Value>) -> Map<String, Value> {
    if object == "lofty.lead" {
        if let Some(Value::Array(tags)) = patch.get_mut("tags") {
            for t in tags.iter_mut() {
                if let Some(name) = t.get("tagName").cloned() {
                    *t = name;
                }
            }
        }
        if let Some(Value::Array(items)) = patch.remove("customAttributes") {
            let items = items
                .into_iter()
                .filter_map(|i| {
                    let name = i.get("attributeName")?.clone();
                    let value = match i.get("value") {
                        None | Some(Value::Null) => Value::String(String::new()),
                        Some(Value::String(s)) => Value::String(s.clone()),
                        Some(other) => Value::String(other.to_string()),
                    };
                    Some(serde_json::json!({"attributeName": name, "value": value}))
                })
                .collect();
            patch.insert("customAttributeList".into(), Value::Array(items));
        }
    }
    if object == "ghl.contact"
        && let Some(Value::Array(items)) = patch.get_mut("customFields")
    {
        for i in items.iter_mut() {
            if let Some(item) = i.as_object_mut()
                && let Some(v) = item.remove("value")
            {
                item.insert("field_value".into(), v);
            }
        }
    }
    patch
}

/// Whether a write to `object` answers with the record as that write left it (GHL
/// does; Lofty answers with the id only).
pub fn answers_with_record(object: &str) -> bool {
    object.starts_with("ghl.") || object == "lytho.task"
}

/// The tags a GHL contact update adds, when it only adds (every tag the contact
/// has is kept): then they can be added without replacing the list. `None`: the
/// update sets no tags, or removes some.
fn ghl_tags_added(current: &Value, body: &Map<String, Value>) -> Option<Vec<String>> {
    let wanted: Vec<String> = body
        .get("tags")?
        .as_array()?
        .iter()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect();
    let has: Vec<String> = current["tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default();
    let lower: Vec<String> = wanted.iter().map(|t| t.to_lowercase()).collect();
    if has.iter().any(|h| !lower.contains(h)) {
        return None;
    }
    Some(
        wanted
            .into_iter()
            .filter(|t| !has.contains(&t.to_lowercase()))
            .collect(),
    )
}

/// Creates a record from `patch`; returns its id and the record as now known.
pub async fn create(
    conn: &Connector,
    object: &str,
    patch: Map<String, Value>,
) -> Result<(String, Value), WriteError> {
    if children::is_child(object) {
        return children::create(conn, object, patch).await;
    }
    if lytho::is_lytho(object) {
        return lytho::create(conn, object, patch).await;
    }
    let mut body = write_body(object, patch.clone());
    match (object, conn) {
        ("ghl.contact", Connector::Ghl(c)) => {
            if let Some(loc) = &c.connection.location_id {
                body.insert("locationId".into(), Value::String(loc.clone()));
            }
            match c
                .call_id("create-contact", serde_json::json!({"body": body}))
                .await
            {
                Ok(v) => {
                    let contact = unwrap_record(object, v);
                    let id = id_of(object, &contact).ok_or_else(|| {
                        ConnectorError::Unsupported(
                            "GHL create-contact answered no contact id".into(),
                        )
                    })?;
                    Ok((id, contact))
                }
                Err(ConnectorError::Ghl(e)) => {
                    let dup = e.api().and_then(|a| {
                        a.body
                            .pointer("/meta/contactId")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    });
                    match dup {
                        Some(id) if e.status() == Some(400) => Err(WriteError::Duplicate(id)),
                        _ => Err(ConnectorError::Ghl(e).into()),
                    }
                }
                Err(e) => Err(e.into()),
            }
        }
        ("lofty.lead", Connector::Lofty(c)) => {
            // Lofty requires a first name.
            let blank = body
                .get("firstName")
                .is_none_or(|v| v.as_str().is_none_or(|s| s.trim().is_empty()));
            if blank {
                let from_email = patch
                    .get("emails")
                    .and_then(|e| e.get(0))
                    .and_then(Value::as_str)
                    .and_then(|e| e.split('@').next())
                    .unwrap_or("Unknown")
                    .to_owned();
                body.insert("firstName".into(), Value::String(from_email));
            }
            let v = c
                .client
                .call("lofty-create-lead", serde_json::json!({"body": body}))
                .await
                .map_err(ConnectorError::Lofty)?;
            let id = v
                .get("leadId")
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .ok_or_else(|| {
                    ConnectorError::Unsupported("Lofty create-lead answered no leadId".into())
                })?;
            let mut state = patch;
            state.insert("leadId".into(), Value::String(id.clone()));
            Ok((id, Value::Object(state)))
        }
        _ => Err(ConnectorError::Unsupported(format!(
            "cannot create {object} records through this connection"
        ))
        .into()),
    }
}

/// Updates a record with `patch`; returns the record as now known (`current` with
/// the patch applied, or what the API answered).
pub async fn update(
    conn: &Connector,
    object: &str,
    id: &str,
    current: &Value,
    patch: Map<String, Value>,
) -> Result<Value, WriteError> {
    if children::is_child(object) {
        return children::update(conn, object, id, current, patch).await;
    }
    if lytho::is_lytho(object) {
        return lytho::update(conn, object, id, current, patch).await;
    }
    let mut known = current.as_object().cloned().unwrap_or_default();
    for (k, v) in &patch {
        known.insert(k.clone(), v.clone());
    }
    let mut body = write_body(object, patch);
    match (object, conn) {
        ("ghl.contact", Connector::Ghl(c)) => {
            // GHL's update takes the whole tag list: a tag added in GHL after the
            // contact we know would be dropped. Tags that only grow are added with
            // add-tags instead (alone, that is the one call).
            let adds = ghl_tags_added(current, &body);
            if adds.is_some() {
                body.remove("tags");
            }
            let mut state = Value::Object(known);
            if !body.is_empty() {
                let v = c
                    .call_id(
                        "update-contact",
                        serde_json::json!({"contactId": id, "body": body}),
                    )
                    .await?;
                let answered = unwrap_record(object, v);
                if answered.is_object() && id_of(object, &answered).is_some() {
                    state = answered;
                }
            }
            if let Some(adds) = adds.filter(|a| !a.is_empty()) {
                c.call_id(
                    "add-tags",
                    serde_json::json!({"contactId": id, "body": {"tags": adds}}),
                )
                .await?;
                let mut tags: Vec<Value> = state["tags"].as_array().cloned().unwrap_or_default();
                for t in adds {
                    let lower = t.to_lowercase();
                    if !tags
                        .iter()
                        .any(|x| x.as_str().is_some_and(|x| x.to_lowercase() == lower))
                    {
                        tags.push(Value::String(lower));
                    }
                }
                state["tags"] = Value::Array(tags);
            }
            Ok(state)
        }
        ("lofty.lead", Connector::Lofty(c)) => {
            c.client
                .call(
                    "lofty-update-lead",
                    serde_json::json!({"leadId": id, "body": body}),
                )
                .await
                .map_err(ConnectorError::Lofty)?;
            // Lofty answers with the id: the lead as now known is what we had with
            // the patch applied (its update time is not known: not taken as ours).
            known.remove("lastUpdateTime");
            Ok(Value::Object(known))
        }
        _ => Err(ConnectorError::Unsupported(format!(
            "cannot update {object} records through this connection"
        ))
        .into()),
    }
}

/// One page of every record of `object` from `cursor` (`None`: the first page).
/// Returns the records and the next cursor (`None`: that was the last page).
pub async fn page(
    conn: &Connector,
    object: &str,
    cursor: Option<&Value>,
) -> Result<(Vec<Value>, Option<Value>), ConnectorError> {
    // GHL's search takes up to 500 a page; Lofty's lead list up to 100.
    const GHL_SIZE: u32 = 500;
    const SIZE: u32 = 100;
    if object == "ghl.task" {
        return children::page_ghl_tasks(conn, cursor).await;
    }
    if lytho::is_lytho(object) {
        return lytho::page(conn, object, cursor).await;
    }
    match (object, conn) {
        ("ghl.contact", Connector::Ghl(c)) => {
            let loc = c.connection.location_id.clone().ok_or_else(|| {
                ConnectorError::Unsupported(format!(
                    "connection {} has no location to page",
                    c.connection.id
                ))
            })?;
            let mut req = ghl::models::SearchRequest::new(loc, GHL_SIZE);
            req.search_after = cursor.and_then(|c| serde_json::from_value(c.clone()).ok());
            let resp = c.client().search_contacts(&req).await?;
            let n = resp.contacts.len();
            let next = resp
                .next_search_after()
                .filter(|_| n >= GHL_SIZE as usize)
                .map(Value::from);
            let records = resp
                .contacts
                .into_iter()
                .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
                .collect();
            Ok((records, next))
        }
        ("lofty.lead", Connector::Lofty(c)) => {
            let offset = cursor.and_then(Value::as_u64).unwrap_or(0);
            let q = lofty::models::LeadQuery {
                limit: Some(SIZE),
                offset: Some(u32::try_from(offset).unwrap_or(u32::MAX)),
                ..Default::default()
            };
            let page = c.client.list_leads(&q).await?;
            let n = page.leads.len() as u64;
            let reached = offset + n;
            let more = n >= u64::from(SIZE)
                && page
                    .meta
                    .total
                    .is_none_or(|t| u64::try_from(t).is_ok_and(|t| reached < t));
            let records = page
                .leads
                .into_iter()
                .map(|l| serde_json::to_value(l).unwrap_or(Value::Null))
                .collect();
            Ok((records, more.then(|| Value::from(reached))))
        }
        _ => Err(ConnectorError::Unsupported(format!(
            "cannot page {object} records through this connection"
        ))),
    }
}

/// Records that may be the person a create was for, by email or phone: what a
/// create whose answer was lost may have made. GHL: its duplicate search (which
/// follows the location's duplicate rules); Lofty: the leads list filtered by email,
/// then by phone.
pub async fn find_existing(
    conn: &Connector,
    object: &str,
    email: Option<&str>,
    phone: Option<&str>,
) -> Result<Vec<Value>, ConnectorError> {
    if email.is_none() && phone.is_none() {
        return Ok(Vec::new());
    }
    match (object, conn) {
        ("ghl.contact", Connector::Ghl(c)) => {
            let loc = c.connection.location_id.clone().unwrap_or_default();
            let found = c.client().get_duplicate_contact(&loc, email, phone).await?;
            Ok(found
                .into_iter()
                .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
                .collect())
        }
        ("lofty.lead", Connector::Lofty(c)) => {
            for (e, p) in [(email, None), (None, phone)] {
                if e.is_none() && p.is_none() {
                    continue;
                }
                let q = lofty::models::LeadQuery {
                    email: e.map(str::to_owned),
                    phone: p.map(str::to_owned),
                    limit: Some(10),
                    ..Default::default()
                };
                let page = c.client.list_leads(&q).await?;
                if !page.leads.is_empty() {
                    return Ok(page
                        .leads
                        .into_iter()
                        .map(|l| serde_json::to_value(l).unwrap_or(Value::Null))
                        .collect());
                }
            }
            Ok(Vec::new())
        }
        _ => Err(ConnectorError::Unsupported(format!(
            "cannot search {object} records through this connection"
        ))),
    }
}

/// Deletes a record (a delete policy of `delete`, which is opt-in).
pub async fn delete(
    conn: &Connector,
    object: &str,
    id: &str,
    hint: &Value,
) -> Result<(), ConnectorError> {
    if children::is_child(object) {
        return children::delete(conn, object, id, hint).await;
    }
    if lytho::is_lytho(object) {
        return lytho::delete(conn, object, id).await;
    }
    match (object, conn) {
        ("ghl.contact", Connector::Ghl(c)) => {
            c.call_id("delete-contact", serde_json::json!({"contactId": id})).await.map(drop)
        }
        ("lofty.lead", Connector::Lofty(c)) => c
            .client
            .call("lofty-delete-lead", serde_json::json!({"leadId": id, "reason": "deleted in the linked record (ghlsync deletes = delete)"}))
            .await
            .map(drop)
            .map_err(ConnectorError::Lofty),
        _ => Err(ConnectorError::Unsupported(format!("cannot delete {object} records through this connection"))),
    }
}
