//! Black-box tests of the `ghlsync` binary: `sandbox` prints one JSON line and
//! answers like GHL; `call` runs operations against it and reports errors;
//! connections.

mod common;

use std::process::Command;

use common::{BIN, call, run_in, start_sandbox};
use serde_json::Value;

#[test]
fn sandbox_prints_one_json_line_with_everything_a_client_needs() {
    let sbx = start_sandbox(&[]);
    let ghl = &sbx.info["ghl"];
    for key in [
        "base_url",
        "company_id",
        "client_id",
        "client_secret",
        "webhook_public_key",
    ] {
        assert!(
            ghl[key].as_str().is_some_and(|s| !s.is_empty()),
            "missing {key}: {ghl}"
        );
    }
    assert!(
        ghl["webhook_public_key"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    let locations = ghl["locations"].as_array().expect("locations");
    assert_eq!(locations.len(), 2);
    for loc in locations {
        assert!(loc["token"].as_str().unwrap().starts_with("pit-"));
        for list in [
            "user_ids",
            "calendar_ids",
            "campaign_ids",
            "workflow_ids",
            "business_ids",
        ] {
            assert!(!loc[list].as_array().unwrap().is_empty(), "{list} empty");
        }
    }
    // client_id looks like GHL's: <24 hex appId>-<suffix>
    let client_id = ghl["client_id"].as_str().unwrap();
    let (app, _) = client_id.split_once('-').expect("appId-suffix");
    assert_eq!(app.len(), 24);
    assert!(app.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn call_runs_operations_against_the_sandbox_and_reports_server_errors() {
    let sbx = start_sandbox(&[]);
    let base = sbx.info["ghl"]["base_url"].as_str().unwrap().to_owned();
    let loc = &sbx.info["ghl"]["locations"][0];
    let (location, token) = (loc["id"].as_str().unwrap(), loc["token"].as_str().unwrap());

    // Query parameters come from the input object.
    let input = format!(r#"{{"locationId":"{location}","limit":2}}"#);
    let (code, out, err) = call(&base, Some(token), "get-contacts", &input);
    assert_eq!(code, 0, "stderr: {err}");
    let listed: Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(listed["contacts"].as_array().unwrap().len(), 2);
    assert_eq!(listed["count"], 3);

    // Body keys go to the body; path keys to the path.
    let input =
        format!(r#"{{"locationId":"{location}","firstName":"Cli","email":"cli@example.com"}}"#);
    let (code, out, err) = call(&base, Some(token), "create-contact", &input);
    assert_eq!(code, 0, "stderr: {err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let id = created["contact"]["id"]
        .as_str()
        .expect("new contact id")
        .to_owned();
    let (code, out, _) = call(
        &base,
        Some(token),
        "get-contact",
        &format!(r#"{{"contactId":"{id}"}}"#),
    );
    assert_eq!(code, 0);
    let fetched: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(fetched["contact"]["email"], "cli@example.com");
    assert_eq!(fetched["contact"]["firstName"], "Cli");

    // A server error: non-zero exit and the server's message on stderr.
    let (code, out, err) = call(&base, Some(token), "create-contact", &input);
    assert_eq!(code, 2, "a 400 exits with 2");
    assert!(out.is_empty());
    assert!(
        err.contains("This location does not allow duplicated contacts."),
        "{err}"
    );
    // An unknown field is refused by the action's schema, before any request.
    let input = format!(r#"{{"locationId":"{location}","nickname":"x"}}"#);
    let (code, _, err) = call(&base, Some(token), "create-contact", &input);
    assert_eq!(code, 2);
    assert!(
        err.contains("nickname") && err.contains("nothing was sent"),
        "{err}"
    );

    // A bad token: exit 3, GHL's message.
    let (code, _, err) = call(
        &base,
        Some("pit-00000000-0000-0000-0000-000000000000"),
        "get-contact",
        r#"{"contactId":"x"}"#,
    );
    assert_eq!(code, 3);
    assert!(err.contains("Invalid JWT"), "{err}");

    // Local mistakes are named before any request.
    let (code, _, err) = call(&base, None, "get-contact", r#"{"contactId":"x"}"#);
    assert_ne!(code, 0);
    assert!(err.contains("needs a bearer token"), "{err}");
    let (code, _, err) = call(&base, Some(token), "get-contac", "{}");
    assert_eq!(code, 4, "an unknown action is not found");
    assert!(
        err.contains("did you mean") && err.contains("ghl.contacts.get"),
        "{err}"
    );
    let (code, _, err) = call(&base, Some(token), "get-contact", "not json");
    assert_ne!(code, 0);
    assert!(err.contains("--input is not valid JSON"), "{err}");
}

#[test]
fn catalog_json_lists_every_entry_and_operations_is_its_actions() {
    let out = Command::new(BIN)
        .args(["catalog", "--json"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let all: Vec<Value> = serde_json::from_slice(&out.stdout).expect("a JSON array");
    assert!(all.len() >= 126, "{} entries", all.len());
    for key in [
        "id",
        "system",
        "kind",
        "title",
        "description",
        "input_schema",
        "output_schema",
        "scopes",
        "example",
    ] {
        assert!(
            all.iter().all(|e| e.get(key).is_some()),
            "every entry has {key}"
        );
    }
    let contacts_ops = all
        .iter()
        .filter(|e| e["system"] == "ghl")
        .filter(|e| {
            e["operation"]["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/contacts"))
        })
        .count();
    assert_eq!(contacts_ops, 32);
    let appt = all
        .iter()
        .find(|e| e["id"] == "ghl.appointments.create")
        .unwrap();
    assert_eq!(appt["operation"]["operation_id"], "create-appointment");
    assert_eq!(appt["aliases"][0], "create-appointment");
    assert!(
        all.iter()
            .any(|e| e["id"] == "ghl.trigger.contact_create" && e["trigger"]["via"] == "webhook")
    );

    let out = Command::new(BIN)
        .args(["operations", "--json"])
        .output()
        .expect("runs");
    let actions: Vec<Value> = serde_json::from_slice(&out.stdout).expect("a JSON array");
    assert!(actions.iter().all(|e| e["kind"] == "action"));
    assert_eq!(
        actions.len(),
        all.iter().filter(|e| e["kind"] == "action").count()
    );
}

#[test]
fn connect_pit_then_connections_shows_status_and_scopes_but_never_the_token() {
    let sbx = start_sandbox(&[]);
    let base = sbx.info["ghl"]["base_url"].as_str().unwrap().to_owned();
    let loc = &sbx.info["ghl"]["locations"][0];
    let (location, token) = (loc["id"].as_str().unwrap(), loc["token"].as_str().unwrap());
    let dir = std::env::temp_dir().join(format!("ghlsync-cli-pit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |args: &[&str], stdin: &str| {
        run_in(&dir, args, stdin, |c| {
            c.env("GHLSYNC_GHL_BASE_URL", &base)
                .env("GHLSYNC_LOG", "debug");
        })
    };
    let (code, out, err) = run(
        &["connect", "ghl", "--pit", "--location-id", location],
        &format!("{token}\n"),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("connected ghl:{location}")), "{out}");
    let (code, out, err) = run(&["connections", "--check"], "");
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("ghl:{location}")) && out.contains("pit") && out.contains("active"),
        "{out}"
    );
    assert!(out.contains("contacts.readonly contacts.write"), "{out}");
    assert!(out.contains(": ok"), "health check passed: {out}");
    // `call` runs through the stored connection, by id or by name.
    let name = format!("GHL location {location}");
    assert!(out.contains(&name), "connections are named: {out}");
    let input = format!(r#"{{"locationId":"{location}","limit":1}}"#);
    let mut called = Vec::new();
    for which in [format!("ghl:{location}"), name] {
        let (code, answer, err) = run(
            &[
                "call",
                "get-contacts",
                "--connection",
                &which,
                "--input",
                &input,
            ],
            "",
        );
        assert_eq!(code, 0, "{which}: {err}");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(
            answer["contacts"].as_array().map(Vec::len),
            Some(1),
            "{answer}"
        );
        called.push(err);
    }
    let (code, _, unknown) = run(
        &[
            "call",
            "get-contacts",
            "--connection",
            "no such connection",
            "--input",
            &input,
        ],
        "",
    );
    assert_eq!(code, 4, "an unknown connection is not found");
    assert!(
        unknown.contains("connection `no such connection` does not exist"),
        "{unknown}"
    );
    let (_, json_out, json_err) = run(&["connections", "--json"], "");
    for text in [&out, &err, &json_out, &json_err, &called[0], &called[1]] {
        assert!(!text.contains(token), "the token leaked: {text}");
    }
    // A wrong token is stored but flagged, with GHL's reason, and still not shown.
    let (code, _, err) = run(
        &["connect", "ghl", "--pit", "--location-id", location],
        "pit-00000000-0000-0000-0000-000000000000\n",
    );
    assert_eq!(code, 3);
    assert!(err.contains("Invalid JWT"), "{err}");
    assert!(!err.contains("pit-00000000"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn call_reaches_lofty_and_lytho_operations() {
    let sbx = start_sandbox(&[]);
    let lofty = &sbx.info["lofty"];
    let (base, key) = (
        lofty["base_url"].as_str().unwrap(),
        lofty["api_key"].as_str().unwrap(),
    );
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .arg("--compact")
            .output()
            .expect("runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&[
        "call",
        "lofty-list-leads",
        "--base-url",
        base,
        "--token",
        key,
        "--input",
        r#"{"limit":2}"#,
    ]);
    assert_eq!(code, 0, "{err}");
    let leads: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(leads.to_string().contains("@example.com"), "{out}");
    // Lofty refuses a key sent as Bearer, and says so.
    let (code, _, err) = run(&[
        "call",
        "lofty-list-leads",
        "--base-url",
        base,
        "--token",
        key,
        "--bearer",
    ]);
    assert_eq!(code, 3, "{err}");

    let lytho = &sbx.info["lytho"];
    let s = |k: &str| lytho[k].as_str().unwrap().to_owned();
    let creds = [
        "--base-url".to_owned(),
        s("base_url"),
        "--token-url".to_owned(),
        s("token_url"),
        "--client-id".to_owned(),
        s("client_id"),
        "--client-secret".to_owned(),
        s("client_secret"),
    ];
    let mut args: Vec<&str> = vec!["call", "lytho-search-tasks", "--input", "{}"];
    args.extend(creds.iter().map(String::as_str));
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ids") || out.contains("totalCount"), "{out}");
    let mut args: Vec<&str> = vec!["call", "lytho-search-tasks", "--input", "{}"];
    let mut bad = creds.clone();
    bad[7] = "wrong-secret".to_owned();
    args.extend(bad.iter().map(String::as_str));
    let (code, _, err) = run(&args);
    assert_eq!(code, 3, "a wrong client secret is an auth failure: {err}");
    assert!(!err.contains("wrong-secret"), "{err}");
}

#[test]
fn connect_lofty_and_lytho_with_their_credentials() {
    let sbx = start_sandbox(&[]);
    let lofty = sbx.info["lofty"].clone();
    let lytho = sbx.info["lytho"].clone();
    let dir = std::env::temp_dir().join(format!("ghlsync-cli-lx-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |args: &[&str], stdin: &str| run_in(&dir, args, stdin, |_| {});
    let s = |v: &Value, k: &str| v[k].as_str().unwrap().to_owned();
    let key = s(&lofty, "api_key");
    let (code, out, err) = run(
        &["connect", "lofty", "--base-url", &s(&lofty, "base_url")],
        &format!("{key}\n"),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("connected lofty:"), "{out}");
    let (code, _, err) = run(
        &["connect", "lofty", "--base-url", &s(&lofty, "base_url")],
        "not-a-key\n",
    );
    assert_eq!(code, 3, "{err}");
    let secret = s(&lytho, "client_secret");
    let args = [
        "connect",
        "lytho",
        "--token-url",
        &s(&lytho, "token_url"),
        "--base-url",
        &s(&lytho, "base_url"),
        "--client-id",
        &s(&lytho, "client_id"),
    ];
    let (code, out, err) = run(&args, &format!("{secret}\n"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("connected lytho:"), "{out}");
    let (code, _, err) = run(&args, "wrong\n");
    assert_eq!(code, 3, "{err}");
    // Under `ghlsync up`, the overlay it writes makes the flags unnecessary.
    let (code, _, err) = run(&["connect", "lytho"], &format!("{secret}\n"));
    assert_eq!(
        code, 2,
        "without up, Lytho needs its tenant (bad usage): {err}"
    );
    assert!(err.contains("--tenant"), "{err}");
    let overlay = serde_json::json!({
        "ghl": {},
        "lofty_base_url": s(&lofty, "base_url"),
        "lytho": {
            "base_url": s(&lytho, "base_url"),
            "token_url": s(&lytho, "token_url"),
            "client_id": s(&lytho, "client_id"),
        },
    });
    std::fs::write(dir.join("sandbox.json"), overlay.to_string()).unwrap();
    let (code, out, err) = run(&["connect", "lofty"], &format!("{key}\n"));
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(&["connect", "lytho"], &format!("{secret}\n"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("connected lytho:"), "{out}");
    let (code, out, err) = run(&["connections", "--check"], "");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("lofty api_key") && out.contains("lytho client_credentials ok"),
        "{out}"
    );
    for text in [&out, &err] {
        assert!(
            !text.contains(&key) && !text.contains(&secret),
            "a secret leaked: {text}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `connections rotate`: a new credential is tried before the old one is dropped; a
/// refused one changes nothing; a connection that needed reauth is active again.
#[test]
fn connections_rotate_checks_the_new_credential_before_dropping_the_old() {
    let sbx = start_sandbox(&[]);
    let base = sbx.info["ghl"]["base_url"].as_str().unwrap().to_owned();
    let lofty_base = sbx.info["lofty"]["base_url"].as_str().unwrap().to_owned();
    let lofty_key = sbx.info["lofty"]["api_key"].as_str().unwrap().to_owned();
    let loc = &sbx.info["ghl"]["locations"][0];
    let (location, token) = (loc["id"].as_str().unwrap(), loc["token"].as_str().unwrap());
    let dir = std::env::temp_dir().join(format!("ghlsync-cli-rotate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |args: &[&str], stdin: &str| {
        run_in(&dir, args, stdin, |c| {
            c.env("GHLSYNC_GHL_BASE_URL", &base)
                .env("GHLSYNC_LOFTY_BASE_URL", &lofty_base);
        })
    };
    // A PIT that GHL refuses: stored, but waiting for reauth.
    let (code, _, err) = run(
        &["connect", "ghl", "--pit", "--location-id", location],
        "pit-not-a-real-token\n",
    );
    assert_eq!(code, 3, "{err}");
    let id = format!("ghl:{location}");
    let (_, list, _) = run(&["connections", "--json"], "");
    assert!(list.contains("needs_reauth"), "{list}");
    // Rotating in another wrong token: refused, exit 3, nothing changes.
    let (code, _, err) = run(&["connections", "rotate", &id], "pit-still-wrong\n");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("the old one is kept"), "{err}");
    // The right one: checked, stored, and the connection is active again.
    let (code, out, err) = run(&["connections", "rotate", &id], &format!("{token}\n"));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("rotated the Private Integration Token"),
        "{out}"
    );
    let (code, out, _) = run(&["connections", "--check"], "");
    assert_eq!(code, 0);
    assert!(out.contains("active") && out.contains(": ok"), "{out}");
    // A wrong token now leaves the working one in place.
    let (code, _, _) = run(&["connections", "rotate", &id], "pit-wrong-again\n");
    assert_eq!(code, 3);
    let (_, out, _) = run(&["connections", "--check"], "");
    assert!(out.contains(": ok"), "the old token still works: {out}");

    // Lofty: a key must be the same member's.
    let (code, out, err) = run(&["connect", "lofty"], &format!("{lofty_key}\n"));
    assert_eq!(code, 0, "{out}{err}");
    let lofty_id = out
        .split_whitespace()
        .find(|w| w.starts_with("lofty:"))
        .unwrap()
        .trim_end_matches([',', '.'])
        .to_owned();
    let (code, _, err) = run(&["connections", "rotate", &lofty_id], "wrong-key\n");
    assert_eq!(code, 3, "{err}");
    let (code, out, err) = run(
        &["connections", "rotate", &lofty_id],
        &format!("{lofty_key}\n"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rotated the API key"), "{out}");
    let (code, _, err) = run(&["connections", "rotate", "nobody"], "x\n");
    assert_eq!(code, 4, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
