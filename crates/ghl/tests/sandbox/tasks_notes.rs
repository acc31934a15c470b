//! Tasks and notes of a contact: CRUD, completion, read back after every write.

use ghl::RetryClass;
use ghl::models::{CreateNote, CreateTask, TaskSearch, UpdateNote, UpdateTask};

use crate::helpers::{assert_api_error, spawn};

/// get-all-tasks, create-task, get-task, update-task, update-task-completed, task-search,
/// delete-task.
#[tokio::test]
async fn tasks_crud_and_completion() {
    let ctx = spawn().await;
    let c = &ctx.client;
    let contact = ctx.new_contact("Tom").await.id;
    assert!(c.list_tasks(&contact).await.unwrap().is_empty());

    let user = ctx.a.user_ids[1].clone();
    let task = c
        .create_task(
            &contact,
            &CreateTask {
                title: "Call".to_owned(),
                body: Some("about the listing".to_owned()),
                due_date: "2030-01-01T10:00:00.000Z".to_owned(),
                completed: false,
                assigned_to: Some(user.clone()),
            },
        )
        .await
        .unwrap();
    assert_eq!(task.title.as_deref(), Some("Call"));
    assert!(!task.completed);
    assert_eq!(task.contact_id.as_deref(), Some(contact.as_str()));

    let got = c.get_task(&contact, &task.id).await.unwrap();
    assert_eq!(got.body.as_deref(), Some("about the listing"));
    assert_eq!(got.assigned_to.as_deref(), Some(user.as_str()));
    assert_eq!(got.due_date.as_deref(), Some("2030-01-01T10:00:00.000Z"));

    let updated = c
        .update_task(
            &contact,
            &task.id,
            &UpdateTask {
                title: Some("Call back".to_owned()),
                due_date: Some("2030-02-01T09:30:00.000Z".to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.title.as_deref(), Some("Call back"));
    let got = c.get_task(&contact, &task.id).await.unwrap();
    assert_eq!(got.title.as_deref(), Some("Call back"));
    assert_eq!(got.due_date.as_deref(), Some("2030-02-01T09:30:00.000Z"));
    assert_eq!(got.body.as_deref(), Some("about the listing"), "kept");

    let done = c
        .set_task_completed(&contact, &task.id, true)
        .await
        .unwrap();
    assert!(done.completed);
    assert!(c.get_task(&contact, &task.id).await.unwrap().completed);
    let open = c
        .set_task_completed(&contact, &task.id, false)
        .await
        .unwrap();
    assert!(!open.completed);
    assert!(!c.get_task(&contact, &task.id).await.unwrap().completed);

    let all = c.list_tasks(&contact).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, task.id);

    // The location's task search: by contact, completion and text.
    let location = ctx.a.id.clone();
    let search = async |s: TaskSearch| c.search_tasks(&location, &s).await.unwrap();
    let mine = search(TaskSearch {
        contact_id: Some(vec![contact.clone()]),
        ..Default::default()
    })
    .await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].contact_id.as_deref(), Some(contact.as_str()));
    assert_eq!(mine[0].title.as_deref(), Some("Call back"));
    assert!(
        search(TaskSearch {
            contact_id: Some(vec![contact.clone()]),
            completed: Some(true),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    let by_text = search(TaskSearch {
        query: Some("LISTING".to_owned()),
        ..Default::default()
    })
    .await;
    assert!(by_text.iter().any(|t| t.id == task.id), "body text matches");
    let page = search(TaskSearch {
        limit: Some(1),
        skip: Some(0),
        ..Default::default()
    })
    .await;
    assert_eq!(page.len(), 1);

    assert!(
        c.delete_task(&contact, &task.id)
            .await
            .unwrap()
            .is_success()
    );
    let err = c.get_task(&contact, &task.id).await.unwrap_err();
    assert_api_error(&err, 404, RetryClass::GiveUp, "not found");
    assert!(c.list_tasks(&contact).await.unwrap().is_empty());
    ctx.shutdown().await;
}

/// get-all-notes, create-note, get-note, update-note, delete-note.
#[tokio::test]
async fn notes_crud() {
    let ctx = spawn().await;
    let c = &ctx.client;
    let contact = ctx.new_contact("Nia").await.id;
    assert!(c.list_notes(&contact).await.unwrap().is_empty());

    let user = ctx.a.user_ids[0].clone();
    let note = c
        .create_note(
            &contact,
            &CreateNote {
                user_id: Some(user.clone()),
                body: "Prefers mornings".to_owned(),
                title: Some("Preference".to_owned()),
                color: Some("#ffcc00".to_owned()),
                pinned: Some(false),
            },
        )
        .await
        .unwrap();
    assert_eq!(note.body.as_deref(), Some("Prefers mornings"));
    assert_eq!(note.contact_id.as_deref(), Some(contact.as_str()));

    let got = c.get_note(&contact, &note.id).await.unwrap();
    assert_eq!(got.user_id.as_deref(), Some(user.as_str()));
    assert_eq!(got.title.as_deref(), Some("Preference"));
    assert_eq!(got.color.as_deref(), Some("#ffcc00"));
    assert_eq!(got.pinned, Some(false));
    assert!(got.date_added.is_some());

    let updated = c
        .update_note(
            &contact,
            &note.id,
            &UpdateNote {
                body: Some("Prefers evenings".to_owned()),
                pinned: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.body.as_deref(), Some("Prefers evenings"));
    let got = c.get_note(&contact, &note.id).await.unwrap();
    assert_eq!(got.body.as_deref(), Some("Prefers evenings"));
    assert_eq!(got.pinned, Some(true));
    assert_eq!(got.title.as_deref(), Some("Preference"), "kept");

    let all = c.list_notes(&contact).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, note.id);

    assert!(
        c.delete_note(&contact, &note.id)
            .await
            .unwrap()
            .is_success()
    );
    let err = c.get_note(&contact, &note.id).await.unwrap_err();
    assert_api_error(&err, 404, RetryClass::GiveUp, "not found");
    assert!(c.list_notes(&contact).await.unwrap().is_empty());
    ctx.shutdown().await;
}
