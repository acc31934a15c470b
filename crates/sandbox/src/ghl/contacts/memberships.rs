//! What a contact belongs to: its tags, followers, campaigns and workflows, added and
//! removed one contact at a time.

use axum::extract::{Path, State};
use serde_json::{Map, Value, json};

use super::fields::update_existing;
use super::{TwoIds, WRITE, contact_location, contact_not_found};
use crate::ghl::App;
use crate::ghl::body::Body;
use crate::ghl::http::{ApiError, ApiResult, Caller, created, ok};
use crate::ghl::validate::{self, Kind, opt, req};

const TAGS_PROPS: &[validate::Prop] = &[req("tags", Kind::StrArray)];

fn change_tags(
    app: &App,
    caller: &Caller,
    id: &str,
    body: &Value,
    add: bool,
) -> Result<Value, ApiError> {
    caller.require(WRITE)?;
    let input = validate::check(body, TAGS_PROPS)?;
    let given: Vec<String> = input["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, caller, id)?;
    let mut tags = loc
        .contacts
        .get(id)
        .ok_or_else(|| contact_not_found(id))?
        .tags();
    if add {
        for t in &given {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
    } else {
        tags.retain(|t| !given.contains(t));
    }
    let mut input = Map::new();
    input.insert("tags".into(), json!(tags));
    update_existing(app, loc, id, &input)?;
    inner.rt.touch();
    Ok(json!({"tags": tags}))
}

/// POST /contacts/{contactId}/tags (add-tags).
pub(super) async fn add_tags(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    created(change_tags(&app, &caller, &id, &body, true)?)
}

/// DELETE /contacts/{contactId}/tags (remove-tags).
pub(super) async fn remove_tags(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    ok(change_tags(&app, &caller, &id, &body, false)?)
}

const FOLLOWERS_PROPS: &[validate::Prop] = &[req("followers", Kind::StrArray)];

fn change_followers(
    app: &App,
    caller: &Caller,
    id: &str,
    body: &Value,
    add: bool,
) -> Result<Value, ApiError> {
    caller.require(WRITE)?;
    let input = validate::check(body, FOLLOWERS_PROPS)?;
    let given: Vec<String> = input["followers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, caller, id)?;
    if let Some(unknown) = given.iter().find(|u| !loc.has_user(u)) {
        return Err(ApiError::bad_request(format!(
            "User with id {unknown} not found in this location"
        )));
    }
    let contact = loc
        .contacts
        .get_mut(id)
        .ok_or_else(|| contact_not_found(id))?;
    let mut changed = Vec::new();
    for u in given {
        let present = contact.followers.contains(&u);
        if add && !present {
            contact.followers.push(u.clone());
            changed.push(u);
        } else if !add && present {
            contact.followers.retain(|f| *f != u);
            changed.push(u);
        }
    }
    let followers = contact.followers.clone();
    inner.rt.touch();
    let key = if add {
        "followersAdded"
    } else {
        "followersRemoved"
    };
    Ok(json!({"followers": followers, key: changed}))
}

/// POST /contacts/{contactId}/followers (add-followers-contact).
pub(super) async fn add_followers(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    created(change_followers(&app, &caller, &id, &body, true)?)
}

/// DELETE /contacts/{contactId}/followers (remove-followers-contact).
pub(super) async fn remove_followers(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    ok(change_followers(&app, &caller, &id, &body, false)?)
}

/// Which of a contact's sets a membership change edits.
#[derive(Debug, Clone, Copy)]
enum Membership {
    Campaign,
    Workflow,
}

fn change_membership(
    app: &App,
    caller: &Caller,
    contact_id: &str,
    target: Option<&str>,
    kind: Membership,
    add: bool,
    body: &Value,
) -> Result<Value, ApiError> {
    caller.require(WRITE)?;
    match kind {
        Membership::Campaign if add => {
            validate::check(body, &[])?;
        }
        Membership::Campaign => {}
        Membership::Workflow => {
            validate::check(body, &[opt("eventStartTime", Kind::Str)])?;
        }
    }
    let mut inner = app.shared.lock();
    let loc = contact_location(&mut inner.world, caller, contact_id)?;
    if let Some(t) = target {
        let (known, what) = match kind {
            Membership::Campaign => (loc.campaigns.iter().any(|c| c.id == t), "Campaign"),
            Membership::Workflow => (loc.workflows.iter().any(|w| w.id == t), "Workflow"),
        };
        if !known {
            return Err(ApiError::bad_request(format!(
                "{what} with id {t} not found"
            )));
        }
    }
    let contact = loc
        .contacts
        .get_mut(contact_id)
        .ok_or_else(|| contact_not_found(contact_id))?;
    let set = match kind {
        Membership::Campaign => &mut contact.campaigns,
        Membership::Workflow => &mut contact.workflows,
    };
    match (target, add) {
        (Some(t), true) => {
            set.insert(t.to_owned());
        }
        (Some(t), false) => {
            set.remove(t);
        }
        (None, _) => set.clear(),
    }
    inner.rt.touch();
    Ok(json!({"succeded": true}))
}

/// POST /contacts/{contactId}/campaigns/{campaignId} (add-contact-to-campaign).
pub(super) async fn add_campaign(
    State(app): State<App>,
    caller: Caller,
    Path((id, c)): TwoIds,
    Body(body): Body,
) -> ApiResult {
    created(change_membership(
        &app,
        &caller,
        &id,
        Some(&c),
        Membership::Campaign,
        true,
        &body,
    )?)
}

/// DELETE /contacts/{contactId}/campaigns/{campaignId} (remove-contact-from-campaign).
pub(super) async fn remove_campaign(
    State(app): State<App>,
    caller: Caller,
    Path((id, c)): TwoIds,
    Body(body): Body,
) -> ApiResult {
    ok(change_membership(
        &app,
        &caller,
        &id,
        Some(&c),
        Membership::Campaign,
        false,
        &body,
    )?)
}

/// DELETE /contacts/{contactId}/campaigns/removeAll (remove-contact-from-every-campaign).
pub(super) async fn remove_all_campaigns(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult {
    ok(change_membership(
        &app,
        &caller,
        &id,
        None,
        Membership::Campaign,
        false,
        &body,
    )?)
}

/// POST /contacts/{contactId}/workflow/{workflowId} (add-contact-to-workflow).
pub(super) async fn add_workflow(
    State(app): State<App>,
    caller: Caller,
    Path((id, w)): TwoIds,
    Body(body): Body,
) -> ApiResult {
    ok(change_membership(
        &app,
        &caller,
        &id,
        Some(&w),
        Membership::Workflow,
        true,
        &body,
    )?)
}

/// DELETE /contacts/{contactId}/workflow/{workflowId} (delete-contact-from-workflow).
pub(super) async fn remove_workflow(
    State(app): State<App>,
    caller: Caller,
    Path((id, w)): TwoIds,
    Body(body): Body,
) -> ApiResult {
    ok(change_membership(
        &app,
        &caller,
        &id,
        Some(&w),
        Membership::Workflow,
        false,
        &body,
    )?)
}
