//! Black-box durability tests of the `ghlsync` binary, across processes:
//!
//! - **crash**: 10,000 `test.record` jobs on PostgreSQL, 4 `ghlsync worker` processes,
//!   one SIGKILLed mid-run and replaced; every job ends done with exactly one run-log
//!   entry.
//! - **journal**: `ghlsync serve` journals a signed GHL webhook before answering 200,
//!   so a SIGKILL right after the answer loses nothing; a replay is a duplicate, bad
//!   signatures are refused and not journaled (SQLite and PostgreSQL).
//! - **vault grep**: known plaintext secrets appear nowhere at rest (SQLite files,
//!   `pg_dump`), nor in a debug-level worker log, nor in `Debug` output.
//!
//! Stores, keys and PostgreSQL come from the test kit (`testkit::test_store`,
//! `testkit::pg`): `GHLSYNC_DATABASE_URL` (`scripts/pg-up.sh` prints one); in CI
//! (`CI=true`) a missing or unreachable PostgreSQL fails these tests, elsewhere they
//! are skipped with one line on stderr. Each test uses its own PostgreSQL schema,
//! given to child processes as `?options=-c search_path=<schema>` in the URL.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use domain::{AuthKind, System};
use ed25519_dalek::{Signer, SigningKey};
use engine::jobs::{GhlCall, Job, TestRecord};
use secrecy::SecretString;
use serde_json::{Value, json};
use store::{NewConnection, Store, StoreOptions, TokenSet};
use testkit::{Backend, TestStore, ci, master_key, temp_dir, test_store, unique};

const BIN: &str = env!("CARGO_BIN_EXE_ghlsync");

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// A child `ghlsync` process: stderr (and stdout unless piped) go to a log file; it is
/// SIGKILLed and reaped on drop.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Spawns `ghlsync <args>` in `dir` with a clean `GHLSYNC_*` environment plus `env`.
    fn spawn(
        name: &str,
        args: &[&str],
        env: &[(&str, &str)],
        dir: &Path,
        pipe_stdout: bool,
    ) -> Self {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(dir).stdin(Stdio::null());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("GHLSYNC_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().copied());
        cmd.stderr(file.try_clone().expect("log file"));
        cmd.stdout(if pipe_stdout {
            Stdio::piped()
        } else {
            Stdio::from(file)
        });
        let child = cmd.spawn().expect("ghlsync starts");
        Self {
            name: name.to_owned(),
            child,
            log,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL (what `Child::kill` sends on Unix) and reap.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Panics (with the log) if the process has exited.
    fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited unexpectedly ({status}); its log:\n{}",
                self.name,
                self.log_text()
            );
        }
    }

    /// Waits (bounded) for the process to exit by itself.
    async fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {timeout:?}; its log:\n{}",
                self.name,
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------
// 1. Crash test
// ---------------------------------------------------------------------------

const CRASH_JOBS: usize = 10_000;
/// How long each job takes. While its jobs run, a worker holds their leases outside
/// any transaction: a SIGKILL then strands them (instead of landing on a COMMIT that
/// is already on its way, which the database completes without the dead worker).
const CRASH_SLEEP_MS: u64 = 20;
/// Jobs whose lease crash-w0 (1, 2) holds.
const HELD_BY: [&str; 3] = [
    "SELECT COUNT(*) FROM jobs WHERE status = 'running' AND lease_owner = 'crash-w0'",
    "SELECT COUNT(*) FROM jobs WHERE status = 'running' AND lease_owner = 'crash-w1'",
    "SELECT COUNT(*) FROM jobs WHERE status = 'running' AND lease_owner = 'crash-w2'",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_loses_no_job_and_duplicates_no_run_log_entry() {
    let (key_hex, ring) = master_key();
    let Some(db) = test_store(Backend::Postgres, ring).await else {
        return;
    };
    let (store, dir) = (&db.store, &db.dir);
    let worker_url = db.url.clone().expect("a PostgreSQL URL");

    let jobs: Vec<_> = (0..CRASH_JOBS)
        .map(|i| {
            Job::TestRecord(TestRecord {
                record: format!("test:crash:{i}"),
                fail_times: None,
                sleep_ms: Some(CRASH_SLEEP_MS),
            })
            .into_new_job()
        })
        .collect();
    let mut created = 0;
    for chunk in jobs.chunks(1_000) {
        created += store.enqueue_many(chunk).await.expect("enqueue");
    }
    assert_eq!(created, CRASH_JOBS);

    let env = [
        ("GHLSYNC_DATABASE_URL", worker_url.as_str()),
        ("GHLSYNC_DATA_DIR", dir.to_str().unwrap()),
        ("GHLSYNC_MASTER_KEY", key_hex.as_str()),
        ("GHLSYNC_LOG", "warn"),
    ];
    let spawn_worker = |id: &str| {
        Proc::spawn(
            id,
            &[
                "worker",
                "--batch",
                "100",
                "--concurrency",
                "100",
                "--lease-ms",
                "2000",
                "--id",
                id,
            ],
            &env,
            dir,
            false,
        )
    };
    let started = Instant::now();
    let mut workers: Vec<Proc> = (0..4)
        .map(|i| spawn_worker(&format!("crash-w{i}")))
        .collect();

    // Once 2,000+ jobs are done, SIGKILL crash-w0 while it holds leases (jobs claimed,
    // not yet completed) and start a replacement. A kill that lands just as the victim
    // commits its batch strands nothing; then the next worker is killed (at most 3).
    let mut killed = Vec::new();
    let mut stranded = 0;
    let mut done_at_kill = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while stranded == 0 && killed.len() < HELD_BY.len() {
        let victim = killed.len();
        let threshold = 2_000 + 1_000 * victim as i64;
        loop {
            for (i, w) in workers.iter_mut().enumerate() {
                if !killed.contains(&i) {
                    w.assert_alive();
                }
            }
            let done = store.queue_stats().await.expect("stats").done;
            let held = store.scalar_i64(HELD_BY[victim]).await.expect("held");
            if done >= threshold && held > 0 {
                workers[victim].kill();
                done_at_kill.push(done);
                break;
            }
            assert!(
                Instant::now() < deadline && done < CRASH_JOBS as i64,
                "crash-w{victim} never held a lease to kill it in ({done} done)"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        killed.push(victim);
        // Statements the victim sent before dying (say, the COMMIT of its batch) still
        // run; let them land before counting. Its leases outlive this by > 1 s.
        tokio::time::sleep(Duration::from_millis(250)).await;
        stranded = store.scalar_i64(HELD_BY[victim]).await.expect("stranded");
        workers.push(spawn_worker(&format!("crash-r{victim}")));
    }
    let killed_at = started.elapsed();
    assert!(
        stranded > 0,
        "none of {} SIGKILLs stranded a leased job; the test did not exercise lease recovery",
        killed.len()
    );

    let deadline = Instant::now() + Duration::from_secs(120);
    let mut rest_at = None;
    loop {
        for (i, w) in workers.iter_mut().enumerate() {
            if !killed.contains(&i) {
                w.assert_alive();
            }
        }
        let stats = store.queue_stats().await.expect("stats");
        if stats.done == CRASH_JOBS as i64 {
            break;
        }
        if rest_at.is_none() && stats.done + stranded >= CRASH_JOBS as i64 {
            rest_at = Some(started.elapsed());
        }
        assert!(
            Instant::now() < deadline,
            "not all jobs done within 120 s: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let elapsed = started.elapsed();
    drop(workers);

    let stats = store.queue_stats().await.expect("stats");
    assert_eq!(
        (stats.queued, stats.running, stats.done, stats.dead),
        (0, 0, CRASH_JOBS as i64, 0),
        "{stats:?}"
    );
    let counts = store.run_log_counts().await.expect("run-log counts");
    assert_eq!(counts.len(), CRASH_JOBS, "jobs with a run-log entry");
    let duplicated: Vec<_> = counts.iter().filter(|(_, n)| *n != 1).collect();
    assert!(
        duplicated.is_empty(),
        "jobs with more than one run-log entry: {duplicated:?}"
    );
    let ids: HashSet<i64> = counts.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), CRASH_JOBS);
    let without_entry = store
        .scalar_i64(
            "SELECT COUNT(*) FROM jobs j WHERE NOT EXISTS (SELECT 1 FROM run_log r WHERE r.job_id = j.id)",
        )
        .await
        .expect("orphans");
    assert_eq!(without_entry, 0, "done jobs without a run-log entry");
    let entries = store
        .scalar_i64("SELECT COUNT(*) FROM run_log")
        .await
        .expect("entries");
    assert_eq!(entries, CRASH_JOBS as i64);
    let retried = store
        .scalar_i64("SELECT COUNT(*) FROM jobs WHERE attempts > 1")
        .await
        .expect("retried");
    assert!(
        retried >= stranded,
        "the {stranded} jobs held by the killed worker were claimed again (attempts > 1: {retried})"
    );

    eprintln!(
        "crash test: {CRASH_JOBS} jobs of {CRASH_SLEEP_MS} ms in {:.2} s = {:.0} jobs/s with 4 worker processes ({:.0} jobs/s until only the stranded jobs were left, whose leases then had to expire); {} SIGKILLed (done counts at the kills: {done_at_kill:?}, last at {:.2} s) stranding {stranded} leased jobs; {retried} jobs ran more than once",
        elapsed.as_secs_f64(),
        CRASH_JOBS as f64 / elapsed.as_secs_f64(),
        (CRASH_JOBS as i64 - stranded) as f64 / rest_at.unwrap_or(elapsed).as_secs_f64(),
        killed.len(),
        killed_at.as_secs_f64(),
    );
    db.remove().await;
}

// ---------------------------------------------------------------------------
// 2. Journal test
// ---------------------------------------------------------------------------

/// An Ed25519 key pair from fixed bytes, and its public key as an SPKI PEM.
fn webhook_key() -> (SigningKey, String) {
    let key = SigningKey::from_bytes(&[0x5a; 32]);
    let mut der = hex_decode("302a300506032b6570032100");
    der.extend_from_slice(&key.verifying_key().to_bytes());
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        B64.encode(der)
    );
    (key, pem)
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A running `ghlsync serve` and its base URL.
struct Server {
    proc: Proc,
    base: String,
}

async fn start_server(dir: &Path, env: &[(&str, &str)], name: &str) -> Server {
    let mut proc = Proc::spawn(name, &["serve", "--listen", "127.0.0.1:0"], env, dir, true);
    let stdout = proc.child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        // Keep draining so the server never writes to a closed pipe.
        let mut rest = String::new();
        while reader.read_line(&mut rest).is_ok_and(|n| n > 0) {
            rest.clear();
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let line = loop {
        if let Ok(line) = rx.try_recv() {
            break line;
        }
        proc.assert_alive();
        assert!(
            Instant::now() < deadline,
            "ghlsync serve printed nothing within 30 s; its log:\n{}",
            proc.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        panic!(
            "serve's first stdout line is not JSON ({e}): {line:?}; log:\n{}",
            proc.log_text()
        )
    });
    let base = info["listening"]
        .as_str()
        .expect("{\"listening\": url}")
        .to_owned();
    Server { proc, base }
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    body: &str,
    signature: Option<&str>,
) -> reqwest::Response {
    let mut req = http
        .post(format!("{base}/webhooks/ghl"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(sig) = signature {
        req = req.header("x-ghl-signature", sig);
    }
    req.send().await.expect("the webhook request is answered")
}

async fn journal_roundtrip(dir: &Path, database_url: Option<String>, store_options: StoreOptions) {
    let (key, pem) = webhook_key();
    let mut env = vec![
        ("GHLSYNC_DATA_DIR", dir.to_str().unwrap()),
        ("GHLSYNC_GHL_WEBHOOK_PUBLIC_KEY", pem.as_str()),
        ("GHLSYNC_LOG", "info"),
    ];
    if let Some(url) = &database_url {
        env.push(("GHLSYNC_DATABASE_URL", url.as_str()));
    }
    let http = ghl::http::http_client(Duration::from_secs(15));

    let webhook_id = unique("wh");
    let body = serde_json::to_string(&json!({
        "type": "ContactCreate",
        "locationId": "loc-journal",
        "id": unique("contact"),
        "firstName": "Ada",
        "email": "ada@example.com",
        "webhookId": webhook_id,
    }))
    .unwrap();
    let signature = B64.encode(key.sign(body.as_bytes()).to_bytes());

    // The 200 means journaled: kill the server the moment it arrives.
    let mut server = start_server(dir, &env, "serve-1").await;
    let resp = post(&http, &server.base, &body, Some(&signature)).await;
    server.proc.kill();
    let status = resp.status();
    let answer = resp.text().await.unwrap_or_default();
    assert_eq!(
        status,
        200,
        "{answer}; server log:\n{}",
        server.proc.log_text()
    );
    if !answer.is_empty() {
        let v: Value = serde_json::from_str(&answer).expect("JSON answer");
        assert_eq!(v["status"], "accepted", "{answer}");
    }
    drop(server);

    // The server created the master key file (which Store::open reads), owner-only.
    let key_file = dir.join("master.key");
    assert!(key_file.is_file(), "{} exists", key_file.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "master.key is private: {mode:o}");
    }
    let store = Store::open(&store_options).await.expect("the store opens");
    assert_eq!(
        store
            .event_body("ghl", &webhook_id)
            .await
            .expect("event_body")
            .as_deref(),
        Some(body.as_str()),
        "the exact body is journaled"
    );
    assert_eq!(store.count_events().await.unwrap(), 1);
    let stats = store.queue_stats().await.unwrap();
    assert_eq!(
        (stats.queued, stats.running, stats.done, stats.dead),
        (1, 0, 0, 0)
    );
    let job_id = store.scalar_i64("SELECT MAX(id) FROM jobs").await.unwrap();
    let job = store.job(job_id).await.unwrap().expect("the job");
    assert_eq!(job.kind, "ghl.event");
    assert_eq!(job.status, store::JobStatus::Queued);
    assert_eq!(job.idempotency_key, format!("ghl:event:{webhook_id}"));
    assert_eq!(job.payload["webhookId"], webhook_id.as_str());
    assert_eq!(job.payload["type"], "ContactCreate");
    assert_eq!(job.payload["locationId"], "loc-journal");

    // Restarted on the same data: a replay is a duplicate and changes nothing.
    let server = start_server(dir, &env, "serve-2").await;
    let resp = post(&http, &server.base, &body, Some(&signature)).await;
    assert_eq!(resp.status(), 409, "a replayed webhookId is refused");
    let v: Value = resp.json().await.expect("JSON answer");
    assert_eq!(v["status"], "duplicate", "{v}");
    assert_eq!(store.count_events().await.unwrap(), 1);
    assert_eq!(
        store.scalar_i64("SELECT COUNT(*) FROM jobs").await.unwrap(),
        1
    );

    // A tampered body (the signature of the original) and an unsigned event are refused.
    let tampered_id = unique("wh_tampered");
    let tampered = body.replace(&webhook_id, &tampered_id);
    assert_ne!(tampered, body);
    let resp = post(&http, &server.base, &tampered, Some(&signature)).await;
    assert_eq!(resp.status(), 401, "tampered body");
    let unsigned_id = unique("wh_unsigned");
    let unsigned = body.replace(&webhook_id, &unsigned_id);
    let resp = post(&http, &server.base, &unsigned, None).await;
    assert_eq!(resp.status(), 401, "missing signature");
    for id in [&tampered_id, &unsigned_id] {
        assert_eq!(store.event_body("ghl", id).await.unwrap(), None, "{id}");
    }
    assert_eq!(store.count_events().await.unwrap(), 1);
    assert_eq!(
        store.scalar_i64("SELECT COUNT(*) FROM jobs").await.unwrap(),
        1
    );
    drop(server);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_is_journaled_before_200_and_survives_sigkill_sqlite() {
    let dir = temp_dir("ghlsync_journal");
    journal_roundtrip(&dir, None, StoreOptions::sqlite(&dir)).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_is_journaled_before_200_and_survives_sigkill_postgres() {
    // A fresh, migrated schema (made with a key of its own: events are not secrets).
    let Some(db) = testkit::pg::database().await else {
        return;
    };
    let dir = temp_dir("ghlsync_journal_pg");
    let mut options = StoreOptions::postgres(&db.base_url, &dir);
    options.pg_schema = Some(db.schema.clone());
    journal_roundtrip(&dir, Some(db.url.clone()), options).await;
    testkit::pg::drop_schema(&db.base_url, &db.schema).await;
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// 3. Vault grep test
// ---------------------------------------------------------------------------

/// The plaintexts a test stores; none may appear anywhere but in memory.
struct Plaintexts {
    pit_access: String,
    oauth_access: String,
    oauth_refresh: String,
    client_secret: String,
    env_client_secret: String,
}

impl Plaintexts {
    fn new() -> Self {
        let r = || {
            format!(
                "{:016x}{:016x}",
                rand::random::<u64>(),
                rand::random::<u64>()
            )
        };
        Self {
            pit_access: format!("ghl-at-PLAINTEXT-{}", r()),
            oauth_access: format!("ghl-at2-PLAINTEXT-{}", r()),
            oauth_refresh: format!("ghl-rt-PLAINTEXT-{}", r()),
            client_secret: format!("ghl-cs-PLAINTEXT-{}", r()),
            env_client_secret: format!("ghl-envcs-PLAINTEXT-{}", r()),
        }
    }

    fn all(&self) -> [(&'static str, &str); 5] {
        [
            ("PIT access token", &self.pit_access),
            ("OAuth access token", &self.oauth_access),
            ("OAuth refresh token", &self.oauth_refresh),
            ("stored client secret", &self.client_secret),
            (
                "client secret from the environment",
                &self.env_client_secret,
            ),
        ]
    }

    /// Panics if any plaintext (as text, or hex-encoded as `bytea` dumps show bytes)
    /// occurs in `haystack`.
    fn assert_absent(&self, haystack: &[u8], place: &str) {
        for (what, plain) in self.all() {
            assert!(
                !contains(haystack, plain.as_bytes()),
                "the {what} appears in plaintext in {place}"
            );
            assert!(
                !contains(haystack, hex(plain.as_bytes()).as_bytes()),
                "the {what} appears hex-encoded in {place}"
            );
        }
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

/// Stores two connections with secrets and a `ghl.call` job for each; returns job ids.
async fn seed_vault(store: &Store, p: &Plaintexts) -> [i64; 2] {
    let conn = |id: &str, kind: AuthKind| NewConnection {
        location_id: Some("loc-vault".to_owned()),
        scopes: "contacts.readonly".to_owned(),
        ..NewConnection::new(id, System::Ghl, kind)
    };
    store
        .upsert_connection(&conn("conn-pit", AuthKind::Pit))
        .await
        .unwrap();
    store
        .put_tokens(
            "conn-pit",
            &TokenSet {
                access: secret(&p.pit_access),
                refresh: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    // An expired OAuth token: the worker tries to refresh it (and fails: nobody listens).
    store
        .upsert_connection(&conn("conn-oauth", AuthKind::Oauth))
        .await
        .unwrap();
    store
        .put_tokens(
            "conn-oauth",
            &TokenSet {
                access: secret(&p.oauth_access),
                refresh: Some(secret(&p.oauth_refresh)),
                expires_at: Some(store.now() - 60_000),
            },
        )
        .await
        .unwrap();
    store
        .put_secret("conn-oauth", "client_secret", &secret(&p.client_secret))
        .await
        .unwrap();

    // The secrets really are in the store (so a leak would have had something to leak).
    let pit = store.tokens("conn-pit").await.unwrap().expect("pit tokens");
    assert_eq!(store::expose(&pit.access), p.pit_access);
    let oauth = store
        .tokens("conn-oauth")
        .await
        .unwrap()
        .expect("oauth tokens");
    assert_eq!(
        store::expose(oauth.refresh.as_ref().expect("refresh")),
        p.oauth_refresh
    );
    let cs = store
        .secret("conn-oauth", "client_secret")
        .await
        .unwrap()
        .expect("client secret");
    assert_eq!(store::expose(&cs), p.client_secret);

    // Debug output of the token sets shows none of them.
    let debug = format!(
        "{pit:?} {oauth:?} {cs:?} {:?}",
        store.tokens("conn-oauth").await
    );
    p.assert_absent(debug.as_bytes(), "Debug output of TokenSet / SecretString");

    let mut ids = [0; 2];
    for (i, c) in ["conn-pit", "conn-oauth"].into_iter().enumerate() {
        let job = Job::from(GhlCall::new(
            c,
            "get-contacts",
            json!({"locationId": "loc-vault", "limit": 1}),
            format!("vault-{c}"),
        ));
        ids[i] = store.enqueue(&job.into_new_job()).await.unwrap().id;
    }
    ids
}

/// An address nobody listens on.
fn unused_base_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// Runs `ghlsync worker --exit-when-idle` at debug level; returns its log (stdout+stderr).
async fn run_worker_once(
    dir: &Path,
    key_hex: &str,
    database_url: Option<&str>,
    p: &Plaintexts,
) -> String {
    let base = unused_base_url();
    let mut env = vec![
        ("GHLSYNC_DATA_DIR", dir.to_str().unwrap()),
        ("GHLSYNC_MASTER_KEY", key_hex),
        ("GHLSYNC_LOG", "debug"),
        ("GHLSYNC_GHL_BASE_URL", base.as_str()),
        ("GHLSYNC_GHL_CLIENT_ID", "vault-test-app"),
        ("GHLSYNC_GHL_CLIENT_SECRET", p.env_client_secret.as_str()),
    ];
    if let Some(url) = database_url {
        env.push(("GHLSYNC_DATABASE_URL", url));
    }
    let mut worker = Proc::spawn(
        "vault-worker",
        &["worker", "--exit-when-idle", "--id", "vault-worker"],
        &env,
        dir,
        false,
    );
    let status = worker.wait_exit(Duration::from_secs(60)).await;
    let log = worker.log_text();
    assert!(status.success(), "worker failed ({status}):\n{log}");
    log
}

/// Checks the worker really tried both jobs and logged at debug level.
async fn assert_worker_tried(store: &Store, ids: [i64; 2], log: &str) {
    for id in ids {
        let job = store.job(id).await.unwrap().expect("job");
        assert_eq!(job.attempts, 1, "job {id} ran once: {job:?}\n{log}");
        assert!(
            job.last_error.is_some(),
            "job {id} failed (nobody listens): {job:?}\n{log}"
        );
    }
    assert!(log.contains("DEBUG"), "debug logging is on:\n{log}");
    assert!(log.contains("JobFailed"), "failures are logged:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_plaintexts_appear_nowhere_sqlite() {
    let (key_hex, ring) = master_key();
    let p = Plaintexts::new();
    let db = test_store(Backend::Sqlite, ring)
        .await
        .expect("SQLite is always available");
    let (store, dir) = (&db.store, &db.dir);
    let ids = seed_vault(store, &p).await;
    let log = run_worker_once(dir, &key_hex, None, &p).await;
    assert_worker_tried(store, ids, &log).await;
    p.assert_absent(log.as_bytes(), "the worker's debug log");

    let files = |when: &str| {
        let mut seen = 0;
        for name in ["ghlsync.db", "ghlsync.db-wal", "ghlsync.db-shm"] {
            if let Ok(bytes) = std::fs::read(dir.join(name)) {
                seen += 1;
                p.assert_absent(&bytes, &format!("{name} ({when})"));
            }
        }
        seen
    };
    assert!(files("store open") >= 2, "ghlsync.db and its WAL exist");
    // These files do hold the store's data (so the greps above looked in the right place).
    let main = std::fs::read(dir.join("ghlsync.db")).unwrap();
    let wal = std::fs::read(dir.join("ghlsync.db-wal")).unwrap_or_default();
    assert!(
        contains(&main, b"conn-oauth") || contains(&wal, b"conn-oauth"),
        "the files hold the connections"
    );
    store.close().await;
    assert!(files("after close and checkpoint") >= 1);
    db.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_plaintexts_appear_nowhere_postgres() {
    let (key_hex, ring) = master_key();
    let Some(db) = test_store(Backend::Postgres, ring).await else {
        return;
    };
    let (store, dir) = (&db.store, &db.dir);
    let (url, schema) = postgres_of(&db);
    let p = Plaintexts::new();
    let ids = seed_vault(store, &p).await;
    let log = run_worker_once(dir, &key_hex, db.url.as_deref(), &p).await;
    assert_worker_tried(store, ids, &log).await;
    p.assert_absent(log.as_bytes(), "the worker's debug log");

    let dump = match Command::new("pg_dump")
        .arg(format!("--dbname={url}"))
        .arg(format!("--schema={schema}"))
        .arg("--no-owner")
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "pg_dump failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(out.stdout)
        }
        Err(e) if !ci() => {
            eprintln!("skipped the pg_dump check: cannot run pg_dump: {e}");
            None
        }
        Err(e) => panic!("CI=true and pg_dump cannot run: {e}"),
    };
    if let Some(dump) = dump {
        assert!(
            contains(&dump, b"conn-oauth") && contains(&dump, b"client_secret"),
            "the dump holds the schema's connections and secrets"
        );
        p.assert_absent(&dump, &format!("pg_dump --schema={schema}"));
    }
    db.remove().await;
}

/// The PostgreSQL server URL (no schema) and the schema of a test store.
fn postgres_of(db: &TestStore) -> (String, String) {
    let o = &db.options;
    match (&o.database_url, &o.pg_schema) {
        (Some(url), Some(schema)) => (url.clone(), schema.clone()),
        _ => panic!("not a PostgreSQL test store: {o:?}"),
    }
}
