//! The Lytho recipes end to end: the people on Lytho's items become tagged GHL
//! contacts (and stay out of Lofty), Lytho tasks become GHL tasks with completion
//! kept in step both ways, comments become GHL notes; polls cost what Lytho's API
//! allows, and a stale JSON Patch is a conflict, not an overwrite.

use std::collections::BTreeSet;

use domain::sync::Side;
use sandbox::lytho::state::Kind;
use serde_json::{Value, json};
use testkit::Backend;

use crate::setup::{Setup, setup_with};

const SCOPES: &str =
    "contacts.readonly contacts.write locations/customFields.readonly locations/tasks.readonly";

const RECIPES: [&str; 3] = [
    "lytho-ghl-contacts",
    "lytho-ghl-tasks",
    "lytho-ghl-comments",
];

/// Lytho's requests per route since `before`.
fn lytho_calls(
    s: &Setup,
    before: &std::collections::BTreeMap<String, u64>,
) -> std::collections::BTreeMap<String, u64> {
    s.app
        .sandbox
        .lytho()
        .counters()
        .by_route
        .into_iter()
        .map(|(k, n)| {
            let was = before.get(&k).copied().unwrap_or(0);
            (k, n - was)
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn lytho_routes(s: &Setup) -> std::collections::BTreeMap<String, u64> {
    s.app.sandbox.lytho().counters().by_route
}

/// A Lytho control (`/_sandbox/...`), as a Lytho user acting in the app.
async fn control(s: &Setup, path: &str, body: Value) -> Value {
    let base = s.app.sandbox.lytho().info().base_url;
    let origin = base.trim_end_matches("/v1");
    let resp = s
        .app
        .http
        .post(format!("{origin}/_sandbox/{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap()
}

/// One poll of the Lytho connection, run to the end.
async fn poll(s: &Setup, lytho: &str) {
    let job = engine::jobs::Job::from(engine::jobs::LythoPoll {
        connection: lytho.to_owned(),
        window: s.app.store.now(),
    });
    s.app.store.enqueue(&job.into_new_job()).await.unwrap();
    s.settle().await;
}

/// A flow's backfill, as `flows enable` + `flows run` do it.
async fn backfill(s: &Setup, flow: &str) {
    let row = s.app.store.flow(flow).await.unwrap().unwrap();
    let flow = engine::sync::Flow {
        spec: engine::sync::build(&row).unwrap(),
        row,
    };
    for side in [Side::Left, Side::Right] {
        engine::sync::backfill::index_side(s.app.connectors(), &flow, side, |_| {})
            .await
            .unwrap();
    }
    engine::sync::backfill::enqueue(&s.app.store, &flow)
        .await
        .unwrap();
    s.settle().await;
}

/// Connects the sandbox's Lytho tenant, switches `recipes` on (with the GHL
/// connection) and backfills those of `backfilled`: the Lytho connection's id.
async fn lytho_on(s: &Setup, recipes: &[&str], backfilled: &[&str]) -> String {
    let lytho = s.app.connect_lytho().await;
    for recipe in recipes {
        engine::sync::enable_recipe(s.app.connectors(), recipe, &s.ghl_conn, &lytho)
            .await
            .unwrap_or_else(|e| panic!("{recipe} enables: {e}"));
    }
    for flow in backfilled {
        backfill(s, flow).await;
    }
    lytho
}

/// GHL contacts of the location with this email (lower case).
fn ghl_contacts_with(s: &Setup, email: &str) -> Vec<sandbox::ghl::state::Contact> {
    s.app.sandbox.ghl().with_world(|w| {
        w.locations[&s.location]
            .contacts
            .values()
            .filter(|c| c.fields.get("email").and_then(Value::as_str) == Some(email))
            .cloned()
            .collect()
    })
}

fn tags(c: &sandbox::ghl::state::Contact) -> Vec<String> {
    c.fields["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_lowercase))
        .collect()
}

async fn lytho_people_tasks_and_comments_reach_ghl(backend: Backend) {
    let Some(s) = setup_with(backend, &["lofty-ghl-contacts"], SCOPES, &[]).await else {
        return;
    };
    let lytho = lytho_on(&s, &RECIPES, &[]).await;
    let world = s.app.sandbox.lytho().with_world(Clone::clone);
    let active: BTreeSet<i32> = world
        .users
        .values()
        .filter(|u| matches!(u.status, sandbox::lytho::state::UserStatus::Active))
        .map(|u| u.id)
        .collect();
    let people: BTreeSet<i32> = world
        .items
        .values()
        .flat_map(|m| m.values())
        .flat_map(|i| i.user_ids.iter().copied())
        .collect();
    let wanted: Vec<&sandbox::lytho::state::User> = people
        .iter()
        .filter(|id| active.contains(id))
        .map(|id| &world.users[id])
        .collect();
    assert!(wanted.len() >= 4, "the seed has people to sync: {wanted:?}");

    // People: one tagged contact each, the ones GHL had kept as they were.
    let before: Vec<(String, usize)> = wanted
        .iter()
        .map(|u| {
            let email = u.email.to_lowercase();
            let n = ghl_contacts_with(&s, &email).len();
            (email, n)
        })
        .collect();
    assert!(
        before.iter().any(|(_, n)| *n == 1),
        "some Lytho people are GHL contacts already: {before:?}"
    );
    backfill(&s, "lytho-ghl-contacts").await;
    for (email, _) in &before {
        let found = ghl_contacts_with(&s, email);
        assert_eq!(found.len(), 1, "{email}: one contact, however many items");
        assert!(
            tags(&found[0]).contains(&"lytho".to_owned()),
            "{email} is tagged: {:?}",
            tags(&found[0])
        );
    }
    for u in world.users.values().filter(|u| !active.contains(&u.id)) {
        assert!(
            ghl_contacts_with(&s, &u.email.to_lowercase()).is_empty(),
            "a disabled Lytho user is no contact"
        );
    }
    // ... and the creative team does not become Lofty leads.
    let lofty_only: Vec<&String> = before
        .iter()
        .filter(|(_, n)| *n == 0)
        .map(|(e, _)| e)
        .collect();
    assert!(!lofty_only.is_empty());
    for email in &lofty_only {
        let leads = s.app.sandbox.lofty().with_world(|w| {
            w.leads
                .values()
                .filter(|l| {
                    l.fields["emails"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|e| e.as_str().is_some_and(|e| e.eq_ignore_ascii_case(email)))
                })
                .count()
        });
        assert_eq!(leads, 0, "{email} (tagged lytho) is left out of Lofty");
    }
    let skipped = s.history_decisions("lofty-ghl-contacts").await;
    assert!(
        skipped.iter().any(|(d, _)| d == "skip"),
        "the filter's skips are in the history: {skipped:?}"
    );

    // Tasks: on the contact of the task's first user; completion as in Lytho.
    backfill(&s, "lytho-ghl-tasks").await;
    let tasks = &world.items[&Kind::Task];
    let mut made = 0;
    for t in tasks.values() {
        let pair = s.pair("lytho-ghl-tasks", "right", &t.id.to_string()).await;
        let first = t.user_ids.first().copied();
        if !first.is_some_and(|u| active.contains(&u)) {
            assert!(pair.is_none(), "task {} waits for its first user", t.id);
            continue;
        }
        let pair = pair.unwrap_or_else(|| panic!("task {} is linked", t.id));
        let ghl = s.ghl_task(&pair.left_id).expect("the GHL task exists");
        let person = &world.users[&first.unwrap()];
        let contact = &ghl_contacts_with(&s, &person.email.to_lowercase())[0];
        assert_eq!(ghl.contact_id, contact.id, "on the first user's contact");
        assert_eq!(ghl.title, t.name);
        assert_eq!(ghl.completed, t.completed_date.is_some(), "task {}", t.id);
        made += 1;
    }
    assert!(made >= 10, "{made} tasks made");

    // Comments: a note on the item's first user's contact, saying who wrote it.
    backfill(&s, "lytho-ghl-comments").await;
    let notes = s
        .app
        .sandbox
        .ghl()
        .with_world(|w| w.locations[&s.location].notes.len());
    assert!(notes >= 10, "{notes} notes");

    // A poll that finds nothing costs 1 + ceil(items / 30) per item type, and
    // nothing else (no users, comments or GHL calls).
    let routes = lytho_routes(&s);
    let ghl_before = s.calls().await;
    poll(&s, &lytho).await;
    let spent = lytho_calls(&s, &routes);
    let expected: u64 = world
        .items
        .values()
        .map(|m| 1 + (m.len() as u64).div_ceil(30))
        .sum();
    assert_eq!(
        spent.values().sum::<u64>(),
        expected,
        "an empty poll: {spent:?}"
    );
    assert!(
        spent
            .keys()
            .all(|r| r.ends_with("/search") || !r.contains("{id}")),
        "{spent:?}"
    );
    assert_eq!(s.calls().await.since(&ghl_before).total(), 0, "no GHL call");

    // Lytho renames and completes an open task: the GHL task follows.
    let open = tasks
        .values()
        .find(|t| {
            t.completed_date.is_none() && t.user_ids.first().is_some_and(|u| active.contains(u))
        })
        .unwrap();
    let pair = s
        .pair("lytho-ghl-tasks", "right", &open.id.to_string())
        .await
        .unwrap();
    control(
        &s,
        "touch",
        json!({"type": "task", "ids": [open.id], "fields": {"name": "Brochure v2", "completed": true}}),
    )
    .await;
    poll(&s, &lytho).await;
    let ghl = s.ghl_task(&pair.left_id).unwrap();
    assert_eq!((ghl.title.as_str(), ghl.completed), ("Brochure v2", true));

    // GHL completes another (TaskComplete): one JSON Patch sets Lytho's
    // completedDate.
    let other = tasks
        .values()
        .find(|t| {
            t.id != open.id
                && t.completed_date.is_none()
                && t.user_ids.first().is_some_and(|u| active.contains(u))
        })
        .unwrap();
    let other_pair = s
        .pair("lytho-ghl-tasks", "right", &other.id.to_string())
        .await
        .unwrap();
    let other_ghl = s.ghl_task(&other_pair.left_id).unwrap();
    let routes = lytho_routes(&s);
    s.ghl
        .set_task_completed(&other_ghl.contact_id, &other_ghl.id, true)
        .await
        .unwrap();
    s.until("Lytho completes the task", async || {
        s.app.sandbox.lytho().with_world(|w| {
            w.item(Kind::Task, other.id)
                .is_some_and(|t| t.completed_date.is_some())
        })
    })
    .await;
    s.settle().await;
    let spent = lytho_calls(&s, &routes);
    assert_eq!(spent.get("PATCH /v1/task/{id}"), Some(&1), "{spent:?}");
    // Its echo, found by the next poll, writes nothing back to GHL.
    let ghl_before = s.calls().await;
    poll(&s, &lytho).await;
    let (_, ghl_writes, _, _) = s.calls().await.since(&ghl_before).split();
    assert_eq!(ghl_writes, 0, "the echo of our own patch");

    // A patch planned on a stale read is a conflict: Lytho keeps what it has.
    let conn = s.app.connectors().open(&lytho).await.unwrap();
    let held = s.app.sandbox.lytho().with_world(|w| {
        w.item(Kind::Task, other.id)
            .map(|t| (t.completed_date, t.modified_date))
    });
    let stale =
        json!({"id": other.id, "completed": true, "modifiedDate": "2020-01-01T00:00:00.000Z"});
    let mut patch = serde_json::Map::new();
    patch.insert("completed".into(), json!(false));
    let err =
        engine::sync::systems::update(&conn, "lytho.task", &other.id.to_string(), &stale, patch)
            .await
            .unwrap_err();
    assert!(
        matches!(err, engine::sync::systems::WriteError::Conflict(_)),
        "{err}"
    );
    assert!(err.to_string().contains("409"), "{err}");
    assert_eq!(
        s.app.sandbox.lytho().with_world(|w| {
            w.item(Kind::Task, other.id)
                .map(|t| (t.completed_date, t.modified_date))
        }),
        held,
        "nothing was overwritten"
    );

    // A new comment becomes a note on the first user's contact.
    control(
        &s,
        "comments",
        json!({"type": "task", "id": open.id, "text": "Approved <final>"}),
    )
    .await;
    poll(&s, &lytho).await;
    let contact = ghl.contact_id.clone();
    let note = s.app.sandbox.ghl().with_world(|w| {
        w.locations[&s.location]
            .notes
            .values()
            .find(|n| n.contact_id == contact && n.body.contains("Approved"))
            .cloned()
    });
    let note = note.expect("the comment is a GHL note on the first user's contact");
    assert!(
        note.body.contains("on Lytho task \"Brochure v2\""),
        "{}",
        note.body
    );
    assert!(
        note.body.contains("Approved &lt;final&gt;"),
        "{}",
        note.body
    );

    // A task made in GHL has nowhere to go: Lytho creates nothing, and says so.
    let task = s
        .ghl
        .create_task(
            &contact,
            &ghl::models::CreateTask {
                title: "Call back".to_owned(),
                body: None,
                due_date: crate::setup::in_a_week().to_string(),
                completed: false,
                assigned_to: None,
            },
        )
        .await
        .unwrap();
    s.until("the GHL task's skip", async || {
        s.app
            .store
            .history(&format!("ghl:task:{}", task.id), 10)
            .await
            .unwrap()
            .iter()
            .any(|h| h.decision == "skip" && h.reason.contains("creates nothing"))
    })
    .await;
    assert!(s.pair("lytho-ghl-tasks", "left", &task.id).await.is_none());
}

on_both_backends!(lytho_people_tasks_and_comments_reach_ghl);

/// `ghl-lytho-tasks` is `lytho-ghl-tasks` with GHL's edits written back: it is
/// refused beside it, and once it replaces it a GHL title edit (no webhook: the
/// tasks walk finds it) renames the Lytho task with one JSON Patch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ghl_edits_reach_lytho_with_ghl_lytho_tasks() {
    let Some(s) = setup_with(Backend::Sqlite, &["lofty-ghl-contacts"], SCOPES, &[]).await else {
        return;
    };
    let lytho = s.app.connect_lytho().await;
    for recipe in ["lytho-ghl-contacts", "lytho-ghl-tasks"] {
        engine::sync::enable_recipe(s.app.connectors(), recipe, &s.ghl_conn, &lytho)
            .await
            .unwrap();
    }
    let err =
        engine::sync::enable_recipe(s.app.connectors(), "ghl-lytho-tasks", &s.ghl_conn, &lytho)
            .await
            .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("lytho-ghl-tasks") && text.contains("ghlsync flows disable lytho-ghl-tasks"),
        "{text}"
    );
    assert!(
        s.app
            .store
            .set_flow_enabled("lytho-ghl-tasks", false)
            .await
            .unwrap()
    );
    engine::sync::enable_recipe(s.app.connectors(), "ghl-lytho-tasks", &s.ghl_conn, &lytho)
        .await
        .unwrap();
    backfill(&s, "lytho-ghl-contacts").await;
    backfill(&s, "ghl-lytho-tasks").await;
    let (lytho_id, ghl_id) = linked_task(&s).await;
    let ghl_task = s.ghl_task(&ghl_id).unwrap();
    s.ghl
        .update_task(
            &ghl_task.contact_id,
            &ghl_id,
            &ghl::models::UpdateTask {
                title: Some("Cover shoot, moved".to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let routes = lytho_routes(&s);
    let walk = engine::jobs::Job::from(engine::jobs::FlowReconcile {
        window: s.app.store.now(),
        max_delete_permille: 50,
        objects: vec!["ghl.task".to_owned()],
    });
    s.app.store.enqueue(&walk.into_new_job()).await.unwrap();
    s.until("the Lytho task's new name", async || {
        s.app.sandbox.lytho().with_world(|w| {
            w.item(Kind::Task, lytho_id)
                .is_some_and(|t| t.name == "Cover shoot, moved")
        })
    })
    .await;
    let spent = lytho_calls(&s, &routes);
    assert_eq!(spent.get("PATCH /v1/task/{id}"), Some(&1), "{spent:?}");
}

/// A linked (Lytho task, GHL task) of `ghl-lytho-tasks`.
async fn linked_task(s: &Setup) -> (i32, String) {
    let pairs = s.app.store.pairs("ghl-lytho-tasks", 0, 1).await.unwrap();
    let (_, p) = pairs.first().expect("a linked task");
    (p.right_id.parse().unwrap(), p.left_id.clone())
}

/// `ghl-lytho-appointments`: Lytho has no calendar and creates nothing, so a GHL
/// appointment of a Lytho person sets the due date of that person's newest open
/// Lytho task (one JSON Patch); a second appointment takes the next task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ghl_appointments_set_lytho_due_dates() {
    let scopes =
        format!("{SCOPES} calendars.readonly calendars/events.readonly calendars/events.write");
    let Some(s) = setup_with(Backend::Sqlite, &["lofty-ghl-contacts"], &scopes, &[]).await else {
        return;
    };
    let flows = [
        "lytho-ghl-contacts",
        "lytho-ghl-tasks",
        "ghl-lytho-appointments",
    ];
    lytho_on(&s, &flows, &flows).await;
    // A person who is the first user of two open tasks or more.
    let world = s.app.sandbox.lytho().with_world(Clone::clone);
    let open_of = |user: i32| -> Vec<i32> {
        world.items[&Kind::Task]
            .values()
            .filter(|t| {
                t.user_ids.first() == Some(&user) && t.completed_date.is_none() && !t.archived
            })
            .map(|t| t.id)
            .collect()
    };
    let person = world
        .users
        .values()
        .find(|u| {
            matches!(u.status, sandbox::lytho::state::UserStatus::Active)
                && open_of(u.id).len() >= 2
        })
        .expect("a person with two open tasks");
    let open = open_of(person.id);
    let contact = ghl_contacts_with(&s, &person.email.to_lowercase())[0]
        .id
        .clone();

    let due_of = |id: i32| {
        s.app
            .sandbox
            .lytho()
            .with_world(|w| w.item(Kind::Task, id).and_then(|t| t.due_date))
            .map(|d| d.timestamp())
    };
    let mut taken = Vec::new();
    for days in [3, 4] {
        let start = crate::appointments::at(days, 0);
        let routes = lytho_routes(&s);
        s.book_in_ghl(&contact, start, "Review call").await;
        let want = start.as_second();
        s.until("a Lytho task due at the appointment", async || {
            open.iter()
                .any(|id| !taken.contains(id) && due_of(*id) == Some(want))
        })
        .await;
        s.settle().await;
        let task = *open
            .iter()
            .find(|id| !taken.contains(*id) && due_of(**id) == Some(want))
            .unwrap();
        taken.push(task);
        let spent = lytho_calls(&s, &routes);
        assert_eq!(spent.get("PATCH /v1/task/{id}"), Some(&1), "{spent:?}");
    }
    assert_ne!(taken[0], taken[1], "each appointment has its own task");
}

/// `ghl-lytho-notes`: a GHL note on a Lytho person's contact is written into the
/// description of the person's newest open Lytho task (one read, one JSON
/// Patch); an edit rewrites that block in place, the description's own text kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ghl_notes_go_into_lytho_task_descriptions() {
    let Some(s) = setup_with(Backend::Sqlite, &["lofty-ghl-contacts"], SCOPES, &[]).await else {
        return;
    };
    let backfilled = [
        "lytho-ghl-contacts",
        "lytho-ghl-tasks",
        "lytho-ghl-comments",
    ];
    lytho_on(
        &s,
        &[backfilled.as_slice(), &["ghl-lytho-notes"]].concat(),
        &backfilled,
    )
    .await;
    // The GHL notes made from Lytho's comments are not written back into Lytho.
    let made = s
        .app
        .sandbox
        .ghl()
        .with_world(|w| w.locations[&s.location].notes.len());
    assert!(made >= 10, "{made} notes from comments");
    let back = s.app.sandbox.lytho().with_world(|w| {
        w.items
            .values()
            .flat_map(|m| m.values())
            .filter(|i| {
                i.description
                    .as_deref()
                    .is_some_and(|d| d.contains("ghlsync:"))
            })
            .count()
    });
    assert_eq!(back, 0, "no comment came back as a note in a description");
    let skipped = s.history_decisions("ghl-lytho-notes").await;
    assert!(skipped.iter().any(|(d, _)| d == "skip"), "{skipped:?}");
    let world = s.app.sandbox.lytho().with_world(Clone::clone);
    // The newest open task of a person who is a task's first user.
    let (person, task) = world.items[&Kind::Task]
        .values()
        .filter(|t| t.completed_date.is_none() && !t.archived)
        .filter_map(|t| {
            let u = world.users.get(t.user_ids.first()?)?;
            matches!(u.status, sandbox::lytho::state::UserStatus::Active).then_some((u, t))
        })
        .max_by_key(|(u, t)| (u.id, t.modified_date))
        .map(|(u, _)| {
            let newest = world.items[&Kind::Task]
                .values()
                .filter(|t| {
                    t.user_ids.first() == Some(&u.id) && t.completed_date.is_none() && !t.archived
                })
                .max_by_key(|t| t.modified_date)
                .unwrap();
            (u.clone(), newest.id)
        })
        .unwrap();
    let original = world.items[&Kind::Task][&task].description.clone().unwrap();
    let contact = ghl_contacts_with(&s, &person.email.to_lowercase())[0]
        .id
        .clone();
    let description = || {
        s.app
            .sandbox
            .lytho()
            .with_world(|w| w.item(Kind::Task, task).and_then(|t| t.description.clone()))
            .unwrap()
    };

    let routes = lytho_routes(&s);
    let note = s
        .ghl
        .create_note(
            &contact,
            &ghl::models::CreateNote {
                body: "<p>Client wants the blue cover</p>".to_owned(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    s.until("the note in the task's description", async || {
        description().contains("Client wants the blue cover")
    })
    .await;
    s.settle().await;
    let d = description();
    assert!(
        d.starts_with(&original),
        "the description's own text is kept: {d}"
    );
    assert!(
        d.contains("<p><b>Note from GHL</b></p><p>Client wants the blue cover</p>"),
        "{d}"
    );
    let spent = lytho_calls(&s, &routes);
    assert_eq!(spent.get("PATCH /v1/task/{id}"), Some(&1), "{spent:?}");
    assert_eq!(
        spent.get("GET /v1/task/{id}/description"),
        Some(&1),
        "{spent:?}"
    );

    // Edited in GHL: the same block is rewritten, not a second one added.
    s.ghl
        .update_note(
            &contact,
            &note.id,
            &ghl::models::UpdateNote {
                body: Some("<p>Client wants the green cover</p>".to_owned()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    s.until("the edited note", async || {
        description().contains("green cover")
    })
    .await;
    let d = description();
    assert!(!d.contains("blue cover"), "{d}");
    assert_eq!(d.matches("Note from GHL").count(), 1, "{d}");
    assert!(d.starts_with(&original));
}
