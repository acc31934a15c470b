//! The queue worker: claim a batch with a lease, run the jobs concurrently while a
//! heartbeat keeps the lease, then settle every job (done with its run-log entry,
//! or failed with its retry class) in as few transactions as possible.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use ghl::{GhlClient, GhlConfig, GhlError, Governor, RetryClass};
use serde_json::Value;
use store::{Connection, ConnectionStatus, Failure, Job, RunLogEntry, Store, StoreError};
use tokio::sync::watch;

use crate::tokens::{TokenError, TokenSource};

/// The jobs this worker knows (a closed set, not plugins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// `test.record`: writes one run-log entry; used by crash tests and benchmarks.
    TestRecord,
    /// `ghl.call`: one GHL operation through the job's connection.
    GhlCall,
    /// `ghl.event`: a journaled GHL webhook. No flow consumes events yet, so it is
    /// recorded in the run log as skipped (the journal keeps the body for replay).
    GhlEvent,
    /// `lofty.change`: one changed record of a journaled Lofty delivery. No flow
    /// consumes it yet: it is recorded in the run log as skipped.
    LoftyChange,
    /// `lofty.subscribe`: subscribes a Lofty connection's deliveries to
    /// `<public_url>/webhooks/lofty/<key>` (skipping subscriptions that exist).
    LoftySubscribe,
}

impl JobKind {
    pub fn parse(kind: &str) -> Option<Self> {
        match kind {
            "test.record" => Some(Self::TestRecord),
            "ghl.call" => Some(Self::GhlCall),
            "ghl.event" => Some(Self::GhlEvent),
            "lofty.change" => Some(Self::LoftyChange),
            "lofty.subscribe" => Some(Self::LoftySubscribe),
            _ => None,
        }
    }
}

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

enum Outcome {
    Done(RunLogEntry),
    Failed(Failure, String),
}

/// A queue worker.
#[derive(Debug, Clone)]
pub struct Worker {
    store: Store,
    config: WorkerConfig,
    tokens: TokenSource,
    http: reqwest::Client,
    governor: Arc<Governor>,
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
        Self {
            store,
            config,
            tokens,
            http: ghl::http::default_http_client(),
            governor: Arc::new(Governor::new()),
            in_flight: Arc::default(),
        }
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
            let (tokens, every) = (self.tokens.clone(), self.config.keep_alive_every);
            let mut stop = shutdown.clone();
            tokio::spawn(async move {
                loop {
                    if let Err(e) = tokens.keep_alive().await {
                        tracing::warn!(error = %e, "connection keep-alive round failed");
                    }
                    tokio::select! {
                        () = tokio::time::sleep(every) => {}
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
        let results: Vec<(Job, Outcome)> = futures_util::stream::iter(jobs)
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
                Outcome::Done(log) => done.push((job.id, Some(log))),
                Outcome::Failed(failure, message) => failed.push((job, failure, message)),
            }
        }
        let ours = self.store.complete_many(&self.config.id, &done).await?;
        stats.done += ours as u64;
        stats.lease_lost += (done.len() - ours) as u64;
        for (job, failure, message) in failed {
            stats.failed += 1;
            let out = self
                .store
                .fail(&self.config.id, &job, failure, &message)
                .await?;
            tracing::info!(job = job.id, kind = %job.kind, ?out, error = %message, "JobFailed");
        }
        Ok(claimed)
    }

    async fn run_job(&self, job: &Job) -> Outcome {
        let started = Instant::now();
        let result = match JobKind::parse(&job.kind) {
            Some(JobKind::TestRecord) => self.test_record(job).await,
            Some(JobKind::GhlCall) => self.ghl_call(job).await,
            Some(JobKind::GhlEvent) => self.ghl_event(job).await,
            Some(JobKind::LoftyChange) => Ok(lofty_change(job)),
            Some(JobKind::LoftySubscribe) => self.lofty_subscribe(job).await,
            None => Err((Failure::GiveUp, format!("unknown job kind `{}`", job.kind))),
        };
        match result {
            Ok((record, outcome, detail)) => Outcome::Done(RunLogEntry {
                job_id: Some(job.id),
                flow: job.kind.clone(),
                record,
                outcome,
                detail,
                duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
                at: self.store.now(),
            }),
            Err((failure, message)) => Outcome::Failed(failure, message),
        }
    }

    /// `test.record`: `{record, fail_times?, sleep_ms?}`.
    async fn test_record(&self, job: &Job) -> JobResult {
        let record = job
            .payload
            .get("record")
            .and_then(Value::as_str)
            .unwrap_or("test")
            .to_owned();
        if let Some(ms) = job.payload.get("sleep_ms").and_then(Value::as_u64) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        let fail_times = job
            .payload
            .get("fail_times")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if i64::from(job.attempts) <= fail_times {
            return Err((
                Failure::Retry,
                format!("planned failure {} of {fail_times}", job.attempts),
            ));
        }
        Ok((
            record,
            "done".to_owned(),
            format!("attempt {}", job.attempts),
        ))
    }

    /// `ghl.call`: `{op, input, record?}` on the job's connection.
    async fn ghl_call(&self, job: &Job) -> JobResult {
        let op_id = job
            .payload
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(op) = ghl::operations::find(op_id) else {
            return Err((Failure::GiveUp, format!("unknown GHL operation `{op_id}`")));
        };
        let input = job
            .payload
            .get("input")
            .cloned()
            .unwrap_or_else(|| Value::Object(Default::default()));
        let record = job
            .payload
            .get("record")
            .and_then(Value::as_str)
            .map_or_else(|| format!("ghl:{op_id}"), str::to_owned);
        let conn = self.job_connection(job).await?;
        let conn_id = conn.id.as_str();
        if conn.system != "ghl" {
            return Err((
                Failure::GiveUp,
                format!(
                    "connection {conn_id} is a {} connection, not GHL",
                    conn.system
                ),
            ));
        }
        if conn.status != ConnectionStatus::Active {
            return Err((
                Failure::Reauth,
                format!("connection {conn_id} is {}", conn.status.as_str()),
            ));
        }
        if let Some(scope) = op.scope
            && !conn.scopes.split_whitespace().any(|s| s == scope)
        {
            return Err((
                Failure::GiveUp,
                format!(
                    "`{}` needs {scope}; connection {conn_id} has {}",
                    op.id,
                    display_scopes(&conn.scopes)
                ),
            ));
        }
        let mut token = self.token(&conn).await?;
        let mut refreshed = false;
        loop {
            let mut config =
                GhlConfig::new(token.clone()).with_base_url(self.config.ghl_base_url.clone());
            if let Some(loc) = &conn.location_id {
                config = config.with_location(loc.clone());
            }
            let client = GhlClient::with_http(config, self.http.clone())
                .with_governor(self.governor.clone());
            match client.execute(op, input.clone()).await {
                Ok(_) => {
                    return Ok((
                        record,
                        "ok".to_owned(),
                        format!("{} {}", op.method, op.path),
                    ));
                }
                Err(e) if matches!(e.retry_class(), RetryClass::Reauth) && !refreshed => {
                    // The token was refused: refresh once (unless someone already did) and retry.
                    refreshed = true;
                    token = match self.tokens.refresh(&conn, Some(&token)).await {
                        Ok(set) => set.access,
                        Err(err) => return Err(token_failure(err)),
                    };
                }
                Err(e) => return Err(classify(&e, &conn)),
            }
        }
    }

    /// `ghl.event`: INSTALL and UNINSTALL change connections; other events are
    /// recorded (no flow consumes them yet; the journal keeps the body).
    async fn ghl_event(&self, job: &Job) -> JobResult {
        let p = &job.payload;
        let text = |k: &str| p.get(k).and_then(Value::as_str);
        let record = format!("ghl:event:{}", text("webhookId").unwrap_or("unknown"));
        let event_type = text("type").unwrap_or("unknown");
        let location = text("locationId");
        match event_type {
            "INSTALL" => {
                let Some(app) = self.tokens.app() else {
                    return Err((
                        Failure::GiveUp,
                        "INSTALL received but no GHL client_id/client_secret is configured"
                            .to_owned(),
                    ));
                };
                let company = text("companyId");
                match crate::connections::on_install(
                    &self.store,
                    &self.tokens,
                    app,
                    company,
                    location,
                )
                .await
                {
                    Ok(Some(id)) => Ok((
                        record,
                        "connected".to_owned(),
                        format!("INSTALL: connection {id} is active"),
                    )),
                    Ok(None) => Ok((
                        record,
                        "skipped".to_owned(),
                        "INSTALL for a location of no connected agency".to_owned(),
                    )),
                    Err(e) => Err((Failure::Retry, format!("INSTALL: {e}"))),
                }
            }
            "UNINSTALL" => {
                let at = text("timestamp").unwrap_or("unknown time");
                match crate::connections::on_uninstall(&self.store, location, at).await {
                    Ok(Some(id)) => Ok((
                        record,
                        "disabled".to_owned(),
                        format!("UNINSTALL: connection {id} disabled; jobs held"),
                    )),
                    Ok(None) => Ok((
                        record,
                        "skipped".to_owned(),
                        "UNINSTALL for an unknown location".to_owned(),
                    )),
                    Err(e) => Err((Failure::Retry, format!("UNINSTALL: {e}"))),
                }
            }
            other => Ok((
                record,
                "skipped".to_owned(),
                format!(
                    "{other} for location {}: no flow consumes this event yet",
                    location.unwrap_or("unknown")
                ),
            )),
        }
    }

    /// The connection a job runs on.
    async fn job_connection(&self, job: &Job) -> Result<Connection, (Failure, String)> {
        let Some(conn_id) = job.connection_id.as_deref() else {
            return Err((
                Failure::GiveUp,
                format!("{} jobs need a connection", job.kind),
            ));
        };
        self.store
            .connection(conn_id)
            .await
            .map_err(|e| (Failure::Retry, e.to_string()))?
            .ok_or_else(|| {
                (
                    Failure::GiveUp,
                    format!("connection {conn_id} does not exist"),
                )
            })
    }

    /// `lofty.subscribe`: `{connection}`.
    async fn lofty_subscribe(&self, job: &Job) -> JobResult {
        use crate::connections::{LOFTY_WEBHOOK_LISTS, lofty_callback_url, lofty_client};
        let Some(public_url) = &self.config.public_url else {
            return Err((
                Failure::GiveUp,
                "cannot subscribe to Lofty webhooks: no public_url is configured (set public_url or GHLSYNC_PUBLIC_URL to the HTTPS address Lofty can reach, then replay this job)".to_owned(),
            ));
        };
        let conn = self.job_connection(job).await?;
        let conn_id = conn.id.as_str();
        let record = format!("lofty:subscriptions:{conn_id}");
        let connect_failure = |e: crate::connections::ConnectError| match e {
            crate::connections::ConnectError::Token(t) => token_failure(t),
            crate::connections::ConnectError::Store(s) => (Failure::Retry, s.to_string()),
            other => (Failure::GiveUp, other.to_string()),
        };
        let client = lofty_client(&self.store, &self.tokens, &conn)
            .await
            .map_err(connect_failure)?;
        let callback = lofty_callback_url(&self.store, public_url, conn_id)
            .await
            .map_err(connect_failure)?;
        let callback = secrecy::ExposeSecret::expose_secret(&callback);
        let lofty_failure = |e: lofty::LoftyError| {
            let failure = failure_of(e.retry_class());
            let hint = if public_url.scheme() == "https" {
                String::new()
            } else {
                format!(
                    " (public_url is {}: Lofty delivers only to HTTPS callback URLs; set public_url / GHLSYNC_PUBLIC_URL to your HTTPS address)",
                    public_url.as_str().trim_end_matches('/')
                )
            };
            (failure, format!("Lofty webhook subscription: {e}{hint}"))
        };
        let existing = client.list_webhooks().await.map_err(lofty_failure)?;
        let mut made = Vec::new();
        for list in LOFTY_WEBHOOK_LISTS {
            let exists = existing
                .iter()
                .any(|w| w.list_id == i64::from(list.id()) && w.callback_url == callback);
            if !exists {
                client
                    .create_webhook(&lofty::models::CreateWebhook::new(list, callback))
                    .await
                    .map_err(lofty_failure)?;
                made.push(list.id().to_string());
            }
        }
        // Ours at an older public_url (same key path, another host): delivered nowhere.
        let path = callback
            .rfind("/webhooks/lofty/")
            .map_or(callback, |i| &callback[i..]);
        let mut removed = 0;
        for stale in existing
            .iter()
            .filter(|w| w.callback_url.ends_with(path) && w.callback_url != callback)
        {
            client
                .delete_webhook(stale.subscribe_id)
                .await
                .map_err(lofty_failure)?;
            removed += 1;
        }
        let lists: Vec<String> = LOFTY_WEBHOOK_LISTS
            .iter()
            .map(|l| l.id().to_string())
            .collect();
        Ok((
            record,
            "subscribed".to_owned(),
            format!(
                "lists {} deliver to {}/webhooks/lofty/<key>; {removed} stale removed; {} new",
                lists.join(", "),
                public_url.as_str().trim_end_matches('/'),
                if made.is_empty() {
                    "none".to_owned()
                } else {
                    made.join(", ")
                }
            ),
        ))
    }

    async fn token(&self, conn: &Connection) -> Result<secrecy::SecretString, (Failure, String)> {
        self.tokens.access_token(conn).await.map_err(token_failure)
    }
}

type JobResult = Result<(String, String, String), (Failure, String)>;

/// `lofty.change`: `{connection, entity, change, id, leadId, updateTime, ...}`.
fn lofty_change(job: &Job) -> (String, String, String) {
    let text = |k: &str| job.payload.get(k).and_then(Value::as_str);
    let entity = text("entity").unwrap_or("record");
    let id = job
        .payload
        .get("id")
        .and_then(Value::as_i64)
        .map_or_else(|| "unknown".to_owned(), |id| id.to_string());
    (
        format!("lofty:{entity}:{id}"),
        "skipped".to_owned(),
        format!(
            "{} {entity} from {}: no flow consumes this event yet",
            text("change").unwrap_or("changed"),
            text("connection").unwrap_or("an unknown connection"),
        ),
    )
}

fn display_scopes(scopes: &str) -> String {
    if scopes.trim().is_empty() {
        "no scopes".to_owned()
    } else {
        scopes.replace(' ', ", ")
    }
}

fn token_failure(e: TokenError) -> (Failure, String) {
    match e {
        TokenError::NeedsReauth { .. } => (Failure::Reauth, e.to_string()),
        TokenError::Transient(_) | TokenError::Store(_) => (Failure::Retry, e.to_string()),
    }
}

/// Maps a GHL error to the queue's retry class.
fn classify(e: &GhlError, conn: &Connection) -> (Failure, String) {
    let failure = failure_of(e.retry_class());
    if matches!(failure, Failure::Reauth) {
        tracing::warn!(connection = %conn.id, "GHL refused the connection's token after a refresh");
    }
    (failure, e.to_string())
}

/// The queue's failure for a client's retry class (GHL's, also used by Lofty).
fn failure_of(class: RetryClass) -> Failure {
    match class {
        RetryClass::RetryAfter(d) => Failure::RetryAfter(d),
        RetryClass::Retry => Failure::Retry,
        RetryClass::Reauth => Failure::Reauth,
        RetryClass::GiveUp => Failure::GiveUp,
    }
}
