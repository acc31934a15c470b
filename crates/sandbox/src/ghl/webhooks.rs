//! Webhooks out: every change emits GHL's documented event, a flat JSON object
//! with `type`, `locationId`, the entity fields, a unique `webhookId` and a
//! `timestamp`, signed with Ed25519 over the exact bytes sent (`X-GHL-Signature`,
//! base64). As GHL does, only a 429 answer is retried (after a delay, up to six
//! times); any other status is final.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use ed25519_dalek::{Signer, SigningKey};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, watch};

use super::state::Shared;

/// How many delivery records `/_sandbox/webhooks/deliveries` keeps.
const LOG_CAP: usize = 10_000;
/// GHL retries a 429 at most six times.
const MAX_RETRIES: u32 = 6;

/// The sending side: handlers push events here while holding the state lock.
#[derive(Debug)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Value>,
    app_id: String,
}

/// One delivery attempt series, as reported by the controls.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub webhook_id: String,
    pub event_type: String,
    pub url: String,
    pub attempts: u32,
    /// Last HTTP status, or 0 when the target could not be reached.
    pub status: u16,
}

/// Shared log of deliveries.
pub type DeliveryLog = Arc<Mutex<VecDeque<Delivery>>>;

impl Outbox {
    pub fn new(app_id: String) -> (Self, mpsc::UnboundedReceiver<Value>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx, app_id }, rx)
    }

    fn send(&self, event_type: &str, location_id: &str, fields: Map<String, Value>) {
        let mut body = Map::new();
        body.insert("type".into(), json!(event_type));
        body.insert("locationId".into(), json!(location_id));
        for (k, v) in fields {
            body.entry(k).or_insert(v);
        }
        body.insert("appId".into(), json!(self.app_id));
        body.insert("webhookId".into(), json!(uuid::Uuid::new_v4().to_string()));
        body.insert("timestamp".into(), json!(super::state::iso(Utc::now())));
        // The receiver only goes away at shutdown, when losing events is fine.
        let _ = self.tx.send(Value::Object(body));
    }

    /// A flat entity event (Contact*, Note*, Task*).
    pub fn emit(&self, event_type: &str, location_id: &str, fields: Map<String, Value>) {
        self.send(event_type, location_id, fields);
    }

    /// An Appointment* event: the appointment sits under `appointment`.
    pub fn emit_appointment(&self, event_type: &str, location_id: &str, appointment: Value) {
        let mut fields = Map::new();
        fields.insert("appointment".into(), appointment);
        self.send(event_type, location_id, fields);
    }

    /// An app event (INSTALL / UNINSTALL) with exactly the given fields.
    pub fn emit_app(&self, fields: Map<String, Value>) {
        let mut body = fields;
        body.insert("webhookId".into(), json!(uuid::Uuid::new_v4().to_string()));
        body.insert("timestamp".into(), json!(super::state::iso(Utc::now())));
        let _ = self.tx.send(Value::Object(body));
    }
}

/// The signing key derived from the world's stored seed.
pub fn signing_key(seed_b64: &str) -> SigningKey {
    let mut seed = [0u8; 32];
    if let Ok(bytes) = STANDARD.decode(seed_b64) {
        for (dst, src) in seed.iter_mut().zip(bytes) {
            *dst = src;
        }
    }
    SigningKey::from_bytes(&seed)
}

/// The public key as a PEM SubjectPublicKeyInfo, the form GHL publishes.
pub fn public_key_pem(key: &SigningKey) -> String {
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(key.verifying_key().as_bytes());
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(der)
    )
}

/// Runs until shutdown: signs each event once and delivers it to every target.
pub async fn deliver(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Value>,
    key: SigningKey,
    log: DeliveryLog,
    retry_delay: Arc<Mutex<Duration>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let http = super::http_client();
    loop {
        let event = tokio::select! {
            e = rx.recv() => match e { Some(e) => e, None => return },
            _ = shutdown.changed() => return,
        };
        let targets = shared.lock().world.webhook_targets.clone();
        if targets.is_empty() {
            continue;
        }
        let Ok(bytes) = serde_json::to_vec(&event) else {
            continue;
        };
        let signature = STANDARD.encode(key.sign(&bytes).to_bytes());
        let webhook_id = event
            .get("webhookId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let event_type = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        for url in targets {
            let mut record = Delivery {
                webhook_id: webhook_id.clone(),
                event_type: event_type.clone(),
                url: url.clone(),
                attempts: 0,
                status: 0,
            };
            let status = post(&http, &url, &bytes, &signature).await;
            record.attempts = 1;
            record.status = status;
            if status == 429 {
                // Retried later without holding up the events behind it.
                let (http, bytes, signature, log, delay) = (
                    http.clone(),
                    bytes.clone(),
                    signature.clone(),
                    log.clone(),
                    retry_delay.clone(),
                );
                tokio::spawn(async move {
                    let mut record = record;
                    while record.status == 429 && record.attempts <= MAX_RETRIES {
                        let wait = *delay.lock().unwrap_or_else(|p| p.into_inner());
                        let jitter = Duration::from_millis(rand::random_range(
                            0..=wait.as_millis().min(1000) as u64 / 10 + 1,
                        ));
                        tokio::time::sleep(wait + jitter).await;
                        record.status = post(&http, &record.url, &bytes, &signature).await;
                        record.attempts += 1;
                    }
                    push(&log, record);
                });
            } else {
                push(&log, record);
            }
        }
    }
}

fn push(log: &DeliveryLog, record: Delivery) {
    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
    if log.len() >= LOG_CAP {
        log.pop_front();
    }
    log.push_back(record);
}

async fn post(http: &reqwest::Client, url: &str, body: &[u8], signature: &str) -> u16 {
    let result = http
        .post(url)
        .header("content-type", "application/json")
        .header("x-ghl-signature", signature)
        .body(body.to_vec())
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    match result {
        Ok(resp) => resp.status().as_u16(),
        Err(e) => {
            tracing::warn!(%url, error = %e, "webhook delivery failed");
            0
        }
    }
}
