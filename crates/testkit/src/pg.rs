//! PostgreSQL for tests. The URL comes from `GHLSYNC_DATABASE_URL`
//! (`scripts/pg-up.sh` starts the machine's PostgreSQL and prints it). In CI
//! (`CI=true`) a missing or unreachable PostgreSQL fails the test; elsewhere the
//! test is skipped with one line on stderr. Each test gets its own schema, created
//! and migrated here, handed to child processes as `?options=-c search_path=<schema>`.

use std::time::Duration;

use store::{Keyring, MasterKey, Store, StoreOptions};

use crate::{ci, temp_dir, unique};

/// The PostgreSQL URL, or `None` (with one line on stderr) when it is not configured
/// outside CI. In CI a missing URL fails the test.
pub fn url() -> Option<String> {
    match std::env::var("GHLSYNC_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => Some(url),
        _ => {
            assert!(
                !ci(),
                "CI=true but GHLSYNC_DATABASE_URL is not a postgres:// URL: PostgreSQL tests must run in CI"
            );
            eprintln!(
                "skipped: GHLSYNC_DATABASE_URL not set (./scripts/pg-up.sh starts PostgreSQL and prints it)"
            );
            None
        }
    }
}

/// Opens (and closes) a TCP connection to the URL's host and port, so an absent
/// server fails fast (a pool would retry for 30 s).
pub fn probe(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{url} is not a URL: {e}"))?;
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Ok(()); // a Unix socket: let the store try
    };
    let port = parsed.port().unwrap_or(5432);
    let addrs = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = format!("{host}:{port} has no address");
    for addr in addrs {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

/// `url` with the search path set to `schema`, for processes that only take a URL.
pub fn schema_url(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// A test's own PostgreSQL schema, migrated.
#[derive(Debug, Clone)]
pub struct Database {
    /// The server's URL (no schema).
    pub base_url: String,
    pub schema: String,
    /// The URL with the schema as search path.
    pub url: String,
}

/// A fresh, migrated schema, or `None` when PostgreSQL is not available outside CI.
pub async fn database() -> Option<Database> {
    let base_url = url()?;
    if let Err(e) = probe(&base_url) {
        assert!(!ci(), "CI=true and PostgreSQL is unreachable: {e}");
        eprintln!("skipped: PostgreSQL unreachable: {e}");
        return None;
    }
    let schema = unique("t");
    let dir = temp_dir("ghlsync_pg");
    let mut options = StoreOptions::postgres(&base_url, &dir);
    options.pg_schema = Some(schema.clone());
    options.max_connections = 1;
    // Creating the store creates and migrates the schema.
    let store = match Store::open_with_keyring(&options, Keyring::new(MasterKey::generate())).await
    {
        Ok(s) => s,
        Err(e) => {
            assert!(!ci(), "CI=true and PostgreSQL refused: {e}");
            eprintln!("skipped: PostgreSQL unreachable: {e}");
            return None;
        }
    };
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    let url = schema_url(&base_url, &schema);
    Some(Database {
        base_url,
        schema,
        url,
    })
}

/// Drops a test's schema (best effort).
pub async fn drop_schema(base_url: &str, schema: &str) {
    let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(base_url)
        .await
    else {
        return;
    };
    let sql = format!(
        "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
        schema.replace('"', "")
    );
    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
    pool.close().await;
}
