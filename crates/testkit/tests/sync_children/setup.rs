//! What the children's tests start from: both sandboxes connected and the
//! recipes on, with helpers that read the sandboxes' worlds (no API calls).

use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::{Backend, Calls, Spec, TestApp, spawn_app_with};

/// A test module `<name>` with `sqlite` and `postgres` tests running `<name>(backend)`.
macro_rules! on_both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(testkit::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(testkit::Backend::Postgres).await;
            }
        }
    };
}

/// What every test here starts from: both accounts connected (the GHL PIT with
/// the scopes the recipes need) and the contacts, tasks and notes recipes on.
pub struct Setup {
    pub app: TestApp,
    pub location: String,
    /// The GHL connection's id.
    pub ghl_conn: String,
    pub ghl: ghl::GhlClient,
    pub lofty: lofty::LoftyClient,
    /// The flows on (their history is shown when a wait times out).
    pub flows: Vec<&'static str>,
}

const SCOPES: &str =
    "contacts.readonly contacts.write locations/customFields.readonly locations/tasks.readonly";

/// `None` (with a one-line reason) when PostgreSQL is asked for and not there.
pub async fn setup(backend: Backend) -> Option<Setup> {
    setup_with(
        backend,
        &["lofty-ghl-contacts", "lofty-ghl-tasks", "lofty-ghl-notes"],
        SCOPES,
        &[],
    )
    .await
}

/// [`setup`] with other recipes on, a GHL PIT of `scopes`, and the config's
/// `[ghl.calendars]` entries (`*` for every location).
pub async fn setup_with(
    backend: Backend,
    recipes: &[&'static str],
    scopes: &str,
    calendars: &[(&str, &str)],
) -> Option<Setup> {
    let Some(app) = spawn_app_with(Spec::default().on(backend)).await else {
        eprintln!("skipped: PostgreSQL is not available (set GHLSYNC_DATABASE_URL)");
        return None;
    };
    let ghl_conn = app.connect_ghl_pit(0, scopes).await;
    let lofty_conn = app.connect_lofty_key().await;
    app.drain().await;
    let connectors = app.connectors().clone().with_ghl_calendars(
        calendars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    for recipe in recipes {
        engine::sync::enable_recipe(&connectors, recipe, &ghl_conn, &lofty_conn)
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
        ghl_conn,
        lofty: app.lofty_client(),
        ghl,
        app,
        flows: recipes.to_vec(),
    })
}

impl Setup {
    /// Runs the engine (Lofty's batched webhooks flushed, the clock moved past
    /// retry waits) until `done` holds.
    pub async fn until(&self, what: &str, mut done: impl AsyncFnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.app.sandbox.lofty().flush_webhooks().await;
            self.app.drain().await;
            if done().await {
                return;
            }
            if Instant::now() >= deadline {
                let mut log = Vec::new();
                for flow in &self.flows {
                    log.extend(self.app.store.runs(flow, 20).await.unwrap_or_default());
                }
                panic!("timed out waiting for {what}; the flows' history: {log:#?}");
            }
            self.app.store.advance_clock(Duration::from_secs(3));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs the engine until nothing is queued (every webhook in and handled).
    pub async fn settle(&self) {
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            self.app.sandbox.lofty().flush_webhooks().await;
            self.app.drain_all(Duration::from_secs(30)).await;
        }
    }

    /// A Lofty task as the sandbox holds it (no API call).
    pub fn lofty_task(&self, id: i64) -> Option<sandbox::lofty::state::Entry> {
        self.app
            .sandbox
            .lofty()
            .with_world(|w| w.entries.get(&id).cloned())
    }

    /// A GHL task as the sandbox holds it (no API call).
    pub fn ghl_task(&self, id: &str) -> Option<sandbox::ghl::state::Task> {
        self.app.sandbox.ghl().with_world(|w| {
            w.locations
                .get(&self.location)
                .and_then(|l| l.tasks.get(id).cloned())
        })
    }

    /// The Lofty id of a GHL record's twin in `flow`, once the engine has made it
    /// (and handled what followed).
    pub async fn lofty_twin(&self, flow: &str, ghl_id: &str) -> i64 {
        self.until(
            &format!("the {flow} twin of {ghl_id} in Lofty"),
            async || self.pair(flow, "left", ghl_id).await.is_some(),
        )
        .await;
        self.settle().await;
        self.pair(flow, "left", ghl_id)
            .await
            .unwrap()
            .right_id
            .parse()
            .unwrap()
    }

    pub async fn calls(&self) -> Calls {
        Calls::now(&self.app, &self.location).await
    }

    pub async fn pair(&self, flow: &str, side: &str, id: &str) -> Option<store::PairRow> {
        self.app.store.pair(flow, side, id).await.unwrap()
    }

    /// A Lofty lead, linked to its new GHL contact: (lead id, contact id).
    pub async fn linked_lead(&self, email: &str) -> (i64, String) {
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

    pub async fn history_decisions(&self, flow: &str) -> Vec<(String, String)> {
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

pub fn in_a_week() -> jiff::Timestamp {
    let t = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 7);
    // Whole seconds: Lofty keeps no more.
    jiff::Timestamp::from_second(t.as_second()).unwrap()
}

pub fn instant(v: &Value) -> i64 {
    domain::sync::transform::instant_ms(v).unwrap_or_else(|| panic!("not a time: {v}"))
}
