//! Webhook subscriptions (`POST /v1.0/webhook`, `GET /v1.0/webhooks`,
//! `DELETE /v1.0/webhook/{subscribeId}`) and webhooks out.
//!
//! Lofty's webhooks are thin: a POST of `{listId, teamId, <bucket>: [...]}` where each
//! bucket (`createdLead`, `updatedLead`, `deletedLead`, `createdNote`, ...) lists the
//! ids that changed with an `updateTime` in epoch milliseconds; the receiver re-fetches
//! the records. Nothing is signed. Changes are **batched** per subscription: the first
//! change opens a batch window (`webhook_batch_ms`, 1 s by default, Lofty takes up to
//! a minute); every change of the same list within the window joins the same delivery
//! (one entry per id and bucket, the latest `updateTime` kept). A batch that reaches the
//! subscription's `limit` is sent at once, and never carries more than `limit` entries.
//!
//! Recipients follow Lofty's rules: with `permissionMode` 0 a subscriber gets the
//! leads assigned to them, or every lead if they are the owner or an admin; with 1
//! also the leads in their ownership scope (team, office or personal). Hidden leads go
//! to the assigned agent only. Deliveries are not retried (Lofty documents no retry
//! policy); each one is recorded in the log `/_sandbox/webhooks/deliveries` shows.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::App;
use super::http::{ApiError, ApiResult, Body, URL_FORMAT, empty, ok, path_id};
use super::state::{Caller, Inner, Lead, PendingBatch, Subscription, World, now_ms};

/// How many delivery records the log keeps.
const LOG_CAP: usize = 10_000;
/// Subscriptions a team may hold before `WEBHOOK_EXCEED_LIMIT`.
pub const MAX_SUBSCRIPTIONS: usize = 100;
/// Largest `limit` (events per delivery).
const MAX_LIMIT: i64 = 5000;

/// One delivery as recorded for `/_sandbox/webhooks/deliveries`.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub subscribe_id: i64,
    pub list_id: i64,
    pub url: String,
    /// Entries across all buckets.
    pub events: usize,
    /// HTTP status of the receiver, or 0 when it could not be reached.
    pub status: u16,
    /// Epoch milliseconds of the attempt.
    pub sent_at: i64,
    /// The exact JSON body sent.
    pub payload: Value,
}

/// Shared log of deliveries.
pub type DeliveryLog = Arc<Mutex<VecDeque<Delivery>>>;

/// Whether `sub`'s owner receives changes of `lead` (see the module docs).
fn receives(world: &World, sub: &Subscription, lead: &Lead) -> bool {
    let owner = sub.owner_user_id;
    let Some(member) = world.member_by_user(owner) else {
        return false;
    };
    let assigned = lead.assigned_user_id == owner;
    if lead.hidden {
        return assigned;
    }
    if assigned || member.is_admin {
        return true;
    }
    sub.permission_mode == 1
        && match lead.ownership_scope.as_str() {
            "TEAM" => true,
            "PERSONAL" => lead.ownership_id == owner,
            "OFFICE" => lead.ownership_id == member.group_id,
            _ => false,
        }
}

/// Queues one change for every subscription of `list_id` whose owner receives `lead`.
///
/// `entry` is the bucket element (`{leadId, updateTime}`, `{noteId, leadId, updateTime}`,
/// ...); `key` names its id field, used to keep one entry per id and bucket.
pub fn emit(inner: &mut Inner, list_id: i64, bucket: &str, key: &str, entry: Value, lead: &Lead) {
    let now = u64::try_from(now_ms()).unwrap_or_default();
    let targets: Vec<i64> = inner
        .world
        .subscriptions
        .values()
        .filter(|s| s.list_id == list_id && receives(&inner.world, s, lead))
        .map(|s| s.subscribe_id)
        .collect();
    for id in targets {
        let batch = inner.rt.pending.entry(id).or_insert_with(|| PendingBatch {
            first_ms: now,
            buckets: Default::default(),
        });
        let items = batch.buckets.entry(bucket.to_owned()).or_default();
        match items.iter_mut().find(|e| e.get(key) == entry.get(key)) {
            Some(existing) => *existing = entry.clone(),
            None => items.push(entry.clone()),
        }
    }
}

/// The lead-change helper: `{leadId, updateTime}` into list 2.
pub fn emit_lead(inner: &mut Inner, bucket: &str, lead: &Lead) {
    let entry = json!({"leadId": lead.lead_id, "updateTime": lead.updated_ms});
    emit(
        inner,
        super::state::LIST_LEAD,
        bucket,
        "leadId",
        entry,
        lead,
    );
}

/// Takes the batches that are due, split into deliveries of at most `limit` entries.
///
/// A batch whose window has closed (or every batch, with `all`) goes out whole. A batch
/// that is only due because it reached `limit` sends its full chunks and keeps the rest
/// waiting for the window. Returns the deliveries and when the next batch falls due.
fn take_due(inner: &mut Inner, all: bool) -> (Vec<(Subscription, Value)>, Option<u64>) {
    let now = u64::try_from(now_ms()).unwrap_or_default();
    let window = inner.rt.webhook_batch_ms;
    let team_id = inner.world.team_id;
    let mut out = Vec::new();
    let mut next_due: Option<u64> = None;
    let ids: Vec<i64> = inner.rt.pending.keys().copied().collect();
    for id in ids {
        let Some(sub) = inner.world.subscriptions.get(&id).cloned() else {
            inner.rt.pending.remove(&id);
            continue;
        };
        let limit = usize::try_from(sub.limit.max(1)).unwrap_or(1);
        let Some(batch) = inner.rt.pending.remove(&id) else {
            continue;
        };
        let due_at = batch.first_ms + window;
        let closed = all || now >= due_at;
        let len = batch.len();
        if !closed && len < limit {
            next_due = Some(next_due.map_or(due_at, |d| d.min(due_at)));
            inner.rt.pending.insert(id, batch);
            continue;
        }
        let send = if closed { len } else { len - len % limit };
        let first_ms = batch.first_ms;
        let items: Vec<(String, Value)> = batch
            .buckets
            .into_iter()
            .flat_map(|(bucket, items)| items.into_iter().map(move |i| (bucket.clone(), i)))
            .collect();
        let (now_items, later) = items.split_at(send.min(items.len()));
        for chunk in now_items.chunks(limit) {
            let mut body = Map::new();
            body.insert("listId".into(), json!(sub.list_id));
            body.insert("teamId".into(), json!(team_id));
            for (bucket, item) in chunk {
                if let Some(list) = body
                    .entry(bucket.clone())
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                {
                    list.push(item.clone());
                }
            }
            out.push((sub.clone(), Value::Object(body)));
        }
        if !later.is_empty() {
            let mut rest = PendingBatch {
                first_ms,
                buckets: Default::default(),
            };
            for (bucket, item) in later {
                rest.buckets
                    .entry(bucket.clone())
                    .or_default()
                    .push(item.clone());
            }
            next_due = Some(next_due.map_or(due_at, |d| d.min(due_at)));
            inner.rt.pending.insert(id, rest);
        }
    }
    (out, next_due)
}

fn push(log: &DeliveryLog, record: Delivery) {
    let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
    if log.len() >= LOG_CAP {
        log.pop_front();
    }
    log.push_back(record);
}

/// Posts one batch and records it.
async fn deliver(http: reqwest::Client, log: DeliveryLog, sub: Subscription, payload: Value) {
    let events = payload
        .as_object()
        .map(|m| m.values().filter_map(Value::as_array).map(Vec::len).sum())
        .unwrap_or(0);
    let sent_at = now_ms();
    let result = http
        .post(&sub.callback_url)
        .header("content-type", "application/json")
        .body(payload.to_string())
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    let status = match result {
        Ok(resp) => resp.status().as_u16(),
        Err(e) => {
            tracing::warn!(url = %sub.callback_url, error = %e, "lofty webhook delivery failed");
            0
        }
    };
    push(
        &log,
        Delivery {
            subscribe_id: sub.subscribe_id,
            list_id: sub.list_id,
            url: sub.callback_url,
            events,
            status,
            sent_at,
            payload,
        },
    );
}

/// Delivers every pending batch now and waits for the answers; returns how many
/// deliveries were made.
pub async fn flush(app: &App) -> usize {
    let (due, _) = take_due(&mut app.shared.lock(), true);
    let n = due.len();
    for (sub, payload) in due {
        deliver(app.http.clone(), app.log.clone(), sub, payload).await;
    }
    n
}

/// Runs until shutdown: sends each batch when its window closes or it is full.
pub async fn dispatch(app: App, mut shutdown: watch::Receiver<bool>) {
    loop {
        let (due, next) = take_due(&mut app.shared.lock(), false);
        for (sub, payload) in due {
            tokio::spawn(deliver(app.http.clone(), app.log.clone(), sub, payload));
        }
        let now = u64::try_from(now_ms()).unwrap_or_default();
        let wait = next.map_or(Duration::from_secs(3600), |d| {
            Duration::from_millis(d.saturating_sub(now).max(1))
        });
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = app.shared.wake.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Whether Lofty would accept this callback URL: HTTPS, or plain HTTP to a loopback
/// host (the sandbox's concession to local receivers).
fn callback_ok(raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else {
        return false;
    };
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => matches!(
            url.host_str(),
            Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
        ),
        _ => false,
    }
}

fn int_field(body: &Value, key: &str) -> Result<Option<i64>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::invalid(format!("{key} must be an integer"))),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ApiError::invalid(format!("{key} must be an integer"))),
        Some(_) => Err(ApiError::invalid(format!("{key} must be an integer"))),
    }
}

/// POST /v1.0/webhook: subscribes to one event list.
pub async fn create(State(app): State<App>, caller: Caller, Body(body): Body) -> ApiResult {
    let callback = match body.get("callbackUrl") {
        Some(Value::String(s)) => s.trim().to_owned(),
        None | Some(Value::Null) if body.get("url").is_some() => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                URL_FORMAT,
                "Please enter url in right format",
            ));
        }
        _ => return Err(ApiError::invalid("callbackUrl is required")),
    };
    let list_id =
        int_field(&body, "listId")?.ok_or_else(|| ApiError::invalid("listId is required"))?;
    if !(1..=12).contains(&list_id) {
        return Err(ApiError::bad(
            "WEBHOOK_TYPE_ERROR",
            format!("Unsupported webhook type: {list_id}"),
        ));
    }
    if !callback_ok(&callback) {
        return Err(ApiError::bad(
            "WEBHOOK_CALLBACK_URL_INVALID",
            "The callback url is invalid; it must be an https url.",
        ));
    }
    let limit = int_field(&body, "limit")?.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let permission_mode = int_field(&body, "permissionMode")?.unwrap_or(0);
    if !(0..=1).contains(&permission_mode) {
        return Err(ApiError::invalid("permissionMode must be 0 or 1"));
    }
    let mut inner = app.shared.lock();
    if inner.world.subscriptions.len() >= MAX_SUBSCRIPTIONS {
        return Err(ApiError::bad(
            "WEBHOOK_EXCEED_LIMIT",
            "The number of webhook subscriptions exceeds the limit.",
        ));
    }
    let Inner { world, rt } = &mut *inner;
    let subscribe_id = world.next_id(&mut rt.rng);
    let sub = Subscription {
        subscribe_id,
        list_id,
        callback_url: callback,
        limit,
        permission_mode,
        vendor_id: caller.vendor_id,
        owner_user_id: caller.member_user_id,
    };
    let out = sub.to_json(world.team_id);
    world.subscriptions.insert(subscribe_id, sub);
    rt.dirty = true;
    ok(out)
}

/// GET /v1.0/webhooks: the team's subscriptions (a bare array).
pub async fn list(State(app): State<App>, _caller: Caller) -> ApiResult {
    let inner = app.shared.lock();
    let team = inner.world.team_id;
    ok(Value::Array(
        inner
            .world
            .subscriptions
            .values()
            .map(|s| s.to_json(team))
            .collect(),
    ))
}

/// DELETE /v1.0/webhook/{subscribeId}: empty body.
pub async fn delete(State(app): State<App>, caller: Caller, Path(raw): Path<String>) -> ApiResult {
    let id = path_id(&raw, "subscribeId")?;
    let mut inner = app.shared.lock();
    let Some(sub) = inner.world.subscriptions.get(&id) else {
        return Err(ApiError::bad(
            "WEBHOOK_DELETE_NOT_EXIST",
            "The webhook subscription does not exist.",
        ));
    };
    if sub.owner_user_id != caller.member_user_id && !caller.is_admin {
        return Err(ApiError::bad(
            "WEBHOOK_DELETE_NO_AUTHORITY",
            "You have no authority to delete this webhook subscription.",
        ));
    }
    inner.world.subscriptions.shift_remove(&id);
    inner.rt.pending.remove(&id);
    inner.rt.dirty = true;
    empty()
}
