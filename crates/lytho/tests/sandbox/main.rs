//! Integration tests of the `lytho` client against the in-process sandbox's Lytho
//! emulator.
//!
//! Every test starts its own sandbox (port 0), so tests are independent and run in
//! parallel. No fixed sleeps are used as synchronisation (one test waits on real
//! time to let a token reach its renewal point).
//!
//! | module | what it covers |
//! |---|---|
//! | [`auth`] | token caching, renewal before expiry, refetch after 401, bad secret, unknown tenant, secret reset |
//! | [`items`] | get, batch get across pages, search, users (overlap with GHL contacts), comments, descriptions, file URLs |
//! | [`patch`] | every JSON-Patch op, `test` failures (409), refused patches (400, 404) |
//! | [`errors`] | 404, invalid page size, 429 with headers, 500, timeouts, bad input |
//! | [`polling`] | changes since a cursor across pages, exactly once, cursor advance, failures |
//! | [`operations`] | every operation of `lytho::OPERATIONS` through `LythoClient::call` |

mod auth;
mod errors;
mod helpers;
mod items;
mod operations;
mod patch;
mod polling;
