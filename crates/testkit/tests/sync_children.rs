//! Tasks and notes on linked contacts (recipes `lofty-ghl-tasks`, `lofty-ghl-notes`)
//! end to end against the sandboxes: each change reaches the other side under the
//! linked record with the mapped fields, and the calls it took are read from the
//! sandbox counters (a created or changed child: 1 write on the target; an echo:
//! none). A child that arrives before its parent waits for it; GHL's `TaskCreate`
//! as it is reported to arrive (no `contactId`) is found by one search.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::{Backend, Calls, Spec, TestApp, spawn_app_with};

/// What every test here starts from: both accounts connected (the GHL PIT with
/// the scopes the recipes need) and the contacts, tasks and notes recipes on.
struct Setup {
    app: TestApp,
    location: String,
    ghl: ghl::GhlClient,
    lofty: lofty::LoftyClient,
}

const SCOPES: &str =
    "contacts.readonly contacts.write locations/customFields.readonly locations/tasks.readonly";

async fn setup(backend: Backend) -> Option<Setup> {
    let app = spawn_app_with(Spec::default().on(backend)).await?;
    let ghl_conn = app.connect_ghl_pit(0, SCOPES).await;
    let lofty_conn = app.connect_lofty_key().await;
    app.drain().await;
    for recipe in ["lofty-ghl-contacts", "lofty-ghl-tasks", "lofty-ghl-notes"] {
        engine::sync::enable_recipe(app.connectors(), recipe, &ghl_conn, &lofty_conn)
            .await
            .unwrap_or_else(|e| panic!("{recipe} enables: {e}"));
    }
    let ghl = app
        .connectors()
        .open(&ghl_conn)
        .await
        .unwrap()
        .into_ghl()
        .unwrap()
        .client()
        .clone();
    Some(Setup {
        location: app.location(0).id.clone(),
        lofty: app.lofty_client(),
        ghl,
        app,
    })
}

impl Setup {
    /// Runs the engine (Lofty's batched webhooks flushed, the clock moved past
    /// retry waits) until `done` holds.
    async fn until(&self, what: &str, mut done: impl AsyncFnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.app.sandbox.lofty().flush_webhooks().await;
            self.app.drain().await;
            if done().await {
                return;
            }
            if Instant::now() >= deadline {
                let mut log = Vec::new();
                for flow in ["lofty-ghl-tasks", "lofty-ghl-notes"] {
                    log.extend(self.app.store.runs(flow, 20).await.unwrap_or_default());
                }
                panic!("timed out waiting for {what}; the children's history: {log:#?}");
            }
            self.app.store.advance_clock(Duration::from_secs(3));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs the engine until nothing is queued (every webhook in and handled).
    async fn settle(&self) {
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            self.app.sandbox.lofty().flush_webhooks().await;
            self.app.drain_all(Duration::from_secs(30)).await;
        }
    }

    /// A Lofty task as the sandbox holds it (no API call).
    fn lofty_task(&self, id: i64) -> Option<sandbox::lofty::state::Entry> {
        self.app
            .sandbox
            .lofty()
            .with_world(|w| w.entries.get(&id).cloned())
    }

    /// A GHL task as the sandbox holds it (no API call).
    fn ghl_task(&self, id: &str) -> Option<sandbox::ghl::state::Task> {
        self.app.sandbox.ghl().with_world(|w| {
            w.locations
                .get(&self.location)
                .and_then(|l| l.tasks.get(id).cloned())
        })
    }

    async fn calls(&self) -> Calls {
        Calls::now(&self.app, &self.location).await
    }

    async fn pair(&self, flow: &str, side: &str, id: &str) -> Option<store::PairRow> {
        self.app.store.pair(flow, side, id).await.unwrap()
    }

    /// A Lofty lead, linked to its new GHL contact: (lead id, contact id).
    async fn linked_lead(&self, email: &str) -> (i64, String) {
        let lead = self
            .lofty
            .create_lead(&lofty::models::CreateLead {
                first_name: "Kid".to_owned(),
                emails: Some(vec![email.to_owned()]),
                ..Default::default()
            })
            .await
            .unwrap();
        let id = lead.to_string();
        self.until("the lead's link", async || {
            self.pair("lofty-ghl-contacts", "right", &id)
                .await
                .is_some()
        })
        .await;
        let contact = self
            .pair("lofty-ghl-contacts", "right", &id)
            .await
            .unwrap()
            .left_id;
        self.settle().await;
        (lead, contact)
    }

    async fn history_decisions(&self, flow: &str) -> Vec<(String, String)> {
        self.app
            .store
            .runs(flow, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|h| (h.decision, h.source))
            .collect()
    }
}

fn in_a_week() -> jiff::Timestamp {
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 7);
    // Whole seconds: Lofty keeps no more.
    jiff::Timestamp::from_second(t.as_second()).unwrap()
}

fn instant(v: &Value) -> i64 {
    domain::sync::transform::instant_ms(v).unwrap_or_else(|| panic!("not a time: {v}"))
}

async fn tasks_both_ways(backend: Backend) {
    let Some(s) = setup(backend).await else {
        eprintln!("skipped: PostgreSQL is not available (set GHLSYNC_DATABASE_URL)");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tasks_both_ways() {
    tasks_both_ways(Backend::Sqlite).await;
}
