//! [`LythoClient`]: one request path for every operation.
//!
//! [`LythoClient::call`] takes an operation id from the
//! [`operations`](crate::operations::OPERATIONS) table and a JSON object:
//!
//! - keys naming a path parameter (`id`) fill the path, percent-encoded;
//! - keys naming a query parameter go to the query string (arrays repeat the key,
//!   as `ids=1&ids=2`; `null` is dropped); the table's defaults (`page=1`,
//!   `pageSize=10` for batch gets) fill what is missing;
//! - PATCH operations send the input's `"body"`, which must be a JSON array of
//!   RFC 6902 operations, as `application/json-patch+json`;
//! - any other key is an error, so typos do not vanish.
//!
//! Every request carries `Accept: application/json` and `Authorization: Bearer`
//! with a token from the [`TokenProvider`]. A 401 makes the client fetch a new
//! token and send the request once more; a second 401 is returned
//! ([`RetryClass::Reauth`](crate::RetryClass::Reauth)). The client does not retry
//! anything else: the durable queue decides from
//! [`LythoError::retry_class`](crate::LythoError::retry_class).
//!
//! The typed methods are thin: they build the same JSON input, go through the same
//! path and decode the answer. Each operation has one named method
//! (`get_task`, `search_tasks`, `patch_task`, ...) and each action a generic one
//! taking an [`ItemType`] (`get_item`, `search_items`, `patch_item`, ...).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;
use wire::request;

use crate::auth::{ClientCredentials, TokenProvider};
use crate::error::{ApiError, LythoError};
use crate::models::{
    Comment, CommentsQuery, Description, FileUrl, Format, ItemId, Page, PageSize, PatchOp,
    SearchQuery, SearchResult, User, WorkItem,
};
use crate::operations::{self, Action, BodyKind, ItemType, Operation};

/// Content type of JSON-Patch bodies.
pub const JSON_PATCH: &str = "application/json-patch+json";

/// How to reach a Lytho tenant and as whom.
#[derive(Debug, Clone)]
pub struct LythoConfig {
    /// API base including `/v1` (the sandbox's, or [`crate::DEFAULT_BASE_URL`]).
    pub base_url: Url,
    /// The tenant's token URL.
    pub token_url: Url,
    /// `wf-oa-...`.
    pub client_id: String,
    pub client_secret: SecretString,
    /// Per-request timeout (API and token endpoint).
    pub timeout: Duration,
    /// How long before expiry a token is replaced.
    pub refresh_margin: Duration,
}

impl LythoConfig {
    /// Production URLs for `tenant` (`https://openapi.wf.lytho.us/v1` and the
    /// tenant's realm on `https://login.us-1.lytho.us`).
    pub fn new(
        tenant: &str,
        client_id: impl Into<String>,
        client_secret: SecretString,
    ) -> Result<Self, LythoError> {
        Ok(Self {
            base_url: default_base_url(),
            token_url: crate::auth::token_url_for(tenant)?,
            client_id: client_id.into(),
            client_secret,
            timeout: wire::http::DEFAULT_TIMEOUT,
            refresh_margin: crate::auth::DEFAULT_REFRESH_MARGIN,
        })
    }

    /// Explicit URLs (the sandbox prints both).
    pub fn with_urls(
        base_url: Url,
        token_url: Url,
        client_id: impl Into<String>,
        client_secret: SecretString,
    ) -> Self {
        Self {
            base_url,
            token_url,
            client_id: client_id.into(),
            client_secret,
            timeout: wire::http::DEFAULT_TIMEOUT,
            refresh_margin: crate::auth::DEFAULT_REFRESH_MARGIN,
        }
    }

    /// Sets the API base URL.
    #[must_use]
    pub fn with_base_url(mut self, base_url: Url) -> Self {
        self.base_url = base_url;
        self
    }

    /// Sets the token URL.
    #[must_use]
    pub fn with_token_url(mut self, token_url: Url) -> Self {
        self.token_url = token_url;
        self
    }

    /// Sets the per-request timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how long before expiry tokens are replaced.
    #[must_use]
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }
}

/// `https://openapi.wf.lytho.us/v1`.
pub fn default_base_url() -> Url {
    // A valid literal: parsing cannot fail.
    Url::parse(crate::DEFAULT_BASE_URL).expect("default base URL is valid")
}

/// Client for one Lytho tenant. Cloning is cheap and clones share the token cache.
#[derive(Debug, Clone)]
pub struct LythoClient {
    http: reqwest::Client,
    base_url: Arc<Url>,
    tokens: Arc<TokenProvider>,
    timeout: Duration,
}

impl LythoClient {
    /// A client with its own HTTP client from the workspace factory
    /// ([`wire::http`]).
    pub fn new(config: LythoConfig) -> Result<Self, LythoError> {
        let http = wire::http::try_http_client(config.timeout)
            .map_err(|err| LythoError::transport(None, err))?;
        Ok(Self::with_http(config, http))
    }

    /// A client sharing an existing HTTP client (and its pool).
    pub fn with_http(config: LythoConfig, http: reqwest::Client) -> Self {
        let credentials = ClientCredentials {
            token_url: config.token_url,
            client_id: config.client_id,
            client_secret: config.client_secret,
        };
        let tokens = TokenProvider::new(credentials, http.clone(), config.timeout)
            .with_refresh_margin(config.refresh_margin);
        Self {
            http,
            base_url: Arc::new(config.base_url),
            tokens: Arc::new(tokens),
            timeout: config.timeout,
        }
    }

    /// The API base URL.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The token provider (shared by clones).
    pub fn tokens(&self) -> &Arc<TokenProvider> {
        &self.tokens
    }

    /// Calls any operation of the table by id (see the module docs for how `input`
    /// is split). Returns the decoded JSON body (`null` when empty).
    pub async fn call(&self, op_id: &str, input: Value) -> Result<Value, LythoError> {
        let op = operations::find(op_id)
            .ok_or_else(|| LythoError::InvalidInput(format!("unknown operation {op_id}")))?;
        self.execute(op, input).await
    }

    /// Calls an operation given by value.
    pub async fn execute(&self, op: &Operation, input: Value) -> Result<Value, LythoError> {
        Ok(self.execute_with_headers(op, input).await?.0)
    }

    /// Like [`Self::execute`], also returning the answer's headers (the poller reads
    /// the server's `Date`).
    pub(crate) async fn execute_with_headers(
        &self,
        op: &Operation,
        input: Value,
    ) -> Result<(Value, HeaderMap), LythoError> {
        let prepared = prepare(&self.base_url, op, input)?;
        let token = self.tokens.access_token().await?;
        match self.send(op, &prepared, &token).await {
            Err(LythoError::Api(api)) if api.status == 401 => {
                tracing::debug!(operation = op.id, "LythoTokenRejected");
                let fresh = self.tokens.renew_after_rejection(&token).await?;
                self.send(op, &prepared, &fresh).await
            }
            other => other,
        }
    }

    async fn send(
        &self,
        op: &Operation,
        prepared: &Prepared,
        token: &SecretString,
    ) -> Result<(Value, HeaderMap), LythoError> {
        let mut req = self
            .http
            .request(op.method.to_http(), prepared.url.clone())
            .timeout(self.timeout)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .bearer_auth(token.expose_secret());
        if let Some(body) = &prepared.body {
            let bytes = serde_json::to_vec(body)
                .map_err(|e| LythoError::InvalidInput(format!("{}: {e}", op.id)))?;
            req = req
                .header(CONTENT_TYPE, HeaderValue::from_static(JSON_PATCH))
                .body(bytes);
        }
        let resp = req.send().await.map_err(|e| {
            wire::metrics::api_request("lytho", 0);
            LythoError::transport(Some(op.id), e)
        })?;
        let status = resp.status();
        wire::metrics::api_request("lytho", status.as_u16());
        let headers = resp.headers().clone();
        let bytes =
            resp.bytes()
                .await
                .map_err(|e| match LythoError::transport(Some(op.id), e) {
                    LythoError::Transport(t) => LythoError::Transport(t.of_method(op.method)),
                    other => other,
                })?;
        tracing::debug!(
            operation = op.id,
            status = status.as_u16(),
            "LythoRequestCompleted"
        );
        if !status.is_success() {
            let mut err = ApiError::from_parts(status.as_u16(), &headers, &bytes);
            err.operation = Some(op.id.to_owned());
            return Err(LythoError::Api(Box::new(err)));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok((Value::Null, headers));
        }
        let value = serde_json::from_slice(&bytes).map_err(|e| LythoError::decode(op.id, e))?;
        Ok((value, headers))
    }

    async fn typed<T: DeserializeOwned>(
        &self,
        op: &Operation,
        input: Value,
    ) -> Result<T, LythoError> {
        let value = self.execute(op, input).await?;
        serde_json::from_value(value).map_err(|e| LythoError::decode(op.id, e))
    }

    // ------------------------------------------------------------ generic by type

    /// `lytho-get-{type}`: one item.
    pub async fn get_item(&self, kind: ItemType, id: ItemId) -> Result<WorkItem, LythoError> {
        self.typed(op(kind, Action::Get)?, json!({ "id": id }))
            .await
    }

    /// `lytho-get-{type}s`: one page of the items with these ids (unknown ids are
    /// left out by Lytho).
    pub async fn get_items(
        &self,
        kind: ItemType,
        ids: &[ItemId],
        page: u32,
        page_size: PageSize,
    ) -> Result<Page<WorkItem>, LythoError> {
        let input = json!({ "ids": ids, "page": page.max(1), "pageSize": page_size.get() });
        self.typed(op(kind, Action::GetMany)?, input).await
    }

    /// `lytho-search-{type}s`: ids matching the filters (all ids without filters).
    pub async fn search_items(
        &self,
        kind: ItemType,
        query: &SearchQuery,
    ) -> Result<SearchResult, LythoError> {
        self.typed(op(kind, Action::Search)?, to_input(query)?)
            .await
    }

    /// [`Self::search_items`] and the server's `Date` when it answered.
    pub(crate) async fn search_items_dated(
        &self,
        kind: ItemType,
        query: &SearchQuery,
    ) -> Result<(SearchResult, Option<DateTime<Utc>>), LythoError> {
        let operation = op(kind, Action::Search)?;
        let (value, headers) = self
            .execute_with_headers(operation, to_input(query)?)
            .await?;
        let date = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .map(|d| d.with_timezone(&Utc));
        let result =
            serde_json::from_value(value).map_err(|e| LythoError::decode(operation.id, e))?;
        Ok((result, date))
    }

    /// `lytho-get-{type}-users`: the users on an item.
    pub async fn item_users(&self, kind: ItemType, id: ItemId) -> Result<Vec<User>, LythoError> {
        self.typed(op(kind, Action::Users)?, json!({ "id": id }))
            .await
    }

    /// `lytho-get-{type}-comments`: one page of an item's comments.
    pub async fn item_comments(
        &self,
        kind: ItemType,
        id: ItemId,
        query: &CommentsQuery,
    ) -> Result<Page<Comment>, LythoError> {
        let mut input = to_input(query)?;
        set(&mut input, "id", json!(id));
        self.typed(op(kind, Action::Comments)?, input).await
    }

    /// `lytho-get-{type}-description` (not for work requests).
    pub async fn item_description(
        &self,
        kind: ItemType,
        id: ItemId,
        format: Option<Format>,
    ) -> Result<Description, LythoError> {
        let input = json!({ "id": id, "format": format });
        self.typed(op(kind, Action::Description)?, input).await
    }

    /// `lytho-get-{type}-descriptions`: one page of descriptions by ids (not for
    /// work requests).
    pub async fn item_descriptions(
        &self,
        kind: ItemType,
        ids: &[ItemId],
        format: Option<Format>,
        page: u32,
        page_size: PageSize,
    ) -> Result<Page<Description>, LythoError> {
        let input = json!({
            "ids": ids, "format": format, "page": page.max(1), "pageSize": page_size.get()
        });
        self.typed(op(kind, Action::Descriptions)?, input).await
    }

    /// `lytho-get-{type}-files` (`lytho-get-workrequest-deliverablefiles`):
    /// pre-signed URLs that expire at `url_expiration`.
    pub async fn item_files(&self, kind: ItemType, id: ItemId) -> Result<Vec<FileUrl>, LythoError> {
        self.typed(op(kind, Action::Files)?, json!({ "id": id }))
            .await
    }

    /// `lytho-patch-{type}`: applies a JSON Patch and returns the item afterwards.
    /// A failed `test` operation is a 409 ([`LythoError::is_conflict`]) and changes
    /// nothing. Should the server answer without a body, the item is fetched.
    pub async fn patch_item(
        &self,
        kind: ItemType,
        id: ItemId,
        ops: &[PatchOp],
    ) -> Result<WorkItem, LythoError> {
        let operation = op(kind, Action::Patch)?;
        let body = serde_json::to_value(ops)
            .map_err(|e| LythoError::InvalidInput(format!("cannot serialize patch: {e}")))?;
        match self
            .execute(operation, json!({ "id": id, "body": body }))
            .await?
        {
            Value::Null => self.get_item(kind, id).await,
            value => serde_json::from_value(value).map_err(|e| LythoError::decode(operation.id, e)),
        }
    }
}

/// One named method per operation, generated per type over the generic ones.
macro_rules! typed_ops {
    ($kind:expr, $noun:literal,
     $get:ident, $get_many:ident, $search:ident, $users:ident, $comments:ident,
     $files:ident, $patch:ident) => {
        impl LythoClient {
            #[doc = concat!("`lytho-get-", $noun, "`: one ", $noun, " by id.")]
            pub async fn $get(&self, id: ItemId) -> Result<WorkItem, LythoError> {
                self.get_item($kind, id).await
            }

            #[doc = concat!("`lytho-get-", $noun, "s`: one page of ", $noun, "s by ids.")]
            pub async fn $get_many(
                &self,
                ids: &[ItemId],
                page: u32,
                page_size: PageSize,
            ) -> Result<Page<WorkItem>, LythoError> {
                self.get_items($kind, ids, page, page_size).await
            }

            #[doc = concat!("`lytho-search-", $noun, "s`: matching ", $noun, " ids.")]
            pub async fn $search(&self, query: &SearchQuery) -> Result<SearchResult, LythoError> {
                self.search_items($kind, query).await
            }

            #[doc = concat!("`lytho-get-", $noun, "-users`: the users on a ", $noun, ".")]
            pub async fn $users(&self, id: ItemId) -> Result<Vec<User>, LythoError> {
                self.item_users($kind, id).await
            }

            #[doc = concat!("`lytho-get-", $noun, "-comments`: one page of a ", $noun, "'s comments.")]
            pub async fn $comments(
                &self,
                id: ItemId,
                query: &CommentsQuery,
            ) -> Result<Page<Comment>, LythoError> {
                self.item_comments($kind, id, query).await
            }

            #[doc = concat!("Pre-signed URLs of a ", $noun, "'s files.")]
            pub async fn $files(&self, id: ItemId) -> Result<Vec<FileUrl>, LythoError> {
                self.item_files($kind, id).await
            }

            #[doc = concat!("`lytho-patch-", $noun, "`: JSON Patch a ", $noun, ".")]
            pub async fn $patch(&self, id: ItemId, ops: &[PatchOp]) -> Result<WorkItem, LythoError> {
                self.patch_item($kind, id, ops).await
            }
        }
    };
    ($kind:expr, $noun:literal,
     $get:ident, $get_many:ident, $search:ident, $users:ident, $comments:ident,
     $files:ident, $patch:ident, $description:ident, $descriptions:ident) => {
        typed_ops!($kind, $noun, $get, $get_many, $search, $users, $comments, $files, $patch);

        impl LythoClient {
            #[doc = concat!("`lytho-get-", $noun, "-description`: a ", $noun, "'s description.")]
            pub async fn $description(
                &self,
                id: ItemId,
                format: Option<Format>,
            ) -> Result<Description, LythoError> {
                self.item_description($kind, id, format).await
            }

            #[doc = concat!("`lytho-get-", $noun, "-descriptions`: one page of ", $noun, " descriptions by ids.")]
            pub async fn $descriptions(
                &self,
                ids: &[ItemId],
                format: Option<Format>,
                page: u32,
                page_size: PageSize,
            ) -> Result<Page<Description>, LythoError> {
                self.item_descriptions($kind, ids, format, page, page_size).await
            }
        }
    };
}

typed_ops!(
    ItemType::WorkRequest,
    "workrequest",
    get_work_request,
    get_work_requests,
    search_work_requests,
    work_request_users,
    work_request_comments,
    work_request_deliverable_files,
    patch_work_request
);
typed_ops!(
    ItemType::Task,
    "task",
    get_task,
    get_tasks,
    search_tasks,
    task_users,
    task_comments,
    task_files,
    patch_task,
    task_description,
    task_descriptions
);
typed_ops!(
    ItemType::Project,
    "project",
    get_project,
    get_projects,
    search_projects,
    project_users,
    project_comments,
    project_files,
    patch_project,
    project_description,
    project_descriptions
);
typed_ops!(
    ItemType::Proof,
    "proof",
    get_proof,
    get_proofs,
    search_proofs,
    proof_users,
    proof_comments,
    proof_files,
    patch_proof,
    proof_description,
    proof_descriptions
);
typed_ops!(
    ItemType::Campaign,
    "campaign",
    get_campaign,
    get_campaigns,
    search_campaigns,
    campaign_users,
    campaign_comments,
    campaign_files,
    patch_campaign,
    campaign_description,
    campaign_descriptions
);

/// The operation of a type for an action, or an input error (descriptions of work
/// requests do not exist).
fn op(kind: ItemType, action: Action) -> Result<&'static Operation, LythoError> {
    kind.operation(action).ok_or_else(|| {
        LythoError::InvalidInput(format!("Lytho has no {action:?} operation for {kind}"))
    })
}

fn to_input<T: serde::Serialize>(value: &T) -> Result<Value, LythoError> {
    serde_json::to_value(value)
        .map_err(|e| LythoError::InvalidInput(format!("cannot serialize request: {e}")))
}

fn set(input: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = input {
        map.insert(key.to_owned(), value);
    }
}

/// The request `op` with `input` would send to `base`, the token redacted (no call
/// is made, not even for a token): what `ghlsync call --dry-run` prints.
pub fn preview(base: &Url, op: &Operation, input: Value) -> Result<request::Preview, LythoError> {
    let prepared = prepare(base, op, input)?;
    let mut headers = vec![
        ("Accept", "application/json".to_owned()),
        ("Authorization", format!("Bearer {}", request::REDACTED)),
    ];
    if prepared.body.is_some() {
        headers.push(("Content-Type", JSON_PATCH.to_owned()));
    }
    Ok(request::Preview {
        method: op.method.as_str(),
        url: prepared.url,
        headers,
        body: prepared.body,
    })
}

/// A request ready to send (kept for the one resend after a 401).
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) url: Url,
    pub(crate) body: Option<Value>,
}

fn bad(op: &Operation, msg: impl std::fmt::Display) -> LythoError {
    LythoError::InvalidInput(format!("{}: {msg}", op.id))
}

/// Splits `input` into path, query and body for `op`.
pub(crate) fn prepare(base: &Url, op: &Operation, input: Value) -> Result<Prepared, LythoError> {
    let fail = |msg: String| bad(op, msg);
    let mut fields = request::fields(input).map_err(fail)?;
    let mut url = request::fill_path(base, op.path, &mut fields).map_err(fail)?;
    request::take_query(&mut url, op.query_params, op.query_defaults, &mut fields);
    let body = match op.body {
        BodyKind::None => None,
        BodyKind::JsonPatch => match fields.remove("body") {
            Some(Value::Array(ops)) => Some(Value::Array(ops)),
            Some(_) => return Err(bad(op, "`body` must be a JSON array of patch operations")),
            None => return Err(bad(op, "missing `body` (a JSON array of patch operations)")),
        },
    };
    if !fields.is_empty() {
        return Err(fail(format!(
            "unknown input keys {}",
            request::keys(&fields)
        )));
    }
    Ok(Prepared { url, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prep(op: &str, input: Value) -> Result<Prepared, LythoError> {
        let base = Url::parse("http://127.0.0.1:9/v1").unwrap();
        prepare(&base, operations::find(op).unwrap(), input)
    }

    #[test]
    fn paths_queries_and_defaults() {
        let p = prep("lytho-get-task", json!({"id": 20001})).unwrap();
        assert_eq!(p.url.as_str(), "http://127.0.0.1:9/v1/task/20001");
        let p = prep("lytho-get-task", json!({"id": "a/b"})).unwrap();
        assert_eq!(p.url.path(), "/v1/task/a%2Fb");
        let p = prep("lytho-get-tasks", json!({"ids": [1, 2]})).unwrap();
        assert_eq!(p.url.query(), Some("ids=1&ids=2&page=1&pageSize=10"));
        let p = prep(
            "lytho-get-tasks",
            json!({"ids": [3], "page": 2, "pageSize": 30}),
        )
        .unwrap();
        assert_eq!(p.url.query(), Some("ids=3&page=2&pageSize=30"));
        let p = prep(
            "lytho-search-workrequests",
            json!({"name": "a b", "isArchived": false, "operatorMode": null}),
        )
        .unwrap();
        assert_eq!(
            p.url.as_str(),
            "http://127.0.0.1:9/v1/workrequest/search?name=a+b&isArchived=false"
        );
        let p = prep("lytho-get-workrequest-deliverablefiles", json!({"id": 7})).unwrap();
        assert_eq!(p.url.path(), "/v1/workrequest/7/deliverablefiles/urls");
        assert!(p.body.is_none());
    }

    #[test]
    fn input_errors() {
        assert!(prep("lytho-get-task", json!({})).is_err());
        assert!(prep("lytho-get-task", json!({"id": 1, "typo": 2})).is_err());
        assert!(prep("lytho-get-task", json!({"id": [1]})).is_err());
        assert!(prep("lytho-get-task", json!([1])).is_err());
        assert!(prep("lytho-patch-task", json!({"id": 1})).is_err());
        assert!(prep("lytho-patch-task", json!({"id": 1, "body": {"op": "x"}})).is_err());
        let p = prep(
            "lytho-patch-task",
            json!({"id": 1, "body": [{"op":"replace","path":"/name","value":"x"}]}),
        )
        .unwrap();
        assert_eq!(
            p.body,
            Some(json!([{"op":"replace","path":"/name","value":"x"}]))
        );
        let base = Url::parse("http://127.0.0.1:9/v1/").unwrap();
        let p = prepare(
            &base,
            operations::find("lytho-get-proof").unwrap(),
            json!({"id": 4}),
        )
        .unwrap();
        assert_eq!(p.url.path(), "/v1/proof/4");
    }
}
