//! Black-box tests of the `ghlsync` binary: the vault, refused calls, dead letters
//! and replay, completions, action flows from a file.

mod common;

use std::process::Command;

use common::{BIN, run_in, start_sandbox};
use serde_json::Value;

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

/// `bench resync` at a small size: the first backfill spends one GHL write per
/// record and the naive baseline two calls; the second backfill writes nothing
/// and reads no more than the pages.
#[test]
fn bench_resync_measures_the_engine_against_the_naive_loop() {
    let dir = std::env::temp_dir().join(format!("ghlsync-cli-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let args = [
        "bench",
        "resync",
        "--backend",
        "sqlite",
        "--records",
        "150",
        "--baseline-records",
        "40",
        "--json",
    ];
    let (code, out, err) = run_in(&dir, &args, "", |_| {});
    assert_eq!(code, 0, "{out}\n{err}");
    let v: Value = serde_json::from_str(out.trim()).expect("one JSON object");
    let s = &v["sqlite"];
    let first = &s["first_backfill"];
    assert_eq!(first["records"], 150, "{s}");
    assert_eq!(first["ghl_writes"], 150, "one create per lead: {first}");
    assert_eq!(first["http_429"], 0, "{first}");
    assert!(
        first["ghl_calls_per_record"].as_f64().unwrap() <= 1.02,
        "{first}"
    );
    // The second pass: nothing written, GHL read page by page (150 contacts: one
    // page, and the empty one that ends the walk).
    assert_eq!(s["ghl_writes"], 0, "{s}");
    assert!(s["ghl_reads"].as_u64().unwrap() <= 2, "{s}");
    assert_eq!(s["baseline"]["records"], 40, "{s}");
    assert_eq!(s["baseline_ghl_calls_per_record"], 2.0, "{s}");
    assert!(s["records_per_s"].as_f64().unwrap() > 0.0);
    let _ = std::fs::remove_dir_all(&dir);
}
