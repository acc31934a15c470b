//! What the three API clients (`ghl`, `lofty`, `lytho`) share, and nothing else.
//!
//! The clients are independent of each other: one speaks to HighLevel, one to Lofty,
//! one to Lytho. What they have in common is how they speak HTTP, and that lives here
//! once, so that Lofty and Lytho need not depend on the GHL client to get it and the
//! policy (timeouts, no redirects, one TLS provider) cannot drift between them. This
//! crate knows no API: no URLs, no models, no error bodies.
//!
//! # Layout
//!
//! - [`http`]: the one HTTP client factory of the workspace (timeouts, no redirects,
//!   rustls with the ring provider installed once, `ghlsync/<version>` user agent).
//!   `clippy.toml` sends every other `reqwest::Client` construction here.
//! - [`request`]: turning an operation's JSON input into a URL (path template, query
//!   string) and what is left of it into a body.
//! - [`pagination`]: [`paged`], the generic pager under every client's streams.
//! - [`method`]: [`Method`], the method column of the operation tables.
//! - [`metrics`]: the process's counters and gauges, encoded for `/metrics`.
//! - [`retry`]: [`RetryClass`], what the queue should do about a failure, and
//!   [`parse_retry_after`].
//! - [`schema`]: JSON Schemas of operation inputs and outputs built from the model
//!   types (schemars), for the catalog.
//! - [`transport`]: [`TransportError`], a call that got no usable answer (timeout,
//!   no connection, broken connection), which each client's error enum wraps.

pub mod http;
pub mod method;
pub mod metrics;
pub mod pagination;
pub mod request;
pub mod retry;
pub mod schema;
pub mod transport;

pub use method::Method;
pub use pagination::paged;
pub use retry::{RetryClass, parse_retry_after};
pub use transport::{TransportError, TransportKind};
