//! Flows: the recipes and the user's flows, switched on and off, and the mapping
//! editor: each field rule's two fields (the object types' fields and the
//! accounts' custom fields offered), direction, conflict rule and transforms, the
//! filters and defaults. It writes the same sync file the CLI takes
//! (`domain::sync::edit`), and shows a dry run's per-record diffs before anything
//! is enabled (`engine::sync::preview`). Each recipe shows its limits.
//!
//! Pages: `GET /flows`, `GET /flows/{id}` (`?left=&right=` connections for a recipe),
//! `POST /flows/{id}` (the editor's form: `action` = `preview` | `save` | `enable`),
//! `POST /flows/{id}/switch` (`do` = `open` | `enable` | `disable` | `backfill`).
//! API: `GET /api/flows`, `GET|PUT /api/flows/{id}`, `POST /api/flows/{id}/enable`,
//! `/disable`, `/preview`, `/backfill`.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use bytes::Bytes;
use domain::sync::edit::{FieldEdit, MappingEdit, apply, mapping_of};
use domain::sync::{
    AccountField, ConflictRule, Direction, FieldKind, ObjectType, Registry, Side, SyncFile, recipes,
};
use serde::Deserialize;
use serde_json::{Value, json};
use store::{Connection, FlowRow};

use crate::AppState;
use crate::admin::{AdminCaller, AdminOnly, Caller, Role};
use crate::error::{ApiError, escape};
use crate::pages::{csrf_input, page};

/// Empty rows the editor offers for new rules.
const NEW_ROWS: usize = 3;

const DIRECTIONS: &[(Direction, &str)] = &[
    (Direction::Both, "both ways"),
    (Direction::ToRight, "left to right only"),
    (Direction::ToLeft, "right to left only"),
    (Direction::None, "not synced"),
];

const CONFLICTS: &[(ConflictRule, &str)] = &[
    (ConflictRule::Newest, "the newest change wins"),
    (ConflictRule::Left, "left wins"),
    (ConflictRule::Right, "right wins"),
    (ConflictRule::LeftUnlessBlank, "left wins unless blank"),
    (ConflictRule::RightUnlessBlank, "right wins unless blank"),
    (ConflictRule::Review, "a person decides (Review)"),
];

fn snake<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn store_err(e: store::StoreError) -> ApiError {
    ApiError::unavailable("cannot read the flows", e)
}

fn enable_err(e: engine::sync::EnableError) -> ApiError {
    use engine::sync::EnableError as E;
    match e {
        E::NoConnection(_) => ApiError::not_found(e.to_string()),
        E::Store(e) => store_err(e),
        E::CustomFields { .. } | E::Account { .. } => {
            ApiError::with_status(StatusCode::BAD_GATEWAY, e.to_string())
        }
        other => ApiError::with_status(StatusCode::UNPROCESSABLE_ENTITY, other.to_string()),
    }
}

fn preview_err(e: engine::sync::preview::PreviewError) -> ApiError {
    use engine::sync::preview::PreviewError as P;
    match e {
        P::Enable(e) => enable_err(e),
        P::NoFlow(_) => ApiError::not_found(e.to_string()),
        P::Store(e) => store_err(e),
        P::File(_) => ApiError::with_status(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        other => ApiError::with_status(StatusCode::BAD_GATEWAY, other.to_string()),
    }
}

/// A sync flow or recipe as the editor works on it.
struct Draft {
    id: String,
    /// The stored file, or the recipe's.
    text: String,
    stored: Option<FlowRow>,
}

async fn draft(state: &AppState, id: &str) -> Result<Draft, ApiError> {
    if let Some(row) = state.store.flow(id).await.map_err(store_err)? {
        return Ok(Draft {
            id: id.to_owned(),
            text: row.file.clone(),
            stored: Some(row),
        });
    }
    match recipes::source(id) {
        Some(text) => Ok(Draft {
            id: id.to_owned(),
            text: text.to_owned(),
            stored: None,
        }),
        None => Err(ApiError::not_found(format!(
            "no sync flow or recipe `{id}` (see /flows)"
        ))),
    }
}

fn parse(text: &str) -> Result<SyncFile, ApiError> {
    SyncFile::parse("flow.toml", text)
        .map_err(|e| ApiError::with_status(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
}

fn object(name: &str) -> Option<ObjectType> {
    Registry::default().get(name).cloned()
}

/// The fields the editor offers for one side: the type's own (lists by their first
/// item) and the account's custom fields, as (path, label).
fn field_options(object: Option<&ObjectType>, custom: &[AccountField]) -> Vec<(String, String)> {
    let Some(object) = object else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = object
        .fields
        .iter()
        .filter(|f| f.writable && f.kind != FieldKind::Objects)
        .map(|f| {
            if f.kind == FieldKind::List {
                (format!("{}[0]", f.name), format!("{} (the first)", f.name))
            } else {
                (f.name.to_owned(), f.name.to_owned())
            }
        })
        .collect();
    if let Some(shape) = &object.custom {
        out.extend(
            custom
                .iter()
                .map(|c| (shape.path(&c.select), format!("custom field {}", c.key))),
        );
    }
    out
}

fn connections_of<'a>(all: &'a [Connection], object: &str) -> Vec<&'a Connection> {
    let system = object.split('.').next().unwrap_or_default();
    all.iter().filter(|c| c.system.as_str() == system).collect()
}

fn select_connection(name: &str, list: &[&Connection], chosen: &str, disabled: bool) -> String {
    if list.is_empty() {
        return format!(
            "<span class=\"error\">no connection of this system yet: connect one on <a href=\"/\">Connections</a></span><input type=\"hidden\" name=\"{name}\" value=\"\">"
        );
    }
    let options: String = list
        .iter()
        .map(|c| {
            let sel = if c.id == chosen { " selected" } else { "" };
            format!(
                "<option value=\"{}\"{sel}>{} ({})</option>",
                escape(&c.id),
                escape(&c.name),
                c.status.as_str()
            )
        })
        .collect();
    let dis = if disabled { " disabled" } else { "" };
    format!("<select name=\"{name}\" id=\"{name}\"{dis}>{options}</select>")
}

fn limits_html(id: &str) -> String {
    let limits = recipes::limits(id);
    if limits.is_empty() {
        return String::new();
    }
    let items: String = limits
        .iter()
        .map(|l| format!("<li>{}</li>", escape(l)))
        .collect();
    format!("<div class=\"limits\"><strong>Limits</strong><ul>{items}</ul></div>")
}

fn option_list<T: serde::Serialize + PartialEq>(
    items: &[(T, &str)],
    chosen: Option<&T>,
    inherit: Option<&str>,
) -> String {
    let mut out = String::new();
    if let Some(label) = inherit {
        let sel = if chosen.is_none() { " selected" } else { "" };
        let _ = write!(out, "<option value=\"\"{sel}>{}</option>", escape(label));
    }
    for (v, label) in items {
        let sel = if chosen == Some(v) { " selected" } else { "" };
        let _ = write!(out, "<option value=\"{}\"{sel}>{label}</option>", snake(v));
    }
    out
}

/// The custom fields of a side: the stored file's `[accounts]`, else read from the
/// chosen connection (a recipe not enabled yet). A read that fails is a note.
async fn custom_fields(
    state: &AppState,
    file: &SyncFile,
    side: Side,
    connection: &str,
) -> (Vec<AccountField>, Option<String>) {
    if let Some(accounts) = &file.accounts {
        return (
            match side {
                Side::Left => accounts.left.clone(),
                Side::Right => accounts.right.clone(),
            },
            None,
        );
    }
    let (Ok(connectors), false) = (state.connectors(), connection.is_empty()) else {
        return (Vec::new(), None);
    };
    match engine::sync::account_fields(connectors, connection, false).await {
        Ok(Some(fields)) => (fields, None),
        Ok(None) => (
            Vec::new(),
            Some(format!(
                "connection {connection} cannot read its custom fields (scope locations/customFields.readonly)"
            )),
        ),
        Err(e) => (Vec::new(), Some(e.to_string())),
    }
}

/// The editor form for `text` (the rows' `from` refer to its `[[field]]`s).
async fn editor(
    state: &AppState,
    caller: &Caller,
    d: &Draft,
    text: &str,
    left: &str,
    right: &str,
) -> Result<String, ApiError> {
    let file = parse(text)?;
    let mapping = mapping_of(&file);
    let all = state.store.connections().await.map_err(store_err)?;
    let admin = caller.role == Role::Admin;
    let dis = if admin { "" } else { " disabled" };
    let (lo, ro) = (object(&file.sync.left), object(&file.sync.right));
    let (lc, lnote) = custom_fields(state, &file, Side::Left, left).await;
    let (rc, rnote) = custom_fields(state, &file, Side::Right, right).await;
    let datalist = |id: &str, options: &[(String, String)]| {
        let items: String = options
            .iter()
            .map(|(v, l)| format!("<option value=\"{}\">{}</option>", escape(v), escape(l)))
            .collect();
        format!("<datalist id=\"{id}\">{items}</datalist>")
    };
    let mut rows = String::new();
    let blank = FieldEdit::default();
    let new_rows = std::iter::repeat_n(&blank, NEW_ROWS);
    for (i, f) in mapping.fields.iter().chain(new_rows).enumerate() {
        let from = f.from.map(|n| n.to_string()).unwrap_or_default();
        let _ = write!(
            rows,
            "<tr><td><input type=\"hidden\" name=\"f{i}.from\" value=\"{from}\">\
             <input type=\"text\" name=\"f{i}.left\" value=\"{}\" list=\"left-fields\" aria-label=\"left field {n}\"{dis}></td>\
             <td><input type=\"text\" name=\"f{i}.right\" value=\"{}\" list=\"right-fields\" aria-label=\"right field {n}\"{dis}></td>\
             <td><select name=\"f{i}.direction\" aria-label=\"direction {n}\"{dis}>{}</select></td>\
             <td><select name=\"f{i}.conflict\" aria-label=\"conflict rule {n}\"{dis}>{}</select></td>\
             <td><input type=\"text\" name=\"f{i}.transforms\" value=\"{}\" aria-label=\"transforms {n}\"{dis}></td>\
             <td>{}</td></tr>",
            escape(&f.left),
            escape(&f.right),
            option_list(DIRECTIONS, f.direction.as_ref(), Some("(default)")),
            option_list(CONFLICTS, f.conflict.as_ref(), Some("(default)")),
            escape(&f.transforms),
            if f.from.is_some() {
                format!(
                    "<label class=\"inline\"><input type=\"checkbox\" name=\"f{i}.remove\" value=\"1\"{dis}> remove</label>"
                )
            } else {
                "<span class=\"muted\">new</span>".to_owned()
            },
            n = i + 1,
        );
    }
    let notes: String = [lnote, rnote]
        .into_iter()
        .flatten()
        .map(|n| format!("<p class=\"muted\">Custom fields: {}</p>", escape(&n)))
        .collect();
    let stored_enabled = d.stored.as_ref().is_some_and(|r| r.enabled);
    let buttons = if admin {
        format!(
            "<p><button type=\"submit\" name=\"action\" value=\"preview\">Preview (dry run)</button> \
             <label class=\"inline\"><input type=\"checkbox\" name=\"again\" value=\"1\"> read both sides again</label> \
             <button class=\"secondary\" type=\"submit\" name=\"action\" value=\"save\">Save</button>{}</p>",
            if stored_enabled {
                String::new()
            } else {
                " <button type=\"submit\" name=\"action\" value=\"enable\">Save and enable</button>"
                    .to_owned()
            }
        )
    } else {
        "<p class=\"muted\">Viewers see the mapping; an admin changes it.</p>".to_owned()
    };
    let system = |o: &str| o.split('.').next().unwrap_or(o).to_uppercase();
    Ok(format!(
        "<form method=\"post\" action=\"/flows/{id}\" class=\"editor\">{csrf}\
         <input type=\"hidden\" name=\"base\" value=\"{base}\">\
         <div class=\"sides\"><div><label for=\"left\">Left: {lobj}</label>{lsel}</div>\
         <div><label for=\"right\">Right: {robj}</label>{rsel}</div></div>\
         <h2>Field rules</h2>\
         <table class=\"mapping\"><tr><th>left ({lsys})</th><th>right ({rsys})</th><th>direction</th><th>conflict</th><th>transforms</th><th></th></tr>{rows}</table>\
         {ldl}{rdl}{notes}\
         <p class=\"muted\">Transforms, in order, left to right: names separated by commas (<code>trim, lower</code>) or calls (<code>{{ fn = \"truncate\", max = 80 }}</code>). \
         Available: trim, lower, upper, title_case, collapse_spaces, strip_html, html_to_text, text_to_html, truncate, default, coalesce, concat, split, join, split_name, phone_e164, phone_national, email_normalise, parse_date, format_date, to_timezone, to_number, to_text, to_bool, lookup, regex_replace, regex_extract, set_add, set_remove, set_union, expr. docs/SYNC.md describes each.</p>\
         <h2>Filters</h2><p class=\"muted\">A condition on <code>record</code> that a side's records must meet to be synced, e.g. <code>'vip' in (record.tags or [])</code>; empty: all.</p>\
         <label for=\"filter_left\">Left records</label><input type=\"text\" id=\"filter_left\" name=\"filter_left\" value=\"{fl}\"{dis}>\
         <label for=\"filter_right\">Right records</label><input type=\"text\" id=\"filter_right\" name=\"filter_right\" value=\"{fr}\"{dis}>\
         <h2>Defaults</h2><div class=\"sides\"><div><label for=\"direction\">Direction</label><select id=\"direction\" name=\"direction\"{dis}>{ddir}</select></div>\
         <div><label for=\"conflict\">When both sides changed</label><select id=\"conflict\" name=\"conflict\"{dis}>{dconf}</select></div></div>\
         {buttons}</form>\
         <details><summary>The sync file</summary><pre>{file}</pre></details>",
        id = escape(&d.id),
        csrf = csrf_input(caller),
        base = escape(text),
        lobj = escape(&file.sync.left),
        robj = escape(&file.sync.right),
        lsys = system(&file.sync.left),
        rsys = system(&file.sync.right),
        lsel = select_connection(
            "left",
            &connections_of(&all, &file.sync.left),
            left,
            !admin || d.stored.is_some()
        ),
        rsel = select_connection(
            "right",
            &connections_of(&all, &file.sync.right),
            right,
            !admin || d.stored.is_some()
        ),
        ldl = datalist("left-fields", &field_options(lo.as_ref(), &lc)),
        rdl = datalist("right-fields", &field_options(ro.as_ref(), &rc)),
        fl = escape(&mapping.filter_left),
        fr = escape(&mapping.filter_right),
        ddir = option_list(DIRECTIONS, Some(&mapping.direction), None),
        dconf = option_list(CONFLICTS, Some(&mapping.conflict), None),
        file = escape(text),
    ))
}

fn status_of(d: &Draft) -> String {
    match &d.stored {
        Some(r) if r.enabled => format!(
            "<p><span class=\"ok\">enabled</span> between <code>{}</code> and <code>{}</code></p>",
            escape(&r.left_connection),
            escape(&r.right_connection)
        ),
        Some(r) => format!(
            "<p><span class=\"muted\">disabled</span> (between <code>{}</code> and <code>{}</code>)</p>",
            escape(&r.left_connection),
            escape(&r.right_connection)
        ),
        None => "<p class=\"muted\">A recipe, not enabled yet: choose the connections, preview, then enable.</p>".to_owned(),
    }
}

/// The connections a draft runs between: the stored row's, else those asked for,
/// else the first of each system.
async fn sides(
    state: &AppState,
    d: &Draft,
    left: Option<&str>,
    right: Option<&str>,
) -> Result<(String, String), ApiError> {
    if let Some(r) = &d.stored {
        return Ok((r.left_connection.clone(), r.right_connection.clone()));
    }
    let file = parse(&d.text)?;
    let all = state.store.connections().await.map_err(store_err)?;
    let first = |object: &str| {
        connections_of(&all, object)
            .first()
            .map(|c| c.id.clone())
            .unwrap_or_default()
    };
    Ok((
        left.filter(|s| !s.is_empty())
            .map_or_else(|| first(&file.sync.left), str::to_owned),
        right
            .filter(|s| !s.is_empty())
            .map_or_else(|| first(&file.sync.right), str::to_owned),
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct EditorQuery {
    pub left: Option<String>,
    pub right: Option<String>,
    pub saved: Option<String>,
}

/// GET /flows/{id}: the mapping editor.
pub async fn page_editor(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    Path(id): Path<String>,
    Query(q): Query<EditorQuery>,
) -> Result<Html<String>, ApiError> {
    let d = draft(&state, &id).await.map_err(ApiError::page)?;
    let (left, right) = sides(&state, &d, q.left.as_deref(), q.right.as_deref())
        .await
        .map_err(ApiError::page)?;
    let name = parse(&d.text).map_err(ApiError::page)?.sync.name;
    let notice = match q.saved.as_deref() {
        Some("enabled") => {
            "<p class=\"ok\" role=\"status\">Saved and enabled. Changes now sync as they happen; <strong>Backfill</strong> on Flows brings the records that exist already.</p>"
        }
        Some(_) => "<p class=\"ok\" role=\"status\">Saved.</p>",
        None => "",
    };
    let form = editor(&state, &caller, &d, &d.text, &left, &right)
        .await
        .map_err(ApiError::page)?;
    let body = format!(
        "<h1>{} <code>{}</code></h1>{notice}{}{}{form}",
        escape(name.as_deref().unwrap_or("Flow")),
        escape(&id),
        status_of(&d),
        limits_html(&id)
    );
    Ok(page("Flow", Some(&caller), "/flows", &body))
}

/// The editor's form, read: (base text, left, right, mapping, action, again).
struct Posted {
    base: Option<String>,
    left: String,
    right: String,
    mapping: MappingEdit,
    action: String,
    again: bool,
}

/// A select's value as the enum it names (empty: none chosen).
fn choice<T: serde::de::DeserializeOwned>(v: &str, what: &str) -> Result<Option<T>, ApiError> {
    if v.is_empty() {
        return Ok(None);
    }
    serde_json::from_value(json!(v))
        .map(Some)
        .map_err(|_| ApiError::bad_request(format!("unknown {what} `{v}`")))
}

fn read_form(body: &[u8]) -> Result<Posted, ApiError> {
    let mut p = Posted {
        base: None,
        left: String::new(),
        right: String::new(),
        mapping: MappingEdit {
            fields: Vec::new(),
            filter_left: String::new(),
            filter_right: String::new(),
            direction: Direction::Both,
            conflict: ConflictRule::Newest,
        },
        action: String::new(),
        again: false,
    };
    let mut rows: std::collections::BTreeMap<usize, (FieldEdit, bool)> = Default::default();
    for (k, v) in url::form_urlencoded::parse(body) {
        let v = v.into_owned();
        match &*k {
            "base" => p.base = Some(v),
            "left" => p.left = v,
            "right" => p.right = v,
            "action" => p.action = v,
            "again" => p.again = true,
            "filter_left" => p.mapping.filter_left = v,
            "filter_right" => p.mapping.filter_right = v,
            "direction" => {
                p.mapping.direction = choice(&v, "direction")?.unwrap_or(Direction::Both);
            }
            "conflict" => {
                p.mapping.conflict = choice(&v, "conflict rule")?.unwrap_or(ConflictRule::Newest);
            }
            key => {
                let Some((row, field)) = key
                    .strip_prefix('f')
                    .and_then(|r| r.split_once('.'))
                    .and_then(|(n, f)| n.parse::<usize>().ok().map(|n| (n, f)))
                else {
                    continue;
                };
                let entry = rows.entry(row).or_default();
                match field {
                    "from" => entry.0.from = v.parse().ok(),
                    "left" => entry.0.left = v,
                    "right" => entry.0.right = v,
                    "transforms" => entry.0.transforms = v,
                    "remove" => entry.1 = true,
                    "direction" => entry.0.direction = choice(&v, "direction")?,
                    "conflict" => entry.0.conflict = choice(&v, "conflict rule")?,
                    _ => {}
                }
            }
        }
    }
    // A new row left empty is no rule; a removed one goes.
    p.mapping.fields = rows
        .into_values()
        .filter(|(f, removed)| {
            !removed
                && (f.from.is_some() || !f.left.trim().is_empty() || !f.right.trim().is_empty())
        })
        .map(|(f, _)| f)
        .collect();
    Ok(p)
}

/// Stores `text` as flow `id` between `left` and `right` (checked as enabling
/// checks it), enabled or not.
async fn save(
    state: &AppState,
    text: &str,
    left: &str,
    right: &str,
    enabled: bool,
) -> Result<FlowRow, ApiError> {
    let connectors = state.connectors()?;
    let mut row = engine::sync::enable(connectors, text, left, right)
        .await
        .map_err(enable_err)?;
    if !enabled {
        state
            .store
            .set_flow_enabled(&row.id, false)
            .await
            .map_err(store_err)?;
        row.enabled = false;
    }
    Ok(row)
}

/// The plan of a preview as a page section.
fn preview_html(p: &engine::sync::preview::Preview) -> String {
    let count = |d: &str| p.entries.iter().filter(|h| h.decision == d).count();
    let shown = 300;
    let more = if p.entries.len() > shown {
        format!(
            "<p class=\"muted\">The first {shown} of {} decisions are shown.</p>",
            p.entries.len()
        )
    } else {
        String::new()
    };
    format!(
        "<section class=\"card preview\"><h2>Dry run: nothing was changed</h2>\
         <p>{} left and {} right records read: <strong>{} create, {} update, {} skip, {} conflict, {} review</strong>.</p>{more}{}</section>",
        p.left_records,
        p.right_records,
        count("create"),
        count("update"),
        count("skip"),
        count("conflict"),
        count("review"),
        crate::runs::entries_table(&p.entries[..p.entries.len().min(shown)])
    )
}

/// POST /flows/{id}: the editor's Preview, Save or Save and enable.
pub async fn page_post(
    State(state): State<AppState>,
    AdminOnly(caller): AdminOnly,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    match editor_post(&state, &caller, &id, &body).await {
        Ok(r) => r,
        Err(e) => {
            let message = e.public_message().to_owned();
            (
                e.status(),
                page(
                    "Flow",
                    Some(&caller),
                    "/flows",
                    &format!(
                        "<h1>Flow <code>{}</code></h1><p class=\"error\" role=\"alert\">{}</p><p>Go back to change it (your entries are kept by the browser), or <a href=\"/flows/{}\">start again</a>.</p>",
                        escape(&id),
                        escape(&message),
                        escape(&id)
                    ),
                ),
            )
                .into_response()
        }
    }
}

async fn editor_post(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let d = draft(state, id).await?;
    let posted = read_form(body)?;
    let base = posted.base.clone().unwrap_or_else(|| d.text.clone());
    let text = apply(&base, &posted.mapping)
        .map_err(|e| ApiError::with_status(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    if parse(&text)?.sync.id != id {
        return Err(ApiError::bad_request(format!(
            "the file's [sync] id is not `{id}`"
        )));
    }
    let (left, right) = sides(state, &d, Some(&posted.left), Some(&posted.right)).await?;
    match posted.action.as_str() {
        "preview" => {
            let preview = engine::sync::preview::preview(
                state.connectors()?,
                &text,
                &left,
                &right,
                posted.again,
            )
            .await
            .map_err(preview_err)?;
            tracing::info!(by = %caller.name, flow = id, decisions = preview.entries.len(), "FlowPreviewed");
            let form = editor(state, caller, &d, &text, &left, &right).await?;
            let body = format!(
                "<h1>Flow <code>{}</code></h1>{}{}{}<p class=\"muted\">The mapping below is the one previewed; it is not saved yet.</p>{form}",
                escape(id),
                status_of(&d),
                limits_html(id),
                preview_html(&preview)
            );
            Ok(page("Flow", Some(caller), "/flows", &body).into_response())
        }
        "save" | "enable" => {
            let enable = posted.action == "enable" || d.stored.as_ref().is_some_and(|r| r.enabled);
            let row = save(state, &text, &left, &right, enable).await?;
            tracing::info!(by = %caller.name, flow = %row.id, enabled = row.enabled, "FlowSaved");
            let saved = if posted.action == "enable" {
                "enabled"
            } else {
                "1"
            };
            Ok(Redirect::to(&format!("/flows/{}?saved={saved}", row.id)).into_response())
        }
        other => Err(ApiError::bad_request(format!(
            "unknown action `{other}`: Preview, Save or Save and enable"
        ))),
    }
}

/// POST /flows/{id}/switch: from the list (`do` = open | enable | disable | backfill).
pub async fn page_switch(
    State(state): State<AppState>,
    AdminOnly(caller): AdminOnly,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let (mut what, mut left, mut right) = (String::new(), String::new(), String::new());
    for (k, v) in url::form_urlencoded::parse(&body) {
        match &*k {
            "do" => what = v.into_owned(),
            "left" => left = v.into_owned(),
            "right" => right = v.into_owned(),
            _ => {}
        }
    }
    let result = match what.as_str() {
        "open" => Ok(format!(
            "/flows/{id}?left={}&right={}",
            url::form_urlencoded::byte_serialize(left.as_bytes()).collect::<String>(),
            url::form_urlencoded::byte_serialize(right.as_bytes()).collect::<String>()
        )),
        "enable" => enable(&state, &id, &left, &right)
            .await
            .map(|_| format!("/flows?done=enabled&flow={id}")),
        "disable" => disable(&state, &id)
            .await
            .map(|_| format!("/flows?done=disabled&flow={id}")),
        "backfill" => backfill(&state, &id)
            .await
            .map(|_| format!("/flows?done=backfill&flow={id}")),
        other => Err(ApiError::bad_request(format!("unknown action `{other}`"))),
    };
    match result {
        Ok(to) => {
            tracing::info!(by = %caller.name, flow = %id, action = %what, "FlowSwitched");
            Redirect::to(&to).into_response()
        }
        Err(e) => e.page().into_response(),
    }
}

/// Enables stored flow or recipe `id` (an action flow: switched on).
async fn enable(state: &AppState, id: &str, left: &str, right: &str) -> Result<FlowRow, ApiError> {
    if state.store.flow(id).await.map_err(store_err)?.is_none()
        && state
            .store
            .set_action_flow_enabled(id, true)
            .await
            .map_err(store_err)?
    {
        return Ok(FlowRow {
            id: id.to_owned(),
            file: String::new(),
            left_connection: String::new(),
            right_connection: String::new(),
            enabled: true,
            created_at: 0,
            updated_at: 0,
        });
    }
    let d = draft(state, id).await?;
    let (l, r) = sides(state, &d, Some(left), Some(right)).await?;
    if l.is_empty() || r.is_empty() {
        return Err(ApiError::bad_request(
            "choose both connections (connect the systems on Connections first)",
        ));
    }
    save(state, &d.text, &l, &r, true).await
}

async fn disable(state: &AppState, id: &str) -> Result<(), ApiError> {
    let found = state
        .store
        .set_flow_enabled(id, false)
        .await
        .map_err(store_err)?
        || state
            .store
            .set_action_flow_enabled(id, false)
            .await
            .map_err(store_err)?;
    if found {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no flow `{id}` (see /flows)")))
    }
}

/// Starts the flow's backfill in the background (it reads both sides, then the
/// worker syncs each record; Runs shows the counts grow).
async fn backfill(state: &AppState, id: &str) -> Result<(), ApiError> {
    match state.store.flow(id).await.map_err(store_err)? {
        Some(row) if row.enabled => {}
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "flow `{id}` is disabled: enable it first"
            )));
        }
        None => return Err(ApiError::not_found(format!("no sync flow `{id}`"))),
    }
    let connectors = state.connectors()?.clone();
    let id = id.to_owned();
    tokio::spawn(async move {
        match engine::sync::preview::start_backfill(&connectors, &id).await {
            Ok(n) => tracing::info!(flow = %id, queued = n, "BackfillQueued"),
            Err(e) => tracing::error!(flow = %id, error = %e, "BackfillFailed"),
        }
    });
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
pub struct ListNotice {
    pub done: Option<String>,
    pub flow: Option<String>,
}

/// GET /flows
pub async fn page_list(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    Query(n): Query<ListNotice>,
) -> Result<Html<String>, ApiError> {
    let flows = state.store.flows().await.map_err(|e| store_err(e).page())?;
    let actions = state
        .store
        .action_flows()
        .await
        .map_err(|e| store_err(e).page())?;
    let all = state
        .store
        .connections()
        .await
        .map_err(|e| store_err(e).page())?;
    let admin = caller.role == Role::Admin;
    let form = |id: &str, inner: &str| {
        if admin {
            format!(
                "<form method=\"post\" action=\"/flows/{}/switch\" class=\"inline\">{}{inner}</form>",
                escape(id),
                csrf_input(&caller)
            )
        } else {
            String::new()
        }
    };
    let mut rows = String::new();
    for f in &flows {
        let linked = state.store.count_pairs(&f.id).await.unwrap_or(0);
        let name = SyncFile::parse("flow.toml", &f.file)
            .ok()
            .and_then(|s| s.sync.name)
            .unwrap_or_default();
        let toggle = if f.enabled {
            form(
                &f.id,
                "<button class=\"secondary\" name=\"do\" value=\"disable\">Disable</button> <button class=\"secondary\" name=\"do\" value=\"backfill\">Backfill</button>",
            )
        } else {
            form(
                &f.id,
                "<button name=\"do\" value=\"enable\">Enable</button>",
            )
        };
        let _ = write!(
            rows,
            "<tr><td><a href=\"/flows/{id}\">{id}</a><div class=\"muted\">{}</div></td><td>sync</td><td class=\"{cls}\">{}</td><td><code>{}</code> &harr; <code>{}</code></td><td class=\"num\">{linked}</td><td><a class=\"button secondary\" href=\"/flows/{id}\">Mapping</a> {toggle}</td></tr>",
            escape(&name),
            if f.enabled { "enabled" } else { "disabled" },
            escape(&f.left_connection),
            escape(&f.right_connection),
            id = escape(&f.id),
            cls = if f.enabled { "ok" } else { "muted" },
        );
    }
    for f in &actions {
        let action = engine::actions::built(f)
            .map(|b| b.action)
            .unwrap_or_default();
        let toggle = if f.enabled {
            form(
                &f.id,
                "<button class=\"secondary\" name=\"do\" value=\"disable\">Disable</button>",
            )
        } else {
            form(
                &f.id,
                "<button name=\"do\" value=\"enable\">Enable</button>",
            )
        };
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>action</td><td class=\"{cls}\">{}</td><td><code>{}</code> &rarr; <code>{}</code> ({})</td><td></td><td>{toggle}</td></tr>",
            escape(&f.id),
            if f.enabled { "enabled" } else { "disabled" },
            escape(&f.trigger_id),
            escape(&action),
            escape(&f.action_connection),
            cls = if f.enabled { "ok" } else { "muted" },
        );
    }
    let stored: Vec<&str> = flows.iter().map(|f| f.id.as_str()).collect();
    let mut recipe_cards = String::new();
    for (id, _, text) in recipes::RECIPES {
        if stored.contains(id) {
            continue;
        }
        let Ok(file) = SyncFile::parse("recipe.toml", text) else {
            continue;
        };
        let controls = if admin {
            let pick = |name: &str, object: &str| {
                select_connection(name, &connections_of(&all, object), "", false)
            };
            form(
                id,
                &format!(
                    "<div class=\"sides\"><div><label>Left: {}</label>{}</div><div><label>Right: {}</label>{}</div></div>\
                     <p><button class=\"secondary\" name=\"do\" value=\"open\">Mapping and preview</button> <button name=\"do\" value=\"enable\">Enable</button></p>",
                    escape(&file.sync.left),
                    pick("left", &file.sync.left),
                    escape(&file.sync.right),
                    pick("right", &file.sync.right)
                ),
            )
        } else {
            format!("<p><a href=\"/flows/{}\">Mapping</a></p>", escape(id))
        };
        let _ = write!(
            recipe_cards,
            "<div class=\"card recipe\" id=\"recipe-{id}\"><h3>{} <code>{id}</code></h3>{}{controls}</div>",
            escape(file.sync.name.as_deref().unwrap_or(id)),
            limits_html(id),
            id = escape(id),
        );
    }
    let notice = match (n.done.as_deref(), n.flow.as_deref()) {
        (Some("enabled"), Some(f)) => format!(
            "<p class=\"ok\" role=\"status\">Enabled {}. Changes now sync as they happen; Backfill brings the records that exist already.</p>",
            escape(f)
        ),
        (Some("disabled"), Some(f)) => format!(
            "<p class=\"ok\" role=\"status\">Disabled {} (its links and history stay).</p>",
            escape(f)
        ),
        (Some("backfill"), Some(f)) => format!(
            "<p class=\"ok\" role=\"status\">Backfill of {} started: both sides are read, then each record is synced. <a href=\"/runs?flow={0}\">Runs</a> shows the counts grow.</p>",
            escape(f)
        ),
        _ => String::new(),
    };
    let table = if rows.is_empty() {
        "<p class=\"muted\">No flow yet: switch a recipe on below.</p>".to_owned()
    } else {
        format!(
            "<table><tr><th>flow</th><th>kind</th><th>status</th><th>between</th><th>linked</th><th></th></tr>{rows}</table>"
        )
    };
    let recipes_html = if recipe_cards.is_empty() {
        String::new()
    } else {
        format!("<h2>Recipes</h2>{recipe_cards}")
    };
    let body = format!("<h1>Flows</h1>{notice}{table}{recipes_html}");
    Ok(page("Flows", Some(&caller), "/flows", &body))
}

// ---- API ----

/// GET /api/flows: the flows (sync and action) and the recipes not enabled yet.
#[utoipa::path(
    get,
    path = "/api/flows",
    tag = "flows",
    summary = "The flows and the recipes not enabled yet",
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_list(
    State(state): State<AppState>,
    _c: AdminCaller,
) -> Result<Json<Value>, ApiError> {
    let flows = state.store.flows().await.map_err(store_err)?;
    let actions = state.store.action_flows().await.map_err(store_err)?;
    let mut out = Vec::new();
    for f in &flows {
        out.push(json!({
            "id": f.id, "kind": "sync", "enabled": f.enabled,
            "left_connection": f.left_connection, "right_connection": f.right_connection,
            "linked": state.store.count_pairs(&f.id).await.map_err(store_err)?,
            "limits": recipes::limits(&f.id),
        }));
    }
    for f in &actions {
        out.push(json!({
            "id": f.id, "kind": "action", "enabled": f.enabled,
            "trigger": f.trigger_id, "trigger_connection": f.trigger_connection,
            "action": engine::actions::built(f).map(|b| b.action).ok(),
            "action_connection": f.action_connection,
        }));
    }
    let recipes: Vec<Value> = recipes::RECIPES
        .iter()
        .filter(|(id, _, _)| !flows.iter().any(|f| f.id == *id))
        .filter_map(|(id, _, text)| {
            let file = SyncFile::parse("recipe.toml", text).ok()?;
            Some(json!({
                "id": id, "name": file.sync.name, "left": file.sync.left, "right": file.sync.right,
                "limits": recipes::limits(id),
            }))
        })
        .collect();
    Ok(Json(json!({"flows": out, "recipes": recipes})))
}

/// GET /api/flows/{id}: a sync flow or recipe: its file, mapping, limits and the
/// fields each side offers.
#[utoipa::path(
    get,
    path = "/api/flows/{id}",
    tag = "flows",
    summary = "A flow or recipe: file, mapping, limits, fields offered",
    params(("id" = String, Path, description = "its id")),
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_one(
    State(state): State<AppState>,
    _c: AdminCaller,
    Path(id): Path<String>,
    Query(q): Query<EditorQuery>,
) -> Result<Json<Value>, ApiError> {
    let d = draft(&state, &id).await?;
    let file = parse(&d.text)?;
    let (left, right) = sides(&state, &d, q.left.as_deref(), q.right.as_deref()).await?;
    let (lc, _) = custom_fields(&state, &file, Side::Left, &left).await;
    let (rc, _) = custom_fields(&state, &file, Side::Right, &right).await;
    let options = |o: &str, c: &[AccountField]| -> Vec<Value> {
        field_options(object(o).as_ref(), c)
            .into_iter()
            .map(|(path, label)| json!({"path": path, "label": label}))
            .collect()
    };
    Ok(Json(json!({
        "id": id,
        "stored": d.stored.is_some(),
        "enabled": d.stored.as_ref().is_some_and(|r| r.enabled),
        "left": file.sync.left,
        "right": file.sync.right,
        "left_connection": left,
        "right_connection": right,
        "file": d.text,
        "mapping": mapping_of(&file),
        "limits": recipes::limits(&id),
        "fields": {"left": options(&file.sync.left, &lc), "right": options(&file.sync.right, &rc)},
    })))
}

/// What the API's PUT and preview take: the whole file, or a mapping applied to
/// the current one; the connections (a stored flow keeps its own).
#[derive(Debug, Default, Deserialize)]
pub struct FlowBody {
    pub file: Option<String>,
    pub mapping: Option<MappingEdit>,
    pub left: Option<String>,
    pub right: Option<String>,
    pub enabled: Option<bool>,
    #[serde(default)]
    pub again: bool,
}

async fn body_text(
    state: &AppState,
    id: &str,
    b: &FlowBody,
) -> Result<(Draft, String, String, String), ApiError> {
    let d = draft(state, id).await?;
    let mut text = b.file.clone().unwrap_or_else(|| d.text.clone());
    if let Some(m) = &b.mapping {
        text = apply(&text, m)
            .map_err(|e| ApiError::with_status(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    }
    if parse(&text)?.sync.id != id {
        return Err(ApiError::bad_request(format!(
            "the file's [sync] id is not `{id}`"
        )));
    }
    let (left, right) = sides(state, &d, b.left.as_deref(), b.right.as_deref()).await?;
    Ok((d, text, left, right))
}

/// PUT /api/flows/{id}: stores the flow's file (or a mapping applied to it),
/// checked as enabling checks it; `enabled` (default: as it was, a new one on).
#[utoipa::path(
    put,
    path = "/api/flows/{id}",
    tag = "flows",
    summary = "Store a flow's file (or a mapping applied to it)",
    params(("id" = String, Path, description = "its id")),
    request_body(content = serde_json::Value, description = "{file?, mapping?, left?, right?, enabled?}", content_type = "application/json"),
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token"), (status = 403, description = "a viewer, or no CSRF token with a session")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_put(
    State(state): State<AppState>,
    AdminOnly(caller): AdminOnly,
    Path(id): Path<String>,
    Json(b): Json<FlowBody>,
) -> Result<Json<Value>, ApiError> {
    let (d, text, left, right) = body_text(&state, &id, &b).await?;
    let enabled = b
        .enabled
        .unwrap_or_else(|| d.stored.as_ref().is_none_or(|r| r.enabled));
    let row = save(&state, &text, &left, &right, enabled).await?;
    tracing::info!(by = %caller.name, flow = %row.id, enabled = row.enabled, "FlowSaved");
    Ok(Json(json!({
        "id": row.id, "enabled": row.enabled, "file": row.file,
        "left_connection": row.left_connection, "right_connection": row.right_connection,
    })))
}

#[derive(Debug, Default, Deserialize)]
pub struct Sides {
    pub left: Option<String>,
    pub right: Option<String>,
}

/// POST /api/flows/{id}/enable
#[utoipa::path(
    post,
    path = "/api/flows/{id}/enable",
    tag = "flows",
    summary = "Enable a flow or recipe",
    params(("id" = String, Path, description = "its id")),
    request_body(content = serde_json::Value, description = "{left?, right?}", content_type = "application/json"),
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token"), (status = 403, description = "a viewer, or no CSRF token with a session")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_enable(
    State(state): State<AppState>,
    AdminOnly(caller): AdminOnly,
    Path(id): Path<String>,
    body: Option<Json<Sides>>,
) -> Result<Json<Value>, ApiError> {
    let s = body.map(|b| b.0).unwrap_or_default();
    let row = enable(
        &state,
        &id,
        s.left.as_deref().unwrap_or(""),
        s.right.as_deref().unwrap_or(""),
    )
    .await?;
    tracing::info!(by = %caller.name, flow = %id, "FlowEnabled");
    Ok(Json(
        json!({"id": id, "enabled": true, "left_connection": row.left_connection, "right_connection": row.right_connection}),
    ))
}

/// POST /api/flows/{id}/disable
#[utoipa::path(
    post,
    path = "/api/flows/{id}/disable",
    tag = "flows",
    summary = "Disable a flow (links and history stay)",
    params(("id" = String, Path, description = "its id")),
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token"), (status = 403, description = "a viewer, or no CSRF token with a session")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_disable(
    State(state): State<AppState>,
    AdminOnly(caller): AdminOnly,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    disable(&state, &id).await?;
    tracing::info!(by = %caller.name, flow = %id, "FlowDisabled");
    Ok(Json(json!({"id": id, "enabled": false})))
}

/// POST /api/flows/{id}/preview: the dry run of the flow (or of the file or mapping
/// given) as decisions with their diffs; nothing changes.
#[utoipa::path(
    post,
    path = "/api/flows/{id}/preview",
    tag = "flows",
    summary = "Dry run: per-record decisions and diffs, nothing changed",
    params(("id" = String, Path, description = "its id")),
    request_body(content = serde_json::Value, description = "{file?, mapping?, left?, right?, again?}", content_type = "application/json"),
    responses((status = 200, description = "done", body = serde_json::Value), (status = 401, description = "no session or token"), (status = 403, description = "a viewer, or no CSRF token with a session")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_preview(
    State(state): State<AppState>,
    AdminOnly(_c): AdminOnly,
    Path(id): Path<String>,
    body: Option<Json<FlowBody>>,
) -> Result<Json<Value>, ApiError> {
    let b = body.map(|b| b.0).unwrap_or_default();
    let (_, text, left, right) = body_text(&state, &id, &b).await?;
    let p = engine::sync::preview::preview(state.connectors()?, &text, &left, &right, b.again)
        .await
        .map_err(preview_err)?;
    Ok(Json(json!({
        "left_records": p.left_records,
        "right_records": p.right_records,
        "decisions": p.entries.iter().map(crate::runs::entry_json).collect::<Vec<_>>(),
    })))
}

/// POST /api/flows/{id}/backfill: 202, the backfill runs in the background.
#[utoipa::path(
    post,
    path = "/api/flows/{id}/backfill",
    tag = "flows",
    summary = "Start the flow's backfill in the background",
    params(("id" = String, Path, description = "its id")),
    responses((status = 202, description = "started", body = serde_json::Value), (status = 401, description = "no session or token"), (status = 403, description = "a viewer, or no CSRF token with a session")),
    security(("token" = []), ("session" = []))
)]
pub async fn api_backfill(
    State(state): State<AppState>,
    AdminOnly(caller): AdminOnly,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    backfill(&state, &id).await?;
    tracing::info!(by = %caller.name, flow = %id, "BackfillStarted");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"id": id, "backfill": "started"})),
    )
        .into_response())
}
