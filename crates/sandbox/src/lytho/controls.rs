//! `/_sandbox/` controls of the Lytho emulator: never mixed with the API paths,
//! no auth. Seed items, change items so pollers see them, add comments, change
//! limits and token lifetimes, inject faults, expire or revoke tokens, reset the
//! client secret, and read request counters.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::http::{ApiError, ApiResult, ok};
use super::state::{Comment, Faults, Kind, Shared, escape_html, iso, parse_date};
use super::{info_of, seed};

fn kind(name: &str) -> Result<Kind, ApiError> {
    Kind::parse(name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Unknown type {name}: one of workrequest, task, project, proof, campaign"
        ))
    })
}

/// GET /_sandbox/info: the object `ghlsync sandbox` prints under `lytho`.
pub async fn info(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(info_of(&shared)))
}

/// GET /_sandbox/users: every user of the tenant (the API has no user list).
pub async fn users(State(shared): State<Arc<Shared>>) -> ApiResult {
    let inner = shared.lock();
    let w = &inner.world;
    let users: Vec<Value> = w
        .users
        .values()
        .map(|u| {
            let mut v = u.to_json(w.account_id);
            v["person"] = json!(u.person);
            v
        })
        .collect();
    ok(json!({"users": users}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedReq {
    /// One type; every type when absent.
    #[serde(rename = "type")]
    kind: Option<String>,
    count: usize,
}

/// POST /_sandbox/seed `{type?, count}`: adds items created now (with users, comments
/// and files), so they are also changes for pollers.
pub async fn seed(State(shared): State<Arc<Shared>>, Json(r): Json<SeedReq>) -> ApiResult {
    let kinds = match &r.kind {
        Some(k) => vec![kind(k)?],
        None => Kind::ALL.to_vec(),
    };
    let mut inner = shared.lock();
    let mut added = Map::new();
    for k in kinds {
        let ids = seed::add_items(&mut inner.world, k, r.count, true);
        added.insert(k.path().to_owned(), json!(ids));
    }
    inner.rt.dirty = true;
    ok(json!({"added": added}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TouchFields {
    name: Option<String>,
    archived: Option<bool>,
    /// `true` sets `completedDate` to now, `false` clears it.
    completed: Option<bool>,
    due_date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TouchReq {
    #[serde(rename = "type")]
    kind: String,
    /// These items...
    ids: Option<Vec<i32>>,
    /// ...or the first `count` items by id.
    count: Option<usize>,
    /// Changes applied to each item; without them only `modifiedDate` moves.
    #[serde(default)]
    fields: TouchFields,
}

/// POST /_sandbox/touch `{type, ids | count, fields?}`: changes items as a Lytho
/// user would in the app; each gets a new, distinct `modifiedDate`.
pub async fn touch(State(shared): State<Arc<Shared>>, Json(r): Json<TouchReq>) -> ApiResult {
    let k = kind(&r.kind)?;
    let due = match &r.fields.due_date {
        Some(s) => Some(
            parse_date(s).ok_or_else(|| ApiError::bad_request(format!("Not a date-time: {s}")))?,
        ),
        None => None,
    };
    let mut inner = shared.lock();
    let w = &mut inner.world;
    let ids: Vec<i32> = match (&r.ids, r.count) {
        (Some(ids), _) => ids.clone(),
        (None, Some(n)) => w
            .items
            .get(&k)
            .map(|m| m.keys().take(n).copied().collect())
            .unwrap_or_default(),
        (None, None) => return Err(ApiError::bad_request("Give ids or count")),
    };
    if let Some(missing) = ids.iter().find(|id| w.item(k, **id).is_none()) {
        return Err(ApiError::not_found(format!(
            "{} {missing} was not found.",
            k.label()
        )));
    }
    let mut touched = Vec::with_capacity(ids.len());
    for id in ids {
        let at = w.tick();
        let Some(item) = w.item_mut(k, id) else {
            continue;
        };
        if let Some(name) = &r.fields.name {
            item.name.clone_from(name);
        }
        if let Some(a) = r.fields.archived {
            item.archived = a;
        }
        match r.fields.completed {
            Some(true) => item.completed_date = Some(at),
            Some(false) => item.completed_date = None,
            None => {}
        }
        if due.is_some() {
            item.due_date = due;
        }
        item.modified_date = at;
        touched.push(json!({"id": id, "modifiedDate": iso(at)}));
    }
    inner.rt.dirty = true;
    ok(json!({"touched": touched}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentReq {
    #[serde(rename = "type")]
    kind: String,
    id: i32,
    /// Plain text; stored as `<p>text</p>`.
    text: String,
    /// Author; the item's first user when absent.
    user_id: Option<i32>,
}

/// POST /_sandbox/comments `{type, id, text, user_id?}`: a user comments on an item.
/// The item's `modifiedDate` moves too (an assumption: see docs/LYTHO.md).
pub async fn comment(State(shared): State<Arc<Shared>>, Json(r): Json<CommentReq>) -> ApiResult {
    let k = kind(&r.kind)?;
    let mut inner = shared.lock();
    let w = &mut inner.world;
    let Some(item) = w.item(k, r.id) else {
        return Err(ApiError::not_found(format!(
            "{} {} was not found.",
            k.label(),
            r.id
        )));
    };
    let user_id = match r.user_id.or_else(|| item.user_ids.first().copied()) {
        Some(u) if w.users.contains_key(&u) => u,
        Some(u) => return Err(ApiError::bad_request(format!("Unknown user {u}"))),
        None => return Err(ApiError::bad_request("The item has no users; give user_id")),
    };
    let at = w.touch(k, r.id).unwrap_or(w.clock);
    let id = w.next_comment_id;
    w.next_comment_id += 1;
    w.comments.insert(
        id,
        Comment {
            id,
            kind: k,
            item_id: r.id,
            user_id,
            html: format!("<p>{}</p>", escape_html(&r.text)),
            created_date: at,
        },
    );
    inner.rt.dirty = true;
    ok(json!({"id": id, "userId": user_id, "createdDate": iso(at)}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigReq {
    rate_window_ms: Option<u64>,
    rate_max: Option<u32>,
    token_ttl_secs: Option<u64>,
    file_url_ttl_secs: Option<u64>,
}

/// POST /_sandbox/config: compress time (request window, token and URL lifetimes).
pub async fn config(State(shared): State<Arc<Shared>>, Json(r): Json<ConfigReq>) -> ApiResult {
    let mut inner = shared.lock();
    let rt = &mut inner.rt;
    if let Some(v) = r.rate_window_ms {
        rt.rate.window = Duration::from_millis(v.max(1));
    }
    if let Some(v) = r.rate_max {
        rt.rate.max_per_window = v;
    }
    if r.rate_window_ms.is_some() || r.rate_max.is_some() {
        rt.buckets.clear();
    }
    if let Some(v) = r.token_ttl_secs {
        rt.token_ttl = Duration::from_secs(v);
    }
    if let Some(v) = r.file_url_ttl_secs {
        rt.file_url_ttl = Duration::from_secs(v);
    }
    ok(json!({
        "rate_window_ms": rt.rate.window.as_millis(),
        "rate_max": rt.rate.max_per_window,
        "token_ttl_secs": rt.token_ttl.as_secs(),
        "file_url_ttl_secs": rt.file_url_ttl.as_secs(),
    }))
}

/// POST /_sandbox/faults: `error_rate` (500s, API and token endpoint), `latency_ms`,
/// `storm_429` (the next N API requests).
pub async fn set_faults(State(shared): State<Arc<Shared>>, Json(f): Json<Faults>) -> ApiResult {
    if !(0.0..=1.0).contains(&f.error_rate) {
        return Err(ApiError::bad_request("error_rate must be between 0 and 1"));
    }
    let mut inner = shared.lock();
    inner.rt.faults = f;
    ok(json!(inner.rt.faults))
}

/// DELETE /_sandbox/faults: back to a healthy service.
pub async fn clear_faults(State(shared): State<Arc<Shared>>) -> ApiResult {
    shared.lock().rt.faults = Faults::default();
    ok(json!(Faults::default()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeReq {
    token: String,
}

/// POST /_sandbox/tokens/revoke `{token}`.
pub async fn revoke(State(shared): State<Arc<Shared>>, Json(r): Json<RevokeReq>) -> ApiResult {
    let mut inner = shared.lock();
    let Some(g) = inner.world.tokens.get_mut(&r.token) else {
        return Err(ApiError::not_found("No such token"));
    };
    g.revoked = true;
    inner.rt.dirty = true;
    ok(json!({"revoked": 1}))
}

/// POST /_sandbox/tokens/revoke-all.
pub async fn revoke_all(State(shared): State<Arc<Shared>>) -> ApiResult {
    let mut inner = shared.lock();
    let mut n = 0;
    for g in inner.world.tokens.values_mut().filter(|g| !g.revoked) {
        g.revoked = true;
        n += 1;
    }
    inner.rt.dirty = true;
    ok(json!({"revoked": n}))
}

/// POST /_sandbox/tokens/expire-all: every access token expires now.
pub async fn expire_all(State(shared): State<Arc<Shared>>) -> ApiResult {
    let mut inner = shared.lock();
    let now = chrono::Utc::now();
    let mut n = 0;
    for g in inner.world.tokens.values_mut() {
        if g.expires_at > now {
            g.expires_at = now;
            n += 1;
        }
    }
    inner.rt.dirty = true;
    ok(json!({"expired": n}))
}

/// POST /_sandbox/client-secret/reset: Lytho's "Reset Client Secret": a new secret,
/// and every token issued so far stops working.
pub async fn reset_secret(State(shared): State<Arc<Shared>>) -> ApiResult {
    let mut inner = shared.lock();
    let mut rng = StdRng::from_rng(&mut rand::rng());
    let secret = seed::new_secret(&mut rng);
    inner.world.client_secret.clone_from(&secret);
    for g in inner.world.tokens.values_mut() {
        g.revoked = true;
    }
    inner.rt.dirty = true;
    ok(json!({"client_secret": secret}))
}

/// GET /_sandbox/counters.
pub async fn counters(State(shared): State<Arc<Shared>>) -> ApiResult {
    ok(json!(shared.lock().rt.counters))
}

/// DELETE /_sandbox/counters: starts counting afresh.
pub async fn reset_counters(State(shared): State<Arc<Shared>>) -> ApiResult {
    let mut inner = shared.lock();
    inner.rt.counters = Default::default();
    ok(json!(inner.rt.counters))
}
