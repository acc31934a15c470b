//! GHL OAuth 2.0 authorization-code flow: `GET /connect/ghl` sends the admin to the
//! consent page with a `state` bound to their session; `GET /oauth/callback/ghl`
//! checks it, exchanges the code and stores the tokens in the vault.
//!
//! A `state` is random, single use and expires after 10 minutes. When the flow
//! starts from a browser session, the callback must come back with the same
//! session cookie; when it starts from the CLI (bearer token), the state alone binds
//! it. The redirect URI always comes from the configuration, never the request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use engine::GhlApp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::admin::{Admin, random_token};

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

/// Where a connect flow stands.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FlowStatus {
    Pending,
    /// The callback arrived and is being processed.
    InProgress,
    Connected {
        connections: Vec<String>,
    },
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone)]
struct Flow {
    /// `ghl` or `lofty`: a state only completes the flow it was issued for.
    system: &'static str,
    session: Option<String>,
    created: Instant,
    status: FlowStatus,
}

/// Connect flows in progress, by state.
#[derive(Debug, Default)]
pub struct Flows(Mutex<HashMap<String, Flow>>);

impl Flows {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Flow>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Deserialize)]
pub struct ConnectQuery {
    /// `company` for an agency install (all sub-accounts).
    user_type: Option<String>,
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><title>ghlsync: connection failed</title><h1>Connection failed</h1><p>{}</p><p><a href=\"/\">Back</a></p>",
        message.replace('<', "&lt;")
    );
    (status, Html(body)).into_response()
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"))
}

/// GET /connect/ghl: redirect to the consent page (or, for `Accept: application/json`,
/// answer the URL and the state so the CLI can follow the flow).
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ConnectQuery>,
) -> Response {
    let Some(admin) = state.admin.caller(&headers) else {
        if wants_json(&headers) {
            return (StatusCode::UNAUTHORIZED, Json(json!({"error": "admin login required: send Authorization: Bearer <admin token>"}))).into_response();
        }
        return Redirect::to("/login?next=/connect/ghl").into_response();
    };
    let Some(oauth) = &state.oauth else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "GHL OAuth is not configured: set ghl.client_id, ghl.client_secret and ghl.redirect_uri (GHLSYNC_GHL_CLIENT_ID, GHLSYNC_GHL_CLIENT_SECRET, GHLSYNC_GHL_REDIRECT_URI)",
        );
    };
    let flow_state = begin(&state, "ghl", admin);
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
    let app = engine::connections::oauth_app(&oauth.app, &oauth.redirect_uri)
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
    headers: HeaderMap,
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
    if let Err(message) = claim(&state, &headers, &flow_state, "ghl") {
        return error_page(StatusCode::BAD_REQUEST, message);
    }
    let finish = |status: FlowStatus| set_status(&state, &flow_state, status);
    if let Some(err) = q.error {
        let message = format!("GHL did not grant access: {err}");
        finish(FlowStatus::Failed {
            error: message.clone(),
        });
        return error_page(StatusCode::BAD_REQUEST, &message);
    }
    let Some(code) = q.code else {
        finish(FlowStatus::Failed {
            error: "no code".to_owned(),
        });
        return error_page(StatusCode::BAD_REQUEST, "The callback has no code.");
    };
    let app = engine::connections::oauth_app(&oauth.app, &oauth.redirect_uri);
    let tokens = match app.exchange_code(&code, None).await {
        Ok(t) => t,
        Err(e) => {
            let message = format!(
                "GHL refused the authorization code: {}",
                e.server_message().unwrap_or("unknown error")
            );
            finish(FlowStatus::Failed {
                error: message.clone(),
            });
            return error_page(StatusCode::BAD_REQUEST, &message);
        }
    };
    match engine::connections::store_oauth_tokens(&state.store, &oauth.app, &tokens).await {
        Ok(ids) => {
            tracing::info!(connections = ?ids, "ConnectionConnected");
            finish(FlowStatus::Connected {
                connections: ids.clone(),
            });
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
            let message = format!("Connected to GHL but could not store the connection: {e}");
            finish(FlowStatus::Failed {
                error: message.clone(),
            });
            error_page(StatusCode::INTERNAL_SERVER_ERROR, &message)
        }
    }
}

/// Starts a flow of `system` for `admin` and returns its state; stale flows are
/// pruned on the way.
fn begin(state: &AppState, system: &'static str, admin: Admin) -> String {
    let flow_state = random_token();
    let session = match admin {
        Admin::Session(id) => Some(id),
        Admin::Bearer => None,
    };
    let mut flows = state.flows.lock();
    flows.retain(|_, f| f.created.elapsed() < STATE_TTL * 6);
    flows.insert(
        flow_state.clone(),
        Flow {
            system,
            session,
            created: Instant::now(),
            status: FlowStatus::Pending,
        },
    );
    flow_state
}

/// Takes a pending flow of `system` for this callback, atomically: a replayed
/// callback finds it used; a state of another session or system is refused.
fn claim(
    state: &AppState,
    headers: &HeaderMap,
    flow_state: &str,
    system: &str,
) -> Result<(), &'static str> {
    let check = {
        let mut flows = state.flows.lock();
        match flows.get_mut(flow_state) {
            Some(f) if f.system != system => {
                Err("This state was issued for another service. Start again.")
            }
            None => Err(
                "Unknown or expired state: this callback was not started here. Start again from /connect.",
            ),
            Some(f) if f.created.elapsed() > STATE_TTL => {
                Err("This authorization took more than 10 minutes. Start again.")
            }
            Some(f) if f.status != FlowStatus::Pending => {
                Err("This authorization was already used. Start again.")
            }
            Some(f) => {
                let same_session = match &f.session {
                    None => true,
                    Some(s) => state.admin.session(headers).as_deref() == Some(s.as_str()),
                };
                if same_session {
                    f.status = FlowStatus::InProgress;
                    Ok(())
                } else {
                    Err(
                        "This authorization belongs to another admin session (possible CSRF). Start again.",
                    )
                }
            }
        }
    };
    check.inspect_err(|message| tracing::warn!(reason = message, system, "OAuthCallbackRejected"))
}

fn set_status(state: &AppState, flow_state: &str, status: FlowStatus) {
    if let Some(f) = state.flows.lock().get_mut(flow_state) {
        f.status = status;
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
pub async fn start_lofty(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(admin) = state.admin.caller(&headers) else {
        if wants_json(&headers) {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": "admin login required"})),
            )
                .into_response();
        }
        return Redirect::to("/login?next=/connect/lofty").into_response();
    };
    let Some(oauth) = &state.lofty_oauth else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Lofty OAuth is not configured: set lofty.client_id and lofty.client_secret (GHLSYNC_LOFTY_CLIENT_ID, GHLSYNC_LOFTY_CLIENT_SECRET), or connect with an API key: ghlsync connect lofty",
        );
    };
    let flow_state = begin(&state, "lofty", admin);
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
    headers: HeaderMap,
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
    if let Err(message) = claim(&state, &headers, &flow_state, "lofty") {
        return error_page(StatusCode::BAD_REQUEST, message);
    }
    let fail = |message: String| {
        set_status(
            &state,
            &flow_state,
            FlowStatus::Failed {
                error: message.clone(),
            },
        );
        error_page(StatusCode::BAD_REQUEST, &message)
    };
    let Some(code) = q.code else {
        return fail(format!(
            "Lofty did not grant access: {}",
            q.error.unwrap_or_else(|| "no code".to_owned())
        ));
    };
    let tokens = match oauth
        .app
        .exchange_code(&secrecy::SecretString::from(code))
        .await
    {
        Ok(t) => t,
        Err(e) => return fail(format!("Lofty refused the authorization code: {e}")),
    };
    match engine::connections::store_lofty_oauth(&state.store, &oauth.api_base, &tokens).await {
        Ok(id) => {
            set_status(
                &state,
                &flow_state,
                FlowStatus::Connected {
                    connections: vec![id.clone()],
                },
            );
            Html(format!("<!doctype html><title>ghlsync: connected</title><h1>Connected</h1><ul><li><code>{id}</code></li></ul><p>You can close this window.</p>"))
                .into_response()
        }
        Err(e) => fail(format!(
            "Connected to Lofty but could not store the connection: {e}"
        )),
    }
}

/// GET /connect/status/{state}: where a flow stands (admin only).
pub async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(flow_state): Path<String>,
) -> Response {
    if state.admin.caller(&headers).is_none() {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "admin login required"})),
        )
            .into_response();
    }
    match state.flows.lock().get(&flow_state) {
        Some(f) => Json(json!(f.status)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no such connect flow"})),
        )
            .into_response(),
    }
}
