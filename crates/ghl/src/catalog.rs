//! What the catalog says about each GHL operation: its catalog id
//! (`ghl.<noun>.<verb>`), a title, the JSON Schemas of its input and output (built
//! from the model types in [`crate::models`]), and an example input.
//!
//! The input is the flat object [`GhlClient::call`](crate::GhlClient::call) takes:
//! path and query parameters beside the body's fields. Strings like `{contactId}` in
//! the examples stand for ids of the caller's account.

use serde_json::{Value, json};
use wire::schema::{Object, list, of, or_null, requiring, wrap};

use crate::models::{
    Appointment, BulkBusinessRequest, BulkBusinessResponse, BulkTagsRequest, BulkTagsResponse,
    BusinessContactsQuery, Calendar, CalendarEventsQuery, Contact, ContactList, CreateAppointment,
    CreateContact, CreateCustomField, CreateNote, CreateTask, EditAppointment, FollowersResponse,
    InstalledLocations, InstalledLocationsQuery, ListContactsQuery, ListContactsResponse,
    LocationCustomField, LocationTag, LocationTokenResponse, Note, SearchRequest, SearchResponse,
    SuccessResponse, Task, TaskSearch, TokenResponse, UpdateContact, UpdateCustomField, UpdateNote,
    UpdateTask, UpsertContact, UpsertResponse, User,
};

pub use wire::schema::Description;

/// What an appointment's answer always carries.
const APPOINTMENT_IDS: &[&str] = &["id", "calendarId", "locationId", "contactId"];

/// Shorthand for the rows below.
fn d(id: &str, title: &str, input: Value, output: Value, example: Value) -> Description {
    Description::new(id, title, input, output, example)
}

fn contact() -> Object {
    Object::closed().path("contactId", "The contact's id.")
}

fn location() -> Object {
    Object::closed().path("locationId", "The location (sub-account) id.")
}

fn event() -> Object {
    Object::closed().path("eventId", "The appointment's (event's) id.")
}

fn ok() -> Value {
    of::<SuccessResponse>()
}

fn tags_body() -> Object {
    contact().field(
        "tags",
        json!({"type": "array", "items": {"type": "string"}, "description": "Tag names."}),
        true,
    )
}

fn followers_body() -> Object {
    contact().field(
        "followers",
        json!({"type": "array", "items": {"type": "string"}, "description": "User ids."}),
        true,
    )
}

fn workflow() -> Object {
    contact().path("workflowId", "The workflow's id.").string(
        "eventStartTime",
        false,
        "When the workflow should start for the contact (ISO 8601).",
    )
}

/// The catalog's view of the operation `op_id` (`None` for an id not in the table).
pub fn describe(op_id: &str) -> Option<Description> {
    let task = || contact().path("taskId", "The task's id.");
    let note = || contact().path("id", "The note's id.");
    let tag = || location().path("tagId", "The tag's id.");
    let field = || location().path("id", "The custom field's id.");
    let campaign = || contact().path("campaignId", "The campaign's id.");
    Some(match op_id {
        "search-contacts-advanced" => d(
            "ghl.contacts.search",
            "Search contacts",
            Object::closed().fields_of::<SearchRequest>().build(),
            of::<SearchResponse>(),
            json!({"locationId": "{locationId}", "pageLimit": 20, "query": "ana"}),
        ),
        "get-duplicate-contact" => d(
            "ghl.contacts.find_duplicate",
            "Find a duplicate contact",
            location()
                .string("email", false, "Email to look for.")
                .string("number", false, "Phone number to look for.")
                .build(),
            Object::open()
                .field("contact", or_null(of::<Contact>()), false)
                .build(),
            json!({"locationId": "{locationId}", "email": "ana@example.com"}),
        ),
        "get-all-tasks" => d(
            "ghl.tasks.list",
            "List a contact's tasks",
            contact().build(),
            wrap("tasks", list(of::<Task>())),
            json!({"contactId": "{contactId}"}),
        ),
        "create-task" => d(
            "ghl.tasks.create",
            "Create a task",
            contact().fields_of::<CreateTask>().build(),
            wrap("task", of::<Task>()),
            json!({"contactId": "{contactId}", "title": "Call back", "dueDate": "2027-01-15T10:00:00Z", "completed": false}),
        ),
        "get-task" => d(
            "ghl.tasks.get",
            "Get a task",
            task().build(),
            wrap("task", of::<Task>()),
            json!({"contactId": "{contactId}", "taskId": "{taskId}"}),
        ),
        "update-task" => d(
            "ghl.tasks.update",
            "Update a task",
            task().fields_of::<UpdateTask>().build(),
            wrap("task", of::<Task>()),
            json!({"contactId": "{contactId}", "taskId": "{taskId}", "title": "Call back (moved)"}),
        ),
        "delete-task" => d(
            "ghl.tasks.delete",
            "Delete a task",
            task().build(),
            ok(),
            json!({"contactId": "{contactId}", "taskId": "{taskId}"}),
        ),
        "update-task-completed" => d(
            "ghl.tasks.set_completed",
            "Complete or reopen a task",
            task().boolean("completed", true, "Done or not.").build(),
            wrap("task", of::<Task>()),
            json!({"contactId": "{contactId}", "taskId": "{taskId}", "completed": true}),
        ),
        "task-search" => d(
            "ghl.tasks.search",
            "Search a location's tasks",
            location().fields_of::<TaskSearch>().build(),
            wrap("tasks", list(of::<Task>())),
            json!({"locationId": "{locationId}", "completed": false, "limit": 20}),
        ),
        "get-appointments-for-contact" => d(
            "ghl.contacts.list_appointments",
            "List a contact's appointments",
            contact().build(),
            wrap("events", list(of::<Appointment>())),
            json!({"contactId": "{contactId}"}),
        ),
        "add-tags" => d(
            "ghl.tags.add",
            "Add tags to a contact",
            tags_body().build(),
            wrap(
                "tags",
                json!({"type": "array", "items": {"type": "string"}}),
            ),
            json!({"contactId": "{contactId}", "tags": ["vip"]}),
        ),
        "remove-tags" => d(
            "ghl.tags.remove",
            "Remove tags from a contact",
            tags_body().build(),
            wrap(
                "tags",
                json!({"type": "array", "items": {"type": "string"}}),
            ),
            json!({"contactId": "{contactId}", "tags": ["vip"]}),
        ),
        "create-association" => d(
            "ghl.tags.bulk_update",
            "Add or remove tags on many contacts",
            Object::closed()
                .one_of("type", &["add", "remove"], true, "Add or remove the tags.")
                .fields_of::<BulkTagsRequest>()
                .build(),
            requiring(
                of::<BulkTagsResponse>(),
                &["succeded", "errorCount", "responses"],
            ),
            json!({"type": "add", "locationId": "{locationId}", "contacts": ["{contactId}"], "tags": ["vip"]}),
        ),
        "get-all-notes" => d(
            "ghl.notes.list",
            "List a contact's notes",
            contact().build(),
            wrap("notes", list(of::<Note>())),
            json!({"contactId": "{contactId}"}),
        ),
        "create-note" => d(
            "ghl.notes.create",
            "Create a note",
            contact().fields_of::<CreateNote>().build(),
            wrap("note", of::<Note>()),
            json!({"contactId": "{contactId}", "body": "Met at the open house."}),
        ),
        "get-note" => d(
            "ghl.notes.get",
            "Get a note",
            note().build(),
            wrap("note", of::<Note>()),
            json!({"contactId": "{contactId}", "id": "{noteId}"}),
        ),
        "update-note" => d(
            "ghl.notes.update",
            "Update a note",
            note().fields_of::<UpdateNote>().build(),
            wrap("note", of::<Note>()),
            json!({"contactId": "{contactId}", "id": "{noteId}", "body": "Met at the open house; call in May."}),
        ),
        "delete-note" => d(
            "ghl.notes.delete",
            "Delete a note",
            note().build(),
            ok(),
            json!({"contactId": "{contactId}", "id": "{noteId}"}),
        ),
        "add-remove-contact-from-business" => d(
            "ghl.contacts.set_business",
            "Attach contacts to a business, or detach them",
            Object::closed().fields_of::<BulkBusinessRequest>().build(),
            requiring(of::<BulkBusinessResponse>(), &["success", "ids"]),
            json!({"locationId": "{locationId}", "ids": ["{contactId}"], "businessId": "{businessId}"}),
        ),
        "get-contact" => d(
            "ghl.contacts.get",
            "Get a contact",
            contact().build(),
            wrap("contact", of::<Contact>()),
            json!({"contactId": "{contactId}"}),
        ),
        "update-contact" => d(
            "ghl.contacts.update",
            "Update a contact",
            contact().fields_of::<UpdateContact>().build(),
            wrap("contact", of::<Contact>()),
            json!({"contactId": "{contactId}", "firstName": "Ana", "tags": ["buyer"], "dnd": true}),
        ),
        "delete-contact" => d(
            "ghl.contacts.delete",
            "Delete a contact",
            contact().build(),
            ok(),
            json!({"contactId": "{contactId}"}),
        ),
        "upsert-contact" => d(
            "ghl.contacts.upsert",
            "Create or update a contact",
            Object::closed().fields_of::<UpsertContact>().build(),
            of::<UpsertResponse>(),
            json!({"locationId": "{locationId}", "email": "ana@example.com", "firstName": "Ana"}),
        ),
        "create-contact" => d(
            "ghl.contacts.create",
            "Create a contact",
            Object::closed().fields_of::<CreateContact>().build(),
            wrap("contact", of::<Contact>()),
            json!({"locationId": "{locationId}", "firstName": "Ana", "email": "ana.new@example.com"}),
        ),
        "get-contacts" => d(
            "ghl.contacts.list",
            "List contacts (deprecated)",
            Object::closed().fields_of::<ListContactsQuery>().build(),
            of::<ListContactsResponse>(),
            json!({"locationId": "{locationId}", "limit": 20}),
        ),
        "get-contacts-by-businessId" => d(
            "ghl.contacts.list_by_business",
            "List a business's contacts",
            Object::closed()
                .path("businessId", "The business's id.")
                .fields_of::<BusinessContactsQuery>()
                .build(),
            of::<ContactList>(),
            json!({"businessId": "{businessId}", "locationId": "{locationId}", "limit": 20}),
        ),
        "add-followers-contact" => d(
            "ghl.followers.add",
            "Add followers to a contact",
            followers_body().build(),
            of::<FollowersResponse>(),
            json!({"contactId": "{contactId}", "followers": ["{userId}"]}),
        ),
        "remove-followers-contact" => d(
            "ghl.followers.remove",
            "Remove followers from a contact",
            followers_body().build(),
            of::<FollowersResponse>(),
            json!({"contactId": "{contactId}", "followers": ["{userId}"]}),
        ),
        "add-contact-to-campaign" => d(
            "ghl.campaigns.add_contact",
            "Add a contact to a campaign",
            campaign().build(),
            ok(),
            json!({"contactId": "{contactId}", "campaignId": "{campaignId}"}),
        ),
        "remove-contact-from-campaign" => d(
            "ghl.campaigns.remove_contact",
            "Remove a contact from a campaign",
            campaign().build(),
            ok(),
            json!({"contactId": "{contactId}", "campaignId": "{campaignId}"}),
        ),
        "remove-contact-from-every-campaign" => d(
            "ghl.campaigns.remove_contact_everywhere",
            "Remove a contact from every campaign",
            contact().build(),
            ok(),
            json!({"contactId": "{contactId}"}),
        ),
        "add-contact-to-workflow" => d(
            "ghl.workflows.add_contact",
            "Add a contact to a workflow",
            workflow().build(),
            ok(),
            json!({"contactId": "{contactId}", "workflowId": "{workflowId}"}),
        ),
        "delete-contact-from-workflow" => d(
            "ghl.workflows.remove_contact",
            "Remove a contact from a workflow",
            workflow().build(),
            ok(),
            json!({"contactId": "{contactId}", "workflowId": "{workflowId}"}),
        ),
        "get-user-by-location" => d(
            "ghl.users.list",
            "List a location's users",
            location().build(),
            wrap("users", list(of::<User>())),
            json!({"locationId": "{locationId}"}),
        ),
        "get-calendars" => d(
            "ghl.calendars.list",
            "List a location's calendars",
            location()
                .string("groupId", false, "Only the calendars of this group.")
                .boolean("showDrafted", false, "Include draft calendars.")
                .build(),
            wrap("calendars", list(of::<Calendar>())),
            json!({"locationId": "{locationId}"}),
        ),
        "create-appointment" => d(
            "ghl.appointments.create",
            "Book an appointment",
            Object::closed().fields_of::<CreateAppointment>().build(),
            requiring(of::<Appointment>(), APPOINTMENT_IDS),
            json!({"calendarId": "{calendarId}", "locationId": "{locationId}", "contactId": "{contactId}", "startTime": "2027-01-15T10:00:00Z", "endTime": "2027-01-15T10:30:00Z", "title": "Viewing"}),
        ),
        "edit-appointment" => d(
            "ghl.appointments.update",
            "Change an appointment",
            event().fields_of::<EditAppointment>().build(),
            requiring(of::<Appointment>(), APPOINTMENT_IDS),
            json!({"eventId": "{eventId}", "title": "Viewing (moved)"}),
        ),
        "get-appointment" => d(
            "ghl.appointments.get",
            "Get an appointment",
            event().build(),
            wrap("event", of::<Appointment>()),
            json!({"eventId": "{eventId}"}),
        ),
        "get-calendar-events" => d(
            "ghl.appointments.list",
            "List appointments in a time window",
            Object::closed().fields_of::<CalendarEventsQuery>().build(),
            wrap("events", list(of::<Appointment>())),
            json!({"locationId": "{locationId}", "calendarId": "{calendarId}", "startTime": 1767225600000_i64, "endTime": 1893456000000_i64}),
        ),
        "delete-event" => d(
            "ghl.appointments.delete",
            "Delete an appointment or blocked slot",
            event().build(),
            ok(),
            json!({"eventId": "{eventId}"}),
        ),
        "get-location-tags" => d(
            "ghl.location_tags.list",
            "List a location's tags",
            location().build(),
            wrap("tags", list(of::<LocationTag>())),
            json!({"locationId": "{locationId}"}),
        ),
        "create-tag" => d(
            "ghl.location_tags.create",
            "Create a tag",
            location().string("name", true, "The tag's name.").build(),
            wrap("tag", of::<LocationTag>()),
            json!({"locationId": "{locationId}", "name": "open-house"}),
        ),
        "get-tag-by-id" => d(
            "ghl.location_tags.get",
            "Get a tag",
            tag().build(),
            wrap("tag", of::<LocationTag>()),
            json!({"locationId": "{locationId}", "tagId": "{tagId}"}),
        ),
        "update-tag" => d(
            "ghl.location_tags.update",
            "Rename a tag",
            tag().string("name", true, "The new name.").build(),
            wrap("tag", of::<LocationTag>()),
            json!({"locationId": "{locationId}", "tagId": "{tagId}", "name": "open-house-2027"}),
        ),
        "delete-tag" => d(
            "ghl.location_tags.delete",
            "Delete a tag",
            tag().build(),
            ok(),
            json!({"locationId": "{locationId}", "tagId": "{tagId}"}),
        ),
        "get-custom-fields" => d(
            "ghl.custom_fields.list",
            "List a location's custom fields",
            location()
                .one_of(
                    "model",
                    &["contact", "opportunity", "all"],
                    false,
                    "Which records' fields.",
                )
                .build(),
            wrap("customFields", list(of::<LocationCustomField>())),
            json!({"locationId": "{locationId}", "model": "contact"}),
        ),
        "create-custom-field" => d(
            "ghl.custom_fields.create",
            "Create a custom field",
            location().fields_of::<CreateCustomField>().build(),
            wrap("customField", of::<LocationCustomField>()),
            json!({"locationId": "{locationId}", "name": "Budget", "dataType": "TEXT"}),
        ),
        "get-custom-field" => d(
            "ghl.custom_fields.get",
            "Get a custom field",
            field().build(),
            wrap("customField", of::<LocationCustomField>()),
            json!({"locationId": "{locationId}", "id": "{customFieldId}"}),
        ),
        "update-custom-field" => d(
            "ghl.custom_fields.update",
            "Update a custom field",
            field().fields_of::<UpdateCustomField>().build(),
            wrap("customField", of::<LocationCustomField>()),
            json!({"locationId": "{locationId}", "id": "{customFieldId}", "name": "Budget (USD)"}),
        ),
        "delete-custom-field" => d(
            "ghl.custom_fields.delete",
            "Delete a custom field",
            field().build(),
            ok(),
            json!({"locationId": "{locationId}", "id": "{customFieldId}"}),
        ),
        "get-access-token" => d(
            "ghl.oauth.get_token",
            "Exchange a code or refresh token for tokens",
            Object::closed()
                .string("client_id", true, "The app's client id.")
                .string("client_secret", true, "The app's client secret.")
                .one_of(
                    "grant_type",
                    &["authorization_code", "refresh_token", "client_credentials"],
                    true,
                    "What is exchanged.",
                )
                .string(
                    "code",
                    false,
                    "The authorization code (grant authorization_code).",
                )
                .string(
                    "refresh_token",
                    false,
                    "The refresh token (grant refresh_token); single use.",
                )
                .one_of(
                    "user_type",
                    &["Company", "Location"],
                    false,
                    "Which token to mint.",
                )
                .string(
                    "redirect_uri",
                    false,
                    "The redirect URI the code was sent to.",
                )
                .build(),
            requiring(of::<TokenResponse>(), &["userId"]),
            json!({"client_id": "{clientId}", "client_secret": "{clientSecret}", "grant_type": "refresh_token", "refresh_token": "{refreshToken}", "user_type": "Location"}),
        ),
        "get-location-access-token" => d(
            "ghl.oauth.get_location_token",
            "Mint a location token from an agency token",
            Object::closed()
                .string("companyId", true, "The agency (company) id.")
                .string("locationId", true, "The location to mint a token for.")
                .build(),
            requiring(of::<LocationTokenResponse>(), &["userId"]),
            json!({"companyId": "{companyId}", "locationId": "{locationId}"}),
        ),
        "get-installed-location" => d(
            "ghl.oauth.list_installed_locations",
            "List the locations where the app is installed",
            Object::closed()
                .fields_of::<InstalledLocationsQuery>()
                .build(),
            of::<InstalledLocations>(),
            json!({"companyId": "{companyId}", "appId": "{appId}", "isInstalled": true}),
        ),
        _ => return None,
    })
}

/// One webhook trigger as the catalog shows it.
#[derive(Debug, Clone)]
pub struct Trigger {
    /// The catalog id, `ghl.trigger.<event>`.
    pub id: &'static str,
    /// GHL's event name (the payload's `type`).
    pub event: &'static str,
    /// A few words.
    pub title: &'static str,
    /// When it fires and what to know.
    pub description: &'static str,
    /// The scope the app needs to receive it.
    pub scope: Option<&'static str>,
    /// JSON Schema of the event.
    pub output: Value,
}

/// `schema` with its `type` property fixed to `event`.
fn typed_as(mut schema: Value, event: &str) -> Value {
    schema["properties"]["type"] =
        json!({"type": "string", "const": event, "description": "The event name."});
    schema
}

/// Every webhook event the catalog offers as a trigger: the ones ghlsync's intake
/// reads and the sandbox sends.
pub fn triggers() -> Vec<Trigger> {
    use crate::events::{
        AppInstall, AppUninstall, AppointmentEvent, ContactEvent, NoteEvent, TaskEvent,
    };
    let contact = |id, event, title, description| Trigger {
        id,
        event,
        title,
        description,
        scope: C_SCOPE,
        output: typed_as(of::<ContactEvent>(), event),
    };
    let note = |id, event, title, description| Trigger {
        id,
        event,
        title,
        description,
        scope: C_SCOPE,
        output: typed_as(of::<NoteEvent>(), event),
    };
    let task = |id, event, title, description| Trigger {
        id,
        event,
        title,
        description,
        scope: C_SCOPE,
        output: typed_as(of::<TaskEvent>(), event),
    };
    let appointment = |id, event, title, description| Trigger {
        id,
        event,
        title,
        description,
        scope: Some("calendars/events.readonly"),
        output: typed_as(of::<AppointmentEvent>(), event),
    };
    vec![
        contact(
            "ghl.trigger.contact_create",
            "ContactCreate",
            "Contact created",
            "A contact was created in the location (by a person, a form, an import or the API). The payload holds the contact's fields.",
        ),
        contact(
            "ghl.trigger.contact_update",
            "ContactUpdate",
            "Contact updated",
            "A contact's fields changed. GHL sends the contact as it is now, not the changed fields alone.",
        ),
        contact(
            "ghl.trigger.contact_delete",
            "ContactDelete",
            "Contact deleted",
            "A contact was deleted; its tasks and notes go with it, without events of their own.",
        ),
        contact(
            "ghl.trigger.contact_tag_update",
            "ContactTagUpdate",
            "Contact tags changed",
            "Tags were added to or removed from a contact; `tags` is the whole list after the change.",
        ),
        contact(
            "ghl.trigger.contact_dnd_update",
            "ContactDndUpdate",
            "Contact do-not-disturb changed",
            "A contact's global or per-channel do-not-disturb changed (`dnd`, `dndSettings`).",
        ),
        note(
            "ghl.trigger.note_create",
            "NoteCreate",
            "Note created",
            "A note was added to a contact.",
        ),
        note(
            "ghl.trigger.note_update",
            "NoteUpdate",
            "Note updated",
            "A contact's note was edited.",
        ),
        note(
            "ghl.trigger.note_delete",
            "NoteDelete",
            "Note deleted",
            "A contact's note was deleted.",
        ),
        task(
            "ghl.trigger.task_create",
            "TaskCreate",
            "Task created",
            "A task was added to a contact. HighLevel's docs list it; users report it missing for tasks made through the API, and arriving without `contactId` and `body`, so ghlsync's reconciliation also walks tasks.",
        ),
        task(
            "ghl.trigger.task_complete",
            "TaskComplete",
            "Task completed",
            "A contact's task was marked completed. Reopening a task sends no event.",
        ),
        task(
            "ghl.trigger.task_delete",
            "TaskDelete",
            "Task deleted",
            "A contact's task was deleted.",
        ),
        appointment(
            "ghl.trigger.appointment_create",
            "AppointmentCreate",
            "Appointment booked",
            "An appointment was booked on a calendar of the location.",
        ),
        appointment(
            "ghl.trigger.appointment_update",
            "AppointmentUpdate",
            "Appointment changed",
            "An appointment's time, status, title or assignee changed.",
        ),
        appointment(
            "ghl.trigger.appointment_delete",
            "AppointmentDelete",
            "Appointment deleted",
            "An appointment was deleted.",
        ),
        Trigger {
            id: "ghl.trigger.app_install",
            event: "INSTALL",
            title: "App installed",
            description: "The marketplace app was installed at a location or an agency (HighLevel's AppInstall). ghlsync stores the installation and, with an agency token, mints the location's token.",
            scope: None,
            output: typed_as(of::<AppInstall>(), "INSTALL"),
        },
        Trigger {
            id: "ghl.trigger.app_uninstall",
            event: "UNINSTALL",
            title: "App uninstalled",
            description: "The marketplace app was removed from a location or agency (HighLevel's AppUninstall); its tokens stop working at once.",
            scope: None,
            output: typed_as(of::<AppUninstall>(), "UNINSTALL"),
        },
    ]
}

const C_SCOPE: Option<&str> = Some("contacts.readonly");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OPERATIONS;

    #[test]
    fn every_operation_is_described_once() {
        let mut ids = std::collections::BTreeSet::new();
        for op in OPERATIONS {
            let desc = describe(op.id).unwrap_or_else(|| panic!("{} is not described", op.id));
            assert!(desc.id.starts_with("ghl."), "{}", desc.id);
            assert!(ids.insert(desc.id.clone()), "{} twice", desc.id);
            assert_eq!(desc.input["type"], "object", "{}", op.id);
            for p in op.path_params {
                let req = desc.input["required"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                assert!(
                    req.contains(&Value::from(*p)),
                    "{}: {p} not required",
                    op.id
                );
            }
        }
        assert!(describe("no-such-op").is_none());
    }

    #[test]
    fn trigger_schemas_fix_the_event_name() {
        let all = triggers();
        assert_eq!(all.len(), 16);
        for t in &all {
            assert_eq!(t.output["properties"]["type"]["const"], t.event, "{}", t.id);
            assert!(t.id.starts_with("ghl.trigger."), "{}", t.id);
        }
    }
}
