//! Wiring: from a [`Config`] to a running application.
//!
//! [`Application::build`] binds first and only then resolves addresses: with
//! `listen = 127.0.0.1:0` and no `public_url`, the public URL is the bound address,
//! so the webhook URL registered with the sandbox, Lofty's callback and the OAuth
//! redirect all reach this process.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use engine::{TokenSource, Worker, WorkerConfig};
use store::Store;

use crate::config::Config;

/// How a worker is tuned (CLI flags win over the `[worker]` section).
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub queue: String,
    pub batch: Option<usize>,
    pub concurrency: Option<usize>,
    pub lease_ms: Option<u64>,
    /// Default: host-pid-random.
    pub id: Option<String>,
    /// Pause when the queue is empty.
    pub idle: Option<Duration>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            queue: "default".to_owned(),
            batch: None,
            concurrency: None,
            lease_ms: None,
            id: None,
            idle: None,
        }
    }
}

/// What the application runs besides the server.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Where to listen (default: the configuration's `listen`).
    pub listen: Option<SocketAddr>,
    /// Run the queue worker in the background (`up`); `serve` and tests that drain
    /// by hand do not.
    pub run_worker: bool,
    pub worker: WorkerOptions,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            listen: None,
            run_worker: true,
            worker: WorkerOptions::default(),
        }
    }
}

/// Raises the soft open-file limit to the hard limit (each connection is a file:
/// a low soft limit would let a few hundred idle clients stop the intake). Returns
/// the limit now in force, `None` where it cannot be read.
pub fn raise_open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "OpenFileLimit: could not raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// Files kept for the store, the clients and logs when sizing the connection cap.
const RESERVED_FILES: u64 = 256;

/// A unique worker id: `<host>-<pid>-<random>`.
pub fn worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".to_owned());
    format!(
        "{host}-{}-{:04x}",
        std::process::id(),
        rand::random::<u16>()
    )
}

/// The server's state from the configuration: starts the intake's writer on `store`.
pub fn server_state(config: &Config, store: Store) -> anyhow::Result<server::AppState> {
    let intake = engine::Intake::start(store.clone(), config.intake.settings()?);
    let verifier = match &config.ghl.webhook_public_key {
        Some(pem) => ghl::WebhookVerifier::new(
            Some(
                ghl::webhook::Ed25519PublicKey::parse(pem)
                    .context("ghl.webhook_public_key is not an Ed25519 public key")?,
            ),
            None,
        ),
        None => ghl::WebhookVerifier::ghl(),
    };
    let operator = secrecy::SecretString::from(config.admin_token()?);
    Ok(server::AppState::with_auth(
        intake,
        verifier,
        &operator,
        config.auth_settings()?,
        config.oauth_settings()?,
    )
    .with_lofty_oauth(config.lofty_oauth_settings()?)
    .with_webhook_allow(server::WebhookAllow {
        ghl: config.intake.ghl_allow_from.clone(),
        lofty: config.intake.lofty_allow_from.clone(),
    })
    .with_connect_defaults(connect_defaults(config)?)
    .with_connectors(connectors(config, store)?))
}

/// Where accounts connected from the admin UI point: the config's APIs (the
/// sandbox's under `ghlsync up`).
fn connect_defaults(config: &Config) -> anyhow::Result<server::connections::ConnectDefaults> {
    let lofty = config
        .lofty
        .base_url
        .as_deref()
        .unwrap_or(lofty::DEFAULT_BASE_URL);
    let lytho = match &config.sandbox_lytho {
        Some(s) => Some((
            url::Url::parse(&s.base_url)?,
            url::Url::parse(&s.token_url)?,
            s.client_id.clone(),
        )),
        None => None,
    };
    Ok(server::connections::ConnectDefaults {
        ghl_base: config.ghl_base_url()?,
        lofty_base: url::Url::parse(lofty)
            .with_context(|| format!("lofty.base_url is not a URL: {lofty}"))?,
        lytho,
    })
}

/// The token source: the GHL marketplace app and the Lofty vendor app, when set.
pub fn token_source(config: &Config, store: Store) -> anyhow::Result<TokenSource> {
    let ahead = Duration::from_secs(config.worker.refresh_ahead_secs.unwrap_or(300));
    let lofty = config.lofty_oauth_settings()?.map(|s| s.app);
    Ok(TokenSource::new(store, config.ghl_app()?, ahead).with_lofty(lofty))
}

/// What opens stored connections (health checks, the CLI's calls).
pub fn connectors(config: &Config, store: Store) -> anyhow::Result<engine::Connectors> {
    let tokens = token_source(config, store.clone())?;
    Ok(
        engine::Connectors::new(store, tokens, config.ghl_base_url()?)
            .with_ghl_calendars(config.ghl.calendars.clone().unwrap_or_default()),
    )
}

/// A queue worker on `store`.
pub fn worker(config: &Config, store: Store, options: &WorkerOptions) -> anyhow::Result<Worker> {
    let mut wc = WorkerConfig::new(options.id.clone().unwrap_or_else(worker_id));
    wc.queue.clone_from(&options.queue);
    wc.batch = options.batch.or(config.worker.batch).unwrap_or(wc.batch);
    wc.concurrency = options
        .concurrency
        .or(config.worker.concurrency)
        .unwrap_or(wc.concurrency);
    if let Some(ms) = options.lease_ms.or(config.worker.lease_ms) {
        wc.lease = Duration::from_millis(ms.max(100));
    }
    if let Some(idle) = options.idle {
        wc.idle = idle;
    }
    match config.worker.reconcile_every_secs {
        Some(0) => wc.reconcile_every = None,
        Some(secs) => wc.reconcile_every = Some(Duration::from_secs(secs)),
        None => {}
    }
    match config.worker.tasks_walk_every_secs {
        Some(0) => wc.tasks_walk_every = None,
        Some(secs) => wc.tasks_walk_every = Some(Duration::from_secs(secs)),
        None => {}
    }
    match config.worker.lytho_poll_every_secs {
        Some(0) => wc.lytho_poll_every = None,
        Some(secs) => wc.lytho_poll_every = Some(Duration::from_secs(secs)),
        None => {}
    }
    if let Some(pct) = config.worker.reconcile_max_delete_percent {
        wc.reconcile_max_delete_permille = (pct.clamp(0.0, 100.0) * 10.0).round() as u32;
    }
    if let Some(days) = config.worker.history_days {
        wc.history_for = Duration::from_secs(days.max(1) * 24 * 3600);
    }
    if let Some(secs) = config.worker.http_timeout_secs {
        wc.http_timeout = Duration::from_secs(secs.max(1));
    }
    wc.ghl_base_url = config.ghl_base_url()?;
    let public = config.public_url();
    wc.public_url = Some(
        url::Url::parse(&public).with_context(|| format!("public_url is not a URL: {public}"))?,
    );
    let tokens = token_source(config, store.clone())?;
    Ok(Worker::new(store, wc, tokens))
}

/// One ghlsync instance: the bound server and a worker on one store.
#[derive(Debug)]
pub struct Application {
    listener: tokio::net::TcpListener,
    address: SocketAddr,
    config: Config,
    store: Store,
    state: server::AppState,
    limits: server::ServeLimits,
    worker: Worker,
    run_worker: bool,
}

impl Application {
    /// Binds the listener, opens (and migrates) the store and builds the server and
    /// the worker. Without a configured `public_url`, the public URL is the bound
    /// address.
    pub async fn build(config: &Config, options: AppOptions) -> anyhow::Result<Self> {
        let open_files = raise_open_file_limit();
        let limits = config.server.limits(open_files, RESERVED_FILES);
        let listen = options.listen.unwrap_or_else(|| config.listen());
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| {
                format!(
                    "the server could not start on {listen} (set GHLSYNC_LISTEN to another address)"
                )
            })?;
        let address = listener.local_addr()?;
        let mut config = config.clone();
        config.listen = Some(address);
        if config.public_url.is_none() {
            config.public_url = Some(format!("http://{address}"));
        }
        let store = config.open_store().await?;
        let state = server_state(&config, store.clone())?;
        let worker = worker(&config, store.clone(), &options.worker)?;
        Ok(Self {
            listener,
            address,
            config,
            store,
            state,
            limits,
            worker,
            run_worker: options.run_worker,
        })
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Where the server is reached (no trailing slash): the configured public URL, or
    /// `http://<bound address>`.
    pub fn public_url(&self) -> String {
        self.config.public_url()
    }

    /// The configuration with the bound address resolved.
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// While no admin account exists, a new one-time link that creates the first
    /// (valid 24 hours; each start replaces the previous link).
    pub async fn setup_link(&self) -> anyhow::Result<Option<String>> {
        if self.store.admin_user_count().await? > 0 {
            return Ok(None);
        }
        let token = server::admin::random_token();
        let until = self.store.now() + server::login::SETUP_TTL_MS;
        self.store.put_setup_token(&token, until).await?;
        Ok(Some(format!("{}/setup?token={token}", self.public_url())))
    }

    /// The worker (running in the background when `run_worker`; tests drain it).
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// Serves (and runs the worker, when asked) until `shutdown` resolves; then the
    /// worker finishes its round and stops.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let worker_task = self.run_worker.then(|| {
            let worker = self.worker.clone();
            tokio::spawn(async move { worker.run(stop_rx).await })
        });
        tracing::info!(address = %self.address, max_connections = self.limits.max_connections, header_timeout_secs = self.limits.header_timeout.as_secs(), "ServerStarted");
        let served = server::serve_listener(self.listener, self.state, self.limits, shutdown).await;
        let _ = stop_tx.send(true);
        if let Some(task) = worker_task {
            let stats = task.await?;
            tracing::info!(done = stats.done, failed = stats.failed, "WorkerStopped");
        }
        served.with_context(|| format!("the server on {} stopped with an error", self.address))
    }
}
