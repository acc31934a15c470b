//! `/api/openapi.json` is an OpenAPI 3 document (parsed by `oas3`, an independent
//! reader) that lists every admin API route the router serves, and nothing it
//! does not.

use std::collections::BTreeSet;

use serde_json::Value;
use store::Role;
use testkit::spawn_app;

/// Every admin API route: what the UI does, as the API does it.
const API: &[(&str, &str)] = &[
    ("get", "/api/connections"),
    ("post", "/api/connections"),
    ("post", "/api/connections/{id}/test"),
    ("post", "/api/connections/{id}/rotate"),
    ("get", "/api/flows"),
    ("get", "/api/flows/{id}"),
    ("put", "/api/flows/{id}"),
    ("post", "/api/flows/{id}/enable"),
    ("post", "/api/flows/{id}/disable"),
    ("post", "/api/flows/{id}/preview"),
    ("post", "/api/flows/{id}/backfill"),
    ("get", "/api/runs"),
    ("get", "/api/history"),
    ("get", "/api/reviews"),
    ("post", "/api/reviews/{id}/approve"),
    ("post", "/api/reviews/{id}/dismiss"),
    ("get", "/api/dead-letters"),
    ("get", "/api/dead-letters/{id}"),
    ("post", "/api/dead-letters/replay"),
    ("get", "/api/health"),
];

const METHODS: &[&str] = &["get", "post", "put", "delete", "patch"];

#[tokio::test]
async fn the_document_is_openapi_3_and_matches_the_router() {
    let app = spawn_app().await;
    let closed = app
        .http
        .get(format!("{}/api/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 401, "behind the same login as the API");
    app.store
        .create_api_token("docs", Role::Admin, "ghs_docs")
        .await
        .unwrap();
    let text = app
        .http
        .get(format!("{}/api/openapi.json", app.address))
        .bearer_auth("ghs_docs")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3."), "{}", spec.openapi);
    assert_eq!(spec.info.title, "ghlsync admin API");
    let doc: Value = serde_json::from_str(&text).unwrap();
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["token"]["scheme"], "bearer", "{schemes}");
    assert_eq!(schemes["session"]["in"], "cookie", "{schemes}");

    // The document's operations are exactly the admin API's routes.
    let mut listed = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            assert!(op["summary"].is_string(), "{method} {path} has a summary");
            assert!(
                op["responses"]["401"].is_object(),
                "{method} {path} names its 401"
            );
            assert!(
                !op["security"].as_array().unwrap().is_empty(),
                "{method} {path} needs a token or session"
            );
            listed.insert((method.clone(), path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = API
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(listed, expected);

    // And the router serves each of them, and no other method on their paths.
    for (path, item) in doc["paths"].as_object().unwrap() {
        let url = format!("{}{}", app.address, path.replace("{id}", "0"));
        for method in METHODS {
            let req = match *method {
                "get" => app.http.get(&url),
                "post" => app.http.post(&url),
                "put" => app.http.put(&url),
                "delete" => app.http.delete(&url),
                _ => app.http.patch(&url),
            };
            let resp = req
                .bearer_auth("ghs_docs")
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap();
            if item.get(*method).is_some() {
                assert_ne!(status, 405, "{method} {path}");
                assert!(
                    status != 404 || body.contains("error"),
                    "{method} {path} is routed (a 404 of ours says why): {body}"
                );
            } else {
                assert_eq!(status, 405, "{method} {path} is not a route: {body}");
            }
        }
    }
}
