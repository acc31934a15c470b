//! ghlsync's sync domain: what a sync *means*, with no IO, no async and no SQL.
//!
//! Everything here is plain data and pure functions, so it can be tested without a
//! database, a network or a runtime, and so that the store, the engine and the server
//! speak one vocabulary. The clients (`ghl`, `lofty`, `lytho`) are not visible from
//! here: they pull in reqwest and tokio. What the domain needs from them (catalog
//! entries, record shapes) is assembled where they are visible and handed in as data.
//!
//! - [`system`]: the connected systems ([`System`]) and how a connection
//!   authenticates ([`AuthKind`]).
//! - [`ids`]: newtypes for connection, flow and record ids, and [`RecordRef`], one
//!   record of one connection (an end of a link, the subject of a run-log line).
//! - [`catalog`]: the catalog registry's types: every action and trigger as an
//!   [`catalog::Entry`] with JSON Schemas, the id grammar, lookup, and validation.
//! - [`contact`]: [`Email`] and [`Phone`], parsed once (a phone to E.164 with a
//!   default country, through the `phonenumber` port of libphonenumber), the match
//!   keys of first-time matching.
//!
//! The sync engine's model (the sync file and flows, the mapping language, matching,
//! decisions, conflicts, echo recognition) and the catalog registry's types live here
//! as they are built.

pub mod catalog;
pub mod contact;
pub mod flow;
pub mod ids;
pub mod sync;
pub mod system;

pub use contact::{Email, EmailError, Phone, PhoneError};
pub use ids::{ConnectionId, FlowId, RecordId, RecordRef};
pub use system::{AuthKind, System, UnknownName};
