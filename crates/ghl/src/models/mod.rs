//! Serde models of GHL requests and responses.
//!
//! Conventions:
//!
//! - Field names are camelCase on the wire (`#[serde(rename_all = "camelCase")]`), except
//!   where GHL itself differs (`field_value`, OAuth's snake_case token fields, the
//!   misspelled `succeded`).
//! - Response models use `#[serde(default)]` because GHL omits fields freely, accept
//!   `null` for lists, and keep every field they do not name in `extra`, so a round trip
//!   through our types loses nothing.
//! - Request models (`Create*`, `Update*`, `Upsert*`) only carry the fields the spec's DTO
//!   accepts: GHL answers 422 "property X should not exist" to anything else. Optional
//!   fields are skipped when `None`.
//! - Secrets (OAuth tokens) are [`secrecy::SecretString`]; their `Debug` is redacted.

mod calendars;
mod common;
mod contacts;
mod locations;
mod oauth;
mod search;
mod tasks_notes;

pub use calendars::{
    Appointment, Calendar, CalendarEventsQuery, CreateAppointment, EditAppointment,
};
pub use common::{Extra, SuccessResponse};
pub use contacts::{
    BulkBusinessRequest, BulkBusinessResponse, BulkTagAction, BulkTagResult, BulkTagsRequest,
    BulkTagsResponse, BusinessContactsQuery, Contact, ContactList, ContactsMeta, CreateContact,
    CustomFieldInput, CustomFieldValue, DndChannel, DndSettings, FollowersResponse,
    InboundDndSetting, InboundDndSettings, ListContactsQuery, ListContactsResponse, UpdateContact,
    UpsertContact, UpsertResponse,
};
pub use locations::{
    CreateCustomField, CustomFieldModel, LocationCustomField, LocationTag, UpdateCustomField, User,
};
pub use oauth::{
    GrantType, InstalledLocation, InstalledLocations, InstalledLocationsQuery,
    LocationTokenResponse, TokenRequest, TokenResponse, UserType,
};
pub use search::{
    MAX_PAGE_LIMIT, MAX_PAGED_RECORDS, SearchFilter, SearchRequest, SearchResponse, SearchSort,
    SortDirection,
};
pub use tasks_notes::{CreateNote, CreateTask, Note, Task, TaskSearch, UpdateNote, UpdateTask};
