//! The queue worker: claim a batch with a lease, run the jobs concurrently while a
//! heartbeat keeps the lease, then settle every job (done with its run-log entry,
//! or failed with its retry class) in as few transactions as possible.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use store::{Failure, RunLogEntry, Store, StoreError};
use tokio::sync::watch;

use crate::connectors::Connectors;
use crate::handlers::{self, Context, Failed};
use crate::jobs::Job;
use crate::tokens::TokenSource;

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Unique per process (it owns leases).
    pub id: String,
    pub queue: String,
    /// Jobs claimed per round trip.
    pub batch: usize,
    /// Jobs run at once.
    pub concurrency: usize,
    /// Lease length; heartbeats renew it every third of it.
    pub lease: Duration,
    /// Pause when the queue is empty.
    pub idle: Duration,
    /// Base URL of the GHL API (the sandbox's in tests).
    pub ghl_base_url: url::Url,
    /// How often OAuth connections are checked and refreshed ahead of expiry.
    pub keep_alive_every: Duration,
    /// The server's public address, where Lofty delivers webhooks.
    pub public_url: Option<url::Url>,
    /// How long sync history is kept (pruned by every worker, once an hour).
    pub history_for: Duration,
    /// How often the reconciliation walk runs (`None`: never).
    pub reconcile_every: Option<Duration>,
    /// The largest share of a flow's links one walk may remove, in per mille.
    pub reconcile_max_delete_permille: u32,
    /// How often GHL's tasks are walked (`None`: only with the full walk): GHL
    /// sends no webhook when a task is edited or reopened.
    pub tasks_walk_every: Option<Duration>,
    /// How often each Lytho connection a flow syncs is polled (`None`: never):
    /// Lytho sends no webhooks.
    pub lytho_poll_every: Option<Duration>,
    /// How long a call to GHL, Lofty or Lytho may take.
    pub http_timeout: Duration,
}

impl WorkerConfig {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            queue: "default".to_owned(),
            batch: 50,
            concurrency: 16,
            lease: Duration::from_secs(30),
            idle: Duration::from_millis(200),
            ghl_base_url: ghl::client::default_base_url(),
            keep_alive_every: Duration::from_secs(30),
            public_url: None,
            history_for: Duration::from_secs(90 * 24 * 3600),
            reconcile_every: Some(Duration::from_secs(3600)),
            reconcile_max_delete_permille: 50,
            tasks_walk_every: Some(Duration::from_secs(300)),
            lytho_poll_every: Some(Duration::from_secs(60)),
            http_timeout: wire::http::DEFAULT_TIMEOUT,
        }
    }
}

/// Enqueues one `lytho.poll` per Lytho connection an enabled flow syncs, named
/// by the interval it is in (so one runs per interval, whichever worker asks).
async fn schedule_lytho_polls(store: &Store, every: Duration) {
    let flows = match crate::sync::enabled_flows(store).await {
        Ok(flows) => flows,
        Err(e) => {
            tracing::warn!(error = %e, "could not schedule the Lytho polls");
            return;
        }
    };
    let mut connections = std::collections::BTreeSet::new();
    // The Lytho accounts whose polls fire action flows.
    if let Ok(actions) = store.action_flows().await {
        for flow in actions.into_iter().filter(|f| f.enabled) {
            if flow.trigger_id.starts_with("lytho.")
                && let Some(c) = flow.trigger_connection
            {
                connections.insert(c);
            }
        }
    }
    for flow in &flows {
        for side in [domain::sync::Side::Left, domain::sync::Side::Right] {
            if flow.spec.object(side).name.starts_with("lytho.") {
                connections.insert(flow.connection(side).to_owned());
            }
        }
    }
    let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1);
    let now = store.now();
    for connection in connections {
        let job = crate::jobs::Job::from(crate::jobs::LythoPoll {
            connection,
            window: now - now.rem_euclid(every_ms),
        });
        if let Err(e) = store.enqueue(&job.into_new_job()).await {
            tracing::warn!(error = %e, "could not schedule a Lytho poll");
        }
    }
}

/// What a worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    pub done: u64,
    pub failed: u64,
    /// Jobs whose lease was lost before settling (another worker has them).
    pub lease_lost: u64,
}

/// A job's settled result: its run-log line, or the failure to record.
enum Settled {
    Done(RunLogEntry),
    Failed(Failed),
}

/// A queue worker.
#[derive(Debug, Clone)]
pub struct Worker {
    store: Store,
    config: WorkerConfig,
    /// What handlers use: connectors (clients, budgets), the public address.
    context: Context,
    /// Jobs this worker is running now: only their leases are renewed.
    in_flight: Arc<std::sync::Mutex<std::collections::HashSet<i64>>>,
}

/// Forgets a batch's jobs when the round ends, however it ends, so the heartbeat
/// stops renewing leases of jobs nobody works on.
struct InFlight<'a> {
    set: &'a std::sync::Mutex<std::collections::HashSet<i64>>,
    ids: Vec<i64>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut set = self.set.lock().unwrap_or_else(|p| p.into_inner());
        for id in &self.ids {
            set.remove(id);
        }
    }
}

impl Worker {
    pub fn new(store: Store, config: WorkerConfig, tokens: TokenSource) -> Self {
        let connectors = Connectors::new(store.clone(), tokens, config.ghl_base_url.clone())
            .with_http_timeout(config.http_timeout);
        let context = Context {
            connectors,
            public_url: config.public_url.clone(),
        };
        Self {
            store,
            config,
            context,
            in_flight: Arc::default(),
        }
    }

    /// The connectors this worker opens connections with (tests, the CLI).
    pub fn connectors(&self) -> &Connectors {
        &self.context.connectors
    }

    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// Runs until `shutdown` turns true. Database errors are logged and retried.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) -> WorkerStats {
        let heartbeat = {
            let (store, id, lease) = (
                self.store.clone(),
                self.config.id.clone(),
                self.config.lease,
            );
            let in_flight = self.in_flight.clone();
            let mut stop = shutdown.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(lease / 3) => {}
                        _ = stop.changed() => return,
                    }
                    let ids: Vec<i64> = in_flight
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .iter()
                        .copied()
                        .collect();
                    if let Err(e) = store.heartbeat(&id, &ids, lease).await {
                        tracing::warn!(worker = %id, error = %e, "heartbeat failed");
                    }
                }
            })
        };
        // Keep idle OAuth connections alive too (refresh ahead of expiry).
        let keeper = {
            let (tokens, every) = (
                self.context.connectors.tokens().clone(),
                self.config.keep_alive_every,
            );
            let (store, history_for) = (self.store.clone(), self.config.history_for);
            let (reconcile_every, permille, tasks_every, poll_every) = (
                self.config.reconcile_every,
                self.config.reconcile_max_delete_permille,
                self.config.tasks_walk_every,
                self.config.lytho_poll_every,
            );
            // The loop wakes often enough for the shortest interval it serves.
            let tick = poll_every
                .map_or(every, |p| p.min(every))
                .max(Duration::from_millis(100));
            let mut stop = shutdown.clone();
            tokio::spawn(async move {
                let mut pruned: Option<Instant> = None;
                let mut sampled: Option<i64> = None;
                loop {
                    if let Err(e) = tokens.keep_alive().await {
                        tracing::warn!(error = %e, "connection keep-alive round failed");
                    }
                    // The Health page's samples, once a minute (whichever worker is first).
                    let minute = store.now().div_euclid(60_000);
                    if sampled != Some(minute) {
                        if let Err(e) = store.take_samples().await {
                            tracing::warn!(error = %e, "could not sample the queue and budgets");
                        }
                        sampled = Some(minute);
                    }
                    // History older than the configured age goes, once an hour.
                    if pruned.is_none_or(|at| at.elapsed() >= Duration::from_secs(3600)) {
                        match store.prune_history(history_for).await {
                            Ok(n) if n > 0 => tracing::info!(entries = n, "HistoryPruned"),
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "history pruning failed"),
                        }
                        pruned = Some(Instant::now());
                    }
                    // One reconciliation walk per interval, whichever worker enqueues it.
                    let flows_on = match store.flows().await {
                        Ok(flows) => flows.iter().any(|f| f.enabled),
                        Err(_) => false,
                    };
                    // GHL's tasks, more often: their edits send no webhook.
                    for (every, objects) in [
                        (reconcile_every, Vec::new()),
                        (tasks_every, vec!["ghl.task".to_owned()]),
                    ] {
                        let (Some(every), true) = (every, flows_on) else {
                            continue;
                        };
                        let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1);
                        let now = store.now();
                        let job = crate::jobs::Job::from(crate::jobs::FlowReconcile {
                            window: now - now.rem_euclid(every_ms),
                            max_delete_permille: permille,
                            objects,
                        });
                        if let Err(e) = store.enqueue(&job.into_new_job()).await {
                            tracing::warn!(error = %e, "could not schedule the reconciliation walk");
                        }
                    }
                    let actions_on = match store.action_flows().await {
                        Ok(flows) => flows.iter().any(|f| f.enabled),
                        Err(_) => false,
                    };
                    // Each Lytho connection a flow syncs, once per poll interval.
                    if let (Some(poll_every), true) = (poll_every, flows_on || actions_on) {
                        schedule_lytho_polls(&store, poll_every).await;
                    }
                    // Action flows on a schedule, each slot once.
                    if actions_on
                        && let Err(e) = crate::actions::fire_schedules(&store, store.now()).await
                    {
                        tracing::warn!(error = %e, "could not fire the scheduled flows");
                    }
                    tokio::select! {
                        () = tokio::time::sleep(tick) => {}
                        _ = stop.changed() => return,
                    }
                }
            })
        };
        let mut stats = WorkerStats::default();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let pause = match self.tick(&mut stats).await {
                Ok(0) => self.config.idle,
                Ok(_) => Duration::ZERO,
                Err(e) => {
                    tracing::error!(worker = %self.config.id, error = %e, "queue round failed; retrying");
                    self.config.idle.max(Duration::from_secs(1))
                }
            };
            if !pause.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        heartbeat.abort();
        keeper.abort();
        stats
    }

    /// Processes ready jobs until none is left (jobs scheduled later are not waited
    /// for). Tests use this instead of sleeping.
    pub async fn drain(&self) -> Result<WorkerStats, StoreError> {
        let mut stats = WorkerStats::default();
        while self.tick(&mut stats).await? > 0 {}
        Ok(stats)
    }

    /// One round: claim, run, settle. Returns how many jobs were claimed.
    pub async fn tick(&self, stats: &mut WorkerStats) -> Result<usize, StoreError> {
        let jobs = self
            .store
            .claim(
                &self.config.queue,
                &self.config.id,
                self.config.batch,
                self.config.lease,
            )
            .await?;
        let claimed = jobs.len();
        if claimed == 0 {
            return Ok(0);
        }
        let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(ids.iter().copied());
        let _forget = InFlight {
            set: &self.in_flight,
            ids,
        };
        let results: Vec<(store::Job, Settled)> = futures_util::stream::iter(jobs)
            .map(|job| async move {
                let outcome = self.run_job(&job).await;
                (job, outcome)
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        // Settle the successes first (one transaction), then the failures.
        let mut done = Vec::new();
        let mut failed = Vec::new();
        for (job, outcome) in results {
            match outcome {
                Settled::Done(log) => {
                    wire::metrics::job_finished(&job.kind, "done");
                    done.push((job.id, Some(log)));
                }
                Settled::Failed(f) => failed.push((job, f)),
            }
        }
        let ours = self.store.complete_many(&self.config.id, &done).await?;
        stats.done += ours as u64;
        stats.lease_lost += (done.len() - ours) as u64;
        for (job, f) in failed {
            stats.failed += 1;
            let message = f.message;
            let out = match (f.failure, f.waits_for) {
                // A job that needs a connection other than its own (or has none)
                // waits for that one.
                (Failure::Reauth, Some(conn)) if job.connection_id.as_deref() != Some(&conn) => {
                    self.store
                        .hold_for(&self.config.id, &job, &conn, &message)
                        .await?
                }
                (failure, _) => {
                    self.store
                        .fail(&self.config.id, &job, failure, &message)
                        .await?
                }
            };
            let outcome = match out {
                store::FailOutcome::Retrying { .. } => "retry",
                store::FailOutcome::Held => "reauth",
                store::FailOutcome::Dead => "dead",
                store::FailOutcome::LeaseLost => "lease_lost",
            };
            wire::metrics::job_finished(&job.kind, outcome);
            tracing::info!(job = job.id, kind = %job.kind, ?out, error = %message, "JobFailed");
        }
        Ok(claimed)
    }

    async fn run_job(&self, row: &store::Job) -> Settled {
        let started = Instant::now();
        let result = match Job::from_row(&row.kind, &row.payload) {
            // Locks a job takes are its own: two jobs never share one, and the same
            // job run again (its worker died) takes back the locks it left.
            Ok(job) => {
                let owner = format!("job:{}", row.id);
                handlers::run(&self.context, &job, row.attempts, &owner).await
            }
            // A row nobody can read: dead-lettered with what is wrong.
            Err(e) => Err(Failed::new(Failure::GiveUp, format!("job {}: {e}", row.id))),
        };
        match result {
            Ok(outcome) => Settled::Done(RunLogEntry {
                job_id: Some(row.id),
                kind: row.kind.clone(),
                flow: String::new(),
                record: outcome.record,
                outcome: outcome.verdict.as_str().to_owned(),
                detail: outcome.detail,
                duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
                at: self.store.now(),
            }),
            Err(failed) => Settled::Failed(failed),
        }
    }
}
