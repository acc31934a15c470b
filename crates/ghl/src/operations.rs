//! The static table of GHL operations.
//!
//! Each [`Operation`] says how to call one endpoint: HTTP method, path template with
//! `{param}` placeholders, the `Version` header to send, the OAuth scope it needs, which
//! input keys are path or query parameters, and whether it takes a JSON or form body.
//! The generic [`GhlClient::call`](crate::GhlClient::call) and every typed method use this
//! table, so there is exactly one place that knows the wire shape of an endpoint. The
//! catalog of actions in the rest of the workspace is built from it too.
//!
//! Operation ids are the `operationId`s of HighLevel's OpenAPI specs. A unit test checks
//! the table against `contacts.json` when the specs are present next to the workspace.

use crate::{VERSION_2021_04_15, VERSION_2021_07_28};

/// HTTP method of an operation (shared by every client's table).
pub use wire::Method;

/// What kind of request body an operation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    None,
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
}

/// Which token an operation expects in `Authorization: Bearer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// No `Authorization` header (the OAuth token endpoint authenticates with the client
    /// secret in the form body).
    None,
    /// A sub-account (location) token: OAuth access token with user type Location, or a
    /// location Private Integration Token.
    Location,
    /// An agency (company) token only.
    Agency,
}

/// One GHL endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The spec's `operationId`, used as the action name.
    pub id: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Path template relative to the base URL, with `{param}` placeholders.
    pub path: &'static str,
    /// `Version` header value; empty when the endpoint takes none (`/oauth/token`).
    pub version: &'static str,
    /// OAuth scope the token needs, if any.
    pub scope: Option<&'static str>,
    /// Which token to send.
    pub token: TokenKind,
    /// Input keys filling `{param}` placeholders of [`Operation::path`].
    pub path_params: &'static [&'static str],
    /// Input keys sent as query parameters.
    pub query_params: &'static [&'static str],
    /// Body kind; keys that are neither path nor query parameters go to the body.
    pub body: BodyKind,
    /// Product-facing group (`contacts`, `tasks`, `calendar-events`, ...).
    pub family: &'static str,
    /// One line saying what the operation does.
    pub summary: &'static str,
    /// Marked deprecated by HighLevel.
    pub deprecated: bool,
}

impl Operation {
    /// Whether the operation has a request body.
    pub fn has_body(&self) -> bool {
        self.body != BodyKind::None
    }

    /// Whether the operation only reads.
    pub fn is_read_only(&self) -> bool {
        self.method == Method::Get
    }
}

/// Finds an operation by its id.
pub fn find(id: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.id == id)
}

/// All operations of a family, in table order.
pub fn family(name: &str) -> impl Iterator<Item = &'static Operation> + '_ {
    OPERATIONS.iter().filter(move |op| op.family == name)
}

const C_READ: Option<&str> = Some("contacts.readonly");
const C_WRITE: Option<&str> = Some("contacts.write");
const EV_READ: Option<&str> = Some("calendars/events.readonly");
const EV_WRITE: Option<&str> = Some("calendars/events.write");
/// HighLevel's `apps/locations.json` declares no scope (`bearer: []`) for get, update
/// and delete of one tag or custom field; the emulator and this table follow the spec.
const SPEC_NONE: Option<&str> = None;
const TAG_READ: Option<&str> = Some("locations/tags.readonly");
const TAG_WRITE: Option<&str> = Some("locations/tags.write");
const CF_READ: Option<&str> = Some("locations/customFields.readonly");
const CF_WRITE: Option<&str> = Some("locations/customFields.write");
const TASK_READ: Option<&str> = Some("locations/tasks.readonly");

const CONTACT: &[&str] = &["contactId"];
const CONTACT_TASK: &[&str] = &["contactId", "taskId"];
const CONTACT_NOTE: &[&str] = &["contactId", "id"];
const NONE: &[&str] = &[];

/// Shorthand for the many contacts-API rows.
#[allow(clippy::too_many_arguments)]
const fn v2(
    id: &'static str,
    method: Method,
    path: &'static str,
    scope: Option<&'static str>,
    path_params: &'static [&'static str],
    query_params: &'static [&'static str],
    body: BodyKind,
    family: &'static str,
    summary: &'static str,
) -> Operation {
    Operation {
        id,
        method,
        path,
        version: VERSION_2021_07_28,
        scope,
        token: TokenKind::Location,
        path_params,
        query_params,
        body,
        family,
        summary,
        deprecated: false,
    }
}

/// Shorthand for calendar rows (`Version: 2021-04-15`).
#[allow(clippy::too_many_arguments)]
const fn cal(
    id: &'static str,
    method: Method,
    path: &'static str,
    scope: Option<&'static str>,
    path_params: &'static [&'static str],
    query_params: &'static [&'static str],
    body: BodyKind,
    summary: &'static str,
) -> Operation {
    Operation {
        id,
        method,
        path,
        version: VERSION_2021_04_15,
        scope,
        token: TokenKind::Location,
        path_params,
        query_params,
        body,
        family: "calendar-events",
        summary,
        deprecated: false,
    }
}

use BodyKind::{Form, Json, None as NoBody};
use Method::{Delete, Get, Post, Put};

/// Every operation the client knows.
pub static OPERATIONS: &[Operation] = &[
    // ---- Contacts API: search ----
    v2(
        "search-contacts-advanced",
        Post,
        "/contacts/search",
        C_READ,
        NONE,
        NONE,
        Json,
        "search",
        "Search contacts with filters, sort, full text and page or searchAfter paging.",
    ),
    v2(
        "get-duplicate-contact",
        Get,
        "/contacts/search/duplicate",
        C_READ,
        NONE,
        &["locationId", "number", "email"],
        NoBody,
        "search",
        "Find the contact a new record would duplicate, by email or phone number.",
    ),
    // ---- tasks ----
    v2(
        "get-all-tasks",
        Get,
        "/contacts/{contactId}/tasks",
        C_READ,
        CONTACT,
        NONE,
        NoBody,
        "tasks",
        "List every task of a contact.",
    ),
    v2(
        "create-task",
        Post,
        "/contacts/{contactId}/tasks",
        C_WRITE,
        CONTACT,
        NONE,
        Json,
        "tasks",
        "Create a task on a contact.",
    ),
    v2(
        "get-task",
        Get,
        "/contacts/{contactId}/tasks/{taskId}",
        C_READ,
        CONTACT_TASK,
        NONE,
        NoBody,
        "tasks",
        "Fetch one task of a contact.",
    ),
    v2(
        "update-task",
        Put,
        "/contacts/{contactId}/tasks/{taskId}",
        C_WRITE,
        CONTACT_TASK,
        NONE,
        Json,
        "tasks",
        "Change a task's title, body, due date, assignee or completion.",
    ),
    v2(
        "delete-task",
        Delete,
        "/contacts/{contactId}/tasks/{taskId}",
        C_WRITE,
        CONTACT_TASK,
        NONE,
        NoBody,
        "tasks",
        "Delete a task.",
    ),
    v2(
        "update-task-completed",
        Put,
        "/contacts/{contactId}/tasks/{taskId}/completed",
        C_WRITE,
        CONTACT_TASK,
        NONE,
        Json,
        "tasks",
        "Mark a task completed or open again.",
    ),
    // ---- appointments of a contact ----
    v2(
        "get-appointments-for-contact",
        Get,
        "/contacts/{contactId}/appointments",
        C_READ,
        CONTACT,
        NONE,
        NoBody,
        "appointments",
        "List the calendar appointments booked for a contact.",
    ),
    // ---- tags ----
    v2(
        "add-tags",
        Post,
        "/contacts/{contactId}/tags",
        C_WRITE,
        CONTACT,
        NONE,
        Json,
        "tags",
        "Add tags to a contact.",
    ),
    v2(
        "remove-tags",
        Delete,
        "/contacts/{contactId}/tags",
        C_WRITE,
        CONTACT,
        NONE,
        Json,
        "tags",
        "Remove tags from a contact.",
    ),
    // ---- notes ----
    v2(
        "get-all-notes",
        Get,
        "/contacts/{contactId}/notes",
        C_READ,
        CONTACT,
        NONE,
        NoBody,
        "notes",
        "List every note of a contact.",
    ),
    v2(
        "create-note",
        Post,
        "/contacts/{contactId}/notes",
        C_WRITE,
        CONTACT,
        NONE,
        Json,
        "notes",
        "Add a note to a contact.",
    ),
    v2(
        "get-note",
        Get,
        "/contacts/{contactId}/notes/{id}",
        C_READ,
        CONTACT_NOTE,
        NONE,
        NoBody,
        "notes",
        "Fetch one note of a contact.",
    ),
    v2(
        "update-note",
        Put,
        "/contacts/{contactId}/notes/{id}",
        C_WRITE,
        CONTACT_NOTE,
        NONE,
        Json,
        "notes",
        "Change a note's text, title, colour or pin.",
    ),
    v2(
        "delete-note",
        Delete,
        "/contacts/{contactId}/notes/{id}",
        C_WRITE,
        CONTACT_NOTE,
        NONE,
        NoBody,
        "notes",
        "Delete a note.",
    ),
    // ---- bulk ----
    v2(
        "create-association",
        Post,
        "/contacts/bulk/tags/update/{type}",
        C_WRITE,
        &["type"],
        NONE,
        Json,
        "bulk",
        "Add or remove tags on many contacts at once (type is add or remove).",
    ),
    v2(
        "add-remove-contact-from-business",
        Post,
        "/contacts/bulk/business",
        C_WRITE,
        NONE,
        NONE,
        Json,
        "bulk",
        "Attach many contacts to a business, or detach them with a null businessId.",
    ),
    // ---- contacts ----
    v2(
        "get-contact",
        Get,
        "/contacts/{contactId}",
        C_READ,
        CONTACT,
        NONE,
        NoBody,
        "contacts",
        "Fetch one contact.",
    ),
    v2(
        "update-contact",
        Put,
        "/contacts/{contactId}",
        C_WRITE,
        CONTACT,
        NONE,
        Json,
        "contacts",
        "Change fields of a contact.",
    ),
    v2(
        "delete-contact",
        Delete,
        "/contacts/{contactId}",
        C_WRITE,
        CONTACT,
        NONE,
        NoBody,
        "contacts",
        "Delete a contact.",
    ),
    v2(
        "upsert-contact",
        Post,
        "/contacts/upsert",
        C_WRITE,
        NONE,
        NONE,
        Json,
        "contacts",
        "Create a contact or update the one matching by the location's duplicate rules.",
    ),
    v2(
        "get-contacts-by-businessId",
        Get,
        "/contacts/business/{businessId}",
        C_READ,
        &["businessId"],
        &["limit", "locationId", "skip", "query"],
        NoBody,
        "contacts",
        "List the contacts attached to a business, by offset.",
    ),
    // ---- followers ----
    v2(
        "add-followers-contact",
        Post,
        "/contacts/{contactId}/followers",
        C_WRITE,
        CONTACT,
        NONE,
        Json,
        "followers",
        "Add users as followers of a contact.",
    ),
    v2(
        "remove-followers-contact",
        Delete,
        "/contacts/{contactId}/followers",
        C_WRITE,
        CONTACT,
        NONE,
        Json,
        "followers",
        "Remove followers from a contact.",
    ),
    // ---- campaigns ----
    v2(
        "add-contact-to-campaign",
        Post,
        "/contacts/{contactId}/campaigns/{campaignId}",
        C_WRITE,
        &["contactId", "campaignId"],
        NONE,
        Json,
        "campaigns",
        "Enrol a contact in a campaign.",
    ),
    v2(
        "remove-contact-from-campaign",
        Delete,
        "/contacts/{contactId}/campaigns/{campaignId}",
        C_WRITE,
        &["contactId", "campaignId"],
        NONE,
        NoBody,
        "campaigns",
        "Take a contact out of one campaign.",
    ),
    v2(
        "remove-contact-from-every-campaign",
        Delete,
        "/contacts/{contactId}/campaigns/removeAll",
        C_WRITE,
        CONTACT,
        NONE,
        NoBody,
        "campaigns",
        "Take a contact out of all campaigns.",
    ),
    // ---- workflows ----
    v2(
        "add-contact-to-workflow",
        Post,
        "/contacts/{contactId}/workflow/{workflowId}",
        C_WRITE,
        &["contactId", "workflowId"],
        NONE,
        Json,
        "workflows",
        "Start a workflow for a contact, optionally at a given time.",
    ),
    v2(
        "delete-contact-from-workflow",
        Delete,
        "/contacts/{contactId}/workflow/{workflowId}",
        C_WRITE,
        &["contactId", "workflowId"],
        NONE,
        Json,
        "workflows",
        "Stop a workflow for a contact.",
    ),
    // ---- contacts (collection) ----
    v2(
        "create-contact",
        Post,
        "/contacts/",
        C_WRITE,
        NONE,
        NONE,
        Json,
        "contacts",
        "Create a contact in a location.",
    ),
    Operation {
        deprecated: true,
        ..v2(
            "get-contacts",
            Get,
            "/contacts/",
            C_READ,
            NONE,
            &["locationId", "startAfterId", "startAfter", "query", "limit"],
            NoBody,
            "contacts",
            "List contacts with a startAfter cursor (deprecated: use search).",
        )
    },
    // ---- Users API ----
    v2(
        "get-user-by-location",
        Get,
        "/users/",
        Some("users.readonly"),
        NONE,
        &["locationId"],
        NoBody,
        "users",
        "List the users of a location (who a task can be assigned to).",
    ),
    // ---- Calendars API: calendars, events and appointments ----
    cal(
        "get-calendars",
        Get,
        "/calendars/",
        Some("calendars.readonly"),
        NONE,
        &["locationId", "groupId", "showDrafted"],
        NoBody,
        "List the calendars of a location (what an appointment is booked on).",
    ),
    cal(
        "create-appointment",
        Post,
        "/calendars/events/appointments",
        EV_WRITE,
        NONE,
        NONE,
        Json,
        "Book an appointment on a calendar for a contact.",
    ),
    cal(
        "edit-appointment",
        Put,
        "/calendars/events/appointments/{eventId}",
        EV_WRITE,
        &["eventId"],
        NONE,
        Json,
        "Change an appointment's time, status, title or assignee.",
    ),
    cal(
        "get-appointment",
        Get,
        "/calendars/events/appointments/{eventId}",
        EV_READ,
        &["eventId"],
        NONE,
        NoBody,
        "Fetch one appointment.",
    ),
    cal(
        "get-calendar-events",
        Get,
        "/calendars/events",
        EV_READ,
        NONE,
        &[
            "locationId",
            "userId",
            "calendarId",
            "groupId",
            "startTime",
            "endTime",
        ],
        NoBody,
        "List events of a calendar, user or group in a time window (epoch millis).",
    ),
    cal(
        "delete-event",
        Delete,
        "/calendars/events/{eventId}",
        EV_WRITE,
        &["eventId"],
        NONE,
        Json,
        "Delete an appointment or blocked slot.",
    ),
    // ---- Locations API: tags ----
    v2(
        "get-location-tags",
        Get,
        "/locations/{locationId}/tags",
        TAG_READ,
        &["locationId"],
        NONE,
        NoBody,
        "location-tags",
        "List the tags defined in a location.",
    ),
    v2(
        "create-tag",
        Post,
        "/locations/{locationId}/tags",
        TAG_WRITE,
        &["locationId"],
        NONE,
        Json,
        "location-tags",
        "Define a new tag in a location.",
    ),
    v2(
        "get-tag-by-id",
        Get,
        "/locations/{locationId}/tags/{tagId}",
        SPEC_NONE,
        &["locationId", "tagId"],
        NONE,
        NoBody,
        "location-tags",
        "Fetch one tag of a location.",
    ),
    v2(
        "update-tag",
        Put,
        "/locations/{locationId}/tags/{tagId}",
        SPEC_NONE,
        &["locationId", "tagId"],
        NONE,
        Json,
        "location-tags",
        "Rename a tag of a location.",
    ),
    v2(
        "delete-tag",
        Delete,
        "/locations/{locationId}/tags/{tagId}",
        SPEC_NONE,
        &["locationId", "tagId"],
        NONE,
        NoBody,
        "location-tags",
        "Delete a tag of a location.",
    ),
    // ---- Locations API: custom fields ----
    v2(
        "get-custom-fields",
        Get,
        "/locations/{locationId}/customFields",
        CF_READ,
        &["locationId"],
        &["model"],
        NoBody,
        "custom-fields",
        "List the custom fields of a location (model contact, opportunity or all).",
    ),
    v2(
        "create-custom-field",
        Post,
        "/locations/{locationId}/customFields",
        CF_WRITE,
        &["locationId"],
        NONE,
        Json,
        "custom-fields",
        "Define a new custom field in a location.",
    ),
    v2(
        "get-custom-field",
        Get,
        "/locations/{locationId}/customFields/{id}",
        SPEC_NONE,
        &["locationId", "id"],
        NONE,
        NoBody,
        "custom-fields",
        "Fetch one custom field definition.",
    ),
    v2(
        "update-custom-field",
        Put,
        "/locations/{locationId}/customFields/{id}",
        SPEC_NONE,
        &["locationId", "id"],
        NONE,
        Json,
        "custom-fields",
        "Change a custom field definition.",
    ),
    v2(
        "delete-custom-field",
        Delete,
        "/locations/{locationId}/customFields/{id}",
        SPEC_NONE,
        &["locationId", "id"],
        NONE,
        NoBody,
        "custom-fields",
        "Delete a custom field definition.",
    ),
    // ---- Locations API: tasks ----
    v2(
        "task-search",
        Post,
        "/locations/{locationId}/tasks/search",
        TASK_READ,
        &["locationId"],
        NONE,
        Json,
        "tasks",
        "Search the tasks of a location (by contacts, completion, assignee, text).",
    ),
    // ---- OAuth ----
    Operation {
        id: "get-access-token",
        method: Post,
        path: "/oauth/token",
        version: "",
        scope: None,
        token: TokenKind::None,
        path_params: NONE,
        query_params: NONE,
        body: Form,
        family: "oauth",
        summary: "Exchange an authorization code or refresh token for tokens.",
        deprecated: false,
    },
    Operation {
        id: "get-location-access-token",
        method: Post,
        path: "/oauth/locationToken",
        version: VERSION_2021_07_28,
        scope: Some("oauth.write"),
        token: TokenKind::Agency,
        path_params: NONE,
        query_params: NONE,
        body: Form,
        family: "oauth",
        summary: "Mint a sub-account token from an agency token.",
        deprecated: false,
    },
    Operation {
        id: "get-installed-location",
        method: Get,
        path: "/oauth/installedLocations",
        version: VERSION_2021_07_28,
        scope: Some("oauth.readonly"),
        token: TokenKind::Agency,
        path_params: NONE,
        query_params: &[
            "skip",
            "limit",
            "query",
            "isInstalled",
            "companyId",
            "appId",
            "versionId",
            "onTrial",
            "planId",
            "locationId",
        ],
        body: NoBody,
        family: "oauth",
        summary: "List the sub-accounts where the app is (or could be) installed.",
        deprecated: false,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashSet};
    use std::path::PathBuf;

    #[test]
    fn ids_are_unique_and_paths_match_params() {
        let mut seen = HashSet::new();
        let mut routes = HashSet::new();
        for op in OPERATIONS {
            assert!(seen.insert(op.id), "duplicate id {}", op.id);
            assert!(
                routes.insert((op.method, op.path)),
                "duplicate route {} {}",
                op.method,
                op.path
            );
            let placeholders: BTreeSet<&str> = op
                .path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            let declared: BTreeSet<&str> = op.path_params.iter().copied().collect();
            assert_eq!(placeholders, declared, "path params of {}", op.id);
            assert!(!op.summary.is_empty() && !op.summary.contains('\n'));
        }
        assert!(find("get-contact").is_some());
        assert!(find("nope").is_none());
        assert_eq!(family("tasks").count(), 7);
    }

    fn spec_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ghl-spec/apps")
    }

    fn norm(path: &str) -> &str {
        if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        }
    }

    /// Checks our rows against one spec file. With `all`, every spec operation must be in
    /// the table; otherwise only the operations we list are compared.
    fn check_spec(file: &str, all: bool) -> bool {
        let path = spec_dir().join(file);
        let Ok(text) = std::fs::read_to_string(&path) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{} is required in CI",
                path.display()
            );
            println!("skipped: ../shared not present");
            return false;
        };
        let spec: serde_json::Value = serde_json::from_str(&text).unwrap();
        let paths = spec["paths"].as_object().unwrap();
        let mut count = 0;
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let method = match method.as_str() {
                    "get" => Method::Get,
                    "post" => Method::Post,
                    "put" => Method::Put,
                    "patch" => Method::Patch,
                    "delete" => Method::Delete,
                    _ => continue,
                };
                let spec_id = op["operationId"].as_str().unwrap();
                let ours = OPERATIONS
                    .iter()
                    .find(|o| o.method == method && norm(o.path) == norm(path));
                let Some(ours) = ours else {
                    assert!(!all, "{method} {path} ({spec_id}) missing from the table");
                    continue;
                };
                count += 1;
                assert_eq!(ours.id, spec_id, "{method} {path}");
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                let of = |place: &str| -> BTreeSet<String> {
                    params
                        .iter()
                        .filter(|p| p["in"] == place)
                        .filter_map(|p| p["name"].as_str().map(str::to_owned))
                        .collect()
                };
                let spec_path: BTreeSet<String> = of("path");
                let our_path: BTreeSet<String> =
                    ours.path_params.iter().map(|s| (*s).to_owned()).collect();
                assert!(spec_path.is_subset(&our_path), "path params of {spec_id}");
                let our_query: BTreeSet<String> =
                    ours.query_params.iter().map(|s| (*s).to_owned()).collect();
                assert_eq!(of("query"), our_query, "query params of {spec_id}");
                let has_body = op.get("requestBody").is_some();
                assert_eq!(has_body, ours.has_body(), "body of {spec_id}");
                let version = params
                    .iter()
                    .find(|p| p["in"] == "header" && p["name"] == "Version")
                    .and_then(|p| p["schema"]["enum"][0].as_str())
                    .unwrap_or("");
                assert_eq!(version, ours.version, "Version of {spec_id}");
            }
        }
        if all {
            assert_eq!(count, family_count_of(file), "{file}");
        }
        true
    }

    fn family_count_of(file: &str) -> usize {
        match file {
            "contacts.json" => OPERATIONS
                .iter()
                .filter(|o| o.path.starts_with("/contacts"))
                .count(),
            _ => 0,
        }
    }

    #[test]
    fn contacts_spec_is_fully_covered() {
        if check_spec("contacts.json", true) {
            assert_eq!(family_count_of("contacts.json"), 32);
        }
    }

    #[test]
    fn other_specs_agree_with_our_rows() {
        for file in [
            "calendars.json",
            "locations.json",
            "oauth.json",
            "users.json",
        ] {
            if !check_spec(file, false) {
                return;
            }
        }
    }
}
