//! The Dead letters page and API: list, inspect, replay one or many; viewers read
//! but cannot replay; forms need the CSRF token.

use store::{JobStatus, Role};
use testkit::{TestApp, attr, spawn_app};

/// A job that gave up with `error`: its id.
async fn dead_job(app: &TestApp, n: usize, error: &str) -> i64 {
    let job = store::NewJob::new(
        "lofty.subscribe",
        format!("test:dead:{n}"),
        serde_json::json!({"connection": format!("lofty:{n}"), "requested_at": 0}),
    );
    let id = app.store.enqueue(&job).await.unwrap().id;
    let claimed = app
        .store
        .claim("default", "w-test", 100, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let mine = claimed.iter().find(|j| j.id == id).unwrap();
    app.store
        .fail("w-test", mine, store::Failure::GiveUp, error)
        .await
        .unwrap();
    id
}

async fn status(app: &TestApp, id: i64) -> JobStatus {
    app.store.job(id).await.unwrap().unwrap().status
}

#[tokio::test]
async fn dead_letters_are_listed_inspected_and_replayed() {
    let app = spawn_app().await;
    let a = dead_job(&app, 1, "Lofty 400: <b>bad</b> request").await;
    let b = dead_job(&app, 2, "Lofty 404: no such member").await;
    let c = dead_job(&app, 3, "Lofty 401: key revoked").await;

    // A viewer sees them, escaped, without replay controls, and cannot replay.
    app.add_user("vic", Role::Viewer).await;
    let viewer = app.login_as("vic").await;
    let list = app.page_as("/dead-letters", &viewer).await;
    assert!(
        list.contains("Lofty 400: &lt;b&gt;bad&lt;/b&gt; request"),
        "{list}"
    );
    assert!(list.contains(&format!("/dead-letters/{b}")));
    assert!(!list.contains("Replay selected"), "no replay for a viewer");
    let csrf = attr(&list, "name=\"csrf\" value=\"", "\"");
    let refused = app
        .http
        .post(format!("{}/dead-letters/replay", app.address))
        .header("cookie", &viewer)
        .form(&[("csrf", csrf.as_str()), ("id", &a.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(status(&app, a).await, JobStatus::Dead);

    // An admin inspects one and replays two of three with the form.
    let admin = app.login().await;
    let one = app.page_as(&format!("/dead-letters/{c}"), &admin).await;
    assert!(
        one.contains("key revoked") && one.contains("lofty:3"),
        "{one}"
    );
    let list = app.page_as("/dead-letters", &admin).await;
    assert!(list.contains("Replay selected"));
    let csrf = attr(&list, "name=\"csrf\" value=\"", "\"");
    let no_csrf = app
        .http
        .post(format!("{}/dead-letters/replay", app.address))
        .header("cookie", &admin)
        .form(&[("id", a.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), 403, "a form without the CSRF token");
    let done = app
        .http
        .post(format!("{}/dead-letters/replay", app.address))
        .header("cookie", &admin)
        .form(&[
            ("csrf", csrf.clone()),
            ("id", a.to_string()),
            ("id", b.to_string()),
            ("selected", "1".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert!(done.status().is_redirection(), "{}", done.status());
    assert_eq!(done.headers()["location"], "/dead-letters?replayed=2");
    assert_eq!(status(&app, a).await, JobStatus::Queued);
    assert_eq!(status(&app, b).await, JobStatus::Queued);
    assert_eq!(status(&app, c).await, JobStatus::Dead);

    // The API: a viewer token reads, an admin token replays.
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
        .get(format!("{}/api/dead-letters", app.address))
        .bearer_auth("ghs_ro")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = listed["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![c]);
    let ro = app
        .http
        .post(format!("{}/api/dead-letters/replay", app.address))
        .bearer_auth("ghs_ro")
        .json(&serde_json::json!({"ids": [c]}))
        .send()
        .await
        .unwrap();
    assert_eq!(ro.status(), 403);
    let rw: serde_json::Value = app
        .http
        .post(format!("{}/api/dead-letters/replay", app.address))
        .bearer_auth("ghs_rw")
        .json(&serde_json::json!({"all": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rw["replayed"], 1);
    assert_eq!(status(&app, c).await, JobStatus::Queued);
    let gone = app
        .http
        .get(format!("{}/api/dead-letters/{c}", app.address))
        .bearer_auth("ghs_ro")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404, "no longer a dead letter");
    app.shutdown().await;
}
