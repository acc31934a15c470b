//! Runs: what each flow decided (counts per flow) and a searchable per-record
//! history across both sides ("what happened to ada@example.com"), each error
//! with the API's message and what to do about it.
//!
//! - `GET /runs` (page; `?q=` an email or `system:type:id`, `?flow=`)
//! - `GET /api/runs` (per-flow counts), `GET /api/history?q=&flow=&limit=`

use axum::Json;
use axum::extract::{Query, State};
use axum::response::Html;
use serde::Deserialize;
use serde_json::{Value, json};
use store::HistoryEntry;

use crate::AppState;
use crate::admin::AdminCaller;
use crate::error::{ApiError, escape};
use crate::pages::page;

/// The decisions counted per flow, as (decision, column heading).
const COUNTED: &[(&str, &str)] = &[
    ("create", "created"),
    ("update", "updated"),
    ("skip", "skipped"),
    ("conflict", "conflicts"),
    ("review", "in review"),
    ("echo", "echoes"),
    ("delete", "deletes"),
    ("failed", "failed"),
];

/// What to do about a failed write, from the API's status.
pub fn fix_for(status: i32) -> &'static str {
    match status {
        400 | 422 => {
            "the API refused the values: check this field's rule in Flows (a transform may make it acceptable), then replay the job from Dead letters"
        }
        401 => "the connection's credential was refused: reconnect it on Connections",
        403 => {
            "the connection lacks a scope or access to this record: reconnect it with the scope (Connections)"
        }
        404 => "the record is gone on that side: its link is dropped when the delete is seen",
        409 => "the other side already has such a record: see Review, or match it by hand",
        429 => "the API was rate limiting: the job waits and is sent again by itself",
        500..=599 => {
            "the API failed: the job is retried; after its last attempt it is in Dead letters, to replay"
        }
        _ => "see the message; the job's attempts are in Dead letters once exhausted",
    }
}

/// When, in UTC, to the second.
pub fn when(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "(blank)".to_owned(),
        Value::String(s) if s.is_empty() => "(blank)".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The field changes of an entry: `field: before → after`, one per line.
fn changes(entry: &HistoryEntry) -> String {
    let diffs: Value = serde_json::from_str(&entry.diffs).unwrap_or_default();
    diffs
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let field = d["field"].as_str().unwrap_or("?");
            if d.get("left").is_some() {
                format!(
                    "<div><code>{}</code>: left {} / right {}</div>",
                    escape(field),
                    escape(&show(&d["left"])),
                    escape(&show(&d["right"]))
                )
            } else {
                format!(
                    "<div><code>{}</code>: {} &rarr; {}</div>",
                    escape(field),
                    escape(&show(&d["before"])),
                    escape(&show(&d["after"]))
                )
            }
        })
        .collect()
}

/// A table of history entries (newest last), as Runs and the dry-run preview show them.
pub fn entries_table(entries: &[HistoryEntry]) -> String {
    let rows: String = entries
        .iter()
        .map(|h| {
            let api = match (h.api_status, &h.api_message) {
                (Some(status), message) => format!(
                    "<div class=\"error\">{status}: {}</div><div class=\"muted\">Fix: {}</div>",
                    escape(message.as_deref().unwrap_or("")),
                    fix_for(status)
                ),
                (None, Some(message)) => escape(message),
                (None, None) => String::new(),
            };
            format!(
                "<tr class=\"decision-{d}\"><td>{}</td><td>{}</td><td><strong>{d}</strong></td><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{api}</td></tr>",
                when(h.at),
                escape(&h.flow),
                escape(&h.source),
                if h.target.is_empty() || h.target == h.source {
                    String::new()
                } else {
                    format!(" &rarr; <code>{}</code>", escape(&h.target))
                },
                escape(&h.reason),
                changes(h),
                d = escape(&h.decision),
            )
        })
        .collect();
    format!(
        "<table class=\"history\"><tr><th>when (UTC)</th><th>flow</th><th>decision</th><th>record</th><th>why</th><th>changes</th><th>API</th></tr>{rows}</table>"
    )
}

pub fn entry_json(h: &HistoryEntry) -> Value {
    json!({
        "at": h.at,
        "flow": h.flow,
        "source": h.source,
        "target": h.target,
        "decision": h.decision,
        "reason": h.reason,
        "diffs": serde_json::from_str::<Value>(&h.diffs).unwrap_or(Value::Null),
        "api_status": h.api_status,
        "api_message": h.api_message,
        "fix": h.api_status.map(fix_for),
        "subject": h.subject,
    })
}

/// Per flow: its counts by decision and how many records it links.
async fn counts(state: &AppState) -> Result<Vec<(String, Vec<(String, i64)>, i64)>, ApiError> {
    let fail = |e| ApiError::unavailable("cannot read the history", e);
    let rows = state.store.decision_counts(0).await.map_err(fail)?;
    let mut flows: Vec<String> = state
        .store
        .flows()
        .await
        .map_err(fail)?
        .into_iter()
        .map(|f| f.id)
        .collect();
    for (flow, _, _) in &rows {
        if !flows.contains(flow) {
            flows.push(flow.clone());
        }
    }
    let mut out = Vec::new();
    for flow in flows {
        let by: Vec<(String, i64)> = rows
            .iter()
            .filter(|(f, _, _)| *f == flow)
            .map(|(_, d, n)| (d.clone(), *n))
            .collect();
        let linked = state.store.count_pairs(&flow).await.map_err(fail)?;
        out.push((flow, by, linked));
    }
    Ok(out)
}

/// GET /api/runs: per flow, its decisions counted and its links.
#[utoipa::path(
    get,
    path = "/api/runs",
    tag = "runs",
    summary = "Per flow: decisions counted and records linked",
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_runs(
    State(state): State<AppState>,
    _c: AdminCaller,
) -> Result<Json<Value>, ApiError> {
    let flows: Vec<Value> = counts(&state)
        .await?
        .into_iter()
        .map(|(flow, by, linked)| {
            let mut counts = serde_json::Map::new();
            for (d, _) in COUNTED {
                let n = by.iter().find(|(x, _)| x == d).map_or(0, |(_, n)| *n);
                counts.insert((*d).to_owned(), json!(n));
            }
            json!({"flow": flow, "linked": linked, "counts": counts})
        })
        .collect();
    Ok(Json(json!({"flows": flows})))
}

#[derive(Debug, Default, Deserialize)]
pub struct Search {
    /// An email or `system:type:id`.
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub flow: String,
    pub limit: Option<i64>,
}

async fn search(state: &AppState, s: &Search) -> Result<Vec<HistoryEntry>, ApiError> {
    let limit = s.limit.unwrap_or(200).clamp(1, 5000);
    let fail = |e| ApiError::unavailable("cannot read the history", e);
    let mut entries = if s.q.trim().is_empty() {
        state.store.runs(s.flow.trim(), limit).await.map_err(fail)?
    } else {
        let key = engine::sync::history_key(&s.q);
        state.store.history(&key, limit).await.map_err(fail)?
    };
    if !s.flow.trim().is_empty() {
        entries.retain(|h| h.flow == s.flow.trim());
    }
    Ok(entries)
}

/// GET /api/history: the entries about a person or record (`q`), or a flow's newest.
#[utoipa::path(
    get,
    path = "/api/history",
    tag = "runs",
    summary = "History of a person or record (q), or a flow's newest",
    params(("q" = Option<String>, Query, description = "an email or system:type:id"), ("flow" = Option<String>, Query, description = "a flow id"), ("limit" = Option<i64>, Query, description = "at most this many (200)")),
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_history(
    State(state): State<AppState>,
    _c: AdminCaller,
    Query(s): Query<Search>,
) -> Result<Json<Value>, ApiError> {
    let entries = search(&state, &s).await?;
    Ok(Json(
        json!({"entries": entries.iter().map(entry_json).collect::<Vec<_>>()}),
    ))
}

/// GET /runs
pub async fn page_runs(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    Query(s): Query<Search>,
) -> Result<Html<String>, ApiError> {
    let all = counts(&state).await.map_err(ApiError::page)?;
    let heads: String = COUNTED
        .iter()
        .map(|(_, h)| format!("<th>{h}</th>"))
        .collect();
    let rows: String = all
        .iter()
        .map(|(flow, by, linked)| {
            let cells: String = COUNTED
                .iter()
                .map(|(d, _)| {
                    let n = by.iter().find(|(x, _)| x == d).map_or(0, |(_, n)| *n);
                    format!("<td class=\"num\">{n}</td>")
                })
                .collect();
            format!(
                "<tr><td><a href=\"/runs?flow={f}\">{f}</a></td><td class=\"num\">{linked}</td>{cells}</tr>",
                f = escape(flow)
            )
        })
        .collect();
    let options: String = std::iter::once(("".to_owned(), "every flow".to_owned()))
        .chain(all.iter().map(|(f, _, _)| (f.clone(), f.clone())))
        .map(|(v, label)| {
            let sel = if v == s.flow { " selected" } else { "" };
            format!(
                "<option value=\"{}\"{sel}>{}</option>",
                escape(&v),
                escape(&label)
            )
        })
        .collect();
    let entries = search(&state, &s).await.map_err(ApiError::page)?;
    let heading = if !s.q.trim().is_empty() {
        format!("What happened to {}", escape(s.q.trim()))
    } else if !s.flow.is_empty() {
        format!("The newest decisions of {}", escape(&s.flow))
    } else {
        "The newest decisions".to_owned()
    };
    let results = if entries.is_empty() {
        if s.q.trim().is_empty() {
            "<p class=\"muted\">No history yet.</p>".to_owned()
        } else {
            format!(
                "<p class=\"muted\">No history for {}: search by email, or by a record as <code>system:type:id</code> (<code>lofty:lead:42</code>).</p>",
                escape(s.q.trim())
            )
        }
    } else {
        entries_table(&entries)
    };
    let body = format!(
        "<h1>Runs</h1><table><tr><th>flow</th><th>linked</th>{heads}</tr>{rows}</table>\
         <h2>History</h2><form method=\"get\" action=\"/runs\" class=\"search\">\
         <label for=\"q\">Email or record</label><input type=\"search\" id=\"q\" name=\"q\" value=\"{}\" placeholder=\"ada@example.com or lofty:lead:42\">\
         <label for=\"flow\">Flow</label><select id=\"flow\" name=\"flow\">{options}</select> <button type=\"submit\">Search</button></form>\
         <h2>{heading}</h2>{results}",
        escape(&s.q)
    );
    Ok(page("Runs", Some(&caller), "/runs", &body))
}
