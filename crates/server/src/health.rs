//! Health: the queue's depth, the throughput and each location's rate-budget use
//! as charts over time (server-rendered SVG, from the samples the workers take once
//! a minute: `store::Sample`), and the connections needing attention.
//!
//! - `GET /health` (page; `?hours=1|6|24|168`), `GET /api/health?hours=`

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::Html;
use serde::Deserialize;
use serde_json::{Value, json};
use store::{Connection, ConnectionStatus};

use crate::AppState;
use crate::admin::AdminCaller;
use crate::error::{ApiError, escape};
use crate::pages::page;

const PALETTE: &[&str] = &[
    "#2457c5", "#b3261e", "#1e7d32", "#8a5a00", "#6a3fb5", "#00796b",
];
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 150.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 18.0;
const TOP: f64 = 22.0;

#[derive(Debug, Default, Deserialize)]
pub struct Window {
    pub hours: Option<i64>,
}

/// A chart's lines: (label, points as (minute, value)).
type Lines = Vec<(String, Vec<(i64, f64)>)>;

/// The sampled series over the window, made into what the charts show.
#[derive(Debug, Default)]
struct Charts {
    from: i64,
    to: i64,
    queue: Lines,
    throughput: Lines,
    /// Per budget key: its use in percent of the budget, per minute.
    budgets: Lines,
}

async fn charts(state: &AppState, hours: i64) -> Result<Charts, ApiError> {
    let to = state.store.now().div_euclid(60_000);
    let from = to - hours * 60;
    let samples = state
        .store
        .samples(from)
        .await
        .map_err(|e| ApiError::unavailable("cannot read the samples", e))?;
    let mut by: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for s in samples {
        by.entry(s.series).or_default().push((s.minute, s.value));
    }
    let mut c = Charts {
        from,
        to,
        ..Charts::default()
    };
    let floats = |points: &[(i64, i64)]| points.iter().map(|(m, v)| (*m, *v as f64)).collect();
    for (series, points) in &by {
        if let Some(queue) = series.strip_prefix("queue:") {
            c.queue.push((queue.to_owned(), floats(points)));
        } else if series == "done" || series == "dead" {
            c.throughput.push((series.clone(), floats(points)));
        } else if let Some(key) = series.strip_prefix("budget:") {
            // Send time reserved per minute over a minute: the budget's use.
            let used = points
                .windows(2)
                .filter(|w| w[1].0 > w[0].0)
                .map(|w| {
                    let span_ms = (w[1].0 - w[0].0) as f64 * 60_000.0;
                    (
                        w[1].0,
                        ((w[1].1 - w[0].1).max(0) as f64 / span_ms * 100.0).min(100.0),
                    )
                })
                .collect();
            c.budgets.push((key.to_owned(), used));
        }
    }
    Ok(c)
}

fn hhmm(minute: i64) -> String {
    jiff::Timestamp::from_second(minute * 60)
        .map(|t| t.strftime("%H:%M").to_string())
        .unwrap_or_default()
}

/// One chart as SVG: a polyline per line (broken where samples are missing), the
/// value axis from 0 to the highest value (or `max`), the window's start and end.
fn svg(title: &str, unit: &str, lines: &Lines, from: i64, to: i64, max: Option<f64>) -> String {
    if lines.iter().all(|(_, p)| p.is_empty()) {
        return format!(
            "<figure class=\"chart\"><figcaption>{}</figcaption><p class=\"muted\">No samples in this window yet: a worker takes one each minute.</p></figure>",
            escape(title)
        );
    }
    let top = max.unwrap_or_else(|| {
        lines
            .iter()
            .flat_map(|(_, p)| p.iter().map(|(_, v)| *v))
            .fold(1.0_f64, f64::max)
    });
    let span = (to - from).max(1) as f64;
    let x = |m: i64| LEFT + (m - from) as f64 / span * (WIDTH - LEFT - 8.0);
    let y = |v: f64| TOP + (1.0 - v / top) * (HEIGHT - TOP - BOTTOM);
    let mut out = format!(
        "<figure class=\"chart\"><figcaption>{t}</figcaption><svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{t}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <line x1=\"{LEFT}\" y1=\"{b}\" x2=\"{WIDTH}\" y2=\"{b}\" stroke=\"#d9dee7\"/>\
         <line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{b}\" stroke=\"#d9dee7\"/>\
         <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\" font-size=\"10\">{top_label}</text>\
         <text x=\"{lx}\" y=\"{b}\" text-anchor=\"end\" font-size=\"10\">0</text>\
         <text x=\"{LEFT}\" y=\"{HEIGHT}\" font-size=\"10\">{start}</text>\
         <text x=\"{WIDTH}\" y=\"{HEIGHT}\" text-anchor=\"end\" font-size=\"10\">{end}</text>",
        t = escape(title),
        b = HEIGHT - BOTTOM,
        lx = LEFT - 4.0,
        ty = TOP + 4.0,
        top_label = format_args!("{}{unit}", round(top)),
        start = hhmm(from),
        end = hhmm(to),
    );
    let mut legend_x = LEFT;
    for (i, (label, points)) in lines.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let mut runs: Vec<Vec<(i64, f64)>> = Vec::new();
        for p in points {
            match runs.last_mut() {
                Some(run) if run.last().is_some_and(|l| p.0 - l.0 <= 2) => run.push(*p),
                _ => runs.push(vec![*p]),
            }
        }
        for run in runs {
            if run.len() == 1 {
                let (m, v) = run[0];
                let _ = write!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2\" fill=\"{colour}\"/>",
                    x(m),
                    y(v)
                );
                continue;
            }
            let pts: Vec<String> = run
                .iter()
                .map(|(m, v)| format!("{:.1},{:.1}", x(*m), y(*v)))
                .collect();
            let _ = write!(
                out,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>",
                pts.join(" ")
            );
        }
        let last = points.last().map(|p| round(p.1)).unwrap_or_default();
        let _ = write!(
            out,
            "<rect x=\"{legend_x}\" y=\"4\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{}\" y=\"13\" font-size=\"11\">{} (now {last}{unit})</text>",
            legend_x + 14.0,
            escape(label)
        );
        legend_x += 14.0 + 7.0 * (label.len() as f64 + 12.0);
    }
    out.push_str("</svg></figure>");
    out
}

fn round(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

/// Connections whose jobs wait for a person: not active, or whose access token
/// has expired (a refresh failing keeps it so).
fn attention(list: &[Connection], now: i64) -> Vec<(&Connection, String)> {
    list.iter()
        .filter_map(|c| {
            let why = match c.status {
                ConnectionStatus::Active => match c.token_expires_at {
                    Some(at) if at < now => format!(
                        "its access token expired at {} UTC and has not been refreshed",
                        crate::runs::when(at)
                    ),
                    _ => return None,
                },
                other => format!(
                    "{}: {}",
                    other.as_str(),
                    c.status_reason.as_deref().unwrap_or("no reason recorded")
                ),
            };
            Some((c, why))
        })
        .collect()
}

fn hours_of(w: &Window) -> i64 {
    w.hours.unwrap_or(1).clamp(1, 168)
}

/// GET /api/health: the sampled series over the last `hours` (default 1) and the
/// connections needing attention.
#[utoipa::path(
    get,
    path = "/api/health",
    tag = "health",
    summary = "Sampled queue depth, throughput, budget use; connections needing attention",
    params(("hours" = Option<i64>, Query, description = "the window: 1 (default) to 168")),
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_health(
    State(state): State<AppState>,
    _c: AdminCaller,
    Query(w): Query<Window>,
) -> Result<Json<Value>, ApiError> {
    let c = charts(&state, hours_of(&w)).await?;
    let lines = |l: &Lines| -> Value {
        l.iter()
            .map(|(name, points)| (name.clone(), json!(points)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let list = state
        .store
        .connections()
        .await
        .map_err(|e| ApiError::unavailable("cannot read connections", e))?;
    let needs: Vec<Value> = attention(&list, state.store.now())
        .into_iter()
        .map(
            |(c, why)| json!({"id": c.id, "name": c.name, "system": c.system.as_str(), "why": why}),
        )
        .collect();
    Ok(Json(json!({
        "from_minute": c.from,
        "to_minute": c.to,
        "queue_depth": lines(&c.queue),
        "jobs_per_minute": lines(&c.throughput),
        "budget_use_percent": lines(&c.budgets),
        "attention": needs,
    })))
}

/// GET /health
pub async fn page_health(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    Query(w): Query<Window>,
) -> Result<Html<String>, ApiError> {
    let hours = hours_of(&w);
    let c = charts(&state, hours).await.map_err(ApiError::page)?;
    let list = state
        .store
        .connections()
        .await
        .map_err(|e| ApiError::unavailable("cannot read connections", e).page())?;
    let needs = attention(&list, state.store.now());
    let attention_html = if needs.is_empty() {
        "<p class=\"ok\">Every connection is active.</p>".to_owned()
    } else {
        let items: String = needs
            .iter()
            .map(|(c, why)| {
                format!(
                    "<li><strong>{}</strong> (<code>{}</code>): {}. Reconnect it on <a href=\"/\">Connections</a>; its jobs wait until then.</li>",
                    escape(&c.name),
                    escape(&c.id),
                    escape(why)
                )
            })
            .collect();
        format!("<ul class=\"error\">{items}</ul>")
    };
    let windows: String = [
        (1, "1 hour"),
        (6, "6 hours"),
        (24, "1 day"),
        (168, "7 days"),
    ]
    .iter()
    .map(|(h, label)| {
        if *h == hours {
            format!("<strong>{label}</strong>")
        } else {
            format!("<a href=\"/health?hours={h}\">{label}</a>")
        }
    })
    .collect::<Vec<_>>()
    .join(" · ");
    // Budget keys are `ghl:<location>`: name the location's connection.
    let budgets: Lines = c
        .budgets
        .iter()
        .map(|(key, points)| {
            let location = key.strip_prefix("ghl:").unwrap_or(key);
            let name = list
                .iter()
                .find(|c| c.location_id.as_deref() == Some(location))
                .map_or_else(|| key.clone(), |c| format!("{} ({location})", c.name));
            (name, points.clone())
        })
        .collect();
    let budget_charts = if budgets.is_empty() {
        "<p class=\"muted\">No GHL request has been sent through a rate budget yet.</p>".to_owned()
    } else {
        budgets
            .iter()
            .map(|line| {
                svg(
                    &format!("Rate budget use: {}", line.0),
                    "%",
                    &vec![line.clone()],
                    c.from,
                    c.to,
                    Some(100.0),
                )
            })
            .collect()
    };
    let body = format!(
        "<h1>Health</h1><p>Window: {windows}</p>\
         <h2>Connections needing attention</h2>{attention_html}\
         {}{}<h2>Rate budgets</h2><p class=\"muted\">The share of each GHL location's request budget (100 requests per 10 s unless its headers say otherwise) that sends took, per minute.</p>{budget_charts}",
        svg(
            "Queue depth (jobs queued or running)",
            "",
            &c.queue,
            c.from,
            c.to,
            None
        ),
        svg(
            "Throughput (jobs finished per minute)",
            "",
            &c.throughput,
            c.from,
            c.to,
            None
        ),
    );
    Ok(page("Health", Some(&caller), "/health", &body))
}
