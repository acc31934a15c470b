//! How a contact input lands on a stored contact: tags trimmed, lower-cased and
//! registered on the location, custom field values matched by id or key, phones
//! normalised, `name` derived from first and last name, and the `ContactCreate`,
//! `ContactUpdate`, `ContactTagUpdate` and `ContactDndUpdate` webhooks of what changed.

use chrono::Utc;
use serde_json::{Map, Value, json};

use super::contact_not_found;
use crate::ghl::App;
use crate::ghl::http::ApiError;
use crate::ghl::state::{Contact, Location, new_id};
use crate::ghl::validate::normalize_phone;

/// What an input changed, so the right webhooks go out.
#[derive(Debug, Default)]
struct Changes {
    fields: bool,
    tags: bool,
    dnd: bool,
}

/// Applies validated DTO fields to a contact's stored fields.
fn apply_fields(
    loc: &mut Location,
    target: &mut Map<String, Value>,
    input: &Map<String, Value>,
    rng: &mut impl rand::Rng,
) -> Changes {
    let mut changes = Changes::default();
    for (key, value) in input {
        match key.as_str() {
            "locationId" | "createNewIfDuplicateAllowed" => {}
            "tags" => {
                let mut tags: Vec<String> = Vec::new();
                for t in value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    let t = t.trim().to_lowercase();
                    if !t.is_empty() && !tags.contains(&t) {
                        tags.push(t);
                    }
                }
                loc.ensure_tags(&tags, rng);
                if target.get("tags") != Some(&json!(tags)) {
                    changes.tags = true;
                    target.insert("tags".into(), json!(tags));
                }
            }
            "customFields" => {
                let mut current: Vec<Value> = target
                    .get("customFields")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for item in value.as_array().into_iter().flatten() {
                    let field = item
                        .get("id")
                        .and_then(Value::as_str)
                        .and_then(|id| loc.custom_fields.get(id))
                        .or_else(|| {
                            item.get("key")
                                .and_then(Value::as_str)
                                .and_then(|k| loc.custom_field_by_key(k))
                        });
                    // GHL ignores values for fields it does not know.
                    let Some(field) = field else { continue };
                    let v = item
                        .get("field_value")
                        .or_else(|| item.get("fieldValue"))
                        .or_else(|| item.get("value"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    current
                        .retain(|c| c.get("id").and_then(Value::as_str) != Some(field.id.as_str()));
                    if !v.is_null() && v != json!("") {
                        current.push(json!({"id": field.id, "value": v}));
                    }
                }
                if target.get("customFields") != Some(&json!(current)) {
                    changes.fields = true;
                    target.insert("customFields".into(), json!(current));
                }
            }
            "phone" => {
                let v = value
                    .as_str()
                    .and_then(normalize_phone)
                    .map_or(Value::Null, Value::from);
                if target.get("phone") != Some(&v) {
                    changes.fields = true;
                    target.insert("phone".into(), v);
                }
            }
            "dnd" | "dndSettings" | "inboundDndSettings" => {
                if target.get(key) != Some(value) {
                    changes.dnd = true;
                    target.insert(key.clone(), value.clone());
                }
            }
            _ => {
                if target.get(key) != Some(value) {
                    changes.fields = true;
                    target.insert(key.clone(), value.clone());
                }
            }
        }
    }
    if input.contains_key("firstName") || input.contains_key("lastName") {
        let first = target
            .get("firstName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let last = target
            .get("lastName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !input.contains_key("name") {
            let full = format!("{first} {last}").trim().to_owned();
            target.insert(
                "name".into(),
                if full.is_empty() {
                    Value::Null
                } else {
                    json!(full)
                },
            );
        }
    }
    changes
}

pub(super) fn new_contact(app: &App, loc: &mut Location, input: &Map<String, Value>) -> Contact {
    let mut rng = rand::rng();
    let added = loc.next_added();
    let mut contact = Contact {
        id: new_id(&mut rng),
        location_id: loc.id.clone(),
        date_added: added,
        date_updated: added,
        ..Contact::default()
    };
    contact.fields.insert("type".into(), json!("lead"));
    let _ = apply_fields(loc, &mut contact.fields, input, &mut rng);
    app.shared
        .outbox
        .emit("ContactCreate", &loc.id, contact.to_webhook());
    contact
}

fn emit_changes(app: &App, contact: &Contact, changes: &Changes) {
    let loc = &contact.location_id;
    if changes.fields || changes.tags || changes.dnd {
        app.shared
            .outbox
            .emit("ContactUpdate", loc, contact.to_webhook());
    }
    if changes.tags {
        app.shared
            .outbox
            .emit("ContactTagUpdate", loc, contact.to_webhook());
    }
    if changes.dnd {
        app.shared
            .outbox
            .emit("ContactDndUpdate", loc, contact.to_webhook());
    }
}

/// Updates an existing contact in place and emits the webhooks of what changed.
pub(super) fn update_existing(
    app: &App,
    loc: &mut Location,
    id: &str,
    input: &Map<String, Value>,
) -> Result<Value, ApiError> {
    let mut rng = rand::rng();
    let mut fields = loc
        .contacts
        .get(id)
        .map(|c| c.fields.clone())
        .ok_or_else(|| contact_not_found(id))?;
    let changes = apply_fields(loc, &mut fields, input, &mut rng);
    let contact = loc
        .contacts
        .get_mut(id)
        .ok_or_else(|| contact_not_found(id))?;
    contact.fields = fields;
    if changes.fields || changes.tags || changes.dnd {
        contact.date_updated = Utc::now();
    }
    let contact = contact.clone();
    loc.index_contact(id);
    emit_changes(app, &contact, &changes);
    Ok(contact.to_json())
}
