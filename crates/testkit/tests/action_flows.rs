//! Action flows end to end against the sandboxes: a Lofty webhook, a GHL webhook
//! (with a filter), a schedule, a Lytho poll and a manual run each run their action
//! through its mapping; and a flow that cannot work is refused, naming the field.

use std::time::Duration;

use engine::actions::{Ran, enable, fire_schedules, manual_event, run_now};
use engine::catalog::catalog;
use serde_json::{Value, json};
use testkit::{Backend, Spec, spawn_app_with};

/// Runs `action` through connection `conn` (to look at the sandbox as a user would).
async fn call(app: &testkit::TestApp, conn: &str, action: &str, input: Value) -> Value {
    let conn = app.store.connection(conn).await.unwrap().unwrap();
    engine::catalog::call(
        app.connectors(),
        conn,
        catalog().find(action).unwrap(),
        input,
    )
    .await
    .unwrap_or_else(|e| panic!("{action}: {e}"))
}

/// The first names of the location's contacts.
async fn first_names(app: &testkit::TestApp, ghl: &str, location: &str) -> Vec<String> {
    let found = call(
        app,
        ghl,
        "ghl.contacts.search",
        json!({"locationId": location, "pageLimit": 100}),
    )
    .await;
    found["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["firstName"].as_str().map(str::to_owned))
        .collect()
}

/// Drains until `done` holds (webhooks arrive on their own time), at most 10 s.
async fn until<F: AsyncFn() -> bool>(app: &testkit::TestApp, what: &str, done: F) {
    for _ in 0..100 {
        app.drain().await;
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_trigger_runs_any_action_through_its_mapping_sqlite() {
    any_trigger_runs_any_action(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_trigger_runs_any_action_through_its_mapping_postgres() {
    any_trigger_runs_any_action(Backend::Postgres).await;
}

async fn any_trigger_runs_any_action(backend: Backend) {
    let Some(app) = spawn_app_with(Spec::default().on(backend)).await else {
        println!("skipped: no PostgreSQL (set GHLSYNC_DATABASE_URL)");
        return;
    };
    let location = app.location(0).id.clone();
    let ghl = app
        .connect_ghl_pit(0, "contacts.readonly contacts.write")
        .await;
    let lofty = app.connect_lofty_key().await;
    let lytho = app.connect_lytho().await;
    app.drain().await;

    // A Lofty lead created -> a GHL contact named after it.
    let lead_flow = format!(
        r#"[flow]
id = "lofty-lead-to-ghl"
trigger = "lofty.trigger.lead_create"
action = "ghl.contacts.upsert"
[input]
locationId = {{ value = "{location}" }}
firstName = {{ expr = "'Lofty lead ' ~ record.leadId" }}
"#
    );
    enable(&app.store, "lead.toml", &lead_flow, Some(&lofty), &ghl)
        .await
        .unwrap();
    // A GHL contact tagged vip -> a note on it; other tags do nothing.
    let vip_flow = r#"[flow]
id = "vip-note"
trigger = "ghl.trigger.contact_tag_update"
action = "ghl.notes.create"
filter = "'vip' in record.tags"
[input]
contactId = { from = "id" }
body = { expr = "'Tagged VIP: ' ~ record.firstName" }
"#;
    enable(&app.store, "vip.toml", vip_flow, Some(&ghl), &ghl)
        .await
        .unwrap();
    // Every hour -> a contact; a Lytho task changed -> a contact; by hand -> a contact.
    for (id, trigger, first, from) in [
        (
            "hourly",
            "ghlsync.trigger.schedule",
            "{ expr = \"'Tick'\" }",
            None,
        ),
        (
            "lytho-task",
            "lytho.trigger.task_modified",
            "{ expr = \"'Lytho task ' ~ record.id\" }",
            Some(lytho.as_str()),
        ),
        (
            "by-hand",
            "ghlsync.trigger.manual",
            "{ from = \"input.name\" }",
            None,
        ),
    ] {
        let settings = if trigger.ends_with("schedule") {
            "[trigger]\nevery_secs = 3600\n"
        } else {
            ""
        };
        let text = format!(
            "[flow]\nid = \"{id}\"\ntrigger = \"{trigger}\"\naction = \"ghl.contacts.upsert\"\n{settings}[input]\nlocationId = {{ value = \"{location}\" }}\nfirstName = {first}\n"
        );
        enable(&app.store, id, &text, from, &ghl)
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
    }

    // Lofty: create a lead; its delivery runs the flow.
    let lead = app
        .lofty_client()
        .create_lead(&lofty::models::CreateLead::new("Zed"))
        .await
        .unwrap();
    let lofty_base = app.sandbox.info().lofty.base_url.clone();
    app.http
        .post(format!("{lofty_base}/_sandbox/webhooks/flush"))
        .send()
        .await
        .unwrap();
    let want = format!("Lofty lead {lead}");
    until(&app, "the Lofty lead's contact", async || {
        first_names(&app, &ghl, &location).await.contains(&want)
    })
    .await;

    // GHL: tag one contact vip and another one other.
    let found = call(
        &app,
        &ghl,
        "ghl.contacts.search",
        json!({"locationId": location, "pageLimit": 10}),
    )
    .await;
    let ids: Vec<String> = found["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let notes = async |id: &str| -> Vec<String> {
        call(&app, &ghl, "ghl.notes.list", json!({"contactId": id})).await["notes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|n| n["body"].as_str().map(str::to_owned))
            .filter(|b| b.starts_with("Tagged VIP"))
            .collect()
    };
    call(
        &app,
        &ghl,
        "ghl.contacts.update",
        json!({"contactId": ids[0], "tags": ["vip"], "firstName": "Vera"}),
    )
    .await;
    call(
        &app,
        &ghl,
        "ghl.contacts.update",
        json!({"contactId": ids[1], "tags": ["other"]}),
    )
    .await;
    until(&app, "the vip note", async || {
        notes(&ids[0]).await == ["Tagged VIP: Vera"]
    })
    .await;
    app.drain().await;
    assert!(
        notes(&ids[1]).await.is_empty(),
        "the filter keeps the other contact out"
    );

    // The schedule fires once per slot, whichever worker looks.
    let now = app.store.now();
    assert_eq!(fire_schedules(&app.store, now).await.unwrap(), 1);
    assert_eq!(
        fire_schedules(&app.store, now).await.unwrap(),
        0,
        "a slot fires once"
    );
    app.drain().await;
    assert!(
        first_names(&app, &ghl, &location)
            .await
            .contains(&"Tick".to_owned())
    );

    // Lytho: only what changes after the flow was switched on fires it.
    let origin = app
        .sandbox
        .info()
        .lytho
        .base_url
        .trim_end_matches("/v1")
        .to_owned();
    let touched: Value = app
        .http
        .post(format!("{origin}/_sandbox/touch"))
        .json(&json!({"type": "task", "count": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job = engine::jobs::Job::from(engine::jobs::LythoPoll {
        connection: lytho.clone(),
        window: now,
    });
    app.store.enqueue(&job.into_new_job()).await.unwrap();
    app.drain().await;
    app.drain().await;
    let lytho_contacts: Vec<String> = first_names(&app, &ghl, &location)
        .await
        .into_iter()
        .filter(|n| n.starts_with("Lytho task "))
        .collect();
    assert_eq!(
        lytho_contacts.len(),
        1,
        "one touched task, one contact ({touched}): {lytho_contacts:?}"
    );

    // By hand, with the person's input; a dry run sends nothing.
    let row = app.store.action_flow("by-hand").await.unwrap().unwrap();
    let planned = run_now(
        app.connectors(),
        &row,
        &manual_event(json!({"name": "Hand Run"})),
        true,
    )
    .await
    .unwrap();
    assert_eq!(
        planned,
        Ran::Planned {
            input: json!({"locationId": location, "firstName": "Hand Run"})
        }
    );
    assert!(
        !first_names(&app, &ghl, &location)
            .await
            .contains(&"Hand Run".to_owned())
    );
    let Ran::Done { answer, .. } = run_now(
        app.connectors(),
        &row,
        &manual_event(json!({"name": "Hand Run"})),
        false,
    )
    .await
    .unwrap() else {
        panic!("it ran");
    };
    assert_eq!(answer["contact"]["firstName"], "Hand Run", "{answer}");

    // A flow that cannot work is refused when it is switched on.
    let broken = vip_flow.replace("body = ", "bodyx = ");
    let err = enable(&app.store, "bad.toml", &broken, Some(&ghl), &ghl)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`bodyx` is not an input of ghl.notes.create"),
        "{err}"
    );
    let broken = vip_flow.replace(
        "body = { expr = \"'Tagged VIP: ' ~ record.firstName\" }",
        "",
    );
    let err = enable(&app.store, "bad.toml", &broken, Some(&ghl), &ghl)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[input] body") && err.contains("requires `body`"),
        "{err}"
    );
    let broken = vip_flow.replace("{ from = \"id\" }", "{ from = \"tags\" }");
    let err = enable(&app.store, "bad.toml", &broken, Some(&ghl), &ghl)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("takes string here, but `tags`"), "{err}");
    let err = enable(&app.store, "bad.toml", vip_flow, Some(&lofty), &ghl)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("is a lofty connection"), "{err}");
    app.shutdown().await;
}
