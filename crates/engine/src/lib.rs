//! ghlsync's runtime: the queue worker and the job handlers it runs.
//!
//! A [`Worker`] claims a batch of jobs with a lease, runs them concurrently, keeps
//! the lease alive with heartbeats while they run, and settles each one: done (with
//! its run-log entry, in the same transaction) or failed with the error's retry
//! class. A worker that dies loses nothing: its leases expire and another worker
//! takes the jobs. Handlers form a closed set ([`JobKind`]).
//!
//! GHL calls go through [`tokens::TokenSource`], which refreshes OAuth tokens ahead
//! of expiry under the store's per-connection lock, so several workers (or
//! processes) never spend the same single-use refresh token.

pub mod connections;
pub mod tokens;
pub mod worker;

pub use tokens::{GhlApp, TokenSource};
pub use worker::{JobKind, Worker, WorkerConfig, WorkerStats};
