//! The admin UI in a real browser (headless Chromium through chromedriver), walked
//! as a person new to ghlsync would: the setup link, log out and in, connect GHL
//! through the OAuth consent page and Lofty with its key, open the contacts recipe
//! in the mapping editor, change a rule, preview the dry run, save and enable,
//! backfill; a Lofty lead found on Runs; a job that died while GHL was failing,
//! replayed from Dead letters; an ambiguous match linked from Review; Health.
//! Each page is kept as a screenshot under `<target>/browser-artifacts/admin-walk`.
//!
//! The sandbox's world is arranged from the test (a lead with a source, GHL failing,
//! two GHL contacts sharing an email), as it would be by the systems' own users; what
//! the admin does goes through the browser.

use std::time::Duration;

use serde_json::json;
use testkit::browser::Browser;
use testkit::{ADMIN_PASSWORD, TestApp, spawn_app};

const FLOW: &str = "lofty-ghl-contacts";

/// Drains, moving the store's clock `step` at a time past retry waits, until `done`.
async fn drain_moving_clock(app: &TestApp, what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        app.drain().await;
        if done().await {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        app.store.advance_clock(Duration::from_secs(150));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Logs in on the login page shown, as `ada`.
async fn log_in(browser: &Browser) {
    browser.fill("#name", "ada").await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Log out").await;
}

/// The editor row (index) whose left field is `left`.
async fn editor_row(browser: &Browser, left: &str) -> usize {
    let rows = browser.count("input[name$='.left']").await;
    for i in 0..rows {
        if browser.value(&format!("input[name='f{i}.left']")).await == left {
            return i;
        }
    }
    panic!("no editor row maps `{left}`:\n{}", browser.text().await);
}

async fn lead_with(app: &TestApp, first: &str, last: &str, email: &str) -> i64 {
    app.lofty_client()
        .create_lead(&lofty::models::CreateLead {
            first_name: first.to_owned(),
            last_name: Some(last.to_owned()),
            emails: Some(vec![email.to_owned()]),
            source: Some(" open house ".to_owned()),
            ..Default::default()
        })
        .await
        .expect("the lead")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_runs_the_admin_ui_in_a_browser() {
    let Some(browser) = Browser::start("admin-walk").await else {
        return;
    };
    let app = spawn_app().await;
    let base = app.address.clone();
    let shot = async |name: &str| browser.screenshot(name).await;

    // The first account, from the setup link `up` prints.
    let token = "setup-link-of-the-browser-test";
    app.store
        .put_setup_token(token, app.store.now() + 600_000)
        .await
        .unwrap();
    browser.goto(&format!("{base}/setup?token={token}")).await;
    browser.fill("#name", "ada").await;
    browser.fill("#password", ADMIN_PASSWORD).await;
    browser.fill("#password2", ADMIN_PASSWORD).await;
    shot("01-setup").await;
    browser.click("button[type=submit]").await;
    let text = browser.wait_for_text("Nothing connected yet").await;
    for nav in [
        "Connections",
        "Flows",
        "Runs",
        "Review",
        "Dead letters",
        "Health",
    ] {
        assert!(text.contains(nav), "the navigation names {nav}: {text}");
    }
    assert!(text.contains("ada"), "who is logged in: {text}");

    // Log out (the session ends), then in through the form, landing where asked.
    browser.click("form[action='/logout'] button").await;
    browser.wait_for_text("Log in").await;
    browser.goto(&format!("{base}/flows")).await;
    browser.wait_for_text("Log in").await;
    assert!(
        browser.url().await.contains("/login"),
        "{}",
        browser.url().await
    );
    browser.fill("#name", "ada").await;
    browser.fill("#password", "not the password at all").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Wrong name or password").await;
    assert_eq!(browser.value("input[name=next]").await, "/flows");
    log_in(&browser).await;
    browser.wait_for_text("Recipes").await;
    assert!(
        browser.url().await.ends_with("/flows"),
        "{}",
        browser.url().await
    );

    // Connect GHL through the real OAuth redirect and the sandbox's consent page.
    browser.goto(&format!("{base}/")).await;
    browser.click("a[href='/connect/ghl']").await;
    let consent = browser.wait_for_text("Install app").await;
    assert!(
        consent.contains("contacts.write"),
        "the scopes asked: {consent}"
    );
    shot("02-ghl-consent").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Connected").await;
    browser.click("a[href='/']").await;
    let location = app.location(0).id.clone();
    let connections = browser.wait_for_text("active").await;
    assert!(
        connections.contains("contacts.write"),
        "scopes shown: {connections}"
    );

    // Connect Lofty with its API key.
    let key = app.sandbox.info().lofty.api_key.clone();
    browser.fill("#lofty-secret", &key).await;
    browser.click("#lofty-secret ~ p button").await;
    let connected = browser.wait_for_text("Connected").await;
    assert!(!connected.contains(&key), "the key is never shown");
    shot("03-connections").await;
    app.drain().await;
    let conns = app.store.connections().await.unwrap();
    let ghl = conns
        .iter()
        .find(|c| c.system.as_str() == "ghl" && c.id.contains(&location))
        .unwrap_or_else(|| panic!("the GHL location is connected: {conns:?}"))
        .id
        .clone();

    // A lead that exists before the flow: its source will go through the new rule.
    let email = "walk.first@example.com";
    let lead = lead_with(&app, "Wally", "First", email).await;

    // Flows: the recipe's limits, then its mapping; one rule changed.
    browser.goto(&format!("{base}/flows")).await;
    let flows = browser.wait_for_text("Limits").await;
    assert!(flows.contains("Lofty"), "{flows}");
    browser
        .click(&format!("#recipe-{FLOW} button[value=open]"))
        .await;
    browser.wait_for_text("Preview (dry run)").await;
    let source = editor_row(&browser, "source").await;
    let transforms = format!("input[name='f{source}.transforms']");
    browser.fill(&transforms, "trim, upper").await;
    shot("04-editor").await;
    browser.click("button[value=preview]").await;
    let preview = browser.wait_for_text("Dry run: nothing was changed").await;
    assert!(
        preview.contains(&format!("lofty:lead:{lead}")),
        "the lead's diff: {preview}"
    );
    assert!(
        preview.contains("OPEN HOUSE"),
        "the new rule's value: {preview}"
    );
    shot("05-preview").await;
    assert!(app.store.flow(FLOW).await.unwrap().is_none(), "not stored");
    assert_eq!(browser.value(&transforms).await, "trim, upper", "kept");
    browser.click("button[value=enable]").await;
    browser.wait_for_text("Saved and enabled").await;
    let stored = app.store.flow(FLOW).await.unwrap().expect("the flow");
    assert!(stored.enabled);
    assert!(stored.file.contains("\"upper\""), "{}", stored.file);
    browser.goto(&format!("{base}/flows")).await;
    browser
        .click(&format!(
            "form[action='/flows/{FLOW}/switch'] button[value=backfill]"
        ))
        .await;
    browser.wait_for_text("Backfill of").await;
    app.drain_all(Duration::from_secs(60)).await;
    let pair = app
        .store
        .pair(FLOW, "right", &lead.to_string())
        .await
        .unwrap()
        .expect("the lead is linked");
    let g = app
        .connectors()
        .open(&ghl)
        .await
        .unwrap()
        .into_ghl()
        .unwrap();
    let contact = g.client().get_contact(&pair.left_id).await.unwrap();
    assert_eq!(contact.source.as_deref(), Some("OPEN HOUSE"));

    // Runs: what happened to that person.
    browser.goto(&format!("{base}/runs")).await;
    browser.fill("#q", email).await;
    browser.click("#q ~ button").await;
    let runs = browser.wait_for_text(&format!("lofty:lead:{lead}")).await;
    assert!(runs.contains("create"), "{runs}");
    shot("06-runs").await;

    // GHL fails for a while: the new lead's job dies after its retries.
    app.sandbox_control(
        "/_sandbox/faults",
        json!({"error_rate": 1.0, "latency_ms": 0, "storm_429": 0}),
    )
    .await;
    let late = "walk.late@example.com";
    let late_lead = lead_with(&app, "Lana", "Late", late).await;
    drain_moving_clock(&app, "a dead letter", async || {
        !app.store.dead_letters(50).await.unwrap().is_empty()
    })
    .await;
    // The admin comes back more than an hour later: the idle session has ended.
    app.store.advance_clock(Duration::from_secs(61 * 60));
    browser.goto(&format!("{base}/dead-letters")).await;
    browser.wait_for_text("Log in").await;
    log_in(&browser).await;
    let dead = browser.wait_for_text("Replay all").await;
    assert!(browser.url().await.ends_with("/dead-letters"));
    assert!(dead.contains("500"), "the API's answer is shown: {dead}");
    shot("07-dead-letters").await;
    app.http
        .delete(format!("{}/_sandbox/faults", app.ghl_base()))
        .send()
        .await
        .unwrap();
    browser.click("button[name=all]").await;
    browser.wait_for_text("they are queued again").await;
    app.drain_until("the replayed lead's link", async || {
        app.store
            .pair(FLOW, "right", &late_lead.to_string())
            .await
            .unwrap()
            .is_some()
    })
    .await;
    assert!(app.store.dead_letters(50).await.unwrap().is_empty());
    // Runs tells that lead's story: created once GHL answered.
    browser.goto(&format!("{base}/runs")).await;
    browser.fill("#q", late).await;
    browser.click("#q ~ button").await;
    let story = browser
        .wait_for_text(&format!("lofty:lead:{late_lead}"))
        .await;
    assert!(story.contains("create"), "{story}");
    shot("08-runs-after-replay").await;

    // Two GHL contacts share an email, then a lead comes with it: Review asks.
    app.sandbox_control(
        &format!("/_sandbox/locations/{location}/settings"),
        json!({"allowDuplicateContact": true}),
    )
    .await;
    app.stop_ghl_webhooks().await;
    let twice = "walk.twice@example.com";
    let mut contacts = Vec::new();
    for name in ["One", "Two"] {
        let c = g
            .client()
            .create_contact(&ghl::models::CreateContact {
                location_id: location.clone(),
                first_name: Some(name.to_owned()),
                email: Some(twice.to_owned()),
                ..Default::default()
            })
            .await
            .unwrap();
        contacts.push(c.id);
    }
    let row = app.store.flow(FLOW).await.unwrap().unwrap();
    let built = engine::sync::Flow {
        spec: engine::sync::build(&row).unwrap(),
        row,
    };
    // The engine learns of them from its index of GHL, read again from the start
    // (their webhooks are off: each would otherwise make a lead of its own).
    app.store
        .set_cursor(&format!("backfill:{FLOW}:left"), "{}")
        .await
        .unwrap();
    engine::sync::backfill::index_side(app.connectors(), &built, domain::sync::Side::Left, |_| {})
        .await
        .unwrap();
    let third = lead_with(&app, "Tess", "Twice", twice).await;
    let review = async || {
        app.store
            .reviews("open")
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.kind == "match" && r.detail.contains(&format!("lofty:lead:{third}")))
    };
    app.drain_until("the match review", async || review().await.is_some())
        .await;
    let id = review().await.unwrap().id;
    browser.goto(&format!("{base}/review")).await;
    browser.wait_for_text(&format!("#{id}")).await;
    let form = format!("form:has(input[name=id][value='{id}'])");
    let chosen = format!("ghl:contact:{}", contacts[1]);
    browser
        .click(&format!("{form} option[value='{chosen}']"))
        .await;
    shot("09-review").await;
    browser
        .click(&format!("{form} button[value=approve]"))
        .await;
    browser.wait_for_text("Settled 1 review(s)").await;
    app.drain_until("the linked contact's sync", async || {
        g.client()
            .get_contact(&contacts[1])
            .await
            .unwrap()
            .last_name
            .as_deref()
            == Some("Twice")
    })
    .await;
    let untouched = g.client().get_contact(&contacts[0]).await.unwrap();
    assert_ne!(untouched.last_name.as_deref(), Some("Twice"));

    // Health: the queue and the budget over time, from the worker's samples.
    app.store.take_samples().await.unwrap();
    browser.goto(&format!("{base}/health")).await;
    let health = browser.wait_for_text("Queue depth").await;
    assert!(browser.count("svg").await >= 2, "the charts: {health}");
    assert!(health.contains("Throughput"), "{health}");
    let saved = shot("10-health").await;
    assert!(
        std::fs::metadata(&saved).unwrap().len() > 1000,
        "a real screenshot"
    );
    eprintln!("screenshots: {}", browser.artifacts.display());

    browser.quit().await;
    app.shutdown().await;
}
