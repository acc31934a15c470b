//! V2 tasks: CRUD, finish / unfinish, the shared id namespace, my-tasks.

use lofty::RetryClass;
use lofty::models::{CreateTask, MyTasksQuery, TaskType, UpdateTask};
use serde_json::json;

use crate::helpers::{assert_api_error, spawn};

#[tokio::test]
async fn tasks_crud_and_completion() {
    let ctx = spawn().await;
    let lead = ctx.new_lead("Tasked").await;
    let task = CreateTask {
        start_at: Some("2026-03-01T15:00:00-08:00".to_owned()),
        time_zone_code: Some("America/Los_Angeles".to_owned()),
        ..CreateTask::new(
            lead.lead_id,
            TaskType::Call,
            "Call about the listing",
            "2026-03-01T16:00:00-08:00",
        )
    };
    let id = ctx.client.create_task(&task).await.unwrap();
    let got = ctx.client.get_task(id).await.unwrap();
    assert_eq!(got.id, id);
    assert_eq!(got.lead_id, lead.lead_id);
    assert_eq!(got.task_type.as_deref(), Some("Call"));
    assert_eq!(got.content.as_deref(), Some("Call about the listing"));
    assert!(!got.is_finished());
    // Lofty answers times in UTC with a GMT suffix.
    assert_eq!(got.end_at.as_deref(), Some("2026-03-02T00:00:00GMT"));
    assert_eq!(got.assigned_user_id, Some(ctx.owner()));
    assert_eq!(got.lead_email.as_deref(), lead.email());

    let msg = ctx
        .client
        .update_task(
            id,
            &UpdateTask {
                content: Some("Call about the offer".to_owned()),
                ..UpdateTask::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(msg.message.as_deref(), Some("Operation successful"));
    ctx.client.set_task_finished(id, true).await.unwrap();
    let got = ctx.client.get_task(id).await.unwrap();
    assert!(got.is_finished());
    assert!(got.finish_time.is_some());
    assert_eq!(got.content.as_deref(), Some("Call about the offer"));
    ctx.client.set_task_finished(id, false).await.unwrap();
    assert!(!ctx.client.get_task(id).await.unwrap().is_finished());

    // An appointment through the task API shares the id namespace.
    let appt = ctx
        .client
        .create_task(&CreateTask {
            address: Some("1 Main St".to_owned()),
            ..CreateTask::new(
                lead.lead_id,
                TaskType::Appointment,
                "Showing",
                "2026-04-01T10:00:00-05:00",
            )
        })
        .await
        .unwrap();
    let tasks = ctx.client.list_tasks(lead.lead_id).await.unwrap();
    assert_eq!(tasks.len(), 2);
    let shown = tasks.iter().find(|t| t.id == appt).unwrap();
    assert!(shown.is_appointment());
    assert_eq!(shown.address.as_deref(), Some("1 Main St"));

    ctx.client.delete_task(id).await.unwrap();
    let err = ctx.client.get_task(id).await.unwrap_err();
    assert_api_error(&err, 404, "TASK_NOT_EXIST", RetryClass::GiveUp);
    assert_eq!(ctx.client.list_tasks(lead.lead_id).await.unwrap().len(), 1);
    ctx.shutdown().await;
}

#[tokio::test]
async fn task_errors() {
    let ctx = spawn().await;
    let lead = ctx.new_lead("Errs").await;
    // Missing assignedRole / endAt / content, bad type.
    for body in [
        json!({"type": "Call", "content": "x", "leadId": lead.lead_id, "endAt": "2026-03-01T16:00:00Z"}),
        json!({"type": "Call", "content": "x", "leadId": lead.lead_id, "assignedRole": "Agent"}),
        json!({"type": "Call", "leadId": lead.lead_id, "assignedRole": "Agent", "endAt": "2026-03-01T16:00:00Z"}),
        json!({"type": "Fax", "content": "x", "leadId": lead.lead_id, "assignedRole": "Agent", "endAt": "2026-03-01T16:00:00Z"}),
        json!({"type": "Call", "content": "x", "leadId": lead.lead_id, "assignedRole": "Agent", "endAt": "tomorrow"}),
    ] {
        let err = ctx
            .client
            .call("lofty-create-task", json!({ "body": body }))
            .await
            .unwrap_err();
        assert_api_error(&err, 400, "20012", RetryClass::GiveUp);
    }
    let err = ctx
        .client
        .create_task(&CreateTask::new(
            7,
            TaskType::Other,
            "x",
            "2026-03-01T16:00:00Z",
        ))
        .await
        .unwrap_err();
    assert_api_error(&err, 400, "20017", RetryClass::GiveUp);
    let id = ctx
        .client
        .create_task(&CreateTask::new(
            lead.lead_id,
            TaskType::Email,
            "x",
            "2026-03-01T16:00:00Z",
        ))
        .await
        .unwrap();
    let err = ctx
        .client
        .update_task(id, &UpdateTask::default())
        .await
        .unwrap_err();
    assert_api_error(&err, 400, "MISSING_PARAMETER", RetryClass::GiveUp);
    // A seeded smart-plan task cannot be finished.
    let smart = ctx
        .sandbox
        .lofty()
        .with_world(|w| w.entries.values().find(|e| e.smart_plan).map(|e| e.task_id))
        .expect("the seed has a smart-plan task");
    let err = ctx.client.set_task_finished(smart, true).await.unwrap_err();
    assert_api_error(&err, 400, "TASK_IS_SMARTPLAN", RetryClass::GiveUp);
    ctx.shutdown().await;
}

#[tokio::test]
async fn my_tasks_pages_by_current_id() {
    let ctx = spawn().await;
    let all = ctx
        .client
        .my_tasks(&MyTasksQuery {
            limit: Some(100),
            ..MyTasksQuery::default()
        })
        .await
        .unwrap();
    assert!(all.len() >= 3, "the owner has seeded tasks: {}", all.len());
    assert!(all.iter().all(|t| t.assigned_user_id == Some(ctx.owner())));
    let first = ctx
        .client
        .my_tasks(&MyTasksQuery {
            limit: Some(2),
            ..MyTasksQuery::default()
        })
        .await
        .unwrap();
    let second = ctx
        .client
        .my_tasks(&MyTasksQuery {
            limit: Some(2),
            current_id: Some(first[1].id),
            ..MyTasksQuery::default()
        })
        .await
        .unwrap();
    let ids: Vec<i64> = first.iter().chain(&second).map(|t| t.id).collect();
    let want: Vec<i64> = all.iter().take(4).map(|t| t.id).collect();
    assert_eq!(ids, want);
    let err = ctx
        .client
        .my_tasks(&MyTasksQuery {
            limit: Some(101),
            ..MyTasksQuery::default()
        })
        .await
        .unwrap_err();
    assert_api_error(&err, 400, "LIMIT_NOT_VALID", RetryClass::GiveUp);
    ctx.shutdown().await;
}
