//! The whole catalog walked against the sandboxes: every action runs through a
//! stored connection with its example input (ids filled from the seeded fixtures and
//! from what earlier actions created), and its answer validates against its output
//! schema; every trigger fires in the sandbox (the GHL and Lofty webhooks the walk
//! causes, Lytho polls) and arrives as an event that validates against its schema.
//! Deletes run last. Prints the counts.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use domain::catalog::{Entry, Kind, validate};
use engine::catalog::{TriggerEvent, catalog};
use serde_json::{Value, json};
use testkit::{Spec, spawn_app_configured};

/// Where an action's answer holds an id later actions need: (action, placeholder,
/// JSON pointer into the answer).
const HARVEST: &[(&str, &str, &str)] = &[
    ("ghl.contacts.create", "contactId", "/contact/id"),
    ("ghl.tasks.create", "taskId", "/task/id"),
    ("ghl.notes.create", "noteId", "/note/id"),
    ("ghl.appointments.create", "eventId", "/id"),
    (
        "ghl.custom_fields.create",
        "customFieldId",
        "/customField/id",
    ),
    ("ghl.location_tags.create", "tagId", "/tag/id"),
    ("lofty.leads.create", "leadId", "/leadId"),
    ("lofty.notes.create", "noteId", "/noteId"),
    ("lofty.tasks.create", "taskId", "/taskId"),
    ("lofty.calendar.create", "calendarId", "/data/id"),
    ("lofty.webhooks.create", "subscribeId", "/subscribeId"),
    ("lofty.members.list", "memberEmail", "/members/0/email"),
    ("lytho.tasks.search", "taskId", "/ids/0"),
    ("lytho.projects.search", "projectId", "/ids/0"),
    ("lytho.campaigns.search", "campaignId", "/ids/0"),
    ("lytho.proofs.search", "proofId", "/ids/0"),
    ("lytho.workrequests.search", "workrequestId", "/ids/0"),
];

/// Verbs that destroy or undo: run after everything else, the records' owners last.
fn destructive(e: &Entry) -> bool {
    let verb = e.id.rsplit('.').next().unwrap_or_default();
    matches!(verb, "delete" | "remove" | "remove_contact" | "unfinish")
        || e.id == "ghl.oauth.get_token"
}

/// Deletes of records other records hang on go after those records' deletes.
fn delete_rank(e: &Entry) -> u8 {
    match e.id.as_str() {
        "ghl.contacts.delete" | "lofty.leads.delete" => 2,
        "ghl.oauth.get_token" => 3,
        _ => u8::from(e.id.ends_with(".delete")),
    }
}

/// The placeholders (`"{name}"`) an example holds.
fn placeholders(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) if s.starts_with('{') && s.ends_with('}') => {
            out.insert(s[1..s.len() - 1].to_owned());
        }
        Value::String(s) => {
            for part in s.split('{').skip(1) {
                if let Some((name, _)) = part.split_once('}') {
                    out.insert(name.to_owned());
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|i| placeholders(i, out)),
        Value::Object(m) => m.values().for_each(|i| placeholders(i, out)),
        _ => {}
    }
}

/// `v` with its placeholders replaced (a whole-string placeholder takes the value's
/// type: a Lofty id stays a number).
fn fill(v: &Value, known: &BTreeMap<String, Value>) -> Value {
    match v {
        Value::String(s) if s.starts_with('{') && s.ends_with('}') && !s[1..].contains('{') => {
            known
                .get(&s[1..s.len() - 1])
                .cloned()
                .unwrap_or_else(|| v.clone())
        }
        Value::String(s) => {
            let mut text = s.clone();
            for (k, val) in known {
                let val = val.as_str().map_or_else(|| val.to_string(), str::to_owned);
                text = text.replace(&format!("{{{k}}}"), &val);
            }
            Value::String(text)
        }
        Value::Array(a) => Value::Array(a.iter().map(|i| fill(i, known)).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, i)| (k.clone(), fill(i, known))).collect())
        }
        other => other.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_runs_and_every_trigger_fires_against_the_sandboxes() {
    // Every scope a catalog action needs (a user adds them to `[ghl] scopes`).
    let scopes: BTreeSet<String> = catalog()
        .filter(Some("ghl"), None)
        .flat_map(|e| e.scopes.iter().cloned())
        .collect();
    let app = spawn_app_configured(Spec::default(), |c| {
        c.ghl.scopes = Some(scopes.into_iter().collect());
    })
    .await
    .expect("SQLite is always available");
    let info = app.sandbox.info().clone();
    let loc = info.ghl.locations[0].clone();

    // Connect as a user would: the agency over OAuth (it makes the location
    // connections too), the Lofty owner's key, the Lytho tenant.
    let (authorize, _) = app.start_connect(true).await;
    let callback = app.consent(&authorize, &info.ghl.company_id).await;
    let resp = app.http.get(&callback).send().await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    let agency = engine::connections::agency_connection_id(&info.ghl.company_id);
    let location = engine::connections::location_connection_id(&loc.id);
    let lofty = app.connect_lofty_key().await;
    let lytho = app.connect_lytho().await;
    app.drain().await; // Lofty's webhook subscriptions

    // A second token pair, for the action that exchanges a refresh token (using the
    // connection's own would sign it out).
    let code: Value = app
        .http
        .post(format!("{}/_sandbox/oauth/code", info.ghl.base_url))
        .json(&json!({"location_id": loc.id, "scope": "contacts.readonly"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ghl_app = engine::GhlApp {
        client_id: info.ghl.client_id.clone(),
        client_secret: secrecy::SecretString::from(info.ghl.client_secret.clone()),
        api_base: url::Url::parse(&info.ghl.base_url).unwrap(),
    };
    let spare = engine::apps::oauth_app(&ghl_app, "")
        .exchange_code(code["code"].as_str().unwrap(), None)
        .await
        .unwrap();

    let mut known: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let ghl = known.entry("ghl".to_owned()).or_default();
    for (k, v) in [
        ("locationId", json!(loc.id)),
        ("companyId", json!(info.ghl.company_id)),
        ("clientId", json!(info.ghl.client_id)),
        ("clientSecret", json!(info.ghl.client_secret)),
        (
            "appId",
            json!(info.ghl.client_id.split('-').next().unwrap_or_default()),
        ),
        (
            "refreshToken",
            json!(secrecy::ExposeSecret::expose_secret(
                spare.refresh_token.as_ref().expect("a refresh token")
            )),
        ),
        ("userId", json!(loc.user_ids[0])),
        ("calendarId", json!(loc.calendar_ids[0])),
        ("campaignId", json!(loc.campaign_ids[0])),
        ("workflowId", json!(loc.workflow_ids[0])),
        ("businessId", json!(loc.business_ids[0])),
    ] {
        ghl.insert(k.to_owned(), v);
    }
    known
        .entry("lofty".to_owned())
        .or_default()
        .insert("secret".to_owned(), json!("walk-secret"));

    let connections = |e: &Entry| -> String {
        match e.system.as_str() {
            "lofty" => lofty.clone(),
            "lytho" => lytho.clone(),
            _ => {
                let op = ghl::operations::find(engine::catalog::operation_id(e)).unwrap();
                if op.token == ghl::TokenKind::Agency {
                    agency.clone()
                } else {
                    location.clone()
                }
            }
        }
    };

    let actions: Vec<&Entry> = catalog().filter(None, Some(Kind::Action)).collect();
    let (mut first, mut last): (Vec<&Entry>, Vec<&Entry>) =
        actions.iter().partition(|e| !destructive(e));
    last.sort_by_key(|e| delete_rank(e));

    let mut passed: BTreeSet<String> = BTreeSet::new();
    let mut failures: Vec<String> = Vec::new();
    let run = async |e: &Entry, known: &mut BTreeMap<String, BTreeMap<String, Value>>| {
        let values = known.entry(e.system.clone()).or_default();
        let input = fill(&e.example, values);
        let problems = validate(&e.input_schema, &input).unwrap();
        if !problems.is_empty() {
            return Err(format!(
                "{}: example {input} does not fit: {problems:?}",
                e.id
            ));
        }
        let conn = app
            .store
            .connection(&connections(e))
            .await
            .unwrap()
            .unwrap();
        let answer = engine::catalog::call(app.connectors(), conn, e, input.clone())
            .await
            .map_err(|err| format!("{}: {input} -> {err}", e.id))?;
        let problems = validate(&e.output_schema, &answer).unwrap();
        if !problems.is_empty() {
            return Err(format!(
                "{}: the answer does not fit the output schema: {problems:?}\n  {answer}",
                e.id
            ));
        }
        for (action, name, pointer) in HARVEST {
            if *action == e.id {
                let v = answer.pointer(pointer).cloned().unwrap_or(Value::Null);
                if v.is_null() {
                    return Err(format!("{}: no {name} at {pointer} in {answer}", e.id));
                }
                values.insert((*name).to_owned(), v);
            }
        }
        Ok(())
    };

    // Rounds: run whatever has its ids, until nothing more can run.
    loop {
        let mut progressed = false;
        let mut waiting = Vec::new();
        for e in first.drain(..) {
            let mut need = BTreeSet::new();
            placeholders(&e.example, &mut need);
            let have = known.get(e.system.as_str());
            if need.iter().all(|n| have.is_some_and(|h| h.contains_key(n))) {
                progressed = true;
                match run(e, &mut known).await {
                    Ok(()) => {
                        passed.insert(e.id.clone());
                    }
                    Err(m) => failures.push(m),
                }
            } else {
                waiting.push(e);
            }
        }
        first = waiting;
        if first.is_empty() || !progressed {
            break;
        }
    }
    for e in &first {
        failures.push(format!("{}: never got its ids ({})", e.id, e.example));
    }
    for e in last {
        match run(e, &mut known).await {
            Ok(()) => {
                passed.insert(e.id.clone());
            }
            Err(m) => failures.push(m),
        }
    }

    // Triggers: what the walk made the sandboxes send, plus an uninstall and Lytho
    // polls after touching one item of each type.
    app.sandbox_control(
        "/_sandbox/uninstall",
        json!({"location_id": info.ghl.locations[1].id}),
    )
    .await;
    app.http
        .post(format!("{}/_sandbox/webhooks/flush", info.lofty.base_url))
        .send()
        .await
        .unwrap();
    let lytho_client = app
        .connectors()
        .open_connection(app.store.connection(&lytho).await.unwrap().unwrap())
        .await
        .unwrap()
        .into_lytho()
        .unwrap()
        .client;
    let mut events: Vec<TriggerEvent> = Vec::new();
    for kind in lytho::ItemType::ALL {
        let origin = info.lytho.base_url.trim_end_matches("/v1");
        let touched = app
            .http
            .post(format!("{origin}/_sandbox/touch"))
            .json(&json!({"type": kind.as_str(), "count": 1}))
            .send()
            .await
            .unwrap();
        assert!(
            touched.status().is_success(),
            "touch {kind}: {}",
            touched.status()
        );
        let since = lytho::Cursor::default();
        let (items, _) = lytho_client
            .poll_changes(kind, since, lytho::PollOptions::default())
            .await
            .unwrap();
        events.extend(engine::catalog::lytho_events(kind, &items));
    }
    // The webhooks arrive asynchronously: read the journal until it is quiet.
    let mut seen_events = 0;
    let mut after = 0;
    for _ in 0..50 {
        let batch = app.store.events_after(after, 1000).await.unwrap();
        if batch.is_empty() && seen_events > 0 {
            break;
        }
        for ev in &batch {
            after = ev.id;
            seen_events += 1;
            match ev.source.as_str() {
                "ghl" => {
                    let body: Value = serde_json::from_str(&ev.body).unwrap();
                    events.extend(engine::catalog::ghl_events(&body));
                }
                "lofty" => {
                    let b = lofty::webhook::parse(ev.body.as_bytes()).unwrap();
                    events.extend(engine::catalog::lofty_events(&b, &ev.event_id, |_| true));
                }
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut fired: BTreeMap<String, usize> = BTreeMap::new();
    for ev in &events {
        let entry = catalog().find(&ev.trigger).expect("a catalog trigger");
        let problems = validate(&entry.output_schema, &ev.payload).unwrap();
        if problems.is_empty() {
            *fired.entry(ev.trigger.clone()).or_default() += 1;
        } else {
            failures.push(format!(
                "{}: event does not fit: {problems:?}\n  {}",
                ev.trigger, ev.payload
            ));
        }
    }
    let triggers: Vec<&Entry> = catalog().filter(None, Some(Kind::Trigger)).collect();
    let builtin: Vec<&Entry> = triggers
        .iter()
        .copied()
        .filter(|t| t.system == domain::catalog::BUILTIN)
        .collect();
    for t in &triggers {
        if t.system != domain::catalog::BUILTIN && !fired.contains_key(&t.id) {
            failures.push(format!("{}: never fired", t.id));
        }
    }
    println!(
        "catalog walk: {} actions, {} passed; {} triggers, {} fired ({} events journaled, {} trigger events); {} failures",
        actions.len(),
        passed.len(),
        triggers.len() - builtin.len(),
        fired.len(),
        seen_events,
        events.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    app.shutdown().await;
}
