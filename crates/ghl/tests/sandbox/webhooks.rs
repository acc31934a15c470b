//! Signed webhooks out of the sandbox, received by a tiny axum server and verified with
//! `WebhookVerifier`; retries happen only for 429.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use ghl::models::{CreateAppointment, CreateNote, CreateTask, UpdateContact};
use ghl::webhook::Ed25519PublicKey;
use ghl::{SignatureError, SignedBy, WebhookVerifier};
use serde_json::{Value, json};

use crate::helpers::{Ctx, poll, spawn};

const WAIT: Duration = Duration::from_secs(10);

/// One received delivery: headers and the raw body.
type Delivery = (HeaderMap, Bytes);

/// A webhook receiver answering `status` to every delivery and keeping them all.
#[derive(Debug, Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Delivery>>>,
}

impl Receiver {
    async fn start(status: StatusCode) -> Self {
        let got: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let state = (Arc::clone(&got), status);
        let app = Router::new().route("/hook", post(hook)).with_state(state);
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url: format!("http://{addr}/hook"),
            got,
        }
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.got.lock().unwrap().clone()
    }

    fn bodies(&self) -> Vec<Value> {
        self.deliveries()
            .iter()
            .map(|(_, body)| serde_json::from_slice(body).expect("JSON body"))
            .collect()
    }

    /// Registers this receiver with the sandbox.
    async fn register(&self, ctx: &Ctx) {
        let out = ctx
            .post("/_sandbox/webhooks", json!({"url": self.url}))
            .await;
        assert!(
            out["targets"]
                .as_array()
                .unwrap()
                .contains(&json!(self.url))
        );
    }
}

async fn hook(
    State((got, status)): State<(Arc<Mutex<Vec<Delivery>>>, StatusCode)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    got.lock().unwrap().push((headers, body));
    status
}

fn verifier(ctx: &Ctx) -> WebhookVerifier {
    let key = Ed25519PublicKey::parse(&ctx.info.webhook_public_key).expect("sandbox key parses");
    WebhookVerifier::new(Some(key), None)
}

/// Create, update, task, note, appointment, delete: each arrives once, in order,
/// signed, with a unique webhookId and the location; tampering and a missing signature
/// are rejected.
#[tokio::test]
async fn events_arrive_signed_and_verifiable() {
    let ctx = spawn().await;
    let rx = Receiver::start(StatusCode::OK).await;
    rx.register(&ctx).await;
    let c = &ctx.client;

    let contact = ctx.new_contact("Hook").await.id;
    c.update_contact(
        &contact,
        &UpdateContact {
            first_name: Some("Hooked".to_owned()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let task = c
        .create_task(
            &contact,
            &CreateTask {
                title: "Call".to_owned(),
                due_date: "2030-01-01T10:00:00.000Z".to_owned(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let note = c
        .create_note(
            &contact,
            &CreateNote {
                body: "hello".to_owned(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let appointment = c
        .create_appointment(&CreateAppointment {
            calendar_id: ctx.a.calendar_ids[0].clone(),
            location_id: ctx.a.id.clone(),
            contact_id: contact.clone(),
            start_time: "2030-01-02T10:00:00Z".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap();
    c.delete_contact(&contact).await.unwrap();

    let expected = [
        "ContactCreate",
        "ContactUpdate",
        "TaskCreate",
        "NoteCreate",
        "AppointmentCreate",
        "ContactDelete",
    ];
    let rx_ref = &rx;
    poll("six webhooks", WAIT, move || async move {
        (rx_ref.deliveries().len() >= expected.len()).then_some(())
    })
    .await;
    let deliveries = rx.deliveries();
    let bodies = rx.bodies();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, expected, "in emission order, nothing else");

    let verifier = verifier(&ctx);
    let app_id = ctx.info.client_id.split('-').next().unwrap().to_owned();
    let mut ids = HashSet::new();
    for ((headers, raw), body) in deliveries.iter().zip(&bodies) {
        assert!(headers.contains_key("x-ghl-signature"));
        assert_eq!(verifier.verify(headers, raw), Ok(SignedBy::Ed25519));
        assert_eq!(body["locationId"], json!(ctx.a.id));
        let id = body["webhookId"].as_str().expect("webhookId").to_owned();
        assert!(ids.insert(id), "webhookId repeated: {body}");
        assert!(body["timestamp"].is_string());
        assert_eq!(body["appId"], json!(app_id));
    }
    assert_eq!(bodies[0]["id"], json!(contact));
    assert_eq!(bodies[1]["firstName"], json!("Hooked"));
    assert_eq!(bodies[2]["id"], json!(task.id));
    // As GHL is reported to send it (HighLevel's API-docs tracker): a TaskCreate
    // without the `contactId` and `body` its schema lists.
    assert_eq!(bodies[2]["title"], json!(task.title.clone().unwrap()));
    assert!(bodies[2].get("contactId").is_none(), "{}", bodies[2]);
    assert!(bodies[2].get("body").is_none(), "{}", bodies[2]);
    assert_eq!(bodies[3]["id"], json!(note.id));
    assert_eq!(bodies[4]["appointment"]["id"], json!(appointment.id));
    assert_eq!(bodies[4]["appointment"]["contactId"], json!(contact));
    assert_eq!(bodies[5]["id"], json!(contact));

    // One byte changed: rejected.
    let (headers, raw) = &deliveries[0];
    let mut tampered = raw.to_vec();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    assert_eq!(
        verifier.verify(headers, &tampered),
        Err(SignatureError::Invalid)
    );
    // No signature header: rejected as missing.
    let mut unsigned = headers.clone();
    unsigned.remove("x-ghl-signature");
    assert_eq!(
        verifier.verify(&unsigned, raw),
        Err(SignatureError::Missing)
    );
    // Another key (HighLevel's production key) does not verify the sandbox's signature.
    assert_eq!(
        WebhookVerifier::ghl().verify(headers, raw),
        Err(SignatureError::Invalid)
    );

    let log = ctx.get("/_sandbox/webhooks/deliveries").await;
    let log = log["deliveries"].as_array().unwrap();
    assert_eq!(log.len(), expected.len());
    assert!(
        log.iter()
            .all(|d| d["status"] == json!(200) && d["attempts"] == json!(1))
    );

    // App events are signed the same way.
    ctx.post("/_sandbox/install", json!({"location_id": ctx.b.id}))
        .await;
    poll("the INSTALL webhook", WAIT, move || async move {
        (rx_ref.deliveries().len() > expected.len()).then_some(())
    })
    .await;
    let (headers, raw) = rx.deliveries().pop().unwrap();
    assert_eq!(verifier.verify(&headers, &raw), Ok(SignedBy::Ed25519));
    let install: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(install["type"], json!("INSTALL"));
    assert_eq!(install["locationId"], json!(ctx.b.id));
    assert_eq!(install["companyId"], json!(ctx.info.company_id));
    assert_eq!(install["appId"], json!(app_id));
    assert!(!ids.contains(install["webhookId"].as_str().unwrap()));
    ctx.shutdown().await;
}

/// A receiver answering 429 gets the same webhook again (up to 1 + 6 attempts); one
/// answering 500 gets it exactly once.
#[tokio::test]
async fn only_429_is_retried() {
    let ctx = spawn().await;
    let busy = Receiver::start(StatusCode::TOO_MANY_REQUESTS).await;
    let broken = Receiver::start(StatusCode::INTERNAL_SERVER_ERROR).await;
    busy.register(&ctx).await;
    broken.register(&ctx).await;
    ctx.new_contact("Retry").await;

    // The 429 series is logged once it is over (7 attempts, 50 ms apart): by then the
    // 500 target would have seen any retry too.
    let (ctx_ref, busy_url) = (&ctx, busy.url.as_str());
    let record = poll("the 429 delivery series to end", WAIT, move || async move {
        let log = ctx_ref.get("/_sandbox/webhooks/deliveries").await;
        log["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["url"] == json!(busy_url))
            .cloned()
    })
    .await;
    assert_eq!(record["status"], json!(429));
    assert_eq!(record["attempts"], json!(7));

    let retried = busy.deliveries();
    assert_eq!(retried.len(), 7);
    let verifier = verifier(&ctx);
    let first = &retried[0].1;
    for (headers, raw) in &retried {
        assert_eq!(raw, first, "the same bytes every time");
        assert_eq!(verifier.verify(headers, raw), Ok(SignedBy::Ed25519));
    }
    let body: Value = serde_json::from_slice(first).unwrap();
    assert_eq!(body["type"], json!("ContactCreate"));

    let once = broken.deliveries();
    assert_eq!(once.len(), 1, "a 500 is not retried");
    let body_500: Value = serde_json::from_slice(&once[0].1).unwrap();
    assert_eq!(body_500["webhookId"], body["webhookId"]);
    let log = ctx.get("/_sandbox/webhooks/deliveries").await;
    let record = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["url"] == json!(broken.url))
        .cloned()
        .expect("500 delivery logged");
    assert_eq!(record["status"], json!(500));
    assert_eq!(record["attempts"], json!(1));
    ctx.shutdown().await;
}
