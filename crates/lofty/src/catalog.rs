//! What the catalog says about each Lofty operation: its catalog id
//! (`lofty.<noun>.<verb>`), a title, the JSON Schemas of its input and output (built
//! from the model types in [`crate::models`]), and an example input.
//!
//! The input is the flat object [`LoftyClient::call`](crate::LoftyClient::call) takes:
//! path and query parameters beside the body's fields. Lofty ids are integers; in
//! the examples, `"{leadId}"` and the like stand for ids of the caller's team.

use serde_json::{Value, json};
use wire::schema::{Object, any, list, of, requiring, wrap};

use crate::models::{
    CalendarCreated, CalendarPage, CreateCalendarEvent, CreateCustomField, CreateLead, CreateTask,
    CreateWebhook, CustomField, EventList, Lead, LeadPage, LeadTag, Member, MemberPage, Message,
    Note, NoteInput, PipelinePage, Task, UpdateCalendarEvent, UpdateLead, UpdateTask,
    WebhookSubscription,
};

pub use wire::schema::Description;

/// Shorthand for the rows below.
fn d(id: &str, title: &str, input: Value, output: Value, example: Value) -> Description {
    Description::new(id, title, input, output, example)
}

fn id(name: &str, what: &str) -> Object {
    Object::closed().integer(name, true, what)
}

fn lead() -> Object {
    id("leadId", "The lead's id.")
}

fn note() -> Object {
    id("noteId", "The note's id.")
}

fn task() -> Object {
    id("taskId", "The task's (or appointment's) id.")
}

fn calendar() -> Object {
    Object::closed().field(
        "calendarId",
        json!({"type": "string", "pattern": "^[0-9]+-(task|appointment)$",
               "description": "The calendar entry's id, `<taskId>-task` or `<taskId>-appointment`, as Lofty gave it."}),
        true,
    )
}

fn message() -> Value {
    of::<Message>()
}

fn empty(what: &str) -> Value {
    any(&format!(
        "{what}: Lofty answers 200 with an empty or message-only body."
    ))
}

fn new_id(key: &str) -> Value {
    Object::open()
        .field(
            key,
            json!({"type": "integer", "description": "The new record's id."}),
            true,
        )
        .build()
}

/// The lead list's query: search by email, phone, stage, tags, and page.
fn lead_query() -> Object {
    Object::closed()
        .string("email", false, "Exact email.")
        .string("phone", false, "Phone number (digits).")
        .string("stage", false, "Stage name.")
        .string("source", false, "Source name.")
        .integer("assignedUserId", false, "The agent's member user id.")
        .boolean("contacted", false, "Contacted or not.")
        .string("groups", false, "Group ids, comma separated.")
        .string("segments", false, "Segment names, comma separated.")
        .string(
            "allTags",
            false,
            "Leads having all these tags, comma separated.",
        )
        .string(
            "anyTags",
            false,
            "Leads having any of these tags, comma separated.",
        )
        .string("groupIds", false, "Group ids, comma separated.")
        .boolean("querySubGroup", false, "Include sub-groups.")
        .string(
            "scrollId",
            false,
            "Cursor from the previous page (deep paging).",
        )
        .integer("offset", false, "Offset paging start.")
        .integer("limit", false, "Page size (at most 100).")
        .string("sort", false, "Sort field.")
        .boolean("desc", false, "Sort descending.")
        .string("languages", false, "Languages, comma separated.")
        .boolean(
            "preciseSearchFlag",
            false,
            "Exact matching for email and phone.",
        )
        .string(
            "roleAssigneeFilters",
            false,
            "Role assignee filters (JSON text).",
        )
        .string("key", false, "Free-text search.")
        .string("otherFilters", false, "Other filters (JSON text).")
        .string("returnFields", false, "Fields to return, comma separated.")
}

fn calendar_query() -> Object {
    Object::closed()
        .integer("leadId", false, "Only this lead's entries.")
        .string("startTime", false, "Window start (`yyyy-MM-dd HH:mm:ss`).")
        .string("endTime", false, "Window end (`yyyy-MM-dd HH:mm:ss`).")
        .integer("startTimeMs", false, "Window start, epoch milliseconds.")
        .integer("endTimeMs", false, "Window end, epoch milliseconds.")
        .string("timeZoneCode", false, "IANA time zone of the window.")
        .boolean("includeFinished", false, "Include finished entries.")
        .integer("page", false, "Page number, from 1.")
        .integer("pageSize", false, "Page size.")
        .string("sort", false, "Sort field.")
        .boolean("desc", false, "Sort descending.")
        .integer("sourceType", false, "Entry source type.")
}

/// The catalog's view of the operation `op_id` (`None` for an id not in the table).
pub fn describe(op_id: &str) -> Option<Description> {
    Some(match op_id {
        "lofty-list-leads" => d(
            "lofty.leads.list",
            "List or search leads",
            lead_query().build(),
            of::<LeadPage>(),
            json!({"email": "ana@example.com", "limit": 20}),
        ),
        "lofty-create-lead" => d(
            "lofty.leads.create",
            "Create a lead",
            Object::closed().fields_of::<CreateLead>().build(),
            new_id("leadId"),
            json!({"firstName": "Ana", "lastName": "Lima", "emails": ["ana.new@example.com"]}),
        ),
        "lofty-get-lead" => d(
            "lofty.leads.get",
            "Get a lead",
            lead().boolean("withTrash", false, "Also find a lead in the trash.").build(),
            wrap("lead", of::<Lead>()),
            json!({"leadId": "{leadId}"}),
        ),
        "lofty-update-lead" => d(
            "lofty.leads.update",
            "Update a lead",
            lead().fields_of::<UpdateLead>().build(),
            new_id("leadId"),
            json!({"leadId": "{leadId}", "tagsAdd": ["vip"], "stage": "Active"}),
        ),
        "lofty-delete-lead" => d(
            "lofty.leads.delete",
            "Move a lead to the trash",
            lead().string("reason", true, "Why (Lofty requires a reason).").build(),
            empty("Trashed"),
            json!({"leadId": "{leadId}", "reason": "Duplicate"}),
        ),
        "lofty-list-notes" => d(
            "lofty.notes.list",
            "List a lead's notes",
            lead()
                .boolean("includeSystemNote", false, "Include Lofty's own notes.")
                .build(),
            wrap("notes", list(of::<Note>())),
            json!({"leadId": "{leadId}"}),
        ),
        "lofty-create-note" => d(
            "lofty.notes.create",
            "Create a note",
            Object::closed().fields_of::<NoteInput>().build(),
            new_id("noteId"),
            json!({"leadId": "{leadId}", "content": "Met at the open house.", "isPin": false}),
        ),
        "lofty-get-note" => d(
            "lofty.notes.get",
            "Get a note",
            note().build(),
            wrap("note", of::<Note>()),
            json!({"noteId": "{noteId}"}),
        ),
        "lofty-update-note" => d(
            "lofty.notes.update",
            "Update a note",
            note().fields_of::<NoteInput>().build(),
            empty("Updated"),
            json!({"noteId": "{noteId}", "leadId": "{leadId}", "content": "Met at the open house; call in May.", "isPin": true}),
        ),
        "lofty-delete-note" => d(
            "lofty.notes.delete",
            "Delete a note",
            note().build(),
            empty("Deleted"),
            json!({"noteId": "{noteId}"}),
        ),
        "lofty-list-tasks" => d(
            "lofty.tasks.list",
            "List a lead's tasks and appointments",
            lead().build(),
            wrap("tasks", list(of::<Task>())),
            json!({"leadId": "{leadId}"}),
        ),
        "lofty-create-task" => d(
            "lofty.tasks.create",
            "Create a task or appointment",
            Object::closed().fields_of::<CreateTask>().build(),
            new_id("taskId"),
            json!({"leadId": "{leadId}", "type": "Call", "content": "Call back", "assignedRole": "Agent", "endAt": "2027-01-15T10:00:00-05:00", "timeZoneCode": "America/New_York"}),
        ),
        "lofty-get-task" => d(
            "lofty.tasks.get",
            "Get a task or appointment",
            task().build(),
            wrap("task", of::<Task>()),
            json!({"taskId": "{taskId}"}),
        ),
        "lofty-update-task" => d(
            "lofty.tasks.update",
            "Update a task or appointment",
            task().fields_of::<UpdateTask>().build(),
            message(),
            json!({"taskId": "{taskId}", "content": "Call back (moved)"}),
        ),
        "lofty-delete-task" => d(
            "lofty.tasks.delete",
            "Delete a task or appointment",
            task().build(),
            message(),
            json!({"taskId": "{taskId}"}),
        ),
        "lofty-finish-task" => d(
            "lofty.tasks.finish",
            "Mark a task done",
            task().build(),
            message(),
            json!({"taskId": "{taskId}"}),
        ),
        "lofty-unfinish-task" => d(
            "lofty.tasks.unfinish",
            "Mark a task not done",
            task().build(),
            message(),
            json!({"taskId": "{taskId}"}),
        ),
        "lofty-list-my-tasks" => d(
            "lofty.tasks.list_assigned",
            "List the tasks assigned to a user",
            Object::closed()
                .integer("userId", false, "The member user id (default: the caller).")
                .integer("currentId", false, "Cursor: the last task id of the previous page.")
                .integer("limit", false, "Page size.")
                .string("timeZoneCode", false, "IANA time zone for the answer's times.")
                .build(),
            wrap("tasks", list(of::<Task>())),
            json!({"limit": 20}),
        ),
        "lofty-list-calendar-events" => d(
            "lofty.calendar.list",
            "List calendar entries in a time window",
            calendar_query().build(),
            wrap("data", of::<CalendarPage>()),
            json!({"startTimeMs": 1767225600000_i64, "endTimeMs": 1893456000000_i64, "page": 1, "pageSize": 50}),
        ),
        "lofty-create-calendar-event" => d(
            "lofty.calendar.create",
            "Create a calendar task or appointment",
            Object::closed().fields_of::<CreateCalendarEvent>().build(),
            wrap("data", of::<CalendarCreated>()),
            json!({"type": "APPOINTMENT", "content": "Viewing", "leadId": "{leadId}", "timeZoneCode": "America/New_York", "startAt": "2027-01-15T10:00:00-05:00", "endAt": "2027-01-15T10:30:00-05:00"}),
        ),
        "lofty-update-calendar-event" => d(
            "lofty.calendar.update",
            "Update a calendar entry",
            calendar().fields_of::<UpdateCalendarEvent>().build(),
            message(),
            json!({"calendarId": "{calendarId}", "content": "Viewing (moved)"}),
        ),
        "lofty-delete-calendar-event" => d(
            "lofty.calendar.delete",
            "Delete a calendar entry",
            calendar().build(),
            message(),
            json!({"calendarId": "{calendarId}"}),
        ),
        "lofty-finish-calendar-event" => d(
            "lofty.calendar.finish",
            "Mark a calendar entry finished",
            calendar().build(),
            message(),
            json!({"calendarId": "{calendarId}"}),
        ),
        "lofty-unfinish-calendar-event" => d(
            "lofty.calendar.unfinish",
            "Mark a calendar entry not finished",
            calendar().build(),
            message(),
            json!({"calendarId": "{calendarId}"}),
        ),
        "lofty-get-me" => d(
            "lofty.members.me",
            "Get the caller's profile",
            Object::closed().build(),
            of::<Member>(),
            json!({}),
        ),
        "lofty-list-members" => d(
            "lofty.members.list",
            "List team members",
            Object::closed()
                .string("groupIds", false, "Group ids, comma separated.")
                .integer("offset", false, "Offset paging start.")
                .integer("limit", false, "Page size.")
                .build(),
            of::<MemberPage>(),
            json!({"limit": 50}),
        ),
        "lofty-get-member" => d(
            "lofty.members.get",
            "Get a team member by login email",
            Object::closed()
                .field("account", json!({"type": "string", "minLength": 1, "description": "The member's login email."}), true)
                .build(),
            of::<Member>(),
            json!({"account": "{memberEmail}"}),
        ),
        "lofty-list-tags" => d(
            "lofty.tags.list",
            "List lead tags",
            Object::closed().build(),
            list(of::<LeadTag>()),
            json!({}),
        ),
        "lofty-list-custom-fields" => d(
            "lofty.custom_fields.list",
            "List lead custom fields",
            Object::closed().build(),
            list(of::<CustomField>()),
            json!({}),
        ),
        "lofty-create-custom-field" => d(
            "lofty.custom_fields.create",
            "Create a lead custom field",
            Object::closed().fields_of::<CreateCustomField>().build(),
            any("Lofty answers with the new field's name as a JSON string."),
            json!({"attributeName": "Budget", "attributeType": "text"}),
        ),
        "lofty-list-lead-pipelines" => d(
            "lofty.pipelines.list",
            "List lead pipeline stages",
            Object::closed()
                .string("name", false, "Name filter.")
                .integer("currPage", false, "Page number, from 1.")
                .integer("pageSize", false, "Page size.")
                .build(),
            of::<PipelinePage>(),
            json!({"currPage": 1, "pageSize": 50}),
        ),
        "lofty-create-webhook" => d(
            "lofty.webhooks.create",
            "Subscribe a URL to an event list",
            Object::closed().fields_of::<CreateWebhook>().build(),
            requiring(
                of::<WebhookSubscription>(),
                &["subscribeId", "teamId", "listId", "callbackUrl"],
            ),
            json!({"listId": 2, "callbackUrl": "https://example.com/webhooks/lofty/{secret}"}),
        ),
        "lofty-list-webhooks" => d(
            "lofty.webhooks.list",
            "List webhook subscriptions",
            Object::closed().build(),
            list(of::<WebhookSubscription>()),
            json!({}),
        ),
        "lofty-delete-webhook" => d(
            "lofty.webhooks.delete",
            "Delete a webhook subscription",
            id("subscribeId", "The subscription's id.").build(),
            empty("Deleted"),
            json!({"subscribeId": "{subscribeId}"}),
        ),
        _ => return None,
    })
}

/// One webhook trigger as the catalog shows it.
#[derive(Debug, Clone)]
pub struct Trigger {
    /// The catalog id, `lofty.trigger.<event>`.
    pub id: &'static str,
    /// The event list.
    pub list: EventList,
    /// The bucket of the delivery the change comes in (`createdLead`, ...).
    pub bucket: &'static str,
    /// A few words.
    pub title: &'static str,
    /// When it fires and what to know.
    pub description: String,
    /// JSON Schema of the event: one changed record of a delivery.
    pub output: Value,
}

/// The event a Lofty trigger hands on: one entry of a delivery's bucket with the
/// delivery's `listId` and `teamId` and the bucket's name beside it.
fn change_schema(list: EventList, bucket: &str) -> Value {
    let id_field = list.id_field();
    let mut o = Object::open()
        .field("listId", json!({"type": "integer", "const": list.id(), "description": "The event list."}), true)
        .integer("teamId", false, "The team the subscription belongs to.")
        .field("bucket", json!({"type": "string", "const": bucket, "description": "The delivery bucket the change came in."}), true)
        .integer(id_field, true, "The changed record's id; fetch it through the API (a 404 means it is gone).")
        .integer("updateTime", false, "When it changed, epoch milliseconds.");
    if id_field != "leadId" {
        o = o.integer("leadId", false, "The lead the record belongs to.");
    }
    o.build()
}

/// Every Lofty webhook change the catalog offers as a trigger.
pub fn triggers() -> Vec<Trigger> {
    const ASSUMED: &str = " Lofty has not published this list's payload: ghlsync assumes the bucket pattern observed on list 2 (`<change><Record>: [{<id>, leadId, updateTime}]`) and reads any such bucket.";
    let t = |id, list: EventList, bucket, title, what: &str, assumed: bool| Trigger {
        id,
        list,
        bucket,
        title,
        description: format!(
            "{what} Lofty batches changes (usually within a minute, at most five) and sends ids only; ghlsync re-reads the record.{}",
            if assumed { ASSUMED } else { "" }
        ),
        output: change_schema(list, bucket),
    };
    use EventList::{Appointment, LeadInfo, Note, PipelineChange, Task};
    vec![
        t(
            "lofty.trigger.lead_create",
            LeadInfo,
            "createdLead",
            "Lead created",
            "A lead was created (list 2, bucket `createdLead`, handled by symmetry with the observed `updatedLead`).",
            false,
        ),
        t(
            "lofty.trigger.lead_update",
            LeadInfo,
            "updatedLead",
            "Lead updated",
            "A lead changed (list 2, bucket `updatedLead`, observed on live traffic).",
            false,
        ),
        t(
            "lofty.trigger.lead_delete",
            LeadInfo,
            "deletedLead",
            "Lead deleted",
            "A lead was moved to the trash (list 2, bucket `deletedLead`).",
            false,
        ),
        t(
            "lofty.trigger.pipeline_change",
            PipelineChange,
            "pipelineChange",
            "Lead stage changed",
            "A lead moved to another pipeline stage (list 12; the new stage only).",
            true,
        ),
        t(
            "lofty.trigger.note_create",
            Note,
            "createdNote",
            "Note created",
            "A note was added to a lead (list 9).",
            true,
        ),
        t(
            "lofty.trigger.note_update",
            Note,
            "updatedNote",
            "Note updated",
            "A lead's note was edited (list 9).",
            true,
        ),
        t(
            "lofty.trigger.note_delete",
            Note,
            "deletedNote",
            "Note deleted",
            "A lead's note was deleted (list 9).",
            true,
        ),
        t(
            "lofty.trigger.task_create",
            Task,
            "createdTask",
            "Task created",
            "A task was added to a lead (list 10).",
            true,
        ),
        t(
            "lofty.trigger.task_update",
            Task,
            "updatedTask",
            "Task updated",
            "A lead's task changed (list 10).",
            true,
        ),
        t(
            "lofty.trigger.task_finish",
            Task,
            "finishedTask",
            "Task finished",
            "A lead's task was marked done (list 10).",
            true,
        ),
        t(
            "lofty.trigger.task_delete",
            Task,
            "deletedTask",
            "Task deleted",
            "A lead's task was deleted (list 10).",
            true,
        ),
        t(
            "lofty.trigger.appointment_create",
            Appointment,
            "createdAppointment",
            "Appointment created",
            "An appointment was added to a lead (list 11).",
            true,
        ),
        t(
            "lofty.trigger.appointment_update",
            Appointment,
            "updatedAppointment",
            "Appointment updated",
            "A lead's appointment changed (list 11).",
            true,
        ),
        t(
            "lofty.trigger.appointment_finish",
            Appointment,
            "finishedAppointment",
            "Appointment finished",
            "A lead's appointment was marked finished (list 11).",
            true,
        ),
        t(
            "lofty.trigger.appointment_delete",
            Appointment,
            "deletedAppointment",
            "Appointment deleted",
            "A lead's appointment was deleted (list 11).",
            true,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OPERATIONS;

    #[test]
    fn every_operation_is_described_once() {
        let mut ids = std::collections::BTreeSet::new();
        for op in OPERATIONS {
            let desc = describe(op.id).unwrap_or_else(|| panic!("{} is not described", op.id));
            assert!(desc.id.starts_with("lofty."), "{}", desc.id);
            assert!(ids.insert(desc.id.clone()), "{} twice", desc.id);
            let req = desc.input["required"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for p in op.path_params {
                assert!(
                    req.contains(&Value::from(*p)),
                    "{}: {p} not required",
                    op.id
                );
            }
            for key in desc.input["properties"]
                .as_object()
                .into_iter()
                .flat_map(|m| m.keys())
            {
                let known = op.path_params.contains(&key.as_str())
                    || op.query_params.contains(&key.as_str())
                    || op.has_body();
                assert!(
                    known,
                    "{}: `{key}` is neither a parameter nor a body field",
                    op.id
                );
            }
        }
    }

    #[test]
    fn triggers_name_their_id_field_and_mark_assumed_lists() {
        for t in triggers() {
            let req = t.output["required"].as_array().cloned().unwrap_or_default();
            assert!(req.contains(&Value::from(t.list.id_field())), "{}", t.id);
            let assumed = t.description.contains("has not published");
            assert_eq!(assumed, t.list != EventList::LeadInfo, "{}", t.id);
        }
    }
}
