//! Dead letters: the jobs that gave up, their last error, and replay (one, several,
//! a kind, or all). The page works as plain HTML forms; the API answers JSON.
//!
//! - `GET /dead-letters`, `GET /dead-letters/{id}` (viewer)
//! - `POST /dead-letters/replay` (admin; form fields `id` (repeated), `kind` or `all`)
//! - `GET /api/dead-letters`, `GET /api/dead-letters/{id}` (viewer)
//! - `POST /api/dead-letters/replay` (admin; JSON `{"ids": [..]}`, `{"kind": K}` or
//!   `{"all": true}`): `{"replayed": n}`

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use store::{Job, JobStatus, ReplayFilter};

use crate::AppState;
use crate::admin::{AdminCaller, AdminOnly, Caller, Role};
use crate::error::{ApiError, escape};
use crate::pages::{csrf_input, page};

/// Dead letters shown at most.
const LIMIT: i64 = 500;

/// A dead letter as the API and the page show it.
pub fn job_json(j: &Job) -> Value {
    json!({
        "id": j.id,
        "queue": j.queue,
        "kind": j.kind,
        "connection": j.connection_id,
        "attempts": j.attempts,
        "max_attempts": j.max_attempts,
        "last_error": j.last_error,
        "payload": j.payload,
    })
}

/// What to replay.
#[derive(Debug, Default, Deserialize)]
pub struct ReplayRequest {
    #[serde(default)]
    pub ids: Vec<i64>,
    pub kind: Option<String>,
    #[serde(default)]
    pub all: bool,
}

/// Puts dead letters back in the queue; how many.
async fn replay(state: &AppState, req: &ReplayRequest) -> Result<u64, ApiError> {
    let unavailable = |e| ApiError::unavailable("cannot replay the dead letters", e);
    if req.all {
        return state
            .store
            .replay(&ReplayFilter::All)
            .await
            .map_err(unavailable);
    }
    if let Some(kind) = req.kind.as_deref().filter(|k| !k.is_empty()) {
        return state
            .store
            .replay(&ReplayFilter::Kind(kind.to_owned()))
            .await
            .map_err(unavailable);
    }
    if req.ids.is_empty() {
        return Err(ApiError::bad_request(
            "name what to replay: ids, a kind, or all",
        ));
    }
    let mut n = 0;
    for id in &req.ids {
        n += state
            .store
            .replay(&ReplayFilter::One(*id))
            .await
            .map_err(unavailable)?;
    }
    Ok(n)
}

async fn dead(state: &AppState) -> Result<Vec<Job>, ApiError> {
    state
        .store
        .dead_letters(LIMIT)
        .await
        .map_err(|e| ApiError::unavailable("cannot read the dead letters", e))
}

async fn one(state: &AppState, id: i64) -> Result<Job, ApiError> {
    match state.store.job(id).await {
        Ok(Some(j)) if j.status == JobStatus::Dead => Ok(j),
        Ok(_) => Err(ApiError::not_found(format!(
            "job {id} is not a dead letter"
        ))),
        Err(e) => Err(ApiError::unavailable("cannot read the job", e)),
    }
}

/// GET /api/dead-letters
#[utoipa::path(
    get,
    path = "/api/dead-letters",
    tag = "dead-letters",
    summary = "Jobs that gave up, newest first",
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_list(
    State(state): State<AppState>,
    _c: AdminCaller,
) -> Result<Json<Value>, ApiError> {
    let jobs = dead(&state).await?;
    Ok(Json(
        json!({"dead_letters": jobs.iter().map(job_json).collect::<Vec<_>>()}),
    ))
}

/// GET /api/dead-letters/{id}
#[utoipa::path(
    get,
    path = "/api/dead-letters/{id}",
    tag = "dead-letters",
    summary = "One dead job with its payload",
    params(("id" = String, Path, description = "its id")),
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_one(
    State(state): State<AppState>,
    _c: AdminCaller,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(job_json(&one(&state, id).await?)))
}

/// POST /api/dead-letters/replay
#[utoipa::path(
    post,
    path = "/api/dead-letters/replay",
    tag = "dead-letters",
    summary = "Replay dead jobs: {ids}, {kind} or {all}",
    request_body(content = serde_json::Value, description = "{ids} | {kind} | {all: true}", content_type = "application/json"),
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token"), (status = 403, description = "a viewer, or no CSRF token with a session")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_replay(
    State(state): State<AppState>,
    AdminOnly(caller): AdminOnly,
    Json(req): Json<ReplayRequest>,
) -> Result<Json<Value>, ApiError> {
    let n = replay(&state, &req).await?;
    tracing::info!(by = %caller.name, replayed = n, "DeadLettersReplayed");
    Ok(Json(json!({"replayed": n})))
}

#[derive(Debug, Deserialize)]
pub struct Notice {
    replayed: Option<u64>,
}

fn replay_form(caller: &Caller, inner: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/dead-letters/replay\">{}{inner}</form>",
        csrf_input(caller)
    )
}

/// GET /dead-letters
pub async fn page_list(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    Query(n): Query<Notice>,
) -> Result<Html<String>, ApiError> {
    let jobs = dead(&state).await.map_err(ApiError::page)?;
    let admin = caller.role == Role::Admin;
    let notice = n
        .replayed
        .map(|n| {
            format!(
                "<p class=\"ok\" role=\"status\">Replayed {n} job(s): they are queued again.</p>"
            )
        })
        .unwrap_or_default();
    let body = if jobs.is_empty() {
        format!(
            "<h1>Dead letters</h1>{notice}<p>No dead letters: every job either ran or is still being retried.</p>"
        )
    } else {
        let rows: String = jobs
            .iter()
            .map(|j| {
                let pick = if admin {
                    format!(
                        "<td><input type=\"checkbox\" name=\"id\" value=\"{}\" aria-label=\"select job {}\"></td>",
                        j.id, j.id
                    )
                } else {
                    String::new()
                };
                format!(
                    "<tr>{pick}<td><a href=\"/dead-letters/{id}\">{id}</a></td><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"error\">{}</td></tr>",
                    escape(&j.kind),
                    escape(j.connection_id.as_deref().unwrap_or("-")),
                    j.attempts,
                    escape(j.last_error.as_deref().unwrap_or("")),
                    id = j.id,
                )
            })
            .collect();
        let head = if admin { "<th></th>" } else { "" };
        let table = format!(
            "<table><tr>{head}<th>job</th><th>kind</th><th>connection</th><th>attempts</th><th>last error</th></tr>{rows}</table>"
        );
        let content = if admin {
            replay_form(
                &caller,
                &format!(
                    "{table}<p><button type=\"submit\" name=\"selected\" value=\"1\">Replay selected</button> \
                     <button class=\"secondary\" type=\"submit\" name=\"all\" value=\"1\">Replay all {}</button></p>",
                    jobs.len()
                ),
            )
        } else {
            table
        };
        format!(
            "<h1>Dead letters</h1>{notice}<p class=\"muted\">Jobs that gave up, newest first. Fix the cause (the error says what), then replay: the job runs again from its first attempt.</p>{content}"
        )
    };
    Ok(page("Dead letters", Some(&caller), "/dead-letters", &body))
}

/// GET /dead-letters/{id}
pub async fn page_one(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    Path(id): Path<i64>,
) -> Result<Html<String>, ApiError> {
    let j = one(&state, id).await.map_err(ApiError::page)?;
    let payload = serde_json::to_string_pretty(&j.payload).unwrap_or_default();
    let replay = if caller.role == Role::Admin {
        replay_form(
            &caller,
            &format!(
                "<input type=\"hidden\" name=\"id\" value=\"{id}\"><button type=\"submit\">Replay job {id}</button>"
            ),
        )
    } else {
        String::new()
    };
    let body = format!(
        "<h1>Dead letter {id}</h1><div class=\"card\"><p><strong>{}</strong> on <code>{}</code>, {} of {} attempts</p>\
         <p class=\"error\">{}</p><h2>Payload</h2><pre>{}</pre>{replay}</div><p><a href=\"/dead-letters\">All dead letters</a></p>",
        escape(&j.kind),
        escape(j.connection_id.as_deref().unwrap_or("-")),
        j.attempts,
        j.max_attempts,
        escape(j.last_error.as_deref().unwrap_or("")),
        escape(&payload)
    );
    Ok(page(
        &format!("Dead letter {id}"),
        Some(&caller),
        "/dead-letters",
        &body,
    ))
}

/// POST /dead-letters/replay (a form: repeated `id`, or `all`, or `kind`).
pub async fn page_replay(
    State(state): State<AppState>,
    AdminOnly(caller): AdminOnly,
    body: Bytes,
) -> Response {
    let mut req = ReplayRequest::default();
    for (k, v) in url::form_urlencoded::parse(&body) {
        match &*k {
            "id" => {
                if let Ok(id) = v.parse() {
                    req.ids.push(id);
                }
            }
            "all" => req.all = v == "1",
            "kind" => req.kind = Some(v.into_owned()),
            _ => {}
        }
    }
    if req.ids.is_empty() && req.kind.is_none() && !req.all {
        return ApiError::bad_request("Select the dead letters to replay first.")
            .page()
            .into_response();
    }
    match replay(&state, &req).await {
        Ok(n) => {
            tracing::info!(by = %caller.name, replayed = n, "DeadLettersReplayed");
            Redirect::to(&format!("/dead-letters?replayed={n}")).into_response()
        }
        Err(e) => e.page().into_response(),
    }
}
