//! Integration tests of the `ghl` client against the in-process GHL sandbox.
//!
//! Every test starts its own sandbox (port 0, a few seeded contacts), so tests are
//! independent and run in parallel. Waiting is always bounded polling
//! ([`helpers::poll`]), never a fixed sleep used as synchronisation.
//!
//! | module | what it covers |
//! |---|---|
//! | [`contacts`] | the contacts operations through their typed methods |
//! | [`tasks_notes`] | tasks and notes CRUD |
//! | [`calendars_locations`] | appointments, calendar events, location custom fields and tags |
//! | [`errors`] | 401/403/404/422/400/429/5xx, timeouts, and their retry classes |
//! | [`oauth`] | code exchange, refresh, expiry, agency tokens, the consent page |
//! | [`pagination`] | search (page and searchAfter), deprecated list, business contacts |
//! | [`governor`] | pacing under a compressed rate window, with and without the governor |
//! | [`webhooks`] | signed webhooks out, tampering, retries |
//! | [`operations`] | every operation of `ghl::OPERATIONS` through `GhlClient::call` |

mod calendars_locations;
mod contacts;
mod errors;
mod governor;
mod helpers;
mod oauth;
mod operations;
mod pagination;
mod tasks_notes;
mod webhooks;
