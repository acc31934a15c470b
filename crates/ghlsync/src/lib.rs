//! ghlsync as a library: the configuration and the wiring of one application
//! (server, worker, store), so that `main`, `ghlsync up` and every test build the
//! same thing the same way.
//!
//! - [`config`]: one TOML file plus `GHLSYNC_*` environment overrides.
//! - [`startup`]: [`Application::build`] binds the listener (port 0 works), opens the
//!   store, builds the server state and a queue worker, and resolves every address
//!   the application hands out (the webhook URL, Lofty's callback, the OAuth
//!   redirect) from the *bound* one; [`Application::run_until_stopped`] serves.
//!
//! The binary (`src/main.rs` and `src/commands/`) only parses arguments and calls
//! these.

pub mod config;
pub mod startup;

pub use config::Config;
pub use startup::{AppOptions, Application, WorkerOptions};
