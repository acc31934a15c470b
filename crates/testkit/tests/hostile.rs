//! Hostile input at the webhook intake and the admin API (issue 14): bad and missing
//! signatures, replayed `webhookId`s, bodies over the limit, malformed and deeply
//! nested JSON, wrong content types, unknown event types, a client that sends its
//! body too slowly. Each gets a clear 4xx (a JSON `error` that names the problem),
//! none is journaled or makes a job, the valid deliveries sent among them are all
//! journaled, and the server stays up.

use std::time::Duration;

use base64::Engine as _;
use ed25519_dalek::Signer as _;
use serde_json::{Value, json};
use testkit::{Backend, Spec, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the journal and the queue hold.
async fn counts(app: &TestApp) -> (i64, i64) {
    (
        app.store.count_events().await.unwrap(),
        app.store
            .scalar_i64("SELECT COUNT(*) FROM jobs")
            .await
            .unwrap(),
    )
}

/// The sandbox's GHL signature of `bytes` (what GHL sends in `X-GHL-Signature`).
fn sign(app: &TestApp, bytes: &[u8]) -> String {
    let key = app
        .sandbox
        .ghl()
        .with_world(|w| sandbox::ghl::webhooks::signing_key(&w.webhook_key_seed));
    base64::engine::general_purpose::STANDARD.encode(key.sign(bytes).to_bytes())
}

/// Posts raw bytes to `path` with the given headers; (status, body).
async fn post(
    app: &TestApp,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (u16, String) {
    let mut req = app.http.post(format!("{}{path}", app.address)).body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.expect("answered");
    (
        resp.status().as_u16(),
        resp.text().await.unwrap_or_default(),
    )
}

/// A refusal: the status wanted, and a JSON `error` that contains `names`.
fn refused(label: &str, (status, body): &(u16, String), want: u16, names: &str) {
    assert_eq!(*status, want, "{label}: {body}");
    let error = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.clone());
    assert!(
        error.to_lowercase().contains(&names.to_lowercase()),
        "{label}: the answer {body:?} does not name {names:?}"
    );
}

fn deeply_nested(depth: usize) -> Vec<u8> {
    let mut s = String::with_capacity(depth * 8 + 64);
    s.push_str(r#"{"type":"ContactCreate","webhookId":"deep","x":"#);
    for _ in 0..depth {
        s.push_str(r#"{"a":"#);
    }
    s.push('1');
    for _ in 0..depth {
        s.push('}');
    }
    s.push('}');
    s.into_bytes()
}

async fn ghl_intake_refuses_hostile_input(backend: Backend) {
    let Some(app) = testkit::spawn_app_configured(Spec::default().on(backend), |c| {
        c.server.body_timeout_secs = Some(1);
    })
    .await
    else {
        eprintln!("skipped: PostgreSQL is not available (set GHLSYNC_DATABASE_URL)");
        return;
    };
    app.stop_ghl_webhooks().await;
    let location = app.location(0).id.clone();
    let event = |id: &str| {
        serde_json::to_vec(&json!({"type": "ContactCreate", "locationId": location,
            "id": format!("c-{id}"), "email": format!("{id}@example.com"), "webhookId": id}))
        .unwrap()
    };
    let json_ct = ("content-type", "application/json".to_owned());
    let signed = |body: &[u8]| vec![json_ct.clone(), ("x-ghl-signature", sign(&app, body))];
    let (events0, jobs0) = counts(&app).await;
    let mut valid = Vec::new();

    // Signatures.
    let body = event("nosig");
    refused(
        "no signature",
        &post(&app, "/webhooks/ghl", std::slice::from_ref(&json_ct), body).await,
        401,
        "signature",
    );
    let body = event("badsig");
    let garbage = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
    refused(
        "a wrong signature",
        &post(
            &app,
            "/webhooks/ghl",
            &[json_ct.clone(), ("x-ghl-signature", garbage)],
            body,
        )
        .await,
        401,
        "signature",
    );
    let body = event("notbase64");
    refused(
        "a signature that is not base64",
        &post(
            &app,
            "/webhooks/ghl",
            &[json_ct.clone(), ("x-ghl-signature", "%%%".to_owned())],
            body,
        )
        .await,
        401,
        "signature",
    );
    let other = event("signed-other");
    let body = event("tampered");
    refused(
        "another body's signature",
        &post(&app, "/webhooks/ghl", &signed(&other), body).await,
        401,
        "signature",
    );
    let body = event("rsa-garbage");
    refused(
        "a legacy RSA header with garbage",
        &post(
            &app,
            "/webhooks/ghl",
            &[json_ct.clone(), ("x-wh-signature", "AAAA".to_owned())],
            body,
        )
        .await,
        401,
        "signature",
    );

    // A valid one between the refusals, then its replay.
    let body = event("valid-1");
    let first = post(&app, "/webhooks/ghl", &signed(&body), body.clone()).await;
    assert_eq!(first.0, 200, "{}", first.1);
    valid.push("valid-1");
    refused(
        "a replayed webhookId",
        &post(&app, "/webhooks/ghl", &signed(&body), body).await,
        409,
        "already received",
    );

    // Content types.
    let body = event("text-plain");
    let mut h = signed(&body);
    h[0] = ("content-type", "text/plain".to_owned());
    refused(
        "text/plain",
        &post(&app, "/webhooks/ghl", &h, body).await,
        415,
        "not JSON",
    );
    let body = event("form");
    let mut h = signed(&body);
    h[0] = (
        "content-type",
        "application/x-www-form-urlencoded".to_owned(),
    );
    refused(
        "a form",
        &post(&app, "/webhooks/ghl", &h, body).await,
        415,
        "application/json",
    );

    // Bodies.
    let body = br#"{"type":"ContactCreate","webhookId":"#.to_vec();
    refused(
        "malformed JSON",
        &post(&app, "/webhooks/ghl", &signed(&body), body).await,
        400,
        "not JSON",
    );
    let body = deeply_nested(100_000);
    refused(
        "JSON nested 100,000 deep",
        &post(&app, "/webhooks/ghl", &signed(&body), body).await,
        400,
        "not JSON",
    );
    let body = b"[1,2,3]".to_vec();
    refused(
        "a JSON array",
        &post(&app, "/webhooks/ghl", &signed(&body), body).await,
        400,
        "webhookId",
    );
    let body =
        serde_json::to_vec(&json!({"type": "ContactCreate", "locationId": location})).unwrap();
    refused(
        "no webhookId",
        &post(&app, "/webhooks/ghl", &signed(&body), body).await,
        400,
        "webhookId",
    );
    let body = serde_json::to_vec(&json!({"webhookId": "notype", "locationId": location})).unwrap();
    refused(
        "no type",
        &post(&app, "/webhooks/ghl", &signed(&body), body).await,
        400,
        "type is missing",
    );
    let body = serde_json::to_vec(
        &json!({"type": "OpportunityCreate", "webhookId": "opp", "locationId": location}),
    )
    .unwrap();
    refused(
        "an unknown event type",
        &post(&app, "/webhooks/ghl", &signed(&body), body).await,
        422,
        "OpportunityCreate",
    );
    let mut big = event("big");
    big.truncate(big.len() - 1);
    big.extend_from_slice(br#","pad":""#);
    big.extend(std::iter::repeat_n(b'x', 3 << 20));
    big.extend_from_slice(br#""}"#);
    refused(
        "a 3 MiB body",
        &post(&app, "/webhooks/ghl", &signed(&big), big).await,
        413,
        "larger than",
    );
    let body = vec![0xff, 0xfe, 0x00, 0x01];
    refused(
        "binary bytes",
        &post(&app, "/webhooks/ghl", &signed(&body), body).await,
        400,
        "not JSON",
    );

    // A client that sends its body too slowly: 408 after the body timeout.
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(
        b"POST /webhooks/ghl HTTP/1.1\r\nHost: ghlsync\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"type\":",
    )
    .await
    .unwrap();
    // While it dawdles, a valid webhook is taken.
    let body = event("valid-2");
    let second = post(&app, "/webhooks/ghl", &signed(&body), body).await;
    assert_eq!(second.0, 200, "{}", second.1);
    valid.push("valid-2");
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), slow.read(&mut answer))
        .await
        .expect("the slow client is answered within the body timeout")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "the slow client got {answer:?}"
    );

    // Nothing refused was journaled or queued; every valid one was, once.
    let (events, jobs) = counts(&app).await;
    assert_eq!(events - events0, valid.len() as i64, "journal entries");
    assert_eq!(jobs - jobs0, valid.len() as i64, "jobs");
    for id in &valid {
        assert!(
            app.store.event_body("ghl", id).await.unwrap().is_some(),
            "{id} journaled"
        );
    }
    for id in [
        "nosig",
        "badsig",
        "tampered",
        "text-plain",
        "deep",
        "opp",
        "big",
        "notype",
    ] {
        assert!(
            app.store.event_body("ghl", id).await.unwrap().is_none(),
            "{id} was journaled"
        );
    }
    let health = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the server is still up");
    app.shutdown().await;
}

#[tokio::test]
async fn ghl_intake_refuses_hostile_input_sqlite() {
    ghl_intake_refuses_hostile_input(Backend::Sqlite).await;
}

#[tokio::test]
async fn ghl_intake_refuses_hostile_input_postgres() {
    ghl_intake_refuses_hostile_input(Backend::Postgres).await;
}

#[tokio::test]
async fn lofty_intake_and_admin_api_refuse_hostile_input() {
    let app = testkit::spawn_app().await;
    app.stop_ghl_webhooks().await;
    app.connect_lofty_key().await;
    let url = app.lofty_webhook_url().await;
    let path = url.trim_start_matches(&app.address).to_owned();
    let json_ct = || vec![("content-type", "application/json".to_owned())];
    let delivery = |first: i64, n: i64| {
        let leads: Vec<Value> = (first..first + n)
            .map(|i| json!({"leadId": i, "updateTime": 1_700_000_000_000_i64 + i}))
            .collect();
        serde_json::to_vec(&json!({"listId": 2, "teamId": 1, "updatedLead": leads})).unwrap()
    };
    let (events0, _) = counts(&app).await;

    refused(
        "an unknown webhook key",
        &post(
            &app,
            "/webhooks/lofty/not-a-key",
            &json_ct(),
            delivery(1, 1),
        )
        .await,
        404,
        "unknown webhook URL",
    );
    let ok = post(&app, &path, &json_ct(), delivery(1, 1)).await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    refused(
        "the same delivery again",
        &post(&app, &path, &json_ct(), delivery(1, 1)).await,
        409,
        "already received",
    );
    refused(
        "text/html",
        &post(
            &app,
            &path,
            &[("content-type", "text/html".to_owned())],
            delivery(10, 1),
        )
        .await,
        415,
        "not JSON",
    );
    refused(
        "malformed JSON",
        &post(&app, &path, &json_ct(), b"{\"updatedLead\": [".to_vec()).await,
        400,
        "",
    );
    refused(
        "nested 100,000 deep",
        &post(&app, &path, &json_ct(), deeply_nested(100_000)).await,
        400,
        "",
    );
    refused(
        "over the change cap",
        &post(&app, &path, &json_ct(), delivery(100, 10_001)).await,
        413,
        "lofty_max_changes",
    );
    let (events, _) = counts(&app).await;
    assert_eq!(events - events0, 1, "only the valid delivery was journaled");

    // The admin API: a token, then bodies it must refuse.
    assert!(
        app.store
            .create_api_token("hostile", store::Role::Admin, "ghs_hostile_test")
            .await
            .unwrap()
    );
    let api = |body: Vec<u8>, ct: Option<&str>| {
        let mut req = app
            .http
            .put(format!("{}/api/flows/hostile-flow", app.address))
            .bearer_auth("ghs_hostile_test")
            .body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct.to_owned());
        }
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    };
    let (status, body) = api(b"{\"file\": ".to_vec(), Some("application/json")).await;
    assert_eq!(status, 400, "malformed JSON to the API: {body}");
    let (status, body) = api(deeply_nested(100_000), Some("application/json")).await;
    assert!(
        (400..500).contains(&status),
        "deeply nested JSON to the API: {status} {body}"
    );
    let (status, body) = api(b"{\"file\": \"x\"}".to_vec(), Some("text/plain")).await;
    assert_eq!(status, 415, "text/plain to the API: {body}");
    let (status, body) = api(b"{\"file\": 42}".to_vec(), Some("application/json")).await;
    assert_eq!(status, 422, "a number where a file goes: {body}");
    let mut big = b"{\"file\": \"".to_vec();
    big.extend(std::iter::repeat_n(b'#', 3 << 20));
    big.extend_from_slice(b"\"}");
    let (status, body) = api(big, Some("application/json")).await;
    assert_eq!(status, 413, "3 MiB to the API: {body}");
    let (status, body) = api(b"{\"file\": \"x\"}".to_vec(), None).await;
    assert!(
        (400..500).contains(&status),
        "no content type: {status} {body}"
    );
    assert!(
        app.store.flow("hostile-flow").await.unwrap().is_none(),
        "no flow stored"
    );
    let unauth = app
        .http
        .put(format!("{}/api/flows/hostile-flow", app.address))
        .bearer_auth("ghs_wrong")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status(), 401);
    let health = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the server is still up");
    app.shutdown().await;
}
