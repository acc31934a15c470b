//! Connections: each connected account with its status, scopes, token expiry and
//! last error; connect GHL (OAuth consent, or a Private Integration Token), Lofty
//! (API key, or OAuth when a vendor app is configured) and Lytho (client
//! credentials); test one (a cheap authenticated call); reconnect (a new consent,
//! also to add a scope); rotate a long-lived credential in place (the new one is
//! checked before the old one goes). Secrets are taken, never shown.
//!
//! Pages: `GET /`, `POST /connections/add` (`system` = `ghl-pit` | `lofty` | `lytho`),
//! `POST /connections/{id}/test`, `POST /connections/{id}/rotate`.
//! API: `GET /api/connections`, `POST /api/connections` (same `system` and fields,
//! JSON), `POST /api/connections/{id}/test`, `POST /api/connections/{id}/rotate`.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use store::{Connection, ConnectionStatus};

use crate::AppState;
use crate::admin::{AdminCaller, AdminOnly, Caller, Role};
use crate::error::{ApiError, escape};
use crate::pages::{csrf_input, page};

/// Where new connections point when the form does not say (the config's APIs, or
/// the sandbox's under `ghlsync up`).
#[derive(Debug, Clone)]
pub struct ConnectDefaults {
    pub ghl_base: url::Url,
    pub lofty_base: url::Url,
    /// Lytho: (API base, token URL, client id), when known (the sandbox).
    pub lytho: Option<(url::Url, url::Url, String)>,
}

impl Default for ConnectDefaults {
    fn default() -> Self {
        Self {
            ghl_base: ghl::client::default_base_url(),
            lofty_base: url::Url::parse(lofty::DEFAULT_BASE_URL).expect("a URL"),
            lytho: None,
        }
    }
}

fn store_err(e: store::StoreError) -> ApiError {
    ApiError::unavailable("cannot read connections", e)
}

fn connect_err(e: engine::connections::ConnectError) -> ApiError {
    ApiError::with_status(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
}

/// What adding a connection takes (form or JSON). Secrets are wrapped at once.
#[derive(Deserialize)]
pub struct AddConnection {
    /// `ghl-pit`, `lofty` or `lytho`.
    pub system: String,
    #[serde(default)]
    pub location_id: String,
    #[serde(default)]
    pub scopes: String,
    /// The PIT, Lofty API key or Lytho client secret.
    #[serde(default = "no_secret")]
    pub secret: SecretString,
    #[serde(default)]
    pub tenant: String,
    #[serde(default)]
    pub client_id: String,
}

impl std::fmt::Debug for AddConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddConnection")
            .field("system", &self.system)
            .finish_non_exhaustive()
    }
}

fn no_secret() -> SecretString {
    SecretString::from(String::new())
}

/// Connects the account, then tests it: (connection id, what the test answered).
async fn add(state: &AppState, a: &AddConnection) -> Result<(String, String), ApiError> {
    use secrecy::ExposeSecret;
    if a.secret.expose_secret().trim().is_empty() {
        return Err(ApiError::bad_request(
            "the credential is empty: paste the token, key or client secret",
        ));
    }
    let d = &state.connect_defaults;
    let store = &state.store;
    let id = match a.system.as_str() {
        "ghl-pit" => {
            if a.location_id.trim().is_empty() {
                return Err(ApiError::bad_request(
                    "a Private Integration Token belongs to one location: give its location id",
                ));
            }
            let scopes = if a.scopes.trim().is_empty() {
                "contacts.readonly contacts.write"
            } else {
                a.scopes.trim()
            };
            engine::connections::connect_pit(
                store,
                &d.ghl_base,
                a.location_id.trim(),
                &a.secret,
                scopes,
            )
            .await
            .map_err(connect_err)?
        }
        "lofty" => engine::connections::connect_lofty_key(store, &d.lofty_base, &a.secret)
            .await
            .map_err(connect_err)?,
        "lytho" => {
            let (base_url, token_url, client_id) = match (&d.lytho, a.tenant.trim()) {
                (_, tenant) if !tenant.is_empty() => (
                    lytho::client::default_base_url(),
                    lytho::auth::token_url_for(tenant)
                        .map_err(|e| ApiError::bad_request(e.to_string()))?,
                    a.client_id.trim().to_owned(),
                ),
                (Some((b, t, c)), _) => (
                    b.clone(),
                    t.clone(),
                    if a.client_id.trim().is_empty() {
                        c.clone()
                    } else {
                        a.client_id.trim().to_owned()
                    },
                ),
                (None, _) => {
                    return Err(ApiError::bad_request(
                        "give your Lytho tenant (the name in its address) and the OAuth client id",
                    ));
                }
            };
            if client_id.is_empty() {
                return Err(ApiError::bad_request("give the Lytho OAuth client id"));
            }
            let account = engine::connections::LythoAccount {
                base_url,
                token_url,
                client_id,
                client_secret: a.secret.clone(),
            };
            engine::connections::connect_lytho(store, &account)
                .await
                .map_err(connect_err)?
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown system `{other}`: ghl-pit, lofty or lytho"
            )));
        }
    };
    let health = state.connectors()?.healthcheck(&id).await;
    if !health.ok {
        store
            .set_connection_status(&id, ConnectionStatus::NeedsReauth, Some(&health.detail))
            .await
            .map_err(store_err)?;
        return Err(ApiError::with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("stored {id}, but the test call failed: {}", health.detail),
        ));
    }
    Ok((id, health.detail))
}

async fn test(state: &AppState, id: &str) -> Result<(bool, String), ApiError> {
    if state
        .store
        .find_connection(id)
        .await
        .map_err(store_err)?
        .is_none()
    {
        return Err(ApiError::not_found(format!("no connection `{id}`")));
    }
    let h = state.connectors()?.healthcheck(id).await;
    Ok((h.ok, h.detail))
}

async fn rotate(state: &AppState, id: &str, secret: &SecretString) -> Result<String, ApiError> {
    let r = engine::connections::rotate(&state.store, id, secret)
        .await
        .map_err(connect_err)?;
    Ok(format!(
        "{}: the new {} works ({}); the old one is gone",
        r.connection, r.credential, r.checked
    ))
}

fn expiry(c: &Connection, now: i64) -> String {
    match c.token_expires_at {
        None => "does not expire".to_owned(),
        Some(at) if at < now => format!("expired {} UTC", crate::runs::when(at)),
        Some(at) => format!("{} UTC", crate::runs::when(at)),
    }
}

/// What a person can do about a connection, by its kind.
fn actions(c: &Connection, caller: &Caller, oauth: bool, lofty_oauth: bool) -> String {
    if caller.role != Role::Admin {
        return String::new();
    }
    let id = escape(&c.id);
    let csrf = csrf_input(caller);
    let mut out = format!(
        "<form method=\"post\" action=\"/connections/{id}/test\" class=\"inline\">{csrf}<button class=\"secondary\" type=\"submit\">Test</button></form> "
    );
    let kind = c.kind.to_string();
    match (c.system.as_str(), kind.as_str()) {
        ("ghl", "oauth") if oauth => out.push_str(
            "<a class=\"button secondary\" href=\"/connect/ghl\">Reconnect (or add scopes)</a> ",
        ),
        ("ghl", "oauth-agency") if oauth => out.push_str(
            "<a class=\"button secondary\" href=\"/connect/ghl?user_type=company\">Reconnect</a> ",
        ),
        ("lofty", "oauth") if lofty_oauth => {
            out.push_str("<a class=\"button secondary\" href=\"/connect/lofty\">Reconnect</a> ")
        }
        _ => {}
    }
    let credential = match (c.system.as_str(), kind.as_str()) {
        ("ghl", "pit") => Some("new Private Integration Token"),
        ("lofty", "api_key") => Some("new Lofty API key"),
        ("lytho", _) => Some("new client secret"),
        _ => None,
    };
    if let Some(what) = credential {
        let _ = write!(
            out,
            "<details class=\"rotate\"><summary>Rotate</summary><form method=\"post\" action=\"/connections/{id}/rotate\">{csrf}\
             <label for=\"secret-{id}\">{what}</label><input type=\"password\" id=\"secret-{id}\" name=\"secret\" autocomplete=\"off\" required>\
             <p class=\"muted\">It is tried first; the old one is dropped only when it works.</p><button type=\"submit\">Rotate</button></form></details>"
        );
    }
    out
}

#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    pub ok: Option<String>,
    pub failed: Option<String>,
}

/// GET /: the connections and how to add one.
pub async fn page_list(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    Query(n): Query<Notice>,
) -> Result<Html<String>, ApiError> {
    let list = state
        .store
        .connections()
        .await
        .map_err(|e| store_err(e).page())?;
    let now = state.store.now();
    let (oauth, lofty_oauth) = (state.oauth.is_some(), state.lofty_oauth.is_some());
    let rows: String = list
        .iter()
        .map(|c| {
            format!(
                "<tr><td><strong>{}</strong><div><code>{}</code></div></td><td>{} ({})</td><td class=\"status-{st}\">{st}</td><td>{}</td><td>{}</td><td class=\"error\">{}</td><td>{}</td></tr>",
                escape(&c.name),
                escape(&c.id),
                c.system.as_str(),
                c.kind,
                escape(&c.scopes),
                expiry(c, now),
                escape(c.status_reason.as_deref().unwrap_or("")),
                actions(c, &caller, oauth, lofty_oauth),
                st = c.status.as_str(),
            )
        })
        .collect();
    let notice = match (&n.ok, &n.failed) {
        (Some(ok), _) => format!("<p class=\"ok\" role=\"status\">{}</p>", escape(ok)),
        (_, Some(f)) => format!("<p class=\"error\" role=\"alert\">{}</p>", escape(f)),
        _ => String::new(),
    };
    let table = if list.is_empty() {
        "<p class=\"muted\">Nothing connected yet: connect a GHL location, then Lofty or Lytho.</p>"
            .to_owned()
    } else {
        format!(
            "<table><tr><th>connection</th><th>system</th><th>status</th><th>scopes</th><th>token expires</th><th>last error</th><th></th></tr>{rows}</table>"
        )
    };
    let add = if caller.role == Role::Admin {
        let csrf = csrf_input(&caller);
        let ghl_oauth = if oauth {
            "<p><a class=\"button\" href=\"/connect/ghl\">Connect a GHL location</a> \
             <a class=\"button secondary\" href=\"/connect/ghl?user_type=company\">Connect a GHL agency (all sub-accounts)</a></p>"
        } else {
            "<p class=\"muted\">GHL OAuth needs the marketplace app in the config (<code>[ghl] client_id</code>, docs/CONNECTIONS.md); a Private Integration Token works without it.</p>"
        };
        let lofty_button = if lofty_oauth {
            "<p><a class=\"button secondary\" href=\"/connect/lofty\">Connect Lofty with OAuth</a></p>"
        } else {
            ""
        };
        let lytho_hint = if state.connect_defaults.lytho.is_some() {
            "<p class=\"muted\">Tenant and client id may stay empty: the sandbox's tenant is used.</p>"
        } else {
            ""
        };
        format!(
            "<h2>Connect</h2><div class=\"card\"><h3>GHL</h3>{ghl_oauth}\
             <details><summary>With a Private Integration Token</summary><form method=\"post\" action=\"/connections/add\">{csrf}<input type=\"hidden\" name=\"system\" value=\"ghl-pit\">\
             <label for=\"pit-location\">Location id</label><input type=\"text\" id=\"pit-location\" name=\"location_id\" required>\
             <label for=\"pit-scopes\">Scopes the token has</label><input type=\"text\" id=\"pit-scopes\" name=\"scopes\" value=\"contacts.readonly contacts.write locations/customFields.readonly\">\
             <label for=\"pit-secret\">Token</label><input type=\"password\" id=\"pit-secret\" name=\"secret\" autocomplete=\"off\" required>\
             <p><button type=\"submit\">Connect</button></p></form></details></div>\
             <div class=\"card\"><h3>Lofty</h3>{lofty_button}<form method=\"post\" action=\"/connections/add\">{csrf}<input type=\"hidden\" name=\"system\" value=\"lofty\">\
             <label for=\"lofty-secret\">API key (Lofty: Settings, Integrations, API)</label><input type=\"password\" id=\"lofty-secret\" name=\"secret\" autocomplete=\"off\" required>\
             <p><button type=\"submit\">Connect Lofty</button></p></form></div>\
             <div class=\"card\"><h3>Lytho</h3><form method=\"post\" action=\"/connections/add\">{csrf}<input type=\"hidden\" name=\"system\" value=\"lytho\">{lytho_hint}\
             <label for=\"lytho-tenant\">Tenant</label><input type=\"text\" id=\"lytho-tenant\" name=\"tenant\">\
             <label for=\"lytho-client\">OAuth client id</label><input type=\"text\" id=\"lytho-client\" name=\"client_id\">\
             <label for=\"lytho-secret\">Client secret</label><input type=\"password\" id=\"lytho-secret\" name=\"secret\" autocomplete=\"off\" required>\
             <p><button type=\"submit\">Connect Lytho</button></p></form></div>"
        )
    } else {
        String::new()
    };
    let body = format!("<h1>Connections</h1>{notice}{table}{add}");
    Ok(page("Connections", Some(&caller), "/", &body))
}

fn back(result: Result<String, ApiError>) -> Response {
    let q = match result {
        Ok(ok) => format!(
            "ok={}",
            url::form_urlencoded::byte_serialize(ok.as_bytes()).collect::<String>()
        ),
        Err(e) => format!(
            "failed={}",
            url::form_urlencoded::byte_serialize(e.public_message().as_bytes()).collect::<String>()
        ),
    };
    Redirect::to(&format!("/?{q}")).into_response()
}

/// POST /connections/add
pub async fn page_add(
    State(state): State<AppState>,
    AdminOnly(caller): AdminOnly,
    axum::Form(a): axum::Form<AddConnection>,
) -> Response {
    let result = add(&state, &a).await.map(|(id, detail)| {
        tracing::info!(by = %caller.name, connection = %id, "ConnectionAdded");
        format!("Connected {id}: {detail}")
    });
    back(result)
}

/// POST /connections/{id}/test
pub async fn page_test(
    State(state): State<AppState>,
    AdminOnly(_c): AdminOnly,
    Path(id): Path<String>,
) -> Response {
    back(test(&state, &id).await.and_then(|(ok, detail)| {
        if ok {
            Ok(format!("{id} works: {detail}"))
        } else {
            Err(ApiError::with_status(
                StatusCode::BAD_GATEWAY,
                format!("{id} failed its test: {detail}"),
            ))
        }
    }))
}

#[derive(Deserialize)]
pub struct RotateBody {
    pub secret: SecretString,
}

impl std::fmt::Debug for RotateBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RotateBody { .. }")
    }
}

/// POST /connections/{id}/rotate
pub async fn page_rotate(
    State(state): State<AppState>,
    AdminOnly(caller): AdminOnly,
    Path(id): Path<String>,
    axum::Form(b): axum::Form<RotateBody>,
) -> Response {
    let result = rotate(&state, &id, &b.secret).await;
    if result.is_ok() {
        tracing::info!(by = %caller.name, connection = %id, "CredentialRotated");
    }
    back(result)
}

/// GET /api/connections: every connection, never a secret.
#[utoipa::path(
    get,
    path = "/api/connections",
    tag = "connections",
    summary = "Every connection (never a secret)",
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_list(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> Result<Json<Value>, ApiError> {
    let list = state.store.connections().await.map_err(store_err)?;
    Ok(Json(json!({"connections": list})))
}

/// POST /api/connections: connects an account (`system` `ghl-pit`, `lofty` or
/// `lytho`, with its `secret`) and tests it.
#[utoipa::path(
    post,
    path = "/api/connections",
    tag = "connections",
    summary = "Connect an account (ghl-pit, lofty or lytho) and test it",
    request_body(content = serde_json::Value, description = "{system, secret, location_id?, scopes?, tenant?, client_id?}", content_type = "application/json"),
    responses((status = 201, description = "connected and tested", body = serde_json::Value), (status = 401, description = "no session or token"), (status = 403, description = "a viewer, or no CSRF token with a session")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_add(
    State(state): State<AppState>,
    AdminOnly(caller): AdminOnly,
    Json(a): Json<AddConnection>,
) -> Result<Response, ApiError> {
    let (id, detail) = add(&state, &a).await?;
    tracing::info!(by = %caller.name, connection = %id, "ConnectionAdded");
    Ok((StatusCode::CREATED, Json(json!({"id": id, "test": detail}))).into_response())
}

/// POST /api/connections/{id}/test
#[utoipa::path(
    post,
    path = "/api/connections/{id}/test",
    tag = "connections",
    summary = "Test a connection with a cheap authenticated call",
    params(("id" = String, Path, description = "its id")),
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token"), (status = 403, description = "a viewer, or no CSRF token with a session")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_test(
    State(state): State<AppState>,
    AdminOnly(_c): AdminOnly,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (ok, detail) = test(&state, &id).await?;
    Ok(Json(json!({"id": id, "ok": ok, "detail": detail})))
}

/// POST /api/connections/{id}/rotate: `{"secret": "..."}`.
#[utoipa::path(
    post,
    path = "/api/connections/{id}/rotate",
    tag = "connections",
    summary = "Replace a PIT, Lofty API key or Lytho client secret (checked first)",
    params(("id" = String, Path, description = "its id")),
    request_body(content = serde_json::Value, description = "{secret}", content_type = "application/json"),
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token"), (status = 403, description = "a viewer, or no CSRF token with a session")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_rotate(
    State(state): State<AppState>,
    AdminOnly(caller): AdminOnly,
    Path(id): Path<String>,
    Json(b): Json<RotateBody>,
) -> Result<Json<Value>, ApiError> {
    let done = rotate(&state, &id, &b.secret).await?;
    tracing::info!(by = %caller.name, connection = %id, "CredentialRotated");
    Ok(Json(json!({"id": id, "rotated": done})))
}
