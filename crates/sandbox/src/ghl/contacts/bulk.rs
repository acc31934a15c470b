//! The bulk operations: tags added to or removed from many contacts (with a result
//! per contact), and many contacts moved into or out of a business.

use axum::extract::{Path, State};
use serde_json::{Map, Value, json};

use super::fields::update_existing;
use super::{WRITE, named_location};
use crate::ghl::App;
use crate::ghl::body::Body;
use crate::ghl::http::{ApiError, ApiResult, Caller, created, ok};
use crate::ghl::state::is_firebase_id;
use crate::ghl::validate::{self, Kind, opt, req};

const BULK_TAGS_PROPS: &[validate::Prop] = &[
    req("contacts", Kind::StrArray),
    req("tags", Kind::StrArray),
    req("locationId", Kind::Str),
    opt("removeAllTags", Kind::Bool),
];

/// POST /contacts/bulk/tags/update/{type} (create-association): `type` is add or remove.
pub(super) async fn bulk_tags(
    State(app): State<App>,
    caller: Caller,
    Path(kind): Path<String>,
    Body(body): Body,
) -> ApiResult {
    caller.require(WRITE)?;
    let add = match kind.as_str() {
        "add" => true,
        "remove" => false,
        other => {
            return Err(ApiError::unprocessable(vec![format!(
                "type must be one of the following values: add, remove (got {other})"
            )]));
        }
    };
    let input = validate::check(&body, BULK_TAGS_PROPS)?;
    let remove_all = input.get("removeAllTags").and_then(Value::as_bool) == Some(true);
    if remove_all && add {
        return Err(ApiError::unprocessable(vec![
            "removeAllTags can only be used with remove type".to_owned(),
        ]));
    }
    let location_id = input["locationId"].as_str().unwrap_or_default().to_owned();
    let strings = |k: &str| -> Vec<String> {
        input[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    };
    let ids = strings("contacts");
    let tags: Vec<String> = strings("tags")
        .iter()
        .map(|t| t.trim().to_lowercase())
        .collect();
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    let mut responses = Vec::new();
    let mut errors = 0;
    for id in ids {
        let fail = |msg: &str| json!({"contactId": id, "message": msg, "type": "error"});
        if !is_firebase_id(&id) {
            responses.push(fail("contact id is not a valid firebase id"));
        } else if loc.deleted_contacts.contains(&id) {
            responses.push(fail("contact is deleted"));
        } else if !loc.contacts.contains_key(&id) {
            responses.push(fail("contact does not belong to location"));
        } else {
            let old = loc.contacts[&id].tags();
            let mut new = old.clone();
            let (mut added, mut removed) = (Vec::new(), Vec::new());
            if add {
                for t in &tags {
                    if !new.contains(t) {
                        new.push(t.clone());
                        added.push(t.clone());
                    }
                }
            } else {
                let drop: Vec<String> = if remove_all {
                    old.clone()
                } else {
                    tags.clone()
                };
                new.retain(|t| !drop.contains(t));
                removed = old.iter().filter(|t| !new.contains(t)).cloned().collect();
            }
            let mut change = Map::new();
            change.insert("tags".into(), json!(new));
            update_existing(&app, loc, &id, &change)?;
            responses.push(json!({
                "contactId": id, "message": "Tags updated", "type": "success",
                "oldTags": old, "tagsAdded": added, "tagsRemoved": removed,
            }));
            continue;
        }
        errors += 1;
    }
    inner.rt.touch();
    created(json!({"succeded": errors == 0, "errorCount": errors, "responses": responses}))
}

const BULK_BUSINESS_PROPS: &[validate::Prop] = &[
    req("locationId", Kind::Str),
    req("ids", Kind::StrArray),
    opt("businessId", Kind::NullableStr),
];

/// POST /contacts/bulk/business (add-remove-contact-from-business); null businessId removes.
pub(super) async fn bulk_business(
    State(app): State<App>,
    caller: Caller,
    Body(body): Body,
) -> ApiResult {
    caller.require(WRITE)?;
    let input = validate::check(&body, BULK_BUSINESS_PROPS)?;
    if !input.contains_key("businessId") {
        return Err(ApiError::unprocessable(vec![
            "businessId must be a string".to_owned(),
        ]));
    }
    let location_id = input["locationId"].as_str().unwrap_or_default().to_owned();
    let business = input["businessId"].as_str().map(str::to_owned);
    let ids: Vec<String> = input["ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let mut inner = app.shared.lock();
    let loc = named_location(&mut inner.world, &caller, &location_id)?;
    if let Some(b) = &business
        && !loc.businesses.iter().any(|x| &x.id == b)
    {
        return Err(ApiError::bad_request(format!(
            "Business with id {b} not found"
        )));
    }
    if let Some(missing) = ids.iter().find(|id| !loc.contacts.contains_key(*id)) {
        return Err(ApiError::bad_request(format!(
            "Contact with id {missing} not found in this location"
        )));
    }
    for id in &ids {
        let mut change = Map::new();
        change.insert(
            "businessId".into(),
            business.clone().map_or(Value::Null, Value::from),
        );
        update_existing(&app, loc, id, &change)?;
    }
    inner.rt.touch();
    ok(json!({"success": true, "ids": ids}))
}
