//! [`GhlClient`]: one request path for every operation.
//!
//! [`GhlClient::call`] takes an operation id from the [`operations`]
//! table and a JSON object, and turns it into a request:
//!
//! - keys naming a path parameter fill the path (percent-encoded);
//! - keys naming a query parameter go to the query string (arrays repeat the key,
//!   scalars are stringified, `null` is dropped);
//! - all other keys form the JSON body, or the form body for form operations;
//! - if the operation has a body and the input has a top-level `"body"` whose value is an
//!   object (or an array, for JSON), that value is sent verbatim and no other body keys
//!   are allowed. A *string* `"body"` is an ordinary field (notes and tasks have one).
//!
//! Unknown keys for an operation without a body are an error, so typos do not vanish.
//! Every request carries `Accept: application/json`, the operation's `Version` header and
//! `Authorization: Bearer <token>` (except `POST /oauth/token`). Requests wait for the
//! optional [`Governor`] (keyed by the client's location, else `"default"`; the token
//! endpoint is not paced) and every response's `X-RateLimit-*` headers feed it; a 429
//! blocks the key for the server's wait. Non-2xx answers become [`GhlError::Api`] with
//! the parsed body.
//!
//! The typed methods (`get_contact`, `create_task`, `search_contacts`, ...) are thin:
//! they build the same JSON input, go through the same path, and decode the answer.
//! The client does not retry: the durable queue decides, from
//! [`GhlError::retry_class`](crate::GhlError::retry_class).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use url::Url;
use wire::request;

use crate::error::{ApiError, GhlError};
use crate::governor::{Governor, RateLimitHeaders};
use crate::models::{
    Appointment, BulkBusinessRequest, BulkBusinessResponse, BulkTagAction, BulkTagsRequest,
    BulkTagsResponse, BusinessContactsQuery, Calendar, CalendarEventsQuery, Contact, ContactList,
    CreateAppointment, CreateContact, CreateCustomField, CreateNote, CreateTask, CustomFieldModel,
    EditAppointment, FollowersResponse, InstalledLocations, InstalledLocationsQuery,
    ListContactsQuery, ListContactsResponse, LocationCustomField, LocationTag,
    LocationTokenResponse, Note, SearchRequest, SearchResponse, SuccessResponse, Task, TaskSearch,
    TokenRequest, TokenResponse, UpdateContact, UpdateCustomField, UpdateNote, UpdateTask,
    UpsertContact, UpsertResponse, User,
};
use crate::operations::{self, BodyKind, Method, Operation, TokenKind};

/// Governor key used when the client has no location.
pub const DEFAULT_GOVERNOR_KEY: &str = "default";

/// How to reach GHL and as whom.
#[derive(Debug, Clone)]
pub struct GhlConfig {
    /// API base URL (the sandbox or `https://services.leadconnectorhq.com`).
    pub base_url: Url,
    /// Private Integration Token or OAuth access token.
    pub token: SecretString,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Location the token belongs to; the governor budget key.
    pub location_id: Option<String>,
}

impl GhlConfig {
    /// Production base URL, default timeout, no location.
    pub fn new(token: impl Into<SecretString>) -> Self {
        Self {
            base_url: default_base_url(),
            token: token.into(),
            timeout: crate::http::DEFAULT_TIMEOUT,
            location_id: None,
        }
    }

    /// Sets the base URL.
    #[must_use]
    pub fn with_base_url(mut self, base_url: Url) -> Self {
        self.base_url = base_url;
        self
    }

    /// Sets the location.
    #[must_use]
    pub fn with_location(mut self, location_id: impl Into<String>) -> Self {
        self.location_id = Some(location_id.into());
        self
    }

    /// Sets the per-request timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// `https://services.leadconnectorhq.com`.
pub fn default_base_url() -> Url {
    // A valid literal: parsing cannot fail.
    Url::parse(crate::DEFAULT_BASE_URL).expect("default base URL is valid")
}

/// Client for the GHL API. Cloning is cheap (shared connection pool and settings).
#[derive(Debug, Clone)]
pub struct GhlClient {
    http: reqwest::Client,
    base_url: Arc<Url>,
    token: SecretString,
    timeout: Duration,
    location_id: Option<Arc<str>>,
    governor: Option<Arc<Governor>>,
    gate: Option<Arc<dyn RequestGate>>,
}

/// A wait in front of every paced request, before the governor: the engine's budget
/// shared by every worker process sits here (the governor only sees this process).
/// It is told the limit the governor has learned for the key.
pub trait RequestGate: Send + Sync + std::fmt::Debug {
    /// Resolves when one request for `key` may go out. `limit` tells the limit the
    /// governor knows now (it changes when a response teaches the real one, so a
    /// waiting gate asks again).
    fn admit<'a>(
        &'a self,
        key: &'a str,
        limit: &'a (dyn Fn() -> GateLimit + Send + Sync),
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), GhlError>> + Send + 'a>>;
}

/// The limit a [`RequestGate`] paces to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateLimit {
    pub max: u32,
    pub interval: Duration,
    /// Whether GHL's headers said so (`false`: the documented defaults, until the
    /// first response; a gate should then hand out one request at a time).
    pub learned: bool,
}

impl GhlClient {
    /// A client with its own HTTP client from the [`http`](crate::http) factory.
    pub fn new(config: GhlConfig) -> Result<Self, GhlError> {
        let http = crate::http::try_http_client(config.timeout)
            .map_err(|err| GhlError::transport(None, err))?;
        Ok(Self::with_http(config, http))
    }

    /// A client sharing an existing HTTP client (its pool); `config.timeout` still
    /// applies per request.
    pub fn with_http(config: GhlConfig, http: reqwest::Client) -> Self {
        Self {
            http,
            base_url: Arc::new(config.base_url),
            token: config.token,
            timeout: config.timeout,
            location_id: config.location_id.map(Arc::from),
            governor: None,
            gate: None,
        }
    }

    /// Same client, waiting at `gate` before every paced request (and before the
    /// governor).
    #[must_use]
    pub fn with_gate(mut self, gate: Arc<dyn RequestGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Same client, pacing every request through `governor`.
    #[must_use]
    pub fn with_governor(mut self, governor: Arc<Governor>) -> Self {
        self.governor = Some(governor);
        self
    }

    /// Same client with another token (after a refresh, or a location token minted
    /// from an agency token).
    #[must_use]
    pub fn with_token(&self, token: SecretString) -> Self {
        Self {
            token,
            ..self.clone()
        }
    }

    /// Same client for another location (governor key).
    #[must_use]
    pub fn with_location(&self, location_id: impl Into<String>) -> Self {
        Self {
            location_id: Some(Arc::from(location_id.into())),
            ..self.clone()
        }
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The configured location.
    pub fn location_id(&self) -> Option<&str> {
        self.location_id.as_deref()
    }

    /// The governor, if any.
    pub fn governor(&self) -> Option<&Arc<Governor>> {
        self.governor.as_ref()
    }

    /// The key under which requests are paced.
    pub fn governor_key(&self) -> &str {
        self.location_id().unwrap_or(DEFAULT_GOVERNOR_KEY)
    }

    /// Calls any operation of the table by id (see the module docs for how `input` is
    /// split into path, query and body). Returns the decoded JSON body (`null` if empty).
    pub async fn call(&self, op_id: &str, input: Value) -> Result<Value, GhlError> {
        let op = operations::find(op_id)
            .ok_or_else(|| GhlError::InvalidInput(format!("unknown operation {op_id}")))?;
        self.execute(op, input).await
    }

    /// Calls an operation given by value (e.g. one found in [`operations::OPERATIONS`]).
    pub async fn execute(&self, op: &Operation, input: Value) -> Result<Value, GhlError> {
        let prepared = prepare(&self.base_url, op, input)?;
        let paced = op.token != TokenKind::None;
        let key = self.governor_key();
        if paced && let Some(gate) = &self.gate {
            let governor = self.governor.as_deref();
            let limit = move || {
                let (max, interval, learned) = governor.map_or(
                    (
                        crate::governor::DEFAULT_MAX,
                        crate::governor::DEFAULT_INTERVAL,
                        false,
                    ),
                    |g| g.limits(key),
                );
                GateLimit {
                    max,
                    interval,
                    learned,
                }
            };
            gate.admit(key, &limit).await?;
        }
        if paced && let Some(gov) = &self.governor {
            gov.acquire(key).await?;
        }

        let mut req = self
            .http
            .request(op.method.to_http(), prepared.url)
            .timeout(self.timeout)
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        if !op.version.is_empty() {
            req = req.header("Version", op.version);
        }
        if op.token != TokenKind::None {
            req = req.bearer_auth(self.token.expose_secret());
        }
        req = match prepared.body {
            PreparedBody::None => req,
            PreparedBody::Json(body) => req.json(&body),
            PreparedBody::Form(pairs) => req.form(&pairs),
        };

        let resp = req.send().await.map_err(|e| {
            wire::metrics::api_request("ghl", 0);
            GhlError::transport(Some(op.id), e)
        })?;
        let status = resp.status();
        wire::metrics::api_request("ghl", status.as_u16());
        let headers = resp.headers().clone();
        let rate_limit = RateLimitHeaders::from_headers(&headers);
        if paced && let Some(gov) = &self.governor {
            if self.gate.is_some() {
                gov.observe_shared(key, &rate_limit);
            } else {
                gov.observe(key, &rate_limit);
            }
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| match GhlError::transport(Some(op.id), e) {
                GhlError::Transport(t) => GhlError::Transport(t.of_method(op.method)),
                other => other,
            })?;
        tracing::debug!(
            operation = op.id,
            status = status.as_u16(),
            remaining = rate_limit.remaining,
            "GhlRequestCompleted"
        );

        if !status.is_success() {
            let mut err = ApiError::from_parts(status.as_u16(), &headers, &bytes);
            err.operation = Some(op.id.to_owned());
            if status.as_u16() == 429
                && paced
                && let Some(gov) = &self.governor
            {
                gov.penalize(key, err.rate_limit_wait());
            }
            return Err(err.into());
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| GhlError::decode(op.id, &e))
    }

    async fn typed<T: DeserializeOwned>(&self, op_id: &str, input: Value) -> Result<T, GhlError> {
        let value = self.call(op_id, input).await?;
        decode(op_id, value)
    }

    /// Calls and decodes one top-level field of the answer (`{contact: ...}`).
    async fn field<T: DeserializeOwned>(
        &self,
        op_id: &str,
        input: Value,
        field: &str,
    ) -> Result<T, GhlError> {
        match self.call(op_id, input).await? {
            Value::Object(mut map) => match map.remove(field) {
                Some(value) => decode(op_id, value),
                None => Err(GhlError::Decode {
                    operation: Some(op_id.to_owned()),
                    message: format!("missing field `{field}`"),
                }),
            },
            _ => Err(GhlError::Decode {
                operation: Some(op_id.to_owned()),
                message: "expected a JSON object".to_owned(),
            }),
        }
    }

    /// Like [`Self::field`] but falls back to the whole answer when the field is absent
    /// (calendar endpoints answer either flat or wrapped).
    async fn field_or_whole<T: DeserializeOwned>(
        &self,
        op_id: &str,
        input: Value,
        field: &str,
    ) -> Result<T, GhlError> {
        let mut value = self.call(op_id, input).await?;
        let inner = value
            .as_object_mut()
            .and_then(|map| map.remove(field))
            .filter(Value::is_object);
        decode(op_id, inner.unwrap_or(value))
    }

    // ---------------------------------------------------------------- contacts: search

    /// `search-contacts-advanced`: `POST /contacts/search`.
    pub async fn search_contacts(&self, req: &SearchRequest) -> Result<SearchResponse, GhlError> {
        self.typed("search-contacts-advanced", json!({ "body": to_body(req)? }))
            .await
    }

    /// `get-duplicate-contact`: the contact a record with this email or phone would
    /// duplicate, if any.
    pub async fn get_duplicate_contact(
        &self,
        location_id: &str,
        email: Option<&str>,
        number: Option<&str>,
    ) -> Result<Option<Contact>, GhlError> {
        let input = json!({ "locationId": location_id, "email": email, "number": number });
        let value = self.call("get-duplicate-contact", input).await?;
        match value.get("contact") {
            None | Some(Value::Null) => Ok(None),
            Some(contact) => decode("get-duplicate-contact", contact.clone()).map(Some),
        }
    }

    // ---------------------------------------------------------------- tasks

    /// `get-all-tasks`: every task of a contact.
    pub async fn list_tasks(&self, contact_id: &str) -> Result<Vec<Task>, GhlError> {
        self.field("get-all-tasks", json!({ "contactId": contact_id }), "tasks")
            .await
    }

    /// `create-task`.
    pub async fn create_task(&self, contact_id: &str, task: &CreateTask) -> Result<Task, GhlError> {
        let input = json!({ "contactId": contact_id, "body": to_body(task)? });
        self.field("create-task", input, "task").await
    }

    /// `get-task`.
    pub async fn get_task(&self, contact_id: &str, task_id: &str) -> Result<Task, GhlError> {
        let input = json!({ "contactId": contact_id, "taskId": task_id });
        self.field("get-task", input, "task").await
    }

    /// `update-task`.
    pub async fn update_task(
        &self,
        contact_id: &str,
        task_id: &str,
        task: &UpdateTask,
    ) -> Result<Task, GhlError> {
        let input = json!({ "contactId": contact_id, "taskId": task_id, "body": to_body(task)? });
        self.field("update-task", input, "task").await
    }

    /// `delete-task`.
    pub async fn delete_task(
        &self,
        contact_id: &str,
        task_id: &str,
    ) -> Result<SuccessResponse, GhlError> {
        let input = json!({ "contactId": contact_id, "taskId": task_id });
        self.typed("delete-task", input).await
    }

    /// `update-task-completed`: mark a task done or open.
    pub async fn set_task_completed(
        &self,
        contact_id: &str,
        task_id: &str,
        completed: bool,
    ) -> Result<Task, GhlError> {
        let input = json!({ "contactId": contact_id, "taskId": task_id, "completed": completed });
        self.field("update-task-completed", input, "task").await
    }

    /// `task-search`: one page of a location's tasks.
    pub async fn search_tasks(
        &self,
        location_id: &str,
        search: &TaskSearch,
    ) -> Result<Vec<Task>, GhlError> {
        let input = json!({ "locationId": location_id, "body": to_body(search)? });
        self.field("task-search", input, "tasks").await
    }

    // ---------------------------------------------------------------- appointments

    /// `get-appointments-for-contact`.
    pub async fn contact_appointments(
        &self,
        contact_id: &str,
    ) -> Result<Vec<Appointment>, GhlError> {
        let input = json!({ "contactId": contact_id });
        self.field("get-appointments-for-contact", input, "events")
            .await
    }

    // ---------------------------------------------------------------- tags

    /// `add-tags`: returns the contact's tags afterwards.
    pub async fn add_tags(
        &self,
        contact_id: &str,
        tags: &[String],
    ) -> Result<Vec<String>, GhlError> {
        let input = json!({ "contactId": contact_id, "tags": tags });
        self.field("add-tags", input, "tags").await
    }

    /// `remove-tags`: returns the contact's tags afterwards.
    pub async fn remove_tags(
        &self,
        contact_id: &str,
        tags: &[String],
    ) -> Result<Vec<String>, GhlError> {
        let input = json!({ "contactId": contact_id, "tags": tags });
        self.field("remove-tags", input, "tags").await
    }

    // ---------------------------------------------------------------- notes

    /// `get-all-notes`.
    pub async fn list_notes(&self, contact_id: &str) -> Result<Vec<Note>, GhlError> {
        self.field("get-all-notes", json!({ "contactId": contact_id }), "notes")
            .await
    }

    /// `create-note`.
    pub async fn create_note(&self, contact_id: &str, note: &CreateNote) -> Result<Note, GhlError> {
        let input = json!({ "contactId": contact_id, "body": to_body(note)? });
        self.field("create-note", input, "note").await
    }

    /// `get-note`.
    pub async fn get_note(&self, contact_id: &str, note_id: &str) -> Result<Note, GhlError> {
        let input = json!({ "contactId": contact_id, "id": note_id });
        self.field("get-note", input, "note").await
    }

    /// `update-note`.
    pub async fn update_note(
        &self,
        contact_id: &str,
        note_id: &str,
        note: &UpdateNote,
    ) -> Result<Note, GhlError> {
        let input = json!({ "contactId": contact_id, "id": note_id, "body": to_body(note)? });
        self.field("update-note", input, "note").await
    }

    /// `delete-note`.
    pub async fn delete_note(
        &self,
        contact_id: &str,
        note_id: &str,
    ) -> Result<SuccessResponse, GhlError> {
        let input = json!({ "contactId": contact_id, "id": note_id });
        self.typed("delete-note", input).await
    }

    // ---------------------------------------------------------------- bulk

    /// `create-association` (sic): add or remove tags on many contacts.
    pub async fn bulk_update_tags(
        &self,
        action: BulkTagAction,
        req: &BulkTagsRequest,
    ) -> Result<BulkTagsResponse, GhlError> {
        let input = json!({ "type": action.as_str(), "body": to_body(req)? });
        self.typed("create-association", input).await
    }

    /// `add-remove-contact-from-business`.
    pub async fn bulk_update_business(
        &self,
        req: &BulkBusinessRequest,
    ) -> Result<BulkBusinessResponse, GhlError> {
        self.typed(
            "add-remove-contact-from-business",
            json!({ "body": to_body(req)? }),
        )
        .await
    }

    // ---------------------------------------------------------------- contacts

    /// `get-contact`.
    pub async fn get_contact(&self, contact_id: &str) -> Result<Contact, GhlError> {
        self.field("get-contact", json!({ "contactId": contact_id }), "contact")
            .await
    }

    /// `update-contact`: returns the updated contact.
    pub async fn update_contact(
        &self,
        contact_id: &str,
        update: &UpdateContact,
    ) -> Result<Contact, GhlError> {
        let input = json!({ "contactId": contact_id, "body": to_body(update)? });
        self.field("update-contact", input, "contact").await
    }

    /// `delete-contact`.
    pub async fn delete_contact(&self, contact_id: &str) -> Result<SuccessResponse, GhlError> {
        self.typed("delete-contact", json!({ "contactId": contact_id }))
            .await
    }

    /// `upsert-contact`.
    pub async fn upsert_contact(&self, req: &UpsertContact) -> Result<UpsertResponse, GhlError> {
        self.typed("upsert-contact", json!({ "body": to_body(req)? }))
            .await
    }

    /// `get-contacts-by-businessId`.
    pub async fn contacts_by_business(
        &self,
        business_id: &str,
        query: &BusinessContactsQuery,
    ) -> Result<ContactList, GhlError> {
        let mut input = to_body(query)?;
        insert(&mut input, "businessId", business_id);
        self.typed("get-contacts-by-businessId", input).await
    }

    /// `add-followers-contact`.
    pub async fn add_followers(
        &self,
        contact_id: &str,
        followers: &[String],
    ) -> Result<FollowersResponse, GhlError> {
        let input = json!({ "contactId": contact_id, "followers": followers });
        self.typed("add-followers-contact", input).await
    }

    /// `remove-followers-contact`.
    pub async fn remove_followers(
        &self,
        contact_id: &str,
        followers: &[String],
    ) -> Result<FollowersResponse, GhlError> {
        let input = json!({ "contactId": contact_id, "followers": followers });
        self.typed("remove-followers-contact", input).await
    }

    /// `add-contact-to-campaign`.
    pub async fn add_to_campaign(
        &self,
        contact_id: &str,
        campaign_id: &str,
    ) -> Result<SuccessResponse, GhlError> {
        let input = json!({ "contactId": contact_id, "campaignId": campaign_id });
        self.typed("add-contact-to-campaign", input).await
    }

    /// `remove-contact-from-campaign`.
    pub async fn remove_from_campaign(
        &self,
        contact_id: &str,
        campaign_id: &str,
    ) -> Result<SuccessResponse, GhlError> {
        let input = json!({ "contactId": contact_id, "campaignId": campaign_id });
        self.typed("remove-contact-from-campaign", input).await
    }

    /// `remove-contact-from-every-campaign`.
    pub async fn remove_from_all_campaigns(
        &self,
        contact_id: &str,
    ) -> Result<SuccessResponse, GhlError> {
        let input = json!({ "contactId": contact_id });
        self.typed("remove-contact-from-every-campaign", input)
            .await
    }

    /// `add-contact-to-workflow`, optionally starting at `event_start_time` (ISO 8601).
    pub async fn add_to_workflow(
        &self,
        contact_id: &str,
        workflow_id: &str,
        event_start_time: Option<&str>,
    ) -> Result<SuccessResponse, GhlError> {
        let mut input = json!({ "contactId": contact_id, "workflowId": workflow_id });
        if let Some(at) = event_start_time {
            insert(&mut input, "eventStartTime", at);
        }
        self.typed("add-contact-to-workflow", input).await
    }

    /// `delete-contact-from-workflow`.
    pub async fn remove_from_workflow(
        &self,
        contact_id: &str,
        workflow_id: &str,
        event_start_time: Option<&str>,
    ) -> Result<SuccessResponse, GhlError> {
        let mut input = json!({ "contactId": contact_id, "workflowId": workflow_id });
        if let Some(at) = event_start_time {
            insert(&mut input, "eventStartTime", at);
        }
        self.typed("delete-contact-from-workflow", input).await
    }

    /// `create-contact`. A location that forbids duplicates answers 400 with
    /// `meta.contactId` of the existing contact (see [`GhlError::api`]).
    pub async fn create_contact(&self, contact: &CreateContact) -> Result<Contact, GhlError> {
        self.field(
            "create-contact",
            json!({ "body": to_body(contact)? }),
            "contact",
        )
        .await
    }

    /// `get-contacts` (deprecated): one page of the cursor list.
    pub async fn list_contacts(
        &self,
        query: &ListContactsQuery,
    ) -> Result<ListContactsResponse, GhlError> {
        self.typed("get-contacts", to_body(query)?).await
    }

    // ---------------------------------------------------------------- calendars

    /// `get-user-by-location`: the users of a location.
    pub async fn list_users(&self, location_id: &str) -> Result<Vec<User>, GhlError> {
        self.field(
            "get-user-by-location",
            json!({ "locationId": location_id }),
            "users",
        )
        .await
    }

    /// `get-calendars`: the calendars of a location.
    pub async fn list_calendars(&self, location_id: &str) -> Result<Vec<Calendar>, GhlError> {
        self.field(
            "get-calendars",
            json!({ "locationId": location_id }),
            "calendars",
        )
        .await
    }

    /// `create-appointment`.
    pub async fn create_appointment(
        &self,
        appointment: &CreateAppointment,
    ) -> Result<Appointment, GhlError> {
        let input = json!({ "body": to_body(appointment)? });
        self.field_or_whole("create-appointment", input, "event")
            .await
    }

    /// `edit-appointment`.
    pub async fn edit_appointment(
        &self,
        event_id: &str,
        edit: &EditAppointment,
    ) -> Result<Appointment, GhlError> {
        let input = json!({ "eventId": event_id, "body": to_body(edit)? });
        self.field_or_whole("edit-appointment", input, "event")
            .await
    }

    /// `get-appointment`.
    pub async fn get_appointment(&self, event_id: &str) -> Result<Appointment, GhlError> {
        let input = json!({ "eventId": event_id });
        self.field_or_whole("get-appointment", input, "event").await
    }

    /// `get-calendar-events`.
    pub async fn get_calendar_events(
        &self,
        query: &CalendarEventsQuery,
    ) -> Result<Vec<Appointment>, GhlError> {
        self.field("get-calendar-events", to_body(query)?, "events")
            .await
    }

    /// `delete-event`.
    pub async fn delete_event(&self, event_id: &str) -> Result<SuccessResponse, GhlError> {
        self.typed("delete-event", json!({ "eventId": event_id }))
            .await
    }

    // ---------------------------------------------------------------- location tags

    /// `get-location-tags`.
    pub async fn list_location_tags(
        &self,
        location_id: &str,
    ) -> Result<Vec<LocationTag>, GhlError> {
        let input = json!({ "locationId": location_id });
        self.field("get-location-tags", input, "tags").await
    }

    /// `create-tag`.
    pub async fn create_location_tag(
        &self,
        location_id: &str,
        name: &str,
    ) -> Result<LocationTag, GhlError> {
        let input = json!({ "locationId": location_id, "name": name });
        self.field("create-tag", input, "tag").await
    }

    /// `get-tag-by-id`.
    pub async fn get_location_tag(
        &self,
        location_id: &str,
        tag_id: &str,
    ) -> Result<LocationTag, GhlError> {
        let input = json!({ "locationId": location_id, "tagId": tag_id });
        self.field("get-tag-by-id", input, "tag").await
    }

    /// `update-tag`: rename.
    pub async fn update_location_tag(
        &self,
        location_id: &str,
        tag_id: &str,
        name: &str,
    ) -> Result<LocationTag, GhlError> {
        let input = json!({ "locationId": location_id, "tagId": tag_id, "name": name });
        self.field("update-tag", input, "tag").await
    }

    /// `delete-tag`.
    pub async fn delete_location_tag(
        &self,
        location_id: &str,
        tag_id: &str,
    ) -> Result<SuccessResponse, GhlError> {
        let input = json!({ "locationId": location_id, "tagId": tag_id });
        self.typed("delete-tag", input).await
    }

    // ---------------------------------------------------------------- custom fields

    /// `get-custom-fields`.
    pub async fn list_custom_fields(
        &self,
        location_id: &str,
        model: Option<CustomFieldModel>,
    ) -> Result<Vec<LocationCustomField>, GhlError> {
        let input =
            json!({ "locationId": location_id, "model": model.map(CustomFieldModel::as_str) });
        self.field("get-custom-fields", input, "customFields").await
    }

    /// `create-custom-field`.
    pub async fn create_custom_field(
        &self,
        location_id: &str,
        field: &CreateCustomField,
    ) -> Result<LocationCustomField, GhlError> {
        let input = json!({ "locationId": location_id, "body": to_body(field)? });
        self.field("create-custom-field", input, "customField")
            .await
    }

    /// `get-custom-field`.
    pub async fn get_custom_field(
        &self,
        location_id: &str,
        field_id: &str,
    ) -> Result<LocationCustomField, GhlError> {
        let input = json!({ "locationId": location_id, "id": field_id });
        self.field("get-custom-field", input, "customField").await
    }

    /// `update-custom-field`.
    pub async fn update_custom_field(
        &self,
        location_id: &str,
        field_id: &str,
        field: &UpdateCustomField,
    ) -> Result<LocationCustomField, GhlError> {
        let input = json!({ "locationId": location_id, "id": field_id, "body": to_body(field)? });
        self.field("update-custom-field", input, "customField")
            .await
    }

    /// `delete-custom-field`.
    pub async fn delete_custom_field(
        &self,
        location_id: &str,
        field_id: &str,
    ) -> Result<SuccessResponse, GhlError> {
        let input = json!({ "locationId": location_id, "id": field_id });
        self.typed("delete-custom-field", input).await
    }

    // ---------------------------------------------------------------- oauth

    /// `get-access-token`: `POST /oauth/token` (no bearer token is sent).
    pub async fn get_access_token(&self, req: &TokenRequest) -> Result<TokenResponse, GhlError> {
        let mut form = Map::new();
        form.insert("client_id".to_owned(), req.client_id.clone().into());
        form.insert(
            "client_secret".to_owned(),
            req.client_secret.expose_secret().into(),
        );
        form.insert("grant_type".to_owned(), req.grant_type.as_str().into());
        if let Some(code) = &req.code {
            form.insert("code".to_owned(), code.expose_secret().into());
        }
        if let Some(token) = &req.refresh_token {
            form.insert("refresh_token".to_owned(), token.expose_secret().into());
        }
        if let Some(user_type) = req.user_type {
            form.insert("user_type".to_owned(), user_type.as_str().into());
        }
        if let Some(uri) = &req.redirect_uri {
            form.insert("redirect_uri".to_owned(), uri.clone().into());
        }
        self.typed("get-access-token", Value::Object(form)).await
    }

    /// `get-location-access-token`: a location token from this client's agency token.
    pub async fn location_token(
        &self,
        company_id: &str,
        location_id: &str,
    ) -> Result<LocationTokenResponse, GhlError> {
        let input = json!({ "companyId": company_id, "locationId": location_id });
        self.typed("get-location-access-token", input).await
    }

    /// `get-installed-location`.
    pub async fn installed_locations(
        &self,
        query: &InstalledLocationsQuery,
    ) -> Result<InstalledLocations, GhlError> {
        self.typed("get-installed-location", to_body(query)?).await
    }
}

/// Serializes a DTO for use as input.
fn to_body<T: Serialize>(value: &T) -> Result<Value, GhlError> {
    serde_json::to_value(value)
        .map_err(|e| GhlError::InvalidInput(format!("cannot serialize request: {e}")))
}

fn insert(input: &mut Value, key: &str, value: impl Into<Value>) {
    if let Value::Object(map) = input {
        map.insert(key.to_owned(), value.into());
    }
}

fn decode<T: DeserializeOwned>(op_id: &str, value: Value) -> Result<T, GhlError> {
    serde_json::from_value(value).map_err(|e| GhlError::decode(op_id, &e))
}

/// The request `op` with `input` would send to `base`, credentials redacted (no
/// call is made): what `ghlsync call --dry-run` prints.
pub fn preview(base: &Url, op: &Operation, input: Value) -> Result<request::Preview, GhlError> {
    let prepared = prepare(base, op, input)?;
    let mut headers = vec![("Accept", "application/json".to_owned())];
    if !op.version.is_empty() {
        headers.push(("Version", op.version.to_owned()));
    }
    if op.token != TokenKind::None {
        headers.push(("Authorization", format!("Bearer {}", request::REDACTED)));
    }
    let body = match prepared.body {
        PreparedBody::None => None,
        PreparedBody::Json(body) => {
            headers.push(("Content-Type", "application/json".to_owned()));
            Some(body)
        }
        PreparedBody::Form(pairs) => {
            headers.push((
                "Content-Type",
                "application/x-www-form-urlencoded".to_owned(),
            ));
            Some(request::redacted_form(&pairs))
        }
    };
    Ok(request::Preview {
        method: op.method.as_str(),
        url: prepared.url,
        headers,
        body,
    })
}

/// A request ready to send.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) url: Url,
    pub(crate) body: PreparedBody,
}

#[derive(Debug, PartialEq)]
pub(crate) enum PreparedBody {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
}

fn invalid(op: &Operation, msg: impl std::fmt::Display) -> GhlError {
    GhlError::InvalidInput(format!("{}: {msg}", op.id))
}

/// Splits `input` into path, query and body for `op`.
pub(crate) fn prepare(base: &Url, op: &Operation, input: Value) -> Result<Prepared, GhlError> {
    let bad = |msg: String| invalid(op, msg);
    let mut map = request::fields(input).map_err(bad)?;
    let mut url = request::fill_path(base, op.path, &mut map).map_err(bad)?;
    request::take_query(&mut url, op.query_params, &[], &mut map);
    let verbatim = request::take_verbatim_body(&mut map, |body| match op.body {
        BodyKind::Json => body.is_object() || body.is_array(),
        BodyKind::Form => body.is_object(),
        BodyKind::None => false,
    })
    .map_err(bad)?;
    let body = match op.body {
        BodyKind::None => {
            if !map.is_empty() {
                return Err(bad(format!(
                    "unknown input keys {} (no request body)",
                    request::keys(&map)
                )));
            }
            PreparedBody::None
        }
        BodyKind::Json => {
            let body = verbatim.unwrap_or(Value::Object(map));
            let empty = body.as_object().is_some_and(Map::is_empty);
            if empty && op.method == Method::Delete {
                PreparedBody::None
            } else {
                PreparedBody::Json(body)
            }
        }
        BodyKind::Form => {
            let fields = match verbatim {
                Some(Value::Object(fields)) => fields,
                _ => map,
            };
            let mut pairs = Vec::new();
            for (key, value) in &fields {
                request::push_pairs(&mut pairs, key, value);
            }
            PreparedBody::Form(pairs)
        }
    };
    Ok(Prepared { url, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RetryClass;
    use crate::models::{CreateNote, GrantType, UserType};
    use crate::test_support::{response, serve};

    fn base() -> Url {
        Url::parse("http://127.0.0.1:9/ghl/").unwrap()
    }

    fn prep(op: &str, input: Value) -> Result<Prepared, GhlError> {
        prepare(&base(), operations::find(op).unwrap(), input)
    }

    #[test]
    fn path_params_are_percent_encoded() {
        let p = prep("get-contact", json!({"contactId": "a b/c?d"})).unwrap();
        assert_eq!(
            p.url.as_str(),
            "http://127.0.0.1:9/ghl/contacts/a%20b%2Fc%3Fd"
        );
        assert_eq!(p.body, PreparedBody::None);
        let p = prep("create-contact", json!({"locationId": "L1"})).unwrap();
        assert_eq!(p.url.path(), "/ghl/contacts/");
        assert_eq!(p.body, PreparedBody::Json(json!({"locationId": "L1"})));
    }

    #[test]
    fn query_params_arrays_and_scalars() {
        let p = prep(
            "get-installed-location",
            json!({"companyId": "C1", "appId": "A1", "skip": 0, "limit": 50,
                   "isInstalled": true, "locationId": ["L1", "L2"], "query": null}),
        )
        .unwrap();
        assert_eq!(
            p.url.query(),
            Some(
                "skip=0&limit=50&isInstalled=true&companyId=C1&appId=A1&locationId=L1&locationId=L2"
            )
        );
        let p = prep(
            "get-duplicate-contact",
            json!({"locationId": "L1", "number": "+1 555"}),
        )
        .unwrap();
        assert_eq!(p.url.query(), Some("locationId=L1&number=%2B1+555"));
    }

    #[test]
    fn body_rules() {
        // String `body` is a field (notes have one).
        let p = prep(
            "create-note",
            json!({"contactId": "c", "body": "hi", "pinned": true}),
        )
        .unwrap();
        assert_eq!(
            p.body,
            PreparedBody::Json(json!({"body": "hi", "pinned": true}))
        );
        // Object `body` is verbatim.
        let p = prep(
            "create-note",
            json!({"contactId": "c", "body": {"body": "hi"}}),
        )
        .unwrap();
        assert_eq!(p.body, PreparedBody::Json(json!({"body": "hi"})));
        // Verbatim body plus stray keys is refused.
        let err = prep(
            "create-note",
            json!({"contactId": "c", "body": {"body": "hi"}, "x": 1}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("x"), "{err}");
        // No-body op with unknown keys is refused; missing path param too.
        assert!(prep("get-contact", json!({"contactId": "c", "oops": 1})).is_err());
        let err = prep("get-task", json!({"contactId": "c"})).unwrap_err();
        assert!(err.to_string().contains("taskId"), "{err}");
        assert_eq!(err.retry_class(), RetryClass::GiveUp);
        // Bulk tags: `type` fills the path.
        let p = prep(
            "create-association",
            json!({"type": "add", "contacts": ["a"], "tags": ["t"], "locationId": "L"}),
        )
        .unwrap();
        assert_eq!(p.url.path(), "/ghl/contacts/bulk/tags/update/add");
        // Empty DELETE body is not sent; empty POST body is `{}`.
        let p = prep("delete-event", json!({"eventId": "e"})).unwrap();
        assert_eq!(p.body, PreparedBody::None);
        let p = prep(
            "add-contact-to-campaign",
            json!({"contactId": "c", "campaignId": "k"}),
        )
        .unwrap();
        assert_eq!(p.body, PreparedBody::Json(json!({})));
        // Form ops.
        let p = prep(
            "get-location-access-token",
            json!({"companyId": "C", "locationId": "L"}),
        )
        .unwrap();
        assert_eq!(
            p.body,
            PreparedBody::Form(vec![
                ("companyId".to_owned(), "C".to_owned()),
                ("locationId".to_owned(), "L".to_owned())
            ])
        );
        assert!(prep("get-contact", json!([1])).is_err());
    }

    #[tokio::test]
    async fn sends_headers_decodes_and_feeds_the_governor() {
        let (url, seen) = serve(vec![
            response(
                "200 OK",
                &["X-RateLimit-Max: 50", "X-RateLimit-Remaining: 49", "X-RateLimit-Interval-Milliseconds: 10000"],
                r#"{"contact":{"id":"c1","email":"a@example.com","tags":["x"],"newThing":1},"traceId":"t"}"#,
            ),
            response(
                "422 Unprocessable Entity",
                &[],
                r#"{"statusCode":422,"message":["property gender should not exist"],"error":"Unprocessable Entity"}"#,
            ),
            response("429 Too Many Requests", &["Retry-After: 1"], ""),
            response("201 Created", &[], r#"{"note":{"id":"n1","body":"hello"}}"#),
        ])
        .await;
        let gov = Arc::new(Governor::new());
        let client = GhlClient::new(
            GhlConfig::new("pit-secret-token")
                .with_base_url(url)
                .with_location("L1"),
        )
        .unwrap()
        .with_governor(Arc::clone(&gov));

        let contact = client.get_contact("c1").await.unwrap();
        assert_eq!(contact.email.as_deref(), Some("a@example.com"));
        assert_eq!(contact.extra["newThing"], 1);
        let snap = gov.snapshot("L1").unwrap();
        assert_eq!(snap.max, 50);
        assert_eq!(snap.last_headers.remaining, Some(49));

        let err = client
            .update_contact("c1", &UpdateContact::default())
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(422));
        assert!(
            err.to_string().contains("property gender should not exist"),
            "{err}"
        );
        assert!(!format!("{err:?}{client:?}").contains("pit-secret-token"));

        let err = client.delete_contact("c1").await.unwrap_err();
        assert_eq!(
            err.retry_class(),
            RetryClass::RetryAfter(Duration::from_secs(1))
        );
        assert!(gov.snapshot("L1").unwrap().blocked_for.is_some());

        // The 429 blocks the key for 1 s; the note request waits, then succeeds.
        let started = std::time::Instant::now();
        let note = client
            .create_note(
                "c1",
                &CreateNote {
                    body: "hello".to_owned(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(note.id, "n1");
        assert!(started.elapsed() >= Duration::from_millis(800));

        let requests = seen.lock().unwrap().clone();
        let first = requests[0].to_ascii_lowercase();
        assert!(first.starts_with("get /contacts/c1 http/1.1"), "{first}");
        assert!(first.contains("authorization: bearer pit-secret-token"));
        assert!(first.contains("version: 2021-07-28"));
        assert!(first.contains("accept: application/json"));
        assert!(first.contains("user-agent: ghlsync/"));
        assert!(requests[1].starts_with("PUT /contacts/c1 "));
        assert!(requests[1].ends_with("{}"));
        assert!(requests[3].starts_with("POST /contacts/c1/notes "));
        assert!(requests[3].ends_with(r#"{"body":"hello"}"#));
    }

    #[tokio::test]
    async fn token_endpoint_sends_form_without_bearer_or_version() {
        let (url, seen) = serve(vec![response(
            "200 OK",
            &[],
            r#"{"access_token":"new-at","refresh_token":"new-rt","expires_in":86399,"userType":"Location","locationId":"L1","userId":"U"}"#,
        )])
        .await;
        let client = GhlClient::new(GhlConfig::new("unused").with_base_url(url)).unwrap();
        let tokens = client
            .get_access_token(&TokenRequest {
                client_id: "abc-123".to_owned(),
                client_secret: SecretString::from("shh"),
                grant_type: GrantType::RefreshToken,
                code: None,
                refresh_token: Some(SecretString::from("old-rt")),
                user_type: Some(UserType::Location),
                redirect_uri: None,
            })
            .await
            .unwrap();
        assert_eq!(tokens.access_token.expose_secret(), "new-at");
        let request = seen.lock().unwrap()[0].clone();
        let lower = request.to_ascii_lowercase();
        assert!(lower.starts_with("post /oauth/token "), "{request}");
        assert!(!lower.contains("authorization:"));
        assert!(!lower.contains("\r\nversion:"));
        assert!(lower.contains("content-type: application/x-www-form-urlencoded"));
        assert!(request.ends_with(
            "client_id=abc-123&client_secret=shh&grant_type=refresh_token&refresh_token=old-rt&user_type=Location"
        ));
    }
}
