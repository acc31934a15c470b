//! The admin side's doors: accounts, sessions, roles, CSRF, origins, throttling,
//! API tokens, the setup link and the headers every page carries.

use std::time::Duration;

use store::Role;
use testkit::{ADMIN_PASSWORD, ADMIN_TOKEN, Spec, TestApp, attr, spawn_app, spawn_app_configured};

/// Routes of the admin side, read with GET.
const ADMIN_GETS: &[&str] = &[
    "/",
    "/connect/ghl",
    "/connect/lofty",
    "/connect/status/abc",
    "/api/connections",
    "/flows",
    "/flows/lofty-ghl-contacts",
    "/runs",
    "/runs?q=ada@example.com",
    "/review",
    "/dead-letters",
    "/dead-letters/1",
    "/health",
    "/api/flows",
    "/api/flows/lofty-ghl-contacts",
    "/api/runs",
    "/api/history?q=ada@example.com",
    "/api/reviews",
    "/api/dead-letters",
    "/api/dead-letters/1",
    "/api/health",
];

/// Every state-changing admin route (pages' forms, then the API).
const ADMIN_POSTS: &[&str] = &[
    "/connections/add",
    "/connections/ghl:x/test",
    "/connections/ghl:x/rotate",
    "/flows/lofty-ghl-contacts",
    "/flows/lofty-ghl-contacts/switch",
    "/review/settle",
    "/dead-letters/replay",
    "/api/connections",
    "/api/connections/ghl:x/test",
    "/api/connections/ghl:x/rotate",
    "/api/flows/lofty-ghl-contacts/enable",
    "/api/flows/lofty-ghl-contacts/disable",
    "/api/flows/lofty-ghl-contacts/preview",
    "/api/flows/lofty-ghl-contacts/backfill",
    "/api/reviews/1/approve",
    "/api/reviews/1/dismiss",
    "/api/dead-letters/replay",
];

async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = app.http.get(format!("{}{path}", app.address));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

/// The CSRF token of a logged-in page.
async fn csrf_of(app: &TestApp, cookie: &str) -> String {
    let page = get(app, "/", Some(cookie)).await.text().await.unwrap();
    attr(&page, "name=\"csrf\" value=\"", "\"")
}

async fn post_logout(
    app: &TestApp,
    cookie: &str,
    csrf: Option<&str>,
    origin: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}/logout", app.address))
        .header("cookie", cookie);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let form: Vec<(&str, &str)> = csrf.map(|c| vec![("csrf", c)]).unwrap_or_default();
    req.form(&form).send().await.unwrap()
}

async fn login_attempt(app: &TestApp, name: &str, password: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/login", app.address))
        .form(&[("name", name), ("password", password)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn without_a_session_or_token_every_admin_route_is_closed() {
    let app = spawn_app().await;
    for path in ADMIN_GETS {
        let resp = get(&app, path, None).await;
        if path.starts_with("/api/") {
            assert_eq!(resp.status(), 401, "{path}");
        } else {
            assert!(resp.status().is_redirection(), "{path}: {}", resp.status());
            let to = resp.headers()["location"].to_str().unwrap();
            assert!(to.starts_with("/login?next="), "{path}: {to}");
        }
        // A made-up cookie opens nothing either.
        let resp = get(&app, path, Some("ghlsync_session=forged")).await;
        assert!(
            resp.status() == 401 || resp.status().is_redirection(),
            "{path}: {}",
            resp.status()
        );
    }
    let resp = app
        .http
        .post(format!("{}/logout", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "a POST without a session");
    app.shutdown().await;
}

#[tokio::test]
async fn sessions_end_at_logout_and_when_idle_and_need_csrf_and_our_origin() {
    let app = spawn_app().await;
    let cookie = app.login().await;
    assert_eq!(get(&app, "/", Some(&cookie)).await.status(), 200);
    let csrf = csrf_of(&app, &cookie).await;
    assert_eq!(csrf.len(), 64, "a CSRF token in the page's forms");

    // Without the token, with a wrong one, or from another origin: 403.
    assert_eq!(post_logout(&app, &cookie, None, None).await.status(), 403);
    assert_eq!(
        post_logout(&app, &cookie, Some("0"), None).await.status(),
        403
    );
    let cross = post_logout(&app, &cookie, Some(&csrf), Some("https://evil.example")).await;
    assert_eq!(cross.status(), 403);
    assert_eq!(
        get(&app, "/", Some(&cookie)).await.status(),
        200,
        "still logged in"
    );

    // Logout ends the session on the server: the old cookie opens nothing.
    let out = post_logout(&app, &cookie, Some(&csrf), Some(&app.address)).await;
    assert!(out.status().is_redirection(), "{}", out.status());
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert!(
        get(&app, "/", Some(&cookie))
            .await
            .status()
            .is_redirection()
    );

    // Idle for longer than admin.session_idle_minutes (60): ended.
    let cookie = app.login().await;
    app.store.advance_clock(Duration::from_secs(59 * 60));
    assert_eq!(
        get(&app, "/", Some(&cookie)).await.status(),
        200,
        "used in time"
    );
    app.store.advance_clock(Duration::from_secs(61 * 60));
    assert!(
        get(&app, "/", Some(&cookie))
            .await
            .status()
            .is_redirection(),
        "idle too long"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn wrong_logins_are_throttled_per_account_and_per_address() {
    let app = spawn_app().await;
    app.add_user("ada", Role::Admin).await;
    app.add_user("bob", Role::Viewer).await;
    for _ in 0..5 {
        assert_eq!(
            login_attempt(&app, "ada", "wrong password!").await.status(),
            401
        );
    }
    // The sixth is refused before the password is checked, even a right one.
    let blocked = login_attempt(&app, "ada", ADMIN_PASSWORD).await;
    assert_eq!(blocked.status(), 429);
    let wait: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= 15 * 60, "{wait}");
    assert!(
        blocked
            .text()
            .await
            .unwrap()
            .contains("Too many wrong logins")
    );
    // Another account still logs in from here (the address has 5 of its 20).
    assert!(
        login_attempt(&app, "bob", ADMIN_PASSWORD)
            .await
            .status()
            .is_redirection()
    );

    // 200 wrong logins at once, for names that may not exist: at most 20 more
    // reach the password check (the address's limit), the rest are 429s.
    let tries = (0..200).map(|i| {
        let app = &app;
        async move {
            login_attempt(app, &format!("u{}", i % 7), "wrong password!")
                .await
                .status()
        }
    });
    let statuses = futures_util::future::join_all(tries).await;
    let checked = statuses.iter().filter(|s| s.as_u16() == 401).count();
    let refused = statuses.iter().filter(|s| s.as_u16() == 429).count();
    assert_eq!(checked + refused, 200, "{statuses:?}");
    assert!(
        checked <= 15,
        "the address had 5 failures already; {checked} more were checked"
    );
    assert!(
        login_attempt(&app, "bob", ADMIN_PASSWORD).await.status() == 429,
        "the address is blocked now"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn api_tokens_carry_a_role_and_wrong_ones_are_throttled() {
    let app = spawn_app().await;
    assert!(
        app.store
            .create_api_token("reader", Role::Viewer, "ghs_reader")
            .await
            .unwrap()
    );
    assert!(
        app.store
            .create_api_token("deployer", Role::Admin, "ghs_deployer")
            .await
            .unwrap()
    );
    let call = |token: &'static str, path: &'static str| {
        let app = &app;
        async move {
            app.http
                .get(format!("{}{path}", app.address))
                .header("accept", "application/json")
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(call("ghs_reader", "/api/connections").await, 200);
    assert_eq!(
        call("ghs_reader", "/connect/ghl").await,
        403,
        "a viewer cannot start a connection"
    );
    assert_eq!(call("ghs_deployer", "/connect/ghl").await, 200);
    assert_eq!(
        call(ADMIN_TOKEN, "/connect/ghl").await,
        200,
        "the operator token"
    );
    let used = app.store.api_tokens().await.unwrap();
    assert!(used.iter().all(|t| t.last_used_at.is_some()), "{used:?}");
    // Revoked: refused.
    assert!(app.store.delete_api_token("deployer").await.unwrap());
    assert_eq!(call("ghs_deployer", "/api/connections").await, 401);
    // Wrong tokens, like wrong passwords: the address is held after 20.
    let mut codes = Vec::new();
    for _ in 0..25 {
        codes.push(call("ghs_guess", "/api/connections").await);
    }
    assert_eq!(codes.iter().filter(|c| **c == 401).count(), 19, "{codes:?}");
    assert!(codes[20..].iter().all(|c| *c == 429), "{codes:?}");
    app.shutdown().await;
}

#[tokio::test]
async fn every_change_needs_a_session_an_admin_and_the_csrf_token() {
    let app = spawn_app().await;
    app.add_user("vic", Role::Viewer).await;
    let viewer = app.login_as("vic").await;
    let vcsrf = csrf_of(&app, &viewer).await;
    let admin = app.login().await;
    let post = |path: &str, cookie: Option<&str>, csrf: Option<&str>| {
        let mut req = app
            .http
            .post(format!("{}{path}", app.address))
            .header("origin", app.address.clone());
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let form: Vec<(&str, String)> = csrf
            .map(|c| vec![("csrf", c.to_owned())])
            .unwrap_or_default();
        req.form(&form).send()
    };
    for path in ADMIN_POSTS {
        let none = post(path, None, None).await.unwrap();
        assert!(
            none.status() == 401 || none.status().is_redirection(),
            "{path} without a session: {}",
            none.status()
        );
        let no_csrf = post(path, Some(&admin), None).await.unwrap();
        assert_eq!(no_csrf.status(), 403, "{path} without the CSRF token");
        let as_viewer = post(path, Some(&viewer), Some(&vcsrf)).await.unwrap();
        assert_eq!(as_viewer.status(), 403, "{path} as a viewer");
    }
    // PUT is a change too.
    let put = app
        .http
        .put(format!("{}/api/flows/lofty-ghl-contacts", app.address))
        .header("cookie", &viewer)
        .header("x-csrf-token", &vcsrf)
        .header("origin", app.address.clone())
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 403);
    app.shutdown().await;
}

#[tokio::test]
async fn a_viewer_reads_but_cannot_change() {
    let app = spawn_app().await;
    app.add_user("vic", Role::Viewer).await;
    let cookie = app.login_as("vic").await;
    let page = get(&app, "/", Some(&cookie)).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("vic (viewer)"));
    let start = get(&app, "/connect/ghl", Some(&cookie)).await;
    assert_eq!(start.status(), 403);
    app.shutdown().await;
}

#[tokio::test]
async fn the_setup_link_creates_the_first_admin_once() {
    let app = spawn_app().await;
    let token = "setup-token-of-this-test";
    app.store
        .put_setup_token(token, app.store.now() + 60_000)
        .await
        .unwrap();
    let wrong = get(&app, "/setup?token=guess", None).await;
    assert_eq!(wrong.status(), 404);
    let page = get(&app, &format!("/setup?token={token}"), None).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Create the first admin")
    );
    let post = |pw2: &'static str, pw: &'static str| {
        let app = &app;
        async move {
            app.http
                .post(format!("{}/setup", app.address))
                .form(&[
                    ("token", token),
                    ("name", "ada"),
                    ("password", pw),
                    ("password2", pw2),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let short = post("short", "short").await;
    assert_eq!(short.status(), 400);
    assert!(short.text().await.unwrap().contains("at least 12"));
    let differ = post("long enough but other", "long enough password").await;
    assert_eq!(differ.status(), 400);
    let made = post("long enough password", "long enough password").await;
    assert!(made.status().is_redirection(), "{}", made.status());
    let cookie = made.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        get(&app, "/", Some(&cookie)).await.status(),
        200,
        "logged in"
    );
    let user = app.store.admin_user("ada").await.unwrap().unwrap();
    assert_eq!(user.role, Role::Admin);
    assert!(user.password_hash.starts_with("$argon2id$"));
    // Used: the link is gone, and a second account cannot be made through it.
    assert_eq!(
        post("long enough password", "long enough password")
            .await
            .status(),
        404
    );
    assert_eq!(
        get(&app, &format!("/setup?token={token}"), None)
            .await
            .status(),
        404
    );
    assert_eq!(app.store.admin_user_count().await.unwrap(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn pages_carry_security_headers_and_logins_go_only_to_our_paths() {
    let app = spawn_app_configured(Spec::default(), |c| {
        c.public_url = Some("https://sync.example.com".to_owned());
    })
    .await
    .unwrap();
    app.add_user("ada", Role::Admin).await;
    for path in ["/login", "/healthz", "/"] {
        let resp = get(&app, path, None).await;
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(h.contains_key("strict-transport-security"), "behind https");
    }
    // Backslash and tab tricks browsers read as another host: back to "/", or refused.
    for (next, to) in [
        ("/\\evil.example/", Some("/")),
        ("//evil.example/", Some("/")),
        ("https://evil.example/", Some("/")),
        ("/\t/evil.example/", None),
        ("/flows?x=1", Some("/flows?x=1")),
    ] {
        let resp = app
            .http
            .post(format!("{}/login", app.address))
            .form(&[
                ("name", "ada"),
                ("password", ADMIN_PASSWORD),
                ("next", next),
            ])
            .send()
            .await
            .unwrap();
        match to {
            Some(to) => {
                assert!(
                    resp.status().is_redirection(),
                    "{next:?}: {}",
                    resp.status()
                );
                assert_eq!(resp.headers()["location"], to, "{next:?}");
                let cookie = resp.headers()["set-cookie"].to_str().unwrap();
                assert!(
                    cookie.contains("; Secure")
                        && cookie.contains("HttpOnly")
                        && cookie.contains("SameSite=Lax"),
                    "{cookie}"
                );
            }
            None => assert_eq!(resp.status(), 400, "{next:?}"),
        }
    }
    app.shutdown().await;
}
