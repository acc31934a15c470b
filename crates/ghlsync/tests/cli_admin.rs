//! Black-box tests of `ghlsync admin ...` (accounts and API tokens) and the setup
//! link `serve` prints while no account exists.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use common::{BIN, run_in};
use serde_json::Value;

fn admin(dir: &std::path::Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    run_in(dir, &all, stdin, |_| {})
}

/// `ghlsync serve` on a free port with `env` set, once it listens: the child and
/// its URL.
fn start_serve(dir: &std::path::Path, env: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("GHLSYNC_DATA_DIR", dir)
        .env_remove("GHLSYNC_DATABASE_URL")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let listening: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{line}"));
    let url = listening["listening"].as_str().unwrap().to_owned();
    (child, url)
}

/// Stops a `serve` child: what it printed on stderr.
fn stop_serve(mut child: Child) -> String {
    let _ = child.kill();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let _ = child.wait();
    err
}

/// `serve` until it listens: what it printed on stderr.
fn serve_stderr(dir: &std::path::Path) -> String {
    let (child, _) = start_serve(dir, &[("GHLSYNC_LOG", "error")]);
    stop_serve(child)
}

#[test]
fn accounts_and_tokens_are_managed_from_the_host() {
    let dir = tempdir_named("admin");
    let (code, out, _) = admin(&dir, &["users"], "");
    assert_eq!(code, 0);
    assert!(out.contains("no accounts yet"), "{out}");
    // No account yet: serve prints the one-time setup link.
    let err = serve_stderr(&dir);
    assert!(err.contains("/setup?token="), "{err}");

    // A short password is refused, naming the rule; nothing is stored.
    let (code, _, err) = admin(&dir, &["add-user", "ada", "--role", "admin"], "short\n");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("at least 12"), "{err}");
    let (code, out, err) = admin(
        &dir,
        &["add-user", "ada", "--role", "admin"],
        "a long enough password\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created account ada (admin)"), "{out}");
    let (code, out, _) = admin(
        &dir,
        &["add-user", "ada", "--role", "viewer"],
        "another long password\n",
    );
    assert_eq!(code, 0);
    assert!(out.contains("updated account ada (viewer)"), "{out}");
    let (_, out, _) = admin(&dir, &["users", "--json"], "");
    let users: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(users[0]["name"], "ada");
    assert_eq!(users[0]["role"], "viewer");
    assert!(
        !out.contains("argon2") && !out.contains("password"),
        "{out}"
    );
    // An account exists: no setup link any more.
    let err = serve_stderr(&dir);
    assert!(!err.contains("/setup?token="), "{err}");

    // A token is printed once; only its hash is kept.
    let (code, token, err) = admin(
        &dir,
        &["token", "create", "--name", "deploy", "--role", "viewer"],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let token = token.trim().to_owned();
    assert!(token.starts_with("ghs_") && token.len() > 60, "{token}");
    assert!(err.contains("shown only now"), "{err}");
    let (code, _, err) = admin(
        &dir,
        &["token", "create", "--name", "deploy", "--role", "admin"],
        "",
    );
    assert_eq!(code, 2, "the name is taken: {err}");
    let (_, list, _) = admin(&dir, &["token", "list", "--json"], "");
    let tokens: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(tokens[0]["name"], "deploy");
    assert_eq!(tokens[0]["last_used_at"], Value::Null);
    assert!(!list.contains(&token[4..]), "the token is not listed");
    let db = std::fs::read(dir.join("ghlsync.db")).unwrap();
    assert!(
        !db.windows(token.len()).any(|w| w == token.as_bytes()),
        "the token is not in the database"
    );
    let (code, out, _) = admin(&dir, &["token", "revoke", "deploy"], "");
    assert_eq!(code, 0);
    assert!(out.contains("revoked"), "{out}");
    let (code, _, err) = admin(&dir, &["token", "revoke", "deploy"], "");
    assert_eq!(code, 4, "{err}");
    let (code, _, err) = admin(&dir, &["remove-user", "nobody"], "");
    assert_eq!(code, 4, "{err}");
    let (code, _, _) = admin(&dir, &["remove-user", "ada"], "");
    assert_eq!(code, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `GHLSYNC_LOG_FORMAT=json`: one JSON object per line, and a request's lines carry
/// its request id (echoed in `X-Request-Id`), never the secret path of a webhook.
#[test]
fn json_logs_carry_the_request_id() {
    let dir = tempdir_named("json-logs");
    let (child, url) = start_serve(
        &dir,
        &[("GHLSYNC_LOG_FORMAT", "json"), ("GHLSYNC_LOG", "info")],
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (echoed, lofty_echo) = rt.block_on(async {
        let http = wire::http::default_http_client();
        let bad = http
            .post(format!("{url}/webhooks/ghl"))
            .header("x-request-id", "req-test-42")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 401, "no signature");
        let lofty = http
            .post(format!("{url}/webhooks/lofty/secret-key-in-the-path"))
            .body("{}")
            .send()
            .await
            .unwrap();
        (
            bad.headers()["x-request-id"].to_str().unwrap().to_owned(),
            lofty.headers()["x-request-id"].to_str().unwrap().to_owned(),
        )
    });
    assert_eq!(echoed, "req-test-42");
    assert_eq!(lofty_echo.len(), 16, "a new id when none is sent");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let err = stop_serve(child);
    let lines: Vec<Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let rejected = lines
        .iter()
        .find(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("WebhookRejected"))
        })
        .unwrap_or_else(|| panic!("a WebhookRejected line in {err}"));
    assert_eq!(rejected["span"]["request_id"], "req-test-42", "{rejected}");
    assert_eq!(rejected["span"]["route"], "/webhooks/ghl", "{rejected}");
    assert!(!err.contains("secret-key-in-the-path"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempdir_named(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ghlsync-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
