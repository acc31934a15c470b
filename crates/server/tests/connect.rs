//! Connecting GHL end to end against the sandbox over HTTP: the OAuth flow (consent
//! page, redirect with code, callback, vault, a working API call), wrong and reused
//! states and codes, browser sessions across server instances, agency installs with
//! UNINSTALL/INSTALL webhooks, token expiry under load, revocation, Lofty OAuth and
//! webhooks, and what a client never sees: secrets, store errors, header injection.

use std::time::Duration;

use engine::TokenSource;
use engine::jobs::{GhlCall, Job};
use sandbox::SandboxConfig;
use secrecy::SecretString;
use serde_json::{Value, json};
use store::{ConnectionStatus, expose};
use testkit::{
    ADMIN_PASSWORD, ADMIN_TOKEN, Backend, Config, Spec, TestApp, attr, spawn_app,
    spawn_app_configured,
};

/// A SQLite app on a sandbox built from `sandbox`.
async fn spawn(sandbox: SandboxConfig) -> TestApp {
    spawn_tuned(sandbox, |_| {}).await
}

/// A SQLite app on a sandbox built from `sandbox`, its configuration tuned first.
async fn spawn_tuned(sandbox: SandboxConfig, tune: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_configured(
        Spec {
            sandbox,
            ..Spec::default()
        },
        tune,
    )
    .await
    .expect("SQLite is always available")
}

/// A `get-contacts` call on `conn`, named `request`.
fn get_contacts(conn: &str, input: Value, request: String) -> store::NewJob {
    Job::from(GhlCall::new(conn, "get-contacts", input, request)).into_new_job()
}

#[tokio::test]
async fn oauth_flow_end_to_end_then_wrong_state_and_reused_code_are_refused() {
    // The server asks for exactly these scopes.
    let app = spawn_tuned(SandboxConfig::default(), |c| {
        c.ghl.scopes = Some(vec![
            "contacts.readonly".to_owned(),
            "contacts.write".to_owned(),
        ]);
    })
    .await;
    let loc = app.location(0).id.clone();
    let (authorize, state) = app.start_connect(false).await;
    assert!(
        authorize.starts_with(&format!("{}/v2/oauth/chooselocation?", app.ghl_base())),
        "{authorize}"
    );
    assert!(authorize.contains(&format!("state={state}")));
    assert!(
        authorize.contains("redirect_uri=http%3A%2F%2F127.0.0.1"),
        "redirect URI from config: {authorize}"
    );
    let callback = app.consent(&authorize, &loc).await;
    assert!(
        callback.starts_with(&format!("{}/oauth/callback/ghl?code=", app.address)),
        "{callback}"
    );
    let resp = app.http.get(&callback).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains(&format!("ghl:{loc}")));

    // Tokens are in the vault and an API call through the connection works.
    let conn = app
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
    assert!(conn.token_expires_at.unwrap() > app.store.now());
    let health = app.connectors().healthcheck(&conn.id).await;
    assert!(health.ok, "{}", health.detail);
    let status = app.connect_status(&state).await;
    assert_eq!(status["status"], "connected");

    // The same callback again: the state is spent.
    let again = app.http.get(&callback).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("already used"));

    // A state we never issued: refused, nothing stored.
    let forged = callback.replace(&state, "forged-state");
    let resp = app.http.get(&forged).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Unknown or expired state")
    );

    // A fresh state with the old code: GHL refuses the reused code, nothing new stored.
    let (_, fresh) = app.start_connect(false).await;
    let reused = format!(
        "{}/oauth/callback/ghl?code={}&state={fresh}",
        app.address,
        attr(&callback, "code=", "&")
    );
    let resp = app.http.get(&reused).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("GHL refused the authorization code")
    );
    assert_eq!(app.store.connections().await.unwrap().len(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn a_browser_flow_is_bound_to_its_session() {
    let app = spawn_app().await;
    let loc = app.location(0).id.clone();
    // Not logged in: sent to the login page.
    let resp = app
        .http
        .get(format!("{}/connect/ghl", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["location"], "/login?next=/connect/ghl");
    let wrong = app
        .http
        .post(format!("{}/login", app.address))
        .form(&[("name", "admin"), ("password", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let cookie = app.login().await;
    let callback = app.browser_consent(&cookie, &loc).await;
    // Another browser (no session cookie) cannot complete it: CSRF protection.
    let resp = app.http.get(&callback).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("another admin session"));
    assert!(
        app.store.connections().await.unwrap().is_empty(),
        "nothing stored"
    );
    app.shutdown().await;
}

/// Two server instances over one database (a restart, or replicas behind a load
/// balancer): a flow started on one completes on the other, for the same browser.
#[tokio::test]
async fn a_flow_started_on_one_server_instance_completes_on_another() {
    let app = spawn_app().await;
    let loc = app.location(0).id.clone();
    let other = app.second_instance().await;
    let cookie = app.login().await;
    // The other instance knows the session too.
    let page = app
        .http
        .get(format!("{}/", other.address))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        200,
        "the session works on the other instance"
    );
    let callback = app.browser_consent(&cookie, &loc).await;
    assert!(callback.starts_with(&app.address), "{callback}");
    let on_other = callback.replacen(&app.address, &other.address, 1);
    // Without the session cookie the other instance refuses it like the first would.
    let resp = app.http.get(&on_other).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("another admin session"));
    let resp = app
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
    let conn = app.store.connection(&id).await.unwrap().unwrap();
    assert_eq!(conn.status, ConnectionStatus::Active);
    assert!(app.store.tokens(&id).await.unwrap().is_some());
    // Single use across instances: the first instance refuses the same callback.
    let resp = app
        .http
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("already used"));
    other.shutdown().await;
    app.shutdown().await;
}

#[tokio::test]
async fn agency_install_makes_one_connection_per_location_and_uninstall_holds_jobs() {
    // The kit points the sandbox's webhooks at the app: INSTALL/UNINSTALL arrive.
    let app = spawn(SandboxConfig {
        locations: 3,
        contacts_per_location: 2,
        ..Default::default()
    })
    .await;
    let info = app.sandbox.info().ghl.clone();
    let (authorize, _) = app.start_connect(true).await;
    let callback = app.consent(&authorize, &info.company_id).await;
    let resp = app.http.get(&callback).send().await.unwrap();
    let status = resp.status();
    assert_eq!(status, 200, "{}", resp.text().await.unwrap());
    let conns = app.store.connections().await.unwrap();
    assert_eq!(conns.len(), 4, "the agency and its 3 locations: {conns:?}");
    for l in &info.locations {
        let c = app
            .store
            .connection(&format!("ghl:{}", l.id))
            .await
            .unwrap()
            .expect("one connection per location");
        assert_eq!(c.company_id.as_deref(), Some(info.company_id.as_str()));
    }
    app.drain().await; // the INSTALL events of the consent

    // Uninstall location 2: its connection is disabled, its jobs wait.
    let target = info.locations[1].id.clone();
    let conn_id = format!("ghl:{target}");
    app.sandbox_control("/_sandbox/uninstall", json!({"location_id": target}))
        .await;
    let mut disabled = false;
    for _ in 0..200 {
        app.drain().await;
        let conn = app.store.connection(&conn_id).await.unwrap().unwrap();
        if conn.status == ConnectionStatus::Disabled {
            disabled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(disabled, "UNINSTALL disabled the connection");
    let reason = app
        .store
        .connection(&conn_id)
        .await
        .unwrap()
        .unwrap()
        .status_reason
        .unwrap();
    assert!(reason.contains("uninstalled"), "says so: {reason}");
    for i in 0..3 {
        let job = get_contacts(&conn_id, json!({"locationId": target}), format!("held-{i}"));
        app.store.enqueue(&job).await.unwrap();
    }
    app.drain().await;
    let before = app.store.queue_stats().await.unwrap();
    assert_eq!(before.queued, 3, "held, not lost: {before:?}");

    // Re-install: INSTALL reconnects it and the held jobs run.
    app.sandbox_control("/_sandbox/install", json!({"location_id": target}))
        .await;
    let mut done = false;
    for _ in 0..200 {
        app.drain().await;
        if app.store.queue_stats().await.unwrap().queued == 0 {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(done, "held jobs ran after re-install");
    assert_eq!(
        app.store
            .connection(&conn_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        ConnectionStatus::Active
    );
    assert_eq!(app.store.queue_stats().await.unwrap().dead, 0);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expiring_tokens_never_put_a_401_in_the_run_log_and_revocation_waits_for_reconnect() {
    let app = spawn(SandboxConfig {
        access_token_ttl: Duration::from_secs(2),
        rate: sandbox::RateLimitConfig {
            max_per_window: 100_000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    // The queue holds only the jobs this test enqueues (no INSTALL event).
    app.stop_ghl_webhooks().await;
    // Workers that refresh 2 s tokens when less than 1 s is left.
    let refresh_1s = |c: &mut Config| c.worker.refresh_ahead_secs = Some(1);
    let loc = app.location(0).id.clone();
    let (authorize, _) = app.start_connect(false).await;
    let callback = app.consent(&authorize, &loc).await;
    assert_eq!(app.http.get(&callback).send().await.unwrap().status(), 200);
    let conn_id = format!("ghl:{loc}");
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut handles = Vec::new();
    for i in 0..2 {
        let w = app.worker_with(&format!("w{i}"), refresh_1s);
        let rx = rx.clone();
        handles.push(tokio::spawn(async move { w.run(rx).await }));
    }
    let started = std::time::Instant::now();
    let mut n = 0i64;
    // A minute of jobs with 2 s tokens: thirty token lifetimes.
    while started.elapsed() < Duration::from_secs(60) {
        let job = Job::from(
            GhlCall::new(
                &conn_id,
                "get-contacts",
                json!({"locationId": loc, "limit": 1}),
                format!("x{n}"),
            )
            .about(format!("rec:{n}")),
        );
        app.store.enqueue(&job.into_new_job()).await.unwrap();
        n += 1;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    for _ in 0..200 {
        if app.store.queue_stats().await.unwrap().done == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tx.send(true).unwrap();
    let mut failed = 0;
    for h in handles {
        failed += h.await.unwrap().failed;
    }
    assert_eq!(app.store.queue_stats().await.unwrap().done, n);
    assert_eq!(
        failed, 0,
        "not a single 401 (or any failure) over thirty token lifetimes"
    );
    for i in 0..n {
        let log = app.store.run_log(&format!("rec:{i}")).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].outcome, "ok");
    }
    // 2 s tokens refreshed 1 s ahead: about one refresh a second.
    let refreshed = app.sandbox.ghl().oauth_counter().refreshed;
    assert!(refreshed >= 20, "{refreshed} refreshes in a minute");
    eprintln!(
        "expiry soak: {n} jobs over {:?}, {refreshed} refreshes, 0 failures",
        started.elapsed()
    );

    // GHL revokes the refresh token: the connection needs the user; nothing is lost.
    app.sandbox_control("/_sandbox/tokens/revoke-all", json!({}))
        .await;
    app.sandbox_control("/_sandbox/tokens/expire-all", json!({}))
        .await;
    let w = app.worker_with("after", refresh_1s);
    for i in 0..3 {
        let job = get_contacts(&conn_id, json!({"locationId": loc}), format!("r{i}"));
        app.store.enqueue(&job).await.unwrap();
    }
    w.drain().await.unwrap();
    let conn = app.store.connection(&conn_id).await.unwrap().unwrap();
    assert_eq!(conn.status, ConnectionStatus::NeedsReauth);
    assert!(
        conn.status_reason
            .as_deref()
            .unwrap_or_default()
            .contains("refresh token"),
        "{:?}",
        conn.status_reason
    );
    assert_eq!(app.store.queue_stats().await.unwrap().queued, 3);
    // The user reconnects through the same flow; the held jobs complete.
    let (authorize, _) = app.start_connect(false).await;
    let callback = app.consent(&authorize, &loc).await;
    assert_eq!(app.http.get(&callback).send().await.unwrap().status(), 200);
    assert_eq!(w.drain().await.unwrap().done, 3);
    app.shutdown().await;
}

#[tokio::test]
async fn secrets_never_appear_in_the_admin_api_or_page() {
    let app = spawn_app().await;
    let loc = app.location(0).id.clone();
    let (authorize, _) = app.start_connect(false).await;
    let callback = app.consent(&authorize, &loc).await;
    app.http.get(&callback).send().await.unwrap();
    let tokens = app
        .store
        .tokens(&format!("ghl:{loc}"))
        .await
        .unwrap()
        .unwrap();
    let secrets = [
        expose(&tokens.access).to_owned(),
        expose(tokens.refresh.as_ref().unwrap()).to_owned(),
        app.sandbox.info().ghl.client_secret.clone(),
        ADMIN_TOKEN.to_owned(),
    ];
    let api = app
        .http
        .get(format!("{}/api/connections", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(api.contains(&format!("ghl:{loc}")));
    let cookie = app.login().await;
    let page = app
        .http
        .get(format!("{}/", app.address))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("ghl:{loc}")));
    let unauth = app
        .http
        .get(format!("{}/api/connections", app.address))
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
    app.shutdown().await;
}

/// When the store fails, the admin API and page answer 503 with a message for the
/// user; what the store said (tables, SQL, file paths, hosts, sqlx's wording) stays
/// in the log.
#[tokio::test]
async fn no_store_error_text_reaches_a_client() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = testkit::spawn_app_with(Spec::default().on(backend)).await else {
            continue;
        };
        let cookie = app.login().await;
        app.store.close().await;
        let detail = app
            .store
            .connections()
            .await
            .expect_err("a closed store fails")
            .to_string();
        let api = app
            .http
            .get(format!("{}/api/connections", app.address))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        let page = app
            .http
            .get(format!("{}/", app.address))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        let data_dir = app.dir.display().to_string();
        let mut forbidden = vec![
            detail.clone(),
            "database error".to_owned(),
            "sqlx".to_owned(),
            "pool".to_owned(),
            "SELECT".to_owned(),
            "FROM ".to_owned(),
            "table".to_owned(),
            "relation".to_owned(),
            "sqlite".to_owned(),
            "postgres".to_owned(),
            "ghlsync.db".to_owned(),
            "127.0.0.1:5432".to_owned(),
            data_dir,
            std::env::temp_dir().display().to_string(),
        ];
        // Tables with names no English message uses.
        forbidden.extend(
            [
                "connect_flows",
                "echo_ledger",
                "rate_budgets",
                "rate_slots",
                "run_log",
                "webhook_keys",
            ]
            .map(str::to_owned),
        );
        for (what, resp) in [("the admin API", api), ("the admin page", page)] {
            assert_eq!(resp.status(), 503, "{backend:?}: {what}");
            let body = resp.text().await.unwrap();
            assert!(
                body.contains("database is unavailable"),
                "{backend:?}: {what} says what happened: {body}"
            );
            for word in &forbidden {
                assert!(
                    !body.to_lowercase().contains(&word.to_lowercase()),
                    "{backend:?}: {what} leaks {word:?}: {body}"
                );
            }
        }
        app.shutdown().await;
    }
}

/// A `next` with CR/LF would split the `Location` header (and could set a cookie of
/// the attacker's choosing): refused with a 400, and no session is set.
#[tokio::test]
async fn login_refuses_a_next_with_control_characters_and_sets_no_cookie() {
    let app = spawn_app().await;
    app.add_user("admin", store::Role::Admin).await;
    let injected = "/x\r\nSet-Cookie: a=b";
    let post = app
        .http
        .post(format!("{}/login", app.address))
        .form(&[
            ("name", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", injected),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 400);
    assert!(
        post.headers().get("set-cookie").is_none(),
        "no cookie: {:?}",
        post.headers()
    );
    assert!(post.headers().get("location").is_none());
    let get = app
        .http
        .get(format!("{}/login", app.address))
        .query(&[("next", injected)])
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 400);
    assert!(
        get.headers().get("set-cookie").is_none(),
        "no cookie: {:?}",
        get.headers()
    );
    // The same login with a plain `next` works (the 400 was about `next` only).
    let ok = app
        .http
        .post(format!("{}/login", app.address))
        .form(&[
            ("name", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", "/x"),
        ])
        .send()
        .await
        .unwrap();
    assert!(ok.status().is_redirection(), "{}", ok.status());
    assert_eq!(ok.headers()["location"], "/x");
    assert!(ok.headers().get("set-cookie").is_some());
    app.shutdown().await;
}

#[tokio::test]
async fn lofty_oauth_connects_end_to_end_and_its_callback_is_single_use() {
    // Lofty OAuth only: this server has no GHL marketplace app.
    let app = spawn_tuned(SandboxConfig::default(), |c| {
        c.ghl.client_id = None;
        c.ghl.client_secret = None;
    })
    .await;
    let lofty = app.sandbox.info().lofty.clone();
    // Lofty access tokens live 1 s here, so the keeper has work to do.
    let ttl: Value = app
        .http
        .post(format!("{}/_sandbox/config", lofty.base_url))
        .json(&json!({"access_token_ttl_secs": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ttl["access_token_ttl_secs"], 1, "{ttl}");
    let keeper_app = app
        .config
        .lofty_oauth_settings()
        .unwrap()
        .expect("the Lofty vendor app is configured")
        .app;

    let start: Value = app
        .http
        .get(format!("{}/connect/lofty", app.address))
        .header("accept", "application/json")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let consent = app
        .http
        .get(start["authorize_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(consent.status().is_redirection(), "{}", consent.status());
    let callback = consent.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        callback.starts_with(&format!("{}/oauth/callback/lofty?", app.address)),
        "{callback}"
    );
    // GHL OAuth is not configured on this server: it says so instead of failing later.
    let ghl_state = app
        .http
        .get(format!("{}/connect/ghl", app.address))
        .header("accept", "application/json")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ghl_state.status(),
        503,
        "GHL OAuth is not configured in this server"
    );
    let resp = app.http.get(&callback).send().await.unwrap();
    let status = resp.status();
    let page = resp.text().await.unwrap();
    assert_eq!(status, 200, "{page}");
    let conns = app.store.connections().await.unwrap();
    assert_eq!(conns.len(), 1);
    assert_eq!(
        (conns[0].system.as_str(), conns[0].kind.as_str()),
        ("lofty", "oauth")
    );
    assert!(page.contains(&conns[0].id));
    let health = app.connectors().healthcheck(&conns[0].id).await;
    assert!(health.ok, "{}", health.detail);
    // Replaying the callback: refused.
    assert_eq!(app.http.get(&callback).send().await.unwrap().status(), 400);
    // The keeper refreshes the Lofty OAuth connection ahead of expiry, twice in a row:
    // the second refresh only works if the first stored the new single-use refresh token.
    let keeper = TokenSource::new(app.store.clone(), None, Duration::from_secs(3))
        .with_lofty(Some(keeper_app));
    let before = app.store.tokens(&conns[0].id).await.unwrap().unwrap();
    assert_eq!(keeper.keep_alive().await.unwrap(), (1, 0));
    let after = app.store.tokens(&conns[0].id).await.unwrap().unwrap();
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
    let health = app.connectors().healthcheck(&conns[0].id).await;
    assert!(health.ok, "{}", health.detail);
    assert_eq!(
        app.store
            .connection(&conns[0].id)
            .await
            .unwrap()
            .unwrap()
            .status,
        ConnectionStatus::Active
    );
    app.shutdown().await;
}

/// Lofty signs nothing: connecting Lofty subscribes its deliveries to a URL with the
/// connection's secret key; deliveries are journaled with one job per change, a
/// redelivery is stored once, and a wrong key is refused with nothing stored.
#[tokio::test]
async fn lofty_deliveries_reach_the_journal_through_the_subscribed_secret_url() {
    let app = spawn(SandboxConfig::default()).await;
    let info = app.sandbox.info().lofty.clone();
    let lofty_base = url::Url::parse(&info.base_url).unwrap();
    let post = |url: String, body: Value| {
        let http = app.http.clone();
        async move { http.post(url).json(&body).send().await.unwrap() }
    };
    let config = post(
        format!("{}/_sandbox/config", info.base_url),
        json!({"webhook_batch_ms": 50}),
    )
    .await;
    assert!(config.status().is_success());
    let key = SecretString::from(info.api_key.clone());
    let id = app.connect_lofty_key().await;
    // The app's worker delivers to the app's public URL.
    assert_eq!(app.drain().await.done, 1, "the subscribe job ran");
    let lofty = lofty::LoftyClient::new(
        lofty::LoftyConfig::api_key(key.clone()).with_base_url(lofty_base.clone()),
    )
    .unwrap();
    let subs = lofty.list_webhooks().await.unwrap();
    let ours: Vec<_> = subs
        .iter()
        .filter(|w| {
            w.callback_url
                .starts_with(&format!("{}/webhooks/lofty/", app.address))
        })
        .collect();
    let mut lists: Vec<i64> = ours.iter().map(|w| w.list_id).collect();
    lists.sort_unstable();
    assert_eq!(lists, vec![2, 9, 10, 11, 12]);
    let callback = ours[0].callback_url.clone();
    let log = app
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
    let events_before = app.store.count_events().await.unwrap();
    let lead = lofty
        .create_lead(&lofty::models::CreateLead {
            first_name: "Webhook".to_owned(),
            emails: Some(vec!["webhook.lead@example.com".to_owned()]),
            ..Default::default()
        })
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.store.count_events().await.unwrap() == events_before {
        assert!(
            std::time::Instant::now() < deadline,
            "no Lofty delivery arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.drain().await;
    let log = app
        .store
        .run_log(&format!("lofty:lead:{lead}"))
        .await
        .unwrap();
    assert!(!log.is_empty(), "the change was processed");
    assert_eq!(log[0].kind, "lofty.change");
    assert_eq!(log[0].outcome, "skipped");
    assert!(log[0].detail.contains(&id), "{}", log[0].detail);

    // The same delivery again is stored once; the same change in a new delivery
    // makes no second job.
    let changes_sql = "SELECT COUNT(*) FROM jobs WHERE kind = 'lofty.change'";
    let changes_before = app.store.scalar_i64(changes_sql).await.unwrap();
    let body = json!({"listId": 2, "teamId": info.team_id,
        "updatedLead": [{"leadId": lead, "updateTime": 1_700_000_000_000_i64}]});
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
    let stats = app.drain().await;
    // Each delivery is one lofty.delivery job, which makes the change jobs.
    assert_eq!(stats.done, 4, "{stats:?}");
    assert_eq!(
        app.store.scalar_i64(changes_sql).await.unwrap() - changes_before,
        2,
        "one job per distinct change"
    );

    // A wrong key or an unreadable body is refused, and nothing is stored.
    let events = app.store.count_events().await.unwrap();
    let wrong = post(
        format!("{}/webhooks/lofty/not-a-key", app.address),
        body.clone(),
    )
    .await;
    assert_eq!(wrong.status(), 404);
    let bad = post(callback.clone(), json!(["not", "a", "batch"])).await;
    assert_eq!(bad.status(), 400);
    assert_eq!(app.store.count_events().await.unwrap(), events);

    // Reconnecting subscribes again without duplicating subscriptions.
    app.connect_lofty_key().await;
    app.drain().await;
    let after = lofty.list_webhooks().await.unwrap();
    assert_eq!(after.len(), subs.len(), "no duplicate subscriptions");

    // A new public_url: the next subscribe moves every subscription there.
    let moved = app.worker_with("w-lofty-moved", |c| {
        c.public_url = Some("http://127.0.0.1:9/".to_owned());
    });
    app.connect_lofty_key().await;
    moved.drain().await.unwrap();
    let now: Vec<_> = lofty.list_webhooks().await.unwrap();
    assert_eq!(now.len(), subs.len(), "the old ones were removed");
    let key_path = &callback[callback.rfind("/webhooks/lofty/").unwrap()..];
    assert_eq!(
        now.iter()
            .filter(|w| w.callback_url == format!("http://127.0.0.1:9{key_path}"))
            .count(),
        lists.len()
    );
    app.shutdown().await;
}
