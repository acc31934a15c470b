//! Black-box tests of the `ghlsync` binary: `sandbox` prints one JSON line and
//! answers like GHL; `call` runs operations against it and reports errors.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ghlsync");

/// A `ghlsync sandbox` child process, killed on drop.
struct SandboxProcess {
    child: Child,
    info: Value,
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sandbox(extra: &[&str]) -> SandboxProcess {
    let mut child = Command::new(BIN)
        .args(["sandbox", "--listen", "127.0.0.1:0", "--seed", "3"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ghlsync sandbox starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("one line on stdout");
    let info: Value = serde_json::from_str(&line).expect("the line is JSON");
    SandboxProcess { child, info }
}

/// `ghlsync <args>` on the data directory `dir` (SQLite: no GHLSYNC_DATABASE_URL),
/// further set up by `env`, with `stdin` typed in: (exit code, stdout, stderr).
fn run_in(
    dir: &std::path::Path,
    args: &[&str],
    stdin: &str,
    env: impl FnOnce(&mut Command),
) -> (i32, String, String) {
    use std::io::Write;
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("GHLSYNC_DATA_DIR", dir)
        .env_remove("GHLSYNC_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    env(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn call(base: &str, token: Option<&str>, op: &str, input: &str) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "call",
        op,
        "--base-url",
        base,
        "--input",
        input,
        "--compact",
    ]);
    cmd.env_remove("GHLSYNC_GHL_TOKEN");
    if let Some(t) = token {
        cmd.args(["--token", t]);
    }
    let out = cmd.output().expect("ghlsync call runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

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

#[test]
fn vault_rotate_reseals_secrets_under_a_new_key_file() {
    let sbx = start_sandbox(&[]);
    let base = sbx.info["ghl"]["base_url"].as_str().unwrap().to_owned();
    let loc = &sbx.info["ghl"]["locations"][0];
    let (location, token) = (loc["id"].as_str().unwrap(), loc["token"].as_str().unwrap());
    let dir = std::env::temp_dir().join(format!("ghlsync-cli-rotate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |args: &[&str], stdin: &str| {
        let (code, out, _) = run_in(&dir, args, stdin, |c| {
            c.env("GHLSYNC_GHL_BASE_URL", &base)
                .env_remove("GHLSYNC_MASTER_KEY");
        });
        (code, out)
    };
    assert_eq!(
        run(
            &["connect", "ghl", "--pit", "--location-id", location],
            &format!("{token}\n")
        )
        .0,
        0
    );
    let before = std::fs::read_to_string(dir.join("master.key")).unwrap();
    let (code, out) = run(&["vault", "rotate"], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("re-encrypted 1 secrets"), "{out}");
    let after = std::fs::read_to_string(dir.join("master.key")).unwrap();
    assert_ne!(before, after, "a new master key");
    let kept = std::fs::read_dir(dir.join("keys")).unwrap().count();
    assert!(kept >= 1, "the old key is kept for recovery");
    // The secret still opens: the health check authenticates with it.
    let (code, out) = run(&["connections", "--check"], "");
    assert_eq!(code, 0);
    assert!(out.contains(": ok"), "{out}");
    // Without the key files, the store cannot open the secret: the error names the fix.
    std::fs::remove_dir_all(dir.join("keys")).unwrap();
    std::fs::write(dir.join("master.key"), &before).unwrap();
    let (_, out) = run(&["connections", "--check"], "");
    assert!(
        out.contains("not loaded") || out.contains("FAILED"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Requests the GHL sandbox has served for `location`, all routes.
fn ghl_requests(base: &str, location: &str) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let seen: Value = rt.block_on(async {
        wire::http::http_client(std::time::Duration::from_secs(10))
            .get(format!("{base}/_sandbox/counters"))
            .send()
            .await
            .expect("counters")
            .json()
            .await
            .expect("JSON")
    });
    seen.pointer(&format!("/locations/{location}/by_route"))
        .and_then(Value::as_object)
        .map_or(0, |routes| routes.values().filter_map(Value::as_u64).sum())
}

#[test]
fn call_refuses_bad_input_and_missing_scopes_without_sending_anything() {
    let sbx = start_sandbox(&[]);
    let base = sbx.info["ghl"]["base_url"].as_str().unwrap().to_owned();
    let loc = &sbx.info["ghl"]["locations"][0];
    let (location, token) = (loc["id"].as_str().unwrap(), loc["token"].as_str().unwrap());
    let dir = std::env::temp_dir().join(format!("ghlsync-cli-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let run = |args: &[&str]| {
        run_in(&dir, args, &format!("{token}\n"), |c| {
            c.env("GHLSYNC_GHL_BASE_URL", &base);
        })
    };
    let (code, out, err) = run(&["connect", "ghl", "--pit", "--location-id", location]);
    assert_eq!(code, 0, "{out}{err}");
    let conn = format!("ghl:{location}");
    let before = ghl_requests(&base, location);
    let cases: [(&str, String, i32, &[&str]); 6] = [
        (
            "ghl.contacts.update",
            r#"{"contactId": 42, "firstName": "Ana"}"#.to_owned(),
            2,
            &["/contactId", "string"],
        ),
        (
            "ghl.tasks.create",
            r#"{"contactId": "c1", "title": "Call"}"#.to_owned(),
            2,
            &["dueDate", "required"],
        ),
        (
            "ghl.contacts.create",
            format!(r#"{{"locationId": "{location}", "nickname": "x"}}"#),
            2,
            &["nickname"],
        ),
        (
            "ghl.appointments.create",
            format!(
                r#"{{"calendarId": "c", "locationId": "{location}", "contactId": "c1", "startTime": "2027-01-15T10:00:00Z"}}"#
            ),
            3,
            &["calendars/events.write", "ghlsync connect ghl --pit"],
        ),
        (
            "lofty.leads.list",
            "{}".to_owned(),
            2,
            &["a ghl connection", "needs a lofty connection"],
        ),
        (
            "ghl.trigger.contact_create",
            "{}".to_owned(),
            2,
            &["is a trigger"],
        ),
    ];
    for (action, input, want, words) in cases {
        let (code, out, err) = run(&["call", action, "--connection", &conn, "--input", &input]);
        assert_eq!(code, want, "{action}: {err}");
        assert!(out.is_empty(), "{action}: {out}");
        for w in words {
            assert!(err.contains(w), "{action}: `{w}` not in {err}");
        }
    }
    let (code, _, err) = run(&[
        "call",
        "ghl.contacts.get",
        "--connection",
        "nobody",
        "--input",
        r#"{"contactId":"c1"}"#,
    ]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("`nobody` does not exist"), "{err}");

    // --dry-run shows the request, token redacted, and sends nothing either.
    let input = format!(r#"{{"locationId": "{location}", "email": "dry@example.com"}}"#);
    let (code, out, err) = run(&[
        "call",
        "ghl.contacts.upsert",
        "--connection",
        &conn,
        "--input",
        &input,
        "--dry-run",
    ]);
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(shown["method"], "POST");
    assert!(
        shown["url"].as_str().unwrap().ends_with("/contacts/upsert"),
        "{shown}"
    );
    assert_eq!(shown["headers"]["Authorization"], "Bearer [redacted]");
    assert_eq!(shown["headers"]["Version"], "2021-07-28");
    assert_eq!(shown["body"]["email"], "dry@example.com");
    assert!(!out.contains(token) && !err.contains(token));

    assert_eq!(
        ghl_requests(&base, location),
        before,
        "no case above may reach the API"
    );
    // The same call without --dry-run does reach it.
    let (code, out, err) = run(&[
        "call",
        "ghl.contacts.upsert",
        "--connection",
        &conn,
        "--input",
        &input,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("dry@example.com"), "{out}");
    assert!(ghl_requests(&base, location) > before);
}

/// Makes a dead letter in the SQLite store of data directory `dir`, as a worker
/// would after a job gave up. Returns its id.
fn dead_job(dir: &std::path::Path, kind: &str) -> i64 {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut config = ghlsync::config::Config::default();
        config.data_dir = Some(dir.to_owned());
        let store = config.open_store().await.unwrap();
        let key = format!("test:{kind}:{}", store.now());
        let job = store::NewJob::new(
            kind,
            key,
            serde_json::json!({"flow": "f", "side": "left", "record": "r"}),
        );
        let id = store.enqueue(&job).await.unwrap().id;
        let claimed = store
            .claim("default", "w", 10, std::time::Duration::from_secs(30))
            .await
            .unwrap();
        let mine = claimed.iter().find(|j| j.id == id).unwrap();
        store
            .fail(
                "w",
                mine,
                store::Failure::GiveUp,
                "GHL 400: the test says no",
            )
            .await
            .unwrap();
        store.close().await;
        id
    })
}

#[test]
fn dead_letters_lists_what_gave_up_and_replay_puts_it_back() {
    let dir = std::env::temp_dir().join(format!("ghlsync_cli_dead_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (code, out, _) = run_in(&dir, &["dead-letters"], "", |_| {});
    assert_eq!((code, out.trim()), (0, "no dead letters"));
    let first = dead_job(&dir, "flow.run");
    let second = dead_job(&dir, "lofty.change");
    let (code, out, _) = run_in(&dir, &["dead-letters", "--json"], "", |_| {});
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [second, first], "newest first");
    assert_eq!(list[0]["last_error"], "GHL 400: the test says no");
    let (code, out, err) = run_in(&dir, &["dead-letters"], "", |_| {});
    assert!(
        code == 0 && out.contains("flow.run") && out.contains("the test says no"),
        "{out}"
    );
    assert!(
        err.contains("ghlsync replay"),
        "a hint says what to do: {err}"
    );
    let (_, _, quiet) = run_in(&dir, &["-q", "dead-letters"], "", |_| {});
    assert!(
        !quiet.contains("ghlsync replay"),
        "-q keeps hints out: {quiet}"
    );

    let (code, _, err) = run_in(&dir, &["replay", "99999"], "", |_| {});
    assert_eq!(code, 4, "an unknown job is not found: {err}");
    let (code, _, err) = run_in(&dir, &["replay", "--kind", "nope"], "", |_| {});
    assert!(code == 2 && err.contains("not a job kind"), "{err}");
    let (code, _, err) = run_in(&dir, &["replay"], "", |_| {});
    assert_eq!(code, 2, "nothing named is bad usage: {err}");
    let (code, out, _) = run_in(&dir, &["replay", &first.to_string()], "", |_| {});
    assert_eq!((code, out.trim()), (0, "replayed 1 job"));
    let (code, _, err) = run_in(&dir, &["replay", &first.to_string()], "", |_| {});
    assert!(
        code == 2 && err.contains("is not a dead letter (it is queued)"),
        "{err}"
    );
    let (code, out, _) = run_in(&dir, &["replay", "--dead"], "", |_| {});
    assert_eq!((code, out.trim()), (0, "replayed 1 job"));
    let (_, out, _) = run_in(&dir, &["dead-letters"], "", |_| {});
    assert_eq!(out.trim(), "no dead letters");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn completions_for_three_shells_and_no_colour_off_a_terminal() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef ghlsync"),
        ("fish", "complete -c ghlsync"),
    ] {
        let out = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(marker),
            "{shell}: {text:.200}"
        );
        assert!(
            text.contains("dead-letters") && text.contains("catalog"),
            "{shell} completes the commands"
        );
    }
    let out = Command::new(BIN)
        .args(["completions", "powershell7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "an unknown shell is bad usage");
    // Piped (not a terminal), with or without NO_COLOR: no escape codes, in help or logs.
    for no_color in [false, true] {
        let mut cmd = Command::new(BIN);
        cmd.args(["-v", "catalog", "ghl.nope.nothing"]);
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let out = cmd.output().unwrap();
        let all = [out.stdout, out.stderr].concat();
        assert!(
            !all.contains(&0x1b),
            "no ANSI escapes: {}",
            String::from_utf8_lossy(&all)
        );
        let help = Command::new(BIN).args(["call", "--help"]).output().unwrap();
        assert!(
            !help.stdout.contains(&0x1b)
                && String::from_utf8_lossy(&help.stdout).contains("Examples:")
        );
    }
}

#[test]
fn an_action_flow_from_a_file_is_checked_enabled_and_run_by_hand() {
    let sbx = start_sandbox(&[]);
    let base = sbx.info["ghl"]["base_url"].as_str().unwrap().to_owned();
    let loc = &sbx.info["ghl"]["locations"][0];
    let (location, token) = (loc["id"].as_str().unwrap(), loc["token"].as_str().unwrap());
    let dir = std::env::temp_dir().join(format!("ghlsync-cli-flow-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        run_in(&dir, args, "", |c| {
            c.env("GHLSYNC_GHL_BASE_URL", &base);
        })
    };
    let (code, out, err) = run_in(
        &dir,
        &["connect", "ghl", "--pit", "--location-id", location],
        &format!("{token}\n"),
        |c| {
            c.env("GHLSYNC_GHL_BASE_URL", &base);
        },
    );
    assert_eq!(code, 0, "{out}{err}");
    let conn = format!("ghl:{location}");
    let file = dir.join("by-hand.toml");
    let flow = format!(
        "[flow]\nid = \"by-hand\"\ntrigger = \"ghlsync.trigger.manual\"\naction = \"ghl.contacts.upsert\"\n[input]\nlocationId = {{ value = \"{location}\" }}\nfirstName = {{ from = \"input.name\" }}\nemail = {{ from = \"input.email\", transforms = [\"email_normalise\"] }}\n"
    );
    std::fs::write(&file, flow.replace("locationId = ", "locationIdx = ")).unwrap();
    let f = file.to_str().unwrap();
    let (code, _, err) = run(&["flows", "enable", "by-hand", "--file", f, "--ghl", &conn]);
    assert_eq!(code, 2, "a flow that cannot work is bad input: {err}");
    assert!(
        err.contains("[input] locationIdx") && err.contains("not an input of ghl.contacts.upsert"),
        "{err}"
    );
    std::fs::write(&file, &flow).unwrap();
    let (code, out, err) = run(&["flows", "enable", "by-hand", "--file", f, "--ghl", &conn]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("enabled by-hand: ghlsync.trigger.manual (ghlsync) -> ghl.contacts.upsert"),
        "{out}"
    );
    let (_, out, _) = run(&["flows", "list", "--json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["kind"], "action");
    assert_eq!(list[0]["action_connection"], conn.as_str());
    let before = ghl_requests(&base, location);
    let (code, out, err) = run(&[
        "flows",
        "run",
        "by-hand",
        "--dry-run",
        "--input",
        r#"{"name":"Ada","email":" ADA@Example.com "}"#,
    ]);
    assert_eq!(code, 0, "{err}");
    let planned: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        planned["input"],
        serde_json::json!({"locationId": location, "firstName": "Ada", "email": "ada@example.com"})
    );
    assert_eq!(
        ghl_requests(&base, location),
        before,
        "a dry run sends nothing"
    );
    let (code, out, err) = run(&[
        "flows",
        "run",
        "by-hand",
        "--input",
        r#"{"name":"Ada","email":"ada@example.com"}"#,
    ]);
    assert_eq!(code, 0, "{err}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["contact"]["firstName"], "Ada", "{answer}");
    let (code, _, err) = run(&["flows", "run", "by-hand", "--input", "not json"]);
    assert!(code == 2 && err.contains("--input is not JSON"), "{err}");
    for args in [
        &["flows", "show", "nope"][..],
        &["flows", "disable", "nope"],
        &["flows", "run", "nope"],
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, 4, "{args:?}: {err}");
    }
    let (code, out, _) = run(&["flows", "disable", "by-hand"]);
    assert_eq!((code, out.trim()), (0, "disabled by-hand"));
    let _ = std::fs::remove_dir_all(&dir);
}
