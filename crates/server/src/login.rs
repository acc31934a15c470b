//! Logging in and out, and the one-time setup of the first account.
//!
//! `POST /login` checks a name and password (Argon2id) and opens a server-side
//! session; wrong attempts are throttled per account and per address (429 with
//! `Retry-After`). `POST /logout` ends the session on the server. `/setup?token=`
//! is the link the first `up` prints while no account exists: it creates the first
//! admin and then stops working.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::AppState;
use crate::accounts;
use crate::admin::{AdminCaller, Caller, ClientIp, MaybeCaller, Via, random_token};
use crate::error::{ApiError, escape};
use crate::pages::page;

/// How long the setup link works.
pub const SETUP_TTL_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Where to go after login: a local path only (no open redirect), made of
/// characters a `Location` header can carry. `Err` names what is wrong.
pub fn local_path(next: Option<&str>) -> Result<&str, ApiError> {
    let Some(next) = next.filter(|n| !n.is_empty()) else {
        return Ok("/");
    };
    if next.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Err(ApiError::bad_request(
            "`next` must be a plain path (no control or non-ASCII characters)",
        ));
    }
    // `/\evil` and `//evil` are read by browsers as another host.
    let foreign = !next.starts_with('/') || next.starts_with("//") || next.starts_with("/\\");
    Ok(if foreign { "/" } else { next })
}

fn login_form(next: &str, message: Option<&str>) -> String {
    let message = message
        .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(m)))
        .unwrap_or_default();
    format!(
        "<div class=\"card narrow\"><h1>Log in</h1>{message}\
         <form method=\"post\" action=\"/login\">\
         <label for=\"name\">Name</label><input type=\"text\" id=\"name\" name=\"name\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
         <input type=\"hidden\" name=\"next\" value=\"{}\"><p><button type=\"submit\">Log in</button></p></form>\
         <p class=\"muted\">No account yet? The first <code>ghlsync up</code> prints a setup link; \
         or create one on the host: <code>ghlsync admin add-user NAME --role admin</code>.</p></div>",
        escape(next)
    )
}

/// GET /login
pub async fn login_page(
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<NextQuery>,
) -> Result<Response, ApiError> {
    let next = local_path(q.next.as_deref()).map_err(ApiError::page)?;
    if caller.is_some() {
        return Ok(Redirect::to(next).into_response());
    }
    Ok(page("Log in", None, "", &login_form(next, None)).into_response())
}

fn with_cookie(mut resp: Response, cookie: &str) -> Response {
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// Opens a session for `user` and sends the browser to `next`.
async fn open_session(state: &AppState, user: &str, next: &str) -> Response {
    let id = random_token();
    let csrf = random_token();
    let lifetime = i64::try_from(state.admin.settings.lifetime.as_millis()).unwrap_or(i64::MAX);
    let expires = state.store.now().saturating_add(lifetime);
    if let Err(e) = state.store.create_session(&id, user, &csrf, expires).await {
        return ApiError::unavailable("cannot open a session", e)
            .page()
            .into_response();
    }
    tracing::info!(user, "AdminLoggedIn");
    with_cookie(
        Redirect::to(next).into_response(),
        &state.admin.session_cookie(&id),
    )
}

/// POST /login
pub async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    Form(f): Form<LoginForm>,
) -> Response {
    // Check where to go first: a bad `next` sets no session.
    let next = match local_path(f.next.as_deref()) {
        Ok(n) => n.to_owned(),
        Err(e) => return e.page().into_response(),
    };
    let account_key = format!("user:{}", f.name.to_lowercase());
    let keys = [account_key.clone(), ip.key()];
    let attempt = match state.admin.throttle.attempt(&keys) {
        Ok(at) => at,
        Err(wait) => {
            tracing::warn!(user = %f.name, addr = ?ip.0, "LoginThrottled");
            let mut e = ApiError::throttled(
                wait.as_secs().max(1),
                format!(
                    "Too many wrong logins for this account or from this address. Try again in {} minutes.",
                    wait.as_secs().div_ceil(60)
                ),
            );
            e = e.page();
            return e.into_response();
        }
    };
    let user = match state.store.admin_user(&f.name).await {
        Ok(u) => u,
        Err(e) => {
            state.admin.throttle.succeeded(&keys, attempt);
            return ApiError::unavailable("cannot check the login", e)
                .page()
                .into_response();
        }
    };
    let hash = user.as_ref().map_or_else(
        || accounts::decoy_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    let password = f.password;
    let good = tokio::task::spawn_blocking(move || accounts::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    match user {
        Some(u) if good => {
            state.admin.throttle.succeeded(&keys, attempt);
            state.admin.throttle.clear(&account_key);
            open_session(&state, &u.name, &next).await
        }
        _ => {
            tracing::warn!(user = %f.name, addr = ?ip.0, "LoginFailed: wrong name or password");
            (
                StatusCode::UNAUTHORIZED,
                page(
                    "Log in",
                    None,
                    "",
                    &login_form(&next, Some("Wrong name or password.")),
                ),
            )
                .into_response()
        }
    }
}

/// POST /logout: ends the session on the server (the CSRF check ran before).
pub async fn logout(State(state): State<AppState>, AdminCaller(caller): AdminCaller) -> Response {
    if let Caller {
        via: Via::Session { id, .. },
        ..
    } = &caller
    {
        let idle = i64::try_from(state.admin.settings.idle.as_millis()).unwrap_or(i64::MAX);
        let stale = state.store.now().saturating_sub(idle);
        if let Err(e) = state.store.end_session(id, stale).await {
            return ApiError::unavailable("cannot end the session", e)
                .page()
                .into_response();
        }
        tracing::info!(user = %caller.name, "AdminLoggedOut");
    }
    with_cookie(
        Redirect::to("/login").into_response(),
        &state.admin.cleared_cookie(),
    )
}

#[derive(Debug, Deserialize)]
pub struct SetupQuery {
    #[serde(default)]
    token: String,
}

#[derive(Debug, Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

fn setup_form(token: &str, name: &str, message: Option<&str>) -> String {
    let message = message
        .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(m)))
        .unwrap_or_default();
    format!(
        "<div class=\"card narrow\"><h1>Create the first admin</h1>{message}\
         <form method=\"post\" action=\"/setup\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
         <label for=\"name\">Name</label><input type=\"text\" id=\"name\" name=\"name\" value=\"{}\" autocomplete=\"username\" required autofocus>\
         <label for=\"password\">Password (at least {} characters)</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"new-password\" required>\
         <label for=\"password2\">Password again</label><input type=\"password\" id=\"password2\" name=\"password2\" autocomplete=\"new-password\" required>\
         <p><button type=\"submit\">Create and log in</button></p></form></div>",
        escape(token),
        escape(name),
        accounts::MIN_PASSWORD
    )
}

fn setup_gone() -> Response {
    ApiError::with_status(
        StatusCode::NOT_FOUND,
        "This setup link is used or expired. Log in at /login; a new admin can be added on the host with `ghlsync admin add-user NAME --role admin`.",
    )
    .page()
    .into_response()
}

/// Whether the setup link still works: a live token and no account yet.
async fn setup_open(state: &AppState, token: &str) -> Result<bool, Response> {
    let unavailable = |e| {
        ApiError::unavailable("cannot check the setup link", e)
            .page()
            .into_response()
    };
    if state.store.admin_user_count().await.map_err(unavailable)? > 0 {
        return Ok(false);
    }
    state
        .store
        .setup_token_valid(token)
        .await
        .map_err(unavailable)
}

/// GET /setup?token=
pub async fn setup_page(State(state): State<AppState>, Query(q): Query<SetupQuery>) -> Response {
    match setup_open(&state, &q.token).await {
        Ok(true) => page("Set up", None, "", &setup_form(&q.token, "", None)).into_response(),
        Ok(false) => setup_gone(),
        Err(r) => r,
    }
}

/// POST /setup
pub async fn setup(
    State(state): State<AppState>,
    ip: ClientIp,
    Form(f): Form<SetupForm>,
) -> Response {
    let keys = [ip.key()];
    if let Some(wait) = state.admin.throttle.blocked(&keys) {
        return ApiError::throttled(
            wait.as_secs().max(1),
            "Too many wrong setup links from this address.",
        )
        .page()
        .into_response();
    }
    match setup_open(&state, &f.token).await {
        Ok(true) => {}
        Ok(false) => {
            state.admin.throttle.fail(&keys);
            return setup_gone();
        }
        Err(r) => return r,
    }
    let again = |m: &str| {
        (
            StatusCode::BAD_REQUEST,
            page("Set up", None, "", &setup_form(&f.token, &f.name, Some(m))),
        )
            .into_response()
    };
    if let Err(m) = accounts::check_new(&f.name, &f.password) {
        return again(&m);
    }
    if f.password != f.password2 {
        return again("The two passwords differ.");
    }
    let password = f.password.clone();
    let hashed = tokio::task::spawn_blocking(move || accounts::hash_password(&password)).await;
    let Ok(Ok(hash)) = hashed else {
        return again("The password could not be hashed; try again.");
    };
    match state.store.create_first_admin(&f.name, &hash).await {
        Ok(true) => {
            tracing::info!(user = %f.name, "AdminCreated: the first account, by the setup link");
            open_session(&state, &f.name, "/").await
        }
        Ok(false) => setup_gone(),
        Err(e) => ApiError::unavailable("cannot create the account", e)
            .page()
            .into_response(),
    }
}
