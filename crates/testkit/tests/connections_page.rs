//! The Connections page and API: Lofty, Lytho and a GHL Private Integration Token
//! connected from the UI (each tested at once), a connection tested, a credential
//! rotated (a wrong one refused, the old kept); no secret is ever shown back.

use store::Role;
use testkit::{TestApp, attr, spawn_app};

async fn post(app: &TestApp, path: &str, cookie: &str, form: &[(&str, &str)]) -> String {
    let resp = app
        .http
        .post(format!("{}{path}", app.address))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_redirection(), "{path}: {}", resp.status());
    let to = resp.headers()["location"].to_str().unwrap().to_owned();
    // The notice is on the page the redirect leads to.
    let page = app.page_as(&to, cookie).await;
    assert!(!page.is_empty());
    page
}

#[tokio::test]
async fn accounts_are_connected_tested_and_rotated_from_the_page() {
    let app = spawn_app().await;
    let info = app.sandbox.info().clone();
    let admin = app.login().await;
    let home = app.page_as("/", &admin).await;
    assert!(home.contains("Nothing connected yet"), "{home}");
    assert!(home.contains("href=\"/connect/ghl\""), "GHL OAuth: {home}");
    let csrf = attr(&home, "name=\"csrf\" value=\"", "\"");

    // Lofty by API key: connected and tested at once.
    let page = post(
        &app,
        "/connections/add",
        &admin,
        &[
            ("csrf", &csrf),
            ("system", "lofty"),
            ("secret", &info.lofty.api_key),
        ],
    )
    .await;
    assert!(page.contains("Connected lofty:"), "{page}");
    // Lytho by client credentials (the sandbox's tenant by default).
    let page = post(
        &app,
        "/connections/add",
        &admin,
        &[
            ("csrf", &csrf),
            ("system", "lytho"),
            ("secret", &info.lytho.client_secret),
        ],
    )
    .await;
    assert!(page.contains("Connected lytho:"), "{page}");
    // GHL by Private Integration Token.
    let loc = app.location(0).clone();
    let page = post(
        &app,
        "/connections/add",
        &admin,
        &[
            ("csrf", &csrf),
            ("system", "ghl-pit"),
            ("location_id", &loc.id),
            ("scopes", "contacts.readonly"),
            ("secret", &loc.token),
        ],
    )
    .await;
    assert!(page.contains("Connected ghl:"), "{page}");
    let list = app.store.connections().await.unwrap();
    assert_eq!(list.len(), 3, "{list:?}");
    // A wrong key is stored as needing reauth, with the API's answer.
    let page = post(
        &app,
        "/connections/add",
        &admin,
        &[
            ("csrf", &csrf),
            ("system", "ghl-pit"),
            ("location_id", &app.location(1).id),
            ("secret", "pit-wrong"),
        ],
    )
    .await;
    assert!(page.contains("the test call failed"), "{page}");

    // The table shows status, scopes and expiry, with Test and Rotate.
    let home = app.page_as("/", &admin).await;
    let pit = list
        .iter()
        .find(|c| c.system.as_str() == "ghl")
        .unwrap()
        .id
        .clone();
    assert!(
        home.contains(&format!("action=\"/connections/{pit}/test\"")),
        "{home}"
    );
    assert!(
        home.contains(&format!("action=\"/connections/{pit}/rotate\"")),
        "{home}"
    );
    assert!(home.contains("contacts.readonly"));
    assert!(home.contains("needs_reauth"), "{home}");
    let tested = post(
        &app,
        &format!("/connections/{pit}/test"),
        &admin,
        &[("csrf", &csrf)],
    )
    .await;
    assert!(tested.contains(&format!("{pit} works")), "{tested}");

    // Rotation: a wrong token is refused and the old one kept; the right one works.
    let refused = post(
        &app,
        &format!("/connections/{pit}/rotate"),
        &admin,
        &[("csrf", &csrf), ("secret", "pit-not-it")],
    )
    .await;
    assert!(refused.contains("class=\"error\""), "{refused}");
    let tested = post(
        &app,
        &format!("/connections/{pit}/test"),
        &admin,
        &[("csrf", &csrf)],
    )
    .await;
    assert!(
        tested.contains("works"),
        "the old token still works: {tested}"
    );
    let rotated = post(
        &app,
        &format!("/connections/{pit}/rotate"),
        &admin,
        &[("csrf", &csrf), ("secret", &loc.token)],
    )
    .await;
    assert!(rotated.contains("the old one is gone"), "{rotated}");

    // No secret is shown back, anywhere.
    let api: String = app
        .http
        .get(format!("{}/api/connections", app.address))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for page in [app.page_as("/", &admin).await, rotated, api] {
        for secret in [&info.lofty.api_key, &info.lytho.client_secret, &loc.token] {
            assert!(!page.contains(secret.as_str()), "a secret in {page}");
        }
    }

    // The API: viewers cannot connect; admins can.
    app.store
        .create_api_token("ro", Role::Viewer, "ghs_conn_ro")
        .await
        .unwrap();
    app.store
        .create_api_token("rw", Role::Admin, "ghs_conn_rw")
        .await
        .unwrap();
    let body = serde_json::json!({"system": "lofty", "secret": info.lofty.api_key});
    let no = app
        .http
        .post(format!("{}/api/connections", app.address))
        .bearer_auth("ghs_conn_ro")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(no.status(), 403);
    let made = app
        .http
        .post(format!("{}/api/connections", app.address))
        .bearer_auth("ghs_conn_rw")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201);
    let made: serde_json::Value = made.json().await.unwrap();
    assert!(made["id"].as_str().unwrap().starts_with("lofty:"), "{made}");
    let t: serde_json::Value = app
        .http
        .post(format!("{}/api/connections/{pit}/test", app.address))
        .bearer_auth("ghs_conn_rw")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(t["ok"], true, "{t}");
}
