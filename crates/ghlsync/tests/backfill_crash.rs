//! The backfill crash test (issue 10), black-box: `ghlsync flows run` is SIGKILLed
//! three times during the backfill of the Lofty leads <-> GHL contacts recipe and
//! restarted each time, then left to finish. It proves that a backfill interrupted
//! at any moment resumes where it stopped and ends with every person exactly once on
//! each side, linked. The three kills, each at the worst instant of its phase:
//!
//! 1. while it pages the Lofty side (30% of the leads checkpointed);
//! 2. the instant the sandbox has made a Lofty lead, 10% into the `flow.run` jobs
//!    (the GHL contacts' jobs, which create Lofty leads): a create has landed and
//!    its answer is lost with the process, and the other jobs in flight are between
//!    their first look and their last write;
//! 3. the same with a GHL contact, 60% in (the Lofty leads' jobs, which create GHL
//!    contacts).
//!
//! The sandbox starts with 10,000 Lofty leads and 2,000 GHL contacts, 1,000 of them
//! the same people by email (the GHL location allows duplicate contacts, so GHL
//! deduplicates nothing on the engine's behalf). What must hold afterwards:
//!
//! - GHL holds 11,000 contacts and Lofty 11,000 leads, no two on one side
//!   share an email, and there are 11,000 links, each joining a GHL contact and a
//!   Lofty lead with the same email, every record in exactly one link;
//! - the paging checkpoint was resumed: the side being paged at the kill is not read
//!   again from its start (the sandbox's request counters say how many pages were
//!   read);
//! - no `flow.run` job ended dead.
//!
//! Everything is counted in the sandbox (which runs in this test process, so it
//! outlives the killed `ghlsync` processes), not read from the engine's log; the
//! links come from the store. The sandbox's rate limits are off and the worker's
//! lease is 3 s (a `ghlsync.toml` in the data directory), so a killed process's
//! leased jobs come back within seconds. The two backends run one after the other
//! (the machine has 2 cores). `GHLSYNC_BACKFILL_CRASH_SCALE=small` runs a tenth of
//! the size (1,000 leads, 200 contacts, 100 shared) for a quick local check.
//!
//! The soak run (`./scripts/test.sh --soak`) adds the reliability suite's crash run:
//! the same sync SIGKILLed 20 times, each after a random 0.4 to 2.4 s of running
//! (while starting, paging, or in the middle of the jobs), the rate limits off, and
//! the same checks afterwards.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sandbox::{RateLimitConfig, Sandbox, SandboxConfig};
use secrecy::SecretString;
use serde_json::{Value, json};
use store::Store;
use testkit::{Backend, master_key, test_store};

const BIN: &str = env!("CARGO_BIN_EXE_ghlsync");
const FLOW: &str = "lofty-ghl-contacts";
/// The checkpoint of the Lofty (right) side's paging.
const LOFTY_CHECKPOINT: &str = "backfill:lofty-ghl-contacts:right";
const FLOW_RUNS_DONE: &str =
    "SELECT COUNT(*) FROM jobs WHERE kind = 'flow.run' AND status = 'done'";
const FLOW_RUNS_RUNNING: &str =
    "SELECT COUNT(*) FROM jobs WHERE kind = 'flow.run' AND status = 'running'";
const FLOW_RUNS_DEAD: &str =
    "SELECT COUNT(*) FROM jobs WHERE kind = 'flow.run' AND status = 'dead'";
const FLOW_RUNS_RETRIED: &str =
    "SELECT COUNT(*) FROM jobs WHERE kind = 'flow.run' AND attempts > 1";

/// One backend at a time: each run is a sandbox and a `ghlsync` on 2 cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How many records each side starts with.
#[derive(Debug, Clone, Copy)]
struct Size {
    /// GHL contacts: `person(0..contacts)`.
    contacts: usize,
    /// Lofty leads: `person(contacts/2 .. contacts/2 + leads)` (the sandbox's seed
    /// overlaps the first half of the leads with the second half of the contacts).
    leads: usize,
}

impl Size {
    fn from_env() -> Self {
        match std::env::var("GHLSYNC_BACKFILL_CRASH_SCALE").as_deref() {
            Ok("small") => Self {
                contacts: 200,
                leads: 1_000,
            },
            _ => Self {
                contacts: 2_000,
                leads: 10_000,
            },
        }
    }

    fn shared(self) -> usize {
        self.contacts / 2
    }

    fn people(self) -> usize {
        self.contacts + self.leads - self.shared()
    }

    /// One `flow.run` per record of both sides.
    fn jobs(self) -> i64 {
        (self.contacts + self.leads) as i64
    }
}

/// A child `ghlsync` process: stdout and stderr go to a log file; it is SIGKILLed and
/// reaped on drop.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Spawns `ghlsync <args>` in `dir` with a clean `GHLSYNC_*` environment plus `env`.
    fn spawn(name: &str, args: &[&str], env: &[(&str, String)], dir: &Path) -> Self {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(dir).stdin(Stdio::null());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("GHLSYNC_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.stderr(file.try_clone().expect("log file"));
        cmd.stdout(file);
        Self {
            name: name.to_owned(),
            child: cmd.spawn().expect("ghlsync starts"),
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

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Waits (bounded) for the process to exit by itself; panics with its log unless
    /// it succeeded.
    async fn wait_success(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                assert!(
                    status.success(),
                    "{} failed ({status}); its log:\n{}",
                    self.name,
                    self.log_text()
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not finish within {timeout:?}; the end of its log:\n{}",
                self.name,
                tail(&self.log_text(), 40)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// When to SIGKILL the running `flows run`.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// While it pages the Lofty side, once this many leads are checkpointed.
    PagingLofty(u64),
    /// Once this many `flow.run` jobs are done, the instant the next Lofty lead
    /// appears in the sandbox: a create has landed and its answer is on its way back
    /// (or just arrived), before the engine can have stored the link; the other jobs
    /// in flight are somewhere between their first look and their last write.
    LoftyLeadMade(i64),
    /// The same with the next GHL contact.
    GhlContactMade(i64),
    /// This long after the process started, whatever it is doing.
    After(Duration),
}

/// Which kills a run makes.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// Three, each at the worst instant of its phase (see the module docs).
    Targeted,
    /// This many, each after a random 0.4 to 2.4 s of running (from startup, paging,
    /// the jobs, wherever the process is).
    Random(usize),
}

/// What the test saw when it killed.
#[derive(Debug)]
struct Kill {
    moment: Moment,
    at: Duration,
    saw: String,
}

impl std::fmt::Display for Kill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} at {:.1} s ({})",
            self.moment,
            self.at.as_secs_f64(),
            self.saw
        )
    }
}

async fn lofty_checkpoint(store: &Store) -> (u64, bool) {
    let saved: Value = store
        .cursor(LOFTY_CHECKPOINT)
        .await
        .expect("cursor")
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null);
    (
        saved["seen"].as_u64().unwrap_or(0),
        saved["done"] == json!(true),
    )
}

async fn scalar(store: &Store, sql: &'static str) -> i64 {
    store.scalar_i64(sql).await.expect(sql)
}

/// How many records the sandbox holds on the side `moment` watches (read from its
/// memory: no I/O).
fn made(sandbox: &Sandbox, moment: Moment) -> usize {
    match moment {
        Moment::GhlContactMade(_) => sandbox.ghl().with_world(|w| w.locations[0].contacts.len()),
        _ => sandbox.lofty().with_world(|w| w.leads.len()),
    }
}

/// Polls until `moment` has come, then SIGKILLs `proc`. Panics if it finishes (or
/// dies) first, or the moment does not come within `timeout`.
async fn kill_at(
    proc: &mut Proc,
    store: &Store,
    sandbox: &Sandbox,
    moment: Moment,
    started: Instant,
    timeout: Duration,
) -> Kill {
    let began = Instant::now();
    let deadline = began + timeout;
    loop {
        if let Some(status) = proc.exited() {
            panic!(
                "{} exited ({status}) before {moment:?}, the moment to kill it; its log:\n{}",
                proc.name,
                proc.log_text()
            );
        }
        let (seen, paged) = lofty_checkpoint(store).await;
        let done = scalar(store, FLOW_RUNS_DONE).await;
        let running = scalar(store, FLOW_RUNS_RUNNING).await;
        let saw = format!("{seen} leads checkpointed, {done} flow.run done, {running} leased");
        let now = match moment {
            Moment::PagingLofty(n) => {
                assert!(
                    !paged,
                    "the Lofty side was paged to the end ({seen} leads) before {moment:?}: poll faster or kill earlier"
                );
                seen >= n
            }
            Moment::LoftyLeadMade(n) | Moment::GhlContactMade(n) => done >= n && running > 0,
            Moment::After(d) => began.elapsed() >= d,
        };
        if !now {
            assert!(
                Instant::now() < deadline,
                "{moment:?} did not come within {timeout:?} ({saw}); the end of the log:\n{}",
                tail(&proc.log_text(), 40)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let saw = match moment {
            Moment::PagingLofty(_) | Moment::After(_) => {
                proc.kill();
                saw
            }
            Moment::LoftyLeadMade(_) | Moment::GhlContactMade(_) => {
                let before = made(sandbox, moment);
                let watch = Instant::now();
                while made(sandbox, moment) == before {
                    assert!(
                        watch.elapsed() < Duration::from_secs(30) && proc.exited().is_none(),
                        "nothing was created within 30 s of {moment:?} ({saw}); the end of the log:\n{}",
                        tail(&proc.log_text(), 40)
                    );
                    std::thread::yield_now();
                }
                proc.kill();
                // The record locks the dead process left (its worker id is
                // `<host>-<pid>-<random>`, a lock's owner `<worker id>:<job>`).
                let locks: &'static str = Box::leak(
                    format!(
                        "SELECT COUNT(*) FROM sync_locks WHERE owner LIKE '%-{}-%'",
                        proc.child.id()
                    )
                    .into_boxed_str(),
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
                format!(
                    "{saw}; {before} records there and one more just made; {} record locks left behind",
                    scalar(store, locks).await
                )
            }
        };
        return Kill {
            moment,
            at: started.elapsed(),
            saw,
        };
    }
}

/// Requests per route since start, from a sandbox's `/_sandbox/counters` at `pointer`
/// (GHL: `/locations/<id>/by_route`; Lofty: `/callers/total/by_route`).
async fn routes(http: &reqwest::Client, url: String, pointer: &str) -> HashMap<String, u64> {
    let seen: Value = http
        .get(url)
        .send()
        .await
        .expect("counters")
        .json()
        .await
        .expect("JSON");
    seen.pointer(pointer)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(route, n)| (route.clone(), n.as_u64().unwrap_or(0)))
        .collect()
}

fn count_route(routes: &HashMap<String, u64>, wanted: impl Fn(&str) -> bool) -> u64 {
    routes
        .iter()
        .filter(|(r, _)| wanted(r))
        .map(|(_, n)| n)
        .sum()
}

fn normalised(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The GHL location's contacts: id -> email.
fn ghl_contacts(sandbox: &Sandbox) -> HashMap<String, String> {
    sandbox.ghl().with_world(|w| {
        w.locations[0]
            .contacts
            .values()
            .map(|c| {
                let email = c.fields.get("email").and_then(Value::as_str).unwrap_or("");
                (c.id.clone(), normalised(email))
            })
            .collect()
    })
}

/// The Lofty account's leads (not in the trash): id -> first email.
fn lofty_leads(sandbox: &Sandbox) -> HashMap<String, String> {
    sandbox.lofty().with_world(|w| {
        w.leads
            .values()
            .filter(|l| l.trashed.is_none())
            .map(|l| {
                let email = l
                    .fields
                    .get("emails")
                    .and_then(|e| e.get(0))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                (l.lead_id.to_string(), normalised(email))
            })
            .collect()
    })
}

/// Emails held by more than one record (or blank), with how many hold them.
fn duplicated(records: &HashMap<String, String>) -> Vec<(String, usize)> {
    let mut by_email: HashMap<&str, usize> = HashMap::new();
    for email in records.values() {
        *by_email.entry(email.as_str()).or_default() += 1;
    }
    let mut out: Vec<(String, usize)> = by_email
        .into_iter()
        .filter(|(e, n)| *n > 1 || e.is_empty())
        .map(|(e, n)| (e.to_owned(), n))
        .collect();
    out.sort();
    out
}

async fn all_pairs(store: &Store) -> Vec<store::PairRow> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store.pairs(FLOW, after, 1_000).await.expect("pairs");
        let Some((last, _)) = page.last() else {
            return out;
        };
        after = *last;
        out.extend(page.into_iter().map(|(_, p)| p));
    }
}

async fn backfill_survives_sigkills(backend: Backend, plan: Plan) {
    let _one_at_a_time = SERIAL.lock().await;
    let size = Size::from_env();
    let (key_hex, ring) = master_key();
    let Some(db) = test_store(backend, ring).await else {
        return;
    };
    let (store, dir) = (&db.store, &db.dir);
    let setup = Instant::now();
    let real_limits = testkit::soak() && matches!(plan, Plan::Targeted);

    // The sandbox, in this process: GHL seeds person(0..contacts), Lofty
    // person(contacts/2 .. contacts/2 + contacts); the rest of the leads continue it.
    let sandbox = Sandbox::start(SandboxConfig {
        contacts_per_location: size.contacts,
        locations: 1,
        // A soak run of the targeted kills keeps GHL's real limits (the sandbox's
        // default); the random kills run with the limits off.
        rate: if real_limits {
            RateLimitConfig::default()
        } else {
            RateLimitConfig {
                window: Duration::from_secs(10),
                max_per_window: u32::MAX,
                daily: u32::MAX,
            }
        },
        ..SandboxConfig::default()
    })
    .await
    .expect("the sandbox starts");
    if !real_limits {
        sandbox
            .lofty()
            .set_rate(Duration::from_secs(60), u32::MAX, u32::MAX);
    }
    let info = sandbox.info().clone();
    let location = info.ghl.locations[0].clone();
    let http = sandbox::ghl::http_client();
    let control = async |url: String, body: Value| {
        let resp = http.post(&url).json(&body).send().await.expect(&url);
        assert!(resp.status().is_success(), "{url}: {}", resp.status());
    };
    control(
        format!("{}/_sandbox/seed", info.lofty.base_url),
        json!({"leads": size.leads - size.contacts}),
    )
    .await;
    control(
        format!(
            "{}/_sandbox/locations/{}/settings",
            info.ghl.base_url, location.id
        ),
        json!({"allowDuplicateContact": true}),
    )
    .await;

    // What the sandbox holds before the sync, counted there.
    let (contacts, leads) = (ghl_contacts(&sandbox), lofty_leads(&sandbox));
    let ghl_emails: HashSet<&String> = contacts.values().collect();
    let shared = leads.values().filter(|e| ghl_emails.contains(e)).count();
    assert_eq!(
        (contacts.len(), leads.len(), shared),
        (size.contacts, size.leads, size.shared()),
        "the seeded world: GHL contacts, Lofty leads, emails on both"
    );
    assert!(duplicated(&contacts).is_empty() && duplicated(&leads).is_empty());

    // Connect both (a PIT that writes contacts, the Lofty owner's API key) and enable
    // the recipe through the CLI.
    let ghl_conn = engine::connections::connect_pit(
        store,
        &url::Url::parse(&info.ghl.base_url).expect("a URL"),
        &location.id,
        &SecretString::from(location.token.clone()),
        "contacts.readonly contacts.write",
    )
    .await
    .expect("connect GHL");
    let lofty_conn = engine::connections::connect_lofty_key(
        store,
        &url::Url::parse(&info.lofty.base_url).expect("a URL"),
        &SecretString::from(info.lofty.api_key.clone()),
    )
    .await
    .expect("connect Lofty");
    // A killed process's leases come back after 3 s; no reconciliation walk.
    std::fs::write(
        dir.join("ghlsync.toml"),
        "[worker]\nlease_ms = 3000\nreconcile_every_secs = 0\n",
    )
    .expect("ghlsync.toml");
    let unused = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let public_url = format!("http://{}", unused.local_addr().expect("addr"));
    drop(unused);
    let mut env = vec![
        ("GHLSYNC_DATA_DIR", dir.display().to_string()),
        ("GHLSYNC_MASTER_KEY", key_hex.clone()),
        ("GHLSYNC_LOG", "warn".to_owned()),
        ("GHLSYNC_GHL_BASE_URL", info.ghl.base_url.clone()),
        ("GHLSYNC_LOFTY_BASE_URL", info.lofty.base_url.clone()),
        ("GHLSYNC_PUBLIC_URL", public_url),
    ];
    if let Some(url) = &db.url {
        env.push(("GHLSYNC_DATABASE_URL", url.clone()));
    }
    Proc::spawn(
        "enable",
        &[
            "flows",
            "enable",
            FLOW,
            "--ghl",
            &ghl_conn,
            "--lofty",
            &lofty_conn,
        ],
        &env,
        dir,
    )
    .wait_success(Duration::from_secs(60))
    .await;
    let setup = setup.elapsed();

    // The backfill, SIGKILLed while paging Lofty, early in the sync and late in it.
    let started = Instant::now();
    let leads_paged = size.leads as u64;
    let moments: Vec<Moment> = match plan {
        Plan::Targeted => vec![
            Moment::PagingLofty(leads_paged * 3 / 10),
            Moment::LoftyLeadMade(size.jobs() / 10),
            Moment::GhlContactMade(size.jobs() * 3 / 5),
        ],
        Plan::Random(n) => (0..n)
            .map(|_| Moment::After(Duration::from_millis(rand::random_range(400..2_400))))
            .collect(),
    };
    let run = |n: usize| {
        Proc::spawn(
            &format!("flows-run-{n}"),
            &["flows", "run", FLOW],
            &env,
            dir,
        )
    };
    let mut kills = Vec::new();
    let mut logs = Vec::new();
    let mut paged = 0;
    for (n, &moment) in moments.iter().enumerate() {
        let mut proc = run(n);
        kills.push(
            kill_at(
                &mut proc,
                store,
                &sandbox,
                moment,
                started,
                Duration::from_secs(300) * testkit::soak_factor(),
            )
            .await,
        );
        logs.push(proc.log_text());
        if n == 1 && matches!(plan, Plan::Targeted) {
            // Paging ended in this run, and no create had been lost yet: the lead
            // pages read so far are the paging's (after a lost create, the engine
            // looks for what it may have made through the same list, by email).
            let routes = routes(
                &http,
                format!("{}/_sandbox/counters", info.lofty.base_url),
                "/callers/total/by_route",
            )
            .await;
            paged = count_route(&routes, |r| r.starts_with("GET") && r.ends_with("/leads"));
        }
    }
    let mut last = run(moments.len());
    last.wait_success(Duration::from_secs(600) * testkit::soak_factor())
        .await;
    let took = started.elapsed();
    let last_log = last.log_text();
    drop(last);

    // What the sandbox and the store hold now.
    let (contacts, leads) = (ghl_contacts(&sandbox), lofty_leads(&sandbox));
    let (ghl_dups, lofty_dups) = (duplicated(&contacts), duplicated(&leads));
    let pairs = all_pairs(store).await;
    let mut in_links: HashMap<(&str, &str), usize> = HashMap::new();
    let mut mismatched = Vec::new();
    let mut dangling = Vec::new();
    for p in &pairs {
        *in_links.entry(("ghl", &p.left_id)).or_default() += 1;
        *in_links.entry(("lofty", &p.right_id)).or_default() += 1;
        match (contacts.get(&p.left_id), leads.get(&p.right_id)) {
            (Some(g), Some(l)) if g == l => {}
            (Some(g), Some(l)) => {
                mismatched.push(format!("{} ({g}) <-> {} ({l})", p.left_id, p.right_id))
            }
            _ => dangling.push(format!("{} <-> {}", p.left_id, p.right_id)),
        }
    }
    let unlinked_contacts: Vec<&String> = contacts
        .iter()
        .filter(|(id, _)| in_links.get(&("ghl", id.as_str())) != Some(&1))
        .map(|(_, e)| e)
        .collect();
    let unlinked_leads: Vec<&String> = leads
        .iter()
        .filter(|(id, _)| in_links.get(&("lofty", id.as_str())) != Some(&1))
        .map(|(_, e)| e)
        .collect();
    let dead = scalar(store, FLOW_RUNS_DEAD).await;
    let retried = scalar(store, FLOW_RUNS_RETRIED).await;
    let dead_errors: Vec<String> = store
        .dead_letters(20)
        .await
        .expect("dead letters")
        .into_iter()
        .filter(|j| j.kind == "flow.run")
        .map(|j| {
            format!(
                "#{} {} attempts {}: {}",
                j.id,
                j.payload,
                j.attempts,
                j.last_error.unwrap_or_default()
            )
        })
        .collect();
    // The pages read: GHL's search and Lofty's lead list, across all the runs.
    let ghl_routes = routes(
        &http,
        format!("{}/_sandbox/counters", info.ghl.base_url),
        &format!("/locations/{}/by_route", location.id),
    )
    .await;
    let lofty_routes = routes(
        &http,
        format!("{}/_sandbox/counters", info.lofty.base_url),
        "/callers/total/by_route",
    )
    .await;
    let ghl_pages = count_route(&ghl_routes, |r| r.contains("search"));
    let lofty_pages = count_route(&lofty_routes, |r| {
        r.starts_with("GET") && r.ends_with("/leads")
    });
    let lofty_page_count = leads_paged.div_ceil(100);
    let ghl_creates = count_route(&ghl_routes, |r| r == "POST /contacts/");
    let lofty_creates = count_route(&lofty_routes, |r| r == "POST /v1.0/leads");

    eprintln!(
        "backfill crash test ({backend:?}): {} GHL contacts and {} Lofty leads ({} shared) in {:.1} s of setup; \
         backfill with {} SIGKILLs {:.1} s; kills: {}; \
         after: GHL {} contacts ({} emails duplicated), Lofty {} leads ({} emails duplicated), {} links \
         ({} joining different emails, {} to records the sandbox lacks), {} GHL contacts and {} Lofty leads not in exactly one link; \
         flow.run jobs: {dead} dead, {retried} ran more than once; pages read: GHL {ghl_pages}, Lofty {lofty_pages} (of {lofty_page_count}); \
         creates: GHL {ghl_creates} (of {}), Lofty {lofty_creates} (of {}); \
         last run said: {}",
        size.contacts,
        size.leads,
        size.shared(),
        setup.as_secs_f64(),
        kills.len(),
        took.as_secs_f64(),
        kills
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        contacts.len(),
        ghl_dups.len(),
        leads.len(),
        lofty_dups.len(),
        pairs.len(),
        mismatched.len(),
        dangling.len(),
        unlinked_contacts.len(),
        unlinked_leads.len(),
        size.leads - size.shared(),
        size.contacts - size.shared(),
        tail(&last_log, 3).replace('\n', " | "),
    );
    // Every check, so that a failure shows all that is wrong at once.
    let people = size.people();
    let mut wrong = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            wrong.push(what);
        }
    };
    check(
        ghl_dups.is_empty(),
        format!("GHL contacts sharing an email: {ghl_dups:?}"),
    );
    check(
        lofty_dups.is_empty(),
        format!("Lofty leads sharing an email: {lofty_dups:?}"),
    );
    check(
        contacts.len() == people,
        format!("GHL holds {} contacts, not {people}", contacts.len()),
    );
    check(
        leads.len() == people,
        format!("Lofty holds {} leads, not {people}", leads.len()),
    );
    check(
        pairs.len() == people,
        format!("{} links, not {people}", pairs.len()),
    );
    check(
        mismatched.is_empty(),
        format!("links joining different emails: {mismatched:?}"),
    );
    check(
        dangling.is_empty(),
        format!("links to records the sandbox lacks: {dangling:?}"),
    );
    check(
        unlinked_contacts.is_empty(),
        format!("GHL contacts not in exactly one link (their emails): {unlinked_contacts:?}"),
    );
    check(
        unlinked_leads.is_empty(),
        format!("Lofty leads not in exactly one link (their emails): {unlinked_leads:?}"),
    );
    check(
        dead == 0,
        format!("{dead} flow.run jobs dead: {dead_errors:#?}"),
    );
    // The paging kill lands while a page is in flight: at most that page is read
    // twice; a checkpoint not resumed would read the first 30% again.
    check(
        !matches!(plan, Plan::Targeted) || paged <= lofty_page_count + 1,
        format!(
            "{paged} Lofty lead pages read for {lofty_page_count}: the paging checkpoint was not resumed; the runs' logs:\n{}",
            logs.join("\n----\n")
        ),
    );
    assert!(
        wrong.is_empty(),
        "after {} SIGKILLs and a finished backfill ({backend:?}):\n- {}",
        kills.len(),
        wrong.join("\n- ")
    );

    sandbox.shutdown().await;
    db.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_survives_three_sigkills_sqlite() {
    backfill_survives_sigkills(Backend::Sqlite, Plan::Targeted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_survives_three_sigkills_postgres() {
    backfill_survives_sigkills(Backend::Postgres, Plan::Targeted).await;
}

/// The reliability suite's crash run: 20 SIGKILLs at random moments. Run by
/// `./scripts/test.sh --soak` (a few minutes per backend).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the soak run's: ./scripts/test.sh --soak"]
async fn backfill_survives_twenty_random_sigkills_sqlite() {
    backfill_survives_sigkills(Backend::Sqlite, Plan::Random(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the soak run's: ./scripts/test.sh --soak"]
async fn backfill_survives_twenty_random_sigkills_postgres() {
    backfill_survives_sigkills(Backend::Postgres, Plan::Random(20)).await;
}
