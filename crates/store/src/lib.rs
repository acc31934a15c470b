//! ghlsync's durable core: one [`Store`] API over two databases.
//!
//! - **SQLite** (WAL, one file in the data directory, nothing to install) is the
//!   embedded default.
//! - **PostgreSQL** (a `postgres://` URL) is the scale-out engine: many
//!   `ghlsync worker` processes share it; jobs are claimed with
//!   `FOR UPDATE SKIP LOCKED`, token refreshes are serialised with a row lock.
//!
//! Both backends run the same SQL where the dialects agree (`$N` parameters,
//! `ON CONFLICT`, `RETURNING`); the [`pool!`] macro expands one body per backend, so
//! there is one implementation to read and one test suite for both. The few places
//! where they differ (claiming, batch updates, locking) are written out per backend.
//!
//! What lives here: connections and their secrets (the [`vault`]), the event
//! journal, the job queue (leases, retries with backoff, dead letters, replay),
//! links between records, the echo ledger, cursors, the per-record run log and
//! shared rate budgets. Times are epoch milliseconds from the store's clock, which
//! tests can move forward ([`Store::advance_clock`]) instead of sleeping.

pub mod model;
pub mod vault;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use model::*;
pub use vault::{Keyring, MasterKey};

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
    /// Pool size.
    pub max_connections: u32,
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
    keyring: Arc<std::sync::RwLock<Keyring>>,
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

mod flows;
mod webhook_keys;
pub use flows::{ConnectFlow, FlowStatus};

/// (connection id, name, key id, nonce, ciphertext) of a `secrets` row.
type SecretRow = (String, String, String, Vec<u8>, Vec<u8>);
/// (job id, flow, record, outcome, detail, duration ms, at) of a `run_log` row.
type LogRow = (Option<i64>, String, String, String, String, i64, i64);

/// Writes one sealed secret: `(connection_id, name, key_id, nonce, ciphertext, updated_at)`.
const SECRET_UPSERT: &str = "INSERT INTO secrets (connection_id, name, key_id, nonce, ciphertext, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (connection_id, name) DO UPDATE SET key_id = $3, nonce = $4, ciphertext = $5, updated_at = $6";

/// A sealed secret: (key id, nonce, ciphertext).
type Sealed = (String, Vec<u8>, Vec<u8>);

/// Columns of `jobs` in the order [`job!`] reads them.
const JOB_COLS: &str = "id, queue, kind, payload, idempotency_key, connection_id, status, attempts, max_attempts, run_at, lease_owner, lease_expires_at, last_error";

/// Builds a [`Job`] from a row (either backend).
macro_rules! job {
    ($r:expr) => {{
        let r = &$r;
        let payload: String = r.try_get("payload")?;
        let status: String = r.try_get("status")?;
        Job {
            id: r.try_get("id")?,
            queue: r.try_get("queue")?,
            kind: r.try_get("kind")?,
            payload: serde_json::from_str(&payload)?,
            idempotency_key: r.try_get("idempotency_key")?,
            connection_id: r.try_get("connection_id")?,
            status: JobStatus::parse(&status),
            attempts: r.try_get("attempts")?,
            max_attempts: r.try_get("max_attempts")?,
            run_at: r.try_get("run_at")?,
            lease_owner: r.try_get("lease_owner")?,
            lease_expires_at: r.try_get("lease_expires_at")?,
            last_error: r.try_get("last_error")?,
        }
    }};
}

/// Builds a [`Connection`] from a row (either backend).
macro_rules! connection {
    ($r:expr) => {{
        let r = &$r;
        let status: String = r.try_get("status")?;
        Connection {
            id: r.try_get("id")?,
            system: r.try_get("system")?,
            kind: r.try_get("kind")?,
            location_id: r.try_get("location_id")?,
            company_id: r.try_get("company_id")?,
            status: ConnectionStatus::parse(&status),
            status_reason: r.try_get("status_reason")?,
            scopes: r.try_get("scopes")?,
            token_expires_at: r.try_get("token_expires_at")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        }
    }};
}

/// Exponential backoff with jitter: 1 s, 2 s, 4 s, ... capped at 10 minutes, +-20 %.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 20) - 1;
    let base = 1000u64.saturating_mul(1u64 << exp).min(600_000);
    let jitter = rand::rng().random_range(0.8..1.2);
    Duration::from_millis((base as f64 * jitter) as u64)
}

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
        let backend = if options.is_postgres() {
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
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(connect)
                .await?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            Backend::Postgres(pool)
        } else {
            let file = match options
                .database_url
                .as_deref()
                .and_then(|u| u.strip_prefix("sqlite://"))
            {
                Some(path) => PathBuf::from(path),
                None => options.data_dir.join("ghlsync.db"),
            };
            let connect = SqliteConnectOptions::new()
                .filename(&file)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30));
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .connect_with(connect)
                .await?;
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            Backend::Sqlite(pool)
        };
        Ok(Self {
            backend,
            keyring: Arc::new(std::sync::RwLock::new(keyring)),
            clock_offset: Arc::new(AtomicI64::new(0)),
        })
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
    }

    // -----------------------------------------------------------------------
    // Connections and the vault
    // -----------------------------------------------------------------------

    /// Creates or updates a connection (status back to active).
    pub async fn upsert_connection(&self, c: &NewConnection) -> Result<Connection> {
        let now = self.now();
        pool!(self, p => {
            sqlx::query(
                "INSERT INTO connections (id, system, kind, location_id, company_id, status, scopes, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $7) \
                 ON CONFLICT (id) DO UPDATE SET system = $2, kind = $3, location_id = $4, company_id = $5, \
                 status = 'active', status_reason = NULL, scopes = $6, updated_at = $7",
            )
            .bind(&c.id).bind(&c.system).bind(&c.kind).bind(&c.location_id).bind(&c.company_id)
            .bind(&c.scopes).bind(now)
            .execute(p).await?;
        });
        self.connection(&c.id)
            .await?
            .ok_or_else(|| StoreError::NoConnection(c.id.clone()))
    }

    pub async fn connection(&self, id: &str) -> Result<Option<Connection>> {
        pool!(self, p => {
            let row = sqlx::query("SELECT * FROM connections WHERE id = $1").bind(id).fetch_optional(p).await?;
            Ok(match row { Some(r) => Some(connection!(r)), None => None })
        })
    }

    pub async fn connections(&self) -> Result<Vec<Connection>> {
        pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM connections ORDER BY id").fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(connection!(r));
            }
            Ok(out)
        })
    }

    /// Sets a connection's status and the reason shown to the user.
    pub async fn set_connection_status(
        &self,
        id: &str,
        status: ConnectionStatus,
        reason: Option<&str>,
    ) -> Result<()> {
        let now = self.now();
        pool!(self, p => {
            sqlx::query("UPDATE connections SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1")
                .bind(id).bind(status.as_str()).bind(reason).bind(now)
                .execute(p).await?;
        });
        Ok(())
    }

    /// Encrypts and stores a secret of a connection.
    pub async fn put_secret(
        &self,
        connection_id: &str,
        name: &str,
        value: &SecretString,
    ) -> Result<()> {
        let (kid, nonce, ct) = self.keyring()?.seal(connection_id, name, value)?;
        let now = self.now();
        pool!(self, p => {
            sqlx::query(SECRET_UPSERT)
            .bind(connection_id).bind(name).bind(kid).bind(nonce).bind(ct).bind(now)
            .execute(p).await?;
        });
        Ok(())
    }

    /// Reads and decrypts a secret.
    pub async fn secret(&self, connection_id: &str, name: &str) -> Result<Option<SecretString>> {
        let row: Option<(String, Vec<u8>, Vec<u8>)> = pool!(self, p => {
            sqlx::query_as("SELECT key_id, nonce, ciphertext FROM secrets WHERE connection_id = $1 AND name = $2")
                .bind(connection_id).bind(name).fetch_optional(p).await?
        });
        match row {
            None => Ok(None),
            Some((kid, nonce, ct)) => Ok(Some(self.keyring()?.open(
                connection_id,
                name,
                &kid,
                &nonce,
                &ct,
            )?)),
        }
    }

    fn keyring(&self) -> Result<std::sync::RwLockReadGuard<'_, Keyring>> {
        self.keyring
            .read()
            .map_err(|_| StoreError::Vault("keyring lock poisoned".to_owned()))
    }

    /// Re-encrypts every secret (in one transaction) under `new`, which then becomes
    /// the current key; with `None`, under the current key (after the operator put a
    /// new `GHLSYNC_MASTER_KEY` in place and the old one in `GHLSYNC_OLD_MASTER_KEYS`).
    /// Returns how many secrets were re-encrypted.
    pub async fn rotate_vault(&self, new: Option<MasterKey>) -> Result<usize> {
        if let Some(new) = &new {
            self.keyring()?.stage(new)?;
        }
        let staging = new.map(Keyring::new);
        // Read and re-seal inside one locked transaction, so a refresh committed
        // meanwhile is neither lost nor overwritten.
        macro_rules! reseal {
            ($tx:ident, $select:expr) => {{
                let rows: Vec<SecretRow> = sqlx::query_as($select).fetch_all(&mut *$tx).await?;
                let mut resealed = Vec::with_capacity(rows.len());
                {
                    let ring = self.keyring()?;
                    let target = staging.as_ref().unwrap_or(&ring);
                    for (conn, name, kid, nonce, ct) in &rows {
                        let plain = ring.open(conn, name, kid, nonce, ct)?;
                        resealed.push((conn.clone(), name.clone(), target.seal(conn, name, &plain)?));
                    }
                }
                for (conn, name, (kid, nonce, ct)) in &resealed {
                    sqlx::query("UPDATE secrets SET key_id = $3, nonce = $4, ciphertext = $5 WHERE connection_id = $1 AND name = $2")
                        .bind(conn).bind(name).bind(kid).bind(nonce).bind(ct)
                        .execute(&mut *$tx).await?;
                }
                $tx.commit().await?;
                resealed.len()
            }};
        }
        let n = match &self.backend {
            Backend::Sqlite(p) => {
                let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                reseal!(
                    tx,
                    "SELECT connection_id, name, key_id, nonce, ciphertext FROM secrets"
                )
            }
            Backend::Postgres(p) => {
                let mut tx = p.begin().await?;
                reseal!(
                    tx,
                    "SELECT connection_id, name, key_id, nonce, ciphertext FROM secrets FOR UPDATE"
                )
            }
        };
        if let Some(staging) = staging {
            let (current, _) = staging.into_parts();
            let mut ring = self
                .keyring
                .write()
                .map_err(|_| StoreError::Vault("keyring lock poisoned".to_owned()))?;
            ring.rotate_to(current)?;
        }
        tracing::info!(key_id = %self.keyring()?.current_id(), secrets = n, "VaultRotated");
        Ok(n)
    }

    /// Id of the key new secrets are sealed with.
    pub fn vault_key_id(&self) -> Result<String> {
        Ok(self.keyring()?.current_id().to_owned())
    }

    /// Empties the queue and the run log (benchmarks only).
    pub async fn reset_queue(&self) -> Result<()> {
        pool!(self, p => {
            sqlx::query("DELETE FROM jobs").execute(p).await?;
            sqlx::query("DELETE FROM run_log").execute(p).await?;
        });
        Ok(())
    }

    /// Reads the token set of a connection (no lock), in one query.
    pub async fn tokens(&self, connection_id: &str) -> Result<Option<TokenSet>> {
        // (expiry, secret name, key id, nonce, ciphertext)
        type Row = (Option<i64>, String, String, Vec<u8>, Vec<u8>);
        let rows: Vec<Row> = pool!(self, p => {
            sqlx::query_as(
                "SELECT c.token_expires_at, s.name, s.key_id, s.nonce, s.ciphertext FROM connections c \
                 JOIN secrets s ON s.connection_id = c.id AND s.name IN ('access_token', 'refresh_token') \
                 WHERE c.id = $1",
            )
            .bind(connection_id).fetch_all(p).await?
        });
        let (mut access, mut refresh, mut expires_at) = (None, None, None);
        let ring = self.keyring()?;
        for (expires, name, kid, nonce, ct) in rows {
            expires_at = expires;
            let value = ring.open(connection_id, &name, &kid, &nonce, &ct)?;
            if name == "access_token" {
                access = Some(value);
            } else {
                refresh = Some(value);
            }
        }
        Ok(access.map(|access| TokenSet {
            access,
            refresh,
            expires_at,
        }))
    }

    /// Stores a token set the user just granted (a connection made or re-made), in one
    /// transaction. The connection becomes active, and a refresh that is in flight loses
    /// its lease: its result (new tokens or a rejection of the old refresh token) is
    /// dropped, so it can neither overwrite these tokens nor mark the connection
    /// `needs_reauth` after the reconnect.
    pub async fn put_tokens(&self, connection_id: &str, tokens: &TokenSet) -> Result<()> {
        let sealed = self.seal_tokens(connection_id, tokens)?;
        let now = self.now();
        pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query(
                "UPDATE connections SET token_expires_at = $2, updated_at = $3, status = 'active', \
                 status_reason = NULL, refresh_lease_until = NULL, refresh_lease_owner = NULL WHERE id = $1",
            )
            .bind(connection_id).bind(tokens.expires_at).bind(now)
            .execute(&mut *tx).await?;
            for (name, (kid, nonce, ct)) in &sealed {
                sqlx::query(SECRET_UPSERT)
                    .bind(connection_id).bind(*name).bind(kid).bind(nonce).bind(ct).bind(now)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Seals the access token and, when present, the refresh token of a set.
    fn seal_tokens(
        &self,
        connection_id: &str,
        tokens: &TokenSet,
    ) -> Result<Vec<(&'static str, Sealed)>> {
        let ring = self.keyring()?;
        let mut sealed = vec![(
            "access_token",
            ring.seal(connection_id, "access_token", &tokens.access)?,
        )];
        if let Some(r) = &tokens.refresh {
            sealed.push((
                "refresh_token",
                ring.seal(connection_id, "refresh_token", r)?,
            ));
        }
        Ok(sealed)
    }

    /// Runs `decide` with the connection's current tokens while holding the
    /// connection's refresh lease, so only one refresh happens at a time across all
    /// workers and processes. The lease is a short claim on the connection row
    /// (taken and released in their own tiny transactions), so no database lock is
    /// held while `decide` calls the token endpoint. A [`RefreshDecision::Replace`]
    /// is committed before this returns, so the new refresh token is durable before
    /// the new access token is used.
    pub async fn refresh_tokens<F, Fut>(&self, connection_id: &str, decide: F) -> Result<TokenSet>
    where
        F: FnOnce(TokenSet) -> Fut,
        Fut: Future<Output = RefreshDecision>,
    {
        /// Longer than any token request (30 s timeout + 10 s connect).
        const LEASE: Duration = Duration::from_secs(60);
        let owner = vault::random_id();
        let waited_since = std::time::Instant::now();
        loop {
            let now = self.now();
            let taken: Option<(String, Option<String>)> = pool!(self, p => {
                sqlx::query_as(
                    "UPDATE connections SET refresh_lease_until = $2, refresh_lease_owner = $3 \
                     WHERE id = $1 AND (refresh_lease_until IS NULL OR refresh_lease_until < $4) \
                     RETURNING status, status_reason",
                )
                .bind(connection_id).bind(now + ms(LEASE)).bind(&owner).bind(now)
                .fetch_optional(p).await?
            });
            if let Some((status, reason)) = taken {
                if status != "active" {
                    self.release_refresh_lease(connection_id, &owner).await?;
                    return Err(StoreError::NeedsReauth {
                        id: connection_id.to_owned(),
                        reason: reason.unwrap_or(status),
                    });
                }
                break;
            }
            if self.connection(connection_id).await?.is_none() {
                return Err(StoreError::NoConnection(connection_id.to_owned()));
            }
            if waited_since.elapsed() > LEASE + Duration::from_secs(5) {
                return Err(StoreError::RefreshFailed {
                    id: connection_id.to_owned(),
                    reason: "another worker's token refresh did not finish".to_owned(),
                });
            }
            // Another worker is refreshing: its result is what we will read.
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let current = match self.tokens(connection_id).await {
            Ok(Some(t)) => t,
            Ok(None) => TokenSet {
                access: SecretString::from(String::new()),
                refresh: None,
                expires_at: None,
            },
            Err(e) => {
                self.release_refresh_lease(connection_id, &owner).await?;
                return Err(e);
            }
        };
        let kept = current.clone();
        let decision = decide(current).await;
        let now = self.now();
        match decision {
            RefreshDecision::Keep => {
                self.release_refresh_lease(connection_id, &owner).await?;
                Ok(kept)
            }
            RefreshDecision::Replace(new) => {
                let sealed = self.seal_tokens(connection_id, &new)?;
                let fenced = pool!(self, p => {
                    let mut tx = p.begin().await?;
                    let fenced = sqlx::query(
                        "UPDATE connections SET token_expires_at = $2, updated_at = $3, refresh_lease_until = NULL, \
                         refresh_lease_owner = NULL WHERE id = $1 AND refresh_lease_owner = $4",
                    )
                    .bind(connection_id).bind(new.expires_at).bind(now).bind(&owner)
                    .execute(&mut *tx).await?.rows_affected() == 1;
                    if fenced {
                        for (name, (kid, nonce, ct)) in &sealed {
                            sqlx::query(SECRET_UPSERT)
                                .bind(connection_id).bind(*name).bind(kid).bind(nonce).bind(ct).bind(now)
                                .execute(&mut *tx).await?;
                        }
                    }
                    tx.commit().await?;
                    fenced
                });
                if fenced {
                    Ok(new)
                } else {
                    self.tokens_after_reconnect(connection_id).await
                }
            }
            RefreshDecision::Reject(reason) => {
                let fenced = pool!(self, p => {
                    sqlx::query(
                        "UPDATE connections SET status = 'needs_reauth', status_reason = $2, updated_at = $3, \
                         refresh_lease_until = NULL, refresh_lease_owner = NULL WHERE id = $1 AND refresh_lease_owner = $4",
                    )
                    .bind(connection_id).bind(&reason).bind(now).bind(&owner)
                    .execute(p).await?.rows_affected() == 1
                });
                if fenced {
                    Err(StoreError::NeedsReauth {
                        id: connection_id.to_owned(),
                        reason,
                    })
                } else {
                    self.tokens_after_reconnect(connection_id).await
                }
            }
            RefreshDecision::Fail(reason) => {
                self.release_refresh_lease(connection_id, &owner).await?;
                Err(StoreError::RefreshFailed {
                    id: connection_id.to_owned(),
                    reason,
                })
            }
        }
    }

    /// The tokens a reconnect stored while a refresh was in flight (the refresh lost
    /// its lease to [`Store::put_tokens`]).
    async fn tokens_after_reconnect(&self, connection_id: &str) -> Result<TokenSet> {
        tracing::info!(connection = %connection_id, "a reconnect replaced the tokens during a refresh; its tokens are kept");
        self.tokens(connection_id)
            .await?
            .ok_or_else(|| StoreError::NoConnection(connection_id.to_owned()))
    }

    async fn release_refresh_lease(&self, connection_id: &str, owner: &str) -> Result<()> {
        pool!(self, p => {
            sqlx::query(
                "UPDATE connections SET refresh_lease_until = NULL, refresh_lease_owner = NULL \
                 WHERE id = $1 AND refresh_lease_owner = $2",
            )
            .bind(connection_id).bind(owner)
            .execute(p).await?;
        });
        Ok(())
    }

    // -----------------------------------------------------------------------
    // Event journal
    // -----------------------------------------------------------------------

    /// Journals an event and enqueues its jobs in one transaction. A replayed event
    /// id is stored once and enqueues nothing.
    pub async fn intake(&self, event: &NewEvent, jobs: &[NewJob]) -> Result<Journaled> {
        let now = self.now();
        pool!(self, p => {
            let mut tx = p.begin().await?;
            let inserted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO events (source, event_id, connection_id, received_at, body) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (source, event_id) DO NOTHING RETURNING id",
            )
            .bind(&event.source).bind(&event.event_id).bind(&event.connection_id).bind(now).bind(&event.body)
            .fetch_optional(&mut *tx).await?;
            let Some(id) = inserted else {
                let id: i64 = sqlx::query_scalar("SELECT id FROM events WHERE source = $1 AND event_id = $2")
                    .bind(&event.source).bind(&event.event_id).fetch_one(&mut *tx).await?;
                tx.rollback().await?;
                return Ok(Journaled::Duplicate(id));
            };
            for job in jobs {
                let payload = serde_json::to_string(&job.payload)?;
                sqlx::query(
                    "INSERT INTO jobs (queue, kind, payload, idempotency_key, connection_id, status, attempts, max_attempts, run_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $8) ON CONFLICT (idempotency_key) DO NOTHING",
                )
                .bind(&job.queue).bind(&job.kind).bind(payload).bind(&job.idempotency_key).bind(&job.connection_id)
                .bind(job.max_attempts).bind(now + ms(job.delay)).bind(now)
                .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(Journaled::New(id))
        })
    }

    /// A journaled event's body by source and event id.
    pub async fn event_body(&self, source: &str, event_id: &str) -> Result<Option<String>> {
        pool!(self, p => Ok(sqlx::query_scalar("SELECT body FROM events WHERE source = $1 AND event_id = $2")
            .bind(source).bind(event_id).fetch_optional(p).await?))
    }

    pub async fn count_events(&self) -> Result<i64> {
        pool!(self, p => Ok(sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(p).await?))
    }

    // -----------------------------------------------------------------------
    // Queue
    // -----------------------------------------------------------------------

    /// Enqueues a job; a second job with the same idempotency key is not created.
    pub async fn enqueue(&self, job: &NewJob) -> Result<Enqueued> {
        let now = self.now();
        let payload = serde_json::to_string(&job.payload)?;
        pool!(self, p => {
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO jobs (queue, kind, payload, idempotency_key, connection_id, status, attempts, max_attempts, run_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $8) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            )
            .bind(&job.queue).bind(&job.kind).bind(payload).bind(&job.idempotency_key).bind(&job.connection_id)
            .bind(job.max_attempts).bind(now + ms(job.delay)).bind(now)
            .fetch_optional(p).await?;
            match id {
                Some(id) => Ok(Enqueued { id, created: true }),
                None => {
                    let id: i64 = sqlx::query_scalar("SELECT id FROM jobs WHERE idempotency_key = $1")
                        .bind(&job.idempotency_key).fetch_one(p).await?;
                    Ok(Enqueued { id, created: false })
                }
            }
        })
    }

    /// Enqueues many jobs in one statement; returns how many were new.
    pub async fn enqueue_many(&self, jobs: &[NewJob]) -> Result<usize> {
        if jobs.is_empty() {
            return Ok(0);
        }
        let now = self.now();
        let rows: Vec<serde_json::Value> = jobs
            .iter()
            .map(|j| {
                Ok(serde_json::json!({
                    "queue": j.queue,
                    "kind": j.kind,
                    "payload": serde_json::to_string(&j.payload)?,
                    "idempotency_key": j.idempotency_key,
                    "connection_id": j.connection_id,
                    "max_attempts": j.max_attempts,
                    "run_at": now + ms(j.delay),
                }))
            })
            .collect::<Result<_>>()?;
        let rows = serde_json::to_string(&rows)?;
        let created = match &self.backend {
            Backend::Sqlite(p) => sqlx::query(
                "INSERT INTO jobs (queue, kind, payload, idempotency_key, connection_id, status, attempts, max_attempts, run_at, created_at, updated_at) \
                 SELECT json_extract(value, '$.queue'), json_extract(value, '$.kind'), json_extract(value, '$.payload'), \
                 json_extract(value, '$.idempotency_key'), json_extract(value, '$.connection_id'), 'queued', 0, \
                 json_extract(value, '$.max_attempts'), json_extract(value, '$.run_at'), $2, $2 \
                 FROM json_each($1) WHERE true ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(rows).bind(now).execute(p).await?.rows_affected(),
            Backend::Postgres(p) => sqlx::query(
                "INSERT INTO jobs (queue, kind, payload, idempotency_key, connection_id, status, attempts, max_attempts, run_at, created_at, updated_at) \
                 SELECT queue, kind, payload, idempotency_key, connection_id, 'queued', 0, max_attempts, run_at, $2, $2 \
                 FROM json_to_recordset($1::json) AS x(queue text, kind text, payload text, idempotency_key text, \
                 connection_id text, max_attempts int, run_at bigint) ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(rows).bind(now).execute(p).await?.rows_affected(),
        };
        Ok(usize::try_from(created).unwrap_or(0))
    }

    /// Claims up to `n` ready jobs of `queue` for `worker` with a lease. Ready: queued
    /// and due, or running with an expired lease (its worker died). Jobs of a
    /// connection that is not active are left alone.
    pub async fn claim(
        &self,
        queue: &str,
        worker: &str,
        n: usize,
        lease: Duration,
    ) -> Result<Vec<Job>> {
        let now = self.now();
        let until = now + ms(lease);
        let limit = i64::try_from(n).unwrap_or(i64::MAX);
        let pick = "SELECT id FROM jobs WHERE queue = $4 \
             AND ((status = 'queued' AND run_at <= $3) OR (status = 'running' AND lease_expires_at < $3)) \
             AND (connection_id IS NULL OR connection_id NOT IN (SELECT id FROM connections WHERE status <> 'active')) \
             ORDER BY run_at, id LIMIT $5";
        let update = |lock: &str| {
            format!(
                "UPDATE jobs SET status = 'running', lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1, updated_at = $3 \
                 WHERE id IN ({pick}{lock}) RETURNING {JOB_COLS}"
            )
        };
        let mut jobs = Vec::new();
        match &self.backend {
            Backend::Sqlite(p) => {
                let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                let rows = sqlx::query(sqlx::AssertSqlSafe(update("")))
                    .bind(worker)
                    .bind(until)
                    .bind(now)
                    .bind(queue)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                for r in rows {
                    jobs.push(job!(r));
                }
            }
            Backend::Postgres(p) => {
                let rows = sqlx::query(sqlx::AssertSqlSafe(update(" FOR UPDATE SKIP LOCKED")))
                    .bind(worker)
                    .bind(until)
                    .bind(now)
                    .bind(queue)
                    .bind(limit)
                    .fetch_all(p)
                    .await?;
                for r in rows {
                    jobs.push(job!(r));
                }
            }
        }
        jobs.sort_by_key(|j| (j.run_at, j.id));
        Ok(jobs)
    }

    /// Extends the leases of the jobs `worker` is still running (`ids`). Jobs it
    /// claimed but no longer works on are left to expire and be taken again.
    pub async fn heartbeat(&self, worker: &str, ids: &[i64], lease: Duration) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let now = self.now();
        let ids = serde_json::to_string(ids)?;
        let r = match &self.backend {
            Backend::Sqlite(p) => sqlx::query(
                "UPDATE jobs SET lease_expires_at = $2 WHERE lease_owner = $1 AND status = 'running' \
                 AND id IN (SELECT value FROM json_each($3))",
            )
            .bind(worker).bind(now + ms(lease)).bind(ids).execute(p).await?.rows_affected(),
            Backend::Postgres(p) => sqlx::query(
                "UPDATE jobs SET lease_expires_at = $2 WHERE lease_owner = $1 AND status = 'running' \
                 AND id IN (SELECT value::bigint FROM json_array_elements_text($3::json))",
            )
            .bind(worker).bind(now + ms(lease)).bind(ids).execute(p).await?.rows_affected(),
        };
        Ok(r)
    }

    /// Marks a job done (if `worker` still holds it) and appends its run-log entry
    /// in the same transaction: the entry exists exactly when the job is done.
    /// Returns false when the lease was lost (nothing written).
    pub async fn complete(
        &self,
        worker: &str,
        job_id: i64,
        log: Option<&RunLogEntry>,
    ) -> Result<bool> {
        let done = self
            .complete_many(worker, &[(job_id, log.cloned())])
            .await?;
        Ok(done == 1)
    }

    /// Completes many jobs at once (see [`Store::complete`]); returns how many were still ours.
    pub async fn complete_many(
        &self,
        worker: &str,
        items: &[(i64, Option<RunLogEntry>)],
    ) -> Result<usize> {
        if items.is_empty() {
            return Ok(0);
        }
        let now = self.now();
        let ids: Vec<i64> = items.iter().map(|(id, _)| *id).collect();
        let owned: Vec<i64> = match &self.backend {
            Backend::Sqlite(p) => {
                let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                let owned: Vec<i64> = sqlx::query_scalar(
                    "UPDATE jobs SET status = 'done', lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
                     WHERE id IN (SELECT value FROM json_each($2)) AND lease_owner = $3 AND status = 'running' RETURNING id",
                )
                .bind(now).bind(serde_json::to_string(&ids)?).bind(worker)
                .fetch_all(&mut *tx).await?;
                let logs = logs_json(items, &owned)?;
                if logs != "[]" {
                    sqlx::query(
                        "INSERT INTO run_log (job_id, flow, record, outcome, detail, duration_ms, at) \
                         SELECT json_extract(value, '$.job_id'), json_extract(value, '$.flow'), json_extract(value, '$.record'), \
                         json_extract(value, '$.outcome'), json_extract(value, '$.detail'), json_extract(value, '$.duration_ms'), \
                         json_extract(value, '$.at') FROM json_each($1)",
                    )
                    .bind(logs).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                owned
            }
            Backend::Postgres(p) => {
                let mut tx = p.begin().await?;
                let owned: Vec<i64> = sqlx::query_scalar(
                    "UPDATE jobs SET status = 'done', lease_owner = NULL, lease_expires_at = NULL, updated_at = $1 \
                     WHERE id = ANY($2) AND lease_owner = $3 AND status = 'running' RETURNING id",
                )
                .bind(now).bind(&ids).bind(worker)
                .fetch_all(&mut *tx).await?;
                let logs = logs_json(items, &owned)?;
                if logs != "[]" {
                    sqlx::query(
                        "INSERT INTO run_log (job_id, flow, record, outcome, detail, duration_ms, at) \
                         SELECT job_id, flow, record, outcome, detail, duration_ms, at FROM json_to_recordset($1::json) \
                         AS x(job_id bigint, flow text, record text, outcome text, detail text, duration_ms bigint, at bigint)",
                    )
                    .bind(logs).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                owned
            }
        };
        Ok(owned.len())
    }

    /// Records a failure with its retry class; see [`Failure`].
    pub async fn fail(
        &self,
        worker: &str,
        job: &Job,
        failure: Failure,
        error: &str,
    ) -> Result<FailOutcome> {
        let now = self.now();
        let (status, run_at, attempts, outcome) = match failure {
            Failure::GiveUp => ("dead", now, job.attempts, FailOutcome::Dead),
            Failure::Reauth if job.connection_id.is_some() => {
                ("queued", now, (job.attempts - 1).max(0), FailOutcome::Held)
            }
            // Nothing to hold it on: a transient failure.
            Failure::Reauth if job.attempts >= job.max_attempts => {
                ("dead", now, job.attempts, FailOutcome::Dead)
            }
            Failure::Reauth => {
                let at = now + ms(backoff(job.attempts));
                (
                    "queued",
                    at,
                    job.attempts,
                    FailOutcome::Retrying { run_at: at },
                )
            }
            Failure::RetryAfter(_) | Failure::Retry if job.attempts >= job.max_attempts => {
                ("dead", now, job.attempts, FailOutcome::Dead)
            }
            Failure::RetryAfter(wait) => {
                let at = now + ms(wait);
                (
                    "queued",
                    at,
                    job.attempts,
                    FailOutcome::Retrying { run_at: at },
                )
            }
            Failure::Retry => {
                let at = now + ms(backoff(job.attempts));
                (
                    "queued",
                    at,
                    job.attempts,
                    FailOutcome::Retrying { run_at: at },
                )
            }
        };
        let hold = matches!(failure, Failure::Reauth)
            .then_some(job.connection_id.as_deref())
            .flatten();
        let changed = pool!(self, p => {
            let mut tx = p.begin().await?;
            let changed = sqlx::query(
                "UPDATE jobs SET status = $1, run_at = $2, attempts = $3, last_error = $4, lease_owner = NULL, \
                 lease_expires_at = NULL, updated_at = $5 WHERE id = $6 AND lease_owner = $7 AND status = 'running'",
            )
            .bind(status).bind(run_at).bind(attempts).bind(error).bind(now).bind(job.id).bind(worker)
            .execute(&mut *tx).await?.rows_affected();
            if let (1, Some(conn)) = (changed, hold) {
                // Held jobs wait for the user: the connection says why, so nothing spins.
                sqlx::query(
                    "UPDATE connections SET status = 'needs_reauth', status_reason = COALESCE(status_reason, $2), updated_at = $3 \
                     WHERE id = $1 AND status = 'active'",
                )
                .bind(conn).bind(error).bind(now)
                .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            changed
        });
        Ok(if changed == 1 {
            outcome
        } else {
            FailOutcome::LeaseLost
        })
    }

    /// Puts dead letters back in the queue (attempts reset). Returns how many.
    pub async fn replay(&self, filter: &ReplayFilter) -> Result<u64> {
        let now = self.now();
        let base = "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, last_error = NULL, updated_at = $1 WHERE status = 'dead'";
        pool!(self, p => {
            let r = match filter {
                ReplayFilter::All => sqlx::query(base).bind(now).execute(p).await?,
                ReplayFilter::One(id) => sqlx::query(sqlx::AssertSqlSafe(format!("{base} AND id = $2"))).bind(now).bind(*id).execute(p).await?,
                ReplayFilter::Kind(k) => sqlx::query(sqlx::AssertSqlSafe(format!("{base} AND kind = $2"))).bind(now).bind(k).execute(p).await?,
                ReplayFilter::Queue(q) => sqlx::query(sqlx::AssertSqlSafe(format!("{base} AND queue = $2"))).bind(now).bind(q).execute(p).await?,
            };
            Ok(r.rows_affected())
        })
    }

    pub async fn job(&self, id: i64) -> Result<Option<Job>> {
        let sql = format!("SELECT {JOB_COLS} FROM jobs WHERE id = $1");
        pool!(self, p => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await?;
            Ok(match row { Some(r) => Some(job!(r)), None => None })
        })
    }

    /// Dead letters, newest first.
    pub async fn dead_letters(&self, limit: i64) -> Result<Vec<Job>> {
        let sql = format!(
            "SELECT {JOB_COLS} FROM jobs WHERE status = 'dead' ORDER BY updated_at DESC, id DESC LIMIT $1"
        );
        pool!(self, p => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(job!(r));
            }
            Ok(out)
        })
    }

    pub async fn queue_stats(&self) -> Result<QueueStats> {
        let rows: Vec<(String, i64)> = pool!(self, p => {
            sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetch_all(p).await?
        });
        let mut s = QueueStats::default();
        for (status, n) in rows {
            match JobStatus::parse(&status) {
                JobStatus::Queued => s.queued = n,
                JobStatus::Running => s.running = n,
                JobStatus::Done => s.done = n,
                JobStatus::Dead => s.dead = n,
            }
        }
        Ok(s)
    }

    /// Jobs that can run now (queued and due, or with an expired lease).
    pub async fn ready_count(&self, queue: &str) -> Result<i64> {
        let now = self.now();
        pool!(self, p => Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE queue = $1 AND ((status = 'queued' AND run_at <= $2) OR (status = 'running' AND lease_expires_at < $2)) \
             AND (connection_id IS NULL OR connection_id NOT IN (SELECT id FROM connections WHERE status <> 'active'))",
        ).bind(queue).bind(now).fetch_one(p).await?))
    }

    /// Deletes finished jobs older than `age` (their idempotency keys go with them).
    pub async fn purge_done(&self, age: Duration) -> Result<u64> {
        let cutoff = self.now() - ms(age);
        pool!(self, p => Ok(sqlx::query("DELETE FROM jobs WHERE status = 'done' AND updated_at < $1")
            .bind(cutoff).execute(p).await?.rows_affected()))
    }

    // -----------------------------------------------------------------------
    // Links, echo ledger, cursors, run log, rate budgets
    // -----------------------------------------------------------------------

    /// Links two records (idempotent).
    pub async fn link(&self, a: &RecordRef, b: &RecordRef) -> Result<()> {
        let now = self.now();
        pool!(self, p => {
            sqlx::query(
                "INSERT INTO links (a_connection, a_type, a_id, b_connection, b_type, b_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (a_connection, a_type, a_id, b_connection, b_type) DO UPDATE SET b_id = $6",
            )
            .bind(&a.connection_id).bind(&a.object_type).bind(&a.object_id)
            .bind(&b.connection_id).bind(&b.object_type).bind(&b.object_id).bind(now)
            .execute(p).await?;
        });
        Ok(())
    }

    /// The record linked to `from` in `other_connection`, looking at both directions.
    pub async fn linked(
        &self,
        from: &RecordRef,
        other_connection: &str,
    ) -> Result<Option<RecordRef>> {
        let row: Option<(String, String, String)> = pool!(self, p => {
            sqlx::query_as(
                "SELECT b_connection, b_type, b_id FROM links WHERE a_connection = $1 AND a_type = $2 AND a_id = $3 AND b_connection = $4 \
                 UNION ALL \
                 SELECT a_connection, a_type, a_id FROM links WHERE b_connection = $1 AND b_type = $2 AND b_id = $3 AND a_connection = $4 \
                 LIMIT 1",
            )
            .bind(&from.connection_id).bind(&from.object_type).bind(&from.object_id).bind(other_connection)
            .fetch_optional(p).await?
        });
        Ok(row.map(|(c, t, i)| RecordRef {
            connection_id: c,
            object_type: t,
            object_id: i,
        }))
    }

    /// Records a write we made (for echo suppression and no-op skips).
    pub async fn record_echo(&self, echo: &Echo) -> Result<()> {
        let t = &echo.target;
        pool!(self, p => {
            sqlx::query(
                "INSERT INTO echo_ledger (connection_id, object_type, object_id, content_hash, remote_updated_at, written_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (connection_id, object_type, object_id) \
                 DO UPDATE SET content_hash = $4, remote_updated_at = $5, written_at = $6",
            )
            .bind(&t.connection_id).bind(&t.object_type).bind(&t.object_id)
            .bind(&echo.content_hash).bind(&echo.remote_updated_at).bind(echo.written_at)
            .execute(p).await?;
        });
        Ok(())
    }

    pub async fn echo(&self, target: &RecordRef) -> Result<Option<Echo>> {
        let row: Option<(String, Option<String>, i64)> = pool!(self, p => {
            sqlx::query_as(
                "SELECT content_hash, remote_updated_at, written_at FROM echo_ledger WHERE connection_id = $1 AND object_type = $2 AND object_id = $3",
            )
            .bind(&target.connection_id).bind(&target.object_type).bind(&target.object_id)
            .fetch_optional(p).await?
        });
        Ok(row.map(|(h, r, w)| Echo {
            target: target.clone(),
            content_hash: h,
            remote_updated_at: r,
            written_at: w,
        }))
    }

    pub async fn cursor(&self, name: &str) -> Result<Option<String>> {
        pool!(self, p => Ok(sqlx::query_scalar("SELECT value FROM cursors WHERE name = $1").bind(name).fetch_optional(p).await?))
    }

    pub async fn set_cursor(&self, name: &str, value: &str) -> Result<()> {
        let now = self.now();
        pool!(self, p => {
            sqlx::query("INSERT INTO cursors (name, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET value = $2, updated_at = $3")
                .bind(name).bind(value).bind(now).execute(p).await?;
        });
        Ok(())
    }

    pub async fn append_run_log(&self, e: &RunLogEntry) -> Result<()> {
        pool!(self, p => {
            sqlx::query("INSERT INTO run_log (job_id, flow, record, outcome, detail, duration_ms, at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(e.job_id).bind(&e.flow).bind(&e.record).bind(&e.outcome).bind(&e.detail).bind(e.duration_ms).bind(e.at)
                .execute(p).await?;
        });
        Ok(())
    }

    /// The run log of one record, oldest first.
    pub async fn run_log(&self, record: &str) -> Result<Vec<RunLogEntry>> {
        let rows: Vec<LogRow> = pool!(self, p => {
            sqlx::query_as("SELECT job_id, flow, record, outcome, detail, duration_ms, at FROM run_log WHERE record = $1 ORDER BY id")
                .bind(record).fetch_all(p).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(job_id, flow, record, outcome, detail, duration_ms, at)| RunLogEntry {
                    job_id,
                    flow,
                    record,
                    outcome,
                    detail,
                    duration_ms,
                    at,
                },
            )
            .collect())
    }

    /// (job id, number of run-log entries) for every job that has any (crash tests).
    pub async fn run_log_counts(&self) -> Result<Vec<(i64, i64)>> {
        pool!(self, p => Ok(sqlx::query_as(
            "SELECT job_id, COUNT(*) FROM run_log WHERE job_id IS NOT NULL GROUP BY job_id",
        ).fetch_all(p).await?))
    }

    /// Spends one unit of a shared budget (`max` per `window`). `Ok(())` when
    /// granted, `Err(wait)` with the time until the window ends when spent.
    pub async fn take_budget(
        &self,
        key: &str,
        window: Duration,
        max: i64,
    ) -> Result<Result<(), Duration>> {
        let now = self.now();
        let w = ms(window).max(1);
        let (start, used): (i64, i64) = pool!(self, p => {
            sqlx::query_as(
                "INSERT INTO rate_budgets (key, window_start, used) VALUES ($1, $2, 1) \
                 ON CONFLICT (key) DO UPDATE SET \
                 window_start = CASE WHEN rate_budgets.window_start + $3 <= $2 THEN $2 ELSE rate_budgets.window_start END, \
                 used = CASE WHEN rate_budgets.window_start + $3 <= $2 THEN 1 ELSE rate_budgets.used + 1 END \
                 RETURNING window_start, used",
            )
            .bind(key).bind(now).bind(w).fetch_one(p).await?
        });
        if used <= max {
            Ok(Ok(()))
        } else {
            Ok(Err(Duration::from_millis(
                u64::try_from(start + w - now).unwrap_or(1).max(1),
            )))
        }
    }

    /// Runs a read-only SQL statement returning one integer (diagnostics, tests).
    pub async fn scalar_i64(&self, sql: &'static str) -> Result<i64> {
        pool!(self, p => Ok(sqlx::query_scalar(sql).fetch_one(p).await?))
    }
}

fn create_data_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        StoreError::Config(format!(
            "cannot create the data directory {}: {e}",
            dir.display()
        ))
    })
}

/// The run-log entries of `owned` jobs as a JSON array (for batch inserts).
fn logs_json(items: &[(i64, Option<RunLogEntry>)], owned: &[i64]) -> Result<String> {
    let logs: Vec<&RunLogEntry> = items
        .iter()
        .filter(|(id, _)| owned.contains(id))
        .filter_map(|(_, log)| log.as_ref())
        .collect();
    Ok(serde_json::to_string(&logs)?)
}

/// Where the data directory is by default: `$GHLSYNC_DATA_DIR`, else `./data`.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("GHLSYNC_DATA_DIR")
        .map_or_else(|| Path::new("data").to_path_buf(), PathBuf::from)
}

impl Keyring {
    /// Splits into the current key and the old ones.
    pub fn into_parts(self) -> (MasterKey, Vec<MasterKey>) {
        self.into_parts_inner()
    }
}

/// Exposes a secret only to compare it (tests, greps); never log the result.
pub fn expose(secret: &SecretString) -> &str {
    secret.expose_secret()
}
