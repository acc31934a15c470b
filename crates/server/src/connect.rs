//! GHL OAuth 2.0 authorization-code flow: `GET /connect/ghl` sends the admin to the
//! consent page with a `state` bound to their session; `GET /oauth/callback/ghl`
//! checks it, exchanges the code and stores the tokens in the vault.
//!
//! A `state` is random, single use and expires after 10 minutes. When the flow
//! starts from a browser session, the callback must come back with the same
//! session cookie; when it starts from the CLI (bearer token), the state alone binds
//! it. The redirect URI always comes from the configuration, never the request.
//! Flows live in the store (hashed), so the callback may reach any server instance
//! sharing the database, or this one after a restart.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use engine::GhlApp;
use serde::Deserialize;
use serde_json::json;
use store::ConnectFlowStatus;

use crate::AppState;
use crate::admin::{AdminCaller, AdminOnly, Caller, MaybeCaller, random_token, wants_json};
use crate::error::ApiError;

const STATE_TTL: Duration = Duration::from_secs(600);

/// How the server talks OAuth to GHL.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    pub app: GhlApp,
    /// Consent host: `https://marketplace.gohighlevel.com`, the white-label
    /// `https://marketplace.leadconnectorhq.com`, or the sandbox.
    pub auth_base: url::Url,
    /// Our callback, exactly as registered with the marketplace app.
    pub redirect_uri: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct ConnectQuery {
    /// `company` for an agency install (all sub-accounts).
    user_type: Option<String>,
}

fn error_page(status: StatusCode, message: &str) -> Response {
    ApiError::with_status(status, message)
        .page()
        .into_response()
}

/// What the user is told when storing a new connection failed: the remote
/// system's refusal in full, a database failure only in the log.
fn store_failure(system: &str, e: &engine::connections::ConnectError) -> String {
    match e {
        engine::connections::ConnectError::Store(detail) => {
            tracing::error!(error = %detail, system, "cannot store a new connection");
            format!(
                "Connected to {system} but could not store the connection: the database is unavailable (see the server log). Try again."
            )
        }
        other => format!("Connected to {system} but could not store the connection: {other}"),
    }
}

/// GET /connect/ghl: redirect to the consent page (or, for `Accept: application/json`,
/// answer the URL and the state so the CLI can follow the flow).
pub async fn start(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    headers: HeaderMap,
    Query(q): Query<ConnectQuery>,
) -> Response {
    let Some(oauth) = &state.oauth else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "GHL OAuth is not configured: set ghl.client_id, ghl.client_secret and ghl.redirect_uri (GHLSYNC_GHL_CLIENT_ID, GHLSYNC_GHL_CLIENT_SECRET, GHLSYNC_GHL_REDIRECT_URI)",
        );
    };
    let flow_state = match begin(&state, "ghl", &admin).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let agency = q
        .user_type
        .as_deref()
        .is_some_and(|u| u.eq_ignore_ascii_case("company"));
    let mut scopes: Vec<&str> = oauth.scopes.iter().map(String::as_str).collect();
    if agency {
        // An agency token mints the location tokens: it needs the oauth scopes.
        for needed in ["oauth.readonly", "oauth.write"] {
            if !scopes.contains(&needed) {
                scopes.push(needed);
            }
        }
    }
    let app = engine::apps::oauth_app(&oauth.app, &oauth.redirect_uri)
        .with_auth_base(oauth.auth_base.clone());
    let mut url = app.authorize_url(&scopes, &flow_state);
    if agency {
        url.query_pairs_mut().append_pair("user_type", "Company");
    }
    if wants_json(&headers) {
        return Json(json!({
            "authorize_url": url.as_str(),
            "state": flow_state,
            "status_url": format!("/connect/status/{flow_state}"),
        }))
        .into_response();
    }
    Redirect::to(url.as_str()).into_response()
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// GET /oauth/callback/ghl: check `state`, exchange the code, store the tokens.
pub async fn callback(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(oauth) = state.oauth.clone() else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "GHL OAuth is not configured on this server.",
        );
    };
    let Some(flow_state) = q.state.clone() else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The callback has no state. Start again from /connect/ghl.",
        );
    };
    if let Err(page) = claim(&state, caller.as_ref(), &flow_state, "ghl").await {
        return page;
    }
    let finish = |status: ConnectFlowStatus| set_status(&state, &flow_state, status);
    if let Some(err) = q.error {
        let message = format!("GHL did not grant access: {err}");
        finish(ConnectFlowStatus::Failed {
            error: message.clone(),
        })
        .await;
        return error_page(StatusCode::BAD_REQUEST, &message);
    }
    let Some(code) = q.code else {
        finish(ConnectFlowStatus::Failed {
            error: "no code".to_owned(),
        })
        .await;
        return error_page(StatusCode::BAD_REQUEST, "The callback has no code.");
    };
    let app = engine::apps::oauth_app(&oauth.app, &oauth.redirect_uri);
    let tokens = match app.exchange_code(&code, None).await {
        Ok(t) => t,
        Err(e) => {
            let message = format!(
                "GHL refused the authorization code: {}",
                e.server_message().unwrap_or("unknown error")
            );
            finish(ConnectFlowStatus::Failed {
                error: message.clone(),
            })
            .await;
            return error_page(StatusCode::BAD_REQUEST, &message);
        }
    };
    match engine::connections::store_oauth_tokens(&state.store, &oauth.app, &tokens).await {
        Ok(ids) => {
            tracing::info!(connections = ?ids, "ConnectionConnected");
            finish(ConnectFlowStatus::Connected {
                connections: ids.clone(),
            })
            .await;
            let list: String = ids
                .iter()
                .map(|i| format!("<li><code>{i}</code></li>"))
                .collect();
            Html(format!(
                "<!doctype html><title>ghlsync: connected</title><h1>Connected</h1><ul>{list}</ul><p>You can close this window.</p><p><a href=\"/\">Back</a></p>"
            ))
            .into_response()
        }
        Err(e) => {
            let message = store_failure("GHL", &e);
            finish(ConnectFlowStatus::Failed {
                error: message.clone(),
            })
            .await;
            error_page(StatusCode::INTERNAL_SERVER_ERROR, &message)
        }
    }
}

/// Starts a flow of `system` for `admin` and returns its state; stale flows are
/// pruned on the way. A store failure becomes the error page to answer.
async fn begin(state: &AppState, system: &str, admin: &Caller) -> Result<String, Response> {
    let flow_state = random_token();
    let session = admin.flow_binding();
    state
        .store
        .begin_connect_flow(&flow_state, system, session, STATE_TTL * 6)
        .await
        .map_err(|e| {
            ApiError::unavailable(&format!("cannot start the {system} connection"), e)
                .page()
                .into_response()
        })?;
    Ok(flow_state)
}

/// Takes a pending flow of `system` for this callback, atomically: a replayed
/// callback finds it used; a state of another session or system is refused.
async fn claim(
    state: &AppState,
    caller: Option<&Caller>,
    flow_state: &str,
    system: &str,
) -> Result<(), Response> {
    let unavailable = |e: store::StoreError| {
        ApiError::unavailable(
            &format!("cannot check this {system} authorization (reload this page to retry)"),
            e,
        )
        .page()
        .into_response()
    };
    let flow = state
        .store
        .connect_flow(flow_state)
        .await
        .map_err(unavailable)?;
    let age = |created_at: i64| {
        Duration::from_millis(u64::try_from(state.store.now() - created_at).unwrap_or(0))
    };
    let session = caller.and_then(Caller::flow_binding);
    let refusal = match flow {
        Some(f) if f.system != system => {
            Some("This state was issued for another service. Start again.")
        }
        None => Some(
            "Unknown or expired state: this callback was not started here. Start again from /connect.",
        ),
        Some(f) if age(f.created_at) > STATE_TTL => {
            Some("This authorization took more than 10 minutes. Start again.")
        }
        Some(f) if f.status != ConnectFlowStatus::Pending => {
            Some("This authorization was already used. Start again.")
        }
        Some(f) if !f.started_by(session) => Some(
            "This authorization belongs to another admin session (possible CSRF). Start again.",
        ),
        Some(_) => {
            let taken = state
                .store
                .take_connect_flow(flow_state)
                .await
                .map_err(unavailable)?;
            (!taken).then_some("This authorization was already used. Start again.")
        }
    };
    match refusal {
        None => Ok(()),
        Some(message) => {
            tracing::warn!(reason = message, system, "OAuthCallbackRejected");
            Err(error_page(StatusCode::BAD_REQUEST, message))
        }
    }
}

async fn set_status(state: &AppState, flow_state: &str, status: ConnectFlowStatus) {
    if let Err(e) = state.store.finish_connect_flow(flow_state, &status).await {
        // The connection itself is stored (or the failure shown); only the CLI's
        // status poll misses the outcome.
        tracing::error!(error = %e, "cannot record how a connect flow ended");
    }
}

/// Lofty OAuth (vendor app) settings.
#[derive(Debug, Clone)]
pub struct LoftyOAuthSettings {
    pub app: lofty::OAuthApp,
    /// Lofty API base, to identify the member behind the new token.
    pub api_base: url::Url,
}

/// GET /connect/lofty: redirect to Lofty's consent page (JSON for the CLI).
pub async fn start_lofty(
    State(state): State<AppState>,
    AdminOnly(admin): AdminOnly,
    headers: HeaderMap,
) -> Response {
    let Some(oauth) = &state.lofty_oauth else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Lofty OAuth is not configured: set lofty.client_id and lofty.client_secret (GHLSYNC_LOFTY_CLIENT_ID, GHLSYNC_LOFTY_CLIENT_SECRET), or connect with an API key: ghlsync connect lofty",
        );
    };
    let flow_state = match begin(&state, "lofty", &admin).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let url = oauth.app.consent_url(&flow_state);
    if wants_json(&headers) {
        return Json(json!({"authorize_url": url.as_str(), "state": flow_state, "status_url": format!("/connect/status/{flow_state}")}))
            .into_response();
    }
    Redirect::to(url.as_str()).into_response()
}

/// GET /oauth/callback/lofty: check `state`, exchange the code, store the tokens.
pub async fn callback_lofty(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(oauth) = state.lofty_oauth.clone() else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Lofty OAuth is not configured on this server.",
        );
    };
    let Some(flow_state) = q.state.clone() else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The callback has no state. Start again from /connect/lofty.",
        );
    };
    if let Err(page) = claim(&state, caller.as_ref(), &flow_state, "lofty").await {
        return page;
    }
    let fail = async |message: String| {
        set_status(
            &state,
            &flow_state,
            ConnectFlowStatus::Failed {
                error: message.clone(),
            },
        )
        .await;
        error_page(StatusCode::BAD_REQUEST, &message)
    };
    let Some(code) = q.code else {
        return fail(format!(
            "Lofty did not grant access: {}",
            q.error.unwrap_or_else(|| "no code".to_owned())
        ))
        .await;
    };
    let tokens = match oauth
        .app
        .exchange_code(&secrecy::SecretString::from(code))
        .await
    {
        Ok(t) => t,
        Err(e) => return fail(format!("Lofty refused the authorization code: {e}")).await,
    };
    match engine::connections::store_lofty_oauth(&state.store, &oauth.api_base, &tokens).await {
        Ok(id) => {
            set_status(
                &state,
                &flow_state,
                ConnectFlowStatus::Connected {
                    connections: vec![id.clone()],
                },
            )
            .await;
            Html(format!("<!doctype html><title>ghlsync: connected</title><h1>Connected</h1><ul><li><code>{id}</code></li></ul><p>You can close this window.</p>"))
                .into_response()
        }
        Err(e) => fail(store_failure("Lofty", &e)).await,
    }
}

/// GET /connect/status/{state}: where a flow stands (admin only).
pub async fn status(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(flow_state): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    match state.store.connect_flow(&flow_state).await {
        Ok(Some(f)) => Ok(Json(json!(f.status))),
        Ok(None) => Err(ApiError::not_found("no such connect flow")),
        Err(e) => Err(ApiError::unavailable("cannot read the connect flow", e)),
    }
}
