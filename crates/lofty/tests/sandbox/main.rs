//! Integration tests of the `lofty` client against the in-process Lofty sandbox.
//!
//! Every test starts its own sandbox (port 0, seeded leads), so tests are independent
//! and run in parallel. Waiting is always bounded polling ([`helpers::poll`]), never a
//! fixed sleep used as synchronisation.
//!
//! | module | what it covers |
//! |---|---|
//! | [`leads`] | create, read, update, tags, trash, search, eventual consistency, validation |
//! | [`notes`] | notes CRUD and errors |
//! | [`tasks`] | V2 tasks, finish / unfinish, my-tasks |
//! | [`calendar`] | composite ids, no back-dating, list, finish, delete, all-day |
//! | [`team`] | `me`, members, tags, custom fields, pipelines |
//! | [`webhooks`] | subscriptions and batched deliveries to a local receiver |
//! | [`errors`] | credentials, Content-Type, 429 and headers, pacing, faults, vendor grants |
//! | [`pagination`] | offset, scrollId, currPage, currentId and page streams |
//! | [`oauth`] | consent, code exchange, single-use refresh, client credentials |
//! | [`spec`] | every operation against `openapi.json`, through `LoftyClient::call` |

mod calendar;
mod errors;
mod helpers;
mod leads;
mod notes;
mod oauth;
mod pagination;
mod spec;
mod tasks;
mod team;
mod webhooks;
