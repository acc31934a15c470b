//! The store test suite, run against SQLite and against PostgreSQL.
//!
//! PostgreSQL comes from `GHLSYNC_DATABASE_URL` (`scripts/test.sh` starts one). In CI
//! (`CI=true`) a missing or unreachable PostgreSQL fails these tests; elsewhere they
//! are skipped with a one-line reason.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use domain::{AuthKind, System};
use secrecy::SecretString;
use serde_json::json;
use store::*;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

fn ring() -> Keyring {
    Keyring::new(MasterKey::from_bytes([42; 32]))
}

async fn sqlite() -> (Store, StoreOptions) {
    let dir = std::env::temp_dir().join(unique("ghlsync_store"));
    let opts = StoreOptions::sqlite(&dir);
    (
        Store::open_with_keyring(&opts, ring())
            .await
            .expect("sqlite store opens"),
        opts,
    )
}

async fn postgres() -> Option<(Store, StoreOptions)> {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    let Ok(url) = std::env::var("GHLSYNC_DATABASE_URL") else {
        assert!(
            !ci,
            "CI=true but GHLSYNC_DATABASE_URL is not set: PostgreSQL tests must run in CI (scripts/test.sh starts it)"
        );
        eprintln!(
            "skipped: GHLSYNC_DATABASE_URL not set (run ./scripts/test.sh to start PostgreSQL)"
        );
        return None;
    };
    let mut opts = StoreOptions::postgres(url, std::env::temp_dir().join(unique("ghlsync_pg")));
    opts.pg_schema = Some(unique("t"));
    match Store::open_with_keyring(&opts, ring()).await {
        Ok(s) => Some((s, opts)),
        Err(e) if !ci => {
            eprintln!("skipped: PostgreSQL unreachable: {e}");
            None
        }
        Err(e) => panic!("CI=true and PostgreSQL is unreachable: {e}"),
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (s, o) = super::sqlite().await;
                super::$name(s, o).await;
            })*
        }
        mod postgres_backend {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some((s, o)) = super::postgres().await else { return };
                super::$name(s, o).await;
            })*
        }
    };
}

suite!(
    connections_and_status,
    secrets_are_encrypted_at_rest,
    vault_rotation_reencrypts_everything,
    enqueue_is_idempotent_by_key,
    claim_complete_writes_run_log_exactly_once,
    expired_leases_are_reclaimed,
    failures_follow_their_retry_class,
    dead_letters_replay,
    reauth_holds_jobs_until_reconnect,
    a_job_waits_for_the_connection_it_needs,
    reauth_without_a_connection_backs_off,
    concurrent_claims_never_share_a_job,
    journal_dedupes_and_enqueues_atomically,
    sync_state_pairs_index_history_reviews_locks,
    links_echoes_cursors,
    shared_rate_budget,
    refresh_is_serialised_per_connection,
    rejected_refresh_marks_needs_reauth,
    a_refresh_in_flight_blocks_no_other_write,
    a_reconnect_during_a_refresh_wins,
    connect_flows_are_single_use_hashed_and_pruned,
    webhook_keys_are_stable_and_find_their_connection,
    connection_names_are_unique_and_stable,
    find_connection_takes_an_id_or_a_name,
    base_url_is_a_column_and_old_secrets_move_into_it,
    run_log_records_the_job_kind_and_the_flow,
    an_unknown_status_is_an_error_naming_it,
);

fn conn(id: &str) -> NewConnection {
    NewConnection {
        id: id.to_owned(),
        name: None,
        system: System::Ghl,
        kind: AuthKind::Oauth,
        location_id: Some("loc1".to_owned()),
        company_id: None,
        base_url: None,
        scopes: "contacts.readonly contacts.write".to_owned(),
    }
}

/// A connection `id` holding an access and a refresh token that expire at `expires_at`.
async fn connected_with_tokens(s: &Store, id: &str, access: &str, refresh: &str, expires_at: i64) {
    s.upsert_connection(&conn(id)).await.unwrap();
    s.put_tokens(
        id,
        &TokenSet {
            access: secret(access),
            refresh: Some(secret(refresh)),
            expires_at: Some(expires_at),
        },
    )
    .await
    .unwrap();
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

async fn connections_and_status(s: Store, _o: StoreOptions) {
    let c = s.upsert_connection(&conn("c1")).await.unwrap();
    assert_eq!(c.status, ConnectionStatus::Active);
    s.set_connection_status(
        "c1",
        ConnectionStatus::NeedsReauth,
        Some("refresh token revoked"),
    )
    .await
    .unwrap();
    let c = s.connection("c1").await.unwrap().unwrap();
    assert_eq!(c.status, ConnectionStatus::NeedsReauth);
    assert_eq!(c.status_reason.as_deref(), Some("refresh token revoked"));
    // Reconnecting makes it active again.
    let c = s.upsert_connection(&conn("c1")).await.unwrap();
    assert_eq!(c.status, ConnectionStatus::Active);
    assert_eq!(s.connections().await.unwrap().len(), 1);
    assert!(s.connection("nope").await.unwrap().is_none());
}

async fn secrets_are_encrypted_at_rest(s: Store, o: StoreOptions) {
    s.upsert_connection(&conn("c1")).await.unwrap();
    let plain = "plaintext-access-token-0123456789";
    s.put_secret("c1", "access_token", &secret(plain))
        .await
        .unwrap();
    assert_eq!(
        expose(&s.secret("c1", "access_token").await.unwrap().unwrap()),
        plain
    );
    let raw: i64 = s
        .scalar_i64("SELECT COUNT(*) FROM secrets WHERE ciphertext IS NOT NULL AND key_id <> ''")
        .await
        .unwrap();
    assert_eq!(raw, 1);
    if let Some(file) = Store::sqlite_file(&o) {
        s.close().await;
        let mut bytes = std::fs::read(&file).unwrap();
        if let Ok(wal) = std::fs::read(file.with_extension("db-wal")) {
            bytes.extend(wal);
        }
        assert!(
            !bytes.windows(plain.len()).any(|w| w == plain.as_bytes()),
            "plaintext found in the SQLite files"
        );
    }
}

async fn vault_rotation_reencrypts_everything(s: Store, _o: StoreOptions) {
    s.upsert_connection(&conn("c1")).await.unwrap();
    s.put_secret("c1", "access_token", &secret("a-token"))
        .await
        .unwrap();
    s.put_secret("c1", "refresh_token", &secret("r-token"))
        .await
        .unwrap();
    let new = MasterKey::from_bytes([9; 32]);
    let new_id = new.id().to_owned();
    assert_eq!(s.rotate_vault(Some(new)).await.unwrap(), 2);
    assert_eq!(s.vault_key_id().unwrap(), new_id);
    let under_new: i64 = s.scalar_i64("SELECT COUNT(*) FROM secrets").await.unwrap();
    assert_eq!(under_new, 2);
    assert_eq!(
        expose(&s.secret("c1", "refresh_token").await.unwrap().unwrap()),
        "r-token"
    );
    // Everything is now sealed by the new key: a keyring with only the new key opens it.
    let kids: i64 = s
        .scalar_i64("SELECT COUNT(DISTINCT key_id) FROM secrets")
        .await
        .unwrap();
    assert_eq!(kids, 1);
    assert_ne!(new_id, MasterKey::from_bytes([42; 32]).id());
}

async fn enqueue_is_idempotent_by_key(s: Store, _o: StoreOptions) {
    let a = s
        .enqueue(&NewJob::new("test", "k1", json!({"n": 1})))
        .await
        .unwrap();
    let b = s
        .enqueue(&NewJob::new("test", "k1", json!({"n": 2})))
        .await
        .unwrap();
    assert!(a.created);
    assert!(!b.created);
    assert_eq!(a.id, b.id);
    let job = s.job(a.id).await.unwrap().unwrap();
    assert_eq!(job.payload, json!({"n": 1}), "the first payload is kept");
    let many: Vec<NewJob> = (0..10)
        .map(|i| NewJob::new("test", format!("m{}", i % 5), json!({})))
        .collect();
    assert_eq!(s.enqueue_many(&many).await.unwrap(), 5);
    assert_eq!(s.queue_stats().await.unwrap().queued, 6);
}

fn log(job: &Job) -> RunLogEntry {
    RunLogEntry {
        job_id: Some(job.id),
        kind: job.kind.clone(),
        flow: "test".to_owned(),
        record: format!("test:{}", job.idempotency_key),
        outcome: "done".to_owned(),
        detail: "ok".to_owned(),
        duration_ms: 1,
        at: 0,
    }
}

async fn claim_complete_writes_run_log_exactly_once(s: Store, _o: StoreOptions) {
    for i in 0..5 {
        s.enqueue(&NewJob::new("test", format!("k{i}"), json!({"i": i})))
            .await
            .unwrap();
    }
    let jobs = s
        .claim("default", "w1", 3, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 3);
    assert!(jobs.iter().all(|j| j.status == JobStatus::Running
        && j.attempts == 1
        && j.lease_owner.as_deref() == Some("w1")));
    // Another worker gets the rest, not the leased ones.
    let others = s
        .claim("default", "w2", 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(others.len(), 2);
    assert!(
        s.claim("default", "w3", 10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );
    // Completing by the wrong worker does nothing.
    assert!(
        !s.complete("w2", jobs[0].id, Some(&log(&jobs[0])))
            .await
            .unwrap()
    );
    let items: Vec<(i64, Option<RunLogEntry>)> =
        jobs.iter().map(|j| (j.id, Some(log(j)))).collect();
    assert_eq!(s.complete_many("w1", &items).await.unwrap(), 3);
    assert_eq!(
        s.complete_many("w1", &items).await.unwrap(),
        0,
        "completing twice is a no-op"
    );
    assert!(
        s.complete("w2", others[0].id, Some(&log(&others[0])))
            .await
            .unwrap()
    );
    let counts = s.run_log_counts().await.unwrap();
    assert_eq!(counts.len(), 4);
    assert!(counts.iter().all(|(_, n)| *n == 1));
    assert_eq!(
        s.run_log(&format!("test:{}", jobs[1].idempotency_key))
            .await
            .unwrap()
            .len(),
        1
    );
    let st = s.queue_stats().await.unwrap();
    assert_eq!((st.done, st.running, st.queued), (4, 1, 0));
}

async fn expired_leases_are_reclaimed(s: Store, _o: StoreOptions) {
    let id = s
        .enqueue(&NewJob::new("test", "k", json!({})))
        .await
        .unwrap()
        .id;
    let first = s
        .claim("default", "dead-worker", 1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        s.claim("default", "w2", 1, Duration::from_secs(10))
            .await
            .unwrap()
            .is_empty()
    );
    // A heartbeat keeps it.
    s.advance_clock(Duration::from_secs(8));
    assert_eq!(
        s.heartbeat("dead-worker", &[id], Duration::from_secs(10))
            .await
            .unwrap(),
        1
    );
    // Only the jobs named are renewed: one the worker gave up on is left to expire.
    assert_eq!(
        s.heartbeat("dead-worker", &[id + 1000], Duration::from_secs(10))
            .await
            .unwrap(),
        0
    );
    s.advance_clock(Duration::from_secs(8));
    assert!(
        s.claim("default", "w2", 1, Duration::from_secs(10))
            .await
            .unwrap()
            .is_empty()
    );
    // The worker dies: the lease runs out and another worker takes the job.
    s.advance_clock(Duration::from_secs(5));
    let again = s
        .claim("default", "w2", 1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, id);
    assert_eq!(again[0].attempts, 2);
    assert!(
        !s.complete("dead-worker", id, None).await.unwrap(),
        "the old owner lost it"
    );
    assert!(s.complete("w2", id, None).await.unwrap());
}

async fn failures_follow_their_retry_class(s: Store, _o: StoreOptions) {
    s.enqueue(&NewJob::new("test", "after", json!({})))
        .await
        .unwrap();
    let j = s
        .claim("default", "w", 1, Duration::from_secs(30))
        .await
        .unwrap()
        .remove(0);
    let out = s
        .fail("w", &j, Failure::RetryAfter(Duration::from_secs(7)), "429")
        .await
        .unwrap();
    let FailOutcome::Retrying { run_at } = out else {
        panic!("{out:?}")
    };
    assert!(run_at >= s.now() + 6_000 && run_at <= s.now() + 7_500);
    assert!(
        s.claim("default", "w", 1, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty(),
        "not before its time"
    );
    s.advance_clock(Duration::from_secs(8));
    let j = s
        .claim("default", "w", 1, Duration::from_secs(30))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(j.attempts, 2);
    assert_eq!(j.last_error.as_deref(), Some("429"));
    // Backoff grows: attempt 2 waits 2 s +-20 %.
    let FailOutcome::Retrying { run_at } = s.fail("w", &j, Failure::Retry, "503").await.unwrap()
    else {
        panic!()
    };
    let wait = run_at - s.now();
    assert!((1_500..=2_500).contains(&wait), "{wait}");
    // Give up: dead letter at once.
    s.advance_clock(Duration::from_secs(3));
    let j = s
        .claim("default", "w", 1, Duration::from_secs(30))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        s.fail("w", &j, Failure::GiveUp, "422 property x should not exist")
            .await
            .unwrap(),
        FailOutcome::Dead
    );
    // Attempts run out: dead letter.
    s.enqueue(&NewJob::new("test", "limited", json!({})).max_attempts(1))
        .await
        .unwrap();
    let j = s
        .claim("default", "w", 1, Duration::from_secs(30))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        s.fail("w", &j, Failure::Retry, "boom").await.unwrap(),
        FailOutcome::Dead
    );
    assert_eq!(s.queue_stats().await.unwrap().dead, 2);
    let dead = s.dead_letters(10).await.unwrap();
    assert!(
        dead.iter()
            .any(|d| d.last_error.as_deref() == Some("422 property x should not exist"))
    );
    assert!(backoff(30) <= Duration::from_secs(720), "capped");
}

async fn dead_letters_replay(s: Store, _o: StoreOptions) {
    for (key, kind) in [("a", "x"), ("b", "x"), ("c", "y")] {
        s.enqueue(&NewJob::new(kind, key, json!({}))).await.unwrap();
    }
    let jobs = s
        .claim("default", "w", 10, Duration::from_secs(30))
        .await
        .unwrap();
    for j in &jobs {
        s.fail("w", j, Failure::GiveUp, "nope").await.unwrap();
    }
    assert_eq!(s.replay(&ReplayFilter::One(jobs[0].id)).await.unwrap(), 1);
    assert_eq!(
        s.replay(&ReplayFilter::Kind("x".to_owned())).await.unwrap(),
        1,
        "only the other x is still dead"
    );
    assert_eq!(s.replay(&ReplayFilter::All).await.unwrap(), 1);
    assert_eq!(s.replay(&ReplayFilter::All).await.unwrap(), 0);
    let again = s
        .claim("default", "w", 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(again.len(), 3);
    assert!(
        again
            .iter()
            .all(|j| j.attempts == 1 && j.last_error.is_none())
    );
}

async fn reauth_holds_jobs_until_reconnect(s: Store, _o: StoreOptions) {
    s.upsert_connection(&conn("c1")).await.unwrap();
    s.enqueue(&NewJob::new("ghl.call", "j1", json!({})).on_connection("c1"))
        .await
        .unwrap();
    s.enqueue(&NewJob::new("ghl.call", "j2", json!({})).on_connection("c1"))
        .await
        .unwrap();
    let j = s
        .claim("default", "w", 1, Duration::from_secs(30))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        s.fail("w", &j, Failure::Reauth, "GHL 401: token revoked")
            .await
            .unwrap(),
        FailOutcome::Held
    );
    // The hold is recorded on the connection, with the reason: nothing spins.
    let c = s.connection("c1").await.unwrap().unwrap();
    assert_eq!(c.status, ConnectionStatus::NeedsReauth);
    assert_eq!(c.status_reason.as_deref(), Some("GHL 401: token revoked"));
    assert!(
        s.claim("default", "w", 10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty(),
        "held, not dropped"
    );
    assert_eq!(s.queue_stats().await.unwrap().queued, 2);
    s.upsert_connection(&conn("c1")).await.unwrap();
    let resumed = s
        .claim("default", "w", 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(resumed.len(), 2);
    assert!(
        resumed.iter().all(|j| j.attempts == 1),
        "the held attempt was not counted"
    );
}

async fn a_job_waits_for_the_connection_it_needs(s: Store, _o: StoreOptions) {
    // A flow.run has no connection of its own; the one it needs is revoked.
    s.upsert_connection(&conn("c2")).await.unwrap();
    s.enqueue(&NewJob::new("flow.run", "f1", json!({})))
        .await
        .unwrap();
    let j = s
        .claim("default", "w", 1, Duration::from_secs(30))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        s.hold_for("w", &j, "c2", "connection c2 needs to be re-authorised")
            .await
            .unwrap(),
        FailOutcome::Held
    );
    let c = s.connection("c2").await.unwrap().unwrap();
    assert_eq!(c.status, ConnectionStatus::NeedsReauth);
    s.advance_clock(Duration::from_secs(3_600));
    assert!(
        s.claim("default", "w", 10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty(),
        "it waits, however long"
    );
    s.upsert_connection(&conn("c2")).await.unwrap();
    let resumed = s
        .claim("default", "w", 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].attempts, 1, "the held attempt was not counted");
}

async fn reauth_without_a_connection_backs_off(s: Store, _o: StoreOptions) {
    s.enqueue(&NewJob::new("test", "lonely", json!({})))
        .await
        .unwrap();
    let j = s
        .claim("default", "w", 1, Duration::from_secs(30))
        .await
        .unwrap()
        .remove(0);
    let out = s.fail("w", &j, Failure::Reauth, "401").await.unwrap();
    assert!(matches!(out, FailOutcome::Retrying { .. }), "{out:?}");
    assert!(
        s.claim("default", "w", 1, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty(),
        "not at once"
    );
}

async fn concurrent_claims_never_share_a_job(s: Store, _o: StoreOptions) {
    let jobs: Vec<NewJob> = (0..400)
        .map(|i| NewJob::new("test", format!("k{i}"), json!({})))
        .collect();
    s.enqueue_many(&jobs).await.unwrap();
    let mut handles = Vec::new();
    for w in 0..4 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            let worker = format!("w{w}");
            let mut mine = Vec::new();
            loop {
                let batch = s
                    .claim("default", &worker, 25, Duration::from_secs(60))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                let items: Vec<(i64, Option<RunLogEntry>)> =
                    batch.iter().map(|j| (j.id, Some(log(j)))).collect();
                assert_eq!(s.complete_many(&worker, &items).await.unwrap(), batch.len());
                mine.extend(batch.into_iter().map(|j| j.id));
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    for h in handles {
        for id in h.await.unwrap() {
            assert!(seen.insert(id), "job {id} was claimed twice");
        }
    }
    assert_eq!(seen.len(), 400);
    let counts = s.run_log_counts().await.unwrap();
    assert_eq!(counts.len(), 400);
    assert!(counts.iter().all(|(_, n)| *n == 1));
}

async fn journal_dedupes_and_enqueues_atomically(s: Store, _o: StoreOptions) {
    let event = NewEvent {
        source: "ghl".to_owned(),
        event_id: "wh-1".to_owned(),
        connection_id: None,
        body: r#"{"type":"ContactCreate","webhookId":"wh-1"}"#.to_owned(),
    };
    let job = NewJob::new("ghl.event", "ghl:wh-1", json!({"webhookId": "wh-1"}));
    let first = s.intake(&event, std::slice::from_ref(&job)).await.unwrap();
    let second = s.intake(&event, std::slice::from_ref(&job)).await.unwrap();
    let Journaled::New(id) = first else {
        panic!("{first:?}")
    };
    assert_eq!(second, Journaled::Duplicate(id));
    assert_eq!(s.count_events().await.unwrap(), 1);
    assert_eq!(s.queue_stats().await.unwrap().queued, 1);
    assert_eq!(
        s.event_body("ghl", "wh-1").await.unwrap().as_deref(),
        Some(event.body.as_str())
    );

    // A group in one transaction: a repeat within the group, and one journaled
    // before, are duplicates whose jobs are not enqueued.
    let ev = |id: &str| NewEvent {
        event_id: id.to_owned(),
        ..event.clone()
    };
    let jb = |id: &str| vec![NewJob::new("ghl.event", format!("ghl:{id}"), json!({}))];
    let group = vec![
        (ev("wh-2"), jb("wh-2")),
        (ev("wh-1"), jb("wh-1-again")),
        (ev("wh-2"), jb("wh-2-again")),
        (ev("wh-3"), jb("wh-3")),
    ];
    let out = s.journal(&group).await.unwrap();
    let Journaled::New(two) = out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(out[1], Journaled::Duplicate(id));
    assert_eq!(out[2], Journaled::Duplicate(two));
    assert!(matches!(out[3], Journaled::New(_)), "{out:?}");
    assert_eq!(s.count_events().await.unwrap(), 3);
    assert_eq!(s.queue_stats().await.unwrap().queued, 3);

    // The readiness probe writes and leaves no event or job behind.
    s.probe_write().await.unwrap();
    assert_eq!(s.count_events().await.unwrap(), 3);
    assert_eq!(s.queue_stats().await.unwrap().queued, 3);
    assert!(
        s.scalar_i64("SELECT at FROM health WHERE name = 'intake'")
            .await
            .unwrap()
            > 0
    );
}

async fn links_echoes_cursors(s: Store, _o: StoreOptions) {
    let ghl = RecordRef::new("ghl-1", "contact", "abc");
    let lofty = RecordRef::new("lofty-1", "lead", "123");
    s.link(&ghl, &lofty).await.unwrap();
    s.link(&ghl, &lofty).await.unwrap();
    assert_eq!(
        s.linked(&ghl, "lofty-1").await.unwrap(),
        Some(lofty.clone())
    );
    assert_eq!(
        s.linked(&lofty, "ghl-1").await.unwrap(),
        Some(ghl.clone()),
        "both directions"
    );
    assert_eq!(s.linked(&ghl, "lytho-1").await.unwrap(), None);
    let echo = Echo {
        target: ghl.clone(),
        content_hash: "h1".to_owned(),
        remote_updated_at: Some("2026-01-01T00:00:00.000Z".to_owned()),
        written_at: 5,
    };
    s.record_echo(&echo).await.unwrap();
    assert_eq!(s.echo(&ghl).await.unwrap(), Some(echo));
    assert_eq!(s.cursor("lytho:task").await.unwrap(), None);
    s.set_cursor("lytho:task", "2026-01-01").await.unwrap();
    s.set_cursor("lytho:task", "2026-01-02").await.unwrap();
    assert_eq!(
        s.cursor("lytho:task").await.unwrap().as_deref(),
        Some("2026-01-02")
    );
}

async fn shared_rate_budget(s: Store, _o: StoreOptions) {
    // Spans follow each other: no two callers hold the same moment, from any number
    // of concurrent tasks (each a worker process in production). Spans are long
    // enough that the queue stays ahead of the clock however late a task runs.
    let now = s.now();
    let first = s.reserve_slots("ghl:loc1", 10_000).await.unwrap();
    assert!(first >= now && first <= s.now(), "starts now when idle");
    let mut handles = Vec::new();
    for _ in 0..20 {
        let s = s.clone();
        handles.push(tokio::spawn(async move {
            s.reserve_slots("ghl:loc1", 10_000).await.unwrap()
        }));
    }
    let mut starts = vec![first];
    for h in handles {
        starts.push(h.await.unwrap());
    }
    starts.sort_unstable();
    for pair in starts.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            10_000,
            "spans are disjoint and back to back: {starts:?}"
        );
    }
    // Another key is another budget.
    let other = s.reserve_slots("ghl:loc2", 100).await.unwrap();
    assert!(other <= s.now());
    // After an idle spell the next span starts now, not in the past.
    s.advance_clock(Duration::from_secs(600));
    let later = s.reserve_slots("ghl:loc1", 10_000).await.unwrap();
    assert!(later >= s.now() - 5 && later <= s.now());
}

async fn refresh_is_serialised_per_connection(s: Store, _o: StoreOptions) {
    let expired = s.now() - 1;
    connected_with_tokens(&s, "c1", "at-0", "rt-0", expired).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..8 {
        let (s, calls) = (s.clone(), calls.clone());
        handles.push(tokio::spawn(async move {
            let now = s.now();
            s.refresh_tokens("c1", |current| async move {
                if current.expires_at.is_some_and(|t| t > now + 60_000) {
                    return RefreshDecision::Keep;
                }
                // The "server": a refresh token works once.
                let used = expose(current.refresh.as_ref().unwrap()).to_owned();
                assert_eq!(used, "rt-0", "a spent refresh token was used");
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                RefreshDecision::Replace(TokenSet {
                    access: secret("at-1"),
                    refresh: Some(secret("rt-1")),
                    expires_at: Some(now + 3_600_000),
                })
            })
            .await
            .unwrap()
        }));
    }
    for h in handles {
        assert_eq!(expose(&h.await.unwrap().access), "at-1");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "exactly one refresh");
    assert_eq!(
        expose(&s.tokens("c1").await.unwrap().unwrap().refresh.unwrap()),
        "rt-1"
    );
}

async fn rejected_refresh_marks_needs_reauth(s: Store, _o: StoreOptions) {
    connected_with_tokens(&s, "c1", "at", "rt", 0).await;
    let err = s
        .refresh_tokens("c1", |_| async {
            RefreshDecision::Reject("Invalid grant: refresh token is invalid".to_owned())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NeedsReauth { .. }), "{err}");
    let c = s.connection("c1").await.unwrap().unwrap();
    assert_eq!(c.status, ConnectionStatus::NeedsReauth);
    assert_eq!(
        c.status_reason.as_deref(),
        Some("Invalid grant: refresh token is invalid")
    );
    // A transient failure changes nothing.
    s.upsert_connection(&conn("c1")).await.unwrap();
    let err = s
        .refresh_tokens("c1", |_| async {
            RefreshDecision::Fail("timeout".to_owned())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::RefreshFailed { .. }));
    assert_eq!(
        s.connection("c1").await.unwrap().unwrap().status,
        ConnectionStatus::Active
    );
    assert!(
        !err.to_string().contains("rt"),
        "no secret in errors: {err}"
    );
}

async fn a_refresh_in_flight_blocks_no_other_write(s: Store, _o: StoreOptions) {
    connected_with_tokens(&s, "c1", "at", "rt", 0).await;
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let refresher = {
        let s = s.clone();
        tokio::spawn(async move {
            s.refresh_tokens("c1", |_| async move {
                started_tx.send(()).unwrap();
                // A slow token endpoint.
                tokio::time::sleep(Duration::from_millis(600)).await;
                RefreshDecision::Replace(TokenSet {
                    access: secret("at2"),
                    refresh: Some(secret("rt2")),
                    expires_at: Some(i64::MAX),
                })
            })
            .await
        })
    };
    started_rx.await.unwrap();
    let t = std::time::Instant::now();
    s.enqueue(&NewJob::new("test", "during-refresh", json!({})))
        .await
        .unwrap();
    s.put_secret("c2", "api_key", &secret("k")).await.unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "writes waited for the refresh: {:?}",
        t.elapsed()
    );
    // A second refresh waits for the first and reuses its result.
    let second = s.refresh_tokens("c1", |cur| async move {
        assert_eq!(
            expose(&cur.access),
            "at2",
            "it sees the first refresh's token"
        );
        RefreshDecision::Keep
    });
    assert_eq!(expose(&second.await.unwrap().access), "at2");
    assert_eq!(expose(&refresher.await.unwrap().unwrap().access), "at2");
}

/// The user reconnects while a worker's refresh (with the old refresh token) is in
/// flight: whatever that refresh comes back with, the reconnect's tokens stay and the
/// connection stays active.
async fn a_reconnect_during_a_refresh_wins(s: Store, _o: StoreOptions) {
    let old = TokenSet {
        access: secret("old-at"),
        refresh: Some(secret("old-rt")),
        expires_at: Some(0),
    };
    let fresh = TokenSet {
        access: secret("fresh-at"),
        refresh: Some(secret("fresh-rt")),
        expires_at: Some(i64::MAX),
    };
    let late = [
        RefreshDecision::Reject("invalid_grant: refresh token revoked".to_owned()),
        RefreshDecision::Replace(TokenSet {
            access: secret("late-at"),
            refresh: Some(secret("late-rt")),
            expires_at: Some(1),
        }),
    ];
    for (i, outcome) in late.into_iter().enumerate() {
        let id = format!("c{i}");
        s.upsert_connection(&conn(&id)).await.unwrap();
        s.put_tokens(&id, &old).await.unwrap();
        let got = s
            .refresh_tokens(&id, |cur| {
                let (s, id, fresh) = (s.clone(), id.clone(), fresh.clone());
                async move {
                    assert_eq!(expose(&cur.refresh.unwrap()), "old-rt");
                    // The reconnect lands while the token endpoint is answering.
                    s.upsert_connection(&conn(&id)).await.unwrap();
                    s.put_tokens(&id, &fresh).await.unwrap();
                    outcome
                }
            })
            .await
            .unwrap_or_else(|e| panic!("case {i}: the refresh's late result leaked: {e}"));
        assert_eq!(expose(&got.access), "fresh-at", "case {i}");
        let stored = s.tokens(&id).await.unwrap().unwrap();
        assert_eq!(expose(&stored.access), "fresh-at", "case {i}");
        assert_eq!(expose(&stored.refresh.unwrap()), "fresh-rt", "case {i}");
        assert_eq!(stored.expires_at, Some(i64::MAX), "case {i}");
        let c = s.connection(&id).await.unwrap().unwrap();
        assert_eq!(c.status, ConnectionStatus::Active, "case {i}");
        assert_eq!(c.status_reason, None, "case {i}");
        // The lease is free: the next refresh runs at once.
        let next = s
            .refresh_tokens(&id, |cur| async move {
                assert_eq!(expose(&cur.access), "fresh-at");
                RefreshDecision::Keep
            })
            .await
            .unwrap();
        assert_eq!(expose(&next.access), "fresh-at");
    }
}

async fn connect_flows_are_single_use_hashed_and_pruned(s: Store, _o: StoreOptions) {
    let keep = Duration::from_secs(3600);
    let state = format!("state-{}", unique("f"));
    s.begin_connect_flow(&state, "ghl", Some("session-1"), keep)
        .await
        .unwrap();
    let f = s.connect_flow(&state).await.unwrap().unwrap();
    assert_eq!(f.system, "ghl");
    assert_eq!(f.status, ConnectFlowStatus::Pending);
    assert!(f.started_by(Some("session-1")));
    assert!(!f.started_by(Some("session-2")));
    assert!(!f.started_by(None));
    assert!(s.connect_flow("another-state").await.unwrap().is_none());
    // Neither the state nor the session is stored as is.
    let raw = s
        .scalar_i64(
            "SELECT COUNT(*) FROM connect_flows WHERE state_hash LIKE 'state-%' OR session_hash = 'session-1'",
        )
        .await
        .unwrap();
    assert_eq!(raw, 0);
    // Two callbacks race for it: exactly one wins.
    let (a, b) = tokio::join!(s.take_connect_flow(&state), s.take_connect_flow(&state));
    assert!(
        a.unwrap() ^ b.unwrap(),
        "exactly one callback takes the flow"
    );
    assert_eq!(
        s.connect_flow(&state).await.unwrap().unwrap().status,
        ConnectFlowStatus::InProgress
    );
    let done = ConnectFlowStatus::Connected {
        connections: vec!["ghl:loc1".to_owned()],
    };
    s.finish_connect_flow(&state, &done).await.unwrap();
    assert_eq!(s.connect_flow(&state).await.unwrap().unwrap().status, done);
    assert!(
        !s.take_connect_flow(&state).await.unwrap(),
        "a finished flow stays used"
    );
    // A CLI flow (no session) is bound by its state alone.
    let cli = format!("cli-{}", unique("f"));
    s.begin_connect_flow(&cli, "lofty", None, keep)
        .await
        .unwrap();
    assert!(
        s.connect_flow(&cli)
            .await
            .unwrap()
            .unwrap()
            .started_by(None)
    );
    // Starting a flow prunes those older than `keep`.
    s.advance_clock(keep + Duration::from_secs(1));
    let fresh = format!("fresh-{}", unique("f"));
    s.begin_connect_flow(&fresh, "ghl", None, keep)
        .await
        .unwrap();
    assert!(s.connect_flow(&state).await.unwrap().is_none());
    assert!(s.connect_flow(&cli).await.unwrap().is_none());
    assert!(s.connect_flow(&fresh).await.unwrap().is_some());
}

async fn webhook_keys_are_stable_and_find_their_connection(s: Store, _o: StoreOptions) {
    s.upsert_connection(&conn("lofty:1")).await.unwrap();
    s.upsert_connection(&conn("lofty:2")).await.unwrap();
    // Two first uses at once agree on one key.
    let (a, b) = tokio::join!(s.webhook_key("lofty:1"), s.webhook_key("lofty:1"));
    let key = expose(&a.unwrap()).to_owned();
    assert_eq!(expose(&b.unwrap()), key);
    assert!(key.len() >= 64, "unguessable: {} chars", key.len());
    assert_eq!(expose(&s.webhook_key("lofty:1").await.unwrap()), key);
    let other = expose(&s.webhook_key("lofty:2").await.unwrap()).to_owned();
    assert_ne!(other, key);
    assert_eq!(
        s.webhook_key_owner(&key).await.unwrap().as_deref(),
        Some("lofty:1")
    );
    assert_eq!(
        s.webhook_key_owner(&other).await.unwrap().as_deref(),
        Some("lofty:2")
    );
    assert_eq!(s.webhook_key_owner("guess").await.unwrap(), None);
    assert_eq!(s.webhook_key_owner(&key[..63]).await.unwrap(), None);
    let rows = s
        .scalar_i64("SELECT COUNT(*) FROM webhook_keys")
        .await
        .unwrap();
    assert_eq!(rows, 2);
}

/// `conn(id)` wanting the name `name`.
fn named(id: &str, name: Option<&str>) -> NewConnection {
    NewConnection {
        name: name.map(str::to_owned),
        ..conn(id)
    }
}

async fn connection_names_are_unique_and_stable(s: Store, _o: StoreOptions) {
    let name_of = |c: Connection| c.name;
    let up = |c: NewConnection| {
        let s = s.clone();
        async move { s.upsert_connection(&c).await.map(name_of).unwrap() }
    };
    assert_eq!(up(named("ghl:a", Some("Acme Realty"))).await, "Acme Realty");
    assert_eq!(
        up(named("ghl:b", Some("Acme Realty"))).await,
        "Acme Realty (2)"
    );
    assert_eq!(
        up(named("ghl:c", Some(" Acme Realty "))).await,
        "Acme Realty (3)"
    );
    // A re-upsert keeps the name, with the same wanted name or with none...
    assert_eq!(
        up(named("ghl:b", Some("Acme Realty"))).await,
        "Acme Realty (2)"
    );
    assert_eq!(up(named("ghl:b", None)).await, "Acme Realty (2)");
    // ...also once the plain name is free again: a name users type stays put.
    assert_eq!(up(named("ghl:a", Some("Acme HQ"))).await, "Acme HQ");
    assert_eq!(
        up(named("ghl:b", Some("Acme Realty"))).await,
        "Acme Realty (2)"
    );
    // A new wanted name renames, made unique too; the old name is free for others.
    assert_eq!(up(named("ghl:b", Some("Acme HQ"))).await, "Acme HQ (2)");
    assert_eq!(up(named("ghl:d", Some("Acme Realty"))).await, "Acme Realty");
    // No wanted name (or a blank one): named after the id.
    assert_eq!(up(named("ghl:e", None)).await, "ghl:e");
    assert_eq!(up(named("ghl:f", Some("  "))).await, "ghl:f");
    // Two connections wanting one name at the same moment still get two names.
    let (x, y) = tokio::join!(
        up(named("ghl:x", Some("Twins"))),
        up(named("ghl:y", Some("Twins")))
    );
    let mut twins = [x, y];
    twins.sort();
    assert_eq!(twins, ["Twins".to_owned(), "Twins (2)".to_owned()]);
    let all = s.connections().await.unwrap();
    let names: HashSet<&str> = all.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), all.len(), "every name is unique");
}

async fn find_connection_takes_an_id_or_a_name(s: Store, _o: StoreOptions) {
    s.upsert_connection(&named("ghl:a", Some("Acme Realty")))
        .await
        .unwrap();
    let id_of = |c: Option<Connection>| c.map(|c| c.id);
    assert_eq!(
        id_of(s.find_connection("ghl:a").await.unwrap()).as_deref(),
        Some("ghl:a")
    );
    assert_eq!(
        id_of(s.find_connection("Acme Realty").await.unwrap()).as_deref(),
        Some("ghl:a")
    );
    assert_eq!(s.find_connection("Nobody").await.unwrap(), None);
    // Ids and names are separate: a connection may be named like another's id, and
    // then the id wins.
    let b = s
        .upsert_connection(&named("ghl:b", Some("ghl:a")))
        .await
        .unwrap();
    assert_eq!(b.name, "ghl:a");
    assert_eq!(
        id_of(s.find_connection("ghl:a").await.unwrap()).as_deref(),
        Some("ghl:a"),
        "an id wins over a name"
    );
    assert_eq!(
        id_of(s.find_connection("ghl:b").await.unwrap()).as_deref(),
        Some("ghl:b")
    );
}

async fn base_url_is_a_column_and_old_secrets_move_into_it(s: Store, o: StoreOptions) {
    let lofty = NewConnection {
        system: System::Lofty,
        kind: AuthKind::ApiKey,
        base_url: Some("https://api.lofty.test/".to_owned()),
        ..conn("lofty:1")
    };
    let c = s.upsert_connection(&lofty).await.unwrap();
    assert_eq!(c.base_url.as_deref(), Some("https://api.lofty.test/"));
    assert_eq!(
        s.connection("lofty:1").await.unwrap().unwrap().base_url,
        c.base_url
    );
    assert_eq!(
        s.upsert_connection(&conn("ghl:1")).await.unwrap().base_url,
        None
    );
    // Written as given, like the other fields.
    let moved = NewConnection {
        base_url: Some("https://api.lofty.test/v2/".to_owned()),
        ..lofty
    };
    assert_eq!(
        s.upsert_connection(&moved)
            .await
            .unwrap()
            .base_url
            .as_deref(),
        Some("https://api.lofty.test/v2/")
    );
    // Before the column, a base URL was a vault secret: opening the store moves it.
    s.upsert_connection(&conn("lytho:1")).await.unwrap();
    s.put_secret(
        "lytho:1",
        "base_url",
        &secret("https://openapi.wf.lytho.test/v1"),
    )
    .await
    .unwrap();
    s.put_secret("lytho:1", "client_secret", &secret("cs"))
        .await
        .unwrap();
    // One whose connection row is gone has nowhere to go: it stays.
    s.put_secret("gone:1", "base_url", &secret("https://orphan.test/"))
        .await
        .unwrap();
    s.close().await;
    for open in ["first", "second"] {
        let s = Store::open_with_keyring(&o, ring()).await.unwrap();
        let c = s.connection("lytho:1").await.unwrap().unwrap();
        assert_eq!(
            c.base_url.as_deref(),
            Some("https://openapi.wf.lytho.test/v1"),
            "{open} open"
        );
        assert!(
            s.secret("lytho:1", "base_url").await.unwrap().is_none(),
            "{open} open: the secret is gone"
        );
        assert_eq!(
            expose(&s.secret("lytho:1", "client_secret").await.unwrap().unwrap()),
            "cs",
            "{open} open: other secrets stay"
        );
        assert_eq!(
            s.connection("lofty:1")
                .await
                .unwrap()
                .unwrap()
                .base_url
                .as_deref(),
            Some("https://api.lofty.test/v2/"),
            "{open} open: a column already set is left alone"
        );
        assert!(
            s.secret("gone:1", "base_url").await.unwrap().is_some(),
            "{open} open: an orphan is kept"
        );
        s.close().await;
    }
}

async fn run_log_records_the_job_kind_and_the_flow(s: Store, _o: StoreOptions) {
    s.enqueue(&NewJob::new("flow.run", "k", json!({})))
        .await
        .unwrap();
    let job = s
        .claim("default", "w", 1, Duration::from_secs(30))
        .await
        .unwrap()
        .remove(0);
    let by_flow = RunLogEntry {
        job_id: Some(job.id),
        kind: "flow.run".to_owned(),
        flow: "lofty-leads-to-ghl".to_owned(),
        record: "lofty:lead:1".to_owned(),
        outcome: "created".to_owned(),
        detail: "ghl:contact:abc".to_owned(),
        duration_ms: 12,
        at: 1,
    };
    // Through the batch insert of a completion...
    assert!(s.complete("w", job.id, Some(&by_flow)).await.unwrap());
    // ...and appended on its own, by a job no flow started.
    let no_flow = RunLogEntry {
        job_id: None,
        kind: "lofty.lead".to_owned(),
        flow: String::new(),
        outcome: "skipped".to_owned(),
        detail: "no change".to_owned(),
        at: 2,
        ..by_flow.clone()
    };
    s.append_run_log(&no_flow).await.unwrap();
    assert_eq!(
        s.run_log("lofty:lead:1").await.unwrap(),
        vec![by_flow, no_flow]
    );
}

async fn an_unknown_status_is_an_error_naming_it(s: Store, _o: StoreOptions) {
    s.upsert_connection(&conn("c1")).await.unwrap();
    let changed = s
        .execute_raw("UPDATE connections SET status = 'paused_by_v9' WHERE id = 'c1'")
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let err = s.connection("c1").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownValue { table: "connections", column: "status", value } if value == "paused_by_v9"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("connections.status") && text.contains("paused_by_v9"),
        "{text}"
    );
    assert!(s.connections().await.is_err());
    assert!(s.find_connection("c1").await.is_err());

    let id = s
        .enqueue(&NewJob::new("test", "k", json!({})))
        .await
        .unwrap()
        .id;
    s.execute_raw("UPDATE jobs SET status = 'parked'")
        .await
        .unwrap();
    let err = s.job(id).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownValue { table: "jobs", column: "status", value } if value == "parked"),
        "{err:?}"
    );
    assert!(err.to_string().contains("parked"), "{err}");
    assert!(s.queue_stats().await.is_err(), "counted as nothing known");
    assert!(
        s.claim("default", "w", 10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty(),
        "a job in an unknown state is not run"
    );
}

/// The data directory and the SQLite files hold contact data: private to the user
/// (0700 and 0600), and an existing directory others can read is tightened.
#[cfg(unix)]
#[tokio::test]
async fn sqlite_files_and_the_data_directory_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let (store, opts) = sqlite().await;
    store
        .put_secret("c1", "x", &SecretString::from("v".to_owned()))
        .await
        .unwrap();
    assert_eq!(mode(&opts.data_dir), 0o700);
    for name in [
        "ghlsync.db",
        "ghlsync.db-wal",
        "ghlsync.db-shm",
        "master.key",
    ] {
        let path = opts.data_dir.join(name);
        if name == "master.key" && !path.exists() {
            continue; // the test keyring is given, not read from a file
        }
        assert_eq!(mode(&path), 0o600, "{name}");
    }
    store.close().await;

    // A world-readable directory (and database) from an older version is tightened.
    std::fs::set_permissions(&opts.data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = opts.data_dir.join("ghlsync.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let again = Store::open_with_keyring(&opts, ring()).await.unwrap();
    assert_eq!(mode(&opts.data_dir), 0o700);
    assert_eq!(mode(&db), 0o600);
    again.close().await;
    let _ = std::fs::remove_dir_all(&opts.data_dir);
}

async fn sync_state_pairs_index_history_reviews_locks(s: Store, _o: StoreOptions) {
    use store::{FlowRow, HistoryEntry, PairRow};
    let flow = FlowRow {
        id: "lofty-ghl-contacts".to_owned(),
        file: "[sync]".to_owned(),
        left_connection: "ghl:loc".to_owned(),
        right_connection: "lofty:1".to_owned(),
        enabled: true,
        created_at: 0,
        updated_at: 0,
    };
    s.put_flow(&flow).await.unwrap();
    s.put_flow(&FlowRow {
        right_connection: "lofty:2".to_owned(),
        ..flow.clone()
    })
    .await
    .unwrap();
    let flows = s.flows().await.unwrap();
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].right_connection, "lofty:2");
    assert!(
        s.set_flow_enabled("lofty-ghl-contacts", false)
            .await
            .unwrap()
    );
    assert!(!s.flow("lofty-ghl-contacts").await.unwrap().unwrap().enabled);
    assert!(!s.set_flow_enabled("nope", true).await.unwrap());

    let pair = PairRow {
        flow_id: flow.id.clone(),
        left_id: "c1".to_owned(),
        right_id: "7".to_owned(),
        shadow: "{}".to_owned(),
        left_state: "{}".to_owned(),
        right_state: "{}".to_owned(),
        left_version: Some(5),
        right_version: None,
        left_written: None,
        right_written: Some("fp".to_owned()),
    };
    let entry = |decision: &str, at: i64| HistoryEntry {
        at,
        flow: flow.id.clone(),
        source: "lofty:lead:7".to_owned(),
        target: "ghl:contact:c1".to_owned(),
        decision: decision.to_owned(),
        reason: "r".to_owned(),
        diffs: "[]".to_owned(),
        api_status: Some(201),
        api_message: None,
        subject: "ann@example.com".to_owned(),
    };
    s.put_pair(&pair, &[entry("create", 10)]).await.unwrap();
    assert_eq!(
        s.pair(&flow.id, "left", "c1").await.unwrap().as_ref(),
        Some(&pair)
    );
    assert_eq!(
        s.pair(&flow.id, "right", "7").await.unwrap().as_ref(),
        Some(&pair)
    );
    assert!(s.pair(&flow.id, "right", "8").await.unwrap().is_none());
    assert!(s.pair(&flow.id, "middle", "7").await.is_err());
    // Updated in place by its left record.
    s.put_pair(
        &PairRow {
            shadow: "{\"a\":1}".to_owned(),
            ..pair.clone()
        },
        &[entry("update", 20)],
    )
    .await
    .unwrap();
    assert_eq!(s.count_pairs(&flow.id).await.unwrap(), 1);
    assert_eq!(
        s.pairs(&flow.id, 0, 10).await.unwrap()[0].1.shadow,
        "{\"a\":1}"
    );

    s.index_record(
        &flow.id,
        "right",
        "7",
        &[("email".to_owned(), "ann@example.com".to_owned())],
    )
    .await
    .unwrap();
    s.index_record(
        &flow.id,
        "right",
        "9",
        &[("email".to_owned(), "ann@example.com".to_owned())],
    )
    .await
    .unwrap();
    assert_eq!(
        s.find_by_key(&flow.id, "right", "email", "ann@example.com")
            .await
            .unwrap(),
        ["7", "9"]
    );
    // Re-indexing replaces the record's keys.
    s.index_record(
        &flow.id,
        "right",
        "9",
        &[("email".to_owned(), "bo@example.com".to_owned())],
    )
    .await
    .unwrap();
    assert_eq!(
        s.find_by_key(&flow.id, "right", "email", "ann@example.com")
            .await
            .unwrap(),
        ["7"]
    );

    s.append_history(&[entry("echo", 30)]).await.unwrap();
    let h = s.history("ann@example.com", 100).await.unwrap();
    assert_eq!(
        h.iter().map(|e| e.decision.as_str()).collect::<Vec<_>>(),
        ["create", "update", "echo"]
    );
    assert_eq!(
        s.history("ghl:contact:c1", 2).await.unwrap().len(),
        2,
        "the newest two"
    );
    assert_eq!(s.runs("", 100).await.unwrap().len(), 3);
    assert_eq!(s.runs("other", 100).await.unwrap().len(), 0);
    let id = flow.id.clone();
    assert_eq!(
        s.decision_counts(0).await.unwrap(),
        [
            (id.clone(), "create".to_owned(), 1),
            (id.clone(), "echo".to_owned(), 1),
            (id.clone(), "update".to_owned(), 1)
        ]
    );
    assert_eq!(
        s.decision_counts(30).await.unwrap(),
        [(id, "echo".to_owned(), 1)],
        "since a time"
    );
    s.advance_clock(std::time::Duration::from_secs(3600));
    assert_eq!(
        s.prune_history(std::time::Duration::from_secs(60))
            .await
            .unwrap(),
        3
    );

    let id = s
        .open_review(&flow.id, "match", "ann@example.com", "{}")
        .await
        .unwrap();
    assert_eq!(s.reviews("open").await.unwrap().len(), 1);
    assert!(s.settle_review(id, true).await.unwrap());
    assert!(!s.settle_review(id, false).await.unwrap(), "settled once");
    assert_eq!(s.reviews("approved").await.unwrap()[0].id, id);

    let ttl = std::time::Duration::from_secs(30);
    assert!(s.try_lock("pair:c1", "w1", ttl).await.unwrap());
    assert!(!s.try_lock("pair:c1", "w2", ttl).await.unwrap());
    assert!(
        s.try_lock("pair:c1", "w1", ttl).await.unwrap(),
        "ours again"
    );
    s.advance_clock(std::time::Duration::from_secs(31));
    assert!(s.try_lock("pair:c1", "w2", ttl).await.unwrap(), "expired");
    s.unlock("pair:c1", "w1").await.unwrap();
    assert!(
        !s.try_lock("pair:c1", "w3", ttl).await.unwrap(),
        "w1 no longer holds it"
    );
    s.unlock("pair:c1", "w2").await.unwrap();
    assert!(s.try_lock("pair:c1", "w3", ttl).await.unwrap());
    // Record states: a late older version does not replace a newer one.
    assert!(
        s.put_record_state(&flow.id, "right", "7", "{\"v\":2}", Some(2))
            .await
            .unwrap()
    );
    assert!(
        !s.put_record_state(&flow.id, "right", "7", "{\"v\":1}", Some(1))
            .await
            .unwrap()
    );
    assert_eq!(
        s.record_state(&flow.id, "right", "7").await.unwrap(),
        Some(("{\"v\":2}".to_owned(), Some(2)))
    );
    assert!(s.remove_pair(&flow.id, "right", "7").await.unwrap());
    assert_eq!(s.count_pairs(&flow.id).await.unwrap(), 0);
    // Many states and their keys in one call: an older state is refused and keeps
    // the newer one's index; a stored one replaces its keys.
    use store::RecordPut;
    let put = |id: &str, v: i64, email: &str| RecordPut {
        id: id.to_owned(),
        state: format!("{{\"v\":{v}}}"),
        version: Some(v),
        keys: vec![("email".to_owned(), email.to_owned())],
    };
    assert_eq!(
        s.put_records(
            &flow.id,
            "left",
            &[put("a", 5, "a@x.io"), put("b", 5, "b@x.io")]
        )
        .await
        .unwrap(),
        vec![true, true]
    );
    assert_eq!(
        s.put_records(
            &flow.id,
            "left",
            &[put("a", 4, "old@x.io"), put("b", 6, "new@x.io")]
        )
        .await
        .unwrap(),
        vec![false, true]
    );
    assert_eq!(
        s.find_by_key(&flow.id, "left", "email", "a@x.io")
            .await
            .unwrap(),
        vec!["a".to_owned()]
    );
    assert!(
        s.find_by_key(&flow.id, "left", "email", "old@x.io")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.find_by_key(&flow.id, "left", "email", "b@x.io")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.find_by_key(&flow.id, "left", "email", "new@x.io")
            .await
            .unwrap(),
        vec!["b".to_owned()]
    );
    assert_eq!(
        s.record_versions(&flow.id, "left", "", 10).await.unwrap(),
        vec![("a".to_owned(), Some(5)), ("b".to_owned(), Some(6))]
    );
    assert_eq!(
        s.record_versions(&flow.id, "left", "a", 10).await.unwrap(),
        vec![("b".to_owned(), Some(6))]
    );
}

/// SQLite's write lock held by another connection: the intake's write gives up
/// after its own wait (not SQLite's default back-off), the engine's waits and goes
/// through as soon as the lock is let go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writers_wait_for_the_lock_as_long_as_their_pool_says() {
    let dir = std::env::temp_dir().join(unique("ghlsync_busy"));
    let mut opts = StoreOptions::sqlite(&dir);
    opts.intake_wait = std::time::Duration::from_millis(300);
    let s = Store::open_with_keyring(&opts, ring()).await.unwrap();
    s.set_cursor("warm", "1").await.unwrap();
    let hold = std::time::Duration::from_millis(1_500);
    let holder = {
        let s = s.clone();
        tokio::spawn(async move { s.hold_writes(hold).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let event = NewEvent {
        source: "ghl".to_owned(),
        event_id: "busy-1".to_owned(),
        connection_id: None,
        body: "{}".to_owned(),
    };
    let journaled = s.intake(&event, &[]).await;
    let gave_up = started.elapsed();
    assert!(journaled.is_err(), "the intake wrote through a held lock");
    assert!(
        gave_up >= std::time::Duration::from_millis(250)
            && gave_up < std::time::Duration::from_millis(1_000),
        "the intake gave up after {gave_up:?}, its wait is 300 ms"
    );
    let started = std::time::Instant::now();
    s.set_cursor("after", "1").await.unwrap();
    let waited = started.elapsed();
    holder.await.unwrap().unwrap();
    assert!(
        waited >= std::time::Duration::from_millis(500),
        "the write went through the held lock after {waited:?}"
    );
    assert_eq!(s.cursor("after").await.unwrap().as_deref(), Some("1"));
    let _ = std::fs::remove_dir_all(&dir);
}
