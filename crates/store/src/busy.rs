//! How a SQLite connection waits for another's write lock.
//!
//! SQLite's own busy handler (what `busy_timeout` installs) sleeps 1, 2, 5, 10,
//! 15, 20, 25 ms and more between tries: with the worker's jobs, the intake and a
//! backfill all writing short transactions, a sync spent much of its time in those
//! sleeps (8 per record synced, the cores half idle). Transactions here last tens
//! of microseconds, so this handler tries again after 20 µs for the first 200
//! tries, then every millisecond, until `timeout` has passed since the first.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::time::{Duration, Instant};

use sqlx::sqlite::SqliteConnection;

/// Tries before the wait between them grows from 20 µs to 1 ms.
const QUICK_TRIES: c_int = 200;

thread_local! {
    /// When the current wait began. sqlx runs each connection on a thread of its
    /// own, so this is the wait of one connection.
    static SINCE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Installs the handler on `conn`: it gives up (SQLITE_BUSY) after `timeout`.
pub(crate) async fn wait_briefly(
    conn: &mut SqliteConnection,
    timeout: Duration,
) -> Result<(), sqlx::Error> {
    let millis = usize::try_from(timeout.as_millis()).unwrap_or(usize::MAX);
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: `db` is this connection's open handle, locked away from sqlx's worker
    // thread during this call. The handler's argument is a number cast to a pointer
    // (the timeout in ms), never dereferenced; the handler is a plain function.
    let rc =
        unsafe { libsqlite3_sys::sqlite3_busy_handler(db, Some(pause), millis as *mut c_void) };
    if rc != libsqlite3_sys::SQLITE_OK {
        return Err(sqlx::Error::Protocol(format!(
            "cannot install the SQLite busy handler (code {rc})"
        )));
    }
    Ok(())
}

/// SQLite calls this while the lock it wants is held (`count` times before):
/// non-zero to try again, zero to give up.
extern "C" fn pause(timeout_ms: *mut c_void, count: c_int) -> c_int {
    let now = Instant::now();
    let since = SINCE.with(|s| {
        if count == 0 {
            s.set(Some(now));
        }
        s.get().unwrap_or(now)
    });
    let timeout = Duration::from_millis(timeout_ms as usize as u64);
    if now.duration_since(since) >= timeout {
        return 0;
    }
    std::thread::sleep(if count < QUICK_TRIES {
        Duration::from_micros(20)
    } else {
        Duration::from_millis(1)
    });
    1
}
