//! The emulated world: one company, its locations, their records, tokens and codes.
//!
//! Everything lives behind one `std::sync::Mutex` in [`Shared`]; handlers lock it,
//! change what they need and unlock before any `.await`. The data part ([`World`])
//! is serde so it can be saved to and loaded from a state file.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use indexmap::IndexMap;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::webhooks::Outbox;
use crate::RateLimitConfig;

/// Every scope the emulator knows; a sandbox PIT carries all of them.
pub const ALL_SCOPES: &[&str] = &[
    "contacts.readonly",
    "contacts.write",
    "calendars.readonly",
    "calendars.write",
    "calendars/events.readonly",
    "calendars/events.write",
    "locations.readonly",
    "locations/customFields.readonly",
    "locations/customFields.write",
    "locations/tags.readonly",
    "locations/tags.write",
    "locations/tasks.readonly",
    "businesses.readonly",
    "businesses.write",
    "campaigns.readonly",
    "workflows.readonly",
    "users.readonly",
    "oauth.readonly",
    "oauth.write",
];

/// Which kind of bearer token a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenKind {
    /// Private Integration Token (`pit-...`): no expiry.
    Pit,
    /// OAuth access token issued by `/oauth/token` or `/oauth/locationToken`.
    OAuth,
}

/// `userType` of a token: a sub-account (Location) or an agency (Company).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserType {
    Location,
    Company,
}

impl UserType {
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Location => "Location",
            UserType::Company => "Company",
        }
    }
}

/// What a bearer token grants.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub kind: TokenKind,
    pub user_type: UserType,
    /// Set for Location tokens.
    pub location_id: Option<String>,
    pub company_id: String,
    pub user_id: String,
    pub scopes: BTreeSet<String>,
    /// `None` for PITs.
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

impl Grant {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }
    pub fn scope_string(&self) -> String {
        self.scopes.iter().cloned().collect::<Vec<_>>().join(" ")
    }
}

/// A refresh token: single use, then replaced by the one returned with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshGrant {
    pub grant: Grant,
    pub used: bool,
    pub revoked: bool,
}

/// An authorization code from the consent page or `/_sandbox/oauth/code`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthCode {
    /// A location id, or the company id for an agency-level install.
    pub target: String,
    pub scopes: BTreeSet<String>,
    pub redirect_uri: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

/// A contact record as GHL keeps it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    pub location_id: String,
    /// The contact's fields in GHL's camelCase, exactly as clients see them
    /// (firstName, email, phone, tags, customFields, dndSettings, ...).
    pub fields: Map<String, Value>,
    pub followers: Vec<String>,
    pub campaigns: BTreeSet<String>,
    pub workflows: BTreeSet<String>,
    pub date_added: DateTime<Utc>,
    pub date_updated: DateTime<Utc>,
}

impl Contact {
    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.fields
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
    pub fn email_lower(&self) -> Option<String> {
        self.str_field("email").map(str::to_lowercase)
    }
    pub fn phone(&self) -> Option<&str> {
        self.str_field("phone")
    }
    pub fn tags(&self) -> Vec<String> {
        self.fields
            .get("tags")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn set_tags(&mut self, tags: Vec<String>) {
        self.fields.insert("tags".into(), json!(tags));
    }
    pub fn display_name(&self) -> String {
        let first = self.str_field("firstName").unwrap_or_default();
        let last = self.str_field("lastName").unwrap_or_default();
        let joined = format!("{first} {last}").trim().to_owned();
        if joined.is_empty() {
            self.str_field("name").unwrap_or_default().to_owned()
        } else {
            joined
        }
    }

    /// The `contact` object of GET /contacts/{id} (GetContectByIdSchema).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(self.id));
        out.insert("locationId".into(), json!(self.location_id));
        let name = self.display_name();
        if !name.is_empty() {
            out.insert("contactName".into(), json!(name.to_lowercase()));
        }
        for (k, v) in &self.fields {
            // Inbound DND settings are write-only in GHL's contact schema.
            if k == "inboundDndSettings" || v.is_null() {
                continue;
            }
            out.insert(k.clone(), v.clone());
        }
        for (key, lower) in [
            ("firstName", "firstNameLowerCase"),
            ("lastName", "lastNameLowerCase"),
            ("email", "emailLowerCase"),
        ] {
            if let Some(v) = self.str_field(key) {
                out.insert(lower.into(), json!(v.to_lowercase()));
            }
        }
        if !name.is_empty() {
            out.insert("fullNameLowerCase".into(), json!(name.to_lowercase()));
        }
        out.entry("tags").or_insert_with(|| json!([]));
        out.entry("customFields").or_insert_with(|| json!([]));
        out.entry("dnd").or_insert(json!(false));
        out.entry("type").or_insert(json!("lead"));
        out.insert("followers".into(), json!(self.followers));
        out.insert("additionalEmails".into(), json!([]));
        out.insert("attachments".into(), json!([]));
        out.insert("dateAdded".into(), json!(iso(self.date_added)));
        out.insert("dateUpdated".into(), json!(iso(self.date_updated)));
        Value::Object(out)
    }

    /// The flat body of Contact* webhooks.
    pub fn to_webhook(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("locationId".into(), json!(self.location_id));
        out.insert("id".into(), json!(self.id));
        for key in [
            "address1",
            "city",
            "companyName",
            "country",
            "source",
            "dateOfBirth",
            "email",
            "name",
            "firstName",
            "lastName",
            "phone",
            "postalCode",
            "state",
            "website",
            "assignedTo",
            "dndSettings",
        ] {
            if let Some(v) = self.fields.get(key).filter(|v| !v.is_null()) {
                out.insert(key.into(), v.clone());
            }
        }
        out.insert("dateAdded".into(), json!(iso(self.date_added)));
        out.insert(
            "dnd".into(),
            self.fields.get("dnd").cloned().unwrap_or(json!(false)),
        );
        out.insert("tags".into(), json!(self.tags()));
        out.insert("attachments".into(), json!([]));
        out.insert(
            "customFields".into(),
            self.fields
                .get("customFields")
                .cloned()
                .unwrap_or(json!([])),
        );
        out
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub contact_id: String,
    pub title: String,
    pub body: Option<String>,
    pub assigned_to: Option<String>,
    pub due_date: String,
    pub completed: bool,
    pub date_added: DateTime<Utc>,
}

impl Task {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "title": self.title,
            "body": self.body,
            "assignedTo": self.assigned_to,
            "dueDate": self.due_date,
            "completed": self.completed,
            "contactId": self.contact_id,
            "dateAdded": iso(self.date_added),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note {
    pub id: String,
    pub contact_id: String,
    pub body: String,
    pub user_id: Option<String>,
    pub title: Option<String>,
    pub color: Option<String>,
    pub pinned: bool,
    pub date_added: DateTime<Utc>,
}

impl Note {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "body": self.body,
            "userId": self.user_id,
            "dateAdded": iso(self.date_added),
            "contactId": self.contact_id,
            "pinned": self.pinned,
        });
        if let Some(t) = &self.title {
            v["title"] = json!(t);
        }
        if let Some(c) = &self.color {
            v["color"] = json!(c);
        }
        v
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Appointment {
    pub id: String,
    pub location_id: String,
    pub calendar_id: String,
    pub contact_id: String,
    pub group_id: String,
    pub title: String,
    pub appointment_status: String,
    pub assigned_user_id: String,
    pub address: Option<String>,
    pub meeting_location_type: Option<String>,
    pub notes: Option<String>,
    pub description: Option<String>,
    pub start: DateTime<chrono::FixedOffset>,
    pub end: DateTime<chrono::FixedOffset>,
    pub date_added: DateTime<Utc>,
    pub date_updated: DateTime<Utc>,
    pub rrule: Option<String>,
}

impl Appointment {
    fn time(t: &DateTime<chrono::FixedOffset>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Secs, false)
    }

    /// CalendarEventDTO (GET /calendars/events/appointments/{id}, GET /calendars/events).
    pub fn to_event_json(&self) -> Value {
        json!({
            "id": self.id,
            "address": self.address.clone().unwrap_or_default(),
            "title": self.title,
            "calendarId": self.calendar_id,
            "locationId": self.location_id,
            "contactId": self.contact_id,
            "groupId": self.group_id,
            "appointmentStatus": self.appointment_status,
            "assignedUserId": self.assigned_user_id,
            "users": [self.assigned_user_id],
            "notes": self.notes,
            "description": self.description,
            "isRecurring": self.rrule.is_some(),
            "rrule": self.rrule,
            "startTime": Self::time(&self.start),
            "endTime": Self::time(&self.end),
            "dateAdded": iso(self.date_added),
            "dateUpdated": iso(self.date_updated),
            "assignedResources": [],
            "createdBy": {"source": "third_party", "userId": null},
            "masterEventId": null,
        })
    }

    /// AppointmentSchemaResponse (create and edit answer with this flat object).
    pub fn to_flat_json(&self) -> Value {
        json!({
            "id": self.id,
            "calendarId": self.calendar_id,
            "locationId": self.location_id,
            "contactId": self.contact_id,
            "startTime": Self::time(&self.start),
            "endTime": Self::time(&self.end),
            "title": self.title,
            "meetingLocationType": self.meeting_location_type,
            "appointmentStatus": self.appointment_status,
            "assignedUserId": self.assigned_user_id,
            "address": self.address.clone().unwrap_or_default(),
            "isRecurring": self.rrule.is_some(),
            "rrule": self.rrule,
        })
    }

    /// GetEventSchema (GET /contacts/{id}/appointments): times as "YYYY-MM-DD HH:MM:SS".
    pub fn to_contact_event_json(&self) -> Value {
        let fmt = "%Y-%m-%d %H:%M:%S";
        json!({
            "id": self.id,
            "calendarId": self.calendar_id,
            "status": self.appointment_status,
            "title": self.title,
            "assignedUserId": self.assigned_user_id,
            "notes": self.notes.clone().unwrap_or_default(),
            "startTime": self.start.format(fmt).to_string(),
            "endTime": self.end.format(fmt).to_string(),
            "address": self.address.clone().unwrap_or_default(),
            "locationId": self.location_id,
            "contactId": self.contact_id,
            "groupId": self.group_id,
            "appointmentStatus": self.appointment_status,
            "users": [self.assigned_user_id],
            "dateAdded": iso(self.date_added),
            "dateUpdated": iso(self.date_updated),
            "assignedResources": [],
        })
    }

    /// The `appointment` object of Appointment* webhooks.
    pub fn to_webhook_json(&self) -> Value {
        json!({
            "id": self.id,
            "address": self.address.clone().unwrap_or_default(),
            "title": self.title,
            "calendarId": self.calendar_id,
            "contactId": self.contact_id,
            "groupId": self.group_id,
            "appointmentStatus": self.appointment_status,
            "assignedUserId": self.assigned_user_id,
            "users": [self.assigned_user_id],
            "notes": self.notes.clone().unwrap_or_default(),
            "source": "third_party",
            "startTime": Self::time(&self.start),
            "endTime": Self::time(&self.end),
            "dateAdded": iso(self.date_added),
            "dateUpdated": iso(self.date_updated),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomField {
    pub id: String,
    pub name: String,
    pub field_key: String,
    pub data_type: String,
    pub placeholder: Option<String>,
    pub position: i64,
    pub model: String,
    pub picklist_options: Vec<String>,
}

impl CustomField {
    pub fn to_json(&self, location_id: &str) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "fieldKey": self.field_key,
            "placeholder": self.placeholder.clone().unwrap_or_default(),
            "dataType": self.data_type,
            "position": self.position,
            "picklistOptions": self.picklist_options,
            "picklistImageOptions": [],
            "isAllowedCustomOption": false,
            "isMultiFileAllowed": false,
            "maxFileLimit": 0,
            "locationId": location_id,
            "model": self.model,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tag {
    pub id: String,
    pub name: String,
}

/// A named reference object (user, calendar, campaign, workflow, business).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Named {
    pub id: String,
    pub name: String,
}

/// Which field identifies a duplicate, in the location's priority order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchField {
    Email,
    Phone,
}

impl MatchField {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchField::Email => "email",
            MatchField::Phone => "phone",
        }
    }
}

/// One sub-account and everything in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Location {
    pub id: String,
    pub name: String,
    pub address: String,
    /// "Allow Duplicate Contact" setting (GHL's default is off).
    pub allow_duplicates: bool,
    /// Priority of identifiers for duplicate detection and upsert.
    pub duplicate_priority: Vec<MatchField>,
    /// Whether the marketplace app is installed here.
    pub app_installed: bool,
    pub installed_at: Option<DateTime<Utc>>,
    pub pit: String,
    pub users: Vec<Named>,
    pub calendars: Vec<Named>,
    pub campaigns: Vec<Named>,
    pub workflows: Vec<Named>,
    pub businesses: Vec<Named>,
    pub contacts: IndexMap<String, Contact>,
    /// Ids of deleted contacts (bulk tags reports "contact is deleted").
    pub deleted_contacts: BTreeSet<String>,
    pub tasks: IndexMap<String, Task>,
    pub notes: IndexMap<String, Note>,
    pub appointments: IndexMap<String, Appointment>,
    pub custom_fields: IndexMap<String, CustomField>,
    pub tags: IndexMap<String, Tag>,
    /// Last `dateAdded` handed out, so contacts sort strictly by creation.
    pub last_added: DateTime<Utc>,
    /// Contact ids by lower-case email and by phone: the duplicate search, create
    /// and upsert look a value up instead of reading every contact. An entry may be
    /// stale (the contact changed or went); [`Location::find_by`] checks the
    /// contact itself. Not saved: rebuilt when a saved world is loaded.
    #[serde(skip)]
    pub index: ContactIndex,
}

/// [`Location::index`]: candidates per identifier value.
#[derive(Debug, Clone, Default)]
pub struct ContactIndex {
    by_email: HashMap<String, Vec<String>>,
    by_phone: HashMap<String, Vec<String>>,
}

impl ContactIndex {
    fn add(list: &mut HashMap<String, Vec<String>>, value: String, id: &str) {
        let ids = list.entry(value).or_default();
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_owned());
        }
    }
}

impl Location {
    pub fn has_user(&self, id: &str) -> bool {
        self.users.iter().any(|u| u.id == id)
    }

    /// A strictly increasing creation time.
    pub fn next_added(&mut self) -> DateTime<Utc> {
        let now = Utc::now();
        let t = if now > self.last_added {
            now
        } else {
            self.last_added + chrono::Duration::milliseconds(1)
        };
        self.last_added = t;
        t
    }

    /// Existing contact matching `field` = `value`, excluding `except`: the oldest
    /// one when several do (duplicates allowed).
    pub fn find_by(
        &self,
        field: MatchField,
        value: &str,
        except: Option<&str>,
    ) -> Option<&Contact> {
        let value_lower = value.to_lowercase();
        let candidates = match field {
            MatchField::Email => self.index.by_email.get(&value_lower),
            MatchField::Phone => self.index.by_phone.get(value),
        }?;
        candidates
            .iter()
            .filter(|id| Some(id.as_str()) != except)
            .filter_map(|id| self.contacts.get_full(id))
            .filter(|(_, _, c)| match field {
                MatchField::Email => c.email_lower().as_deref() == Some(value_lower.as_str()),
                MatchField::Phone => c.phone() == Some(value),
            })
            .min_by_key(|(position, _, _)| *position)
            .map(|(_, _, c)| c)
    }

    /// Adds a new contact (indexed).
    pub fn add_contact(&mut self, contact: Contact) {
        let id = contact.id.clone();
        self.contacts.insert(id.clone(), contact);
        self.index_contact(&id);
    }

    /// Indexes contact `id`'s current email and phone (after a change).
    pub fn index_contact(&mut self, id: &str) {
        let Some(c) = self.contacts.get(id) else {
            return;
        };
        if let Some(email) = c.email_lower().filter(|e| !e.is_empty()) {
            ContactIndex::add(&mut self.index.by_email, email, id);
        }
        if let Some(phone) = c.phone().filter(|p| !p.is_empty()) {
            ContactIndex::add(&mut self.index.by_phone, phone.to_owned(), id);
        }
    }

    /// Rebuilds the index from the contacts (a world loaded from its state file),
    /// dropping stale entries.
    pub fn reindex(&mut self) {
        self.index = ContactIndex::default();
        let ids: Vec<String> = self.contacts.keys().cloned().collect();
        for id in ids {
            self.index_contact(&id);
        }
    }

    /// Adds names to the location's tag list (GHL creates location tags on use).
    pub fn ensure_tags(&mut self, names: &[String], rng: &mut impl Rng) {
        for name in names {
            let lower = name.to_lowercase();
            if !self.tags.values().any(|t| t.name == lower) {
                let id = new_id(rng);
                self.tags.insert(id.clone(), Tag { id, name: lower });
            }
        }
    }

    pub fn custom_field_by_key(&self, key: &str) -> Option<&CustomField> {
        let key = key.strip_prefix("contact.").unwrap_or(key);
        self.custom_fields
            .values()
            .find(|f| f.field_key.strip_prefix("contact.") == Some(key))
    }
}

/// Burst and daily counters of one (app or token, location).
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    /// The burst window.
    pub burst: crate::common::Window,
    /// The day.
    pub day: crate::common::Window,
}

/// Faults injected through `/_sandbox/faults` (every field optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fraction of API requests answered with 500.
    pub error_rate: f64,
    /// Latency added to every API request.
    pub latency_ms: u64,
    /// This many next API requests are answered with 429.
    pub storm_429: u64,
    /// Fraction of successful writes (POST, PUT, DELETE; a search is a read) whose
    /// answer is lost:
    /// the write is applied, then answered 500, as a timeout or a proxy error
    /// after the commit looks to the caller (a retry must not make a duplicate).
    pub lost_answer_rate: f64,
    /// Fraction of API requests answered 429 (on top of the rate limit), with the
    /// limit's headers.
    pub rate_429: f64,
    /// Fraction of API requests that time out: applied, then held for
    /// `timeout_ms` (default 35,000: longer than a client's 30 s) and cut off
    /// without an answer.
    pub timeout_rate: f64,
    pub timeout_ms: u64,
    /// Fraction of API requests whose connection is reset while answering: the
    /// request is applied, the status and headers sent, then the body breaks off.
    pub reset_rate: f64,
}

impl Faults {
    /// Refuses a rate outside 0..=1, naming it.
    pub fn check(&self) -> Result<(), String> {
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("lost_answer_rate", self.lost_answer_rate),
            ("rate_429", self.rate_429),
            ("timeout_rate", self.timeout_rate),
            ("reset_rate", self.reset_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be between 0 and 1 (it is {rate})"));
            }
        }
        Ok(())
    }

    /// How the answer to this request is broken on its way back, if it is.
    pub(crate) fn break_answer(&self) -> Option<crate::common::Broken> {
        if crate::common::roll(self.timeout_rate) {
            let ms = if self.timeout_ms == 0 {
                35_000
            } else {
                self.timeout_ms
            };
            return Some(crate::common::Broken::Timeout(
                std::time::Duration::from_millis(ms),
            ));
        }
        crate::common::roll(self.reset_rate).then_some(crate::common::Broken::Reset)
    }
}

/// Request counts of one location.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counter {
    pub requests: u64,
    pub rate_limited: u64,
    pub by_route: BTreeMap<String, u64>,
}

/// What the token endpoint did with refresh requests.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct OAuthCounter {
    pub refreshed: u64,
    /// Refresh tokens refused (reused, revoked, unknown): a client that spends one
    /// single-use token twice shows up here.
    pub refresh_rejected: u64,
}

/// The data part of the emulator: what a state file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct World {
    pub company_id: String,
    pub company_name: String,
    pub client_id: String,
    pub client_secret: String,
    pub locations: IndexMap<String, Location>,
    pub tokens: HashMap<String, Grant>,
    pub refresh_tokens: HashMap<String, RefreshGrant>,
    pub codes: HashMap<String, AuthCode>,
    pub webhook_targets: Vec<String>,
    /// Ed25519 signing key seed for webhooks (32 bytes, base64).
    pub webhook_key_seed: String,
}

impl World {
    pub fn app_id(&self) -> &str {
        self.client_id.split('-').next().unwrap_or_default()
    }

    /// The location holding a contact.
    pub fn location_of_contact(&self, contact_id: &str) -> Option<&str> {
        self.locations
            .values()
            .find(|l| l.contacts.contains_key(contact_id))
            .map(|l| l.id.as_str())
    }
}

/// Mutable, non-persisted runtime state next to the world.
#[derive(Debug)]
pub struct Runtime {
    pub rate: RateLimitConfig,
    pub access_token_ttl: Duration,
    pub buckets: HashMap<(String, String), Bucket>,
    pub faults: Faults,
    pub counters: BTreeMap<String, Counter>,
    pub oauth: OAuthCounter,
    /// The world changed since it was last saved.
    pub dirty: bool,
    /// Bumped by every change to the world ([`Runtime::touch`]): a
    /// [`SearchOrder`] is valid while this holds.
    pub generation: u64,
    /// The last advanced search's order, so a `searchAfter` page walk resumes
    /// where it stopped instead of filtering and sorting every contact per page.
    pub search_order: Option<SearchOrder>,
    /// Webhooks as GHL documents them, not as it is reported to send them
    /// (default false: a `TaskCreate` without `contactId` and `body`).
    pub documented_webhooks: bool,
}

impl Runtime {
    /// Records a change to the world: to be saved, and cached searches outdated.
    pub fn touch(&mut self) {
        self.dirty = true;
        self.generation += 1;
    }
}

/// The contacts one advanced search selects, in its order: each with its sort key
/// (the `searchAfter` cursor GHL hands out) and id.
#[derive(Debug, Clone)]
pub struct SearchOrder {
    /// [`Runtime::generation`] when it was made.
    pub generation: u64,
    /// The location, query, filters and sort it answers (their JSON).
    pub question: String,
    pub rows: Vec<(Vec<Value>, String)>,
}

/// World + runtime under one lock, plus the webhook outbox.
#[derive(Debug)]
pub struct Shared {
    pub inner: Mutex<Inner>,
    pub outbox: Outbox,
    pub base_url: String,
    pub state_file: Option<std::path::PathBuf>,
}

#[derive(Debug)]
pub struct Inner {
    pub world: World,
    pub rt: Runtime,
}

impl Shared {
    /// Locks the state. A poisoned lock (a handler panicked) is recovered: the
    /// emulator keeps serving, as a real service would after a failed request.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A Firestore-style id: 20 alphanumerics.
pub fn new_id(rng: &mut impl Rng) -> String {
    (0..20)
        .map(|_| ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char)
        .collect()
}

/// A Mongo ObjectId-style id: 24 lowercase hex digits.
pub fn new_hex_id(rng: &mut impl Rng) -> String {
    (0..24)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// Whether `id` looks like a Firestore id (what bulk tags checks first).
pub fn is_firebase_id(id: &str) -> bool {
    id.len() == 20 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// GHL's timestamp format: `2024-01-01T10:00:00.000Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or_default()
}

crate::common::persisted!(Shared, "GHL");
