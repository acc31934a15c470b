//! The static table of Lofty operations.
//!
//! Each [`Operation`] says how to call one endpoint of the Lofty Open API: HTTP method,
//! path template with `{param}` placeholders, which input keys are path or query
//! parameters, whether it takes a JSON body, and the spec's `operationId`. The generic
//! [`LoftyClient::call`](crate::LoftyClient::call) and every typed method use this table,
//! so one place knows the wire shape of an endpoint; `ghlsync call` and the catalog are
//! built from it too.
//!
//! Ids are ours (`lofty-<verb>-<noun>`): Lofty's own `operationId`s are codegen
//! artefacts (`add_3`, `list_4`, `update_1`) and are kept in [`Operation::spec_id`].
//! A test checks every row against `../shared/lofty-spec/openapi.json`.

pub use wire::Method;

/// What kind of request body an operation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body (Lofty still wants `Content-Type: application/json` on POST/PUT/DELETE).
    None,
    /// `application/json`.
    Json,
}

/// One Lofty endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// Our id, `lofty-<verb>-<noun>`, used as the action name.
    pub id: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Path template relative to the base URL, with `{param}` placeholders.
    pub path: &'static str,
    /// The spec's `operationId`.
    pub spec_id: Option<&'static str>,
    /// Input keys filling `{param}` placeholders of [`Operation::path`].
    pub path_params: &'static [&'static str],
    /// Input keys sent as query parameters.
    pub query_params: &'static [&'static str],
    /// Body kind; keys that are neither path nor query parameters go to the body.
    pub body: BodyKind,
    /// API family, as Lofty grants OAuth apps access per API (`leads`, `notes`, `tasks`,
    /// `calendar`, `members`, `team`, `webhooks`).
    pub family: &'static str,
    /// One line saying what the operation does.
    pub summary: &'static str,
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

const NONE: &[&str] = &[];
const LEAD: &[&str] = &["leadId"];
const NOTE: &[&str] = &["noteId"];
const TASK: &[&str] = &["taskId"];
const CALENDAR: &[&str] = &["calendarId"];

/// Query parameters of `GET /v1.0/leads`.
pub const LEAD_QUERY: &[&str] = &[
    "stage",
    "source",
    "phone",
    "email",
    "assignedUserId",
    "contacted",
    "groups",
    "segments",
    "allTags",
    "anyTags",
    "groupIds",
    "querySubGroup",
    "scrollId",
    "offset",
    "limit",
    "sort",
    "desc",
    "languages",
    "preciseSearchFlag",
    "roleAssigneeFilters",
    "key",
    "otherFilters",
    "returnFields",
];

/// Query parameters of `GET /v2.0/calendar`.
pub const CALENDAR_QUERY: &[&str] = &[
    "leadId",
    "startTime",
    "endTime",
    "startTimeMs",
    "endTimeMs",
    "timeZoneCode",
    "includeFinished",
    "page",
    "pageSize",
    "sort",
    "desc",
    "sourceType",
];

#[allow(clippy::too_many_arguments)]
const fn op(
    id: &'static str,
    method: Method,
    path: &'static str,
    spec_id: &'static str,
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
        spec_id: Some(spec_id),
        path_params,
        query_params,
        body,
        family,
        summary,
    }
}

use BodyKind::{Json, None as NoBody};
use Method::{Delete, Get, Post, Put};

/// Every Lofty operation the client implements.
pub static OPERATIONS: &[Operation] = &[
    // ------------------------------------------------------------ leads
    op(
        "lofty-list-leads",
        Get,
        "/v1.0/leads",
        "list_4",
        NONE,
        LEAD_QUERY,
        NoBody,
        "leads",
        "List or search leads (email, phone, stage, tags, ...) with offset or scrollId paging",
    ),
    op(
        "lofty-create-lead",
        Post,
        "/v1.0/leads",
        "add_3",
        NONE,
        NONE,
        Json,
        "leads",
        "Create a lead (only firstName is required); returns its leadId",
    ),
    op(
        "lofty-get-lead",
        Get,
        "/v1.0/leads/{leadId}",
        "get",
        LEAD,
        &["withTrash"],
        NoBody,
        "leads",
        "Get a lead by id",
    ),
    op(
        "lofty-update-lead",
        Put,
        "/v1.0/leads/{leadId}",
        "update_1",
        LEAD,
        NONE,
        Json,
        "leads",
        "Update a lead (partial; tags replaces, tagsAdd/tagsRemove change the tag list)",
    ),
    op(
        "lofty-delete-lead",
        Delete,
        "/v1.0/leads/{leadId}",
        "trash",
        LEAD,
        &["reason"],
        NoBody,
        "leads",
        "Move a lead to the trash (reason required)",
    ),
    // ------------------------------------------------------------ notes
    op(
        "lofty-list-notes",
        Get,
        "/v1.0/notes",
        "list_2",
        NONE,
        &["leadId", "includeSystemNote"],
        NoBody,
        "notes",
        "List the notes of a lead",
    ),
    op(
        "lofty-create-note",
        Post,
        "/v1.0/notes",
        "add_1",
        NONE,
        NONE,
        Json,
        "notes",
        "Create a note on a lead (leadId, content, isPin); returns its noteId",
    ),
    op(
        "lofty-get-note",
        Get,
        "/v1.0/notes/{noteId}",
        "getNoteByNoteId",
        NOTE,
        NONE,
        NoBody,
        "notes",
        "Get a note by id",
    ),
    op(
        "lofty-update-note",
        Put,
        "/v1.0/notes/{noteId}",
        "update",
        NOTE,
        NONE,
        Json,
        "notes",
        "Update a note's content and pin state",
    ),
    op(
        "lofty-delete-note",
        Delete,
        "/v1.0/notes/{noteId}",
        "delete_1",
        NOTE,
        NONE,
        NoBody,
        "notes",
        "Delete a note",
    ),
    // ------------------------------------------------------------ tasks (V2)
    op(
        "lofty-list-tasks",
        Get,
        "/v2.0/tasks",
        "listTask",
        NONE,
        &["leadId"],
        NoBody,
        "tasks",
        "List the tasks and appointments of a lead",
    ),
    op(
        "lofty-create-task",
        Post,
        "/v2.0/tasks",
        "addTask",
        NONE,
        NONE,
        Json,
        "tasks",
        "Create a task (or an appointment with type Appointment); returns its taskId",
    ),
    op(
        "lofty-get-task",
        Get,
        "/v2.0/tasks/{taskId}",
        "getTaskById",
        TASK,
        NONE,
        NoBody,
        "tasks",
        "Get a task or appointment by id",
    ),
    op(
        "lofty-update-task",
        Put,
        "/v2.0/tasks/{taskId}",
        "updateTask",
        TASK,
        NONE,
        Json,
        "tasks",
        "Update a task or appointment (partial)",
    ),
    op(
        "lofty-delete-task",
        Delete,
        "/v2.0/tasks/{taskId}",
        "deleteTask",
        TASK,
        NONE,
        NoBody,
        "tasks",
        "Delete a task or appointment",
    ),
    op(
        "lofty-finish-task",
        Post,
        "/v2.0/tasks/{taskId}/finish",
        "finishTask",
        TASK,
        NONE,
        NoBody,
        "tasks",
        "Mark a task or appointment completed",
    ),
    op(
        "lofty-unfinish-task",
        Post,
        "/v2.0/tasks/{taskId}/unfinish",
        "unfinishTask",
        TASK,
        NONE,
        NoBody,
        "tasks",
        "Mark a task or appointment not completed",
    ),
    op(
        "lofty-list-my-tasks",
        Get,
        "/v2.0/tasks/my-tasks",
        "listTasksByUser",
        NONE,
        &["userId", "currentId", "limit", "timeZoneCode"],
        NoBody,
        "tasks",
        "List the tasks assigned to a user (currentId cursor)",
    ),
    // ------------------------------------------------------------ calendar (V2)
    op(
        "lofty-list-calendar-events",
        Get,
        "/v2.0/calendar",
        "queryCalendars",
        NONE,
        CALENDAR_QUERY,
        NoBody,
        "calendar",
        "List calendar entries (tasks and appointments) in a time range, paged",
    ),
    op(
        "lofty-create-calendar-event",
        Post,
        "/v2.0/calendar",
        "createCalendar",
        NONE,
        NONE,
        Json,
        "calendar",
        "Create a TASK or APPOINTMENT in the future; returns a composite id (`<id>-task`)",
    ),
    op(
        "lofty-update-calendar-event",
        Put,
        "/v2.0/calendar/{calendarId}",
        "updateCalendar",
        CALENDAR,
        NONE,
        Json,
        "calendar",
        "Update a calendar entry by composite id (partial)",
    ),
    op(
        "lofty-delete-calendar-event",
        Delete,
        "/v2.0/calendar/{calendarId}",
        "deleteCalendar",
        CALENDAR,
        NONE,
        NoBody,
        "calendar",
        "Delete a calendar entry by composite id",
    ),
    op(
        "lofty-finish-calendar-event",
        Post,
        "/v2.0/calendar/{calendarId}/finish",
        "finishCalendar",
        CALENDAR,
        NONE,
        NoBody,
        "calendar",
        "Mark a calendar entry finished",
    ),
    op(
        "lofty-unfinish-calendar-event",
        Post,
        "/v2.0/calendar/{calendarId}/unfinish",
        "unfinishCalendar",
        CALENDAR,
        NONE,
        NoBody,
        "calendar",
        "Mark a calendar entry not finished",
    ),
    // ------------------------------------------------------------ members
    op(
        "lofty-get-me",
        Get,
        "/v1.0/me",
        "getMemberAboutMe",
        NONE,
        NONE,
        NoBody,
        "members",
        "The caller's team-member profile (join on memberUserId)",
    ),
    op(
        "lofty-list-members",
        Get,
        "/v1.0/members",
        "getMembers",
        NONE,
        &["groupIds", "offset", "limit"],
        NoBody,
        "members",
        "List team members (offset + limit)",
    ),
    op(
        "lofty-get-member",
        Get,
        "/v1.0/members/{account}",
        "getMemberByAccount",
        &["account"],
        NONE,
        NoBody,
        "members",
        "Get a team member by login email",
    ),
    // ------------------------------------------------------------ team features
    op(
        "lofty-list-tags",
        Get,
        "/v1.0/teamFeatures/listTag",
        "listTag",
        NONE,
        NONE,
        NoBody,
        "team",
        "List lead tags (leadId 0: definitions; others: tags applied to leads)",
    ),
    op(
        "lofty-list-custom-fields",
        Get,
        "/v1.0/teamFeatures/listCustomField",
        "listCustomField",
        NONE,
        NONE,
        NoBody,
        "team",
        "List lead custom field definitions",
    ),
    op(
        "lofty-create-custom-field",
        Post,
        "/v1.0/teamFeatures/custom-field",
        "addCustomField",
        NONE,
        NONE,
        Json,
        "team",
        "Add a lead custom field to the team",
    ),
    op(
        "lofty-list-lead-pipelines",
        Get,
        "/v1.0/teamFeatures/lead-pipelines",
        "listLeadPipeline",
        NONE,
        &["name", "currPage", "pageSize"],
        NoBody,
        "team",
        "List lead pipeline stages (currPage + pageSize)",
    ),
    // ------------------------------------------------------------ webhooks
    op(
        "lofty-create-webhook",
        Post,
        "/v1.0/webhook",
        "add",
        NONE,
        NONE,
        Json,
        "webhooks",
        "Subscribe a callback URL to one of the 12 event lists",
    ),
    op(
        "lofty-list-webhooks",
        Get,
        "/v1.0/webhooks",
        "list",
        NONE,
        NONE,
        NoBody,
        "webhooks",
        "List the team's webhook subscriptions",
    ),
    op(
        "lofty-delete-webhook",
        Delete,
        "/v1.0/webhook/{subscribeId}",
        "delete",
        &["subscribeId"],
        NONE,
        NoBody,
        "webhooks",
        "Delete a webhook subscription",
    ),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = BTreeSet::new();
        for op in OPERATIONS {
            assert!(seen.insert(op.id), "duplicate id {}", op.id);
            let rest = op.id.strip_prefix("lofty-").expect("lofty- prefix");
            assert!(rest.contains('-'), "{} is lofty-<verb>-<noun>", op.id);
            assert!(
                rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{}",
                op.id
            );
            for p in op.path_params {
                assert!(op.path.contains(&format!("{{{p}}}")), "{} {p}", op.id);
            }
            assert_eq!(
                op.path.matches('{').count(),
                op.path_params.len(),
                "{}",
                op.id
            );
        }
        assert_eq!(OPERATIONS.len(), 34);
        assert_eq!(family("calendar").count(), 6);
        assert!(find("lofty-create-lead").is_some_and(|o| o.method == Method::Post));
        assert!(find("nope").is_none());
    }
}
