//! The Flows, Runs and Health pages and their API: a recipe's mapping changed in
//! the editor is previewed (per-record diffs, nothing changed), saved into the sync
//! file and enabled; its backfill syncs with the new rule; Runs finds the record's
//! history; Health charts the samples and names a connection needing attention.

use std::time::Duration;

use domain::sync::edit::mapping_of;
use serde_json::Value;
use store::{ConnectionStatus, Role};
use testkit::{TestApp, attr, spawn_app};

const FLOW: &str = "lofty-ghl-contacts";

/// The editor's form for the recipe with `source` made upper case, as the page
/// posts it (every rule a row `f<i>.*`).
fn editor_form(csrf: &str, left: &str, right: &str, action: &str) -> Vec<(String, String)> {
    let file =
        domain::sync::SyncFile::parse("r.toml", domain::sync::recipes::source(FLOW).unwrap())
            .unwrap();
    let mapping = mapping_of(&file);
    let mut form: Vec<(String, String)> = vec![
        ("csrf".into(), csrf.into()),
        ("left".into(), left.into()),
        ("right".into(), right.into()),
        ("action".into(), action.into()),
        ("direction".into(), "both".into()),
        ("conflict".into(), "newest".into()),
        ("filter_left".into(), mapping.filter_left.clone()),
        ("filter_right".into(), String::new()),
    ];
    for (i, f) in mapping.fields.iter().enumerate() {
        let transforms = if f.left == "source" {
            "trim, upper".to_owned()
        } else {
            f.transforms.clone()
        };
        for (k, v) in [
            ("from", f.from.unwrap().to_string()),
            ("left", f.left.clone()),
            ("right", f.right.clone()),
            ("direction", String::new()),
            ("conflict", String::new()),
            ("transforms", transforms),
        ] {
            form.push((format!("f{i}.{k}"), v));
        }
    }
    // The empty new rows the page always sends.
    let n = mapping.fields.len();
    form.push((format!("f{n}.from"), String::new()));
    form.push((format!("f{n}.left"), String::new()));
    form.push((format!("f{n}.right"), String::new()));
    form
}

async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: &str,
    form: &[(String, String)],
) -> reqwest::Response {
    app.http
        .post(format!("{}{path}", app.address))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn api(app: &TestApp, path: &str, token: &str) -> Value {
    let resp = app
        .http
        .get(format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_rule_changed_in_the_editor_is_previewed_saved_and_synced() {
    let app = spawn_app().await;
    let ghl = app
        .connect_ghl_pit(
            0,
            "contacts.readonly contacts.write locations/customFields.readonly",
        )
        .await;
    let lofty_conn = app.connect_lofty_key().await;
    app.drain().await;
    let lofty = app.lofty_client();
    let email = "pat.preview@example.com";
    let lead = lofty
        .create_lead(&lofty::models::CreateLead {
            first_name: "Pat".to_owned(),
            emails: Some(vec![email.to_owned()]),
            source: Some(" open house ".to_owned()),
            ..Default::default()
        })
        .await
        .unwrap();
    let admin = app.login().await;

    // The list offers the recipe with its limits and connection choices.
    let list = app.page_as("/flows", &admin).await;
    for nav in [
        "Connections",
        "Flows",
        "Runs",
        "Review",
        "Dead letters",
        "Health",
    ] {
        assert!(list.contains(&format!(">{nav}</a>")), "nav {nav}: {list}");
    }
    assert!(list.contains("id=\"recipe-lofty-ghl-contacts\""), "{list}");
    assert!(list.contains("Limits"), "{list}");
    assert!(
        list.contains("Lytho&#39;s comments are read-only")
            || list.contains("Lytho's comments are read-only"),
        "{list}"
    );
    assert!(list.contains(&format!("<option value=\"{ghl}\"")), "{list}");

    // The editor: both sides' fields offered, custom fields read from the accounts.
    let editor = app
        .page_as(
            &format!("/flows/{FLOW}?left={ghl}&right={lofty_conn}"),
            &admin,
        )
        .await;
    assert!(editor.contains("<datalist id=\"left-fields\">"), "{editor}");
    assert!(
        editor.contains("<option value=\"emails[0]\""),
        "Lofty's fields: {editor}"
    );
    assert!(
        editor.contains("custom field "),
        "the accounts' custom fields: {editor}"
    );
    assert!(editor.contains("value=\"source\""), "{editor}");
    let csrf = attr(&editor, "name=\"csrf\" value=\"", "\"");

    // Preview: the lead would be created with the new rule's value; nothing changes.
    let preview = post_form(
        &app,
        &format!("/flows/{FLOW}"),
        &admin,
        &editor_form(&csrf, &ghl, &lofty_conn, "preview"),
    )
    .await;
    assert_eq!(preview.status(), 200);
    let preview = preview.text().await.unwrap();
    assert!(
        preview.contains("Dry run: nothing was changed"),
        "{preview}"
    );
    assert!(preview.contains(&format!("lofty:lead:{lead}")), "{preview}");
    assert!(
        preview.contains("OPEN HOUSE"),
        "the edited rule's value: {preview}"
    );
    assert!(app.store.flow(FLOW).await.unwrap().is_none(), "not stored");
    assert!(
        app.store
            .pair(FLOW, "right", &lead.to_string())
            .await
            .unwrap()
            .is_none()
    );

    // A rule that cannot be written says which and why.
    let mut bad = editor_form(&csrf, &ghl, &lofty_conn, "save");
    bad.iter_mut()
        .find(|(k, _)| k == "f1.transforms")
        .unwrap()
        .1 = "trim, shout".into();
    let refused = post_form(&app, &format!("/flows/{FLOW}"), &admin, &bad).await;
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("field rule 2: the transforms `trim, shout`")
    );

    // Save and enable: the same sync file, the rule changed, comments kept.
    let saved = post_form(
        &app,
        &format!("/flows/{FLOW}"),
        &admin,
        &editor_form(&csrf, &ghl, &lofty_conn, "enable"),
    )
    .await;
    assert!(saved.status().is_redirection(), "{}", saved.status());
    assert_eq!(
        saved.headers()["location"],
        format!("/flows/{FLOW}?saved=enabled")
    );
    let row = app.store.flow(FLOW).await.unwrap().expect("stored");
    assert!(row.enabled);
    let file = domain::sync::SyncFile::parse("f.toml", &row.file).unwrap();
    assert_eq!(file.sync.version, 2);
    let source = file.fields.iter().find(|f| f.left == "source").unwrap();
    assert_eq!(
        domain::sync::edit::transforms_text(&source.transforms),
        "trim, upper"
    );
    assert!(row.file.contains("# Tags are a set on both sides"));
    assert!(
        row.file.contains("[accounts]"),
        "enabling read the custom fields"
    );

    // Backfill from the list; the lead reaches GHL with the new rule.
    let list = app.page_as("/flows", &admin).await;
    assert!(list.contains("value=\"backfill\""), "{list}");
    let started = post_form(
        &app,
        &format!("/flows/{FLOW}/switch"),
        &admin,
        &[
            ("csrf".into(), csrf.clone()),
            ("do".into(), "backfill".into()),
        ],
    )
    .await;
    assert!(started.status().is_redirection());
    let pair = async || {
        app.store
            .pair(FLOW, "right", &lead.to_string())
            .await
            .unwrap()
    };
    app.drain_until("the backfill links the lead", async || {
        pair().await.is_some()
    })
    .await;
    let contact = pair().await.unwrap().left_id;
    let g = app
        .connectors()
        .open(&ghl)
        .await
        .unwrap()
        .into_ghl()
        .unwrap();
    let got = g.client().get_contact(&contact).await.unwrap();
    assert_eq!(got.source.as_deref(), Some("OPEN HOUSE"));

    // Runs: counts per flow, and the person's history.
    let runs = app
        .page_as(&format!("/runs?q={}", "Pat.Preview@example.com"), &admin)
        .await;
    assert!(
        runs.contains("What happened to Pat.Preview@example.com"),
        "{runs}"
    );
    assert!(runs.contains("<strong>create</strong>"), "{runs}");
    assert!(runs.contains(&format!("lofty:lead:{lead}")), "{runs}");
    app.store
        .create_api_token("ro", Role::Viewer, "ghs_flows_ro")
        .await
        .unwrap();
    let counts = api(&app, "/api/runs", "ghs_flows_ro").await;
    let ours = counts["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flow"] == FLOW)
        .unwrap()
        .clone();
    assert!(ours["counts"]["create"].as_i64().unwrap() >= 1, "{counts}");
    assert!(ours["linked"].as_i64().unwrap() >= 1);
    let history = api(&app, &format!("/api/history?q={email}"), "ghs_flows_ro").await;
    assert!(
        history["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["decision"] == "create"),
        "{history}"
    );
    let listed = api(&app, "/api/flows", "ghs_flows_ro").await;
    assert!(
        listed["flows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == FLOW && f["enabled"] == true),
        "{listed}"
    );
    assert!(
        !listed["recipes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == FLOW),
        "enabled: not offered again"
    );
    let one = api(&app, &format!("/api/flows/{FLOW}"), "ghs_flows_ro").await;
    assert!(
        one["fields"]["left"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"].as_str().unwrap().starts_with("customFields[id=")),
        "{one}"
    );

    // A viewer reads the editor without buttons; its posts are refused.
    app.add_user("vera", Role::Viewer).await;
    let viewer = app.login_as("vera").await;
    let seen = app.page_as(&format!("/flows/{FLOW}"), &viewer).await;
    assert!(
        seen.contains("value=\"source\"") && !seen.contains("value=\"preview\""),
        "{seen}"
    );
    let vcsrf = attr(&seen, "name=\"csrf\" value=\"", "\"");
    let no = post_form(
        &app,
        &format!("/flows/{FLOW}/switch"),
        &viewer,
        &[("csrf".into(), vcsrf), ("do".into(), "disable".into())],
    )
    .await;
    assert_eq!(no.status(), 403);
    let no = app
        .http
        .post(format!("{}/api/flows/{FLOW}/disable", app.address))
        .bearer_auth("ghs_flows_ro")
        .send()
        .await
        .unwrap();
    assert_eq!(no.status(), 403);
    assert!(app.store.flow(FLOW).await.unwrap().unwrap().enabled);

    // No secret in any page or API answer: the accounts' credentials, the
    // operator and API tokens, the session.
    let info = app.sandbox.info();
    let session = admin.split_once('=').unwrap().1.to_owned();
    let secrets = [
        info.lofty.api_key.clone(),
        app.location(0).token.clone(),
        testkit::ADMIN_TOKEN.to_owned(),
        "ghs_flows_ro".to_owned(),
        session,
    ];
    for path in [
        "/",
        "/flows",
        "/flows/lofty-ghl-contacts",
        "/runs",
        "/runs?q=pat.preview@example.com",
        "/review",
        "/dead-letters",
        "/health",
        "/api/connections",
        "/api/flows",
        "/api/flows/lofty-ghl-contacts",
        "/api/runs",
        "/api/history?q=pat.preview@example.com",
        "/api/reviews",
        "/api/dead-letters",
        "/api/health",
        "/metrics",
    ] {
        let seen = app.page_as(path, &admin).await;
        assert!(seen.len() > 10, "{path}: {seen}");
        for secret in &secrets {
            assert!(!seen.contains(secret.as_str()), "a secret in {path}");
        }
    }

    // An admin disables it from the list.
    let off = post_form(
        &app,
        &format!("/flows/{FLOW}/switch"),
        &admin,
        &[("csrf".into(), csrf), ("do".into(), "disable".into())],
    )
    .await;
    assert!(off.status().is_redirection());
    assert!(!app.store.flow(FLOW).await.unwrap().unwrap().enabled);
}

#[tokio::test]
async fn health_charts_the_samples_and_names_connections_needing_attention() {
    let app = spawn_app().await;
    let ghl = app.connect_ghl_pit(0, "contacts.readonly").await;
    let admin = app.login().await;
    let empty = app.page_as("/health", &admin).await;
    assert!(empty.contains("No samples in this window yet"), "{empty}");

    // Three minutes of samples, the queue growing and a budget half used.
    for i in 0..3 {
        app.store
            .reserve_slots("ghl:loc-health", 30_000)
            .await
            .unwrap();
        if i == 1 {
            app.drain().await;
        }
        assert!(app.store.take_samples().await.unwrap());
        assert!(!app.store.take_samples().await.unwrap(), "once a minute");
        app.store.advance_clock(Duration::from_secs(60));
    }
    app.store
        .set_connection_status(
            &ghl,
            ConnectionStatus::NeedsReauth,
            Some("the refresh token was revoked"),
        )
        .await
        .unwrap();
    let page = app.page_as("/health", &admin).await;
    assert!(page.contains("<svg"), "{page}");
    assert!(page.contains("<polyline"), "{page}");
    assert!(page.contains("Queue depth"), "{page}");
    assert!(page.contains("Rate budget use: ghl:loc-health"), "{page}");
    assert!(page.contains("the refresh token was revoked"), "{page}");
    app.store
        .create_api_token("ro", Role::Viewer, "ghs_health")
        .await
        .unwrap();
    let api = api(&app, "/api/health", "ghs_health").await;
    let budget = &api["budget_use_percent"]["ghl:loc-health"];
    assert_eq!(budget.as_array().unwrap().len(), 2, "{api}");
    // 30 s of send time reserved per minute: half the budget.
    assert_eq!(budget[0][1].as_f64().unwrap().round(), 50.0, "{api}");
    assert_eq!(
        api["queue_depth"]["default"].as_array().unwrap().len(),
        3,
        "{api}"
    );
    assert_eq!(api["attention"][0]["id"], ghl.as_str());
}
