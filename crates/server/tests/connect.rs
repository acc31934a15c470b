//! Connecting GHL end to end against the sandbox over HTTP: the OAuth flow (consent
//! page, redirect with code, callback, vault, a working API call), wrong and reused
//! states and codes, agency installs with UNINSTALL/INSTALL webhooks, token expiry
//! under load, revocation, and secrets never shown.

// Test code: these clients play the browser and call the sandbox controls, not product calls.
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

use engine::{GhlApp, TokenSource, Worker, WorkerConfig};
use sandbox::{Sandbox, SandboxConfig};
use secrecy::SecretString;
use serde_json::{Value, json};
use server::AppState;
use server::connect::OAuthSettings;
use store::*;

const ADMIN: &str = "test-admin-token";

struct Env {
    sbx: Sandbox,
    store: Store,
    base: String,
    http: reqwest::Client,
    app: GhlApp,
    oauth: OAuthSettings,
}

async fn env(config: SandboxConfig) -> Env {
    let sbx = Sandbox::start(config).await.unwrap();
    let dir = std::env::temp_dir().join(format!(
        "ghlsync-connect-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let store = Store::open_with_keyring(
        &StoreOptions::sqlite(dir),
        Keyring::new(MasterKey::from_bytes([5; 32])),
    )
    .await
    .unwrap();
    let info = sbx.info().ghl.clone();
    let app = GhlApp {
        client_id: info.client_id.clone(),
        client_secret: SecretString::from(info.client_secret.clone()),
        api_base: url::Url::parse(&info.base_url).unwrap(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let oauth = OAuthSettings {
        app: app.clone(),
        auth_base: url::Url::parse(&info.base_url).unwrap(),
        redirect_uri: format!("{base}/oauth/callback/ghl"),
        scopes: vec!["contacts.readonly".to_owned(), "contacts.write".to_owned()],
    };
    serve(listener, &sbx, &store, &oauth);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|_| ghl::http::default_http_client());
    Env {
        sbx,
        store,
        base,
        http,
        app,
        oauth,
    }
}

/// Serves a ghlsync server instance on `listener`, over `store`.
fn serve(listener: tokio::net::TcpListener, sbx: &Sandbox, store: &Store, oauth: &OAuthSettings) {
    let verifier = ghl::WebhookVerifier::new(
        Some(ghl::webhook::Ed25519PublicKey::parse(&sbx.info().ghl.webhook_public_key).unwrap()),
        None,
    );
    let state = AppState::new(
        store.clone(),
        verifier,
        SecretString::from(ADMIN.to_owned()),
        Some(oauth.clone()),
    );
    tokio::spawn(server::serve_listener(
        listener,
        state,
        std::future::pending(),
    ));
}

impl Env {
    /// Starts a flow as the CLI does: the consent URL and the state.
    async fn start(&self, agency: bool) -> (String, String) {
        let url = format!(
            "{}/connect/ghl{}",
            self.base,
            if agency { "?user_type=company" } else { "" }
        );
        let body: Value = self
            .http
            .get(url)
            .header("accept", "application/json")
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            body["authorize_url"].as_str().unwrap().to_owned(),
            body["state"].as_str().unwrap().to_owned(),
        )
    }

    /// Plays the user on GHL's consent page: picks `choice` and allows. Returns the
    /// callback URL GHL redirects to.
    async fn consent(&self, authorize_url: &str, choice: &str) -> String {
        let page = self
            .http
            .get(authorize_url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let action = attr(&page, "form method=\"post\" action=\"", "\"");
        let mut form: Vec<(String, String)> = page
            .split("<input type=\"hidden\" ")
            .skip(1)
            .map(|chunk| {
                (
                    attr(chunk, "name=\"", "\""),
                    attr(chunk, "value=\"", "\"").replace("&amp;", "&"),
                )
            })
            .collect();
        form.push(("location_id".to_owned(), choice.to_owned()));
        let resp = self
            .http
            .post(format!("{}{action}", self.sbx.ghl_base_url()))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_redirection(),
            "consent answers a redirect: {}",
            resp.status()
        );
        resp.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Logs in on the admin page: the session cookie (`name=value`).
    async fn login(&self) -> String {
        let login = self
            .http
            .post(format!("{}/login", self.base))
            .form(&[("token", ADMIN), ("next", "/connect/ghl")])
            .send()
            .await
            .unwrap();
        login.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }

    /// Starts a flow from the admin page with a session `cookie` and consents to
    /// `location`: the callback URL GHL redirects to.
    async fn browser_consent(&self, cookie: &str, location: &str) -> String {
        let resp = self
            .http
            .get(format!("{}/connect/ghl", self.base))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        let authorize = resp.headers()["location"].to_str().unwrap().to_owned();
        self.consent(&authorize, location).await
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        self.http
            .post(format!("{}{path}", self.sbx.ghl_base_url()))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn worker(&self, id: &str, ahead: Duration) -> Worker {
        let mut c = WorkerConfig::new(id);
        c.ghl_base_url = self.app.api_base.clone();
        c.idle = Duration::from_millis(20);
        Worker::new(
            self.store.clone(),
            c,
            TokenSource::new(self.store.clone(), Some(self.app.clone()), ahead),
        )
    }
}

fn attr(text: &str, before: &str, until: &str) -> String {
    let start = text.find(before).map(|i| i + before.len()).unwrap_or(0);
    let rest = &text[start..];
    rest[..rest.find(until).unwrap_or(rest.len())].to_owned()
}

#[tokio::test]
async fn oauth_flow_end_to_end_then_wrong_state_and_reused_code_are_refused() {
    let e = env(SandboxConfig::default()).await;
    let loc = e.sbx.info().ghl.locations[0].id.clone();
    let (authorize, state) = e.start(false).await;
    assert!(
        authorize.starts_with(&format!(
            "{}/v2/oauth/chooselocation?",
            e.sbx.ghl_base_url()
        )),
        "{authorize}"
    );
    assert!(authorize.contains(&format!("state={state}")));
    assert!(
        authorize.contains("redirect_uri=http%3A%2F%2F127.0.0.1"),
        "redirect URI from config: {authorize}"
    );
    let callback = e.consent(&authorize, &loc).await;
    assert!(
        callback.starts_with(&format!("{}/oauth/callback/ghl?code=", e.base)),
        "{callback}"
    );
    let resp = e.http.get(&callback).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains(&format!("ghl:{loc}")));

    // Tokens are in the vault and an API call through the connection works.
    let conn = e
        .store
        .connection(&format!("ghl:{loc}"))
        .await
        .unwrap()
        .expect("connection stored");
    assert_eq!(
        (conn.kind.as_str(), conn.status),
        ("oauth", ConnectionStatus::Active)
    );
    assert_eq!(conn.scopes, "contacts.readonly contacts.write");
    assert!(conn.token_expires_at.unwrap() > e.store.now());
    let tokens = TokenSource::new(
        e.store.clone(),
        Some(e.app.clone()),
        Duration::from_secs(60),
    );
    let health =
        engine::connections::healthcheck(&e.store, &tokens, &e.app.api_base, &conn.id).await;
    assert!(health.ok, "{}", health.detail);
    let status: Value = e
        .http
        .get(format!("{}/connect/status/{state}", e.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "connected");

    // The same callback again: the state is spent.
    let again = e.http.get(&callback).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("already used"));

    // A state we never issued: refused, nothing stored.
    let forged = callback.replace(&state, "forged-state");
    let resp = e.http.get(&forged).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Unknown or expired state")
    );

    // A fresh state with the old code: GHL refuses the reused code, nothing new stored.
    let (_, fresh) = e.start(false).await;
    let reused = format!(
        "{}/oauth/callback/ghl?code={}&state={fresh}",
        e.base,
        attr(&callback, "code=", "&")
    );
    let resp = e.http.get(&reused).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("GHL refused the authorization code")
    );
    assert_eq!(e.store.connections().await.unwrap().len(), 1);
    e.sbx.shutdown().await;
}

#[tokio::test]
async fn a_browser_flow_is_bound_to_its_session() {
    let e = env(SandboxConfig::default()).await;
    let loc = e.sbx.info().ghl.locations[0].id.clone();
    // Not logged in: sent to the login page.
    let resp = e
        .http
        .get(format!("{}/connect/ghl", e.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["location"], "/login?next=/connect/ghl");
    let wrong = e
        .http
        .post(format!("{}/login", e.base))
        .form(&[("token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let cookie = e.login().await;
    let callback = e.browser_consent(&cookie, &loc).await;
    // Another browser (no session cookie) cannot complete it: CSRF protection.
    let resp = e.http.get(&callback).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("another admin session"));
    assert!(
        e.store.connections().await.unwrap().is_empty(),
        "nothing stored"
    );
    e.sbx.shutdown().await;
}

/// Two server instances over one database (a restart, or replicas behind a load
/// balancer): a flow started on one completes on the other, for the same browser.
#[tokio::test]
async fn a_flow_started_on_one_server_instance_completes_on_another() {
    let e = env(SandboxConfig::default()).await;
    let loc = e.sbx.info().ghl.locations[0].id.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = format!("http://{}", listener.local_addr().unwrap());
    serve(listener, &e.sbx, &e.store, &e.oauth);
    let cookie = e.login().await;
    // The other instance knows the session too.
    let page = e
        .http
        .get(format!("{other}/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        200,
        "the session works on the other instance"
    );
    let callback = e.browser_consent(&cookie, &loc).await;
    assert!(callback.starts_with(&e.base), "{callback}");
    let on_other = callback.replacen(&e.base, &other, 1);
    // Without the session cookie the other instance refuses it like the first would.
    let resp = e.http.get(&on_other).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("another admin session"));
    let resp = e
        .http
        .get(&on_other)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    assert!(text.contains("Connected"), "{text}");
    let id = format!("ghl:{loc}");
    assert!(text.contains(&id), "{text}");
    let conn = e.store.connection(&id).await.unwrap().unwrap();
    assert_eq!(conn.status, ConnectionStatus::Active);
    assert!(e.store.tokens(&id).await.unwrap().is_some());
    // Single use across instances: the first instance refuses the same callback.
    let resp = e
        .http
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("already used"));
    e.sbx.shutdown().await;
}

#[tokio::test]
async fn agency_install_makes_one_connection_per_location_and_uninstall_holds_jobs() {
    let e = env(SandboxConfig {
        locations: 3,
        contacts_per_location: 2,
        ..Default::default()
    })
    .await;
    let info = e.sbx.info().ghl.clone();
    e.control(
        "/_sandbox/webhooks",
        json!({"url": format!("{}/webhooks/ghl", e.base)}),
    )
    .await;
    let (authorize, _) = e.start(true).await;
    let callback = e.consent(&authorize, &info.company_id).await;
    let resp = e.http.get(&callback).send().await.unwrap();
    let status = resp.status();
    assert_eq!(status, 200, "{}", resp.text().await.unwrap());
    let conns = e.store.connections().await.unwrap();
    assert_eq!(conns.len(), 4, "the agency and its 3 locations: {conns:?}");
    for l in &info.locations {
        let c = e
            .store
            .connection(&format!("ghl:{}", l.id))
            .await
            .unwrap()
            .expect("one connection per location");
        assert_eq!(c.company_id.as_deref(), Some(info.company_id.as_str()));
    }
    let worker = e.worker("w", Duration::from_secs(60));
    worker.drain().await.unwrap(); // the INSTALL events of the consent

    // Uninstall location 2: its connection is disabled, its jobs wait.
    let target = info.locations[1].id.clone();
    let conn_id = format!("ghl:{target}");
    e.control("/_sandbox/uninstall", json!({"location_id": target}))
        .await;
    let mut disabled = false;
    for _ in 0..200 {
        worker.drain().await.unwrap();
        if e.store.connection(&conn_id).await.unwrap().unwrap().status == ConnectionStatus::Disabled
        {
            disabled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(disabled, "UNINSTALL disabled the connection");
    let reason = e
        .store
        .connection(&conn_id)
        .await
        .unwrap()
        .unwrap()
        .status_reason
        .unwrap();
    assert!(reason.contains("uninstalled"), "says so: {reason}");
    for i in 0..3 {
        let job = NewJob::new(
            "ghl.call",
            format!("held-{i}"),
            json!({"op": "get-contacts", "input": {"locationId": target}}),
        )
        .on_connection(&conn_id);
        e.store.enqueue(&job).await.unwrap();
    }
    worker.drain().await.unwrap();
    let before = e.store.queue_stats().await.unwrap();
    assert_eq!(before.queued, 3, "held, not lost: {before:?}");

    // Re-install: INSTALL reconnects it and the held jobs run.
    e.control("/_sandbox/install", json!({"location_id": target}))
        .await;
    let mut done = false;
    for _ in 0..200 {
        worker.drain().await.unwrap();
        if e.store.queue_stats().await.unwrap().queued == 0 {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(done, "held jobs ran after re-install");
    assert_eq!(
        e.store.connection(&conn_id).await.unwrap().unwrap().status,
        ConnectionStatus::Active
    );
    assert_eq!(e.store.queue_stats().await.unwrap().dead, 0);
    e.sbx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expiring_tokens_never_put_a_401_in_the_run_log_and_revocation_waits_for_reconnect() {
    let config = SandboxConfig {
        access_token_ttl: Duration::from_secs(2),
        rate: sandbox::RateLimitConfig {
            max_per_window: 100_000,
            ..Default::default()
        },
        ..Default::default()
    };
    let e = env(config).await;
    let loc = e.sbx.info().ghl.locations[0].id.clone();
    let (authorize, _) = e.start(false).await;
    let callback = e.consent(&authorize, &loc).await;
    assert_eq!(e.http.get(&callback).send().await.unwrap().status(), 200);
    let conn_id = format!("ghl:{loc}");
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut handles = Vec::new();
    for i in 0..2 {
        let w = e.worker(&format!("w{i}"), Duration::from_secs(1));
        let rx = rx.clone();
        handles.push(tokio::spawn(async move { w.run(rx).await }));
    }
    let started = std::time::Instant::now();
    let mut n = 0i64;
    // A minute of jobs with 2 s tokens: thirty token lifetimes.
    while started.elapsed() < Duration::from_secs(60) {
        let job = NewJob::new("ghl.call", format!("x{n}"), json!({"op": "get-contacts", "input": {"locationId": loc, "limit": 1}, "record": format!("rec:{n}")}))
            .on_connection(&conn_id);
        e.store.enqueue(&job).await.unwrap();
        n += 1;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    for _ in 0..200 {
        if e.store.queue_stats().await.unwrap().done == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tx.send(true).unwrap();
    let mut failed = 0;
    for h in handles {
        failed += h.await.unwrap().failed;
    }
    assert_eq!(e.store.queue_stats().await.unwrap().done, n);
    assert_eq!(
        failed, 0,
        "not a single 401 (or any failure) over thirty token lifetimes"
    );
    for i in 0..n {
        let log = e.store.run_log(&format!("rec:{i}")).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].outcome, "ok");
    }
    // 2 s tokens refreshed 1 s ahead: about one refresh a second.
    let refreshed = e.sbx.ghl().oauth_counter().refreshed;
    assert!(refreshed >= 20, "{refreshed} refreshes in a minute");
    eprintln!(
        "expiry soak: {n} jobs over {:?}, {refreshed} refreshes, 0 failures",
        started.elapsed()
    );

    // GHL revokes the refresh token: the connection needs the user; nothing is lost.
    e.control("/_sandbox/tokens/revoke-all", json!({})).await;
    e.control("/_sandbox/tokens/expire-all", json!({})).await;
    let w = e.worker("after", Duration::from_secs(1));
    for i in 0..3 {
        let job = NewJob::new(
            "ghl.call",
            format!("r{i}"),
            json!({"op": "get-contacts", "input": {"locationId": loc}}),
        )
        .on_connection(&conn_id);
        e.store.enqueue(&job).await.unwrap();
    }
    w.drain().await.unwrap();
    let conn = e.store.connection(&conn_id).await.unwrap().unwrap();
    assert_eq!(conn.status, ConnectionStatus::NeedsReauth);
    assert!(
        conn.status_reason
            .as_deref()
            .unwrap_or_default()
            .contains("refresh token"),
        "{:?}",
        conn.status_reason
    );
    assert_eq!(e.store.queue_stats().await.unwrap().queued, 3);
    // The user reconnects through the same flow; the held jobs complete.
    let (authorize, _) = e.start(false).await;
    let callback = e.consent(&authorize, &loc).await;
    assert_eq!(e.http.get(&callback).send().await.unwrap().status(), 200);
    assert_eq!(w.drain().await.unwrap().done, 3);
    e.sbx.shutdown().await;
}

#[tokio::test]
async fn secrets_never_appear_in_the_admin_api_or_page() {
    let e = env(SandboxConfig::default()).await;
    let loc = e.sbx.info().ghl.locations[0].id.clone();
    let (authorize, _) = e.start(false).await;
    let callback = e.consent(&authorize, &loc).await;
    e.http.get(&callback).send().await.unwrap();
    let tokens = e
        .store
        .tokens(&format!("ghl:{loc}"))
        .await
        .unwrap()
        .unwrap();
    let secrets = [
        expose(&tokens.access).to_owned(),
        expose(tokens.refresh.as_ref().unwrap()).to_owned(),
        e.sbx.info().ghl.client_secret.clone(),
        ADMIN.to_owned(),
    ];
    let api = e
        .http
        .get(format!("{}/api/connections", e.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(api.contains(&format!("ghl:{loc}")));
    let login = e
        .http
        .post(format!("{}/login", e.base))
        .form(&[("token", ADMIN)])
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = e
        .http
        .get(format!("{}/", e.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("ghl:{loc}")));
    let unauth = e
        .http
        .get(format!("{}/api/connections", e.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status(), 401);
    let debug = format!("{tokens:?}");
    for s in &secrets {
        assert!(!api.contains(s.as_str()), "secret in the admin API");
        assert!(!page.contains(s.as_str()), "secret in the admin page");
        assert!(!debug.contains(s.as_str()), "secret in Debug output");
    }
    e.sbx.shutdown().await;
}

#[tokio::test]
async fn lofty_oauth_connects_end_to_end_and_its_callback_is_single_use() {
    let sbx = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("ghlsync-lofty-oauth-{}", std::process::id()));
    let store = Store::open_with_keyring(
        &StoreOptions::sqlite(&dir),
        Keyring::new(MasterKey::from_bytes([6; 32])),
    )
    .await
    .unwrap();
    let lofty = sbx.info().lofty.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = lofty::OAuthApp::new(
        lofty.client_id.clone(),
        SecretString::from(lofty.client_secret.clone()),
        format!("{base}/oauth/callback/lofty"),
    )
    .unwrap()
    .with_token_url(url::Url::parse(&lofty.token_url).unwrap())
    .with_authorize_url(
        url::Url::parse(&format!("{}/page/vendor-auth.html", lofty.base_url)).unwrap(),
    );
    // Lofty access tokens live 1 s here, so the keeper has work to do.
    let ttl: Value = reqwest::Client::new()
        .post(format!("{}/_sandbox/config", lofty.base_url))
        .json(&json!({"access_token_ttl_secs": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ttl["access_token_ttl_secs"], 1, "{ttl}");
    let keeper_app = app.clone();
    let settings = server::connect::LoftyOAuthSettings {
        app,
        api_base: url::Url::parse(&lofty.base_url).unwrap(),
    };
    let state = AppState::new(
        store.clone(),
        ghl::WebhookVerifier::ghl(),
        SecretString::from(ADMIN.to_owned()),
        None,
    )
    .with_lofty_oauth(Some(settings));
    tokio::spawn(server::serve_listener(
        listener,
        state,
        std::future::pending(),
    ));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let start: Value = http
        .get(format!("{base}/connect/lofty"))
        .header("accept", "application/json")
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let consent = http
        .get(start["authorize_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(consent.status().is_redirection(), "{}", consent.status());
    let callback = consent.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        callback.starts_with(&format!("{base}/oauth/callback/lofty?")),
        "{callback}"
    );
    // GHL OAuth is not configured on this server: it says so instead of failing later.
    let ghl_state = http
        .get(format!("{base}/connect/ghl"))
        .header("accept", "application/json")
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ghl_state.status(),
        503,
        "GHL OAuth is not configured in this server"
    );
    let resp = http.get(&callback).send().await.unwrap();
    let status = resp.status();
    let page = resp.text().await.unwrap();
    assert_eq!(status, 200, "{page}");
    let conns = store.connections().await.unwrap();
    assert_eq!(conns.len(), 1);
    assert_eq!(
        (conns[0].system.as_str(), conns[0].kind.as_str()),
        ("lofty", "oauth")
    );
    assert!(page.contains(&conns[0].id));
    let tokens = engine::TokenSource::new(store.clone(), None, Duration::from_secs(60));
    let health = engine::connections::healthcheck(
        &store,
        &tokens,
        &url::Url::parse("http://unused.invalid").unwrap(),
        &conns[0].id,
    )
    .await;
    assert!(health.ok, "{}", health.detail);
    // Replaying the callback: refused.
    assert_eq!(http.get(&callback).send().await.unwrap().status(), 400);
    // The keeper refreshes the Lofty OAuth connection ahead of expiry, twice in a row:
    // the second refresh only works if the first stored the new single-use refresh token.
    let keeper = engine::TokenSource::new(store.clone(), None, Duration::from_secs(3))
        .with_lofty(Some(keeper_app));
    let before = store.tokens(&conns[0].id).await.unwrap().unwrap();
    assert_eq!(keeper.keep_alive().await.unwrap(), (1, 0));
    let after = store.tokens(&conns[0].id).await.unwrap().unwrap();
    assert_ne!(expose(&before.access), expose(&after.access));
    assert_ne!(
        expose(before.refresh.as_ref().unwrap()),
        expose(after.refresh.as_ref().unwrap())
    );
    assert_eq!(keeper.keep_alive().await.unwrap(), (1, 0));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        keeper.keep_alive().await.unwrap(),
        (1, 0),
        "still refreshable after the old token expired"
    );
    let health = engine::connections::healthcheck(
        &store,
        &tokens,
        &url::Url::parse("http://unused.invalid").unwrap(),
        &conns[0].id,
    )
    .await;
    assert!(health.ok, "{}", health.detail);
    assert_eq!(
        store
            .connection(&conns[0].id)
            .await
            .unwrap()
            .unwrap()
            .status,
        ConnectionStatus::Active
    );
    sbx.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Lofty signs nothing: connecting Lofty subscribes its deliveries to a URL with the
/// connection's secret key; deliveries are journaled with one job per change, a
/// redelivery is stored once, and a wrong key is refused with nothing stored.
#[tokio::test]
async fn lofty_deliveries_reach_the_journal_through_the_subscribed_secret_url() {
    let e = env(SandboxConfig::default()).await;
    let info = e.sbx.info().lofty.clone();
    let lofty_base = url::Url::parse(&info.base_url).unwrap();
    let control = |body: Value| {
        let url = format!("{}/_sandbox/config", info.base_url);
        let http = e.http.clone();
        async move { http.post(url).json(&body).send().await.unwrap() }
    };
    assert!(
        control(json!({"webhook_batch_ms": 50}))
            .await
            .status()
            .is_success()
    );
    let key = SecretString::from(info.api_key.clone());
    let id = engine::connections::connect_lofty_key(&e.store, &lofty_base, &key)
        .await
        .unwrap();
    let mut wc = WorkerConfig::new("w-lofty");
    wc.idle = Duration::from_millis(20);
    wc.public_url = Some(url::Url::parse(&e.base).unwrap());
    let tokens = TokenSource::new(e.store.clone(), None, Duration::from_secs(60));
    let worker = Worker::new(e.store.clone(), wc, tokens);
    assert_eq!(
        worker.drain().await.unwrap().done,
        1,
        "the subscribe job ran"
    );
    let lofty = lofty::LoftyClient::new(
        lofty::LoftyConfig::api_key(key.clone()).with_base_url(lofty_base.clone()),
    )
    .unwrap();
    let subs = lofty.list_webhooks().await.unwrap();
    let ours: Vec<_> = subs
        .iter()
        .filter(|w| {
            w.callback_url
                .starts_with(&format!("{}/webhooks/lofty/", e.base))
        })
        .collect();
    let mut lists: Vec<i64> = ours.iter().map(|w| w.list_id).collect();
    lists.sort_unstable();
    assert_eq!(lists, vec![2, 9, 10, 11]);
    let callback = ours[0].callback_url.clone();
    let log = e
        .store
        .run_log(&format!("lofty:subscriptions:{id}"))
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert!(
        !log[0].detail.contains(callback.rsplit('/').next().unwrap()),
        "no key in the run log"
    );

    // A lead created in Lofty arrives as a thin batch, is journaled and becomes a job.
    let events_before = e.store.count_events().await.unwrap();
    let lead = lofty
        .create_lead(&lofty::models::CreateLead {
            first_name: "Webhook".to_owned(),
            emails: Some(vec!["webhook.lead@example.com".to_owned()]),
            ..Default::default()
        })
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while e.store.count_events().await.unwrap() == events_before {
        assert!(
            std::time::Instant::now() < deadline,
            "no Lofty delivery arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.drain().await.unwrap();
    let log = e
        .store
        .run_log(&format!("lofty:lead:{lead}"))
        .await
        .unwrap();
    assert!(!log.is_empty(), "the change was processed");
    assert_eq!(log[0].flow, "lofty.change");
    assert_eq!(log[0].outcome, "skipped");
    assert!(log[0].detail.contains(&id), "{}", log[0].detail);

    // The same delivery again is stored once; the same change in a new delivery
    // makes no second job.
    let body = json!({"listId": 2, "teamId": info.team_id,
        "updatedLead": [{"leadId": lead, "updateTime": 1_700_000_000_000_i64}]});
    let post = |url: String, body: Value| {
        let http = e.http.clone();
        async move { http.post(url).json(&body).send().await.unwrap() }
    };
    let first: Value = post(callback.clone(), body.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["status"], "accepted");
    assert_eq!(first["changes"], 1);
    let again: Value = post(callback.clone(), body.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["status"], "duplicate");
    let mut regrouped = body.clone();
    regrouped["updatedLead"]
        .as_array_mut()
        .unwrap()
        .push(json!({"leadId": lead + 1, "updateTime": 1_700_000_000_001_i64}));
    let second: Value = post(callback.clone(), regrouped)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["status"], "accepted");
    let stats = worker.drain().await.unwrap();
    assert_eq!(stats.done, 2, "one job per distinct change: {stats:?}");

    // A wrong key or an unreadable body is refused, and nothing is stored.
    let events = e.store.count_events().await.unwrap();
    let wrong = post(format!("{}/webhooks/lofty/not-a-key", e.base), body.clone()).await;
    assert_eq!(wrong.status(), 404);
    let bad = post(callback.clone(), json!(["not", "a", "batch"])).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(e.store.count_events().await.unwrap(), events);

    // Reconnecting subscribes again without duplicating subscriptions.
    engine::connections::connect_lofty_key(&e.store, &lofty_base, &key)
        .await
        .unwrap();
    worker.drain().await.unwrap();
    let after = lofty.list_webhooks().await.unwrap();
    assert_eq!(after.len(), subs.len(), "no duplicate subscriptions");

    // A new public_url: the next subscribe moves the four subscriptions there.
    let moved_to = "http://127.0.0.1:9/";
    let mut wc = WorkerConfig::new("w-lofty-moved");
    wc.public_url = Some(url::Url::parse(moved_to).unwrap());
    let moved = Worker::new(
        e.store.clone(),
        wc,
        TokenSource::new(e.store.clone(), None, Duration::from_secs(60)),
    );
    engine::connections::connect_lofty_key(&e.store, &lofty_base, &key)
        .await
        .unwrap();
    moved.drain().await.unwrap();
    let now: Vec<_> = lofty.list_webhooks().await.unwrap();
    assert_eq!(now.len(), subs.len(), "the old ones were removed");
    let key_path = &callback[callback.rfind("/webhooks/lofty/").unwrap()..];
    assert_eq!(
        now.iter()
            .filter(|w| w.callback_url == format!("http://127.0.0.1:9{key_path}"))
            .count(),
        4
    );
    e.sbx.shutdown().await;
}
