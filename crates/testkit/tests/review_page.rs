//! The Review page and API carry decisions out: a delete held for review, approved
//! from the page, deletes the partner; another, dismissed through the API, keeps
//! it. Viewers read but cannot settle.

use store::Role;
use testkit::{TestApp, attr, spawn_app};

/// Deletes the contact in GHL and waits for the delete review: its id.
async fn delete_review(app: &TestApp, ghl: &str, contact: &str) -> i64 {
    let g = app
        .connectors()
        .open(ghl)
        .await
        .unwrap()
        .into_ghl()
        .unwrap();
    g.client().delete_contact(contact).await.unwrap();
    let open = async || {
        app.store
            .reviews("open")
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.kind == "delete")
            .map(|r| r.id)
    };
    app.drain_until("the delete review", async || open().await.is_some())
        .await;
    open().await.unwrap()
}

/// Posts the Review page's settle form for review `id`.
async fn settle_form(
    app: &TestApp,
    cookie: &str,
    csrf: &str,
    id: i64,
    decision: &str,
) -> reqwest::Response {
    app.http
        .post(format!("{}/review/settle", app.address))
        .header("cookie", cookie)
        .form(&[
            ("csrf", csrf),
            ("id", &id.to_string()),
            ("decision", decision),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn reviews_are_settled_from_the_page_and_the_api() {
    let app = spawn_app().await;
    let (ghl, lofty_conn, flow) = app.enable_contacts_sync().await;
    let text = domain::sync::recipes::source("lofty-ghl-contacts")
        .unwrap()
        .replace(
            "[deletes]\nleft = \"unlink\"",
            "[deletes]\nleft = \"review\"",
        );
    engine::sync::enable(app.connectors(), &text, &ghl, &lofty_conn)
        .await
        .unwrap();
    let lofty = app.lofty_client();

    let (lead, contact) = app.linked_person(&flow.id, "page.review@example.com").await;
    let id = delete_review(&app, &ghl, &contact).await;

    // A viewer sees it, with no buttons, and cannot settle it.
    app.add_user("vic", Role::Viewer).await;
    let viewer = app.login_as("vic").await;
    let seen = app.page_as("/review", &viewer).await;
    assert!(
        seen.contains(&format!("#{id}")) && seen.contains("delete"),
        "{seen}"
    );
    assert!(
        !seen.contains("value=\"approve\""),
        "no buttons for a viewer"
    );
    let csrf = attr(&seen, "name=\"csrf\" value=\"", "\"");
    let refused = settle_form(&app, &viewer, &csrf, id, "approve").await;
    assert_eq!(refused.status(), 403);
    assert!(lofty.get_lead(lead).await.is_ok(), "nothing was done");

    // An admin approves it from the page: the lead is deleted too.
    let admin = app.login().await;
    let seen = app.page_as("/review", &admin).await;
    assert!(seen.contains("value=\"approve\""), "{seen}");
    let csrf = attr(&seen, "name=\"csrf\" value=\"", "\"");
    let done = settle_form(&app, &admin, &csrf, id, "approve").await;
    assert!(done.status().is_redirection(), "{}", done.status());
    assert_eq!(done.headers()["location"], "/review?settled=1");
    assert_eq!(lofty.get_lead(lead).await.unwrap_err().status(), Some(404));
    // Settling it again says why it cannot.
    let again = settle_form(&app, &admin, &csrf, id, "dismiss").await;
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("settled already"));

    // Through the API: listed for a viewer token, dismissed with an admin token.
    let (lead, contact) = app.linked_person(&flow.id, "api.review@example.com").await;
    let id = delete_review(&app, &ghl, &contact).await;
    app.store
        .create_api_token("ro", Role::Viewer, "ghs_ro")
        .await
        .unwrap();
    app.store
        .create_api_token("rw", Role::Admin, "ghs_rw")
        .await
        .unwrap();
    let listed: serde_json::Value = app
        .http
        .get(format!("{}/api/reviews", app.address))
        .bearer_auth("ghs_ro")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["reviews"][0]["id"], id, "{listed}");
    assert_eq!(listed["reviews"][0]["kind"], "delete");
    let ro = app
        .http
        .post(format!("{}/api/reviews/{id}/dismiss", app.address))
        .bearer_auth("ghs_ro")
        .send()
        .await
        .unwrap();
    assert_eq!(ro.status(), 403);
    let rw: serde_json::Value = app
        .http
        .post(format!("{}/api/reviews/{id}/dismiss", app.address))
        .bearer_auth("ghs_rw")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rw["status"], "dismissed", "{rw}");
    assert!(
        lofty.get_lead(lead).await.is_ok(),
        "dismissed: the lead is kept"
    );
    let unknown = app
        .http
        .post(format!("{}/api/reviews/999999/approve", app.address))
        .bearer_auth("ghs_rw")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    app.shutdown().await;
}
