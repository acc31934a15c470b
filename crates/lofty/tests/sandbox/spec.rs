//! Reads Lofty's published OpenAPI document (`../shared/lofty-spec/openapi.json`) and
//! checks (1) that every operation of `lofty::OPERATIONS` exists in it with the same
//! method, path, `operationId`, parameters and body, and (2) that the sandbox, called
//! through `LoftyClient::call` for every operation, answers 2xx with every key the spec
//! declares for the answer (and, one level down, for the nested objects it returns).
//!
//! Two documented deviations of the real service from the spec's schemas are applied:
//! list metadata is `_metadata` (the schema says `get_metadata`), and `GET
//! /v1.0/leads/{id}` wraps the lead in `lead` (the prose says so; the schema is flat).

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{Duration as Days, Utc};
use lofty::operations::{BodyKind, OPERATIONS};
use lofty::{LoftyClient, Method};
use serde_json::{Value, json};

use crate::helpers::{spawn, unique_email};

fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/lofty-spec/openapi.json")
}

/// The spec, or `None` (with a one-line reason) on a clone without `../shared`.
fn load_spec() -> Option<Value> {
    let path = spec_path();
    match std::fs::read(&path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).expect("openapi.json is valid JSON")),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but the Lofty spec is missing at {}: {e}",
                path.display()
            );
            println!(
                "skipped: ../shared/lofty-spec not present ({})",
                path.display()
            );
            None
        }
    }
}

fn method_key(m: Method) -> &'static str {
    match m {
        Method::Get => "get",
        Method::Post => "post",
        Method::Put => "put",
        Method::Patch => "patch",
        Method::Delete => "delete",
    }
}

fn spec_op<'s>(spec: &'s Value, path: &str, method: Method) -> Option<&'s Value> {
    spec["paths"].get(path)?.get(method_key(method))
}

fn schema_of<'s>(spec: &'s Value, schema: &'s Value) -> &'s Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => &spec["components"]["schemas"][r.rsplit('/').next().unwrap_or_default()],
        None => schema,
    }
}

/// The real wire name of a declared key.
fn wire(key: &str) -> &str {
    if key == "get_metadata" {
        "_metadata"
    } else {
        key
    }
}

/// Asserts that `value` carries every key `schema` declares, recursing into nested
/// objects and arrays of objects that are present.
fn check_keys(spec: &Value, schema: &Value, value: &Value, at: &str, depth: usize) {
    let schema = schema_of(spec, schema);
    match value {
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate().take(3) {
                    check_keys(spec, item_schema, item, &format!("{at}[{i}]"), depth);
                }
            }
        }
        Value::Object(map) => {
            let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                return;
            };
            for (key, prop) in props {
                let name = wire(key);
                assert!(
                    map.contains_key(name),
                    "{at}: missing declared key `{name}`"
                );
                if depth < 3 {
                    let inner = &map[name];
                    if !inner.is_null() {
                        check_keys(spec, prop, inner, &format!("{at}.{name}"), depth + 1);
                    }
                }
            }
        }
        _ => {}
    }
}

/// The 2xx answer schema of an operation (`None` when no body is declared).
fn answer_schema(op: &Value) -> Option<&Value> {
    let responses = op["responses"].as_object()?;
    let (_, resp) = responses.iter().find(|(c, _)| c.starts_with('2'))?;
    resp.get("content")?
        .as_object()?
        .values()
        .next()?
        .get("schema")
}

struct Checker<'a> {
    spec: &'a Value,
    client: &'a LoftyClient,
    done: BTreeSet<&'static str>,
}

impl Checker<'_> {
    async fn check(&mut self, op_id: &str, input: Value) -> Value {
        let ours = lofty::operations::find(op_id).expect("our operation");
        let op = spec_op(self.spec, ours.path, ours.method).expect("in the spec");
        let answer = self
            .client
            .call(op_id, input)
            .await
            .unwrap_or_else(|e| panic!("{op_id}: {e}"));
        match answer_schema(op) {
            Some(schema) => {
                let schema = schema_of(self.spec, schema);
                let body = if op_id == "lofty-get-lead" {
                    &answer["lead"]
                } else {
                    &answer
                };
                match schema.get("type").and_then(Value::as_str) {
                    Some("string") => assert!(body.is_string(), "{op_id}: {body}"),
                    Some("array") => assert!(body.is_array(), "{op_id}: {body}"),
                    _ => {}
                }
                check_keys(self.spec, schema, body, op_id, 0);
            }
            None => assert!(answer.is_null(), "{op_id} declares no body: {answer}"),
        }
        self.done.insert(ours.id);
        answer
    }
}

#[test]
fn every_operation_is_in_the_spec_with_the_same_shape() {
    let Some(spec) = load_spec() else { return };
    for ours in OPERATIONS {
        let op = spec_op(&spec, ours.path, ours.method).unwrap_or_else(|| {
            panic!(
                "{} {} ({}) is not in the spec",
                ours.method, ours.path, ours.id
            )
        });
        assert_eq!(
            op["operationId"].as_str(),
            ours.spec_id,
            "operationId of {}",
            ours.id
        );
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let of = |place: &str| -> BTreeSet<String> {
            params
                .iter()
                .filter(|p| p["in"] == place)
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        };
        let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        assert_eq!(
            of("path"),
            set(ours.path_params),
            "path params of {}",
            ours.id
        );
        assert_eq!(
            of("query"),
            set(ours.query_params),
            "query params of {}",
            ours.id
        );
        assert_eq!(
            op.get("requestBody").is_some(),
            ours.body == BodyKind::Json,
            "body of {}",
            ours.id
        );
        // The spec requires Content-Type on every write; the client always sends it.
        if ours.method != Method::Get {
            assert!(of("header").contains("Content-Type"), "{}", ours.id);
        }
    }
}

#[tokio::test]
async fn the_sandbox_answers_every_operation_with_the_declared_keys() {
    let Some(spec) = load_spec() else { return };
    let ctx = spawn().await;
    let mut c = Checker {
        spec: &spec,
        client: &ctx.client,
        done: BTreeSet::new(),
    };
    // A seeded lead with tags, custom fields, notes, tasks and an appointment.
    let seeded = ctx.lead_ids()[1];

    c.check("lofty-get-me", json!({})).await;
    let members = c.check("lofty-list-members", json!({})).await;
    let email = members["members"][1]["email"].as_str().unwrap().to_owned();
    c.check("lofty-get-member", json!({ "account": email }))
        .await;
    c.check("lofty-list-tags", json!({})).await;
    c.check("lofty-list-custom-fields", json!({})).await;
    c.check(
        "lofty-create-custom-field",
        json!({"attributeName": "Spec Field", "attributeType": "single_select",
               "params": "{\"option\":[\"a\",\"b\"]}"}),
    )
    .await;
    c.check("lofty-list-lead-pipelines", json!({"pageSize": 3}))
        .await;

    c.check("lofty-list-leads", json!({"limit": 5})).await;
    let created = c
        .check(
            "lofty-create-lead",
            json!({"firstName": "Spec", "emails": [unique_email("spec")], "tagsAdd": ["GHL"],
                   "customAttributeList": [{"attributeName": "Pincode", "value": "73301"}],
                   "property": {"city": "Austin", "state": "TX"},
                   "inquiry": {"priceMin": 100000, "locations": [{"city": "Austin"}]}}),
        )
        .await;
    let lead = created["leadId"].as_i64().unwrap();
    c.check("lofty-get-lead", json!({ "leadId": seeded })).await;
    c.check("lofty-get-lead", json!({ "leadId": lead })).await;
    c.check(
        "lofty-update-lead",
        json!({"leadId": lead, "lastName": "Conformance"}),
    )
    .await;

    c.check("lofty-list-notes", json!({ "leadId": seeded }))
        .await;
    let note = c
        .check(
            "lofty-create-note",
            json!({"leadId": lead, "content": "spec note", "isPin": false}),
        )
        .await["noteId"]
        .as_i64()
        .unwrap();
    c.check("lofty-get-note", json!({ "noteId": note })).await;
    c.check(
        "lofty-update-note",
        json!({"noteId": note, "leadId": lead, "content": "edited", "isPin": true}),
    )
    .await;

    c.check("lofty-list-tasks", json!({ "leadId": seeded }))
        .await;
    let task = c
        .check(
            "lofty-create-task",
            json!({"type": "Call", "content": "spec task", "leadId": lead,
                   "assignedRole": "Agent", "endAt": "2026-03-01T16:00:00-08:00"}),
        )
        .await["taskId"]
        .as_i64()
        .unwrap();
    c.check("lofty-get-task", json!({ "taskId": task })).await;
    c.check(
        "lofty-update-task",
        json!({"taskId": task, "content": "edited"}),
    )
    .await;
    c.check("lofty-finish-task", json!({ "taskId": task }))
        .await;
    c.check("lofty-unfinish-task", json!({ "taskId": task }))
        .await;
    c.check("lofty-list-my-tasks", json!({"limit": 5})).await;

    c.check(
        "lofty-list-calendar-events",
        json!({"startTime": "2026-01-01T00:00:00+00:00", "endTime": "2026-02-01T00:00:00+00:00",
               "includeFinished": true, "pageSize": 5}),
    )
    .await;
    let start = Utc::now() + Days::days(2);
    let calendar = c
        .check(
            "lofty-create-calendar-event",
            json!({"type": "APPOINTMENT", "content": "spec showing", "leadId": lead,
                   "timeZoneCode": "America/Chicago", "address": "1 Spec St",
                   "startAtMs": start.timestamp_millis(),
                   "endAtMs": (start + Days::hours(1)).timestamp_millis()}),
        )
        .await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    c.check(
        "lofty-update-calendar-event",
        json!({"calendarId": calendar, "content": "moved"}),
    )
    .await;
    c.check(
        "lofty-finish-calendar-event",
        json!({ "calendarId": calendar }),
    )
    .await;
    c.check(
        "lofty-unfinish-calendar-event",
        json!({ "calendarId": calendar }),
    )
    .await;
    c.check(
        "lofty-delete-calendar-event",
        json!({ "calendarId": calendar }),
    )
    .await;
    c.check("lofty-delete-task", json!({ "taskId": task }))
        .await;
    c.check("lofty-delete-note", json!({ "noteId": note }))
        .await;

    let sub = c
        .check(
            "lofty-create-webhook",
            json!({"listId": 2, "callbackUrl": "https://sync.example.com/lofty/s"}),
        )
        .await["subscribeId"]
        .as_i64()
        .unwrap();
    c.check("lofty-list-webhooks", json!({})).await;
    c.check("lofty-delete-webhook", json!({ "subscribeId": sub }))
        .await;
    c.check(
        "lofty-delete-lead",
        json!({"leadId": lead, "reason": "spec test"}),
    )
    .await;

    let all: BTreeSet<&str> = OPERATIONS.iter().map(|o| o.id).collect();
    assert_eq!(c.done, all, "every operation was called");
    ctx.shutdown().await;
}
