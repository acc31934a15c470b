//! Every operation of `ghl::OPERATIONS`, once, through `GhlClient::call` with a valid
//! input: each must answer 2xx with its documented top-level key, and must reach the
//! sandbox route with the same method and path template as the operations table.
//!
//! A new operation in the table without an entry here fails
//! `call_table_covers_every_operation`; one without a typed test fails
//! `typed_tests_cover_every_operation`.

use std::collections::BTreeSet;

use ghl::{GhlClient, OPERATIONS};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::spawn;

/// Execution order of the call table (creates before reads, deletes last).
const ORDER: &[&str] = &[
    "create-contact",
    "get-contact",
    "update-contact",
    "upsert-contact",
    "get-duplicate-contact",
    "search-contacts-advanced",
    "get-contacts",
    "get-all-tasks",
    "create-task",
    "get-task",
    "update-task",
    "update-task-completed",
    "task-search",
    "add-tags",
    "remove-tags",
    "get-all-notes",
    "create-note",
    "get-note",
    "update-note",
    "create-association",
    "add-remove-contact-from-business",
    "get-contacts-by-businessId",
    "add-followers-contact",
    "remove-followers-contact",
    "add-contact-to-campaign",
    "remove-contact-from-campaign",
    "remove-contact-from-every-campaign",
    "add-contact-to-workflow",
    "delete-contact-from-workflow",
    "get-user-by-location",
    "get-calendars",
    "create-appointment",
    "get-appointment",
    "edit-appointment",
    "get-calendar-events",
    "get-appointments-for-contact",
    "delete-event",
    "get-location-tags",
    "create-tag",
    "get-tag-by-id",
    "update-tag",
    "delete-tag",
    "get-custom-fields",
    "create-custom-field",
    "get-custom-field",
    "update-custom-field",
    "delete-custom-field",
    "get-access-token",
    "get-installed-location",
    "get-location-access-token",
    "delete-note",
    "delete-task",
    "delete-contact",
];

/// Which typed test exercises each operation through its typed method.
const TYPED: &[(&str, &str)] = &[
    (
        "search-contacts-advanced",
        "contacts::search_and_deprecated_list",
    ),
    (
        "get-duplicate-contact",
        "contacts::create_get_update_duplicate_delete",
    ),
    ("get-all-tasks", "tasks_notes::tasks_crud_and_completion"),
    ("task-search", "tasks_notes::tasks_crud_and_completion"),
    ("create-task", "tasks_notes::tasks_crud_and_completion"),
    ("get-task", "tasks_notes::tasks_crud_and_completion"),
    ("update-task", "tasks_notes::tasks_crud_and_completion"),
    ("delete-task", "tasks_notes::tasks_crud_and_completion"),
    (
        "update-task-completed",
        "tasks_notes::tasks_crud_and_completion",
    ),
    (
        "get-appointments-for-contact",
        "calendars_locations::appointments_lifecycle_and_views_agree",
    ),
    ("add-tags", "contacts::tags_followers_campaigns_workflows"),
    (
        "remove-tags",
        "contacts::tags_followers_campaigns_workflows",
    ),
    ("get-all-notes", "tasks_notes::notes_crud"),
    ("create-note", "tasks_notes::notes_crud"),
    ("get-note", "tasks_notes::notes_crud"),
    ("update-note", "tasks_notes::notes_crud"),
    ("delete-note", "tasks_notes::notes_crud"),
    ("create-association", "contacts::bulk_tags_and_business"),
    (
        "add-remove-contact-from-business",
        "contacts::bulk_tags_and_business",
    ),
    (
        "get-contact",
        "contacts::create_get_update_duplicate_delete",
    ),
    (
        "update-contact",
        "contacts::create_get_update_duplicate_delete",
    ),
    (
        "delete-contact",
        "contacts::create_get_update_duplicate_delete",
    ),
    ("upsert-contact", "contacts::upsert_creates_then_updates"),
    (
        "get-contacts-by-businessId",
        "contacts::bulk_tags_and_business",
    ),
    (
        "add-followers-contact",
        "contacts::tags_followers_campaigns_workflows",
    ),
    (
        "remove-followers-contact",
        "contacts::tags_followers_campaigns_workflows",
    ),
    (
        "add-contact-to-campaign",
        "contacts::tags_followers_campaigns_workflows",
    ),
    (
        "remove-contact-from-campaign",
        "contacts::tags_followers_campaigns_workflows",
    ),
    (
        "remove-contact-from-every-campaign",
        "contacts::tags_followers_campaigns_workflows",
    ),
    (
        "add-contact-to-workflow",
        "contacts::tags_followers_campaigns_workflows",
    ),
    (
        "delete-contact-from-workflow",
        "contacts::tags_followers_campaigns_workflows",
    ),
    (
        "create-contact",
        "contacts::create_get_update_duplicate_delete",
    ),
    ("get-contacts", "contacts::search_and_deprecated_list"),
    (
        "create-appointment",
        "calendars_locations::appointments_lifecycle_and_views_agree",
    ),
    (
        "edit-appointment",
        "calendars_locations::appointments_lifecycle_and_views_agree",
    ),
    (
        "get-appointment",
        "calendars_locations::appointments_lifecycle_and_views_agree",
    ),
    (
        "get-calendar-events",
        "calendars_locations::appointments_lifecycle_and_views_agree",
    ),
    (
        "get-calendars",
        "calendars_locations::appointments_lifecycle_and_views_agree",
    ),
    (
        "get-user-by-location",
        "calendars_locations::appointments_lifecycle_and_views_agree",
    ),
    (
        "delete-event",
        "calendars_locations::appointments_lifecycle_and_views_agree",
    ),
    (
        "get-location-tags",
        "calendars_locations::location_tags_crud",
    ),
    ("create-tag", "calendars_locations::location_tags_crud"),
    ("get-tag-by-id", "calendars_locations::location_tags_crud"),
    ("update-tag", "calendars_locations::location_tags_crud"),
    ("delete-tag", "calendars_locations::location_tags_crud"),
    (
        "get-custom-fields",
        "calendars_locations::custom_fields_crud_and_contact_value_by_key",
    ),
    (
        "create-custom-field",
        "calendars_locations::custom_fields_crud_and_contact_value_by_key",
    ),
    (
        "get-custom-field",
        "calendars_locations::custom_fields_crud_and_contact_value_by_key",
    ),
    (
        "update-custom-field",
        "calendars_locations::custom_fields_crud_and_contact_value_by_key",
    ),
    (
        "delete-custom-field",
        "calendars_locations::custom_fields_crud_and_contact_value_by_key",
    ),
    (
        "get-access-token",
        "oauth::code_exchange_and_single_use_refresh",
    ),
    (
        "get-location-access-token",
        "oauth::agency_token_lists_locations_and_mints_location_tokens",
    ),
    (
        "get-installed-location",
        "oauth::agency_token_lists_locations_and_mints_location_tokens",
    ),
];

fn table_ids() -> BTreeSet<&'static str> {
    OPERATIONS.iter().map(|op| op.id).collect()
}

#[test]
fn call_table_covers_every_operation() {
    let ordered: BTreeSet<&str> = ORDER.iter().copied().collect();
    assert_eq!(ordered.len(), ORDER.len(), "an operation is listed twice");
    assert_eq!(ordered, table_ids());
}

#[test]
fn typed_tests_cover_every_operation() {
    let typed: BTreeSet<&str> = TYPED.iter().map(|(id, _)| *id).collect();
    assert_eq!(typed.len(), TYPED.len(), "an operation is listed twice");
    assert_eq!(typed, table_ids());
}

/// Ids created along the way.
#[derive(Debug, Default)]
struct Made {
    contact: String,
    task: String,
    note: String,
    event: String,
    tag: String,
    field: String,
    agency_token: String,
}

fn id_at(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {value}"))
        .to_owned()
}

#[tokio::test]
async fn every_operation_answers_2xx_via_call() {
    let ctx = spawn().await;
    let (a, info) = (&ctx.a, &ctx.info);
    let code = ctx
        .code(
            &info.company_id,
            "oauth.readonly oauth.write contacts.readonly",
        )
        .await;
    let email = crate::helpers::unique_email("table");
    let (user, business) = (&a.user_ids[0], &a.business_ids[0]);
    let (campaign, workflow, calendar) =
        (&a.campaign_ids[0], &a.workflow_ids[0], &a.calendar_ids[0]);
    let app_id = info.client_id.split('-').next().unwrap().to_owned();
    let mut made = Made::default();

    for &id in ORDER {
        let m = &made;
        let (input, key): (Value, &str) = match id {
            "create-contact" => (
                json!({"locationId": a.id, "firstName": "Table", "email": email}),
                "/contact/id",
            ),
            "get-contact" => (json!({"contactId": m.contact}), "/contact/id"),
            "update-contact" => (
                json!({"contactId": m.contact, "lastName": "Driven"}),
                "/succeded",
            ),
            "upsert-contact" => (
                json!({"locationId": a.id, "email": email, "city": "Austin"}),
                "/new",
            ),
            "get-duplicate-contact" => (json!({"locationId": a.id, "email": email}), "/contact/id"),
            "search-contacts-advanced" => (
                json!({"locationId": a.id, "pageLimit": 10,
                       "filters": [{"field": "email", "operator": "eq", "value": email}]}),
                "/total",
            ),
            "get-contacts" => (json!({"locationId": a.id, "limit": 5}), "/meta"),
            "get-all-tasks" => (json!({"contactId": m.contact}), "/tasks"),
            "task-search" => (json!({"locationId": a.id, "limit": 10}), "/tasks/0/id"),
            "create-task" => (
                json!({"contactId": m.contact, "title": "T", "dueDate": "2030-01-01T00:00:00Z",
                       "completed": false}),
                "/task/id",
            ),
            "get-task" => (
                json!({"contactId": m.contact, "taskId": m.task}),
                "/task/id",
            ),
            "update-task" => (
                json!({"contactId": m.contact, "taskId": m.task, "title": "T2"}),
                "/task/id",
            ),
            "update-task-completed" => (
                json!({"contactId": m.contact, "taskId": m.task, "completed": true}),
                "/task/completed",
            ),
            "add-tags" => (json!({"contactId": m.contact, "tags": ["x", "y"]}), "/tags"),
            "remove-tags" => (json!({"contactId": m.contact, "tags": ["x"]}), "/tags"),
            "get-all-notes" => (json!({"contactId": m.contact}), "/notes"),
            "create-note" => (json!({"contactId": m.contact, "body": "hello"}), "/note/id"),
            "get-note" => (json!({"contactId": m.contact, "id": m.note}), "/note/id"),
            "update-note" => (
                json!({"contactId": m.contact, "id": m.note, "body": "bye"}),
                "/note/id",
            ),
            "create-association" => (
                json!({"type": "add", "contacts": [m.contact], "tags": ["bulk"],
                       "locationId": a.id}),
                "/responses",
            ),
            "add-remove-contact-from-business" => (
                json!({"locationId": a.id, "ids": [m.contact], "businessId": business}),
                "/success",
            ),
            "get-contacts-by-businessId" => (
                json!({"businessId": business, "locationId": a.id, "limit": 10}),
                "/contacts/0/id",
            ),
            "add-followers-contact" => (
                json!({"contactId": m.contact, "followers": [user]}),
                "/followersAdded",
            ),
            "remove-followers-contact" => (
                json!({"contactId": m.contact, "followers": [user]}),
                "/followersRemoved",
            ),
            "add-contact-to-campaign" | "remove-contact-from-campaign" => (
                json!({"contactId": m.contact, "campaignId": campaign}),
                "/succeded",
            ),
            "remove-contact-from-every-campaign" => (json!({"contactId": m.contact}), "/succeded"),
            "add-contact-to-workflow" => (
                json!({"contactId": m.contact, "workflowId": workflow,
                       "eventStartTime": "2030-01-01T10:00:00Z"}),
                "/succeded",
            ),
            "delete-contact-from-workflow" => (
                json!({"contactId": m.contact, "workflowId": workflow}),
                "/succeded",
            ),
            "create-appointment" => (
                json!({"calendarId": calendar, "locationId": a.id, "contactId": m.contact,
                       "startTime": "2030-01-02T10:00:00Z"}),
                "/id",
            ),
            "get-calendars" => (json!({"locationId": a.id}), "/calendars/0/id"),
            "get-user-by-location" => (json!({"locationId": a.id}), "/users/0/id"),
            "get-appointment" => (json!({"eventId": m.event}), "/event/id"),
            "edit-appointment" => (json!({"eventId": m.event, "title": "Edited"}), "/id"),
            "get-calendar-events" => (
                json!({"locationId": a.id, "calendarId": calendar,
                       "startTime": 1_893_542_400_000_i64, "endTime": 1_893_628_800_000_i64}),
                "/events/0/id",
            ),
            "get-appointments-for-contact" => (json!({"contactId": m.contact}), "/events/0/id"),
            "delete-event" => (json!({"eventId": m.event}), "/succeeded"),
            "get-location-tags" => (json!({"locationId": a.id}), "/tags"),
            "create-tag" => (json!({"locationId": a.id, "name": "table-tag"}), "/tag/id"),
            "get-tag-by-id" => (json!({"locationId": a.id, "tagId": m.tag}), "/tag/id"),
            "update-tag" => (
                json!({"locationId": a.id, "tagId": m.tag, "name": "table-tag-2"}),
                "/tag/name",
            ),
            "delete-tag" => (json!({"locationId": a.id, "tagId": m.tag}), "/succeded"),
            "get-custom-fields" => (
                json!({"locationId": a.id, "model": "contact"}),
                "/customFields",
            ),
            "create-custom-field" => (
                json!({"locationId": a.id, "name": "Table Field", "dataType": "TEXT"}),
                "/customField/id",
            ),
            "get-custom-field" => (
                json!({"locationId": a.id, "id": m.field}),
                "/customField/id",
            ),
            "update-custom-field" => (
                json!({"locationId": a.id, "id": m.field, "name": "Table Field 2"}),
                "/customField/name",
            ),
            "delete-custom-field" => (json!({"locationId": a.id, "id": m.field}), "/succeded"),
            "get-access-token" => (
                json!({"client_id": info.client_id, "client_secret": info.client_secret,
                       "grant_type": "authorization_code", "code": code, "user_type": "Company"}),
                "/access_token",
            ),
            "get-installed-location" => (
                json!({"companyId": info.company_id, "appId": app_id, "isInstalled": true}),
                "/locations/0/_id",
            ),
            "get-location-access-token" => (
                json!({"companyId": info.company_id, "locationId": a.id}),
                "/access_token",
            ),
            "delete-note" => (json!({"contactId": m.contact, "id": m.note}), "/succeded"),
            "delete-task" => (
                json!({"contactId": m.contact, "taskId": m.task}),
                "/succeded",
            ),
            "delete-contact" => (json!({"contactId": m.contact}), "/succeded"),
            other => panic!("no input for {other}"),
        };
        let client: GhlClient =
            if matches!(id, "get-installed-location" | "get-location-access-token") {
                ctx.client
                    .with_token(SecretString::from(made.agency_token.clone()))
            } else {
                ctx.client.clone()
            };
        let out = client
            .call(id, input.clone())
            .await
            .unwrap_or_else(|e| panic!("{id} {input}: {e}"));
        assert!(
            out.pointer(key).is_some_and(|v| !v.is_null()),
            "{id}: no {key} in {out}"
        );
        match id {
            "create-contact" => made.contact = id_at(&out, "/contact/id"),
            "create-task" => made.task = id_at(&out, "/task/id"),
            "create-note" => made.note = id_at(&out, "/note/id"),
            "create-appointment" => made.event = id_at(&out, "/id"),
            "create-tag" => made.tag = id_at(&out, "/tag/id"),
            "create-custom-field" => made.field = id_at(&out, "/customField/id"),
            "get-access-token" => made.agency_token = id_at(&out, "/access_token"),
            "upsert-contact" => assert_eq!(out["new"], json!(false), "{out}"),
            _ => {}
        }
    }

    // Each call reached the sandbox route with the table's method and path template.
    let counters = ctx.get("/_sandbox/counters").await;
    let routes: BTreeSet<String> = counters["locations"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|c| c["by_route"].as_object().unwrap().keys().cloned())
        .collect();
    for op in OPERATIONS {
        let route = format!("{} {}", op.method, op.path);
        assert!(
            routes.contains(&route),
            "{} did not hit {route}: {routes:?}",
            op.id
        );
    }
    ctx.shutdown().await;
}
