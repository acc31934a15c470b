//! [`LoftyClient`]: one request path for every operation.
//!
//! [`LoftyClient::call`] takes an operation id from the [`operations`] table and a JSON
//! object, and turns it into a request:
//!
//! - keys naming a path parameter fill the path (percent-encoded; numbers are written
//!   exactly, so 64-bit ids survive);
//! - keys naming a query parameter go to the query string (arrays repeat the key,
//!   scalars are stringified, `null` is dropped);
//! - all other keys form the JSON body; if the operation has a body and the input has a
//!   top-level `"body"` object or array, that value is sent verbatim and no other body
//!   keys are allowed. Unknown keys for an operation without a body are an error.
//!
//! Every request carries `Accept: application/json`, `Content-Type: application/json`
//! (Lofty refuses writes without it, even bodiless DELETEs, and some GETs) and the
//! credential: `Authorization: token <key>` for a personal API key, `Authorization:
//! Bearer <token>` for an OAuth token (a key sent as `Bearer` is refused with 400
//! `200058`). Non-2xx answers become [`LoftyError::Api`] with Lofty's code and message.
//!
//! The client does not retry; the durable queue decides from
//! [`LoftyError::retry_class`]. With [`LoftyClient::with_pacing`] it waits for the rate
//! window to reset when `X-RateLimit-Remaining` reaches 0, and after a 429 until the
//! server's reset time, instead of collecting more 429s.
//!
//! The typed methods are thin: they build the same JSON input, go through the same
//! path, and decode the answer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::time::Instant;
use url::Url;
use wire::request;

use crate::error::{ApiError, LoftyError, RateLimit, codes};
use crate::models::{
    CalendarCreated, CalendarId, CalendarPage, CalendarQuery, CreateCalendarEvent,
    CreateCustomField, CreateLead, CreateTask, CreateWebhook, CustomField, Lead, LeadPage,
    LeadQuery, LeadTag, Member, MemberPage, MemberQuery, Message, MyTasksQuery, Note, NoteInput,
    PipelinePage, PipelineQuery, Task, UpdateCalendarEvent, UpdateLead, UpdateTask,
    WebhookSubscription,
};
use crate::operations::{self, BodyKind, Operation};

/// Longest wait the pacer accepts before a request (Lofty's window is one minute).
const MAX_PACE_WAIT: Duration = Duration::from_secs(65);

/// Which credential the client sends.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A personal API key: `Authorization: token <key>`.
    ApiKey(SecretString),
    /// An OAuth access token: `Authorization: Bearer <token>`.
    OAuth(SecretString),
}

impl Credential {
    fn header(&self) -> Result<HeaderValue, LoftyError> {
        let (scheme, secret) = match self {
            Self::ApiKey(k) => ("token", k),
            Self::OAuth(t) => ("Bearer", t),
        };
        let mut value = HeaderValue::from_str(&format!("{scheme} {}", secret.expose_secret()))
            .map_err(|_| LoftyError::InvalidInput("the credential is not a valid header".into()))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// How to reach Lofty and as whom.
#[derive(Debug, Clone)]
pub struct LoftyConfig {
    /// API base URL (the sandbox, or [`crate::DEFAULT_BASE_URL`]).
    pub base_url: Url,
    pub credential: Credential,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl LoftyConfig {
    /// A personal API key, production base URL, default timeout.
    pub fn api_key(key: impl Into<SecretString>) -> Self {
        Self::new(Credential::ApiKey(key.into()))
    }

    /// An OAuth access token, production base URL, default timeout.
    pub fn oauth(token: impl Into<SecretString>) -> Self {
        Self::new(Credential::OAuth(token.into()))
    }

    /// A credential, production base URL, default timeout.
    pub fn new(credential: Credential) -> Self {
        Self {
            base_url: default_base_url(),
            credential,
            timeout: wire::http::DEFAULT_TIMEOUT,
        }
    }

    /// Sets the base URL.
    #[must_use]
    pub fn with_base_url(mut self, base_url: Url) -> Self {
        self.base_url = base_url;
        self
    }

    /// Sets the per-request timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// `https://api.lofty.com`.
pub fn default_base_url() -> Url {
    // A valid literal: parsing cannot fail.
    Url::parse(crate::DEFAULT_BASE_URL).expect("default base URL is valid")
}

#[derive(Debug, Default)]
struct PaceState {
    last: RateLimit,
    blocked_until: Option<Instant>,
}

/// Paces requests by Lofty's `X-RateLimit-*` headers (shared by clones of a client).
#[derive(Debug, Default)]
pub struct Pacer {
    state: Mutex<PaceState>,
}

impl Pacer {
    fn lock(&self) -> std::sync::MutexGuard<'_, PaceState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The last rate-limit headers seen.
    pub fn last(&self) -> RateLimit {
        self.lock().last
    }

    /// How long the next request has to wait.
    pub fn delay(&self) -> Duration {
        let mut st = self.lock();
        let now = Instant::now();
        if let Some(until) = st.blocked_until {
            if until > now {
                return (until - now).min(MAX_PACE_WAIT);
            }
            st.blocked_until = None;
        }
        if st.last.remaining == Some(0) {
            match st.last.until_reset() {
                Some(wait) => return wait.min(MAX_PACE_WAIT),
                // The window has reset since: forget the stale count.
                None => st.last.remaining = None,
            }
        }
        Duration::ZERO
    }

    fn observe(&self, headers: RateLimit) {
        if headers.is_known() {
            self.lock().last = headers;
        }
    }

    fn penalize(&self, wait: Duration) {
        self.lock().blocked_until = Some(Instant::now() + wait.min(MAX_PACE_WAIT));
    }
}

/// Client for the Lofty Open API. Cloning is cheap (shared pool, settings and pacer).
#[derive(Debug, Clone)]
pub struct LoftyClient {
    http: reqwest::Client,
    base_url: Arc<Url>,
    credential: Credential,
    timeout: Duration,
    pacer: Option<Arc<Pacer>>,
}

impl LoftyClient {
    /// A client with its own HTTP client from the workspace's factory
    /// ([`wire::http::try_http_client`]: timeouts, no redirects, rustls).
    pub fn new(config: LoftyConfig) -> Result<Self, LoftyError> {
        let http = wire::http::try_http_client(config.timeout)
            .map_err(|err| LoftyError::transport(None, err))?;
        Ok(Self::with_http(config, http))
    }

    /// A client sharing an existing HTTP client (its pool); `config.timeout` still
    /// applies per request.
    pub fn with_http(config: LoftyConfig, http: reqwest::Client) -> Self {
        Self {
            http,
            base_url: Arc::new(config.base_url),
            credential: config.credential,
            timeout: config.timeout,
            pacer: None,
        }
    }

    /// Same client, waiting out exhausted rate windows and 429s before sending.
    #[must_use]
    pub fn with_pacing(mut self) -> Self {
        self.pacer = Some(Arc::new(Pacer::default()));
        self
    }

    /// Same client, paced by `pacer`, which other clients of the same credential
    /// share (what one learns from the headers, all wait for).
    #[must_use]
    pub fn with_shared_pacing(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = Some(pacer);
        self
    }

    /// Same client with another credential (after an OAuth refresh).
    #[must_use]
    pub fn with_credential(&self, credential: Credential) -> Self {
        Self {
            credential,
            ..self.clone()
        }
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The pacer, when pacing is on.
    pub fn pacer(&self) -> Option<&Arc<Pacer>> {
        self.pacer.as_ref()
    }

    /// Calls any operation of the table by id (see the module docs for how `input` is
    /// split into path, query and body). Returns the decoded JSON body (`null` if empty).
    pub async fn call(&self, op_id: &str, input: Value) -> Result<Value, LoftyError> {
        let op = operations::find(op_id)
            .ok_or_else(|| LoftyError::InvalidInput(format!("unknown operation {op_id}")))?;
        self.execute(op, input).await
    }

    /// Calls an operation given by value (e.g. one found in [`operations::OPERATIONS`]).
    pub async fn execute(&self, op: &Operation, input: Value) -> Result<Value, LoftyError> {
        let prepared = prepare(&self.base_url, op, input)?;
        if let Some(pacer) = &self.pacer {
            let wait = pacer.delay();
            if !wait.is_zero() {
                tracing::debug!(
                    operation = op.id,
                    wait_ms = wait.as_millis(),
                    "LoftyRequestPaced"
                );
                tokio::time::sleep(wait).await;
            }
        }
        let mut req = self
            .http
            .request(op.method.to_http(), prepared.url)
            .timeout(self.timeout)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(AUTHORIZATION, self.credential.header()?);
        if let Some(body) = prepared.body {
            let bytes = serde_json::to_vec(&body)
                .map_err(|e| LoftyError::InvalidInput(format!("{}: {e}", op.id)))?;
            req = req.body(bytes);
        }
        let resp = req.send().await.map_err(|e| {
            wire::metrics::api_request("lofty", 0);
            LoftyError::transport(Some(op.id), e)
        })?;
        let status = resp.status();
        wire::metrics::api_request("lofty", status.as_u16());
        let headers = resp.headers().clone();
        let rate = RateLimit::from_headers(&headers);
        if let Some(pacer) = &self.pacer {
            pacer.observe(rate);
        }
        let bytes =
            resp.bytes()
                .await
                .map_err(|e| match LoftyError::transport(Some(op.id), e) {
                    LoftyError::Transport(t) => LoftyError::Transport(t.of_method(op.method)),
                    other => other,
                })?;
        tracing::debug!(
            operation = op.id,
            status = status.as_u16(),
            remaining = rate.remaining,
            "LoftyRequestCompleted"
        );
        if !status.is_success() {
            let mut err = ApiError::from_parts(status.as_u16(), &headers, &bytes);
            err.operation = Some(op.id.to_owned());
            if status.as_u16() == 429
                && let Some(pacer) = &self.pacer
            {
                pacer.penalize(err.rate_limit_wait());
            }
            return Err(err.into());
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        // Some answers are plain text (`success`); keep them as a JSON string.
        Ok(serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).trim().to_owned())))
    }

    async fn typed<T: DeserializeOwned>(&self, op_id: &str, input: Value) -> Result<T, LoftyError> {
        let value = self.call(op_id, input).await?;
        decode(op_id, value)
    }

    /// Calls and decodes one top-level field of the answer (`{lead: ...}`).
    async fn field<T: DeserializeOwned>(
        &self,
        op_id: &str,
        input: Value,
        field: &str,
    ) -> Result<T, LoftyError> {
        match self.call(op_id, input).await? {
            Value::Object(mut map) => match map.remove(field) {
                Some(value) => decode(op_id, value),
                None => Err(LoftyError::decode(
                    op_id,
                    format!("missing field `{field}`"),
                )),
            },
            _ => Err(LoftyError::decode(op_id, "expected a JSON object")),
        }
    }

    /// An id field of the answer (`{leadId: ...}`), exactly as a 64-bit integer.
    async fn id_field(&self, op_id: &str, input: Value, field: &str) -> Result<i64, LoftyError> {
        let value = self.call(op_id, input).await?;
        match value.get(field) {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| LoftyError::decode(op_id, format!("missing integer `{field}`")))
    }

    // ---------------------------------------------------------------- leads

    /// `lofty-list-leads`: one page of a lead search.
    pub async fn list_leads(&self, query: &LeadQuery) -> Result<LeadPage, LoftyError> {
        self.typed("lofty-list-leads", query.to_input()).await
    }

    /// Leads whose email is exactly `email` (first page, up to 100).
    pub async fn find_leads_by_email(&self, email: &str) -> Result<Vec<Lead>, LoftyError> {
        let query = LeadQuery {
            limit: Some(100),
            ..LeadQuery::by_email(email)
        };
        Ok(self.list_leads(&query).await?.leads)
    }

    /// Leads whose phone is `phone` (digits compared; first page, up to 100).
    pub async fn find_leads_by_phone(&self, phone: &str) -> Result<Vec<Lead>, LoftyError> {
        let query = LeadQuery {
            limit: Some(100),
            ..LeadQuery::by_phone(phone)
        };
        Ok(self.list_leads(&query).await?.leads)
    }

    /// `lofty-create-lead`: returns the new lead id. Lofty persists asynchronously: a
    /// read right after may answer 404 (see [`Self::get_lead_eventually`]).
    pub async fn create_lead(&self, lead: &CreateLead) -> Result<i64, LoftyError> {
        let input = json!({ "body": to_body(lead)? });
        self.id_field("lofty-create-lead", input, "leadId").await
    }

    /// `lofty-get-lead`.
    pub async fn get_lead(&self, lead_id: i64) -> Result<Lead, LoftyError> {
        self.field("lofty-get-lead", json!({ "leadId": lead_id }), "lead")
            .await
    }

    /// `lofty-get-lead` including trashed leads.
    pub async fn get_lead_with_trash(&self, lead_id: i64) -> Result<Lead, LoftyError> {
        let input = json!({ "leadId": lead_id, "withTrash": true });
        self.field("lofty-get-lead", input, "lead").await
    }

    /// Reads a lead that may have just been created: retries 404s with a growing pause
    /// (50 ms up to 1 s) for at most `max_wait`, then gives
    /// [`LoftyError::NotYetVisible`].
    pub async fn get_lead_eventually(
        &self,
        lead_id: i64,
        max_wait: Duration,
    ) -> Result<Lead, LoftyError> {
        eventually("lead", lead_id, max_wait, || self.get_lead(lead_id)).await
    }

    /// `lofty-update-lead` (partial): returns the lead id.
    pub async fn update_lead(&self, lead_id: i64, update: &UpdateLead) -> Result<i64, LoftyError> {
        let input = json!({ "leadId": lead_id, "body": to_body(update)? });
        self.id_field("lofty-update-lead", input, "leadId").await
    }

    /// Adds tags to a lead, keeping the others (`tagsAdd`).
    pub async fn add_lead_tags(&self, lead_id: i64, tags: &[String]) -> Result<i64, LoftyError> {
        let update = UpdateLead {
            tags_add: Some(tags.to_vec()),
            ..UpdateLead::default()
        };
        self.update_lead(lead_id, &update).await
    }

    /// Removes tags from a lead, keeping the others (`tagsRemove`).
    pub async fn remove_lead_tags(&self, lead_id: i64, tags: &[String]) -> Result<i64, LoftyError> {
        let update = UpdateLead {
            tags_remove: Some(tags.to_vec()),
            ..UpdateLead::default()
        };
        self.update_lead(lead_id, &update).await
    }

    /// Replaces the whole tag list of a lead (`tags`).
    pub async fn set_lead_tags(&self, lead_id: i64, tags: &[String]) -> Result<i64, LoftyError> {
        let update = UpdateLead {
            tags: Some(tags.to_vec()),
            ..UpdateLead::default()
        };
        self.update_lead(lead_id, &update).await
    }

    /// `lofty-delete-lead`: moves the lead to the trash, recording `reason`.
    pub async fn delete_lead(&self, lead_id: i64, reason: &str) -> Result<(), LoftyError> {
        let input = json!({ "leadId": lead_id, "reason": reason });
        self.call("lofty-delete-lead", input).await.map(drop)
    }

    // ---------------------------------------------------------------- notes

    /// `lofty-list-notes`.
    pub async fn list_notes(
        &self,
        lead_id: i64,
        include_system: bool,
    ) -> Result<Vec<Note>, LoftyError> {
        let input = json!({ "leadId": lead_id, "includeSystemNote": include_system });
        self.field("lofty-list-notes", input, "notes").await
    }

    /// `lofty-create-note`: returns the note id.
    pub async fn create_note(&self, note: &NoteInput) -> Result<i64, LoftyError> {
        let input = json!({ "body": to_body(note)? });
        self.id_field("lofty-create-note", input, "noteId").await
    }

    /// `lofty-get-note`.
    pub async fn get_note(&self, note_id: i64) -> Result<Note, LoftyError> {
        self.field("lofty-get-note", json!({ "noteId": note_id }), "note")
            .await
    }

    /// Reads a note that may have just been created (see
    /// [`Self::get_lead_eventually`]).
    pub async fn get_note_eventually(
        &self,
        note_id: i64,
        max_wait: Duration,
    ) -> Result<Note, LoftyError> {
        eventually("note", note_id, max_wait, || self.get_note(note_id)).await
    }

    /// `lofty-update-note` (content and pin are required).
    pub async fn update_note(&self, note_id: i64, note: &NoteInput) -> Result<(), LoftyError> {
        let input = json!({ "noteId": note_id, "body": to_body(note)? });
        self.call("lofty-update-note", input).await.map(drop)
    }

    /// `lofty-delete-note`.
    pub async fn delete_note(&self, note_id: i64) -> Result<(), LoftyError> {
        self.call("lofty-delete-note", json!({ "noteId": note_id }))
            .await
            .map(drop)
    }

    // ---------------------------------------------------------------- tasks

    /// `lofty-list-tasks`: tasks and appointments of a lead.
    pub async fn list_tasks(&self, lead_id: i64) -> Result<Vec<Task>, LoftyError> {
        self.field("lofty-list-tasks", json!({ "leadId": lead_id }), "tasks")
            .await
    }

    /// `lofty-create-task`: returns the task id.
    pub async fn create_task(&self, task: &CreateTask) -> Result<i64, LoftyError> {
        let input = json!({ "body": to_body(task)? });
        self.id_field("lofty-create-task", input, "taskId").await
    }

    /// `lofty-get-task` (a task or an appointment).
    pub async fn get_task(&self, task_id: i64) -> Result<Task, LoftyError> {
        self.field("lofty-get-task", json!({ "taskId": task_id }), "task")
            .await
    }

    /// `lofty-update-task` (partial).
    pub async fn update_task(
        &self,
        task_id: i64,
        update: &UpdateTask,
    ) -> Result<Message, LoftyError> {
        let input = json!({ "taskId": task_id, "body": to_body(update)? });
        self.typed("lofty-update-task", input).await
    }

    /// `lofty-delete-task`.
    pub async fn delete_task(&self, task_id: i64) -> Result<Message, LoftyError> {
        self.typed("lofty-delete-task", json!({ "taskId": task_id }))
            .await
    }

    /// `lofty-finish-task` / `lofty-unfinish-task`.
    pub async fn set_task_finished(
        &self,
        task_id: i64,
        finished: bool,
    ) -> Result<Message, LoftyError> {
        let op = if finished {
            "lofty-finish-task"
        } else {
            "lofty-unfinish-task"
        };
        self.typed(op, json!({ "taskId": task_id })).await
    }

    /// `lofty-list-my-tasks`: one page of a user's tasks.
    pub async fn my_tasks(&self, query: &MyTasksQuery) -> Result<Vec<Task>, LoftyError> {
        self.field("lofty-list-my-tasks", query.to_input(), "tasks")
            .await
    }

    // ---------------------------------------------------------------- calendar

    /// `lofty-list-calendar-events`: one page.
    pub async fn list_calendar(&self, query: &CalendarQuery) -> Result<CalendarPage, LoftyError> {
        self.field("lofty-list-calendar-events", query.to_input(), "data")
            .await
    }

    /// `lofty-create-calendar-event`: the composite id of the new entry.
    pub async fn create_calendar_event(
        &self,
        event: &CreateCalendarEvent,
    ) -> Result<CalendarCreated, LoftyError> {
        let input = json!({ "body": to_body(event)? });
        self.field("lofty-create-calendar-event", input, "data")
            .await
    }

    /// `lofty-update-calendar-event` (partial; new times must be in the future).
    pub async fn update_calendar_event(
        &self,
        id: &CalendarId,
        update: &UpdateCalendarEvent,
    ) -> Result<Message, LoftyError> {
        let input = json!({ "calendarId": id.to_string(), "body": to_body(update)? });
        self.typed("lofty-update-calendar-event", input).await
    }

    /// `lofty-delete-calendar-event`.
    pub async fn delete_calendar_event(&self, id: &CalendarId) -> Result<Message, LoftyError> {
        let input = json!({ "calendarId": id.to_string() });
        self.typed("lofty-delete-calendar-event", input).await
    }

    /// `lofty-finish-calendar-event` / `lofty-unfinish-calendar-event`.
    pub async fn set_calendar_event_finished(
        &self,
        id: &CalendarId,
        finished: bool,
    ) -> Result<Message, LoftyError> {
        let op = if finished {
            "lofty-finish-calendar-event"
        } else {
            "lofty-unfinish-calendar-event"
        };
        self.typed(op, json!({ "calendarId": id.to_string() }))
            .await
    }

    // ---------------------------------------------------------------- members

    /// `lofty-get-me`: the caller's member profile.
    pub async fn me(&self) -> Result<Member, LoftyError> {
        self.typed("lofty-get-me", json!({})).await
    }

    /// `lofty-list-members`: one page.
    pub async fn list_members(&self, query: &MemberQuery) -> Result<MemberPage, LoftyError> {
        self.typed("lofty-list-members", query.to_input()).await
    }

    /// `lofty-get-member`: a member by login email.
    pub async fn get_member(&self, account: &str) -> Result<Member, LoftyError> {
        self.typed("lofty-get-member", json!({ "account": account }))
            .await
    }

    // ---------------------------------------------------------------- team features

    /// `lofty-list-tags`: tag definitions (`lead_id` 0) and tags applied to leads.
    pub async fn list_tags(&self) -> Result<Vec<LeadTag>, LoftyError> {
        self.typed("lofty-list-tags", json!({})).await
    }

    /// The team's tag names (the definitions of [`Self::list_tags`]).
    pub async fn tag_names(&self) -> Result<Vec<String>, LoftyError> {
        let mut names: Vec<String> = self
            .list_tags()
            .await?
            .into_iter()
            .filter(LeadTag::is_definition)
            .map(|t| t.tag_name)
            .collect();
        names.dedup();
        Ok(names)
    }

    /// `lofty-list-custom-fields`.
    pub async fn list_custom_fields(&self) -> Result<Vec<CustomField>, LoftyError> {
        self.typed("lofty-list-custom-fields", json!({})).await
    }

    /// `lofty-create-custom-field`: Lofty answers a plain message (`"success"`).
    pub async fn create_custom_field(
        &self,
        field: &CreateCustomField,
    ) -> Result<String, LoftyError> {
        let value = self
            .call(
                "lofty-create-custom-field",
                json!({ "body": to_body(field)? }),
            )
            .await?;
        Ok(match value {
            Value::String(s) => s,
            other => other.to_string(),
        })
    }

    /// `lofty-list-lead-pipelines`: one page of stages.
    pub async fn list_lead_pipelines(
        &self,
        query: &PipelineQuery,
    ) -> Result<PipelinePage, LoftyError> {
        self.typed("lofty-list-lead-pipelines", query.to_input())
            .await
    }

    // ---------------------------------------------------------------- webhooks

    /// `lofty-create-webhook`.
    pub async fn create_webhook(
        &self,
        webhook: &CreateWebhook,
    ) -> Result<WebhookSubscription, LoftyError> {
        self.typed("lofty-create-webhook", json!({ "body": to_body(webhook)? }))
            .await
    }

    /// `lofty-list-webhooks`.
    pub async fn list_webhooks(&self) -> Result<Vec<WebhookSubscription>, LoftyError> {
        self.typed("lofty-list-webhooks", json!({})).await
    }

    /// `lofty-delete-webhook`.
    pub async fn delete_webhook(&self, subscribe_id: i64) -> Result<(), LoftyError> {
        let input = json!({ "subscribeId": subscribe_id });
        self.call("lofty-delete-webhook", input).await.map(drop)
    }

    /// Changes a subscription. Lofty has no update endpoint, so this subscribes anew
    /// first and then deletes the old subscription (no gap in which events are missed;
    /// an overlap may deliver some twice). A subscription already gone is not an error.
    pub async fn update_webhook(
        &self,
        subscribe_id: i64,
        webhook: &CreateWebhook,
    ) -> Result<WebhookSubscription, LoftyError> {
        let created = self.create_webhook(webhook).await?;
        match self.delete_webhook(subscribe_id).await {
            Err(e)
                if e.api()
                    .is_some_and(|a| a.has_code("WEBHOOK_DELETE_NOT_EXIST")) => {}
            other => other?,
        }
        Ok(created)
    }
}

/// Retries `read` while it answers 404, with a growing pause, for at most `max_wait`.
async fn eventually<T, F, Fut>(
    what: &'static str,
    id: i64,
    max_wait: Duration,
    mut read: F,
) -> Result<T, LoftyError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, LoftyError>>,
{
    let started = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        match read().await {
            Err(e) if e.status() == Some(404) => {
                let waited = started.elapsed();
                if waited >= max_wait {
                    return Err(LoftyError::NotYetVisible { what, id, waited });
                }
                tokio::time::sleep(pause.min(max_wait - waited)).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

/// Serializes a DTO for use as input.
fn to_body<T: Serialize>(value: &T) -> Result<Value, LoftyError> {
    serde_json::to_value(value)
        .map_err(|e| LoftyError::InvalidInput(format!("cannot serialize request: {e}")))
}

fn decode<T: DeserializeOwned>(op_id: &str, value: Value) -> Result<T, LoftyError> {
    serde_json::from_value(value).map_err(|e| LoftyError::decode(op_id, e))
}

/// The request `op` with `input` would send to `base`, the credential redacted (no
/// call is made): what `ghlsync call --dry-run` prints. `bearer`: an OAuth token
/// rather than a personal API key.
pub fn preview(
    base: &Url,
    op: &Operation,
    input: Value,
    bearer: bool,
) -> Result<request::Preview, LoftyError> {
    let prepared = prepare(base, op, input)?;
    let scheme = if bearer { "Bearer" } else { "token" };
    let mut headers = vec![
        ("Accept", "application/json".to_owned()),
        ("Authorization", format!("{scheme} {}", request::REDACTED)),
    ];
    if !op.is_read_only() {
        headers.push(("Content-Type", "application/json".to_owned()));
    }
    Ok(request::Preview {
        method: op.method.as_str(),
        url: prepared.url,
        headers,
        body: prepared.body,
    })
}

/// A request ready to send.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) url: Url,
    pub(crate) body: Option<Value>,
}

fn invalid(op: &Operation, msg: impl std::fmt::Display) -> LoftyError {
    LoftyError::InvalidInput(format!("{}: {msg}", op.id))
}

/// Splits `input` into path, query and body for `op`.
pub(crate) fn prepare(base: &Url, op: &Operation, input: Value) -> Result<Prepared, LoftyError> {
    let bad = |msg: String| invalid(op, msg);
    let mut map = request::fields(input).map_err(bad)?;
    let mut url = request::fill_path(base, op.path, &mut map).map_err(bad)?;
    request::take_query(&mut url, op.query_params, &[], &mut map);
    let verbatim = request::take_verbatim_body(&mut map, |body| {
        op.body == BodyKind::Json && (body.is_object() || body.is_array())
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
            None
        }
        BodyKind::Json => Some(verbatim.unwrap_or(Value::Object(map))),
    };
    Ok(Prepared { url, body })
}

/// Whether an error is Lofty's answer to a personal API key sent as a bearer token.
pub fn is_key_sent_as_bearer(err: &LoftyError) -> bool {
    err.api()
        .is_some_and(|a| a.status == 400 && a.has_code(codes::USER_IN_TOKEN))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://127.0.0.1:9/lofty/").unwrap()
    }

    fn prep(op: &str, input: Value) -> Result<Prepared, LoftyError> {
        prepare(&base(), operations::find(op).unwrap(), input)
    }

    #[test]
    fn splits_path_query_and_body() {
        let p = prep(
            "lofty-get-lead",
            json!({"leadId": 9_007_199_254_740_993_i64, "withTrash": true}),
        )
        .unwrap();
        assert_eq!(
            p.url.as_str(),
            "http://127.0.0.1:9/lofty/v1.0/leads/9007199254740993?withTrash=true"
        );
        assert_eq!(p.body, None);
        let p = prep(
            "lofty-update-calendar-event",
            json!({"calendarId": "12-task", "content": "x"}),
        )
        .unwrap();
        assert_eq!(p.url.path(), "/lofty/v2.0/calendar/12-task");
        assert_eq!(p.body, Some(json!({"content": "x"})));
        let p = prep(
            "lofty-list-members",
            json!({"groupIds": [1, 2], "limit": 5, "offset": null}),
        )
        .unwrap();
        assert_eq!(p.url.query(), Some("groupIds=1&groupIds=2&limit=5"));
        let p = prep("lofty-get-member", json!({"account": "a b/c@x.com"})).unwrap();
        assert_eq!(p.url.path(), "/lofty/v1.0/members/a%20b%2Fc@x.com");
        // Verbatim bodies, arrays included.
        let p = prep("lofty-create-note", json!({"body": {"leadId": 1}})).unwrap();
        assert_eq!(p.body, Some(json!({"leadId": 1})));
        assert!(prep("lofty-create-note", json!({"body": {}, "x": 1})).is_err());
        // Bodiless POSTs send no body (Content-Type is still set by the client).
        let p = prep("lofty-finish-task", json!({"taskId": 5})).unwrap();
        assert_eq!(p.body, None);
        assert!(prep("lofty-get-lead", json!({"leadId": 1, "oops": 2})).is_err());
        let err = prep("lofty-get-task", json!({})).unwrap_err();
        assert!(err.to_string().contains("taskId"), "{err}");
        assert!(prep("lofty-get-task", json!({"taskId": true})).is_err());
        assert!(prep("lofty-get-task", json!([1])).is_err());
    }

    #[test]
    fn credentials_are_redacted() {
        let c = LoftyClient::new(
            LoftyConfig::api_key(SecretString::from("eyJsecret-key")).with_base_url(base()),
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("eyJsecret-key"));
        let h = Credential::ApiKey(SecretString::from("k"))
            .header()
            .unwrap();
        assert_eq!(h.to_str().unwrap(), "token k");
        assert!(h.is_sensitive());
        let h = Credential::OAuth(SecretString::from("t")).header().unwrap();
        assert_eq!(h.to_str().unwrap(), "Bearer t");
    }

    #[tokio::test(start_paused = true)]
    async fn pacer_waits_for_reset_and_after_429() {
        let pacer = Pacer::default();
        assert_eq!(pacer.delay(), Duration::ZERO);
        pacer.penalize(Duration::from_secs(3));
        assert_eq!(pacer.delay(), Duration::from_secs(3));
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(pacer.delay(), Duration::ZERO);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        pacer.observe(RateLimit {
            limit: Some(10),
            remaining: Some(0),
            reset: Some(now + 20),
        });
        let wait = pacer.delay();
        assert!(
            wait > Duration::from_secs(18) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        pacer.observe(RateLimit {
            limit: Some(10),
            remaining: Some(0),
            reset: Some(now.saturating_sub(5)),
        });
        assert_eq!(pacer.delay(), Duration::ZERO);
        assert_eq!(pacer.last().remaining, None);
    }
}
