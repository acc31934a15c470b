//! The V2 calendar: composite ids, no back-dating, listing, finishing, deleting.

use chrono::{Duration as Days, FixedOffset, TimeZone, Timelike, Utc};
use lofty::RetryClass;
use lofty::models::{
    CalendarEntryType, CalendarId, CalendarQuery, CreateCalendarEvent, UpdateCalendarEvent,
};
use serde_json::json;

use crate::helpers::{assert_api_error, spawn};

fn in_days(days: i64) -> chrono::DateTime<FixedOffset> {
    let offset = FixedOffset::west_opt(6 * 3600).unwrap();
    (Utc::now() + Days::days(days))
        .with_timezone(&offset)
        .with_nanosecond(0)
        .unwrap()
}

#[tokio::test]
async fn appointments_and_tasks_by_composite_id() {
    let ctx = spawn().await;
    let lead = ctx.new_lead("Calendared").await;
    let start = in_days(3);
    let appt = CreateCalendarEvent {
        address: Some("22 Oak St".to_owned()),
        ..CreateCalendarEvent::appointment(
            lead.lead_id,
            "Showing at Oak St",
            start,
            start + Days::minutes(30),
            "America/Chicago",
        )
    };
    let created = ctx.client.create_calendar_event(&appt).await.unwrap();
    assert_eq!(created.id.kind, CalendarEntryType::Appointment);
    assert!(created.id.task_id > 1 << 53);
    assert_eq!(created.entry_type.as_deref(), Some("APPOINTMENT"));
    // The same entry through the task API.
    let task = ctx.client.get_task(created.id.task_id).await.unwrap();
    assert!(task.is_appointment());
    assert_eq!(task.address.as_deref(), Some("22 Oak St"));

    let todo = CreateCalendarEvent::task(
        lead.lead_id,
        "Send the disclosures",
        "email",
        start,
        start + Days::hours(1),
        "America/Chicago",
    );
    let task_id = ctx.client.create_calendar_event(&todo).await.unwrap().id;
    assert_eq!(task_id.to_string(), format!("{}-task", task_id.task_id));

    let query = CalendarQuery {
        lead_id: Some(lead.lead_id),
        ..CalendarQuery::between(in_days(1), in_days(5))
    };
    let page = ctx.client.list_calendar(&query).await.unwrap();
    assert_eq!(page.total, Some(2));
    let item = page.items.iter().find(|i| i.id == created.id).unwrap();
    assert_eq!(item.entry_type.as_deref(), Some("APPOINTMENT"));
    assert_eq!(item.start_at_ms, Some(start.timestamp_millis()));
    assert_eq!(
        item.start_at.as_deref().and_then(lofty::time::parse),
        Some(start.with_timezone(&Utc))
    );

    let later = start + Days::days(1);
    ctx.client
        .update_calendar_event(
            &created.id,
            &UpdateCalendarEvent {
                start_at: Some(lofty::time::iso(later)),
                end_at: Some(lofty::time::iso(later + Days::hours(1))),
                content: Some("Moved".to_owned()),
                ..UpdateCalendarEvent::default()
            },
        )
        .await
        .unwrap();
    let moved = ctx.client.get_task(created.id.task_id).await.unwrap();
    assert_eq!(moved.content.as_deref(), Some("Moved"));

    ctx.client
        .set_calendar_event_finished(&task_id, true)
        .await
        .unwrap();
    let open = ctx.client.list_calendar(&query).await.unwrap();
    assert_eq!(
        open.total,
        Some(1),
        "finished entries are hidden by default"
    );
    let all = ctx
        .client
        .list_calendar(&CalendarQuery {
            include_finished: Some(true),
            ..query.clone()
        })
        .await
        .unwrap();
    assert_eq!(all.total, Some(2));
    ctx.client
        .set_calendar_event_finished(&task_id, false)
        .await
        .unwrap();
    ctx.client.delete_calendar_event(&task_id).await.unwrap();
    let err = ctx.client.get_task(task_id.task_id).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    ctx.shutdown().await;
}

#[tokio::test]
async fn past_times_wrong_ids_and_all_day() {
    let ctx = spawn().await;
    let lead = ctx.new_lead("Past").await;
    let past = in_days(-1);
    let err = ctx
        .client
        .create_calendar_event(&CreateCalendarEvent::appointment(
            lead.lead_id,
            "Yesterday",
            past,
            past + Days::hours(1),
            "America/Chicago",
        ))
        .await
        .unwrap_err();
    assert_api_error(&err, 400, "20012", RetryClass::GiveUp);
    assert!(
        err.to_string().contains("later than the current time"),
        "{err}"
    );
    let err = ctx
        .client
        .call(
            "lofty-create-calendar-event",
            json!({"type": "TASK", "content": "x", "leadId": lead.lead_id,
                   "timeZoneCode": "UTC", "startAtMs": in_days(1).timestamp_millis(),
                   "endAtMs": in_days(2).timestamp_millis()}),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("taskWay"), "{err}");
    // Milliseconds work in place of ISO strings.
    let ok = ctx
        .client
        .call(
            "lofty-create-calendar-event",
            json!({"type": "task", "taskWay": "Call", "content": "x", "leadId": lead.lead_id,
                   "timeZoneCode": "UTC", "startAtMs": in_days(1).timestamp_millis(),
                   "endAtMs": in_days(2).timestamp_millis()}),
        )
        .await
        .unwrap();
    let id: CalendarId = ok["data"]["id"].as_str().unwrap().parse().unwrap();
    // A composite id of the wrong kind or shape is refused.
    let wrong = CalendarId::appointment(id.task_id);
    let err = ctx.client.delete_calendar_event(&wrong).await.unwrap_err();
    assert_api_error(&err, 400, "20012", RetryClass::GiveUp);
    let err = ctx
        .client
        .call(
            "lofty-delete-calendar-event",
            json!({"calendarId": "12345"}),
        )
        .await
        .unwrap_err();
    assert_api_error(&err, 400, "20012", RetryClass::GiveUp);
    let err = ctx
        .client
        .update_calendar_event(
            &id,
            &UpdateCalendarEvent {
                start_at: Some(lofty::time::iso(past)),
                ..UpdateCalendarEvent::default()
            },
        )
        .await
        .unwrap_err();
    assert_api_error(&err, 400, "20012", RetryClass::GiveUp);
    let err = ctx
        .client
        .list_calendar(&CalendarQuery::default())
        .await
        .unwrap_err();
    assert_api_error(&err, 400, "20012", RetryClass::GiveUp);

    // Midnight to midnight is an all-day appointment.
    let offset = FixedOffset::east_opt(0).unwrap();
    let day = (Utc::now() + Days::days(10)).date_naive();
    let midnight = offset
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
        .unwrap();
    let created = ctx
        .client
        .create_calendar_event(&CreateCalendarEvent::appointment(
            lead.lead_id,
            "Open house",
            midnight,
            midnight + Days::days(1),
            "UTC",
        ))
        .await
        .unwrap();
    let task = ctx.client.get_task(created.id.task_id).await.unwrap();
    assert_eq!(task.all_day, Some(true));
    ctx.shutdown().await;
}
