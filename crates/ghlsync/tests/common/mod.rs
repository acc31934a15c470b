//! What the binary's black-box tests share: the binary, a sandbox child process,
//! running a command with stdin and environment.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_ghlsync");

/// A `ghlsync sandbox` child process, killed on drop.
pub struct SandboxProcess {
    pub child: Child,
    pub info: Value,
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_sandbox(extra: &[&str]) -> SandboxProcess {
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
pub fn run_in(
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

pub fn call(base: &str, token: Option<&str>, op: &str, input: &str) -> (i32, String, String) {
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
