//! The emulated Lofty account: one team, its members, leads, notes, tasks and
//! appointments, tags, custom fields, lead pipelines, webhook subscriptions and
//! credentials.
//!
//! Everything lives behind one `std::sync::Mutex` in [`Shared`]; handlers lock it,
//! change what they need and unlock before any `.await`. The data part ([`World`]) is
//! serde so it can be saved to and loaded from a state file.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, FixedOffset, SecondsFormat, TimeZone, Utc};
use indexmap::IndexMap;
use rand::Rng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::ghl::state::{Counter, Faults};

/// The 12 webhook event lists (`listId`), by number.
pub const EVENT_LISTS: &[(i64, &str)] = &[
    (1, "Agent Info"),
    (2, "Lead Info"),
    (3, "Lead Activity"),
    (4, "Listing Alert"),
    (5, "Transaction"),
    (6, "Call"),
    (7, "Email"),
    (8, "Text"),
    (9, "Note"),
    (10, "Task"),
    (11, "Appointment"),
    (12, "Pipeline Change"),
];

/// Event list of lead changes.
pub const LIST_LEAD: i64 = 2;
/// Event list of note changes.
pub const LIST_NOTE: i64 = 9;
/// Event list of task changes.
pub const LIST_TASK: i64 = 10;
/// Event list of appointment changes.
pub const LIST_APPOINTMENT: i64 = 11;
/// Event list of lead stage changes.
pub const LIST_PIPELINE: i64 = 12;

/// API families an OAuth grant may be limited to (Lofty grants OAuth apps per API).
pub const API_FAMILIES: &[&str] = &[
    "leads", "notes", "tasks", "calendar", "members", "team", "webhooks",
];

/// One team member (a user of the Lofty account).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    /// Team-member record id (short, what `/v1.0/me` calls `id`).
    pub id: i64,
    /// The user id every other record refers to (`assignedUserId`, `creatorId`, ...).
    pub member_user_id: i64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub role: i64,
    pub role_name: String,
    pub is_admin: bool,
    pub group_id: i64,
    pub group_name: String,
    pub time_zone_id: String,
}

impl Member {
    pub fn name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    /// The member's office (`OfficeBo`).
    fn office_json(&self, team_id: i64, invitor: i64) -> Value {
        json!({
            "id": self.group_id,
            "teamId": team_id,
            "parentId": 0,
            "websiteOwnerId": invitor,
            "name": self.group_name,
            "type": 1,
            "phone": "5125550100",
            "phoneCode": "1",
            "phoneCountry": "US",
            "email": "office@sandbox-realty.example.com",
            "city": "Austin",
            "state": "TX",
            "zipcode": "73301",
            "streetAddress": "1 Sandbox Way",
            "webSiteUrl": "https://sandbox-realty.example.com",
            "createTime": "2026-01-05T09:00:00.000+0000",
            "updateTime": "2026-01-05T09:00:00.000+0000",
            "path": format!("/{}/", self.group_id),
            "showInSite": true,
            "defaultFlag": true,
            "allowManageSub": false,
            "agentCount": 3,
            "boundNumber": "",
            "status": "ACTIVE",
            "layer": 1,
            "childPath": "",
        })
    }

    /// The `UserResponse` object.
    pub fn to_json(&self, team_id: i64, invitor: i64, assigned: usize) -> Value {
        json!({
            "id": self.id,
            "teamId": team_id,
            "invitorUserId": invitor,
            "memberUserId": self.member_user_id,
            "role": self.role,
            "roleName": self.role_name,
            "firstLetter": self.first_name.chars().next().map(|c| c.to_string()).unwrap_or_default(),
            "email": self.email,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "phoneNumber": self.phone,
            "status": 1,
            "virtualNumber": "",
            "newLeadCount": 0,
            "assignedLeadCount": assigned,
            "isAdmin": self.is_admin,
            "agentInfo": {
                "licenseId": format!("SBX-{}", self.id),
                "position": self.role_name,
                "companyName": "Sandbox Realty",
                "companyAddress": "1 Sandbox Way, Austin, TX",
                "mlsAgentId": "",
                "agentPid": "",
            },
            "timeZoneId": self.time_zone_id,
            "groupId": self.group_id,
            "groupName": self.group_name,
            "group": self.office_json(team_id, invitor),
            "accountStatus": "ACTIVE",
        })
    }
}

/// A tag applied to a lead.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppliedTag {
    pub tag_id: i64,
    pub name: String,
    pub created_ms: i64,
    pub creator_user_id: i64,
}

/// A team tag definition (what `listTag` reports with `leadId` 0).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TagDef {
    pub tag_id: i64,
    pub name: String,
    pub created_ms: i64,
    pub creator_user_id: i64,
}

/// A lead-level custom field definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomFieldDef {
    pub id: i64,
    pub name: String,
    /// text, number, date, anniversary_date, single_select, multi_select, percentage, currency.
    pub attribute_type: String,
    /// Options of select fields, as Lofty sends them (`{"option":[...]}` as a string).
    pub params: Option<String>,
}

/// Custom field types Lofty accepts.
pub const CUSTOM_FIELD_TYPES: &[&str] = &[
    "text",
    "number",
    "date",
    "anniversary_date",
    "single_select",
    "multi_select",
    "percentage",
    "currency",
];

/// A lead pipeline entry (a stage name leads can be in).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pipeline {
    pub id: i64,
    pub name: String,
}

/// A lead (Lofty's contact).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lead {
    pub lead_id: i64,
    pub lead_user_id: i64,
    /// Plain fields echoed back as written, in Lofty's camelCase (firstName, emails,
    /// phones, source, birthday, leadTypes, segments, cannotText, ...).
    pub fields: Map<String, Value>,
    pub stage_id: i64,
    pub stage: String,
    pub assigned_user_id: i64,
    pub tags: Vec<AppliedTag>,
    /// Custom field values by field name.
    pub custom: IndexMap<String, String>,
    pub ownership_scope: String,
    pub ownership_id: i64,
    pub hidden: bool,
    pub properties: Vec<Value>,
    pub inquiry: Option<Value>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub assign_ms: i64,
    /// Reads answer 404 before this instant (eventual consistency after create).
    pub visible_at_ms: i64,
    /// Set when the lead is in the trash: (when, reason).
    pub trashed: Option<(i64, String)>,
}

impl Lead {
    pub fn str_field(&self, key: &str) -> &str {
        self.fields.get(key).and_then(Value::as_str).unwrap_or("")
    }

    pub fn strings(&self, key: &str) -> Vec<String> {
        self.fields
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn emails(&self) -> Vec<String> {
        self.strings("emails")
    }

    pub fn phones(&self) -> Vec<String> {
        self.strings("phones")
    }

    pub fn name(&self) -> String {
        format!(
            "{} {}",
            self.str_field("firstName"),
            self.str_field("lastName")
        )
        .trim()
        .to_owned()
    }

    pub fn has_tag(&self, name: &str) -> bool {
        self.tags.iter().any(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// The `LeadResponse` object: every declared key, `null` or Lofty's `-1` sentinel
    /// where the lead has no value.
    pub fn to_json(&self, world: &World) -> Value {
        let mut out = Map::new();
        let field = |k: &str, default: Value| self.fields.get(k).cloned().unwrap_or(default);
        for key in ["cannotText", "cannotCall", "cannotEmail"] {
            out.insert(key.into(), field(key, json!(false)));
        }
        out.insert("leadId".into(), json!(self.lead_id));
        out.insert("leadUserId".into(), json!(self.lead_user_id));
        out.insert("firstName".into(), field("firstName", json!("")));
        out.insert("lastName".into(), field("lastName", json!("")));
        out.insert("birthday".into(), field("birthday", Value::Null));
        out.insert("emails".into(), field("emails", json!([])));
        out.insert("phones".into(), field("phones", json!([])));
        out.insert("leadSource".into(), json!(-1));
        out.insert("source".into(), field("source", json!("")));
        out.insert("stageId".into(), json!(self.stage_id));
        out.insert("stage".into(), json!(self.stage));
        out.insert("assignedUserId".into(), json!(self.assigned_user_id));
        out.insert(
            "assignedUser".into(),
            json!(
                world
                    .member_by_user(self.assigned_user_id)
                    .map(Member::name)
                    .unwrap_or_default()
            ),
        );
        out.insert("lenderUserId".into(), json!(0));
        out.insert("score".into(), json!(0));
        out.insert(
            "tags".into(),
            Value::Array(
                self.tags
                    .iter()
                    .map(|t| {
                        json!({
                            "leadId": self.lead_id,
                            "tagId": t.tag_id,
                            "createTime": gmt(t.created_ms),
                            "updateTime": gmt(t.created_ms),
                            "tagName": t.name,
                            "creatorUserId": t.creator_user_id,
                            "visibleType": 0,
                        })
                    })
                    .collect(),
            ),
        );
        out.insert("teamId".into(), json!(world.team_id));
        for key in ["streetAddress", "city", "state", "zipCode"] {
            out.insert(key.into(), field(key, Value::Null));
        }
        out.insert("createTime".into(), json!(gmt(self.created_ms)));
        out.insert("assignTime".into(), json!(gmt(self.assign_ms)));
        out.insert("facebook".into(), field("facebook", Value::Null));
        out.insert("twitter".into(), field("twitter", Value::Null));
        out.insert("hiddenFlag".into(), json!(self.hidden));
        out.insert("referredBy".into(), field("referredBy", Value::Null));
        out.insert(
            "leadInquiry".into(),
            self.inquiry.clone().unwrap_or(Value::Null),
        );
        out.insert("leadPropertyList".into(), json!(self.properties));
        out.insert(
            "customAttributes".into(),
            Value::Array(
                self.custom
                    .iter()
                    .map(|(name, value)| {
                        let def = world.custom_fields.iter().find(|f| &f.name == name);
                        json!({
                            "attributeName": name,
                            "attributeType": def.map(|d| d.attribute_type.clone()).unwrap_or_else(|| "text".to_owned()),
                            "value": value,
                            "params": def.and_then(|d| d.params.clone()),
                        })
                    })
                    .collect(),
            ),
        );
        out.insert("lastUpdateTime".into(), json!(gmt(self.updated_ms)));
        out.insert("groups".into(), field("segments", json!([])));
        out.insert("segments".into(), field("segments", json!([])));
        out.insert(
            "unsubscription".into(),
            field("unsubscription", json!(false)),
        );
        out.insert("leadTypes".into(), field("leadTypes", json!([-1])));
        out.insert("lastTouch".into(), Value::Null);
        out.insert("lastVisit".into(), Value::Null);
        let phone_statuses: Vec<i64> = self.phones().iter().map(|_| 2).collect();
        out.insert("phoneStatuses".into(), json!(phone_statuses));
        out.insert("assignCompletionStatus".into(), json!(true));
        for key in [
            "buyingTimeFrame",
            "preQual",
            "houseToSell",
            "fthb",
            "withBuyerAgent",
            "sellingTimeFrame",
            "mortgage",
            "buyHouse",
            "withListingAgent",
        ] {
            out.insert(key.into(), field(key, Value::Null));
        }
        out.insert("opportunity".into(), Value::Null);
        out.insert(
            "leadFamilyMemberList".into(),
            field("leadFamilyMemberList", json!([])),
        );
        out.insert("pondId".into(), json!(0));
        out.insert("pondName".into(), Value::Null);
        out.insert(
            "customRoleList".into(),
            json!([
                {"roleId": 1, "role": "Agent", "assigneeId": self.assigned_user_id,
                 "assignee": world.member_by_user(self.assigned_user_id).map(|m| m.email.clone()).unwrap_or_default()},
                {"roleId": 2, "role": "Lender", "assigneeId": 0, "assignee": ""},
            ]),
        );
        out.insert("language".into(), field("language", Value::Null));
        out.insert("ownershipId".into(), json!(self.ownership_id));
        out.insert("ownershipScope".into(), json!(self.ownership_scope));
        Value::Object(out)
    }
}

/// A note on a lead.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note {
    pub note_id: i64,
    /// Timeline id carrying the note (the `id` of the note object).
    pub timeline_id: i64,
    pub lead_id: i64,
    pub content: String,
    pub is_pin: bool,
    pub system: bool,
    pub creator_id: i64,
    pub last_editor_id: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub visible_at_ms: i64,
}

impl Note {
    /// The `NoteResponse` object.
    pub fn to_json(&self, world: &World) -> Value {
        let name = |id: i64| {
            world
                .member_by_user(id)
                .map(Member::name)
                .unwrap_or_default()
        };
        json!({
            "id": self.timeline_id,
            "noteId": self.note_id,
            "creatorId": self.creator_id,
            "leadId": self.lead_id,
            "createTime": plain(self.created_ms),
            "deleteFlag": false,
            "content": self.content,
            "lastUpdate": plain(self.updated_ms),
            "lastEditorId": self.last_editor_id,
            "creatorName": name(self.creator_id),
            "lastEditorName": name(self.last_editor_id),
            "isPin": self.is_pin,
            "systemNote": self.system,
        })
    }
}

/// Whether an entry of the shared task namespace is a task or an appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    Task,
    Appointment,
}

impl EntryKind {
    /// Suffix of composite calendar ids (`<id>-task`, `<id>-appointment`).
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Task => "task",
            Self::Appointment => "appointment",
        }
    }

    pub fn calendar_type(self) -> &'static str {
        match self {
            Self::Task => "TASK",
            Self::Appointment => "APPOINTMENT",
        }
    }

    pub fn list_id(self) -> i64 {
        match self {
            Self::Task => LIST_TASK,
            Self::Appointment => LIST_APPOINTMENT,
        }
    }
}

/// A task or an appointment (one `taskId` namespace).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub task_id: i64,
    pub kind: EntryKind,
    pub lead_id: i64,
    /// Call, Email, Text or Other for tasks; Appointment for appointments.
    pub task_way: String,
    pub content: String,
    pub start: Option<DateTime<FixedOffset>>,
    pub end: DateTime<FixedOffset>,
    pub time_zone_code: String,
    pub all_day: bool,
    pub finished: bool,
    pub finish_ms: Option<i64>,
    pub assigned_role: String,
    pub assigned_user_id: i64,
    pub creator_id: i64,
    pub address: Option<String>,
    pub reminder_type: i64,
    /// Smart-plan tasks cannot be finished through the API.
    pub smart_plan: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl Entry {
    pub fn calendar_id(&self) -> String {
        format!("{}-{}", self.task_id, self.kind.suffix())
    }

    pub fn start_or_end(&self) -> DateTime<FixedOffset> {
        self.start.unwrap_or(self.end)
    }

    /// The `TaskResponseV2` object.
    pub fn to_json(&self, world: &World) -> Value {
        let lead = world.leads.get(&self.lead_id);
        let lead_str = |f: fn(&Lead) -> String| lead.map(f).unwrap_or_default();
        let overdue = !self.finished && self.end.timestamp_millis() < now_ms();
        json!({
            "id": self.task_id,
            "leadId": self.lead_id,
            "creatorId": self.creator_id,
            "content": self.content,
            "type": self.task_way,
            "startAt": self.start.map(|s| gmt(s.timestamp_millis())),
            "endAt": gmt(self.end.timestamp_millis()),
            "timeZoneCode": self.time_zone_code,
            "allDay": self.all_day,
            "finishFlag": self.finished,
            "overdueFlag": overdue,
            "finishTime": self.finish_ms.map(gmt),
            "createTime": gmt(self.created_ms),
            "lastUpdate": gmt(self.updated_ms),
            "leadName": lead_str(Lead::name),
            "leadEmail": lead_str(|l| l.emails().first().cloned().unwrap_or_default()),
            "leadPhone": lead_str(|l| l.phones().first().cloned().unwrap_or_default()),
            "leadFirstName": lead_str(|l| l.str_field("firstName").to_owned()),
            "leadLastName": lead_str(|l| l.str_field("lastName").to_owned()),
            "reminderType": self.reminder_type,
            "assignedRole": self.assigned_role,
            "assignedUser": world.member_by_user(self.assigned_user_id).map(Member::name).unwrap_or_default(),
            "teamId": world.team_id,
            "subject": Value::Null,
            "body": Value::Null,
            "assignedUserId": self.assigned_user_id,
            "pipelineId": lead.map_or(0, |l| l.stage_id),
            "queryInfo": Value::Null,
            "leadUserId": lead.map_or(0, |l| l.lead_user_id),
            "queryId": 0,
            "address": self.address,
        })
    }

    /// The `CalendarItemV2` object.
    pub fn to_calendar_json(&self, world: &World) -> Value {
        let start = self.start_or_end();
        let lead_name = world
            .leads
            .get(&self.lead_id)
            .map(Lead::name)
            .unwrap_or_default();
        let what = match self.kind {
            EntryKind::Task => self.task_way.clone(),
            EntryKind::Appointment => "Appointment".to_owned(),
        };
        json!({
            "id": self.calendar_id(),
            "type": self.kind.calendar_type(),
            "taskId": self.task_id,
            "sourceType": 1,
            "content": self.content,
            "title": format!("{what} with {lead_name}"),
            "finished": self.finished,
            "startAt": iso(start),
            "endAt": iso(self.end),
            "startAtMs": start.timestamp_millis(),
            "endAtMs": self.end.timestamp_millis(),
            "timeZoneCode": self.time_zone_code,
            "leadId": self.lead_id,
        })
    }
}

/// A webhook subscription.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subscription {
    pub subscribe_id: i64,
    pub list_id: i64,
    pub callback_url: String,
    pub limit: i64,
    pub permission_mode: i64,
    pub vendor_id: i64,
    /// The member who subscribed (recipient rules are evaluated for them).
    pub owner_user_id: i64,
}

impl Subscription {
    /// The `WebhookResponse` object.
    pub fn to_json(&self, team_id: i64) -> Value {
        json!({
            "subscribeId": self.subscribe_id,
            "teamId": team_id,
            "listId": self.list_id,
            "vendorId": self.vendor_id,
            "callbackUrl": self.callback_url,
            "limit": self.limit,
            "permissionMode": self.permission_mode,
        })
    }
}

/// A personal API key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyGrant {
    pub member_user_id: i64,
    pub revoked: bool,
}

/// What an OAuth access token, refresh token or code grants.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthGrant {
    pub member_user_id: i64,
    /// API families the vendor app may call; `None` = all.
    pub apis: Option<BTreeSet<String>>,
    pub expires_ms: Option<i64>,
    pub revoked: bool,
    /// Refresh tokens and codes are single use.
    pub used: bool,
    pub redirect_uri: Option<String>,
}

impl OAuthGrant {
    pub fn allows(&self, family: &str) -> bool {
        self.apis.as_ref().is_none_or(|a| a.contains(family))
    }
}

/// The vendor (OAuth) app registered with the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VendorApp {
    pub client_id: String,
    pub client_secret: String,
    pub vendor_id: i64,
}

/// The data part of the emulator: what a state file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct World {
    pub team_id: i64,
    pub team_name: String,
    pub members: Vec<Member>,
    pub leads: IndexMap<i64, Lead>,
    pub notes: IndexMap<i64, Note>,
    pub entries: IndexMap<i64, Entry>,
    pub tags: IndexMap<i64, TagDef>,
    pub custom_fields: Vec<CustomFieldDef>,
    pub pipelines: Vec<Pipeline>,
    pub subscriptions: IndexMap<i64, Subscription>,
    pub api_keys: HashMap<String, KeyGrant>,
    pub tokens: HashMap<String, OAuthGrant>,
    pub refresh_tokens: HashMap<String, OAuthGrant>,
    pub codes: HashMap<String, OAuthGrant>,
    pub app: VendorApp,
    /// The ready-made tokens printed in the sandbox's JSON line.
    pub admin_key: String,
    pub agent_key: String,
    pub oauth_token: String,
    /// Last id handed out; ids only grow.
    pub last_id: i64,
    /// First `person(i)` index of the seeded leads and how many were seeded.
    pub person_start: usize,
    pub persons_seeded: usize,
    /// Lead ids by lower-case email and by phone digits ([`phone_key`]), so a
    /// precise `email` or `phone` search reads its candidates instead of every lead.
    /// An entry may be stale: the search checks each lead. Not saved: rebuilt when
    /// a saved world is loaded ([`World::reindex`]).
    #[serde(skip)]
    pub lead_index: LeadIndex,
}

/// [`World::lead_index`].
#[derive(Debug, Clone, Default)]
pub struct LeadIndex {
    pub by_email: HashMap<String, Vec<i64>>,
    pub by_phone: HashMap<String, Vec<i64>>,
}

impl World {
    /// Stores `lead` (new or changed) and indexes its emails and phones.
    pub fn put_lead(&mut self, lead: Lead) {
        let id = lead.lead_id;
        let add = |list: &mut HashMap<String, Vec<i64>>, key: String| {
            let ids = list.entry(key).or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        };
        for e in lead.emails() {
            add(&mut self.lead_index.by_email, e.trim().to_lowercase());
        }
        for p in lead.phones() {
            add(&mut self.lead_index.by_phone, phone_key(&p));
        }
        self.leads.insert(id, lead);
    }

    /// Rebuilds [`World::lead_index`] from the leads.
    pub fn reindex(&mut self) {
        self.lead_index = LeadIndex::default();
        let leads: Vec<Lead> = self.leads.values().cloned().collect();
        for lead in leads {
            self.put_lead(lead);
        }
    }
}

impl World {
    pub fn member_by_user(&self, user_id: i64) -> Option<&Member> {
        self.members.iter().find(|m| m.member_user_id == user_id)
    }

    pub fn admin(&self) -> &Member {
        // The seed always creates the admin first; fall back to any member.
        self.members
            .iter()
            .find(|m| m.is_admin)
            .unwrap_or(&self.members[0])
    }

    /// A fresh id, strictly above every id handed out so far.
    pub fn next_id(&mut self, rng: &mut impl Rng) -> i64 {
        self.last_id += rng.random_range(1..=97);
        self.last_id
    }

    /// The pipeline (stage) with this name, case-insensitively.
    pub fn pipeline_named(&self, name: &str) -> Option<&Pipeline> {
        self.pipelines
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name.trim()))
    }

    /// The tag definition with this name, created on first use.
    pub fn ensure_tag(&mut self, name: &str, by: i64, now: i64, rng: &mut impl Rng) -> i64 {
        if let Some(t) = self
            .tags
            .values()
            .find(|t| t.name.eq_ignore_ascii_case(name))
        {
            return t.tag_id;
        }
        let tag_id = self.next_id(rng);
        self.tags.insert(
            tag_id,
            TagDef {
                tag_id,
                name: name.to_owned(),
                created_ms: now,
                creator_user_id: by,
            },
        );
        tag_id
    }

    /// A lead that is stored, not trashed, and readable at `now` (eventual consistency).
    pub fn readable_lead(&self, lead_id: i64, now: i64) -> Option<&Lead> {
        self.leads
            .get(&lead_id)
            .filter(|l| l.trashed.is_none() && l.visible_at_ms <= now)
    }

    /// Whether `user` may manage `lead`: admins manage every lead; agents manage the
    /// leads assigned to them, their personal leads and team-owned leads.
    pub fn can_manage(&self, user: &Caller, lead: &Lead) -> bool {
        user.is_admin
            || lead.assigned_user_id == user.member_user_id
            || lead.ownership_scope == "TEAM"
            || (lead.ownership_scope == "PERSONAL" && lead.ownership_id == user.member_user_id)
    }
}

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub member_user_id: i64,
    pub is_admin: bool,
    /// 0 for personal API keys, the vendor id for OAuth tokens.
    pub vendor_id: i64,
}

/// Per-minute limits (Lofty: per app, "the window resets every 60 seconds").
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RateConfig {
    pub window_ms: u64,
    /// Requests per window for a personal API key.
    pub key_limit: u32,
    /// Requests per window for an OAuth app (Development mode: 100).
    pub oauth_limit: u32,
}

impl Default for RateConfig {
    fn default() -> Self {
        Self {
            window_ms: 60_000,
            key_limit: 100,
            oauth_limit: 100,
        }
    }
}

/// Requests counted in the current window of one credential.
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    pub window: crate::common::Window,
}

/// Changes waiting to be delivered to one subscription.
#[derive(Debug, Clone)]
pub struct PendingBatch {
    /// When the first change of the batch happened (the batch window starts there).
    pub first_ms: u64,
    /// Bucket name (`updatedLead`, ...) to entries, in arrival order.
    pub buckets: IndexMap<String, Vec<Value>>,
}

impl PendingBatch {
    pub fn len(&self) -> usize {
        self.buckets.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.values().all(Vec::is_empty)
    }
}

/// Mutable, non-persisted runtime state next to the world.
#[derive(Debug)]
pub struct Runtime {
    pub rate: RateConfig,
    pub buckets: HashMap<String, Bucket>,
    pub faults: Faults,
    /// Requests per caller (member user id, or `unauthenticated`).
    pub counters: BTreeMap<String, Counter>,
    /// How long a freshly created lead or note answers 404 on reads.
    pub consistency_delay_ms: u64,
    /// How long changes gather before a webhook batch is sent.
    pub webhook_batch_ms: u64,
    pub access_token_ttl_secs: u64,
    pub pending: BTreeMap<i64, PendingBatch>,
    pub rng: StdRng,
    pub dirty: bool,
}

/// World + runtime under one lock.
#[derive(Debug)]
pub struct Inner {
    pub world: World,
    pub rt: Runtime,
}

/// Shared by every handler and background task.
#[derive(Debug)]
pub struct Shared {
    pub inner: Mutex<Inner>,
    /// Wakes the webhook dispatcher when a change is queued.
    pub wake: tokio::sync::Notify,
    pub base_url: String,
    pub state_file: Option<std::path::PathBuf>,
}

impl Shared {
    /// Locks the state; a poisoned lock (a handler panicked) is recovered.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(Utc::now)
}

/// Lead and v2 task timestamps: `2026-05-01T17:03:22GMT`.
pub fn gmt(ms: i64) -> String {
    utc(ms).format("%Y-%m-%dT%H:%M:%SGMT").to_string()
}

/// Note timestamps: `2026-04-22 10:15:30` (UTC).
pub fn plain(ms: i64) -> String {
    utc(ms).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Calendar timestamps: ISO 8601 with the offset the entry was written with.
pub fn iso(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Parses an ISO 8601 time with offset (or Lofty's `...GMT` form).
pub fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    let base = s.strip_suffix("GMT").or_else(|| s.strip_suffix('Z'))?;
    chrono::NaiveDateTime::parse_from_str(base, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|n| n.and_utc().fixed_offset())
}

/// A time from epoch milliseconds, in UTC.
pub fn from_ms(ms: i64) -> Option<DateTime<FixedOffset>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.fixed_offset())
}

/// Digits of a phone number without a leading US country code, for precise search.
pub fn phone_key(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix('1') {
        Some(rest) if digits.len() == 11 => rest.to_owned(),
        _ => digits,
    }
}

crate::common::persisted!(Shared, "Lofty");
