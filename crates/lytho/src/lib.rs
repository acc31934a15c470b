//! Typed async client for the Lytho Workflow Open API v1 (the inMotion product
//! line), as used by ghlsync.
//!
//! Lytho exposes work requests, tasks, projects, proofs and campaigns: read one,
//! read many by ids, search ids, list an item's users, comments, description and
//! files, and update with RFC 6902 JSON Patch. Authentication is OAuth 2.0 client
//! credentials against the tenant's Keycloak realm. There are **no** create
//! endpoints, no contacts, no appointments and no webhooks: changes are found by
//! polling ([`poll`]). `docs/LYTHO.md` says what is documented and what is assumed.
//!
//! # Layout
//!
//! - [`operations`]: the static table of the 43 operations (`lytho-get-task`,
//!   `lytho-search-workrequests`, `lytho-patch-task`, ...).
//! - [`client`]: [`LythoClient`], one generic request path ([`LythoClient::call`])
//!   and one typed method per operation on top of it.
//! - [`auth`]: [`TokenProvider`], the client-credentials token cache (refreshed
//!   before expiry and once after a 401).
//! - [`models`]: serde models; unknown fields kept in `extra`.
//! - [`pagination`]: streams over batch gets and comments.
//! - [`poll`]: "changes since a cursor" across pages, with the next cursor.
//! - [`error`]: [`LythoError`] and its [`RetryClass`] (the enum every client shares).
//!
//! From the `wire` crate, shared with the GHL and Lofty clients (this crate does not
//! depend on either): HTTP clients from the workspace factory [`wire::http`]
//! (timeouts, no redirects, rustls), request preparation, the pager,
//! [`Method`](operations::Method), [`RetryClass`] and [`TransportError`].
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), lytho::LythoError> {
//! use lytho::{Cursor, ItemType, LythoClient, LythoConfig, PollOptions};
//! use secrecy::SecretString;
//! let config = LythoConfig::new("acme", "wf-oa-123", SecretString::from("secret"))?;
//! let client = LythoClient::new(config)?;
//! let task = client.get_task(20001).await?;
//! let (changed, cursor) = client
//!     .poll_changes(ItemType::Task, Cursor::default(), PollOptions::default())
//!     .await?;
//! println!("{} changed; next poll from {:?}", changed.len(), cursor.since);
//! # let _ = task; Ok(()) }
//! ```

pub mod auth;
pub mod catalog;
pub mod client;
pub mod error;
pub mod models;
pub mod operations;
pub mod pagination;
pub mod poll;

pub use auth::{ClientCredentials, TokenProvider, TokenResponse};
pub use client::{LythoClient, LythoConfig};
pub use error::{ApiError, LythoError, RateLimit, RetryClass};
pub use models::{
    Comment, CommentsQuery, Description, FileUrl, Format, ItemId, OperatorMode, Page, PageSize,
    PatchOp, SearchQuery, SearchResult, User, UserStatus, WorkItem,
};
pub use operations::{Action, BodyKind, ItemType, OPERATIONS, Operation};
pub use poll::{ChangeStream, Cursor, PollOptions};
pub use wire::TransportError;

/// Base URL of the Lytho Workflow Open API v1 (US).
pub const DEFAULT_BASE_URL: &str = "https://openapi.wf.lytho.us/v1";
