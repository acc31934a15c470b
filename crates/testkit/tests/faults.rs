//! The fault mix of the reliability suite: both sandboxes answer 10% of API calls
//! with 500, 5% with 429, time out 2% (the call is applied, then nothing comes
//! back within the engine's timeout) and reset 2% mid-answer (applied, then the
//! body breaks off); GHL also loses the answer of 5% of its applied writes (500
//! after the commit). A two-way contacts sync runs its backfill through all of
//! it. Afterwards every person is exactly once on each side, nothing is
//! dead-lettered, and the history names the failure behind each retry.

use std::time::Duration;

use serde_json::{Value, json};
use testkit::{Backend, Spec, TestApp, spawn_app_configured};

/// The mix, for one sandbox.
fn mix(ghl: bool) -> Value {
    let mut faults = json!({
        "error_rate": 0.10,
        "rate_429": 0.05,
        "timeout_rate": 0.02,
        "timeout_ms": 1_500,
        "reset_rate": 0.02,
    });
    if ghl {
        faults["lost_answer_rate"] = json!(0.05);
    }
    faults
}

async fn set_faults(app: &TestApp, base: &str, faults: Option<Value>) {
    let url = format!("{base}/_sandbox/faults");
    let resp = match faults {
        Some(f) => app.http.post(url).json(&f).send().await,
        None => app.http.delete(url).send().await,
    }
    .expect("the sandbox takes its faults");
    assert!(
        resp.status().is_success(),
        "faults refused: {}",
        resp.status()
    );
}

fn lofty_base(app: &TestApp) -> String {
    app.sandbox
        .info()
        .lofty
        .base_url
        .trim_end_matches('/')
        .to_owned()
}

/// Lower-cased emails held more than once.
fn repeated(emails: &[String]) -> Vec<String> {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for e in emails {
        *seen.entry(e.trim().to_lowercase()).or_default() += 1;
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(e, _)| e)
        .collect()
}

fn ghl_emails(app: &TestApp) -> Vec<String> {
    app.sandbox.ghl().with_world(|w| {
        w.locations[0]
            .contacts
            .values()
            .filter_map(|c| c.fields.get("email").and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    })
}

fn lofty_emails(app: &TestApp) -> Vec<String> {
    app.sandbox.lofty().with_world(|w| {
        w.leads
            .values()
            .filter(|l| l.trashed.is_none())
            .filter_map(|l| {
                l.fields
                    .get("emails")
                    .and_then(|e| e.get(0))
                    .and_then(Value::as_str)
            })
            .map(str::to_owned)
            .collect()
    })
}

/// The sandbox's faults do what they say, as a client sees them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_faults_look_like_the_network_failing() {
    let Some(app) = spawn_app_configured(Spec::default(), |_| {}).await else {
        return;
    };
    let token = app.location(0).token.clone();
    let location = app.location(0).id.clone();
    let url = format!("{}/contacts/?locationId={location}&limit=1", app.ghl_base());
    let get = |timeout: Duration| {
        app.http
            .get(&url)
            .bearer_auth(&token)
            .header("Version", "2021-07-28")
            .timeout(timeout)
            .send()
    };
    set_faults(&app, &app.ghl_base(), Some(json!({"rate_429": 1.0}))).await;
    let r = get(Duration::from_secs(5)).await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("x-ratelimit-remaining"));

    set_faults(&app, &app.ghl_base(), Some(json!({"reset_rate": 1.0}))).await;
    let r = get(Duration::from_secs(5)).await.unwrap();
    assert_eq!(r.status(), 200, "the status and headers come through");
    let body = r.bytes().await.expect_err("the body breaks off");
    let err = wire::TransportError::new("GHL", None, body);
    assert_eq!(err.kind(), wire::TransportKind::Body);
    // A write's broken answer may have been applied: not repeated by the client's
    // class (the sync runner repeats its own writes, which look first); a read's is.
    assert_eq!(err.retry_class(), wire::RetryClass::GiveUp);
    assert_eq!(
        err.of_method(wire::Method::Get).retry_class(),
        wire::RetryClass::Retry
    );

    set_faults(
        &app,
        &app.ghl_base(),
        Some(json!({"timeout_rate": 1.0, "timeout_ms": 2_000})),
    )
    .await;
    let e = get(Duration::from_millis(300))
        .await
        .expect_err("no answer");
    assert!(e.is_timeout(), "{e}");

    let r = app
        .http
        .post(format!("{}/_sandbox/faults", app.ghl_base()))
        .json(&json!({"reset_rate": 1.5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("reset_rate must be between 0 and 1")
    );
    let r = app
        .http
        .post(format!("{}/_sandbox/faults", lofty_base(&app)))
        .json(&json!({"timeout_rate": 2.0}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("timeout_rate must be between 0 and 1")
    );
    app.shutdown().await;
}

/// Runs the queue until it is empty, the store's clock moved on to each retry's
/// time (backoff reaches minutes) while the sandboxes run in real time. Returns
/// the rounds it took.
async fn settle(app: &TestApp) -> usize {
    for round in 0..400 {
        app.drain().await;
        let s = app.store.queue_stats().await.unwrap();
        if s.queued == 0 && s.running == 0 {
            return round;
        }
        app.store.advance_clock(Duration::from_secs(120));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the queue did not settle: {:?}",
        app.store.queue_stats().await
    );
}

/// The backfill's walk of both sides, as `ghlsync flows enable` runs it (a page
/// that fails stops it with the error, and running it again resumes from the last
/// page stored), then its jobs queued. Returns how often the walk was run again.
async fn walk_and_enqueue(app: &TestApp, row: &store::FlowRow) -> usize {
    let flow = engine::sync::Flow {
        spec: engine::sync::build(row).unwrap(),
        row: row.clone(),
    };
    let mut walk_failures = 0;
    for side in [domain::sync::Side::Left, domain::sync::Side::Right] {
        while let Err(e) =
            engine::sync::backfill::index_side(app.connectors(), &flow, side, |_| {}).await
        {
            walk_failures += 1;
            assert!(walk_failures < 50, "the walk never got through: {e}");
        }
    }
    engine::sync::backfill::enqueue(&app.store, &flow)
        .await
        .unwrap();
    walk_failures
}

async fn the_fault_mix_loses_and_duplicates_nothing(backend: Backend) {
    // GHL seeds people 0..30, Lofty 15..45: 15 creates each way, 15 matched.
    let mut spec = Spec::default().on(backend);
    spec.sandbox.contacts_per_location = 30;
    // A 429 holds a location (GHL) or a credential (Lofty) until its window ends:
    // the windows compressed to 1 s, as the benchmarks do, the limits out of the way
    // (the faults' own 429s remain).
    spec.sandbox.rate.window = Duration::from_secs(1);
    spec.sandbox.rate.max_per_window = 10_000;
    let Some(app) = spawn_app_configured(spec, |c| {
        c.worker.http_timeout_secs = Some(1);
    })
    .await
    else {
        eprintln!("skipped: PostgreSQL is not available (set GHLSYNC_DATABASE_URL)");
        return;
    };
    app.sandbox
        .lofty()
        .set_rate(Duration::from_secs(1), 10_000, 10_000);
    let (_, _, row) = app.enable_contacts_sync().await;
    let truth: std::collections::BTreeSet<String> = ghl_emails(&app)
        .into_iter()
        .chain(lofty_emails(&app))
        .map(|e| e.trim().to_lowercase())
        .collect();
    assert_eq!(truth.len(), 45, "the ground truth: 45 people");

    set_faults(&app, &app.ghl_base(), Some(mix(true))).await;
    set_faults(&app, &lofty_base(&app), Some(mix(false))).await;
    let walk_failures = walk_and_enqueue(&app, &row).await;
    let rounds = settle(&app).await;
    set_faults(&app, &app.ghl_base(), None).await;
    set_faults(&app, &lofty_base(&app), None).await;
    settle(&app).await;

    let failed = assert_exactly_once(&app, &truth, &row.id).await;
    let kinds = |needle: &str| failed.iter().filter(|f| f.reason.contains(needle)).count();
    eprintln!(
        "fault mix: the backfill walk was run again {walk_failures} times; the queue settled in {rounds} rounds"
    );
    eprintln!(
        "fault mix: {} failed writes in the history ({} timed out, {} broke off, {} 5xx/other), {} pairs",
        failed.len(),
        kinds("timed out"),
        kinds("may have been applied"),
        failed.len() - kinds("timed out") - kinds("may have been applied"),
        45
    );
    app.shutdown().await;
}

/// Every person of `truth` exactly once on each side, one pair each, nothing
/// dead-lettered, and each failed write in the history explained and followed by a
/// sync of the same record. Returns the failed entries.
async fn assert_exactly_once(
    app: &TestApp,
    truth: &std::collections::BTreeSet<String>,
    flow: &str,
) -> Vec<store::HistoryEntry> {
    let (ghl, lofty) = (ghl_emails(app), lofty_emails(app));
    assert!(
        repeated(&ghl).is_empty(),
        "GHL duplicates: {:?}",
        repeated(&ghl)
    );
    assert!(
        repeated(&lofty).is_empty(),
        "Lofty duplicates: {:?}",
        repeated(&lofty)
    );
    let on = |side: &[String]| -> std::collections::BTreeSet<String> {
        side.iter().map(|e| e.trim().to_lowercase()).collect()
    };
    let dead: Vec<_> = app
        .store
        .dead_letters(10)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.kind, j.attempts, j.last_error))
        .collect();
    for (name, side) in [("GHL", on(&ghl)), ("Lofty", on(&lofty))] {
        let missing: Vec<_> = truth.difference(&side).cloned().collect();
        let mut story = Vec::new();
        for who in &missing {
            for h in app.store.history(who, 50).await.unwrap() {
                story.push(format!("{who}: {} {} ({})", h.decision, h.reason, h.source));
            }
        }
        assert!(
            missing.is_empty(),
            "{name} lacks {missing:?}; dead letters {dead:?}; history:\n{}",
            story.join("\n")
        );
    }
    assert_eq!(
        app.store.count_pairs(flow).await.unwrap(),
        i64::try_from(truth.len()).unwrap()
    );
    assert!(dead.is_empty(), "dead-lettered: {dead:?}");

    // Each retry is explained: a `failed` entry naming what failed, and the record
    // it was about synced afterwards.
    let history = app.store.runs(flow, 10_000).await.unwrap();
    let failed: Vec<_> = history
        .iter()
        .filter(|h| h.decision == "failed")
        .cloned()
        .collect();
    assert!(
        failed.len() >= 3,
        "a fault mix this heavy fails some writes: {} failed entries",
        failed.len()
    );
    for f in &failed {
        assert!(!f.reason.is_empty(), "a failure without a reason: {f:?}");
        assert!(
            history
                .iter()
                .any(|h| h.source == f.source && h.at >= f.at && h.decision != "failed"),
            "{} failed ({}) and was never synced after",
            f.source,
            f.reason
        );
    }
    failed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_fault_mix_loses_and_duplicates_nothing() {
    the_fault_mix_loses_and_duplicates_nothing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_fault_mix_loses_and_duplicates_nothing() {
    the_fault_mix_loses_and_duplicates_nothing(Backend::Postgres).await;
}

/// The OAuth access tokens GHL holds for `location` and has not revoked.
fn access_tokens(app: &TestApp, location: &str) -> Vec<String> {
    app.sandbox.ghl().with_world(|w| {
        w.tokens
            .iter()
            .filter(|(_, g)| {
                g.kind == sandbox::ghl::state::TokenKind::OAuth
                    && !g.revoked
                    && g.location_id.as_deref() == Some(location)
            })
            .map(|(t, _)| t.clone())
            .collect()
    })
}

/// The fault mix again, on a GHL OAuth connection whose tokens GHL revokes during
/// the run: first the access token (the engine refreshes and goes on), then every
/// token of the location, refresh token included (the connection turns
/// `needs_reauth`, its jobs wait, nothing dies), then the user reconnects and the
/// sync finishes. Every person still arrives exactly once.
async fn tokens_revoked_mid_run_lose_nothing(backend: Backend) {
    let mut spec = Spec::default().on(backend);
    spec.sandbox.contacts_per_location = 30;
    spec.sandbox.rate.window = Duration::from_secs(1);
    spec.sandbox.rate.max_per_window = 10_000;
    let Some(app) = spawn_app_configured(spec, |c| {
        c.worker.http_timeout_secs = Some(1);
    })
    .await
    else {
        eprintln!("skipped: PostgreSQL is not available (set GHLSYNC_DATABASE_URL)");
        return;
    };
    app.sandbox
        .lofty()
        .set_rate(Duration::from_secs(1), 10_000, 10_000);
    let ghl = app.connect_ghl_oauth(0).await.remove(0);
    let lofty = app.connect_lofty_key().await;
    app.drain().await;
    let row = engine::sync::enable_recipe(app.connectors(), "lofty-ghl-contacts", &ghl, &lofty)
        .await
        .expect("the recipe enables on an OAuth connection");
    let truth: std::collections::BTreeSet<String> = ghl_emails(&app)
        .into_iter()
        .chain(lofty_emails(&app))
        .map(|e| e.trim().to_lowercase())
        .collect();
    assert_eq!(truth.len(), 45, "the ground truth: 45 people");
    let location = app.location(0).id.clone();

    set_faults(&app, &app.ghl_base(), Some(mix(true))).await;
    set_faults(&app, &lofty_base(&app), Some(mix(false))).await;
    walk_and_enqueue(&app, &row).await;
    // A worker that takes 4 jobs a round, so the run is still going when GHL
    // revokes the tokens.
    let worker = app.worker_with("tokens", |c| {
        c.worker.batch = Some(4);
        c.worker.concurrency = Some(4);
    });
    let mut stats = engine::worker::WorkerStats::default();
    for _ in 0..2 {
        worker.tick(&mut stats).await.unwrap();
    }

    // 1. The access token is revoked: the next call answers 401, the engine
    //    refreshes (a new access and refresh token) and goes on.
    let refreshed = app.sandbox.ghl().oauth_counter().refreshed;
    let revoked = access_tokens(&app, &location);
    assert!(!revoked.is_empty(), "the connection holds an access token");
    for token in &revoked {
        app.sandbox_control("/_sandbox/tokens/revoke", json!({"token": token}))
            .await;
    }
    let conn_status = async || app.store.connection(&ghl).await.unwrap().unwrap().status;
    for round in 0.. {
        worker.tick(&mut stats).await.unwrap();
        if app.sandbox.ghl().oauth_counter().refreshed > refreshed {
            break;
        }
        assert!(round < 200, "the engine never refreshed the revoked token");
        app.store.advance_clock(Duration::from_secs(120));
    }
    assert_eq!(conn_status().await, store::ConnectionStatus::Active);
    for _ in 0..2 {
        worker.tick(&mut stats).await.unwrap();
    }

    // 2. Every token of the location is revoked, the refresh token too: the
    //    connection turns needs_reauth and the jobs that need it wait.
    app.sandbox_control(
        "/_sandbox/tokens/revoke-all",
        json!({"location_id": location}),
    )
    .await;
    for round in 0.. {
        worker.tick(&mut stats).await.unwrap();
        if conn_status().await == store::ConnectionStatus::NeedsReauth {
            break;
        }
        let q = app.store.queue_stats().await.unwrap();
        assert!(
            q.queued + q.running > 0,
            "the run ended before it needed GHL again"
        );
        assert!(round < 200, "the connection never turned needs_reauth");
        app.store.advance_clock(Duration::from_secs(120));
    }
    for _ in 0..5 {
        app.drain().await;
        app.store.advance_clock(Duration::from_secs(120));
    }
    let q = app.store.queue_stats().await.unwrap();
    assert!(q.queued > 0, "jobs wait for the user: {q:?}");
    assert_eq!(q.dead, 0, "nothing dies while it waits: {q:?}");
    assert_eq!(conn_status().await, store::ConnectionStatus::NeedsReauth);

    // 3. The user reconnects (GHL's faults paused for the consent page, which a
    //    user would simply load again); the held jobs run and the sync finishes.
    set_faults(&app, &app.ghl_base(), None).await;
    assert_eq!(app.connect_ghl_oauth(0).await, vec![ghl.clone()]);
    assert_eq!(conn_status().await, store::ConnectionStatus::Active);
    set_faults(&app, &app.ghl_base(), Some(mix(true))).await;
    settle(&app).await;
    set_faults(&app, &app.ghl_base(), None).await;
    set_faults(&app, &lofty_base(&app), None).await;
    settle(&app).await;
    let failed = assert_exactly_once(&app, &truth, &row.id).await;
    let oauth = app.sandbox.ghl().oauth_counter();
    eprintln!(
        "tokens: {} refreshes, {} refresh tokens refused, {} failed writes in the history",
        oauth.refreshed,
        oauth.refresh_rejected,
        failed.len()
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tokens_revoked_mid_run_lose_nothing() {
    tokens_revoked_mid_run_lose_nothing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tokens_revoked_mid_run_lose_nothing() {
    tokens_revoked_mid_run_lose_nothing(Backend::Postgres).await;
}
