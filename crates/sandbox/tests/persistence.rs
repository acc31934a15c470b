//! `--state-file`: what a client wrote survives a restart of the sandbox.

use sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

#[tokio::test]
async fn state_file_keeps_the_world_across_restarts() {
    let dir = std::env::temp_dir().join(format!("ghlsync-sbx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    let _ = std::fs::remove_file(&file);
    let config = SandboxConfig {
        state_file: Some(file.clone()),
        contacts_per_location: 2,
        ..SandboxConfig::default()
    };
    let http = sandbox::ghl::http_client();

    let first = Sandbox::start(config.clone()).await.unwrap();
    let loc = first.info().ghl.locations[0].clone();
    let client_id = first.info().ghl.client_id.clone();
    let created: Value = http
        .post(format!("{}/contacts/", first.ghl_base_url()))
        .bearer_auth(&loc.token)
        .header("Version", "2021-07-28")
        .json(&json!({"locationId": loc.id, "email": "kept@example.com", "firstName": "Kept"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["contact"]["id"]
        .as_str()
        .expect("created")
        .to_owned();
    first.shutdown().await;
    assert!(file.exists(), "the state file is written at shutdown");

    let second = Sandbox::start(config).await.unwrap();
    assert_eq!(
        second.info().ghl.client_id,
        client_id,
        "same app credentials"
    );
    assert_eq!(second.info().ghl.locations[0].token, loc.token, "same PIT");
    let resp = http
        .get(format!("{}/contacts/{id}", second.ghl_base_url()))
        .bearer_auth(&loc.token)
        .header("Version", "2021-07-28")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let fetched: Value = resp.json().await.unwrap();
    assert_eq!(fetched["contact"]["email"], "kept@example.com");
    // The duplicate index is rebuilt from the loaded world.
    let again = http
        .post(format!("{}/contacts/", second.ghl_base_url()))
        .bearer_auth(&loc.token)
        .header("Version", "2021-07-28")
        .json(&json!({"locationId": loc.id, "email": "KEPT@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400, "a duplicate of the saved contact");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["meta"]["contactId"], id.as_str());
    let count = second.ghl().with_world(|w| w.locations[0].contacts.len());
    assert_eq!(count, 3, "2 seeded + 1 created, not re-seeded");
    second.shutdown().await;

    std::fs::write(&file, b"not json").unwrap();
    let err = Sandbox::start(SandboxConfig {
        state_file: Some(file.clone()),
        ..SandboxConfig::default()
    })
    .await
    .expect_err("a corrupt state file is an error, not silently replaced");
    assert!(
        err.to_string().contains("delete it to start fresh"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
