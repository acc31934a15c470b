//! Black-box tests of `ghlsync admin ...` (accounts and API tokens) and the setup
//! link `serve` prints while no account exists.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::{BIN, run_in};
use serde_json::Value;

fn admin(dir: &std::path::Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    run_in(dir, &all, stdin, |_| {})
}

/// `serve` on a free port until its first stdout line: what it printed on stderr.
fn serve_stderr(dir: &std::path::Path) -> String {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("GHLSYNC_DATA_DIR", dir)
        .env_remove("GHLSYNC_DATABASE_URL")
        .env("GHLSYNC_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening"), "{line}");
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

#[test]
fn accounts_and_tokens_are_managed_from_the_host() {
    let dir = tempdir();
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

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ghlsync-cli-admin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
