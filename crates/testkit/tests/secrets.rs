//! The secrets scan of the reliability suite. A run does what users do with every
//! kind of credential: connects GHL by OAuth consent and by PIT, Lofty by API key
//! (through the admin API) and Lytho, syncs contacts both ways (the sandbox's
//! signed webhooks on), has every GHL access token expire (refreshed) and then every
//! token revoked (the connection turns `needs_reauth`) and reconnects, receives
//! Lofty deliveries on the secret path, is sent bad webhooks, and reads every admin
//! API route and page. Then no token, client secret, API key, webhook path key or
//! the master key may appear in ghlsync's log (every target but the sandbox's, at
//! trace level), its database (the SQLite files; `pg_dump` of the PostgreSQL
//! schema), or any answer it gave. The sandbox's own state holds its tokens by
//! design and is not scanned.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use testkit::{ADMIN_TOKEN, Backend, Spec, TestApp, spawn_app_configured};

/// Everything the process logged, from every target but the sandbox's.
static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buf.clone());
        // The sandbox's targets stay out: it logs its own tokens by design.
        let filter = tracing_subscriber::EnvFilter::new("trace,sandbox=off,sqlx=trace");
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        buf
    })
    .clone()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every answer ghlsync gave in the run: what was asked, status, headers and body.
#[derive(Default)]
struct Answers(Vec<(String, Vec<u8>)>);

impl Answers {
    async fn keep(&mut self, what: String, resp: reqwest::Response) -> (u16, Vec<u8>) {
        let status = resp.status().as_u16();
        let mut all = format!("{status}\n").into_bytes();
        for (k, v) in resp.headers() {
            all.extend_from_slice(format!("{k}: ").as_bytes());
            all.extend_from_slice(v.as_bytes());
            all.push(b'\n');
        }
        let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        all.extend_from_slice(&body);
        self.0.push((what, all));
        (status, body)
    }

    async fn get(&mut self, app: &TestApp, path: &str, cookie: Option<&str>) -> (u16, Vec<u8>) {
        let mut req = app.http.get(format!("{}{path}", app.address));
        req = match cookie {
            Some(c) => req.header("cookie", c),
            None => req.bearer_auth(ADMIN_TOKEN),
        };
        let resp = req.send().await.expect("ghlsync answers");
        self.keep(format!("GET {path}"), resp).await
    }
}

/// Every credential the run handled, named.
fn secrets(app: &TestApp, lofty_path_key: &str, master_key: &str) -> Vec<(String, String)> {
    let info = app.sandbox.info();
    let mut out = vec![
        (
            "GHL client secret".to_owned(),
            info.ghl.client_secret.clone(),
        ),
        ("Lofty API key".to_owned(), info.lofty.api_key.clone()),
        (
            "Lofty agent API key".to_owned(),
            info.lofty.agent_api_key.clone(),
        ),
        (
            "Lofty client secret".to_owned(),
            info.lofty.client_secret.clone(),
        ),
        (
            "Lytho client secret".to_owned(),
            info.lytho.client_secret.clone(),
        ),
        (
            "Lofty webhook path key".to_owned(),
            lofty_path_key.to_owned(),
        ),
        ("master key".to_owned(), master_key.to_owned()),
        ("admin token".to_owned(), ADMIN_TOKEN.to_owned()),
    ];
    for l in &info.ghl.locations {
        out.push((format!("PIT of {}", l.id), l.token.clone()));
    }
    app.sandbox.ghl().with_world(|w| {
        for (t, g) in &w.tokens {
            out.push((format!("GHL {:?} token", g.kind), t.clone()));
        }
        for t in w.refresh_tokens.keys() {
            out.push(("GHL refresh token".to_owned(), t.clone()));
        }
    });
    app.sandbox.lofty().with_world(|w| {
        for t in w.tokens.keys() {
            out.push(("Lofty access token".to_owned(), t.clone()));
        }
        for t in w.refresh_tokens.keys() {
            out.push(("Lofty refresh token".to_owned(), t.clone()));
        }
    });
    app.sandbox.lytho().with_world(|w| {
        for t in w.tokens.keys() {
            out.push(("Lytho access token".to_owned(), t.clone()));
        }
    });
    out
}

/// The places a secret was found in: `(place, secret's name)`.
fn scan(places: &[(String, Vec<u8>)], secrets: &[(String, String)]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (place, bytes) in places {
        for (name, secret) in secrets {
            if contains(bytes, secret.as_bytes()) {
                found.insert(format!("the {name} in {place}"));
            }
            if contains(bytes, hex(secret.as_bytes()).as_bytes()) {
                found.insert(format!("the {name}, hex-encoded, in {place}"));
            }
        }
    }
    found
}

/// The run, on one backend. Returns (place, bytes) of everything to scan besides
/// the log, and the secrets.
async fn the_run(backend: Backend) -> Option<(Vec<(String, Vec<u8>)>, Vec<(String, String)>)> {
    let mut spec = Spec::default().on(backend);
    spec.sandbox.contacts_per_location = 10;
    let app = spawn_app_configured(spec, |_| {}).await?;
    let mut answers = Answers::default();
    let location = app.location(0).id.clone();

    // Connections of every kind: GHL by consent (OAuth) and by PIT, Lofty by API key
    // through the admin API, Lytho.
    let ghl = app.connect_ghl_oauth(0).await.remove(0);
    app.connect_ghl_pit(1, "contacts.readonly").await;
    let resp = app
        .http
        .post(format!("{}/api/connections", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"system": "lofty", "secret": app.sandbox.info().lofty.api_key}))
        .send()
        .await
        .unwrap();
    let (status, body) = answers.keep("POST /api/connections".into(), resp).await;
    assert!(
        status < 300,
        "Lofty connects: {status} {}",
        String::from_utf8_lossy(&body)
    );
    let lofty: Value = serde_json::from_slice(&body).unwrap();
    let lofty = lofty["id"]
        .as_str()
        .expect("the connection's id")
        .to_owned();
    app.connect_lytho().await;
    app.drain().await;
    let key = app.store.webhook_key(&lofty).await.expect("a path key");
    let path_key = store::expose(&key).to_owned();

    // A two-way contacts sync, with a backfill and the webhooks it causes.
    let row = engine::sync::enable_recipe(app.connectors(), "lofty-ghl-contacts", &ghl, &lofty)
        .await
        .expect("the recipe enables");
    let flow = engine::sync::Flow {
        spec: engine::sync::build(&row).unwrap(),
        row: row.clone(),
    };
    for side in [domain::sync::Side::Left, domain::sync::Side::Right] {
        engine::sync::backfill::index_side(app.connectors(), &flow, side, |_| {})
            .await
            .unwrap();
    }
    engine::sync::backfill::enqueue(&app.store, &flow)
        .await
        .unwrap();
    app.drain_all(Duration::from_secs(60)).await;
    assert!(app.store.count_pairs(&row.id).await.unwrap() > 0);

    // Every GHL access token expires: the next calls refresh.
    app.sandbox_control("/_sandbox/tokens/expire-all", json!({}))
        .await;
    let refreshed = app.sandbox.ghl().oauth_counter().refreshed;
    let contact =
        json!({"locationId": location, "firstName": "Scan", "email": "scan.one@example.com"});
    app.http
        .post(format!("{}/contacts/", app.ghl_base()))
        .bearer_auth(&app.location(0).token)
        .header("Version", "2021-07-28")
        .json(&contact)
        .send()
        .await
        .unwrap();
    app.drain_until("the new contact is in Lofty", async || {
        app.sandbox.lofty().with_world(|w| {
            w.leads.values().any(|l| {
                serde_json::to_string(&l.fields)
                    .unwrap_or_default()
                    .contains("scan.one@example.com")
            })
        })
    })
    .await;
    // A call of the catalog on the OAuth connection: 401, refresh, again.
    let call = engine::jobs::GhlCall::new(
        &ghl,
        "get-contacts",
        json!({"locationId": location, "limit": 5}),
        "scan-call",
    );
    app.store
        .enqueue(&engine::jobs::Job::from(call).into_new_job())
        .await
        .unwrap();
    app.drain().await;
    assert!(
        app.sandbox.ghl().oauth_counter().refreshed > refreshed,
        "the expired token was refreshed"
    );

    // A Lofty delivery on the secret path, and one on a wrong key.
    let lofty_url = format!("{}/webhooks/lofty/{path_key}", app.address);
    let delivery = json!({"event": "lead.updated", "leadIds": [1]});
    let resp = app
        .http
        .post(&lofty_url)
        .json(&delivery)
        .send()
        .await
        .unwrap();
    answers
        .keep("POST /webhooks/lofty/<key>".into(), resp)
        .await;
    let resp = app
        .http
        .post(format!("{}/webhooks/lofty/not-the-key", app.address))
        .json(&delivery)
        .send()
        .await
        .unwrap();
    answers
        .keep("POST /webhooks/lofty/wrong".into(), resp)
        .await;
    // A GHL webhook with a bad signature, and one signed.
    let event = json!({"type": "ContactCreate", "locationId": location, "id": "scan-c1",
        "webhookId": testkit::unique("scan"), "timestamp": "2026-12-05T10:00:00.000Z"});
    let resp = app
        .http
        .post(format!("{}/webhooks/ghl", app.address))
        .header("x-ghl-signature", "bm90IGEgc2lnbmF0dXJl")
        .json(&event)
        .send()
        .await
        .unwrap();
    answers.keep("POST /webhooks/ghl (bad)".into(), resp).await;
    let resp = app.post_ghl_webhook(&event).await;
    answers.keep("POST /webhooks/ghl".into(), resp).await;
    app.drain().await;

    // Every token revoked: the connection turns needs_reauth; the user reconnects.
    app.sandbox_control("/_sandbox/tokens/revoke-all", json!({}))
        .await;
    let call = engine::jobs::GhlCall::new(
        &ghl,
        "get-contacts",
        json!({"locationId": location, "limit": 5}),
        "scan-call-revoked",
    );
    app.store
        .enqueue(&engine::jobs::Job::from(call).into_new_job())
        .await
        .unwrap();
    app.drain_until("the connection needs the user", async || {
        app.store.connection(&ghl).await.unwrap().unwrap().status
            == store::ConnectionStatus::NeedsReauth
    })
    .await;
    let (_, body) = answers.get(&app, "/api/connections", None).await;
    assert!(
        String::from_utf8_lossy(&body).contains("needs_reauth"),
        "the API shows it"
    );
    assert_eq!(app.connect_ghl_oauth(0).await, vec![ghl.clone()]);
    app.drain_all(Duration::from_secs(60)).await;

    // Every admin API route and page, with the ids this run made.
    let ids: Vec<String> = vec![ghl.clone(), lofty.clone(), row.id.clone(), "1".into()];
    let (_, spec) = answers.get(&app, "/api/openapi.json", None).await;
    let spec: Value = serde_json::from_slice(&spec).expect("the OpenAPI document");
    let mut gets = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        if item.get("get").is_none() {
            continue;
        }
        let paths: Vec<String> = if path.contains('{') {
            ids.iter()
                .map(|id| {
                    let mut p = path.clone();
                    while let (Some(a), Some(b)) = (p.find('{'), p.find('}')) {
                        p.replace_range(a..=b, id);
                    }
                    p
                })
                .collect()
        } else {
            vec![path.clone()]
        };
        for p in paths {
            answers.get(&app, &p, None).await;
            gets += 1;
        }
    }
    assert!(
        gets >= 8,
        "the OpenAPI document lists the API's GETs ({gets})"
    );
    let cookie = app.login().await;
    for page in [
        "/",
        "/flows",
        &format!("/flows/{}", row.id),
        "/runs",
        "/health",
        "/review",
        "/dead-letters",
        "/metrics",
        "/healthz",
        "/readyz",
        &format!("/runs?flow={}", row.id),
    ] {
        answers.get(&app, page, Some(&cookie)).await;
    }
    // The connections page after a rotation, and a connection test.
    for action in [
        format!("/api/connections/{ghl}/test"),
        format!("/api/connections/{lofty}/test"),
    ] {
        let resp = app
            .http
            .post(format!("{}{action}", app.address))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        answers.keep(format!("POST {action}"), resp).await;
    }

    // The database.
    let mut places: Vec<(String, Vec<u8>)> = answers
        .0
        .into_iter()
        .map(|(what, bytes)| (format!("the answer to {what}"), bytes))
        .collect();
    let dir = app.config.data_dir.clone().expect("a data dir");
    let master = std::fs::read_to_string(dir.join("master.key")).unwrap_or_default();
    let master = master.trim().to_owned();
    let secrets = secrets(&app, &path_key, &master);
    match backend {
        Backend::Sqlite => {
            let mut files = 0;
            for name in ["ghlsync.db", "ghlsync.db-wal"] {
                if let Ok(bytes) = std::fs::read(dir.join(name)) {
                    files += 1;
                    assert!(
                        contains(&bytes, ghl.as_bytes()) || name.ends_with("wal"),
                        "{name} holds the connections"
                    );
                    places.push((format!("the SQLite file {name}"), bytes));
                }
            }
            assert!(files >= 1, "the SQLite files are where the test looks");
        }
        Backend::Postgres => {
            let url = app.config.database_url.clone().expect("a PostgreSQL URL");
            // `<server>?options=-c%20search_path%3D<schema>`, from testkit::pg.
            let (server, schema) = url.rsplit_once("search_path%3D").expect("a schema URL");
            let server = server.trim_end_matches("options=-c%20");
            let server = server.trim_end_matches(['?', '&']);
            let dump = std::process::Command::new("pg_dump")
                .arg(format!("--dbname={server}"))
                .arg(format!("--schema={schema}"))
                .arg("--no-owner")
                .output();
            match dump {
                Ok(out) if out.status.success() => {
                    assert!(
                        contains(&out.stdout, ghl.as_bytes()),
                        "the dump holds this run's connections"
                    );
                    places.push(("pg_dump".to_owned(), out.stdout));
                }
                Ok(out) => panic!("pg_dump failed: {}", String::from_utf8_lossy(&out.stderr)),
                Err(e) if !testkit::ci() => eprintln!("skipped the pg_dump scan: {e}"),
                Err(e) => panic!("CI=true and pg_dump cannot run: {e}"),
            }
        }
    }
    app.shutdown().await;
    Some((places, secrets))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_databases_or_answers() {
    let log = capture_logs();
    let mut places = Vec::new();
    let mut all_secrets = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        match the_run(backend).await {
            Some((p, s)) => {
                places.extend(p);
                all_secrets.extend(s);
            }
            None => eprintln!("skipped {backend:?}: PostgreSQL is not available"),
        }
    }
    let log = log.lock().unwrap().clone();
    assert!(
        contains(&log, b"TRACE") && contains(&log, b"webhooks/lofty/{key}"),
        "the log was captured at trace level, requests included"
    );
    let scanned = places.len();
    places.push(("ghlsync's log".to_owned(), log));
    let secrets: Vec<(String, String)> = all_secrets
        .into_iter()
        .filter(|(_, s)| s.len() >= 12)
        .collect();
    let found = scan(&places, &secrets);
    eprintln!(
        "secrets scan: {} secrets looked for in {scanned} answers and files and the log ({} bytes)",
        secrets.len(),
        places.last().map_or(0, |p| p.1.len())
    );
    assert!(
        found.is_empty(),
        "secrets leaked:\n- {}",
        found.into_iter().collect::<Vec<_>>().join("\n- ")
    );
}
