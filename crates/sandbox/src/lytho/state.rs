//! The emulated Lytho Workflow tenant: one account, its users, work items
//! (work requests, tasks, projects, proofs, campaigns), comments, files, and the
//! access tokens the tenant's Keycloak realm issued.
//!
//! Everything lives behind one `std::sync::Mutex` in [`Shared`]; handlers lock it,
//! change what they need and unlock before any `.await`. The data part ([`World`])
//! is serde so it can be saved to and loaded from a state file.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The five item types of the Workflow Open API (`/{type}/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    WorkRequest,
    Task,
    Project,
    Proof,
    Campaign,
}

impl Kind {
    /// Every type, in a fixed order.
    pub const ALL: [Kind; 5] = [
        Kind::WorkRequest,
        Kind::Task,
        Kind::Project,
        Kind::Proof,
        Kind::Campaign,
    ];

    /// The path segment (`workrequest`, `task`, ...). Lytho's routes are not
    /// case-sensitive (ASP.NET), so parsing ignores case.
    pub fn parse(segment: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.path().eq_ignore_ascii_case(segment))
    }

    pub fn path(self) -> &'static str {
        match self {
            Kind::WorkRequest => "workrequest",
            Kind::Task => "task",
            Kind::Project => "project",
            Kind::Proof => "proof",
            Kind::Campaign => "campaign",
        }
    }

    /// Name used in error messages ("Work Request 10004 was not found.").
    pub fn label(self) -> &'static str {
        match self {
            Kind::WorkRequest => "Work Request",
            Kind::Task => "Task",
            Kind::Project => "Project",
            Kind::Proof => "Proof",
            Kind::Campaign => "Campaign",
        }
    }

    /// Work requests have no rich-text description endpoint.
    pub fn has_description(self) -> bool {
        self != Kind::WorkRequest
    }

    /// First id of the type's id sequence. Types use separate ranges so a client
    /// that sends a task id to the project routes gets a 404, not a wrong record.
    pub fn id_base(self) -> i32 {
        match self {
            Kind::WorkRequest => 10_001,
            Kind::Task => 20_001,
            Kind::Project => 30_001,
            Kind::Proof => 40_001,
            Kind::Campaign => 50_001,
        }
    }
}

/// `userStatusType`: 0 Disabled, 1 Active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserStatus {
    Disabled,
    Active,
}

/// A Lytho user (the only "people" the Open API exposes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: i32,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub status: UserStatus,
    /// Index of the person in `crate::ghl::seed::person`, for tests that match
    /// Lytho users with GHL contacts.
    pub person: usize,
}

impl User {
    pub fn to_json(&self, account_id: i32) -> Value {
        json!({
            "accountId": account_id,
            "id": self.id,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "email": self.email,
            "userStatusType": match self.status { UserStatus::Disabled => 0, UserStatus::Active => 1 },
        })
    }

    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// A file attached to an item (deliverable files for work requests).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct File {
    pub file_id: i32,
    pub file_version_id: i32,
    pub file_version_name: String,
    pub content: String,
}

/// A work request, task, project, proof or campaign.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub kind: Kind,
    pub id: i32,
    pub name: String,
    pub archived: bool,
    pub due_date: Option<DateTime<Utc>>,
    pub completed_date: Option<DateTime<Utc>>,
    pub created_date: DateTime<Utc>,
    /// Bumped on every change (PATCH, `/_sandbox/touch`, a new comment); what
    /// pollers compare their cursor with.
    pub modified_date: DateTime<Utc>,
    /// Rich-text (HTML) description; `None` for work requests.
    pub description: Option<String>,
    pub user_ids: Vec<i32>,
    pub files: Vec<File>,
}

impl Item {
    /// The item as `GET /{type}/{id}` answers it.
    pub fn to_json(&self, account_id: i32) -> Value {
        json!({
            "accountId": account_id,
            "id": self.id,
            "name": self.name,
            "archived": self.archived,
            "dueDate": self.due_date.map(iso),
            "completedDate": self.completed_date.map(iso),
            "createdDate": iso(self.created_date),
            "modifiedDate": iso(self.modified_date),
        })
    }
}

/// A comment on an item. Stored as HTML; `format=plain` strips the tags.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comment {
    pub id: i32,
    pub kind: Kind,
    pub item_id: i32,
    pub user_id: i32,
    pub html: String,
    pub created_date: DateTime<Utc>,
}

/// What an access token from the realm grants.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub client_id: String,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
}

/// A pre-signed file URL handed out by `/files/urls`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Presigned {
    pub kind: Kind,
    pub item_id: i32,
    pub file_version_id: i32,
    pub expires_at: DateTime<Utc>,
}

/// The data part of the emulator: what a state file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct World {
    pub account_id: i32,
    /// Keycloak realm name, part of the token URL.
    pub tenant: String,
    /// `wf-oa-...`, as Lytho's "Open API" settings page shows it.
    pub client_id: String,
    pub client_secret: String,
    pub users: BTreeMap<i32, User>,
    pub items: BTreeMap<Kind, BTreeMap<i32, Item>>,
    pub comments: BTreeMap<i32, Comment>,
    /// Next id per type.
    pub next_ids: BTreeMap<Kind, i32>,
    pub next_comment_id: i32,
    pub next_file_id: i32,
    /// Latest modification time handed out; every new one is later, so two changes
    /// never share a timestamp and a poller's cursor never skips one.
    pub clock: DateTime<Utc>,
    pub tokens: HashMap<String, Grant>,
    pub presigned: HashMap<String, Presigned>,
}

impl World {
    pub fn item(&self, kind: Kind, id: i32) -> Option<&Item> {
        self.items.get(&kind)?.get(&id)
    }

    pub fn item_mut(&mut self, kind: Kind, id: i32) -> Option<&mut Item> {
        self.items.get_mut(&kind)?.get_mut(&id)
    }

    /// A modification time later than every earlier one.
    pub fn tick(&mut self) -> DateTime<Utc> {
        // Millisecond precision, as the wire format carries.
        let next_ms = Utc::now()
            .timestamp_millis()
            .max(self.clock.timestamp_millis() + 1);
        self.clock = DateTime::from_timestamp_millis(next_ms)
            .unwrap_or(self.clock + chrono::Duration::milliseconds(1));
        self.clock
    }

    /// Marks an item changed now.
    pub fn touch(&mut self, kind: Kind, id: i32) -> Option<DateTime<Utc>> {
        self.item(kind, id)?;
        let at = self.tick();
        let item = self.item_mut(kind, id)?;
        item.modified_date = at;
        Some(at)
    }

    /// Allocates the next id of a type.
    pub fn next_id(&mut self, kind: Kind) -> i32 {
        let next = self.next_ids.entry(kind).or_insert_with(|| kind.id_base());
        let id = *next;
        *next += 1;
        id
    }
}

/// Faults injected through `/_sandbox/faults` (every field optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fraction of requests (API and token endpoint) answered with 500.
    pub error_rate: f64,
    /// Latency added to every API and token request.
    pub latency_ms: u64,
    /// This many next API requests are answered with 429.
    pub storm_429: u64,
}

/// Request limit per client id. Lytho documents none; the emulator enforces one
/// so clients can be tested against 429s.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rate {
    pub window: Duration,
    pub max_per_window: u32,
}

impl Default for Rate {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            max_per_window: 600,
        }
    }
}

/// One fixed window of one client.
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    pub window: crate::common::Window,
}

/// What the emulator counted since start (or the last reset).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counters {
    /// API requests (everything under `/v1`).
    pub requests: u64,
    /// API requests answered 429.
    pub rate_limited: u64,
    /// API requests answered 401 (missing, unknown, expired or revoked token).
    pub unauthorized: u64,
    /// Requests answered 500 by `error_rate`.
    pub injected_errors: u64,
    /// Access tokens issued by the token endpoint.
    pub tokens_issued: u64,
    /// Token requests refused (bad client credentials, grant type, realm).
    pub token_rejected: u64,
    /// API requests per route (`GET /v1/{type}/{id}`).
    pub by_route: BTreeMap<String, u64>,
}

/// Mutable, non-persisted runtime state next to the world.
#[derive(Debug, Default)]
pub struct Runtime {
    pub rate: Rate,
    /// Lifetime of access tokens (Keycloak's default for a client: 300 s).
    pub token_ttl: Duration,
    /// Lifetime of pre-signed file URLs.
    pub file_url_ttl: Duration,
    pub buckets: HashMap<String, Bucket>,
    pub faults: Faults,
    pub counters: Counters,
    pub dirty: bool,
}

/// World + runtime under one lock.
#[derive(Debug)]
pub struct Inner {
    pub world: World,
    pub rt: Runtime,
}

#[derive(Debug)]
pub struct Shared {
    pub inner: Mutex<Inner>,
    /// `http://127.0.0.1:PORT` (no `/v1`).
    pub origin: String,
    pub state_file: Option<std::path::PathBuf>,
}

impl Shared {
    /// Locks the state. A poisoned lock (a handler panicked) is recovered.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The wire format of dates: `2026-01-05T09:00:00.000Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a date-time as an ASP.NET API would: RFC 3339, or without an offset
/// (taken as UTC).
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

pub fn now_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or_default()
}

/// Strips HTML tags and decodes the few entities the seed uses (`format=plain`).
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .trim()
        .to_owned()
}

/// Escapes text for the HTML a comment is stored as.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_case_insensitively() {
        assert_eq!(Kind::parse("WorkRequest"), Some(Kind::WorkRequest));
        assert_eq!(Kind::parse("task"), Some(Kind::Task));
        assert_eq!(Kind::parse("tasks"), None);
    }

    #[test]
    fn dates_and_text() {
        let t = parse_date("2026-01-05T09:00:00.000Z").unwrap();
        assert_eq!(iso(t), "2026-01-05T09:00:00.000Z");
        assert_eq!(parse_date("2026-01-05T09:00:00"), Some(t));
        assert_eq!(
            parse_date("2026-01-05").map(iso).as_deref(),
            Some("2026-01-05T00:00:00.000Z")
        );
        assert!(parse_date("soon").is_none());
        assert_eq!(plain_text("<p>a &amp; <b>b</b></p>"), "a & b");
        assert_eq!(escape_html("a<b"), "a&lt;b");
    }
}

crate::common::persisted!(Shared, "Lytho");
