//! Tasks, notes and appointments on linked contacts (recipes `lofty-ghl-tasks`,
//! `lofty-ghl-notes`, `ghl-lofty-appointments`, `lofty-ghl-appointments`)
//! end to end against the sandboxes: each change reaches the other side under the
//! linked record with the mapped fields, and the calls it took are read from the
//! sandbox counters (a created or changed child: 1 write on the target; an echo:
//! none). A child that arrives before its parent waits for it; GHL's `TaskCreate`
//! as it is reported to arrive (no `contactId`) is found by one search.

#[macro_use]
mod setup;
mod appointments;
mod lytho;

use serde_json::json;
use setup::{Setup, in_a_week, instant, setup};
use testkit::{Backend, Calls};

async fn tasks_both_ways(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let (lead, contact) = s.linked_lead("tasks.kid@example.com").await;

    // A Lofty task: created in GHL under the linked contact, with 1 GHL write and
    // no GHL read.
    let due = in_a_week();
    let before = s.calls().await;
    let task = s
        .lofty
        .create_task(&lofty::models::CreateTask::new(
            lead,
            lofty::models::TaskType::Call,
            "Call about the offer",
            due.to_string(),
        ))
        .await
        .unwrap();
    let task_id = task.to_string();
    s.until("the task's GHL twin", async || {
        s.pair("lofty-ghl-tasks", "right", &task_id).await.is_some()
    })
    .await;
    s.settle().await;
    let made = s.calls().await.since(&before);
    assert_eq!(
        made.split(),
        (0, 1, 1, 1),
        "a Lofty task created: 1 Lofty read, 1 GHL write; its echo nothing: {made:?}"
    );
    let ghl_id = s
        .pair("lofty-ghl-tasks", "right", &task_id)
        .await
        .unwrap()
        .left_id;
    let got = s.ghl.get_task(&contact, &ghl_id).await.unwrap();
    assert_eq!(got.title.as_deref(), Some("Call about the offer"));
    assert_eq!(got.contact_id.as_deref(), Some(contact.as_str()));
    assert!(!got.completed);
    assert_eq!(
        instant(&json!(got.due_date)),
        due.as_millisecond(),
        "the same instant: {:?}",
        got.due_date
    );
    // The person's history lists the task.
    let theirs = s
        .app
        .store
        .history("tasks.kid@example.com", 100)
        .await
        .unwrap();
    assert!(
        theirs
            .iter()
            .any(|h| h.flow == "lofty-ghl-tasks" && h.decision == "create"),
        "{theirs:?}"
    );
    let decisions = s.history_decisions("lofty-ghl-tasks").await;
    assert!(
        decisions
            .iter()
            .any(|(d, src)| d == "echo" && src == &format!("ghl:task:{ghl_id}")),
        "GHL's TaskCreate came back and was recorded as our echo: {decisions:?}"
    );

    // Completed in GHL: Lofty's finish call (after the cheap read of the Lofty
    // task), no GHL call; Lofty's webhook of it is our echo.
    let before = s.calls().await;
    s.ghl
        .set_task_completed(&contact, &ghl_id, true)
        .await
        .unwrap();
    s.until("the Lofty task finished", async || {
        s.lofty_task(task).is_some_and(|t| t.finished)
    })
    .await;
    s.settle().await;
    let made = s.calls().await.since(&before);
    let (ghl_reads, ghl_writes, _, lofty_writes) = made.split();
    assert_eq!(
        (ghl_reads, ghl_writes - 1, lofty_writes),
        (0, 0, 1),
        "GHL completion: the test's own GHL write, 1 Lofty write: {made:?}"
    );
    assert_eq!(
        made.lofty.get("POST /v2.0/tasks/{taskId}/finish"),
        Some(&1),
        "{made:?}"
    );

    // Edited in Lofty (text and reopened): GHL gets one update with both.
    let before = s.calls().await;
    s.lofty
        .update_task(
            task,
            &lofty::models::UpdateTask {
                content: Some("Call about the counter-offer".to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    s.lofty.set_task_finished(task, false).await.unwrap();
    s.until("the GHL task reopened and renamed", async || {
        s.ghl_task(&ghl_id)
            .is_some_and(|t| !t.completed && t.title == "Call about the counter-offer")
    })
    .await;
    s.settle().await;
    let made = s.calls().await.since(&before);
    assert_eq!(
        made.ghl.get("PUT /contacts/{contactId}/tasks/{taskId}"),
        Some(&1),
        "one GHL update carries both changes: {made:?}"
    );
    assert_eq!(made.split().0, 0, "no GHL read: {made:?}");
    assert_eq!(Calls::count(&made.ghl, true), 1, "{made:?}");
    // Unchanged: a Lofty webhook with nothing new costs no write.
    let before = s.calls().await;
    s.lofty
        .update_task(
            task,
            &lofty::models::UpdateTask {
                content: Some("Call about the counter-offer".to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    s.settle().await;
    let made = s.calls().await.since(&before);
    assert_eq!(
        (
            Calls::count(&made.ghl, true),
            Calls::count(&made.lofty, true)
        ),
        (0, 1),
        "an unchanged task: no write but the test's own: {made:?}"
    );
    s.app.shutdown().await;
}

on_both_backends!(tasks_both_ways);

impl Setup {
    /// A Lofty note as the sandbox holds it (no API call).
    fn lofty_note(&self, id: i64) -> Option<sandbox::lofty::state::Note> {
        self.app
            .sandbox
            .lofty()
            .with_world(|w| w.notes.get(&id).cloned())
    }

    /// A GHL note as the sandbox holds it (no API call).
    fn ghl_note(&self, id: &str) -> Option<sandbox::ghl::state::Note> {
        self.app.sandbox.ghl().with_world(|w| {
            w.locations
                .get(&self.location)
                .and_then(|l| l.notes.get(id).cloned())
        })
    }
}

/// A note with HTML formatting, edited 20 times on alternating sides: after each
/// edit both sides hold the same text, neither grows, and each edit costs one
/// write on the other side.
async fn notes_round_trip_without_growing(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let (lead, contact) = s.linked_lead("notes.kid@example.com").await;
    let html = "<p>Viewing on <b>Tuesday</b> &amp; Wednesday</p><ul><li>bring keys</li><li>lockbox 4411</li></ul>";
    let before = s.calls().await;
    let note = s
        .ghl
        .create_note(
            &contact,
            &ghl::models::CreateNote {
                body: html.to_owned(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let lofty_id = s.lofty_twin("lofty-ghl-notes", &note.id).await;
    let made = s.calls().await.since(&before);
    let text = "Viewing on Tuesday & Wednesday\nbring keys\nlockbox 4411";
    assert_eq!(s.lofty_note(lofty_id).unwrap().content, text);
    assert_eq!(s.lofty_note(lofty_id).unwrap().lead_id, lead);
    // The test's own GHL create; one Lofty write; the Lofty echo costs its read.
    assert_eq!(
        (
            Calls::count(&made.ghl, true),
            made.split().0,
            made.split().3
        ),
        (1, 0, 1),
        "{made:?}"
    );

    let mut expected = text.to_owned();
    for edit in 0..20 {
        let before = s.calls().await;
        let line = format!("edit {edit}: call back at {}pm", 1 + edit % 12);
        if edit % 2 == 0 {
            // In Lofty, as plain text.
            expected = format!("{expected}\n{line}");
            s.lofty
                .update_note(
                    lofty_id,
                    &lofty::models::NoteInput::new(lead, expected.clone()),
                )
                .await
                .unwrap();
            s.until("the Lofty edit in GHL", async || {
                s.ghl_note(&note.id)
                    .is_some_and(|n| domain::sync::html::html_to_text(&n.body) == expected)
            })
            .await;
        } else {
            // In GHL, as HTML built on what GHL holds.
            let body = s.ghl_note(&note.id).unwrap().body;
            let body = format!("{body}<p><i>{line}</i></p>");
            expected = format!("{expected}\n{line}");
            s.ghl
                .update_note(
                    &contact,
                    &note.id,
                    &ghl::models::UpdateNote {
                        body: Some(body),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            s.until("the GHL edit in Lofty", async || {
                s.lofty_note(lofty_id)
                    .is_some_and(|n| n.content == expected)
            })
            .await;
        }
        s.settle().await;
        let made = s.calls().await.since(&before);
        let (ghl_writes, lofty_writes) = (
            Calls::count(&made.ghl, true),
            Calls::count(&made.lofty, true),
        );
        assert_eq!(
            (ghl_writes, lofty_writes),
            (1, 1),
            "edit {edit}: the edit and its one write across, no echo write: {made:?}"
        );
        let ghl_text = domain::sync::html::html_to_text(&s.ghl_note(&note.id).unwrap().body);
        assert_eq!(ghl_text, expected, "edit {edit}");
        assert_eq!(
            s.lofty_note(lofty_id).unwrap().content,
            expected,
            "edit {edit}"
        );
    }
    assert_eq!(
        expected.lines().count(),
        3 + 20,
        "nothing grew but the edits"
    );
    s.app.shutdown().await;
}

on_both_backends!(notes_round_trip_without_growing);

/// A Lofty task made under a lead that is not linked yet waits for it (it neither
/// is dropped nor makes a contact of its own) and reaches GHL under the lead's
/// contact once the lead is linked, once.
async fn a_child_before_its_parent_waits(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let lead = s
        .lofty
        .create_lead(&lofty::models::CreateLead {
            first_name: "Early".to_owned(),
            emails: Some(vec!["early.kid@example.com".to_owned()]),
            ..Default::default()
        })
        .await
        .unwrap();
    let task = s
        .lofty
        .create_task(&lofty::models::CreateTask::new(
            lead,
            lofty::models::TaskType::Email,
            "Send the disclosures",
            in_a_week().to_string(),
        ))
        .await
        .unwrap();
    // Both changes arrive; the lead waits a moment before it is created in GHL
    // (its other side may be on its way), so the task runs first.
    s.app.sandbox.lofty().flush_webhooks().await;
    s.app.drain().await;
    let task_ref = format!("lofty:task:{task}");
    let waited = s
        .history_decisions("lofty-ghl-tasks")
        .await
        .into_iter()
        .any(|(d, src)| d == "wait" && src == task_ref);
    assert!(waited, "the task waits for its lead");
    assert!(
        s.pair("lofty-ghl-tasks", "right", &task.to_string())
            .await
            .is_none()
    );
    s.until("the task's GHL twin", async || {
        s.pair("lofty-ghl-tasks", "right", &task.to_string())
            .await
            .is_some()
    })
    .await;
    s.settle().await;
    let contact = s
        .pair("lofty-ghl-contacts", "right", &lead.to_string())
        .await
        .unwrap()
        .left_id;
    let tasks = s.ghl.list_tasks(&contact).await.unwrap();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0].title.as_deref(), Some("Send the disclosures"));
    let contacts = s.app.sandbox.ghl().with_world(|w| {
        w.locations[&s.location]
            .contacts
            .values()
            .filter(|c| c.str_field("email") == Some("early.kid@example.com"))
            .count()
    });
    assert_eq!(contacts, 1, "the task made no contact of its own");
    s.app.shutdown().await;
}

on_both_backends!(a_child_before_its_parent_waits);

/// A task created in GHL reaches the linked Lofty lead once, whether its
/// `TaskCreate` comes as GHL is reported to send it (no `contactId`, no `body`:
/// one task search finds it) or as documented (no search).
async fn a_ghl_task_reaches_lofty_with_either_webhook(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let (lead, contact) = s.linked_lead("ghl.tasks.kid@example.com").await;
    for (documented, title) in [(false, "Reported shape"), (true, "Documented shape")] {
        s.app
            .sandbox_control(
                "/_sandbox/config",
                json!({"documented_webhooks": documented}),
            )
            .await;
        let before = s.calls().await;
        let due = in_a_week();
        let made = s
            .ghl
            .create_task(
                &contact,
                &ghl::models::CreateTask {
                    title: title.to_owned(),
                    body: Some("details".to_owned()),
                    due_date: due.to_string(),
                    completed: false,
                    assigned_to: None,
                },
            )
            .await
            .unwrap();
        let lofty_id = s.lofty_twin("lofty-ghl-tasks", &made.id).await;
        let calls = s.calls().await.since(&before);
        let search = calls
            .ghl
            .get("POST /locations/{locationId}/tasks/search")
            .copied()
            .unwrap_or(0);
        assert_eq!(
            search,
            u64::from(!documented),
            "documented = {documented}: {calls:?}"
        );
        assert_eq!(calls.split().0, 0, "no GHL read: {calls:?}");
        assert_eq!(calls.split().3, 1, "one Lofty write: {calls:?}");
        let t = s.lofty_task(lofty_id).unwrap();
        assert_eq!((t.lead_id, t.content.as_str()), (lead, title));
        assert_eq!(t.end.timestamp_millis(), due.as_millisecond());
    }
    let on_lead = s
        .app
        .sandbox
        .lofty()
        .with_world(|w| w.entries.values().filter(|e| e.lead_id == lead).count());
    assert_eq!(on_lead, 2, "each GHL task once");
    s.app.shutdown().await;
}

on_both_backends!(a_ghl_task_reaches_lofty_with_either_webhook);

/// A GHL task edited and reopened sends no webhook (as in GHL); the walk of GHL's
/// tasks (`[worker] tasks_walk_every_secs`) finds it, and Lofty gets the new text
/// and the reopening.
async fn a_ghl_task_edited_without_a_webhook_is_walked(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let (_, contact) = s.linked_lead("walked.kid@example.com").await;
    let task = s
        .ghl
        .create_task(
            &contact,
            &ghl::models::CreateTask {
                title: "Send the CMA".to_owned(),
                body: None,
                due_date: in_a_week().to_string(),
                completed: true,
                assigned_to: None,
            },
        )
        .await
        .unwrap();
    let lofty_id = s.lofty_twin("lofty-ghl-tasks", &task.id).await;
    assert!(s.lofty_task(lofty_id).unwrap().finished, "created done");

    let events = || async {
        s.app
            .store
            .scalar_i64("SELECT COUNT(*) FROM events WHERE source = 'ghl'")
            .await
            .unwrap()
    };
    // A first walk learns the location's other tasks (the sandbox seeds some, on
    // contacts not linked: they wait for their parents).
    let tasks_only = ["ghl.task".to_owned()];
    let first = engine::sync::reconcile::walk_all(s.app.connectors(), 0.05, &tasks_only)
        .await
        .unwrap();
    assert_eq!(
        first[0].2.changed,
        first[0].2.seen - 1,
        "ours was known: {first:?}"
    );
    s.settle().await;
    let before_events = events().await;
    s.ghl
        .update_task(
            &contact,
            &task.id,
            &ghl::models::UpdateTask {
                title: Some("Send the CMA and the comps".to_owned()),
                completed: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    s.settle().await;
    assert_eq!(events().await, before_events, "GHL sent no webhook");
    let t = s.lofty_task(lofty_id).unwrap();
    assert_eq!((t.content.as_str(), t.finished), ("Send the CMA", true));

    let before = s.calls().await;
    let walks = engine::sync::reconcile::walk_all(s.app.connectors(), 0.05, &tasks_only)
        .await
        .unwrap();
    assert_eq!(
        walks.len(),
        1,
        "only the GHL side of the tasks flow: {walks:?}"
    );
    assert_eq!(
        (walks[0].2.seen, walks[0].2.changed),
        (first[0].2.seen, 1),
        "{walks:?}"
    );
    s.until("the reopening in Lofty", async || {
        s.lofty_task(lofty_id).is_some_and(|t| !t.finished)
    })
    .await;
    s.settle().await;
    let t = s.lofty_task(lofty_id).unwrap();
    assert_eq!(
        (t.content.as_str(), t.finished),
        ("Send the CMA and the comps", false)
    );
    let made = s.calls().await.since(&before);
    assert_eq!(
        made.ghl,
        [("POST /locations/{locationId}/tasks/search".to_owned(), 1)].into(),
        "the walk is one search page: {made:?}"
    );
    assert_eq!(
        made.lofty.get("POST /v2.0/tasks/{taskId}/unfinish"),
        Some(&1),
        "{made:?}"
    );
    s.app.shutdown().await;
}

on_both_backends!(a_ghl_task_edited_without_a_webhook_is_walked);

/// A 3,000-character GHL note reaches Lofty whole: Lofty keeps 2,000 characters
/// a note, so it is split into marked parts, read back joined (its echo is
/// recognised and GHL's note is never cut), and an edit that makes it short
/// again removes the further part.
async fn a_long_note_reaches_lofty_whole(backend: Backend) {
    let Some(s) = setup(backend).await else {
        return;
    };
    let (lead, contact) = s.linked_lead("long.note.kid@example.com").await;
    let text: String = (0..375)
        .map(|i| format!("line {i:03}\n"))
        .collect::<String>();
    let text = text.trim_end().to_owned();
    assert!(text.chars().count() > 2_900, "{}", text.chars().count());
    let html = domain::sync::html::text_to_html(&text);
    let note = s
        .ghl
        .create_note(
            &contact,
            &ghl::models::CreateNote {
                body: html.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    s.lofty_twin("lofty-ghl-notes", &note.id).await;
    let on_lead = || {
        s.app.sandbox.lofty().with_world(|w| {
            w.notes
                .values()
                .filter(|n| n.lead_id == lead)
                .map(|n| n.content.clone())
                .collect::<Vec<_>>()
        })
    };
    let parts = on_lead();
    assert_eq!(parts.len(), 2, "split in two");
    let mut joined = String::new();
    for (i, p) in parts.iter().enumerate() {
        assert!(p.chars().count() <= 2000, "part {i} fits");
        assert!(
            p.starts_with(&format!("[{}/2] ", i + 1)),
            "marked: {}",
            &p[..8]
        );
        joined.push_str(&p[6..]);
    }
    assert_eq!(joined, text, "whole");
    assert_eq!(
        s.ghl_note(&note.id).unwrap().body,
        html,
        "GHL's note is not cut by its own echo"
    );
    let decisions = s.history_decisions("lofty-ghl-notes").await;
    assert!(
        !decisions
            .iter()
            .any(|(d, src)| d == "create" && src.starts_with("lofty:")),
        "no part became a GHL note: {decisions:?}"
    );

    // Edited short in GHL: one Lofty note again.
    s.ghl
        .update_note(
            &contact,
            &note.id,
            &ghl::models::UpdateNote {
                body: Some("<p>Short again</p>".to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    s.until("the short note in Lofty", async || {
        on_lead() == ["Short again"]
    })
    .await;
    s.settle().await;
    assert_eq!(on_lead(), ["Short again"]);
    assert_eq!(s.ghl_note(&note.id).unwrap().body, "<p>Short again</p>");
    s.app.shutdown().await;
}

on_both_backends!(a_long_note_reaches_lofty_whole);

/// The assignee table of `lofty-ghl-tasks` (Lofty member -> GHL user): checked
/// against both accounts when the flow is enabled (an unknown entry lists who
/// there is), then a Lofty task's assignee reaches GHL as the mapped user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lofty_assignee_reaches_ghl_through_the_table() {
    let scopes = "contacts.readonly contacts.write locations/customFields.readonly locations/tasks.readonly users.readonly";
    let Some(s) = setup::setup_with(Backend::Sqlite, &["lofty-ghl-contacts"], scopes, &[]).await
    else {
        return;
    };
    let lofty_conn = s
        .app
        .store
        .flow("lofty-ghl-contacts")
        .await
        .unwrap()
        .unwrap()
        .right_connection;
    let member = s.lofty.me().await.unwrap().member_user_id.to_string();
    let user = s.app.location(0).user_ids[1].clone();
    let recipe = domain::sync::recipes::source("lofty-ghl-tasks").unwrap();
    let with =
        |entry: &str| recipe.replace("# \"<Lofty memberUserId>\" = \"<GHL user id>\"", entry);
    let err = engine::sync::enable(
        s.app.connectors(),
        &with(&format!("\"{member}\" = \"nobody\"")),
        &s.ghl_conn,
        &lofty_conn,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("nobody") && err.contains(&user) && err.contains(&member),
        "names the entry and both accounts' users: {err}"
    );
    engine::sync::enable(
        s.app.connectors(),
        &with(&format!("\"{member}\" = \"{user}\"")),
        &s.ghl_conn,
        &lofty_conn,
    )
    .await
    .unwrap();
    let mut flows = s.flows.clone();
    flows.push("lofty-ghl-tasks");
    let s = Setup { flows, ..s };
    let (lead, _) = s.linked_lead("assigned.kid@example.com").await;
    let task = s
        .lofty
        .create_task(&lofty::models::CreateTask::new(
            lead,
            lofty::models::TaskType::Call,
            "Call the seller",
            in_a_week().to_string(),
        ))
        .await
        .unwrap()
        .to_string();
    s.until("the task's GHL twin", async || {
        s.pair("lofty-ghl-tasks", "right", &task).await.is_some()
    })
    .await;
    let ghl = s
        .pair("lofty-ghl-tasks", "right", &task)
        .await
        .unwrap()
        .left_id;
    assert_eq!(
        s.ghl_task(&ghl).unwrap().assigned_to.as_deref(),
        Some(user.as_str()),
        "assigned to the GHL user the table names"
    );
}

/// A parent deleted takes its children's links with it: GHL drops a deleted
/// contact's tasks without a webhook of their own, so the contact's delete
/// unlinks its task, by the tasks flow's policy (unlink: the Lofty task stays).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_parent_takes_its_childrens_links() {
    let Some(s) = setup(Backend::Sqlite).await else {
        return;
    };
    let (lead, contact) = s.linked_lead("gone.kid@example.com").await;
    let task = s
        .lofty
        .create_task(&lofty::models::CreateTask::new(
            lead,
            lofty::models::TaskType::Call,
            "Call before it goes",
            in_a_week().to_string(),
        ))
        .await
        .unwrap()
        .to_string();
    s.until("the task's link", async || {
        s.pair("lofty-ghl-tasks", "right", &task).await.is_some()
    })
    .await;
    s.ghl.delete_contact(&contact).await.unwrap();
    s.until("the task's link gone with its contact", async || {
        s.pair("lofty-ghl-tasks", "right", &task).await.is_none()
    })
    .await;
    assert!(
        s.pair("lofty-ghl-contacts", "left", &contact)
            .await
            .is_none(),
        "the parent is unlinked"
    );
    assert!(
        s.lofty_task(task.parse().unwrap()).is_some(),
        "deletes = unlink: the Lofty task stays"
    );
    let decisions = s.history_decisions("lofty-ghl-tasks").await;
    assert!(
        decisions.iter().any(|(d, _)| d == "delete"),
        "{decisions:?}"
    );
}
