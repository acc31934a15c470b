//! Reads HighLevel's own `apps/contacts.json` and checks that the sandbox serves
//! every path and method in it, answering a valid request with the declared
//! success status and the declared top-level response keys.

use std::path::PathBuf;

use sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ghl-spec/apps/contacts.json")
}

/// The spec, or `None` (with a one-line reason) on a clone without `../shared`.
fn load_spec() -> Option<Value> {
    let path = spec_path();
    match std::fs::read(&path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).expect("contacts.json is valid JSON")),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but the spec is missing at {}: {e}",
                path.display()
            );
            eprintln!(
                "skipped: ../shared/ghl-spec not present ({})",
                path.display()
            );
            None
        }
    }
}

/// Top-level keys and status the spec declares for an operation's success answer.
fn declared(spec: &Value, op: &Value) -> (u16, Vec<String>) {
    let responses = op["responses"].as_object().expect("responses");
    let (code, resp) = responses
        .iter()
        .find(|(c, _)| c.starts_with('2'))
        .expect("a 2xx response is declared");
    let schema = &resp["content"]["application/json"]["schema"];
    let keys = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            spec["components"]["schemas"][name]["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    (code.parse().expect("numeric status"), keys)
}

struct Fixture {
    location: String,
    token: String,
    user: String,
    campaign: String,
    workflow: String,
    business: String,
    contacts: Vec<Value>,
    tasks: Vec<(String, String)>,
    notes: Vec<(String, String)>,
}

async fn get(http: &reqwest::Client, url: String, token: &str) -> Value {
    http.get(url)
        .bearer_auth(token)
        .header("Version", "2021-07-28")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn sandbox_serves_every_contacts_operation_with_declared_keys() {
    let Some(spec) = load_spec() else { return };
    let rate = sandbox::RateLimitConfig {
        max_per_window: 10_000,
        ..Default::default()
    };
    let config = SandboxConfig {
        contacts_per_location: 80,
        rate,
        ..SandboxConfig::default()
    };
    let sbx = Sandbox::start(config).await.expect("sandbox starts");
    let base = sbx.ghl_base_url();
    let info = sbx.info().ghl.clone();
    let loc = &info.locations[0];
    let http = sandbox::ghl::http_client();
    let list = get(
        &http,
        format!("{base}/contacts/?locationId={}&limit=100", loc.id),
        &loc.token,
    )
    .await;
    let contacts = list["contacts"].as_array().expect("contacts").clone();
    assert_eq!(contacts.len(), 80);
    let mut fx = Fixture {
        location: loc.id.clone(),
        token: loc.token.clone(),
        user: loc.user_ids[0].clone(),
        campaign: loc.campaign_ids[0].clone(),
        workflow: loc.workflow_ids[0].clone(),
        business: loc.business_ids[0].clone(),
        contacts,
        tasks: Vec::new(),
        notes: Vec::new(),
    };
    for c in fx.contacts.iter().step_by(2) {
        let id = c["id"].as_str().unwrap().to_owned();
        let tasks = get(&http, format!("{base}/contacts/{id}/tasks"), &fx.token).await;
        let notes = get(&http, format!("{base}/contacts/{id}/notes"), &fx.token).await;
        fx.tasks.push((
            id.clone(),
            tasks["tasks"][0]["id"].as_str().unwrap().to_owned(),
        ));
        fx.notes
            .push((id, notes["notes"][0]["id"].as_str().unwrap().to_owned()));
    }

    let mut served = 0;
    let mut n = 0usize;
    let paths = spec["paths"].as_object().expect("paths");
    for (path, ops) in paths {
        for (method, op) in ops.as_object().expect("ops") {
            if !["get", "post", "put", "delete"].contains(&method.as_str()) {
                continue;
            }
            n += 1;
            // Each operation gets its own contact (and that contact's task and note).
            let (contact_id, task_id) = fx.tasks[n].clone();
            let note_id = fx.notes[n].1.clone();
            let url_path = path
                .replace("{contactId}", &contact_id)
                .replace("{taskId}", &task_id)
                .replace("{id}", &note_id)
                .replace("{campaignId}", &fx.campaign)
                .replace("{workflowId}", &fx.workflow)
                .replace("{businessId}", &fx.business)
                .replace("{type}", "add");
            let (query, body) = request_for(&fx, method, path, &contact_id);
            let url = format!("{base}{url_path}{query}");
            let req = match method.as_str() {
                "get" => http.get(&url),
                "post" => http.post(&url),
                "put" => http.put(&url),
                _ => http.delete(&url),
            };
            let req = req.bearer_auth(&fx.token).header("Version", "2021-07-28");
            let req = match &body {
                Some(b) => req.json(b),
                None => req,
            };
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let text = resp.text().await.expect("body");
            let (want_status, keys) = declared(&spec, op);
            assert_eq!(
                status,
                want_status,
                "{} {path}: status {status}, body {text}",
                method.to_uppercase()
            );
            let json: Value = serde_json::from_str(&text).expect("JSON answer");
            for key in &keys {
                assert!(
                    json.get(key).is_some(),
                    "{} {path}: missing declared key {key} in {text}",
                    method.to_uppercase()
                );
            }
            served += 1;
        }
    }
    assert_eq!(served, 32, "contacts.json declares 32 operations");
    sbx.shutdown().await;
}

/// A valid query string and body for one operation.
fn request_for(
    fx: &Fixture,
    method: &str,
    path: &str,
    contact_id: &str,
) -> (String, Option<Value>) {
    let loc = &fx.location;
    let q = |s: String| (s, None);
    match (method, path) {
        ("post", "/contacts/search") => (
            String::new(),
            Some(json!({"locationId": loc, "pageLimit": 5})),
        ),
        ("get", "/contacts/search/duplicate") => {
            let email = fx.contacts[0]["email"].as_str().unwrap();
            q(format!("?locationId={loc}&email={email}"))
        }
        ("post", "/contacts/{contactId}/tasks") => (
            String::new(),
            Some(
                json!({"title": "Call back", "dueDate": "2026-12-01T10:00:00Z", "completed": false, "assignedTo": fx.user}),
            ),
        ),
        ("put", "/contacts/{contactId}/tasks/{taskId}") => {
            (String::new(), Some(json!({"title": "Renamed"})))
        }
        ("put", "/contacts/{contactId}/tasks/{taskId}/completed") => {
            (String::new(), Some(json!({"completed": true})))
        }
        ("post" | "delete", "/contacts/{contactId}/tags") => {
            (String::new(), Some(json!({"tags": ["spec-check"]})))
        }
        ("post", "/contacts/{contactId}/notes") => (
            String::new(),
            Some(json!({"body": "hello", "userId": fx.user})),
        ),
        ("put", "/contacts/{contactId}/notes/{id}") => {
            (String::new(), Some(json!({"body": "edited"})))
        }
        ("post", "/contacts/bulk/tags/update/{type}") => (
            String::new(),
            Some(json!({"contacts": [contact_id], "tags": ["bulk"], "locationId": loc})),
        ),
        ("post", "/contacts/bulk/business") => (
            String::new(),
            Some(json!({"locationId": loc, "ids": [contact_id], "businessId": fx.business})),
        ),
        ("put", "/contacts/{contactId}") => (String::new(), Some(json!({"firstName": "Changed"}))),
        ("post", "/contacts/upsert") => (
            String::new(),
            Some(json!({"locationId": loc, "email": "new.person@example.com"})),
        ),
        ("get", "/contacts/business/{businessId}") => q(format!("?locationId={loc}")),
        ("post" | "delete", "/contacts/{contactId}/followers") => {
            (String::new(), Some(json!({"followers": [fx.user]})))
        }
        ("post", "/contacts/{contactId}/campaigns/{campaignId}") => {
            (String::new(), Some(json!({})))
        }
        ("post" | "delete", "/contacts/{contactId}/workflow/{workflowId}") => (
            String::new(),
            Some(json!({"eventStartTime": "2026-12-01T10:00:00Z"})),
        ),
        ("post", "/contacts/") => (
            String::new(),
            Some(
                json!({"locationId": loc, "firstName": "Spec", "email": "spec.check@example.com"}),
            ),
        ),
        ("get", "/contacts/") => q(format!("?locationId={loc}&limit=5")),
        _ => (String::new(), None),
    }
}
