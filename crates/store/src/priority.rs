//! Write precedence for the intake on SQLite.
//!
//! SQLite has one writer at a time and no queue for the lock: a waiting writer polls
//! (the busy handler), so a worker that commits back to back can keep the intake
//! waiting for seconds. The intake announces itself here before it writes, and the
//! worker's writes ([`Store::yield_to_intake`]) do not start while it waits: the
//! intake waits for at most the one worker transaction already running. The wait is
//! bounded, so a flood of deliveries slows the worker but never stops it.
//!
//! PostgreSQL locks rows, not the database: there the intake only needs its own
//! connections (it never waits for the workers' pool), and workers do not yield.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::{Backend, Store};

/// The longest a worker write waits for the intake before going ahead anyway.
const MAX_YIELD: Duration = Duration::from_millis(500);

#[derive(Debug, Default)]
pub(crate) struct WritePriority {
    /// Intake writes announced and not finished.
    waiting: AtomicUsize,
    free: Notify,
}

/// An announced intake write; dropping it lets the workers go on.
#[derive(Debug)]
pub(crate) struct IntakeTurn<'a>(&'a WritePriority);

impl WritePriority {
    pub(crate) fn announce(&self) -> IntakeTurn<'_> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        IntakeTurn(self)
    }

    async fn wait_for_intake(&self) {
        let until = tokio::time::Instant::now() + MAX_YIELD;
        loop {
            let free = self.free.notified();
            if self.waiting.load(Ordering::SeqCst) == 0 {
                return;
            }
            if tokio::time::timeout_at(until, free).await.is_err() {
                return;
            }
        }
    }
}

impl Drop for IntakeTurn<'_> {
    fn drop(&mut self) {
        if self.0.waiting.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.free.notify_waiters();
        }
    }
}

impl Store {
    /// Called by the worker's writes before they begin: on SQLite, waits (bounded)
    /// while an intake write is announced.
    pub(crate) async fn yield_to_intake(&self) {
        if matches!(self.backend, Backend::Sqlite(_)) {
            self.priority.wait_for_intake().await;
        }
    }
}
