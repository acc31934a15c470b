//! Leads: `GET/POST /v1.0/leads`, `GET/PUT/DELETE /v1.0/leads/{leadId}`.
//!
//! - Create needs only `firstName`; names are cut to 30 characters, tags to 64; `stage`
//!   must name one of the team's lead pipelines; a `property` block with every address
//!   field blank is 400 `200057`; `content` + `isPin` add a first note. The id comes back
//!   at once but reads answer 404 for `consistency_delay_ms` (Lofty persists leads
//!   asynchronously); writes are not affected.
//! - Update is partial. `tags` replaces the whole tag list, `tagsAdd` appends,
//!   `tagsRemove` removes names the lead has, `clearAllTags` wins over all three.
//! - Delete moves the lead to the trash; `reason` is required; reads then answer 404
//!   unless `withTrash=true`.
//! - List filters with AND: `email`, `phone` (precise), `stage`, `source`,
//!   `assignedUserId`, `allTags`/`anyTags`, `segments`, `key` (fuzzy on name, email and
//!   phone); pages by `offset` + `limit` (1..=100, else 400 `LIMIT_NOT_VALID`; 25 by
//!   default) or by the opaque `scrollId` of `_metadata`, which resumes after the last
//!   lead of the previous page and carries the query with it.

use axum::extract::{Path, State};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::App;
use super::http::{
    ApiError, ApiResult, Body, PARAMETER_TOO_LONG, PROPERTY_ADDRESS_EMPTY, Query, empty, ok,
    path_id,
};
use super::state::{
    AppliedTag, Caller, Inner, LIST_PIPELINE, Lead, Note, World, now_ms, phone_key,
};
use super::validate::{boolean, int, object, string, strings, truncate};
use super::webhooks;

/// Plain string fields stored as written.
const STRING_FIELDS: &[&str] = &[
    "birthday",
    "source",
    "referredBy",
    "language",
    "streetAddress",
    "city",
    "state",
    "zipCode",
    "buyingTimeFrame",
    "preQual",
    "houseToSell",
    "fthb",
    "withBuyerAgent",
    "sellingTimeFrame",
    "mortgage",
    "buyHouse",
    "withListingAgent",
];
const BOOL_FIELDS: &[&str] = &["cannotText", "cannotCall", "cannotEmail", "unsubscription"];
const LEAD_TYPES: &[i64] = &[-1, 1, 2, 5, 6, 7, 8, 9];
const OWNERSHIP: &[&str] = &["TEAM", "OFFICE", "PERSONAL"];

/// Keys of a `LeadProperty`, with Lofty's "unset" value (`-1` for the numbers
/// practitioners saw it on, `null` otherwise).
const PROPERTY_KEYS: &[(&str, i64)] = &[
    ("price", -1),
    ("lotSize", -1),
    ("priceMax", -1),
    ("priceMin", -1),
];
const PROPERTY_NULL_KEYS: &[&str] = &[
    "state",
    "city",
    "streetAddress",
    "zipCode",
    "county",
    "propertyType",
    "bedrooms",
    "bathrooms",
    "squareFeet",
    "parkingSpace",
    "floors",
    "listingId",
    "autoListingId",
    "label",
    "note",
    "listingStatus",
    "labelList",
    "pictureUrl",
    "siteListingUrl",
    "labelType",
];
/// Keys of a `LeadInquiry`.
const INQUIRY_KEYS: &[(&str, i64)] = &[("priceMin", -1), ("priceMax", -1)];
const INQUIRY_NULL_KEYS: &[&str] = &[
    "propertyType",
    "bedroomsMin",
    "bathroomsMin",
    "bedroomsMax",
    "bathroomsMax",
    "modifyByAgent",
    "createTime",
    "updateTime",
    "defaultValue",
];
/// Keys of an inquiry `Location`.
const LOCATION_KEYS: &[&str] = &[
    "stateCode",
    "city",
    "zipCode",
    "county",
    "streetAddress",
    "description",
];

/// Adds every declared key the caller left out, with its "unset" value.
fn complete(map: &mut Map<String, Value>, sentinels: &[(&str, i64)], nulls: &[&str]) {
    for (k, v) in sentinels {
        map.entry(*k).or_insert(json!(v));
    }
    for k in nulls {
        map.entry(*k).or_insert(Value::Null);
    }
}

/// What a create or update changed, for webhooks.
struct Applied {
    stage_changed: bool,
    note: Option<(String, bool)>,
}

/// Applies a create (`create = true`) or update body to `lead`.
#[allow(clippy::too_many_lines)]
fn apply(
    world: &mut World,
    rng: &mut rand::rngs::StdRng,
    lead: &mut Lead,
    body: &Map<String, Value>,
    caller: &Caller,
    now: i64,
    create: bool,
) -> Result<Applied, ApiError> {
    for key in ["firstName", "lastName"] {
        if let Some(v) = string(body, key)? {
            lead.fields
                .insert(key.into(), json!(truncate(v.trim(), 30)));
        }
    }
    if create && lead.str_field("firstName").is_empty() {
        return Err(ApiError::invalid("firstName is required"));
    }
    for key in STRING_FIELDS {
        if let Some(v) = string(body, key)? {
            lead.fields.insert((*key).into(), json!(v));
        }
    }
    for key in BOOL_FIELDS {
        if let Some(v) = boolean(body, key)? {
            lead.fields.insert((*key).into(), json!(v));
        }
    }
    if let Some(emails) = strings(body, "emails", false)? {
        let emails: Vec<String> = emails
            .iter()
            .map(|e| e.trim().to_owned())
            .filter(|e| !e.is_empty())
            .collect();
        if let Some(bad) = emails.iter().find(|e| !e.contains('@')) {
            return Err(ApiError::invalid(format!("Invalid email: {bad}")));
        }
        lead.fields.insert("emails".into(), json!(emails));
    }
    if let Some(phones) = strings(body, "phones", false)? {
        if let Some(long) = phones.iter().find(|p| p.chars().count() > 20) {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                PARAMETER_TOO_LONG,
                format!("Phone number is too long (max 20 characters): {long}"),
            ));
        }
        let phones: Vec<String> = phones
            .iter()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        lead.fields.insert("phones".into(), json!(phones));
    }
    if let Some(types) = body.get("leadTypes").filter(|v| !v.is_null()) {
        let types: Vec<i64> = types
            .as_array()
            .ok_or_else(|| ApiError::invalid("leadTypes must be an array"))?
            .iter()
            .map(|t| {
                t.as_i64()
                    .filter(|t| LEAD_TYPES.contains(t))
                    .ok_or_else(|| ApiError::invalid(format!("Invalid leadType: {t}")))
            })
            .collect::<Result<_, _>>()?;
        lead.fields.insert("leadTypes".into(), json!(types));
    }
    let segments = match strings(body, "segments", false)? {
        Some(s) => Some(s),
        None => strings(body, "groups", false)?,
    };
    if let Some(segments) = segments {
        let segments: Vec<String> = segments.iter().map(|s| truncate(s, 30)).collect();
        lead.fields.insert("segments".into(), json!(segments));
    }
    if let Some(family) = body.get("leadFamilyMemberList").filter(|v| !v.is_null()) {
        let list = family
            .as_array()
            .ok_or_else(|| ApiError::invalid("leadFamilyMemberList must be an array"))?;
        if list.len() > 4 {
            return Err(ApiError::invalid("You can add up to 4 family members"));
        }
        if list.iter().any(|m| {
            m.get("firstName")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        }) {
            return Err(ApiError::invalid(
                "firstName of a family member is required",
            ));
        }
        lead.fields
            .insert("leadFamilyMemberList".into(), family.clone());
    }
    let mut stage_changed = false;
    if let Some(stage) = string(body, "stage")? {
        if stage.chars().count() >= 20 {
            return Err(ApiError::invalid("stage must be less than 20 characters"));
        }
        let pipeline = world
            .pipeline_named(&stage)
            .ok_or_else(|| ApiError::invalid(format!("Stage does not exist: {stage}")))?;
        stage_changed = pipeline.id != lead.stage_id;
        lead.stage_id = pipeline.id;
        lead.stage.clone_from(&pipeline.name);
    }
    if let Some(user) = int(body, "assignedUserId")? {
        if world.member_by_user(user).is_none() {
            return Err(ApiError::invalid(format!(
                "assignedUserId {user} is not a member of the team"
            )));
        }
        if user != lead.assigned_user_id {
            lead.assigned_user_id = user;
            lead.assign_ms = now;
        }
    }
    if let Some(scope) = string(body, "ownershipScope")? {
        let scope = scope.to_ascii_uppercase();
        if !OWNERSHIP.contains(&scope.as_str()) {
            return Err(ApiError::invalid(format!(
                "Invalid ownershipScope: {scope}"
            )));
        }
        let id = int(body, "ownershipId")?;
        lead.ownership_id = match scope.as_str() {
            "TEAM" => 0,
            "PERSONAL" => id.unwrap_or(caller.member_user_id),
            _ => id.ok_or_else(|| ApiError::invalid("ownershipId is required for OFFICE"))?,
        };
        lead.ownership_scope = scope;
    }
    if !create && let Some(hidden) = boolean(body, "isHidden")? {
        lead.hidden = hidden;
    }
    if let Some(inquiry) = body.get("inquiry").filter(|v| !v.is_null()) {
        let mut inquiry = inquiry
            .as_object()
            .cloned()
            .ok_or_else(|| ApiError::invalid("inquiry must be an object"))?;
        let id = match lead
            .inquiry
            .as_ref()
            .and_then(|i| i.get("id"))
            .and_then(Value::as_i64)
        {
            Some(id) => id,
            None => world.next_id(rng),
        };
        inquiry.insert("id".into(), json!(id));
        inquiry.insert("leadUserId".into(), json!(lead.lead_user_id));
        complete(&mut inquiry, INQUIRY_KEYS, INQUIRY_NULL_KEYS);
        let locations = match inquiry.get("locations") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|l| {
                    let mut l = l
                        .as_object()
                        .cloned()
                        .ok_or_else(|| ApiError::invalid("inquiry.locations must be objects"))?;
                    complete(&mut l, &[], LOCATION_KEYS);
                    Ok(Value::Object(l))
                })
                .collect::<Result<_, ApiError>>()?,
            Some(_) => return Err(ApiError::invalid("inquiry.locations must be an array")),
        };
        inquiry.insert("locations".into(), Value::Array(locations));
        lead.inquiry = Some(Value::Object(inquiry));
    }
    if let Some(property) = body.get("property").filter(|v| !v.is_null()) {
        apply_property(world, rng, lead, property)?;
    }
    if let Some(list) = body.get("customAttributeList").filter(|v| !v.is_null()) {
        let list = list
            .as_array()
            .ok_or_else(|| ApiError::invalid("customAttributeList must be an array"))?;
        for item in list {
            let item = item
                .as_object()
                .ok_or_else(|| ApiError::invalid("customAttributeList items must be objects"))?;
            let name = string(item, "attributeName")?
                .ok_or_else(|| ApiError::invalid("attributeName is required"))?;
            let Some(def) = world
                .custom_fields
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(name.trim()))
            else {
                return Err(ApiError::invalid(format!(
                    "Custom field does not exist: {name}"
                )));
            };
            match string(item, "value")? {
                Some(v) if !v.is_empty() => {
                    lead.custom.insert(def.name.clone(), v);
                }
                _ => {
                    lead.custom.shift_remove(&def.name);
                }
            }
        }
    }
    apply_tags(world, rng, lead, body, caller, now)?;
    let note = match string(body, "content")? {
        Some(content) if create && !content.trim().is_empty() => Some((
            truncate(&content, 2000),
            boolean(body, "isPin")?.unwrap_or(false),
        )),
        _ => None,
    };
    Ok(Applied {
        stage_changed,
        note,
    })
}

fn apply_property(
    world: &mut World,
    rng: &mut rand::rngs::StdRng,
    lead: &mut Lead,
    property: &Value,
) -> Result<(), ApiError> {
    let mut property = property
        .as_object()
        .cloned()
        .ok_or_else(|| ApiError::invalid("property must be an object"))?;
    let blank = ["city", "state", "zipCode", "streetAddress"]
        .iter()
        .all(|k| {
            property
                .get(*k)
                .and_then(Value::as_str)
                .is_none_or(|s| s.trim().is_empty())
        });
    if blank {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            PROPERTY_ADDRESS_EMPTY,
            "The property address is empty.",
        ));
    }
    let id = int(&property, "id")?.unwrap_or(0);
    let mail = property
        .get("mailAddress")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    property.insert("mailAddress".into(), json!(mail));
    property.insert("leadUserId".into(), json!(lead.lead_user_id));
    complete(&mut property, PROPERTY_KEYS, PROPERTY_NULL_KEYS);
    let same_address = |p: &Value| {
        ["streetAddress", "city", "state", "zipCode"]
            .iter()
            .all(|k| p.get(*k) == property.get(*k))
    };
    let slot = if id > 0 {
        let slot = lead
            .properties
            .iter()
            .position(|p| p.get("id").and_then(Value::as_i64) == Some(id));
        if slot.is_none() {
            return Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                super::http::LEAD_PROPERTY_NOT_EXIST,
                "The property does not exist on this lead.",
            ));
        }
        slot
    } else {
        lead.properties.iter().position(same_address)
    };
    match slot {
        Some(i) => {
            let existing_id = lead.properties[i].get("id").cloned().unwrap_or(json!(id));
            property.insert("id".into(), existing_id);
            lead.properties[i] = Value::Object(property);
        }
        None => {
            property.insert("id".into(), json!(world.next_id(rng)));
            lead.properties.push(Value::Object(property));
        }
    }
    Ok(())
}

fn apply_tags(
    world: &mut World,
    rng: &mut rand::rngs::StdRng,
    lead: &mut Lead,
    body: &Map<String, Value>,
    caller: &Caller,
    now: i64,
) -> Result<(), ApiError> {
    let replace = strings(body, "tags", true)?;
    let add = strings(body, "tagsAdd", true)?;
    let remove = strings(body, "tagsRemove", true)?;
    if boolean(body, "clearAllTags")?.unwrap_or(false) {
        lead.tags.clear();
        return Ok(());
    }
    let mut attach = |world: &mut World, lead: &mut Lead, name: &str| {
        let name = truncate(name.trim(), 64);
        if name.is_empty() || lead.has_tag(&name) {
            return;
        }
        let tag_id = world.ensure_tag(&name, caller.member_user_id, now, rng);
        let name = world.tags.get(&tag_id).map_or(name, |t| t.name.clone());
        lead.tags.push(AppliedTag {
            tag_id,
            name,
            created_ms: now,
            creator_user_id: caller.member_user_id,
        });
    };
    if let Some(names) = replace {
        let keep: Vec<String> = names.iter().map(|n| truncate(n.trim(), 64)).collect();
        lead.tags
            .retain(|t| keep.iter().any(|k| k.eq_ignore_ascii_case(&t.name)));
        for name in &names {
            attach(world, lead, name);
        }
    }
    for name in add.iter().flatten() {
        attach(world, lead, name);
    }
    for name in remove.iter().flatten() {
        lead.tags
            .retain(|t| !t.name.eq_ignore_ascii_case(name.trim()));
    }
    Ok(())
}

fn add_note(inner: &mut Inner, lead_id: i64, content: String, is_pin: bool, by: i64, now: i64) {
    let Inner { world, rt } = inner;
    let note_id = world.next_id(&mut rt.rng);
    let timeline_id = world.next_id(&mut rt.rng);
    world.notes.insert(
        note_id,
        Note {
            note_id,
            timeline_id,
            lead_id,
            content,
            is_pin,
            system: false,
            creator_id: by,
            last_editor_id: by,
            created_ms: now,
            updated_ms: now,
            visible_at_ms: now + i64::try_from(rt.consistency_delay_ms).unwrap_or(0),
        },
    );
}

/// POST /v1.0/leads: `{leadId}`.
pub async fn create(State(app): State<App>, caller: Caller, Body(body): Body) -> ApiResult {
    let map = object(&body)?;
    let now = now_ms();
    let mut inner = app.shared.lock();
    let Inner { world, rt } = &mut *inner;
    let default_stage = world.pipelines.first().cloned();
    let lead_id = world.next_id(&mut rt.rng);
    let mut lead = Lead {
        lead_id,
        lead_user_id: lead_id + 1,
        fields: Map::new(),
        stage_id: default_stage.as_ref().map_or(0, |p| p.id),
        stage: default_stage.map(|p| p.name).unwrap_or_default(),
        assigned_user_id: caller.member_user_id,
        tags: Vec::new(),
        custom: Default::default(),
        ownership_scope: "PERSONAL".to_owned(),
        ownership_id: caller.member_user_id,
        hidden: false,
        properties: Vec::new(),
        inquiry: None,
        created_ms: now,
        updated_ms: now,
        assign_ms: now,
        visible_at_ms: now + i64::try_from(rt.consistency_delay_ms).unwrap_or(0),
        trashed: None,
    };
    let applied = apply(world, &mut rt.rng, &mut lead, map, &caller, now, true)?;
    world.put_lead(lead.clone());
    if let Some((content, pin)) = applied.note {
        add_note(
            &mut inner,
            lead_id,
            content,
            pin,
            caller.member_user_id,
            now,
        );
    }
    webhooks::emit_lead(&mut inner, "createdLead", &lead);
    inner.rt.dirty = true;
    drop(inner);
    app.shared.wake.notify_one();
    ok(json!({"leadId": lead_id}))
}

/// GET /v1.0/leads/{leadId}: `{lead: {...}}`.
pub async fn get(
    State(app): State<App>,
    caller: Caller,
    Path(raw): Path<String>,
    q: Query,
) -> ApiResult {
    let lead_id = path_id(&raw, "leadId")?;
    let with_trash = q.bool("withTrash")?.unwrap_or(false);
    let inner = app.shared.lock();
    let now = now_ms();
    let lead = inner
        .world
        .leads
        .get(&lead_id)
        .filter(|l| l.visible_at_ms <= now && (with_trash || l.trashed.is_none()))
        .filter(|l| inner.world.can_manage(&caller, l))
        .ok_or_else(ApiError::lead_not_exist)?;
    ok(json!({"lead": lead.to_json(&inner.world)}))
}

/// PUT /v1.0/leads/{leadId}: `{leadId}`.
pub async fn update(
    State(app): State<App>,
    caller: Caller,
    Path(raw): Path<String>,
    Body(body): Body,
) -> ApiResult {
    let lead_id = path_id(&raw, "leadId")?;
    let map = object(&body)?;
    let now = now_ms();
    let mut inner = app.shared.lock();
    let Inner { world, rt } = &mut *inner;
    // Writes are not subject to the read delay after create.
    let mut lead = world
        .leads
        .get(&lead_id)
        .filter(|l| l.trashed.is_none() && world.can_manage(&caller, l))
        .cloned()
        .ok_or_else(ApiError::lead_not_exist)?;
    let applied = apply(world, &mut rt.rng, &mut lead, map, &caller, now, false)?;
    lead.updated_ms = now.max(lead.updated_ms + 1);
    world.put_lead(lead.clone());
    webhooks::emit_lead(&mut inner, "updatedLead", &lead);
    if applied.stage_changed {
        let entry = json!({
            "leadId": lead.lead_id,
            "stageId": lead.stage_id,
            "stage": lead.stage,
            "updateTime": lead.updated_ms,
        });
        webhooks::emit(
            &mut inner,
            LIST_PIPELINE,
            "pipelineChange",
            "leadId",
            entry,
            &lead,
        );
    }
    inner.rt.dirty = true;
    drop(inner);
    app.shared.wake.notify_one();
    ok(json!({"leadId": lead_id}))
}

/// DELETE /v1.0/leads/{leadId}?reason=: moves the lead to the trash; empty body.
pub async fn trash(
    State(app): State<App>,
    caller: Caller,
    Path(raw): Path<String>,
    q: Query,
) -> ApiResult {
    let lead_id = path_id(&raw, "leadId")?;
    let reason = q
        .get("reason")
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::invalid("reason is required"))?
        .to_owned();
    let now = now_ms();
    let mut inner = app.shared.lock();
    let world = &mut inner.world;
    let manageable = world
        .leads
        .get(&lead_id)
        .is_some_and(|l| l.trashed.is_none() && world.can_manage(&caller, l));
    if !manageable {
        return Err(ApiError::lead_not_exist());
    }
    let Some(lead) = world.leads.get_mut(&lead_id) else {
        return Err(ApiError::lead_not_exist());
    };
    lead.trashed = Some((now, reason));
    lead.updated_ms = now.max(lead.updated_ms + 1);
    let lead = lead.clone();
    webhooks::emit_lead(&mut inner, "deletedLead", &lead);
    inner.rt.dirty = true;
    drop(inner);
    app.shared.wake.notify_one();
    empty()
}

/// The query of a lead search, carried inside `scrollId`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Search {
    email: Option<String>,
    phone: Option<String>,
    stage: Option<String>,
    source: Option<String>,
    assigned: Option<i64>,
    all_tags: Vec<String>,
    any_tags: Vec<String>,
    segments: Vec<String>,
    key: Option<String>,
    sort: String,
    desc: bool,
    limit: usize,
    /// Sort key of the last lead returned: (value, leadId).
    after: Option<(i64, i64)>,
}

impl Search {
    fn from_query(q: &Query) -> Result<Self, ApiError> {
        let limit = match q.int("limit")? {
            None => 25,
            Some(l) if (1..=100).contains(&l) => usize::try_from(l).unwrap_or(25),
            Some(_) => {
                return Err(ApiError::bad(
                    "LIMIT_NOT_VALID",
                    "limit must be between 1 and 100",
                ));
            }
        };
        Ok(Self {
            email: q.get("email").map(|s| s.trim().to_lowercase()),
            phone: q.get("phone").map(phone_key),
            stage: q.get("stage").map(str::to_owned),
            source: q.get("source").map(str::to_owned),
            assigned: q.int("assignedUserId")?,
            all_tags: q.all("allTags"),
            any_tags: q.all("anyTags"),
            segments: {
                let mut s = q.all("segments");
                s.extend(q.all("groups"));
                s
            },
            key: q.get("key").map(|s| s.trim().to_lowercase()),
            sort: q.get("sort").unwrap_or("Default").to_owned(),
            desc: q.bool("desc")?.unwrap_or(true),
            limit,
            after: None,
        })
    }

    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(raw: &str) -> Result<Self, ApiError> {
        URL_SAFE_NO_PAD
            .decode(raw.trim())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| ApiError::invalid("scrollId is invalid or expired"))
    }

    fn matches(&self, lead: &Lead) -> bool {
        let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b.trim());
        self.email
            .as_ref()
            .is_none_or(|e| lead.emails().iter().any(|x| x.to_lowercase() == *e))
            && self
                .phone
                .as_ref()
                .is_none_or(|p| !p.is_empty() && lead.phones().iter().any(|x| phone_key(x) == *p))
            && self.stage.as_ref().is_none_or(|s| eq(&lead.stage, s))
            && self
                .source
                .as_ref()
                .is_none_or(|s| eq(lead.str_field("source"), s))
            && self.assigned.is_none_or(|u| lead.assigned_user_id == u)
            && self.all_tags.iter().all(|t| lead.has_tag(t))
            && (self.any_tags.is_empty() || self.any_tags.iter().any(|t| lead.has_tag(t)))
            && (self.segments.is_empty()
                || lead
                    .strings("segments")
                    .iter()
                    .any(|s| self.segments.iter().any(|x| eq(s, x))))
            && self.key.as_ref().is_none_or(|k| {
                lead.name().to_lowercase().contains(k.as_str())
                    || lead
                        .emails()
                        .iter()
                        .any(|e| e.to_lowercase().contains(k.as_str()))
                    || {
                        let digits = phone_key(k);
                        !digits.is_empty()
                            && lead.phones().iter().any(|p| phone_key(p).contains(&digits))
                    }
            })
    }

    /// The value leads are ordered by (ties broken by id).
    fn sort_value(&self, lead: &Lead) -> i64 {
        match self.sort.as_str() {
            "CreateTime" => lead.created_ms,
            "AssignTime" => lead.assign_ms,
            "DeleteTime" => lead.trashed.as_ref().map_or(0, |t| t.0),
            "LastActivity" | "LastContact" | "Activity" => lead.updated_ms,
            _ => lead.lead_id,
        }
    }
}

/// GET /v1.0/leads: `{_metadata, leads}`.
pub async fn list(State(app): State<App>, caller: Caller, q: Query) -> ApiResult {
    let (search, offset, scrolling) = match q.get("scrollId") {
        Some(raw) => (Search::decode(raw)?, 0, true),
        None => {
            let offset = q.int("offset")?.unwrap_or(0);
            if offset < 0 {
                return Err(ApiError::invalid("offset must not be negative"));
            }
            (
                Search::from_query(&q)?,
                usize::try_from(offset).unwrap_or(0),
                false,
            )
        }
    };
    let inner = app.shared.lock();
    let now = now_ms();
    let world = &inner.world;
    // A precise email or phone reads its candidates from the index.
    let indexed = match (&search.email, &search.phone) {
        (Some(e), _) => Some(world.lead_index.by_email.get(e)),
        (None, Some(p)) => Some(world.lead_index.by_phone.get(p)),
        (None, None) => None,
    };
    let candidates: Box<dyn Iterator<Item = &Lead>> = match indexed {
        Some(ids) => Box::new(
            ids.into_iter()
                .flatten()
                .filter_map(|id| world.leads.get(id)),
        ),
        None => Box::new(world.leads.values()),
    };
    let mut hits: Vec<(i64, &Lead)> = candidates
        .filter(|l| l.trashed.is_none() && l.visible_at_ms <= now)
        .filter(|l| world.can_manage(&caller, l) && search.matches(l))
        .map(|l| (search.sort_value(l), l))
        .collect();
    hits.sort_by_key(|(v, l)| (*v, l.lead_id));
    if search.desc {
        hits.reverse();
    }
    let total = hits.len();
    let start = match (scrolling, search.after) {
        (true, Some(after)) => hits
            .iter()
            .position(|(v, l)| {
                let key = (*v, l.lead_id);
                if search.desc {
                    key < after
                } else {
                    key > after
                }
            })
            .unwrap_or(total),
        _ => offset.min(total),
    };
    let page: Vec<(i64, &Lead)> = hits
        .iter()
        .skip(start)
        .take(search.limit)
        .copied()
        .collect();
    let scroll_id = page.last().map(|(v, l)| {
        let mut next = search.clone();
        next.after = Some((*v, l.lead_id));
        next.encode()
    });
    let leads: Vec<Value> = page.iter().map(|(_, l)| l.to_json(world)).collect();
    ok(json!({
        "_metadata": {
            "collection": "leads",
            "limit": search.limit,
            "offset": start,
            "total": total,
            "scrollId": scroll_id,
        },
        "leads": leads,
    }))
}
