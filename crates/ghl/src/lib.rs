//! Typed async client for the HighLevel (GoHighLevel, "GHL", API brand LeadConnector)
//! API v2, as used by ghlsync.
//!
//! The crate owns everything that speaks HTTP to GHL and nothing else: no storage, no
//! queue, no retries across process restarts. Other crates (the engine, the server, the
//! sandbox emulator) build on its types.
//!
//! # Layout
//!
//! - [`http`]: the workspace's one HTTP client factory, re-exported from [`wire`]
//!   (where it lives with the rest of what the three clients share: request
//!   preparation, the pager, [`Method`], [`RetryClass`], transport errors).
//! - [`operations`]: a static table describing every GHL operation the project uses
//!   (method, path template, `Version` header, scope, parameters, body kind).
//! - [`client`]: [`GhlClient`], a cheap-to-clone client with one generic request path,
//!   [`GhlClient::call`], and one typed method per operation built on top of it.
//! - [`models`]: serde models for requests and responses; unknown response fields are
//!   kept in `extra` maps so nothing GHL sends is lost.
//! - [`error`]: [`GhlError`] and its [`RetryClass`] (from [`wire`]), which tells the
//!   queue whether to retry, wait, re-authenticate or give up.
//! - [`governor`]: a per-location sliding-window rate governor that learns GHL's
//!   `X-RateLimit-*` headers and honours 429s.
//! - [`pagination`]: streams over the paged endpoints (search, deprecated list, business
//!   contacts, installed locations), built on [`wire::paged`].
//! - [`oauth`]: the marketplace OAuth 2.0 app (consent URL, code exchange, refresh,
//!   agency-to-location tokens).
//! - [`catalog`]: the catalog's view of each operation (id, title, input and output
//!   JSON Schemas, example) and of each webhook trigger.
//! - [`events`]: typed webhook event payloads (contacts, notes, tasks, appointments,
//!   install and uninstall).
//! - [`webhook`]: verification of GHL webhook signatures (`X-GHL-Signature` Ed25519 and
//!   legacy `X-WH-Signature` RSA-SHA256).
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), ghl::GhlError> {
//! use ghl::{GhlClient, GhlConfig};
//! let client = GhlClient::new(GhlConfig::new("pit-example".to_owned()))?;
//! let contact = client.get_contact("ocQHyuzHvysMo5N5VsXc").await?;
//! println!("{:?}", contact.email);
//! # Ok(()) }
//! ```

pub mod catalog;
pub mod client;
pub mod error;
pub mod events;
pub mod governor;
pub mod models;
pub mod oauth;
pub mod operations;
pub mod pagination;
pub mod webhook;

/// The workspace's HTTP client factory, kept at `ghl::http` for the crates that build
/// clients for GHL calls (engine, server, the CLI).
pub use wire::http;

#[cfg(test)]
mod test_support;

pub use client::{GateLimit, GhlClient, GhlConfig, RequestGate};
pub use error::{ApiError, GhlError, RetryClass};
pub use governor::{Governor, RateLimitHeaders};
pub use oauth::OAuthApp;
pub use operations::{BodyKind, Method, OPERATIONS, Operation, TokenKind};
pub use webhook::{SignatureError, SignedBy, WebhookVerifier};
pub use wire::TransportError;

/// Default base URL of the GHL API v2.
pub const DEFAULT_BASE_URL: &str = "https://services.leadconnectorhq.com";

/// `Version` header value for most v2 endpoints (contacts, locations, OAuth helpers).
pub const VERSION_2021_07_28: &str = "2021-07-28";

/// `Version` header value for the calendars endpoints (appointments, events).
pub const VERSION_2021_04_15: &str = "2021-04-15";
