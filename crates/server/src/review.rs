//! Review: what waits for a person (ambiguous matches, conflicts under a `review`
//! rule, deletes held for a decision); approve or dismiss, one or many. Settling
//! carries the decision out (`engine::sync::review::settle`).
//!
//! - `GET /review` (viewer), `POST /review/settle` (admin; form: `id` repeated,
//!   `decision` = `approve` | `dismiss`, optional `choice`)
//! - `GET /api/reviews` (viewer), `POST /api/reviews/{id}/approve` (admin; JSON
//!   `{"choice": ...}` optional), `POST /api/reviews/{id}/dismiss` (admin)

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use bytes::Bytes;
use engine::sync::review::{Decision, ReviewError};
use serde::Deserialize;
use serde_json::{Value, json};
use store::Review;

use crate::AppState;
use crate::admin::{AdminCaller, AdminOnly, Caller, Role};
use crate::error::{ApiError, escape};
use crate::pages::{csrf_input, page};

fn review_error(e: ReviewError) -> ApiError {
    match e {
        ReviewError::Unknown(_) => ApiError::not_found(e.to_string()),
        ReviewError::Settled(..) => ApiError::with_status(StatusCode::CONFLICT, e.to_string()),
        ReviewError::Invalid { .. } => ApiError::bad_request(e.to_string()),
        ReviewError::Connector { .. } => {
            ApiError::with_status(StatusCode::BAD_GATEWAY, e.to_string())
        }
        ReviewError::Store(e) => ApiError::unavailable("cannot settle the review", e),
    }
}

async fn settle(state: &AppState, id: i64, decision: Decision) -> Result<String, ApiError> {
    engine::sync::review::settle(state.connectors()?, id, decision)
        .await
        .map_err(review_error)
}

async fn open(state: &AppState) -> Result<Vec<Review>, ApiError> {
    state
        .store
        .reviews("open")
        .await
        .map_err(|e| ApiError::unavailable("cannot read the reviews", e))
}

fn review_json(r: &Review) -> Value {
    json!({
        "id": r.id,
        "flow": r.flow,
        "kind": r.kind,
        "subject": r.subject,
        "detail": serde_json::from_str::<Value>(&r.detail).unwrap_or(Value::String(r.detail.clone())),
        "created_at": r.created_at,
    })
}

/// GET /api/reviews: the open ones, oldest first.
#[utoipa::path(
    get,
    path = "/api/reviews",
    tag = "review",
    summary = "The open reviews, oldest first",
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_list(
    State(state): State<AppState>,
    _c: AdminCaller,
) -> Result<Json<Value>, ApiError> {
    let list = open(&state).await?;
    Ok(Json(
        json!({"reviews": list.iter().map(review_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct ApproveBody {
    /// The candidate to link (`system:type:id`), or the side whose values win.
    pub choice: Option<String>,
}

/// POST /api/reviews/{id}/approve
#[utoipa::path(
    post,
    path = "/api/reviews/{id}/approve",
    tag = "review",
    summary = "Approve a review (optional {choice})",
    params(("id" = String, Path, description = "its id")),
    request_body(content = serde_json::Value, description = "{choice?}", content_type = "application/json"),
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token"), (status = 403, description = "a viewer, or no CSRF token with a session")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_approve(
    State(state): State<AppState>,
    AdminOnly(caller): AdminOnly,
    Path(id): Path<i64>,
    body: Option<Json<ApproveBody>>,
) -> Result<Json<Value>, ApiError> {
    let choice = body.and_then(|b| b.0.choice).filter(|c| !c.is_empty());
    let done = settle(&state, id, Decision::Approve(choice)).await?;
    tracing::info!(by = %caller.name, review = id, "ReviewApproved");
    Ok(Json(json!({"id": id, "status": "approved", "done": done})))
}

/// POST /api/reviews/{id}/dismiss
#[utoipa::path(
    post,
    path = "/api/reviews/{id}/dismiss",
    tag = "review",
    summary = "Dismiss a review",
    params(("id" = String, Path, description = "its id")),
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token"), (status = 403, description = "a viewer, or no CSRF token with a session")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_dismiss(
    State(state): State<AppState>,
    AdminOnly(caller): AdminOnly,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let done = settle(&state, id, Decision::Dismiss).await?;
    tracing::info!(by = %caller.name, review = id, "ReviewDismissed");
    Ok(Json(json!({"id": id, "status": "dismissed", "done": done})))
}

#[derive(Debug, Deserialize)]
pub struct Notice {
    settled: Option<usize>,
}

/// What the person decides about, in words, and the choice an approval takes.
fn describe(r: &Review) -> (String, String) {
    let detail: Value = serde_json::from_str(&r.detail).unwrap_or_default();
    match r.kind.as_str() {
        "match" => {
            let candidates: Vec<&str> = detail["candidates"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let what = format!(
                "<code>{}</code> matches {} record(s){}",
                escape(detail["record"].as_str().unwrap_or("")),
                candidates.len(),
                detail["why"]
                    .as_str()
                    .map(|w| format!(": {}", escape(w)))
                    .unwrap_or_default()
            );
            let choice = if candidates.len() > 1 {
                let options: String = candidates
                    .iter()
                    .map(|c| format!("<option value=\"{0}\">{0}</option>", escape(c)))
                    .collect();
                format!("<label>Link to <select name=\"choice\">{options}</select></label>")
            } else {
                String::new()
            };
            (what, choice)
        }
        "conflict" => {
            let fields: Vec<String> = detail["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| f.as_str().map_or_else(|| f.to_string(), str::to_owned))
                .collect();
            (
                format!("changed on both sides: {}", escape(&fields.join(", "))),
                "<label>Take <select name=\"choice\"><option value=\"left\">left</option><option value=\"right\">right</option></select></label>".to_owned(),
            )
        }
        _ => (
            format!(
                "a delete: {}",
                escape(&r.detail.chars().take(300).collect::<String>())
            ),
            String::new(),
        ),
    }
}

fn row(r: &Review, caller: &Caller) -> String {
    let (what, choice) = describe(r);
    let actions = if caller.role == Role::Admin {
        format!(
            "<form method=\"post\" action=\"/review/settle\">{}<input type=\"hidden\" name=\"id\" value=\"{id}\">{choice} \
             <button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button> \
             <button class=\"secondary\" type=\"submit\" name=\"decision\" value=\"dismiss\">Dismiss</button></form>",
            csrf_input(caller),
            id = r.id
        )
    } else {
        String::new()
    };
    format!(
        "<tr><td>#{}</td><td>{}</td><td>{}</td><td>{}</td><td>{what}</td><td>{actions}</td></tr>",
        r.id,
        escape(&r.flow),
        escape(&r.kind),
        escape(&r.subject)
    )
}

/// GET /review
pub async fn page_list(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    Query(n): Query<Notice>,
) -> Result<Html<String>, ApiError> {
    let list = open(&state).await.map_err(ApiError::page)?;
    let notice = n
        .settled
        .map(|n| format!("<p class=\"ok\" role=\"status\">Settled {n} review(s).</p>"))
        .unwrap_or_default();
    let body = if list.is_empty() {
        format!("<h1>Review</h1>{notice}<p>Nothing waits for a person.</p>")
    } else {
        let rows: String = list.iter().map(|r| row(r, &caller)).collect();
        let bulk = if caller.role == Role::Admin {
            let boxes: String = list
                .iter()
                .map(|r| {
                    format!(
                        "<label><input type=\"checkbox\" name=\"id\" value=\"{0}\"> #{0}</label> ",
                        r.id
                    )
                })
                .collect();
            format!(
                "<h2>Several at once</h2><form method=\"post\" action=\"/review/settle\">{}<p>{boxes}</p>\
                 <p><button type=\"submit\" name=\"decision\" value=\"approve\">Approve selected</button> \
                 <button class=\"secondary\" type=\"submit\" name=\"decision\" value=\"dismiss\">Dismiss selected</button></p>\
                 <p class=\"muted\">Approving several takes each one's default: a match links its only candidate; a conflict or a match with several candidates needs its own choice above.</p></form>",
                csrf_input(&caller)
            )
        } else {
            String::new()
        };
        format!(
            "<h1>Review</h1>{notice}<table><tr><th>review</th><th>flow</th><th>kind</th><th>who</th><th>what</th><th></th></tr>{rows}</table>{bulk}"
        )
    };
    Ok(page("Review", Some(&caller), "/review", &body))
}

/// POST /review/settle
pub async fn page_settle(
    State(state): State<AppState>,
    AdminOnly(caller): AdminOnly,
    body: Bytes,
) -> Response {
    let (mut ids, mut decision, mut choice) = (Vec::new(), None, None);
    for (k, v) in url::form_urlencoded::parse(&body) {
        match &*k {
            "id" => ids.extend(v.parse::<i64>().ok()),
            "decision" => decision = Some(v.into_owned()),
            "choice" => choice = Some(v.into_owned()).filter(|c| !c.is_empty()),
            _ => {}
        }
    }
    let decision = match decision.as_deref() {
        Some("approve") => Decision::Approve(choice),
        Some("dismiss") => Decision::Dismiss,
        _ => {
            return ApiError::bad_request("choose Approve or Dismiss")
                .page()
                .into_response();
        }
    };
    if ids.is_empty() {
        return ApiError::bad_request("Select the reviews to settle first.")
            .page()
            .into_response();
    }
    let mut failures = Vec::new();
    let mut settled = 0;
    for id in &ids {
        match settle(&state, *id, decision.clone()).await {
            Ok(_) => settled += 1,
            Err(e) => failures.push(format!("#{id}: {}", e.public_message())),
        }
    }
    tracing::info!(by = %caller.name, settled, failed = failures.len(), "ReviewsSettled");
    if failures.is_empty() {
        return Redirect::to(&format!("/review?settled={settled}")).into_response();
    }
    let items: String = failures
        .iter()
        .map(|f| format!("<li>{}</li>", escape(f)))
        .collect();
    (
        StatusCode::BAD_REQUEST,
        page(
            "Review",
            Some(&caller),
            "/review",
            &format!(
                "<h1>Review</h1><p>Settled {settled}; these could not be:</p><ul class=\"error\">{items}</ul><p><a href=\"/review\">Back to Review</a></p>"
            ),
        ),
    )
        .into_response()
}
