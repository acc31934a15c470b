//! ghlsync's durable core: one [`Store`] API over two databases.
//!
//! - **SQLite** (WAL, one file in the data directory, nothing to install) is the
//!   embedded default.
//! - **PostgreSQL** (a `postgres://` URL) is the scale-out engine: many
//!   `ghlsync worker` processes share it; jobs are claimed with
//!   `FOR UPDATE SKIP LOCKED`, token refreshes are serialised with a row lease.
//!
//! Both backends run the same SQL where the dialects agree (`$N` parameters,
//! `ON CONFLICT`, `RETURNING`); the `pool!` macro expands one body per backend, so
//! there is one implementation to read and one test suite for both. The few places
//! where they differ (claiming, batch updates, locking) are written out per backend.
//!
//! This file holds only the [`Store`] handle, its options, opening and migrating,
//! the clock and the errors. Each table family has its own module, which adds its
//! methods to [`Store`] and owns its types (all re-exported here):
//!
//! | module | tables | what |
//! |---|---|---|
//! | `connections` | `connections` | connected accounts: status, unique human name, base URL |
//! | [`vault`] | `secrets` | secrets sealed at rest, key rotation |
//! | `tokens` | `connections`, `secrets` | token sets and the refresh lease |
//! | `journal` | `events` | inbound events, journaled before they are acknowledged |
//! | `queue` | `jobs` | leases, retries with backoff, dead letters, replay |
//! | `links` | `links` | which record in one system is which in another |
//! | `echo` | `echo_ledger` | fingerprints of our own writes |
//! | `cursors` | `cursors` | polling and backfill positions |
//! | `run_log` | `run_log` | the per-record integration log |
//! | `budgets` | `rate_budgets` | rate budgets shared by every worker |
//! | `connect_flows` | `connect_flows` | OAuth connect state |
//! | `sync` | `flows`, `sync_pairs`, `sync_index`, `history`, `reviews`, `sync_locks` | the sync engine's state |
//! | `webhook_keys` | `webhook_keys` | secret keys of webhook callback paths |
//!
//! Times are epoch milliseconds from the store's clock, which tests can move forward
//! ([`Store::advance_clock`]) instead of sleeping.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Errors of the store. None of them carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("vault: {0}")]
    Vault(String),
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
    #[error("connection {0} not found")]
    NoConnection(String),
    #[error("connection {id} needs to be re-authorised: {reason}")]
    NeedsReauth { id: String, reason: String },
    #[error("token refresh for connection {id} failed, will retry: {reason}")]
    RefreshFailed { id: String, reason: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A column holds a value this version does not know (a newer ghlsync wrote it,
    /// or someone edited the row by hand). Reading it as some default would act on a
    /// row nobody meant to be in that state, so the read fails instead.
    #[error(
        "{table}.{column} holds {value:?}, which this version of ghlsync does not know (written by a newer version, or by hand?)"
    )]
    UnknownValue {
        table: &'static str,
        column: &'static str,
        value: String,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where the store lives. `Debug` hides the password of the database URL.
#[derive(Clone)]
pub struct StoreOptions {
    /// `postgres://...` for PostgreSQL; `None` (or `sqlite://path`) for SQLite.
    pub database_url: Option<String>,
    /// Data directory: the SQLite file and the master key file live here.
    pub data_dir: PathBuf,
    /// PostgreSQL schema to use (created if missing); tests use one per test.
    pub pg_schema: Option<String>,
    /// Pool size (the intake has two more connections of its own).
    pub max_connections: u32,
    /// The longest a journal write waits for the database (SQLite's busy timeout
    /// on the intake's connections, PostgreSQL's `statement_timeout` there). The
    /// intake answers before this (its deadlines are shorter): it bounds how long a
    /// stuck write holds the writer.
    pub intake_wait: Duration,
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("data_dir", &self.data_dir)
            .field("pg_schema", &self.pg_schema)
            .field("max_connections", &self.max_connections)
            .field("intake_wait", &self.intake_wait)
            .finish()
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl StoreOptions {
    pub fn sqlite(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            database_url: None,
            data_dir: data_dir.into(),
            pg_schema: None,
            max_connections: 8,
            intake_wait: Duration::from_secs(10),
        }
    }
    pub fn postgres(url: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            database_url: Some(url.into()),
            ..Self::sqlite(data_dir)
        }
    }
    pub fn is_postgres(&self) -> bool {
        self.database_url
            .as_deref()
            .is_some_and(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
    }
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The durable store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
    /// The intake's own connections (see `priority`): journal writes never wait for
    /// a connection the workers hold.
    intake: Backend,
    priority: Arc<priority::WritePriority>,
    keyring: Arc<std::sync::RwLock<vault::Keyring>>,
    clock_offset: Arc<AtomicI64>,
}

/// Runs `$body` with `$p` bound to the SQLite pool or the PostgreSQL pool.
macro_rules! pool {
    ($store:expr, $p:ident => $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite($p) => $body,
            $crate::Backend::Postgres($p) => $body,
        }
    };
}

/// Runs `$body` with `$p` bound to the intake's own pool (see [`Store::journal`]).
macro_rules! intake_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match &$store.intake {
            $crate::Backend::Sqlite($p) => $body,
            $crate::Backend::Postgres($p) => $body,
        }
    };
}

// Declared after `pool!`: macros are visible to the modules that follow them.
mod accounts;
mod action_flows;
mod budgets;
mod busy;
mod connect_flows;
mod connections;
mod cursors;
mod echo;
mod journal;
mod links;
mod priority;
mod queue;
mod run_log;
mod samples;
mod sync;
mod tokens;
pub mod vault;
mod webhook_keys;

pub use accounts::{AdminUser, ApiToken, Role, SessionRow};
pub use action_flows::ActionFlowRow;
pub use connect_flows::{ConnectFlow, ConnectFlowStatus};
pub use connections::{Connection, ConnectionStatus, NewConnection};
/// One record of one connection (an end of a link); defined in the pure domain.
pub use domain::RecordRef;
pub use echo::Echo;
pub use journal::{Journaled, NewEvent, StoredEvent};
pub use queue::{
    Enqueued, FailOutcome, Failure, Job, JobStatus, NewJob, QueueStats, ReplayFilter, backoff,
};
pub use run_log::RunLogEntry;
pub use samples::Sample;
pub use sync::{FlowRow, HistoryEntry, PairRow, RecordPut, Review};
pub use tokens::{RefreshDecision, TokenSet};
pub use vault::{Keyring, MasterKey};

/// Connections of the intake's own pool: one writes, one reads (webhook keys)
/// while it does.
const INTAKE_CONNECTIONS: u32 = 2;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// Opens (and migrates) the store described by `options`.
    pub async fn open(options: &StoreOptions) -> Result<Self> {
        create_data_dir(&options.data_dir)?;
        let keyring = Keyring::load(&options.data_dir)?;
        Self::open_with_keyring(options, keyring).await
    }

    /// Opens with an explicit keyring (tests, rotation).
    pub async fn open_with_keyring(options: &StoreOptions, keyring: Keyring) -> Result<Self> {
        create_data_dir(&options.data_dir)?;
        let (backend, intake) = if options.is_postgres() {
            let url = options.database_url.as_deref().unwrap_or_default();
            let mut connect = PgConnectOptions::from_str(url).map_err(|e| {
                StoreError::Config(format!(
                    "GHLSYNC_DATABASE_URL is not a valid PostgreSQL URL: {e}"
                ))
            })?;
            if let Some(schema) = &options.pg_schema {
                let admin = PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(connect.clone())
                    .await?;
                let create = format!(
                    "CREATE SCHEMA IF NOT EXISTS \"{}\"",
                    schema.replace('"', "")
                );
                sqlx::query(sqlx::AssertSqlSafe(create))
                    .execute(&admin)
                    .await?;
                admin.close().await;
                connect = connect.options([("search_path", schema.as_str())]);
            }
            let intake = PgPoolOptions::new()
                .max_connections(INTAKE_CONNECTIONS)
                .acquire_timeout(options.intake_wait)
                .connect_lazy_with(connect.clone().options([(
                    "statement_timeout",
                    format!("{}ms", options.intake_wait.as_millis()),
                )]));
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(connect)
                .await?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            (Backend::Postgres(pool), Backend::Postgres(intake))
        } else {
            let file = match options
                .database_url
                .as_deref()
                .and_then(|u| u.strip_prefix("sqlite://"))
            {
                Some(path) => PathBuf::from(path),
                None => options.data_dir.join("ghlsync.db"),
            };
            create_private_file(&file)?;
            let connect = SqliteConnectOptions::new()
                .filename(&file)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30));
            let intake_wait = options.intake_wait;
            let intake = SqlitePoolOptions::new()
                .max_connections(INTAKE_CONNECTIONS)
                .acquire_timeout(options.intake_wait)
                .after_connect(move |conn, _| {
                    Box::pin(async move { busy::wait_briefly(conn, intake_wait).await })
                })
                .connect_lazy_with(connect.clone().busy_timeout(options.intake_wait));
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .after_connect(|conn, _| {
                    Box::pin(async move { busy::wait_briefly(conn, Duration::from_secs(30)).await })
                })
                .connect_with(connect)
                .await?;
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            // The WAL and shared-memory files exist now: private too (they hold rows).
            for suffix in ["-wal", "-shm"] {
                let mut side = file.clone().into_os_string();
                side.push(suffix);
                make_private(Path::new(&side), 0o600)?;
            }
            (Backend::Sqlite(pool), Backend::Sqlite(intake))
        };
        let store = Self {
            backend,
            intake,
            priority: Arc::default(),
            keyring: Arc::new(std::sync::RwLock::new(keyring)),
            clock_offset: Arc::new(AtomicI64::new(0)),
        };
        // Data moves that SQL alone cannot do (they need the vault's key).
        store.move_base_url_secrets().await?;
        Ok(store)
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Path of the SQLite file, if this is SQLite.
    pub fn sqlite_file(options: &StoreOptions) -> Option<PathBuf> {
        (!options.is_postgres()).then(|| options.data_dir.join("ghlsync.db"))
    }

    /// The store's clock (epoch ms).
    pub fn now(&self) -> i64 {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        wall + self.clock_offset.load(Ordering::Relaxed)
    }

    /// Moves this handle's clock forward (tests: expire leases, reach retry times).
    pub fn advance_clock(&self, by: Duration) {
        self.clock_offset.fetch_add(ms(by), Ordering::Relaxed);
    }

    pub async fn close(&self) {
        pool!(self, p => p.close().await);
        intake_pool!(self, p => p.close().await);
    }

    /// Runs a read-only SQL statement returning one integer (diagnostics, tests).
    pub async fn scalar_i64(&self, sql: &'static str) -> Result<i64> {
        pool!(self, p => Ok(sqlx::query_scalar(sql).fetch_one(p).await?))
    }

    /// Runs one raw SQL statement and returns how many rows it changed. Tests only:
    /// they use it to write rows the API would refuse (an unknown status, an old
    /// layout). Production code goes through the typed methods.
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &'static str) -> Result<u64> {
        pool!(self, p => Ok(sqlx::query(sql).execute(p).await?.rows_affected()))
    }
}

/// Creates the data directory private to the user (0700); an existing one that
/// others can read is tightened, with a warning (it holds contact data and keys).
pub fn create_data_dir(dir: &Path) -> Result<()> {
    let fail = |e: std::io::Error| {
        StoreError::Config(format!(
            "cannot create the data directory {}: {e}",
            dir.display()
        ))
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(fail)?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(fail)?;
    make_private(dir, 0o700)
}

/// Creates `file` (if missing) readable and writable by the user only.
fn create_private_file(file: &Path) -> Result<()> {
    let mut open = std::fs::OpenOptions::new();
    open.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    open.open(file).map_err(|e| {
        StoreError::Config(format!(
            "cannot create the database file {}: {e}",
            file.display()
        ))
    })?;
    make_private(file, 0o600)
}

/// Removes group and other permissions from an existing `path` (warning when it had
/// them); a missing path is fine.
fn make_private(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(());
        };
        let current = meta.permissions().mode() & 0o777;
        if current & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{current:o}"), "DataTightened: {} was readable by others; setting it to {mode:o}", path.display());
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| {
                StoreError::Config(format!("cannot make {} private: {e}", path.display()))
            })?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Where the data directory is by default: `$GHLSYNC_DATA_DIR`, else `./data`.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("GHLSYNC_DATA_DIR")
        .map_or_else(|| Path::new("data").to_path_buf(), PathBuf::from)
}

/// Exposes a secret only to compare it (tests, greps); never log the result.
pub fn expose(secret: &SecretString) -> &str {
    secret.expose_secret()
}
