//! Appointments and calendar events (Version 2021-04-15), location custom fields (and a
//! contact value set by key), location tags.

use ghl::RetryClass;
use ghl::models::{
    CalendarEventsQuery, CreateAppointment, CreateCustomField, CustomFieldInput, CustomFieldModel,
    EditAppointment, UpdateContact, UpdateCustomField,
};
use serde_json::json;

use crate::helpers::{assert_api_error, spawn};

/// 2030-01-02T00:00:00Z in epoch milliseconds (far from the seeded 2026 appointments).
const DAY_START_MS: i64 = 1_893_542_400_000;
const DAY_MS: i64 = 86_400_000;

/// create-appointment, get-appointment, edit-appointment, get-calendar-events,
/// get-appointments-for-contact and delete-event agree with each other.
#[tokio::test]
async fn appointments_lifecycle_and_views_agree() {
    let ctx = spawn().await;
    let c = &ctx.client;
    let contact = ctx.new_contact("Ava").await.id;
    let calendar = ctx.a.calendar_ids[0].clone();
    let user = ctx.a.user_ids[2].clone();

    // What an appointment can be booked on: the location's calendars, named.
    let calendars = c.list_calendars(&ctx.a.id).await.unwrap();
    let ids: Vec<&str> = calendars.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, ctx.a.calendar_ids, "{calendars:?}");
    assert!(
        calendars
            .iter()
            .all(|k| !k.name.is_empty() && k.location_id.as_deref() == Some(ctx.a.id.as_str()))
    );
    assert!(
        c.list_calendars("nope").await.is_err(),
        "another location's calendars"
    );
    // Who a task can be assigned to: the location's users.
    let users = c.list_users(&ctx.a.id).await.unwrap();
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ctx.a.user_ids, "{users:?}");
    assert!(
        users
            .iter()
            .all(|u| !u.name.is_empty() && u.email.is_some())
    );

    let created = c
        .create_appointment(&CreateAppointment {
            calendar_id: calendar.clone(),
            location_id: ctx.a.id.clone(),
            contact_id: contact.clone(),
            start_time: "2030-01-02T10:00:00+00:00".to_owned(),
            end_time: Some("2030-01-02T10:30:00+00:00".to_owned()),
            title: Some("Showing".to_owned()),
            appointment_status: Some("confirmed".to_owned()),
            assigned_user_id: Some(user.clone()),
            address: Some("1 Main St".to_owned()),
            meeting_location_type: Some("address".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.id.len(), 20, "{created:?}");
    assert_eq!(created.contact_id.as_deref(), Some(contact.as_str()));
    assert_eq!(created.calendar_id.as_deref(), Some(calendar.as_str()));

    let got = c.get_appointment(&created.id).await.unwrap();
    assert_eq!(got.title.as_deref(), Some("Showing"));
    assert_eq!(got.appointment_status.as_deref(), Some("confirmed"));
    assert_eq!(got.assigned_user_id.as_deref(), Some(user.as_str()));
    assert_eq!(got.address.as_deref(), Some("1 Main St"));
    assert_eq!(got.start_time.as_deref(), Some("2030-01-02T10:00:00+00:00"));
    assert_eq!(got.end_time.as_deref(), Some("2030-01-02T10:30:00+00:00"));

    let edited = c
        .edit_appointment(
            &created.id,
            &EditAppointment {
                title: Some("Second showing".to_owned()),
                appointment_status: Some("showed".to_owned()),
                start_time: Some("2030-01-02T11:00:00+00:00".to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(edited.title.as_deref(), Some("Second showing"));
    let got = c.get_appointment(&created.id).await.unwrap();
    assert_eq!(got.title.as_deref(), Some("Second showing"));
    assert_eq!(got.appointment_status.as_deref(), Some("showed"));
    assert_eq!(got.start_time.as_deref(), Some("2030-01-02T11:00:00+00:00"));
    assert_eq!(
        got.end_time.as_deref(),
        Some("2030-01-02T11:30:00+00:00"),
        "duration kept"
    );

    let events = |calendar_id: Option<String>, user_id: Option<String>| CalendarEventsQuery {
        location_id: ctx.a.id.clone(),
        start_time: DAY_START_MS,
        end_time: DAY_START_MS + DAY_MS,
        calendar_id,
        user_id,
        group_id: None,
    };
    let by_calendar = c
        .get_calendar_events(&events(Some(calendar.clone()), None))
        .await
        .unwrap();
    assert_eq!(by_calendar.len(), 1, "{by_calendar:?}");
    assert_eq!(by_calendar[0].id, created.id);
    assert_eq!(by_calendar[0].title.as_deref(), Some("Second showing"));
    let by_user = c
        .get_calendar_events(&events(None, Some(user.clone())))
        .await
        .unwrap();
    assert_eq!(by_user.len(), 1);
    let other_calendar = c
        .get_calendar_events(&events(Some(ctx.a.calendar_ids[1].clone()), None))
        .await
        .unwrap();
    assert!(other_calendar.is_empty());

    let of_contact = c.contact_appointments(&contact).await.unwrap();
    assert_eq!(of_contact.len(), 1);
    assert_eq!(of_contact[0].id, created.id);
    assert_eq!(
        of_contact[0].calendar_id.as_deref(),
        Some(calendar.as_str())
    );
    assert_eq!(of_contact[0].title.as_deref(), Some("Second showing"));
    assert_eq!(of_contact[0].appointment_status.as_deref(), Some("showed"));
    assert_eq!(
        of_contact[0].start_time.as_deref(),
        Some("2030-01-02 11:00:00"),
        "contact appointments use GHL's 'YYYY-MM-DD hh:mm:ss' format"
    );

    assert!(c.delete_event(&created.id).await.unwrap().is_success());
    let err = c.get_appointment(&created.id).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.retry_class(), RetryClass::GiveUp);
    assert!(c.contact_appointments(&contact).await.unwrap().is_empty());
    assert!(
        c.get_calendar_events(&events(Some(calendar), None))
            .await
            .unwrap()
            .is_empty()
    );
    ctx.shutdown().await;
}

/// get-custom-fields, create-custom-field, get-custom-field, update-custom-field,
/// delete-custom-field, and a contact value written by field key.
#[tokio::test]
async fn custom_fields_crud_and_contact_value_by_key() {
    let ctx = spawn().await;
    let c = &ctx.client;
    let loc = ctx.a.id.as_str();
    let before = c
        .list_custom_fields(loc, Some(CustomFieldModel::Contact))
        .await
        .unwrap();
    assert!(
        before
            .iter()
            .any(|f| f.field_key.as_deref() == Some("contact.pincode"))
    );

    let field = c
        .create_custom_field(
            loc,
            &CreateCustomField {
                name: "Favourite Colour".to_owned(),
                data_type: "TEXT".to_owned(),
                placeholder: Some("e.g. blue".to_owned()),
                model: Some(CustomFieldModel::Contact),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(field.name, "Favourite Colour");
    assert_eq!(field.data_type.as_deref(), Some("TEXT"));
    let key = field.field_key.clone().expect("fieldKey");
    assert_eq!(key, "contact.favourite_colour");

    let got = c.get_custom_field(loc, &field.id).await.unwrap();
    assert_eq!(got.id, field.id);
    assert_eq!(got.placeholder.as_deref(), Some("e.g. blue"));
    let listed = c
        .list_custom_fields(loc, Some(CustomFieldModel::Contact))
        .await
        .unwrap();
    assert_eq!(listed.len(), before.len() + 1);
    assert!(listed.iter().any(|f| f.id == field.id));

    let updated = c
        .update_custom_field(
            loc,
            &field.id,
            &UpdateCustomField {
                name: "Favorite Color".to_owned(),
                placeholder: Some("e.g. red".to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "Favorite Color");
    let got = c.get_custom_field(loc, &field.id).await.unwrap();
    assert_eq!(got.name, "Favorite Color");
    assert_eq!(got.placeholder.as_deref(), Some("e.g. red"));
    assert_eq!(
        got.field_key.as_deref(),
        Some(key.as_str()),
        "key is stable"
    );

    // A contact value written by key is read back by id.
    let contact = ctx.new_contact("Kay").await.id;
    c.update_contact(
        &contact,
        &UpdateContact {
            custom_fields: Some(vec![CustomFieldInput::by_key(key.as_str(), "blue")]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let read = c.get_contact(&contact).await.unwrap();
    assert_eq!(read.custom_field(&field.id), Some(&json!("blue")));

    assert!(
        c.delete_custom_field(loc, &field.id)
            .await
            .unwrap()
            .is_success()
    );
    let err = c.get_custom_field(loc, &field.id).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let after = c.list_custom_fields(loc, None).await.unwrap();
    assert!(after.iter().all(|f| f.id != field.id));
    let read = c.get_contact(&contact).await.unwrap();
    assert_eq!(
        read.custom_field(&field.id),
        None,
        "value goes with the field"
    );
    ctx.shutdown().await;
}

/// get-location-tags, create-tag, get-tag-by-id, update-tag, delete-tag.
#[tokio::test]
async fn location_tags_crud() {
    let ctx = spawn().await;
    let c = &ctx.client;
    let loc = ctx.a.id.as_str();
    let before = c.list_location_tags(loc).await.unwrap();
    assert!(!before.is_empty(), "seeded contacts create tags");

    let tag = c.create_location_tag(loc, "open-house").await.unwrap();
    assert_eq!(tag.name, "open-house");
    assert_eq!(tag.location_id.as_deref(), Some(loc));
    let got = c.get_location_tag(loc, &tag.id).await.unwrap();
    assert_eq!(got.name, "open-house");
    let listed = c.list_location_tags(loc).await.unwrap();
    assert_eq!(listed.len(), before.len() + 1);

    // Renaming a tag renames it on contacts too.
    let contact = ctx.new_contact("Ray").await.id;
    c.add_tags(&contact, &["open-house".to_owned()])
        .await
        .unwrap();
    let renamed = c
        .update_location_tag(loc, &tag.id, "open-house-2030")
        .await
        .unwrap();
    assert_eq!(renamed.name, "open-house-2030");
    assert_eq!(
        c.get_location_tag(loc, &tag.id).await.unwrap().name,
        "open-house-2030"
    );
    assert_eq!(
        c.get_contact(&contact).await.unwrap().tags,
        ["open-house-2030"]
    );

    let err = c
        .create_location_tag(loc, "open-house-2030")
        .await
        .unwrap_err();
    assert_api_error(&err, 400, RetryClass::GiveUp, "already exists");

    assert!(
        c.delete_location_tag(loc, &tag.id)
            .await
            .unwrap()
            .is_success()
    );
    let err = c.get_location_tag(loc, &tag.id).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(c.list_location_tags(loc).await.unwrap().len(), before.len());
    assert!(c.get_contact(&contact).await.unwrap().tags.is_empty());
    ctx.shutdown().await;
}
