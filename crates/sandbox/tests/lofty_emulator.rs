//! The Lofty emulator seen from the wire: seed overlap with GHL, determinism, both
//! credential forms, rate-limit headers, controls, webhook wire shape and the state
//! file. (The `lofty` client crate tests every operation against it.)

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sandbox::ghl::seed::person;
use sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

/// Header names and JSON body of one webhook delivery.
type Received = (Vec<String>, Value);

fn config(contacts: usize) -> SandboxConfig {
    SandboxConfig {
        contacts_per_location: contacts,
        locations: 2,
        ..SandboxConfig::default()
    }
}

struct Wire {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Wire {
    fn new(sandbox: &Sandbox) -> Self {
        let info = &sandbox.info().lofty;
        Self {
            http: sandbox::ghl::http_client(),
            base: info.base_url.clone(),
            key: info.api_key.clone(),
        }
    }

    /// A request with `Authorization: token <key>` and JSON content type.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("authorization", format!("token {}", self.key))
            .header("content-type", "application/json");
        if let Some(body) = body {
            req = req.body(body.to_string());
        }
        req.send().await.expect("sandbox answers")
    }

    async fn json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let resp = self.send(method, path, body).await;
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.expect("json")
    }

    async fn get(&self, path: &str) -> Value {
        self.json(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.json(reqwest::Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> Value {
        self.json(reqwest::Method::PUT, path, Some(body)).await
    }
}

#[tokio::test]
async fn seeded_leads_overlap_ghl_contacts_by_half() {
    let n = 10;
    let sandbox = Sandbox::start(config(n)).await.unwrap();
    let wire = Wire::new(&sandbox);
    let page = wire.get("/v1.0/leads?limit=100").await;
    let leads = page["leads"].as_array().unwrap();
    assert_eq!(leads.len(), n);
    assert_eq!(page["_metadata"]["total"], n);
    let lofty_emails: BTreeSet<String> = leads
        .iter()
        .map(|l| l["emails"][0].as_str().unwrap().to_owned())
        .collect();
    let lofty_phones: BTreeSet<String> = leads
        .iter()
        .map(|l| l["phones"][0].as_str().unwrap().to_owned())
        .collect();
    let want: BTreeSet<String> = (n / 2..n / 2 + n).map(|i| person(i).2).collect();
    assert_eq!(lofty_emails, want, "person(i) for i in N/2..N/2+N");

    // Every GHL location holds person(0..N).
    let ghl_emails: Vec<BTreeSet<String>> = sandbox.ghl().with_world(|w| {
        w.locations
            .values()
            .map(|l| {
                l.contacts
                    .values()
                    .filter_map(|c| c.str_field("email").map(str::to_owned))
                    .collect()
            })
            .collect()
    });
    for ghl in &ghl_emails {
        let shared: BTreeSet<_> = ghl.intersection(&lofty_emails).cloned().collect();
        let expected: BTreeSet<String> = (n / 2..n).map(|i| person(i).2).collect();
        assert_eq!(shared, expected, "the first half is shared");
        assert_eq!(
            lofty_emails.difference(ghl).count(),
            n / 2,
            "the rest is Lofty-only"
        );
    }
    let ghl_phones: BTreeSet<String> = sandbox.ghl().with_world(|w| {
        w.locations[0]
            .contacts
            .values()
            .filter_map(|c| c.phone().map(str::to_owned))
            .collect()
    });
    assert_eq!(ghl_phones.intersection(&lofty_phones).count(), n / 2);

    // Precise search by a shared GHL contact's phone, written another way.
    let (first, _, _, phone) = person(n / 2);
    let digits = phone.trim_start_matches("+1");
    let found = wire.get(&format!("/v1.0/leads?phone={digits}")).await;
    assert_eq!(found["leads"].as_array().unwrap().len(), 1);
    assert_eq!(found["leads"][0]["firstName"], first);

    // Members use the same user names as GHL's seed; records exist on some leads.
    let members = wire.get("/v1.0/members").await;
    let names: Vec<String> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{} {}",
                m["firstName"].as_str().unwrap(),
                m["lastName"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(names, ["Alex Agent", "Blair Broker", "Casey Closer"]);
    let (notes, tasks, appointments) = sandbox.lofty().with_world(|w| {
        let appts = w
            .entries
            .values()
            .filter(|e| e.kind == sandbox::lofty::state::EntryKind::Appointment)
            .count();
        (w.notes.len(), w.entries.len() - appts, appts)
    });
    assert_eq!((notes, tasks, appointments), (5, 10, 3));
    // Seeding more continues the person sequence.
    let more = wire
        .http
        .post(format!("{}/_sandbox/seed", wire.base))
        .json(&json!({"leads": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(more.status(), 200);
    let found = wire
        .get(&format!("/v1.0/leads?email={}", person(n / 2 + n).2))
        .await;
    assert_eq!(found["leads"].as_array().unwrap().len(), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn same_seed_same_world() {
    let a = Sandbox::start(config(4)).await.unwrap();
    let b = Sandbox::start(config(4)).await.unwrap();
    let c = Sandbox::start(SandboxConfig {
        seed: 7,
        ..config(4)
    })
    .await
    .unwrap();
    let ids = |s: &Sandbox| {
        s.lofty()
            .with_world(|w| w.leads.keys().copied().collect::<Vec<_>>())
    };
    assert_eq!(ids(&a), ids(&b));
    assert_ne!(ids(&a), ids(&c));
    assert_eq!(a.info().lofty.api_key, b.info().lofty.api_key);
    assert_eq!(a.info().lofty.oauth_token, b.info().lofty.oauth_token);
    assert_eq!(
        a.info().lofty.member_user_ids,
        b.info().lofty.member_user_ids
    );
    assert_ne!(a.info().lofty.api_key, c.info().lofty.api_key);
    assert!(
        a.info().lofty.api_key.starts_with("eyJ"),
        "shaped like Lofty's keys"
    );
    // Ids are 64-bit and written as JSON numbers.
    let wire = Wire::new(&a);
    let resp = wire
        .send(reqwest::Method::GET, "/v1.0/leads?limit=1", None)
        .await;
    let text = resp.text().await.unwrap();
    let id = ids(&a)[3];
    assert!(id > 1 << 53);
    assert!(text.contains(&format!("\"leadId\":{id}")), "{text}");
    for s in [a, b, c] {
        s.shutdown().await;
    }
}

#[tokio::test]
async fn both_credential_forms_and_rate_limit_headers() {
    let sandbox = Sandbox::start(config(2)).await.unwrap();
    let info = sandbox.info().lofty.clone();
    let http = sandbox::ghl::http_client();
    let me = |auth: Option<String>| {
        let mut req = http.get(format!("{}/v1.0/me", info.base_url));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req.send()
    };
    let ok = me(Some(format!("token {}", info.api_key))).await.unwrap();
    assert_eq!(ok.status(), 200);
    let h = ok.headers();
    assert_eq!(h["x-ratelimit-limit"], "100");
    assert_eq!(h["x-ratelimit-remaining"], "99");
    let reset: u64 = h["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        reset > now && reset <= now + 61,
        "epoch seconds of the window end"
    );
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["memberUserId"], info.member_user_ids[0]);

    let bearer = me(Some(format!("Bearer {}", info.oauth_token)))
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    let key_as_bearer = me(Some(format!("Bearer {}", info.api_key))).await.unwrap();
    assert_eq!(key_as_bearer.status(), 400);
    assert_eq!(
        key_as_bearer.json::<Value>().await.unwrap(),
        json!({"code": 200058, "message": "User in token does not exist."})
    );
    for auth in [
        None,
        Some("Basic abc".to_owned()),
        Some("token nope".to_owned()),
    ] {
        let resp = me(auth).await.unwrap();
        assert_eq!(resp.status(), 401);
        assert_eq!(
            resp.json::<Value>().await.unwrap()["code"],
            "BAD_CREDENTIALS"
        );
    }

    // A compressed window: the third call is a 429 with Lofty's body and headers.
    let cfg = http
        .post(format!("{}/_sandbox/config", info.base_url))
        .json(&json!({"rate_per_minute": 2, "rate_window_ms": 60_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(cfg.json::<Value>().await.unwrap()["rate_per_minute"], 2);
    for _ in 0..2 {
        let r = me(Some(format!("token {}", info.api_key))).await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let limited = me(Some(format!("token {}", info.api_key))).await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(limited.headers()["x-ratelimit-limit"], "2");
    assert_eq!(
        limited.json::<Value>().await.unwrap(),
        json!({"message": "Too Many Requests"})
    );
    // The OAuth app is a different budget.
    let other = me(Some(format!("Bearer {}", info.oauth_token)))
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(other.headers()["x-ratelimit-limit"], "100");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn controls_info_counters_faults_and_consistency() {
    let sandbox = Sandbox::start(config(2)).await.unwrap();
    let wire = Wire::new(&sandbox);
    let ctl = |path: &str| format!("{}/_sandbox/{path}", wire.base);
    let info: Value = wire
        .http
        .get(ctl("info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info, serde_json::to_value(&sandbox.info().lofty).unwrap());
    assert!(
        info["token_url"]
            .as_str()
            .unwrap()
            .ends_with("/api/user-web/oauth/token")
    );

    wire.http.delete(ctl("counters")).send().await.unwrap();
    wire.get("/v1.0/me").await;
    wire.get("/v1.0/leads").await;
    wire.get("/v1.0/leads").await;
    let counters: Value = wire
        .http
        .get(ctl("counters"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let owner = &counters["callers"][info["member_user_ids"][0].to_string()];
    assert_eq!(owner["requests"], 3);
    assert_eq!(owner["by_route"]["GET /v1.0/leads"], 2);
    assert_eq!(counters["callers"]["total"]["requests"], 3);

    let defaults: Value = wire
        .http
        .get(ctl("config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(defaults["consistency_delay_ms"], 0, "no delay unless asked");
    assert_eq!(defaults["rate_window_ms"], 60_000);
    let bad = wire
        .http
        .post(ctl("config"))
        .json(&json!({"nope": 1}))
        .send()
        .await
        .unwrap();
    assert!(bad.status().is_client_error());

    wire.http
        .post(ctl("config"))
        .json(&json!({"consistency_delay_ms": 200}))
        .send()
        .await
        .unwrap();
    let created = wire.post("/v1.0/leads", json!({"firstName": "Soon"})).await;
    let id = created["leadId"].as_i64().unwrap();
    let early = wire
        .send(reqwest::Method::GET, &format!("/v1.0/leads/{id}"), None)
        .await;
    assert_eq!(early.status(), 404);
    assert_eq!(early.json::<Value>().await.unwrap()["code"], 20006);
    let put = wire
        .put(&format!("/v1.0/leads/{id}"), json!({"lastName": "Now"}))
        .await;
    assert_eq!(put["leadId"], id, "writes are not delayed");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let resp = wire
            .send(reqwest::Method::GET, &format!("/v1.0/leads/{id}"), None)
            .await;
        if resp.status() == 200 {
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["lead"]["lastName"], "Now");
            break;
        }
        assert!(Instant::now() < deadline, "the lead never became readable");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    wire.http
        .post(ctl("faults"))
        .json(&json!({"latency_ms": 150}))
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    wire.get("/v1.0/me").await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    let bad = wire
        .http
        .post(ctl("faults"))
        .json(&json!({"error_rate": 2.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    wire.http.delete(ctl("faults")).send().await.unwrap();
    sandbox.shutdown().await;
}

#[tokio::test]
async fn webhooks_are_thin_unsigned_batches() {
    let sandbox = Sandbox::start(config(2)).await.unwrap();
    let wire = Wire::new(&sandbox);
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let kept = seen.clone();
    let app = axum::Router::new().route(
        "/lofty/{secret}",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let kept = kept.clone();
                async move {
                    let names = headers.keys().map(|k| k.as_str().to_owned()).collect();
                    kept.lock()
                        .unwrap()
                        .push((names, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    wire.http
        .post(format!("{}/_sandbox/config", wire.base))
        .json(&json!({"webhook_batch_ms": 60_000}))
        .send()
        .await
        .unwrap();
    let sub = wire
        .post(
            "/v1.0/webhook",
            json!({"listId": 12, "callbackUrl": format!("http://{addr}/lofty/s3cret"), "limit": 10}),
        )
        .await;
    assert_eq!(sub["listId"], 12);
    let tasks_sub = wire
        .post(
            "/v1.0/webhook",
            json!({"listId": 10, "callbackUrl": format!("http://{addr}/lofty/s3cret")}),
        )
        .await;
    let lead = sandbox
        .lofty()
        .with_world(|w| *w.leads.keys().next().unwrap());
    wire.put(&format!("/v1.0/leads/{lead}"), json!({"stage": "Closed"}))
        .await;
    wire.put(&format!("/v1.0/leads/{lead}"), json!({"stage": "Nurture"}))
        .await;
    wire.put(&format!("/v1.0/leads/{lead}"), json!({"stage": "Nurture"}))
        .await;
    let task = wire
        .post(
            "/v2.0/tasks",
            json!({"type": "Text", "content": "x", "leadId": lead, "assignedRole": "Agent",
                   "endAt": "2026-09-01T10:00:00Z"}),
        )
        .await["taskId"]
        .as_i64()
        .unwrap();
    wire.post(&format!("/v2.0/tasks/{task}/finish"), json!({}))
        .await;
    let pending: Value = wire
        .http
        .get(format!("{}/_sandbox/webhooks/pending", wire.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        pending["pending"][sub["subscribeId"].to_string()],
        1,
        "one entry per id"
    );
    assert_eq!(pending["pending"][tasks_sub["subscribeId"].to_string()], 2);
    assert_eq!(sandbox.lofty().flush_webhooks().await, 2);

    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    for (headers, _) in &got {
        assert!(headers.iter().any(|h| h == "content-type"));
        assert!(
            !headers.iter().any(|h| h.contains("signature")),
            "Lofty signs nothing: {headers:?}"
        );
    }
    let pipeline = got
        .iter()
        .find(|(_, b)| b["listId"] == 12)
        .unwrap()
        .1
        .clone();
    let keys: BTreeSet<&str> = pipeline
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["listId", "teamId", "pipelineChange"]));
    assert_eq!(pipeline["pipelineChange"][0]["leadId"], lead);
    assert_eq!(
        pipeline["pipelineChange"][0]["stage"], "Nurture",
        "the new stage only"
    );
    let tasks = got
        .iter()
        .find(|(_, b)| b["listId"] == 10)
        .unwrap()
        .1
        .clone();
    assert_eq!(tasks["createdTask"][0]["taskId"], task);
    assert_eq!(tasks["finishedTask"][0]["taskId"], task);
    let log = sandbox.lofty().deliveries();
    assert!(log.iter().all(|d| d.status == 204));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_state_file_keeps_the_lofty_world() {
    let dir = std::env::temp_dir().join(format!("ghlsync-lofty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(dir.join("state.json.lofty.json"));
    let config = SandboxConfig {
        state_file: Some(file.clone()),
        ..config(2)
    };
    let first = Sandbox::start(config.clone()).await.unwrap();
    let wire = Wire::new(&first);
    let id = wire.post("/v1.0/leads", json!({"firstName": "Kept"})).await["leadId"]
        .as_i64()
        .unwrap();
    let key = first.info().lofty.api_key.clone();
    first.shutdown().await;
    assert!(dir.join("state.json.lofty.json").exists());

    let second = Sandbox::start(config).await.unwrap();
    assert_eq!(second.info().lofty.api_key, key);
    let wire = Wire::new(&second);
    let lead = wire.get(&format!("/v1.0/leads/{id}")).await;
    assert_eq!(lead["lead"]["firstName"], "Kept");
    assert_eq!(
        second.lofty().with_world(|w| w.leads.len()),
        3,
        "not re-seeded"
    );
    second.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
