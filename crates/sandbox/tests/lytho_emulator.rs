//! The Lytho emulator seen from outside, with plain HTTP (no `lytho` client): the
//! Keycloak token endpoint, bearer checks, query binding and validation, JSON
//! Patch, `/_sandbox/` controls, deterministic seeding and the state file.

use std::time::{Duration, Instant};

use reqwest::{Client, Method, StatusCode};
use sandbox::{LythoInfo, Sandbox, SandboxConfig};
use serde_json::{Value, json};

struct Lytho {
    sandbox: Sandbox,
    info: LythoInfo,
    origin: String,
    http: Client,
}

async fn start_with(config: SandboxConfig) -> Lytho {
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let info = sandbox.info().lytho.clone();
    let origin = info.base_url.trim_end_matches("/v1").to_owned();
    Lytho {
        sandbox,
        info,
        origin,
        http: sandbox::ghl::http_client(),
    }
}

async fn start() -> Lytho {
    start_with(SandboxConfig {
        contacts_per_location: 3,
        locations: 1,
        ..SandboxConfig::default()
    })
    .await
}

async fn answer(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let bytes = resp.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

impl Lytho {
    fn token_request(&self) -> reqwest::RequestBuilder {
        self.http.post(&self.info.token_url)
    }

    async fn token(&self) -> String {
        let resp = self
            .token_request()
            .basic_auth(&self.info.client_id, Some(&self.info.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        let (status, body) = answer(resp).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn api(&self, method: Method, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.info.base_url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(req.send().await.unwrap()).await
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.api(Method::GET, path, Some(token)).await
    }

    async fn patch(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let resp = self
            .http
            .patch(format!("{}{path}", self.info.base_url))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        answer(resp).await
    }

    async fn ctl(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.origin));
        if let Some(b) = body {
            req = req.json(&b);
        }
        answer(req.send().await.unwrap()).await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, out) = self.ctl(Method::POST, path, Some(body)).await;
        assert!(status.is_success(), "{path}: {status} {out}");
        out
    }

    fn ids(&self, kind: &str) -> Vec<i32> {
        let kind = sandbox::lytho::state::Kind::parse(kind).unwrap();
        self.sandbox
            .lytho()
            .with_world(|w| w.items[&kind].keys().copied().collect())
    }
}

#[tokio::test]
async fn info_urls_and_credentials() {
    let l = start().await;
    let i = &l.info;
    assert!(i.base_url.starts_with("http://127.0.0.1:") && i.base_url.ends_with("/v1"));
    assert_eq!(
        i.token_url,
        format!(
            "{}/auth/realms/{}/protocol/openid-connect/token",
            l.origin, i.tenant
        )
    );
    assert!(i.client_id.starts_with("wf-oa-"));
    assert_eq!(i.client_secret.len(), 32);
    assert_ne!(l.origin, l.sandbox.ghl_base_url(), "its own port");
    let (status, ctl) = l.ctl(Method::GET, "/_sandbox/info", None).await;
    assert_eq!(status, 200);
    assert_eq!(ctl["token_url"], i.token_url);
    assert_eq!(ctl["client_secret"], i.client_secret);
    l.sandbox.shutdown().await;
}

#[tokio::test]
async fn token_endpoint_speaks_keycloak() {
    let l = start().await;
    let resp = l
        .token_request()
        .basic_auth(&l.info.client_id, Some(&l.info.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let (status, body) = answer(resp).await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["refresh_expires_in"], 0);
    assert!(body.get("refresh_token").is_none(), "no refresh token");
    assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 3);

    // client_secret_post works too.
    let resp = l
        .token_request()
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", l.info.client_id.as_str()),
            ("client_secret", l.info.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let cases: Vec<(reqwest::RequestBuilder, u16, &str, &str)> = vec![
        (
            l.token_request()
                .basic_auth(&l.info.client_id, Some("wrong"))
                .form(&[("grant_type", "client_credentials")]),
            401,
            "unauthorized_client",
            "Invalid client or Invalid client credentials",
        ),
        (
            l.token_request()
                .basic_auth("wf-oa-nobody", Some(&l.info.client_secret))
                .form(&[("grant_type", "client_credentials")]),
            401,
            "invalid_client",
            "Invalid client or Invalid client credentials",
        ),
        (
            l.token_request()
                .form(&[("grant_type", "client_credentials")]),
            401,
            "invalid_client",
            "Invalid client or Invalid client credentials",
        ),
        (
            l.token_request()
                .basic_auth(&l.info.client_id, Some(&l.info.client_secret))
                .form(&[("scope", "x")]),
            400,
            "invalid_request",
            "Missing form parameter: grant_type",
        ),
        (
            l.token_request()
                .basic_auth(&l.info.client_id, Some(&l.info.client_secret))
                .form(&[("grant_type", "password")]),
            400,
            "unsupported_grant_type",
            "Unsupported grant_type",
        ),
        (
            l.token_request()
                .basic_auth(&l.info.client_id, Some(&l.info.client_secret))
                .json(&json!({"grant_type": "client_credentials"})),
            400,
            "invalid_request",
            "application/x-www-form-urlencoded",
        ),
        (
            l.http
                .post(l.info.token_url.replace(&l.info.tenant, "other"))
                .basic_auth(&l.info.client_id, Some(&l.info.client_secret))
                .form(&[("grant_type", "client_credentials")]),
            404,
            "Realm does not exist",
            "Realm does not exist",
        ),
    ];
    for (req, status, error, description) in cases {
        let (got, body) = answer(req.send().await.unwrap()).await;
        assert_eq!(got.as_u16(), status, "{body}");
        assert_eq!(body["error"], error, "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains(description),
            "{body}"
        );
    }
    let (_, counters) = l.ctl(Method::GET, "/_sandbox/counters", None).await;
    assert_eq!(counters["tokens_issued"], 2);
    assert_eq!(counters["token_rejected"], 7);
    l.sandbox.shutdown().await;
}

#[tokio::test]
async fn bearer_tokens_expire_and_revoke() {
    let l = start().await;
    let id = l.ids("task")[0];
    let path = format!("/task/{id}");
    let (status, body) = l.api(Method::GET, &path, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "Unauthorized");
    let resp = l
        .http
        .get(format!("{}{path}", l.info.base_url))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );

    let a = l.token().await;
    let b = l.token().await;
    assert_ne!(a, b);
    assert_eq!(l.get(&path, &a).await.0, 200);
    l.post("/_sandbox/tokens/revoke", json!({"token": a})).await;
    assert_eq!(l.get(&path, &a).await.0, 401);
    assert_eq!(l.get(&path, &b).await.0, 200, "only that token");
    let out = l.post("/_sandbox/tokens/expire-all", json!({})).await;
    assert_eq!(out["expired"], 2);
    assert_eq!(l.get(&path, &b).await.0, 401);
    let c = l.token().await;
    assert_eq!(l.get(&path, &c).await.0, 200);

    // A token lifetime of 0 gives tokens that are expired at once.
    l.post("/_sandbox/config", json!({"token_ttl_secs": 0}))
        .await;
    let d = l.token().await;
    assert_eq!(l.get(&path, &d).await.0, 401);
    let (_, counters) = l.ctl(Method::GET, "/_sandbox/counters", None).await;
    assert_eq!(counters["unauthorized"], 5);
    l.sandbox.shutdown().await;
}

#[tokio::test]
async fn query_binding_and_validation() {
    let l = start().await;
    let t = l.token().await;
    let ids = l.ids("task");
    let q = |extra: &str| format!("/task?ids={}&ids={}&ids={}{extra}", ids[0], ids[1], ids[2]);
    let (status, body) = l.get(&q("&page=1&pageSize=10"), &t).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 3);
    assert_eq!(body["totalCount"], 3);
    // ASP.NET binding: keys ignore case, enum names are accepted.
    let (status, body) = l.get(&q("&Page=1&PAGESIZE=Twenty"), &t).await;
    assert_eq!(
        (status.as_u16(), body["pageSize"].as_u64()),
        (200, Some(20))
    );
    for (extra, message) in [
        ("&pageSize=10", "The page field is required."),
        ("&page=1", "The pageSize field is required."),
        (
            "&page=1&pageSize=15",
            "The value '15' is not valid for pageSize.",
        ),
        ("&page=1&pageSize=100", "Allowed values: 10, 20, 30."),
        ("&page=-1&pageSize=10", "not valid for page"),
    ] {
        let (status, body) = l.get(&q(extra), &t).await;
        assert_eq!(status, 400, "{extra}");
        assert_eq!(body["code"], "BadRequest");
        assert!(
            body["message"].as_str().unwrap().contains(message),
            "{body}"
        );
    }
    let (status, body) = l.get("/task?page=1&pageSize=10", &t).await;
    assert_eq!(
        (status.as_u16(), body["message"].as_str()),
        (400, Some("The ids field is required."))
    );
    // Descriptions need the same three; comments default them.
    assert_eq!(
        l.get(&format!("/task/descriptions?ids={}", ids[0]), &t)
            .await
            .0,
        400
    );
    assert_eq!(
        l.get(&format!("/task/{}/comments", ids[0]), &t).await.0,
        200
    );
    assert_eq!(
        l.get(&format!("/task/{}/comments?pageSize=25", ids[0]), &t)
            .await
            .0,
        400
    );
    assert_eq!(
        l.get(&format!("/task/{}/comments?format=markdown", ids[0]), &t)
            .await
            .0,
        400
    );
    assert_eq!(l.get("/task/search?isArchived=maybe", &t).await.0, 400);
    // Routes: unknown types are 404, ids must be int32, types are case-insensitive.
    assert_eq!(l.get("/contact/1", &t).await.0, 404);
    assert_eq!(l.get("/task/abc", &t).await.0, 400);
    assert_eq!(l.get(&format!("/Task/{}", ids[0]), &t).await.0, 200);
    let wr = l.ids("workrequest")[0];
    let (status, body) = l.get(&format!("/workrequest/{wr}/description"), &t).await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (404, Some("NotFound"))
    );
    assert_eq!(
        l.get(&format!("/workrequest/{wr}/files/urls"), &t).await.0,
        404
    );
    assert_eq!(
        l.get(&format!("/task/{}/deliverablefiles/urls", ids[0]), &t)
            .await
            .0,
        404
    );
    // No create, no contacts: there is no such route.
    let (status, _) = l.api(Method::POST, "/task", Some(&t)).await;
    assert_eq!(status, 405);
    assert_eq!(l.get("/contacts", &t).await.0, 404);
    l.sandbox.shutdown().await;
}

#[tokio::test]
async fn json_patch_rules() {
    let l = start().await;
    let t = l.token().await;
    let id = l.ids("task")[4];
    let path = format!("/task/{id}");
    let (_, before) = l.get(&path, &t).await;
    let rename = json!([{"op": "replace", "path": "/name", "value": "X"}]);

    // Only application/json-patch+json is taken.
    let (status, body) = l.patch(&path, &t, "application/json", rename.clone()).await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (415, Some("UnsupportedMediaType"))
    );
    let patch_type = "application/json-patch+json; charset=utf-8";
    let (status, _) = l
        .patch(&path, &t, patch_type, json!({"op": "replace"}))
        .await;
    assert_eq!(status, 400, "a patch is an array");
    let (status, body) = l
        .patch(
            &path,
            &t,
            patch_type,
            json!([{"op": "test", "path": "/name", "value": "not it"}, rename[0]]),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (409, Some("Conflict"))
    );
    assert_eq!(
        l.get(&path, &t).await.1,
        before,
        "unchanged after 400/409/415"
    );

    // A patch that changes nothing keeps modifiedDate; a real change moves it.
    let (status, same) = l
        .patch(
            &path,
            &t,
            patch_type,
            json!([{"op": "test", "path": "/id", "value": id}]),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(same["modifiedDate"], before["modifiedDate"]);
    let (status, after) = l.patch(&path, &t, patch_type, rename).await;
    assert_eq!(status, 200);
    assert_eq!(after["name"], "X");
    assert!(after["modifiedDate"].as_str() > before["modifiedDate"].as_str());
    // Dates are accepted with or without an offset and answered in UTC.
    let (status, after) = l
        .patch(
            &path,
            &t,
            patch_type,
            json!([{"op": "replace", "path": "/dueDate", "value": "2027-03-01T10:00:00"}]),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(after["dueDate"], "2027-03-01T10:00:00.000Z");

    // The description (chosen: Lytho does not say) can be tested and replaced on
    // the types that have one; the item's answer does not carry it.
    let (_, d) = l.get(&format!("{path}/description?format=html"), &t).await;
    let old = d["description"].as_str().unwrap().to_owned();
    let new = format!("{old}<p>Added</p>");
    let (status, item) = l
        .patch(
            &path,
            &t,
            patch_type,
            json!([{"op": "test", "path": "/description", "value": old},
                   {"op": "replace", "path": "/description", "value": new}]),
        )
        .await;
    assert_eq!(status, 200);
    assert!(item.get("description").is_none(), "{item}");
    let (_, d) = l.get(&format!("{path}/description?format=html"), &t).await;
    assert_eq!(d["description"], new.as_str());
    let (status, _) = l
        .patch(
            &path,
            &t,
            patch_type,
            json!([{"op": "test", "path": "/description", "value": old},
                   {"op": "replace", "path": "/description", "value": "lost"}]),
        )
        .await;
    assert_eq!(status, 409, "a description changed since it was read");
    let request = l.ids("workrequest")[0];
    let (status, _) = l
        .patch(
            &format!("/workrequest/{request}"),
            &t,
            patch_type,
            json!([{"op": "add", "path": "/description", "value": "x"}]),
        )
        .await;
    assert_eq!(status, 400, "work requests have no description");
    l.sandbox.shutdown().await;
}

#[tokio::test]
async fn controls_touch_seed_comment_faults() {
    let l = start().await;
    let t = l.token().await;
    // touch: 30 changes in one call get 30 distinct, increasing times.
    let out = l
        .post(
            "/_sandbox/touch",
            json!({"type": "task", "count": 30, "fields": {"archived": true}}),
        )
        .await;
    let times: Vec<&str> = out["touched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["modifiedDate"].as_str().unwrap())
        .collect();
    assert_eq!(times.len(), 30);
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    let (_, archived) = l.get("/task/search?isArchived=true", &t).await;
    assert_eq!(archived["totalCount"], 30);
    let (status, _) = l
        .ctl(
            Method::POST,
            "/_sandbox/touch",
            Some(json!({"type": "task", "ids": [1]})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = l
        .ctl(
            Method::POST,
            "/_sandbox/touch",
            Some(json!({"type": "task", "bogus": 1})),
        )
        .await;
    assert!(status.is_client_error());

    // seed: new items with users, comments, files and a description.
    let out = l
        .post("/_sandbox/seed", json!({"type": "proof", "count": 3}))
        .await;
    let new: Vec<i64> = out["added"]["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(new.len(), 3);
    let (status, users) = l.get(&format!("/proof/{}/users", new[0]), &t).await;
    assert_eq!(status, 200);
    assert!(!users.as_array().unwrap().is_empty());
    let out = l.post("/_sandbox/seed", json!({"count": 1})).await;
    assert_eq!(out["added"].as_object().unwrap().len(), 5);

    // comments: stored as HTML, escaped.
    let id = l.ids("campaign")[0];
    l.post(
        "/_sandbox/comments",
        json!({"type": "campaign", "id": id, "text": "a < b & c"}),
    )
    .await;
    let (_, page) = l
        .get(&format!("/campaign/{id}/comments?pageSize=30"), &t)
        .await;
    let last = page["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["comment"], "<p>a &lt; b &amp; c</p>");
    let (_, page) = l
        .get(
            &format!("/campaign/{id}/comments?format=plain&pageSize=30"),
            &t,
        )
        .await;
    assert_eq!(
        page["items"].as_array().unwrap().last().unwrap()["comment"],
        "a < b & c"
    );

    // faults: latency, 500s (token endpoint too), 429 storm; counters and reset.
    l.post("/_sandbox/faults", json!({"latency_ms": 150})).await;
    let started = Instant::now();
    assert_eq!(l.get(&format!("/campaign/{id}"), &t).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    l.post("/_sandbox/faults", json!({"error_rate": 1.0})).await;
    assert_eq!(l.get(&format!("/campaign/{id}"), &t).await.0, 500);
    let resp = l
        .token_request()
        .basic_auth(&l.info.client_id, Some(&l.info.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    let (status, _) = l
        .ctl(
            Method::POST,
            "/_sandbox/faults",
            Some(json!({"error_rate": 2.0})),
        )
        .await;
    assert_eq!(status, 400);
    l.post("/_sandbox/faults", json!({"storm_429": 1})).await;
    let resp = l
        .http
        .get(format!("{}/campaign/{id}", l.info.base_url))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    for h in [
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        assert!(resp.headers().contains_key(h), "{h}");
    }
    let resp = l
        .http
        .get(format!("{}/campaign/{id}", l.info.base_url))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the storm was one request");
    assert_eq!(resp.headers()["x-ratelimit-limit"], "600");
    let (_, c) = l.ctl(Method::GET, "/_sandbox/counters", None).await;
    assert_eq!(c["rate_limited"], 1);
    assert_eq!(c["injected_errors"], 2);
    assert!(c["by_route"]["GET /v1/campaign/{id}"].as_u64().unwrap() >= 4);
    let (status, c) = l.ctl(Method::DELETE, "/_sandbox/counters", None).await;
    assert_eq!((status.as_u16(), c["requests"].as_u64()), (200, Some(0)));
    let (_, users) = l.ctl(Method::GET, "/_sandbox/users", None).await;
    assert_eq!(users["users"].as_array().unwrap().len(), 6);
    l.sandbox.shutdown().await;
}

/// Same seed, same tenant; users 0..3 are GHL's first seeded contacts.
#[tokio::test]
async fn deterministic_seed_shared_people() {
    let a = start().await;
    let b = start().await;
    assert_eq!(a.info.client_id, b.info.client_id);
    assert_eq!(a.info.client_secret, b.info.client_secret);
    assert_eq!(a.info.tenant, b.info.tenant);
    let names = |l: &Lytho| {
        l.sandbox.lytho().with_world(|w| {
            w.items
                .values()
                .flat_map(|m| m.values().map(|i| (i.id, i.name.clone(), i.modified_date)))
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(names(&a), names(&b));
    let c = start_with(SandboxConfig {
        seed: 7,
        ..SandboxConfig::default()
    })
    .await;
    assert_ne!(c.info.client_secret, a.info.client_secret);

    let ghl_emails: Vec<String> = a.sandbox.ghl().with_world(|w| {
        w.locations[0]
            .contacts
            .values()
            .filter_map(|c| c.email_lower())
            .collect()
    });
    let people = a.sandbox.lytho().with_world(|w| {
        w.users
            .values()
            .map(|u| (u.person, u.email.clone()))
            .collect::<Vec<_>>()
    });
    for (person, email) in &people {
        assert_eq!(*email, sandbox::ghl::seed::person(*person).2);
        assert_eq!(ghl_emails.contains(email), *person < 3, "person {person}");
    }
    for l in [a, b, c] {
        l.sandbox.shutdown().await;
    }
}

/// `--state-file`: the Lytho world is kept next to the GHL one.
#[tokio::test]
async fn state_file_keeps_the_tenant() {
    let dir = std::env::temp_dir().join(format!("ghlsync-lytho-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    let _ = std::fs::remove_file(&file);
    let lytho_file = dir.join("state.json.lytho.json");
    let _ = std::fs::remove_file(&lytho_file);
    let config = SandboxConfig {
        state_file: Some(file.clone()),
        contacts_per_location: 1,
        locations: 1,
        ..SandboxConfig::default()
    };
    let first = start_with(config.clone()).await;
    let t = first.token().await;
    let id = first.ids("task")[0];
    let (status, _) = first
        .patch(
            &format!("/task/{id}"),
            &t,
            "application/json-patch+json",
            json!([{"op": "replace", "path": "/name", "value": "Kept"}]),
        )
        .await;
    assert_eq!(status, 200);
    let secret = first.post("/_sandbox/client-secret/reset", json!({})).await["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    first.sandbox.shutdown().await;
    assert!(lytho_file.exists());

    let second = start_with(config).await;
    assert_eq!(second.info.client_secret, secret);
    let t = second.token().await;
    let (status, task) = second.get(&format!("/task/{id}"), &t).await;
    assert_eq!(
        (status.as_u16(), task["name"].as_str()),
        (200, Some("Kept"))
    );
    second.sandbox.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
