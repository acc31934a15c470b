//! Notes CRUD and their errors.

use lofty::RetryClass;
use lofty::models::NoteInput;
use serde_json::json;

use crate::helpers::{assert_api_error, spawn};

#[tokio::test]
async fn notes_crud() {
    let ctx = spawn().await;
    let lead = ctx.new_lead("Noted").await;
    let long = "x".repeat(2100);
    let id = ctx
        .client
        .create_note(&NoteInput::new(lead.lead_id, long))
        .await
        .unwrap();
    let note = ctx.client.get_note(id).await.unwrap();
    assert_eq!(note.note_id, id);
    assert_eq!(note.lead_id, lead.lead_id);
    assert_eq!(note.content.len(), 2000, "cut to 2000 characters");
    assert_eq!(note.is_pin, Some(false));
    assert_eq!(note.creator_id, Some(ctx.owner()));
    assert!(
        note.create_time
            .as_deref()
            .and_then(lofty::time::parse)
            .is_some()
    );
    assert_ne!(note.id, Some(id), "the timeline id is not the note id");

    let update = NoteInput {
        is_pin: true,
        ..NoteInput::new(lead.lead_id, "Call back Tuesday")
    };
    ctx.client.update_note(id, &update).await.unwrap();
    let notes = ctx.client.list_notes(lead.lead_id, false).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].content, "Call back Tuesday");
    assert_eq!(notes[0].is_pin, Some(true));

    // The note's lead must match.
    let other = ctx.new_lead("Other").await;
    let err = ctx
        .client
        .update_note(id, &NoteInput::new(other.lead_id, "moved?"))
        .await
        .unwrap_err();
    assert_api_error(
        &err,
        400,
        "INVALID_UPDATE_OPERATION_LEADID",
        RetryClass::GiveUp,
    );

    ctx.client.delete_note(id).await.unwrap();
    let err = ctx.client.get_note(id).await.unwrap_err();
    assert_api_error(&err, 404, "20007", RetryClass::GiveUp);
    assert!(
        ctx.client
            .list_notes(lead.lead_id, true)
            .await
            .unwrap()
            .is_empty()
    );
    let err = ctx.client.delete_note(id).await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    ctx.shutdown().await;
}

#[tokio::test]
async fn note_validation() {
    let ctx = spawn().await;
    let lead = ctx.new_lead("Valid").await;
    for body in [
        json!({"leadId": lead.lead_id, "content": "x"}),
        json!({"leadId": lead.lead_id, "content": "  ", "isPin": false}),
        json!({"leadId": lead.lead_id.to_string(), "content": "x", "isPin": false}),
        json!({"content": "x", "isPin": false}),
    ] {
        let err = ctx
            .client
            .call("lofty-create-note", json!({ "body": body }))
            .await
            .unwrap_err();
        assert_api_error(&err, 400, "20012", RetryClass::GiveUp);
    }
    let err = ctx
        .client
        .create_note(&NoteInput::new(42, "no such lead"))
        .await
        .unwrap_err();
    assert_api_error(&err, 404, "20006", RetryClass::GiveUp);
    let err = ctx.client.list_notes(42, false).await.unwrap_err();
    assert_api_error(&err, 404, "20006", RetryClass::GiveUp);
    // Seeded notes exist on every second seeded lead.
    let seeded: usize = {
        let mut n = 0;
        for id in ctx.lead_ids() {
            n += ctx.client.list_notes(id, false).await.unwrap().len();
        }
        n
    };
    assert_eq!(seeded, 5);
    ctx.shutdown().await;
}
