//! The emulators' lookups by identifier (GHL's duplicate check and search, Lofty's
//! lead search by email and phone) read an index, and a `searchAfter` walk reads a
//! cached order: both must follow every change, as reading every record did.

use sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

struct Ghl {
    http: reqwest::Client,
    base: String,
    token: String,
    location: String,
}

impl Ghl {
    fn new(sb: &Sandbox) -> Self {
        let loc = &sb.info().ghl.locations[0];
        Self {
            http: sandbox::ghl::http_client(),
            base: sb.ghl_base_url(),
            token: loc.token.clone(),
            location: loc.id.clone(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("Version", "2021-07-28");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn create(&self, email: &str, phone: &str) -> (u16, Value) {
        let body =
            json!({"locationId": self.location, "email": email, "phone": phone, "firstName": "Lu"});
        self.send(reqwest::Method::POST, "/contacts/", Some(body))
            .await
    }

    /// The duplicate search's contact id for `email`, if any.
    async fn duplicate_of(&self, email: &str) -> Option<String> {
        let path = format!(
            "/contacts/search/duplicate?locationId={}&email={}",
            self.location,
            email.replace('@', "%40")
        );
        let (status, body) = self.send(reqwest::Method::GET, &path, None).await;
        assert_eq!(status, 200, "{body}");
        body["contact"]["id"].as_str().map(str::to_owned)
    }

    async fn search(&self, body: Value) -> Value {
        let mut body = body;
        body["locationId"] = json!(self.location);
        let (status, page) = self
            .send(reqwest::Method::POST, "/contacts/search", Some(body))
            .await;
        assert_eq!(status, 200, "{page}");
        page
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn ghl_duplicate_checks_follow_changes_and_deletes() {
    let sb = Sandbox::start(SandboxConfig {
        contacts_per_location: 5,
        locations: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let ghl = Ghl::new(&sb);

    let (status, a) = ghl.create("Ann@Example.com", "+15550001111").await;
    assert_eq!(status, 201, "{a}");
    let a = a["contact"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        ghl.duplicate_of("ann@example.com").await.as_deref(),
        Some(a.as_str())
    );
    let (status, dup) = ghl.create("ann@example.com", "").await;
    assert_eq!(status, 400, "{dup}");
    assert_eq!(dup["meta"]["contactId"], a.as_str());
    let (status, dup) = ghl.create("other@example.com", "+15550001111").await;
    assert_eq!(status, 400, "the phone is taken too: {dup}");
    assert_eq!(dup["meta"]["matchingField"], "phone");

    // A changed email frees the old one and takes the new one.
    let (status, _) = ghl
        .send(
            reqwest::Method::PUT,
            &format!("/contacts/{a}"),
            Some(json!({"email": "ann.new@example.com"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(ghl.duplicate_of("ann@example.com").await, None);
    assert_eq!(
        ghl.duplicate_of("ann.new@example.com").await.as_deref(),
        Some(a.as_str())
    );
    let (status, b) = ghl.create("ann@example.com", "").await;
    assert_eq!(status, 201, "the old email is free: {b}");
    let b = b["contact"]["id"].as_str().unwrap().to_owned();

    // Upsert finds the contact by its new email.
    let (status, up) = ghl
        .send(
            reqwest::Method::POST,
            "/contacts/upsert",
            Some(json!({"locationId": ghl.location, "email": "ANN.NEW@example.com", "lastName": "Up"})),
        )
        .await;
    assert_eq!(status, 200, "{up}");
    assert_eq!(up["new"], false);
    assert_eq!(up["contact"]["id"], a.as_str());

    // A deleted contact is no duplicate.
    let (status, _) = ghl
        .send(reqwest::Method::DELETE, &format!("/contacts/{b}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(ghl.duplicate_of("ann@example.com").await, None);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_search_walk_sees_changes_made_between_its_pages() {
    let sb = Sandbox::start(SandboxConfig {
        contacts_per_location: 30,
        locations: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let ghl = Ghl::new(&sb);
    let query = json!({"pageLimit": 10, "sort": [{"field": "dateAdded", "direction": "asc"}]});
    let first = ghl.search(query.clone()).await;
    assert_eq!(first["total"], 30);
    let page1 = ids(&first);
    let cursor = first["contacts"][9]["searchAfter"].clone();

    // Unchanged: the walk goes on where it stopped.
    let mut next = query.clone();
    next["searchAfter"] = cursor.clone();
    let page2 = ids(&ghl.search(next.clone()).await);
    assert_eq!(page2.len(), 10);
    assert!(page2.iter().all(|id| !page1.contains(id)));

    // A contact of the third page deleted, one added (last by dateAdded): the
    // same cursor answers from the world as it is now.
    let third = ids(&ghl
        .search({
            let mut q = query.clone();
            q["searchAfter"] = ghl.search(next.clone()).await["contacts"][9]["searchAfter"].clone();
            q
        })
        .await);
    let (status, _) = ghl
        .send(
            reqwest::Method::DELETE,
            &format!("/contacts/{}", third[0]),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, added) = ghl.create("walk.new@example.com", "").await;
    assert_eq!(status, 201);
    let added = added["contact"]["id"].as_str().unwrap().to_owned();
    let mut rest = Vec::new();
    let mut q = next.clone();
    loop {
        let page = ghl.search(q.clone()).await;
        assert_eq!(page["total"], 30, "one gone, one new");
        let got = ids(&page);
        if got.is_empty() {
            break;
        }
        q["searchAfter"] = page["contacts"][got.len() - 1]["searchAfter"].clone();
        rest.extend(got);
    }
    assert_eq!(rest.len(), 20, "{rest:?}");
    assert!(!rest.contains(&third[0]), "the deleted contact is gone");
    assert_eq!(rest.last(), Some(&added), "the new contact comes last");

    // A filter's answer follows a change to a field it reads.
    let tagged = json!({"pageLimit": 100, "filters": [{"field": "tags", "operator": "contains", "value": "vip"}]});
    let before = ghl.search(tagged.clone()).await["total"].as_u64().unwrap();
    let (status, _) = ghl
        .send(
            reqwest::Method::POST,
            &format!("/contacts/{added}/tags"),
            Some(json!({"tags": ["vip"]})),
        )
        .await;
    assert_eq!(status, 201);
    let after = ghl.search(tagged).await;
    assert_eq!(after["total"].as_u64().unwrap(), before + 1);
    assert!(ids(&after).contains(&added));
    sb.shutdown().await;
}

#[tokio::test]
async fn lofty_lead_searches_follow_changes() {
    let sb = Sandbox::start(SandboxConfig {
        contacts_per_location: 5,
        ..Default::default()
    })
    .await
    .unwrap();
    let info = sb.info().lofty.clone();
    let http = sandbox::ghl::http_client();
    let call = async |method: reqwest::Method, path: &str, body: Option<Value>| -> Value {
        let mut req = http
            .request(method, format!("{}{path}", info.base_url))
            .header("Authorization", format!("token {}", info.api_key));
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap().json().await.unwrap()
    };
    http.post(format!("{}/_sandbox/config", info.base_url))
        .json(&json!({"consistency_delay_ms": 0}))
        .send()
        .await
        .unwrap();
    let found = async |query: &str| -> Vec<i64> {
        call(reqwest::Method::GET, &format!("/v1.0/leads?{query}"), None).await["leads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["leadId"].as_i64().unwrap())
            .collect()
    };
    let created = call(
        reqwest::Method::POST,
        "/v1.0/leads",
        Some(json!({"firstName": "Lee", "emails": ["Lee@Example.com"], "phones": ["(303) 555-0142"]})),
    )
    .await;
    let lead = created["leadId"].as_i64().expect("a lead id");
    assert_eq!(found("email=lee%40example.com").await, vec![lead]);
    assert_eq!(found("phone=%2B13035550142").await, vec![lead]);

    call(
        reqwest::Method::PUT,
        &format!("/v1.0/leads/{lead}"),
        Some(json!({"emails": ["lee.new@example.com"], "phones": ["303-555-0199"]})),
    )
    .await;
    assert!(
        found("email=lee%40example.com").await.is_empty(),
        "the old email"
    );
    assert!(found("phone=3035550142").await.is_empty(), "the old phone");
    assert_eq!(found("email=LEE.NEW%40example.com").await, vec![lead]);
    assert_eq!(found("phone=3035550199").await, vec![lead]);
    sb.shutdown().await;
}
