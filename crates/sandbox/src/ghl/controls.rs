//! `/_sandbox/` controls: never mixed with the emulated API paths. Seed data, mint
//! codes and tokens without a browser, change location settings and limits,
//! inject faults, revoke or expire tokens, register webhook targets, install or
//! uninstall the app, and read request counters.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::App;
use super::http::{ApiError, ApiResult, ok};
use super::state::{ALL_SCOPES, Faults, Grant, Inner, MatchField, TokenKind, UserType};

/// Marks the app installed at a location and emits INSTALL (once).
pub fn install(inner: &mut Inner, app: &App, location_id: &str) {
    let company_id = inner.world.company_id.clone();
    let company_name = inner.world.company_name.clone();
    let app_id = inner.world.app_id().to_owned();
    let Some(loc) = inner.world.locations.get_mut(location_id) else {
        return;
    };
    if loc.app_installed {
        return;
    }
    loc.app_installed = true;
    loc.installed_at = Some(Utc::now());
    let user_id = loc.users.first().map(|u| u.id.clone()).unwrap_or_default();
    let mut body = Map::new();
    for (k, v) in [
        ("type", json!("INSTALL")),
        ("appId", json!(app_id)),
        ("versionId", json!(app_id)),
        ("installType", json!("Location")),
        ("locationId", json!(location_id)),
        ("companyId", json!(company_id)),
        ("userId", json!(user_id)),
        ("planId", Value::Null),
        (
            "trial",
            json!({"onTrial": false, "trialDuration": 0, "trialStartDate": Value::Null}),
        ),
        ("isWhitelabelCompany", json!(false)),
        ("whitelabelDetails", json!({"domain": "", "logoUrl": ""})),
        ("companyName", json!(company_name)),
    ] {
        body.insert(k.into(), v);
    }
    app.shared.outbox.emit_app(body);
    inner.rt.touch();
}

/// Uninstalls the app at a location: its OAuth tokens stop working; UNINSTALL is sent.
pub fn uninstall(inner: &mut Inner, app: &App, location_id: &str) -> bool {
    let app_id = inner.world.app_id().to_owned();
    let Some(loc) = inner.world.locations.get_mut(location_id) else {
        return false;
    };
    if !loc.app_installed {
        return true;
    }
    loc.app_installed = false;
    loc.installed_at = None;
    for g in inner.world.tokens.values_mut() {
        if g.kind == TokenKind::OAuth && g.location_id.as_deref() == Some(location_id) {
            g.revoked = true;
        }
    }
    for r in inner.world.refresh_tokens.values_mut() {
        if r.grant.location_id.as_deref() == Some(location_id) {
            r.revoked = true;
        }
    }
    let mut body = Map::new();
    body.insert("type".into(), json!("UNINSTALL"));
    body.insert("appId".into(), json!(app_id));
    body.insert("locationId".into(), json!(location_id));
    app.shared.outbox.emit_app(body);
    inner.rt.touch();
    true
}

/// GET /_sandbox/info: the same object `ghlsync sandbox` prints under `ghl`.
pub async fn info(State(app): State<App>) -> Json<Value> {
    Json(json!(app.info()))
}

/// GET /_sandbox/webhook-public-key: the Ed25519 key webhooks are signed with (PEM).
pub async fn public_key(State(app): State<App>) -> Response {
    ([("content-type", "application/x-pem-file")], app.key_pem).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedReq {
    contacts: usize,
    location_id: Option<String>,
}

/// POST /_sandbox/seed `{contacts, location_id?}`: adds deterministic contacts.
pub async fn seed(State(app): State<App>, Json(r): Json<SeedReq>) -> ApiResult {
    let mut inner = app.shared.lock();
    let ids: Vec<String> = match r.location_id {
        Some(id) if inner.world.locations.contains_key(&id) => vec![id],
        Some(id) => return Err(ApiError::bad_request(format!("Unknown location_id {id}"))),
        None => inner.world.locations.keys().cloned().collect(),
    };
    let mut added = Map::new();
    for id in ids {
        let n = super::seed::add_contacts(&mut inner, &id, r.contacts, app.seed);
        added.insert(id, json!(n));
    }
    ok(json!({"added": added}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeReq {
    location_id: String,
    scope: String,
    redirect_uri: Option<String>,
}

/// POST /_sandbox/oauth/code: an authorization code without the consent page.
pub async fn code(State(app): State<App>, Json(r): Json<CodeReq>) -> ApiResult {
    let mut inner = app.shared.lock();
    let code = super::oauth::mint_code(&mut inner, &app, &r.location_id, &r.scope, r.redirect_uri)?;
    ok(json!({"code": code}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PitReq {
    location_id: String,
    /// Space-separated scopes; all scopes when absent.
    scope: Option<String>,
}

/// POST /_sandbox/pit: a Private Integration Token with chosen scopes.
pub async fn pit(State(app): State<App>, Json(r): Json<PitReq>) -> ApiResult {
    let mut inner = app.shared.lock();
    let Some(loc) = inner.world.locations.get(&r.location_id) else {
        return Err(ApiError::bad_request(format!(
            "Unknown location_id {}",
            r.location_id
        )));
    };
    let scopes: BTreeSet<String> = match r.scope {
        Some(s) => s.split_whitespace().map(str::to_owned).collect(),
        None => ALL_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
    };
    let grant = Grant {
        kind: TokenKind::Pit,
        user_type: UserType::Location,
        location_id: Some(loc.id.clone()),
        company_id: inner.world.company_id.clone(),
        user_id: loc.users.first().map(|u| u.id.clone()).unwrap_or_default(),
        scopes,
        expires_at: None,
        revoked: false,
    };
    let token = format!("pit-{}", uuid::Uuid::new_v4());
    inner.world.tokens.insert(token.clone(), grant);
    inner.rt.touch();
    ok(json!({"token": token}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SettingsReq {
    allow_duplicate_contact: Option<bool>,
    duplicate_priority: Option<Vec<MatchField>>,
}

/// POST /_sandbox/locations/{id}/settings: the "Allow Duplicate Contact" setting.
pub async fn settings(
    State(app): State<App>,
    Path(id): Path<String>,
    Json(r): Json<SettingsReq>,
) -> ApiResult {
    let mut inner = app.shared.lock();
    let Some(loc) = inner.world.locations.get_mut(&id) else {
        return Err(ApiError::bad_request(format!("Unknown location {id}")));
    };
    if let Some(v) = r.allow_duplicate_contact {
        loc.allow_duplicates = v;
    }
    if let Some(p) = r.duplicate_priority {
        loc.duplicate_priority = p;
    }
    let out = json!({
        "allowDuplicateContact": loc.allow_duplicates,
        "duplicatePriority": loc.duplicate_priority,
    });
    inner.rt.touch();
    ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigReq {
    rate_window_ms: Option<u64>,
    rate_max: Option<u32>,
    rate_daily: Option<u32>,
    access_token_ttl_secs: Option<u64>,
    webhook_retry_delay_ms: Option<u64>,
    /// Send webhooks as GHL documents them (true) or as it is reported to (false,
    /// the default: `TaskCreate` without `contactId` and `body`).
    documented_webhooks: Option<bool>,
}

/// POST /_sandbox/config: compress time (limits, token lifetime, webhook retry delay).
pub async fn config(State(app): State<App>, Json(r): Json<ConfigReq>) -> ApiResult {
    let mut inner = app.shared.lock();
    let rt = &mut inner.rt;
    if let Some(v) = r.rate_window_ms {
        rt.rate.window = Duration::from_millis(v.max(1));
    }
    if let Some(v) = r.rate_max {
        rt.rate.max_per_window = v;
    }
    if let Some(v) = r.rate_daily {
        rt.rate.daily = v;
    }
    if r.rate_window_ms.is_some() || r.rate_max.is_some() || r.rate_daily.is_some() {
        rt.buckets.clear();
    }
    if let Some(v) = r.access_token_ttl_secs {
        rt.access_token_ttl = Duration::from_secs(v);
    }
    if let Some(v) = r.documented_webhooks {
        rt.documented_webhooks = v;
    }
    if let Some(v) = r.webhook_retry_delay_ms {
        *app.retry_delay.lock().unwrap_or_else(|p| p.into_inner()) = Duration::from_millis(v);
    }
    let retry_ms = app
        .retry_delay
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_millis();
    ok(json!({
        "rate_window_ms": rt.rate.window.as_millis(),
        "rate_max": rt.rate.max_per_window,
        "rate_daily": rt.rate.daily,
        "access_token_ttl_secs": rt.access_token_ttl.as_secs(),
        "webhook_retry_delay_ms": retry_ms,
        "documented_webhooks": rt.documented_webhooks,
    }))
}

/// POST /_sandbox/faults: set faults (`error_rate`, `latency_ms`, `storm_429`,
/// `lost_answer_rate`, `rate_429`, `timeout_rate` with `timeout_ms`, `reset_rate`;
/// see [`Faults`]).
pub async fn set_faults(State(app): State<App>, Json(f): Json<Faults>) -> ApiResult {
    f.check().map_err(ApiError::bad_request)?;
    let mut inner = app.shared.lock();
    inner.rt.faults = f;
    ok(json!(inner.rt.faults))
}

/// DELETE /_sandbox/faults: back to a healthy service.
pub async fn clear_faults(State(app): State<App>) -> ApiResult {
    app.shared.lock().rt.faults = Faults::default();
    ok(json!(Faults::default()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeReq {
    token: String,
}

/// POST /_sandbox/tokens/revoke: revokes an access, refresh or PIT token.
pub async fn revoke(State(app): State<App>, Json(r): Json<RevokeReq>) -> ApiResult {
    let mut inner = app.shared.lock();
    let mut found = false;
    if let Some(g) = inner.world.tokens.get_mut(&r.token) {
        g.revoked = true;
        found = true;
    }
    if let Some(g) = inner.world.refresh_tokens.get_mut(&r.token) {
        g.revoked = true;
        found = true;
    }
    if !found {
        return Err(ApiError::not_found("No such token"));
    }
    inner.rt.touch();
    ok(json!({"revoked": true}))
}

/// POST /_sandbox/tokens/revoke-all: revokes every OAuth refresh token (and access token)
/// of a location or of the whole company.
pub async fn revoke_all(State(app): State<App>, Json(r): Json<Value>) -> ApiResult {
    let target = r
        .get("location_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut inner = app.shared.lock();
    let mut n = 0;
    let hit = |g: &Grant| {
        g.kind == TokenKind::OAuth
            && target
                .as_ref()
                .is_none_or(|t| g.location_id.as_ref() == Some(t))
    };
    for g in inner.world.tokens.values_mut().filter(|g| hit(g)) {
        g.revoked = true;
        n += 1;
    }
    for r in inner
        .world
        .refresh_tokens
        .values_mut()
        .filter(|r| hit(&r.grant))
    {
        r.revoked = true;
        n += 1;
    }
    inner.rt.touch();
    ok(json!({"revoked": n}))
}

/// POST /_sandbox/tokens/expire-all: every OAuth access token expires now.
pub async fn expire_all(State(app): State<App>) -> ApiResult {
    let mut inner = app.shared.lock();
    let now = Utc::now();
    let mut n = 0;
    for g in inner.world.tokens.values_mut() {
        if g.kind == TokenKind::OAuth {
            g.expires_at = Some(now);
            n += 1;
        }
    }
    inner.rt.touch();
    ok(json!({"expired": n}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookReq {
    url: String,
}

/// POST /_sandbox/webhooks `{url}`: registers a webhook target.
pub async fn add_webhook(State(app): State<App>, Json(r): Json<WebhookReq>) -> ApiResult {
    if url::Url::parse(&r.url).is_err() {
        return Err(ApiError::bad_request(format!("Not a URL: {}", r.url)));
    }
    let mut inner = app.shared.lock();
    if !inner.world.webhook_targets.contains(&r.url) {
        inner.world.webhook_targets.push(r.url);
    }
    inner.rt.touch();
    ok(json!({"targets": inner.world.webhook_targets}))
}

/// GET /_sandbox/webhooks: registered targets.
pub async fn list_webhooks(State(app): State<App>) -> ApiResult {
    ok(json!({"targets": app.shared.lock().world.webhook_targets}))
}

/// DELETE /_sandbox/webhooks: removes every target.
pub async fn clear_webhooks(State(app): State<App>) -> ApiResult {
    let mut inner = app.shared.lock();
    inner.world.webhook_targets.clear();
    inner.rt.touch();
    ok(json!({"targets": []}))
}

/// GET /_sandbox/webhooks/deliveries: what was sent, to whom, with which status.
pub async fn deliveries(State(app): State<App>) -> ApiResult {
    let log = app.log.lock().unwrap_or_else(|p| p.into_inner());
    ok(json!({"deliveries": log.iter().collect::<Vec<_>>()}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallReq {
    location_id: String,
}

/// POST /_sandbox/install: installs the app at a location (INSTALL webhook).
pub async fn do_install(State(app): State<App>, Json(r): Json<InstallReq>) -> ApiResult {
    let mut inner = app.shared.lock();
    if !inner.world.locations.contains_key(&r.location_id) {
        return Err(ApiError::bad_request(format!(
            "Unknown location_id {}",
            r.location_id
        )));
    }
    install(&mut inner, &app, &r.location_id);
    ok(json!({"installed": true}))
}

/// POST /_sandbox/uninstall: uninstalls the app at a location (UNINSTALL webhook).
pub async fn do_uninstall(State(app): State<App>, Json(r): Json<InstallReq>) -> ApiResult {
    let mut inner = app.shared.lock();
    if !uninstall(&mut inner, &app, &r.location_id) {
        return Err(ApiError::bad_request(format!(
            "Unknown location_id {}",
            r.location_id
        )));
    }
    ok(json!({"installed": false}))
}

/// GET /_sandbox/counters: API requests per location (or company), with 429s and routes.
pub async fn counters(State(app): State<App>) -> ApiResult {
    let inner = app.shared.lock();
    ok(json!({"locations": inner.rt.counters, "oauth": inner.rt.oauth}))
}

/// DELETE /_sandbox/counters: starts counting afresh.
pub async fn reset_counters(State(app): State<App>) -> ApiResult {
    let mut inner = app.shared.lock();
    inner.rt.counters.clear();
    inner.rt.oauth = Default::default();
    ok(json!({"locations": {}}))
}
