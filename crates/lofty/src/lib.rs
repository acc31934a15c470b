//! Typed async client for the Lofty Open API (`https://api.lofty.com`, `/v1.0` and
//! `/v2.0`), as used by ghlsync.
//!
//! The crate owns everything that speaks HTTP to Lofty and nothing else: no storage, no
//! queue, no retries across process restarts. It follows the `ghl` crate's shape and
//! shares, through the `wire` crate, the workspace's HTTP client factory, request
//! preparation, pager, [`Method`], [`RetryClass`] and transport errors (it does not
//! depend on the GHL client).
//!
//! # Layout
//!
//! - [`operations`]: the static table of the 34 operations the client implements (ids
//!   `lofty-<verb>-<noun>`, method, path, the spec's `operationId`, parameters).
//! - [`client`]: [`LoftyClient`] with one generic request path, [`LoftyClient::call`],
//!   and one typed method per operation; API key (`token <key>`) or OAuth (`Bearer`)
//!   credentials; optional pacing by `X-RateLimit-*`.
//! - [`models`]: serde models with 64-bit integer ids (never `f64`); unknown answer
//!   fields are kept in `extra` maps.
//! - [`error`]: [`LoftyError`], Lofty's `{code, message}` errors, and retry classes.
//! - [`pagination`]: streams over the five paging styles (offset, `scrollId`,
//!   `currPage`, `currentId`, `page`).
//! - [`webhook`]: reading Lofty's thin, batched, unsigned webhook deliveries.
//! - [`oauth`]: the vendor OAuth app (consent URL, code exchange, refresh).
//! - [`time`]: Lofty's four time formats.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), lofty::LoftyError> {
//! use lofty::{LoftyClient, LoftyConfig};
//! use lofty::models::{CreateLead, LeadQuery};
//! let client = LoftyClient::new(LoftyConfig::api_key("eyJ...".to_owned()))?;
//! let existing = client.find_leads_by_email("jane@example.com").await?;
//! if existing.is_empty() {
//!     let lead = CreateLead {
//!         emails: Some(vec!["jane@example.com".to_owned()]),
//!         tags_add: Some(vec!["GHL".to_owned()]),
//!         ..CreateLead::new("Jane")
//!     };
//!     let id = client.create_lead(&lead).await?;
//!     println!("created lead {id}");
//! }
//! # Ok(()) }
//! ```

pub mod catalog;
pub mod client;
pub mod error;
pub mod models;
pub mod oauth;
pub mod operations;
pub mod pagination;
pub mod time;
pub mod webhook;

pub use client::{Credential, LoftyClient, LoftyConfig, Pacer};
pub use error::{ApiError, ErrorCode, LoftyError, RateLimit, RetryClass};
pub use oauth::{OAuthApp, TokenResponse};
pub use operations::{BodyKind, Method, OPERATIONS, Operation};
pub use wire::TransportError;

/// Default base URL of the Lofty Open API.
pub const DEFAULT_BASE_URL: &str = "https://api.lofty.com";
