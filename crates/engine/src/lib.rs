//! ghlsync's runtime: everything between a journaled event and a call to a system.
//!
//! - [`jobs`]: the closed set of job kinds, one payload struct each (the only place
//!   the kind strings are written).
//! - [`worker`]: the queue worker: claims a batch with a lease, runs the jobs
//!   concurrently while a heartbeat keeps the lease, settles each one (done with its
//!   run-log entry, in the same transaction, or failed with its retry class).
//! - [`intake`]: what an inbound delivery (GHL webhook, Lofty batch) becomes (one
//!   journal entry and its jobs), and [`Intake`], the one writer that commits
//!   deliveries in groups, ahead of the workers, within a deadline.
//! - [`catalog`]: the catalog of actions and triggers, assembled from the clients'
//!   descriptions.
//! - [`handlers`]: one file per job kind.
//! - [`connectors`]: a stored connection opened with its client
//!   ([`Connector::Ghl`], [`Connector::Lofty`], [`Connector::Lytho`]).
//! - [`budget`]: the per-location GHL rate budget shared by every worker process.
//! - [`tokens`]: access tokens, refreshed ahead of expiry under the store's refresh
//!   lease, so several workers (or processes) never spend the same single-use
//!   refresh token.
//! - [`connections`]: storing new connections (OAuth callbacks, agency installs,
//!   PIT, Lofty keys, Lytho client credentials).
//! - [`apps`]: the OAuth apps we act as (GHL marketplace app, Lofty vendor app).
//!
//! A worker that dies loses nothing: its leases expire and another worker takes the
//! jobs.

pub mod actions;
pub mod apps;
pub mod budget;
pub mod catalog;
pub mod connections;
pub mod connectors;
pub mod handlers;
pub mod intake;
pub mod jobs;
pub mod sync;
pub mod tokens;
pub mod worker;

pub use apps::GhlApp;
pub use connectors::{Connector, ConnectorError, Connectors, Health};
pub use intake::{Intake, IntakeBusy, IntakeSettings};
pub use jobs::{Job, JobKind};
pub use tokens::TokenSource;
pub use worker::{Worker, WorkerConfig, WorkerStats};
