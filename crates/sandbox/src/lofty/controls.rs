//! `/_sandbox/` controls of the Lofty emulator, on its own port and never mixed with
//! API paths: seed data, change limits and delays, inject faults, mint and revoke
//! credentials, read counters and the webhook delivery log, flush pending webhooks.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::App;
use super::http::{ApiError, ApiResult, ok};
use super::state::{API_FAMILIES, KeyGrant, OAuthGrant, now_ms};
use crate::ghl::state::Faults;

/// GET /_sandbox/info: the `lofty` object of the sandbox's JSON line.
pub async fn info(State(app): State<App>) -> Json<Value> {
    Json(json!(app.info()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedReq {
    leads: usize,
}

/// POST /_sandbox/seed `{leads}`: adds deterministic leads (continuing `person(i)`).
pub async fn seed(State(app): State<App>, Json(r): Json<SeedReq>) -> ApiResult {
    let mut inner = app.shared.lock();
    let added = super::seed::add_leads(&mut inner, r.leads, app.seed);
    ok(json!({"added": added, "leads": inner.world.leads.len()}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigReq {
    /// Length of the rate window (Lofty: 60,000 ms).
    rate_window_ms: Option<u64>,
    /// Requests per window for each personal API key.
    rate_per_minute: Option<u32>,
    /// Requests per window for the OAuth app (all its tokens together).
    oauth_rate_per_minute: Option<u32>,
    /// How long a new lead or note answers 404 on reads.
    consistency_delay_ms: Option<u64>,
    /// How long changes gather before a webhook batch goes out.
    webhook_batch_ms: Option<u64>,
    /// Lifetime of OAuth access tokens issued from now on.
    access_token_ttl_secs: Option<u64>,
}

/// POST /_sandbox/config: limits, delays and lifetimes; answers the current values.
pub async fn config(State(app): State<App>, Json(r): Json<ConfigReq>) -> ApiResult {
    let mut inner = app.shared.lock();
    let rt = &mut inner.rt;
    if let Some(v) = r.rate_window_ms {
        rt.rate.window_ms = v.max(1);
    }
    if let Some(v) = r.rate_per_minute {
        rt.rate.key_limit = v;
    }
    if let Some(v) = r.oauth_rate_per_minute {
        rt.rate.oauth_limit = v;
    }
    if r.rate_window_ms.is_some()
        || r.rate_per_minute.is_some()
        || r.oauth_rate_per_minute.is_some()
    {
        rt.buckets.clear();
    }
    if let Some(v) = r.consistency_delay_ms {
        rt.consistency_delay_ms = v;
    }
    if let Some(v) = r.webhook_batch_ms {
        rt.webhook_batch_ms = v;
    }
    if let Some(v) = r.access_token_ttl_secs {
        rt.access_token_ttl_secs = v;
    }
    let out = config_json(rt);
    drop(inner);
    app.shared.wake.notify_one();
    ok(out)
}

fn config_json(rt: &super::state::Runtime) -> Value {
    json!({
        "rate_window_ms": rt.rate.window_ms,
        "rate_per_minute": rt.rate.key_limit,
        "oauth_rate_per_minute": rt.rate.oauth_limit,
        "consistency_delay_ms": rt.consistency_delay_ms,
        "webhook_batch_ms": rt.webhook_batch_ms,
        "access_token_ttl_secs": rt.access_token_ttl_secs,
    })
}

/// GET /_sandbox/config: the current values.
pub async fn get_config(State(app): State<App>) -> ApiResult {
    ok(config_json(&app.shared.lock().rt))
}

/// POST /_sandbox/faults: `error_rate`, `latency_ms`, `storm_429`, `rate_429`,
/// `timeout_rate` with `timeout_ms`, `reset_rate` (see [`Faults`];
/// `lost_answer_rate` is GHL's only).
pub async fn set_faults(State(app): State<App>, Json(f): Json<Faults>) -> ApiResult {
    f.check().map_err(ApiError::invalid)?;
    let mut inner = app.shared.lock();
    inner.rt.faults = f;
    ok(json!(inner.rt.faults))
}

/// DELETE /_sandbox/faults: back to a healthy service.
pub async fn clear_faults(State(app): State<App>) -> ApiResult {
    app.shared.lock().rt.faults = Faults::default();
    ok(json!(Faults::default()))
}

/// GET /_sandbox/counters: requests per caller (member user id, `unauthenticated`,
/// `oauth` for the token endpoint) and `total`, with 429s and routes.
pub async fn counters(State(app): State<App>) -> ApiResult {
    ok(json!({"callers": app.shared.lock().rt.counters}))
}

/// DELETE /_sandbox/counters: starts counting afresh.
pub async fn reset_counters(State(app): State<App>) -> ApiResult {
    app.shared.lock().rt.counters.clear();
    ok(json!({"callers": {}}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberReq {
    /// The member (by user id); the account owner when absent.
    member_user_id: Option<i64>,
}

/// POST /_sandbox/keys `{member_user_id?}`: a new personal API key.
pub async fn key(State(app): State<App>, Json(r): Json<MemberReq>) -> ApiResult {
    let mut inner = app.shared.lock();
    let user = r
        .member_user_id
        .unwrap_or_else(|| inner.world.admin().member_user_id);
    if inner.world.member_by_user(user).is_none() {
        return Err(ApiError::invalid(format!("Unknown member {user}")));
    }
    let team = inner.world.team_id;
    let key = super::seed::api_key(&mut inner.rt.rng, team, user);
    inner.world.api_keys.insert(
        key.clone(),
        KeyGrant {
            member_user_id: user,
            revoked: false,
        },
    );
    inner.rt.dirty = true;
    ok(json!({"key": key}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantReq {
    member_user_id: Option<i64>,
    /// API families granted to the vendor app (`leads`, `notes`, `tasks`, `calendar`,
    /// `members`, `team`, `webhooks`); all when absent.
    apis: Option<Vec<String>>,
    redirect_uri: Option<String>,
}

fn grant_of(inner: &super::state::Inner, r: GrantReq) -> Result<OAuthGrant, ApiError> {
    let user = r
        .member_user_id
        .unwrap_or_else(|| inner.world.admin().member_user_id);
    if inner.world.member_by_user(user).is_none() {
        return Err(ApiError::invalid(format!("Unknown member {user}")));
    }
    let apis = match r.apis {
        None => None,
        Some(list) => {
            if let Some(bad) = list.iter().find(|a| !API_FAMILIES.contains(&a.as_str())) {
                return Err(ApiError::invalid(format!(
                    "Unknown API family {bad}; use {}",
                    API_FAMILIES.join(", ")
                )));
            }
            Some(list.into_iter().collect::<BTreeSet<_>>())
        }
    };
    Ok(OAuthGrant {
        member_user_id: user,
        apis,
        expires_ms: None,
        revoked: false,
        used: false,
        redirect_uri: r.redirect_uri,
    })
}

/// POST /_sandbox/oauth/code: an authorization code without the consent page.
pub async fn code(State(app): State<App>, Json(r): Json<GrantReq>) -> ApiResult {
    let mut inner = app.shared.lock();
    let mut grant = grant_of(&inner, r)?;
    grant.expires_ms = Some(now_ms() + 600_000);
    let code = super::oauth::mint(&mut inner, "lofty-code-");
    inner.world.codes.insert(code.clone(), grant);
    ok(json!({"code": code}))
}

/// POST /_sandbox/oauth/token: an access + refresh token pair directly.
pub async fn token(State(app): State<App>, Json(r): Json<GrantReq>) -> ApiResult {
    let mut inner = app.shared.lock();
    let grant = grant_of(&inner, r)?;
    ok(super::oauth::issue(&mut inner, &grant))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeReq {
    token: String,
}

/// POST /_sandbox/tokens/revoke: revokes an API key, access token or refresh token.
pub async fn revoke(State(app): State<App>, Json(r): Json<RevokeReq>) -> ApiResult {
    let mut inner = app.shared.lock();
    let w = &mut inner.world;
    let mut found = false;
    if let Some(k) = w.api_keys.get_mut(&r.token) {
        k.revoked = true;
        found = true;
    }
    for map in [&mut w.tokens, &mut w.refresh_tokens] {
        if let Some(g) = map.get_mut(&r.token) {
            g.revoked = true;
            found = true;
        }
    }
    if !found {
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "No such token",
        ));
    }
    inner.rt.dirty = true;
    ok(json!({"revoked": true}))
}

/// POST /_sandbox/tokens/expire-all: every expiring OAuth access token expires now.
pub async fn expire_all(State(app): State<App>) -> ApiResult {
    let mut inner = app.shared.lock();
    let now = now_ms();
    let mut n = 0;
    for g in inner.world.tokens.values_mut() {
        if g.expires_ms.is_some() {
            g.expires_ms = Some(now);
            n += 1;
        }
    }
    inner.rt.dirty = true;
    ok(json!({"expired": n}))
}

/// GET /_sandbox/webhooks/deliveries: every delivery with its payload and status.
pub async fn deliveries(State(app): State<App>) -> ApiResult {
    let log = app.log.lock().unwrap_or_else(|p| p.into_inner());
    ok(json!({"deliveries": log.iter().collect::<Vec<_>>()}))
}

/// DELETE /_sandbox/webhooks/deliveries: clears the log.
pub async fn clear_deliveries(State(app): State<App>) -> ApiResult {
    app.log.lock().unwrap_or_else(|p| p.into_inner()).clear();
    ok(json!({"deliveries": []}))
}

/// GET /_sandbox/webhooks/pending: changes waiting per subscription.
pub async fn pending(State(app): State<App>) -> ApiResult {
    let inner = app.shared.lock();
    let out: serde_json::Map<String, Value> = inner
        .rt
        .pending
        .iter()
        .map(|(id, b)| (id.to_string(), json!(b.len())))
        .collect();
    ok(json!({"pending": out}))
}

/// POST /_sandbox/webhooks/flush: delivers every pending batch now and waits.
pub async fn flush(State(app): State<App>) -> ApiResult {
    let n = super::webhooks::flush(&app).await;
    ok(json!({"delivered": n}))
}
