//! The OAuth 2.0 server: consent page, `/oauth/token` (authorization_code and
//! refresh_token grants, single-use refresh tokens), `/oauth/locationToken` and
//! `/oauth/installedLocations`.

use std::collections::{BTreeSet, HashMap};

use axum::Form;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::App;
use super::http::{ApiError, ApiResult, Caller, ok};
use super::state::{AuthCode, Grant, Inner, RefreshGrant, TokenKind, UserType};

/// An opaque token shaped like GHL's (a JWT: three base64url parts).
pub fn mint_token(grant: &Grant, client_id: &str) -> String {
    let mut rng = rand::rng();
    let mut jti = [0u8; 16];
    rng.fill_bytes(&mut jti);
    let mut sig = [0u8; 32];
    rng.fill_bytes(&mut sig);
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let class_id = grant
        .location_id
        .clone()
        .unwrap_or_else(|| grant.company_id.clone());
    let payload = json!({
        "authClass": grant.user_type.as_str(),
        "authClassId": class_id,
        "source": "INTEGRATION",
        "sourceId": client_id,
        "channel": "OAUTH",
        "primaryAuthClassId": class_id,
        "oauthMeta": {"scopes": grant.scopes},
        "iat": Utc::now().timestamp(),
        "jti": URL_SAFE_NO_PAD.encode(jti),
    });
    format!(
        "{header}.{}.{}",
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

/// Issues an access token (and a refresh token unless `refresh` is false).
pub fn issue(inner: &mut Inner, mut grant: Grant) -> (String, Option<String>) {
    grant.kind = TokenKind::OAuth;
    grant.revoked = false;
    let ttl =
        chrono::Duration::from_std(inner.rt.access_token_ttl).unwrap_or(chrono::Duration::days(1));
    grant.expires_at = Some(Utc::now() + ttl);
    let access = mint_token(&grant, &inner.world.client_id);
    let refresh = mint_token(&grant, &inner.world.client_id);
    inner.world.tokens.insert(access.clone(), grant.clone());
    inner.world.refresh_tokens.insert(
        refresh.clone(),
        RefreshGrant {
            grant,
            used: false,
            revoked: false,
        },
    );
    inner.rt.touch();
    (access, Some(refresh))
}

fn token_body(inner: &Inner, access: &str, refresh: Option<&str>, grant: &Grant) -> Value {
    let ttl = inner.rt.access_token_ttl.as_secs();
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl,
        "refresh_token": refresh,
        "scope": grant.scope_string(),
        "userType": grant.user_type.as_str(),
        "companyId": grant.company_id,
        "userId": grant.user_id,
        "isBulkInstallation": false,
    });
    match &grant.location_id {
        Some(l) => body["locationId"] = json!(l),
        None => {
            let approved: Vec<&String> = inner
                .world
                .locations
                .values()
                .filter(|l| l.app_installed)
                .map(|l| &l.id)
                .collect();
            body["approvedLocations"] = json!(approved);
            body["approveAllLocations"] = json!(true);
            body["installToFutureLocations"] = json!(true);
        }
    }
    body
}

/// The v3 API answers OAuth calls in camelCase (`accessToken`, `expiresIn`, ...).
fn camelize(body: Value) -> Value {
    let Value::Object(map) = body else {
        return body;
    };
    let out: Map<String, Value> = map
        .into_iter()
        .map(|(k, v)| {
            let mut key = String::with_capacity(k.len());
            let mut upper = false;
            for c in k.chars() {
                if c == '_' {
                    upper = true;
                } else if upper {
                    key.push(c.to_ascii_uppercase());
                    upper = false;
                } else {
                    key.push(c);
                }
            }
            (key, v)
        })
        .collect();
    Value::Object(out)
}

/// Whether the caller speaks v3: a `Version: v3` header or camelCase OAuth fields.
fn wants_v3(headers: &HeaderMap, camel_input: bool) -> bool {
    camel_input
        || headers
            .get("version")
            .is_some_and(|v| v.as_bytes() == b"v3")
}

/// Reads a form or JSON body into a flat string map, accepting snake_case and camelCase.
fn read_params(headers: &HeaderMap, body: &Bytes) -> (HashMap<String, String>, bool) {
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    let pairs: Vec<(String, String)> = if is_json {
        serde_json::from_slice::<Map<String, Value>>(body)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect()
    } else {
        serde_urlencoded::from_bytes(body).unwrap_or_default()
    };
    let camel = pairs
        .iter()
        .any(|(k, _)| k == "clientId" || k == "grantType");
    let params = pairs
        .into_iter()
        .map(|(k, v)| {
            let snake = match k.as_str() {
                "clientId" => "client_id",
                "clientSecret" => "client_secret",
                "grantType" => "grant_type",
                "refreshToken" => "refresh_token",
                "userType" => "user_type",
                "redirectUri" => "redirect_uri",
                other => other,
            };
            (snake.to_owned(), v)
        })
        .collect();
    (params, camel)
}

fn oauth_error(status: StatusCode, message: &str) -> ApiError {
    let error = status.canonical_reason().unwrap_or("Error");
    ApiError {
        status,
        body: json!({"statusCode": status.as_u16(), "message": message, "error": error}),
    }
}

/// POST /oauth/token (get-access-token).
pub async fn token(State(app): State<App>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let (p, camel) = read_params(&headers, &body);
    let mut missing = Vec::new();
    for key in ["client_id", "client_secret", "grant_type"] {
        if p.get(key).is_none_or(String::is_empty) {
            missing.push(format!("{key} should not be empty"));
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::unprocessable(missing));
    }
    let mut inner = app.shared.lock();
    if p["client_id"] != inner.world.client_id || p["client_secret"] != inner.world.client_secret {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "Invalid client credentials: client_id or client_secret is wrong",
        ));
    }
    let grant = match p["grant_type"].as_str() {
        "authorization_code" => {
            let code = p.get("code").cloned().unwrap_or_default();
            let Some(entry) = inner.world.codes.get_mut(&code) else {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "Invalid grant: authorization code is invalid",
                ));
            };
            if entry.used || entry.expires_at <= Utc::now() {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "Invalid grant: authorization code is invalid, expired or already used",
                ));
            }
            if let (Some(want), Some(got)) = (&entry.redirect_uri, p.get("redirect_uri"))
                && want != got
            {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "Invalid grant: redirect_uri does not match the authorization request",
                ));
            }
            entry.used = true;
            let entry = entry.clone();
            grant_for_code(&inner, &entry)
        }
        "refresh_token" => {
            let token = p.get("refresh_token").cloned().unwrap_or_default();
            let problem = match inner.world.refresh_tokens.get(&token) {
                None => Some("Invalid grant: refresh token is invalid"),
                Some(e) if e.used => Some("Invalid grant: refresh token has already been used"),
                Some(e) if e.revoked => Some("Invalid grant: refresh token has been revoked"),
                // A refused refresh (app uninstalled) must not spend the token.
                Some(e) => e
                    .grant
                    .location_id
                    .as_ref()
                    .and_then(|l| inner.world.locations.get(l))
                    .is_some_and(|l| !l.app_installed)
                    .then_some("The app is not installed on this location"),
            };
            if let Some(message) = problem {
                inner.rt.oauth.refresh_rejected += 1;
                return Err(oauth_error(StatusCode::BAD_REQUEST, message));
            }
            let Some(entry) = inner.world.refresh_tokens.get_mut(&token) else {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "Invalid grant: refresh token is invalid",
                ));
            };
            entry.used = true;
            let grant = entry.grant.clone();
            inner.rt.oauth.refreshed += 1;
            grant
        }
        "client_credentials" => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "grant_type client_credentials is not enabled for this app",
            ));
        }
        other => {
            return Err(ApiError::unprocessable(vec![format!(
                "grant_type must be one of the following values: authorization_code, refresh_token, client_credentials (got {other})"
            )]));
        }
    };
    if let Some(loc) = grant
        .location_id
        .as_ref()
        .and_then(|l| inner.world.locations.get(l))
        && !loc.app_installed
    {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "The app is not installed on this location",
        ));
    }
    let (access, refresh) = issue(&mut inner, grant.clone());
    let body = token_body(&inner, &access, refresh.as_deref(), &grant);
    ok(if wants_v3(&headers, camel) {
        camelize(body)
    } else {
        body
    })
}

fn grant_for_code(inner: &Inner, code: &AuthCode) -> Grant {
    let world = &inner.world;
    let company = code.target == world.company_id;
    let user_id = world
        .locations
        .get(&code.target)
        .or_else(|| world.locations.values().next())
        .and_then(|l| l.users.first())
        .map(|u| u.id.clone())
        .unwrap_or_default();
    Grant {
        kind: TokenKind::OAuth,
        user_type: if company {
            UserType::Company
        } else {
            UserType::Location
        },
        location_id: (!company).then(|| code.target.clone()),
        company_id: world.company_id.clone(),
        user_id,
        scopes: code.scopes.clone(),
        expires_at: None,
        revoked: false,
    }
}

/// Creates an authorization code (and installs the app where it was granted).
pub fn mint_code(
    inner: &mut Inner,
    app: &App,
    target: &str,
    scope: &str,
    redirect_uri: Option<String>,
) -> Result<String, ApiError> {
    let is_company = target == inner.world.company_id;
    if !is_company && !inner.world.locations.contains_key(target) {
        return Err(ApiError::bad_request(format!(
            "Unknown location_id {target}"
        )));
    }
    let scopes: BTreeSet<String> = scope.split_whitespace().map(str::to_owned).collect();
    let mut raw = [0u8; 20];
    rand::rng().fill_bytes(&mut raw);
    let code: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    inner.world.codes.insert(
        code.clone(),
        AuthCode {
            target: target.to_owned(),
            scopes,
            redirect_uri,
            expires_at: Utc::now() + chrono::Duration::minutes(10),
            used: false,
        },
    );
    let ids: Vec<String> = if is_company {
        inner.world.locations.keys().cloned().collect()
    } else {
        vec![target.to_owned()]
    };
    for id in ids {
        super::controls::install(inner, app, &id);
    }
    inner.rt.touch();
    Ok(code)
}

#[derive(Debug, Deserialize)]
pub struct ConsentQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn consent_error(msg: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><title>Error</title><h1>Cannot authorize</h1><p>{}</p>",
            esc(msg)
        )),
    )
        .into_response()
}

/// GET /oauth/chooselocation and /v2/oauth/chooselocation: the consent page.
pub async fn consent_page(
    State(app): State<App>,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<ConsentQuery>,
) -> Response {
    let inner = app.shared.lock();
    if q.client_id.as_deref() != Some(inner.world.client_id.as_str()) {
        return consent_error("Unknown client_id: no marketplace app has this client id.");
    }
    if q.response_type.as_deref() != Some("code") {
        return consent_error("response_type must be code.");
    }
    let Some(redirect) = q
        .redirect_uri
        .as_deref()
        .filter(|r| r.starts_with("http://") || r.starts_with("https://"))
    else {
        return consent_error("redirect_uri is missing or not an http(s) URL.");
    };
    let scope = q.scope.clone().unwrap_or_default();
    let hidden =
        |name: &str, v: &str| format!(r#"<input type="hidden" name="{name}" value="{}">"#, esc(v));
    let mut options = format!(
        r#"<label><input type="radio" name="location_id" value="{}"> Agency: {} (all sub-accounts)</label><br>"#,
        esc(&inner.world.company_id),
        esc(&inner.world.company_name)
    );
    for (i, loc) in inner.world.locations.values().enumerate() {
        let checked = if i == 0 { " checked" } else { "" };
        options.push_str(&format!(
            r#"<label><input type="radio" name="location_id" value="{}"{checked}> {}</label><br>"#,
            esc(&loc.id),
            esc(&loc.name)
        ));
    }
    let html = format!(
        "<!doctype html><html><head><title>Choose a location</title></head><body>\
         <h1>Install app</h1><p>The app asks for: <code>{}</code></p>\
         <form method=\"post\" action=\"{}\">{options}{}{}{}{}\
         <button type=\"submit\">Allow</button></form></body></html>",
        esc(&scope),
        esc(uri.path()),
        hidden("client_id", &inner.world.client_id),
        hidden("redirect_uri", redirect),
        hidden("scope", &scope),
        hidden("state", q.state.as_deref().unwrap_or_default()),
    );
    Html(html).into_response()
}

#[derive(Debug, Deserialize)]
pub struct ConsentForm {
    location_id: String,
    client_id: String,
    redirect_uri: String,
    scope: Option<String>,
    state: Option<String>,
}

/// POST of the consent form: issues a code and redirects to `redirect_uri`.
pub async fn consent_submit(State(app): State<App>, Form(f): Form<ConsentForm>) -> Response {
    let mut inner = app.shared.lock();
    if f.client_id != inner.world.client_id {
        return consent_error("Unknown client_id.");
    }
    let code = match mint_code(
        &mut inner,
        &app,
        &f.location_id,
        f.scope.as_deref().unwrap_or_default(),
        Some(f.redirect_uri.clone()),
    ) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let Ok(mut url) = url::Url::parse(&f.redirect_uri) else {
        return consent_error("redirect_uri is not a valid URL.");
    };
    url.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = f.state.filter(|s| !s.is_empty()) {
        url.query_pairs_mut().append_pair("state", &state);
    }
    Redirect::to(url.as_str()).into_response()
}

/// POST /oauth/locationToken (get-location-access-token): agency token -> location token.
pub async fn location_token(
    State(app): State<App>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    caller.require("oauth.write")?;
    if caller.grant.user_type != UserType::Company {
        return Err(ApiError::unauthorized(
            "This route is only accessible with an Agency access token",
        ));
    }
    let (p, _) = read_params(&headers, &body);
    let mut missing = Vec::new();
    for key in ["companyId", "locationId"] {
        if p.get(key).is_none_or(String::is_empty) {
            missing.push(format!("{key} should not be empty"));
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::unprocessable(missing));
    }
    if p["companyId"] != caller.grant.company_id {
        return Err(ApiError::forbidden_location());
    }
    let mut inner = app.shared.lock();
    let location_id = p["locationId"].clone();
    match inner.world.locations.get(&location_id) {
        None => {
            return Err(ApiError::bad_request(format!(
                "Location {location_id} not found"
            )));
        }
        Some(l) if !l.app_installed => {
            return Err(ApiError::bad_request(
                "The app is not installed on this location",
            ));
        }
        Some(_) => {}
    }
    let mut grant = caller.grant;
    grant.user_type = UserType::Location;
    grant.location_id = Some(location_id.clone());
    grant.scopes.retain(|s| !s.starts_with("oauth."));
    let (access, refresh) = issue(&mut inner, grant.clone());
    let app_id = inner.world.app_id().to_owned();
    let body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": inner.rt.access_token_ttl.as_secs(),
        "refresh_token": refresh,
        "scope": grant.scope_string(),
        "locationId": location_id,
        "userType": "Location",
        "companyId": grant.company_id,
        "userId": grant.user_id,
        "planId": Value::Null,
        "appId": app_id,
        "versionId": app_id,
    });
    ok(if wants_v3(&headers, false) {
        camelize(body)
    } else {
        body
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstalledQuery {
    company_id: Option<String>,
    app_id: Option<String>,
    skip: Option<String>,
    limit: Option<String>,
    /// v3 paging: page size and an opaque token (here: the offset).
    page_size: Option<String>,
    page_token: Option<String>,
    is_installed: Option<String>,
    query: Option<String>,
    location_id: Option<String>,
}

/// Checks the agency caller and returns every matching location.
fn installed_matching(
    app: &App,
    caller: &Caller,
    q: &InstalledQuery,
) -> Result<Vec<Value>, ApiError> {
    caller.require("oauth.readonly")?;
    if caller.grant.user_type != UserType::Company {
        return Err(ApiError::unauthorized(
            "This route is only accessible with an Agency access token",
        ));
    }
    let mut missing = Vec::new();
    if q.company_id.is_none() {
        missing.push("companyId should not be empty".to_owned());
    }
    if q.app_id.is_none() {
        missing.push("appId should not be empty".to_owned());
    }
    if !missing.is_empty() {
        return Err(ApiError::unprocessable(missing));
    }
    if q.company_id.as_deref() != Some(caller.grant.company_id.as_str()) {
        return Err(ApiError::forbidden_location());
    }
    let inner = app.shared.lock();
    if q.app_id.as_deref() != Some(inner.world.app_id()) {
        return Err(ApiError::bad_request(
            "appId does not match the token's app",
        ));
    }
    let want = q.is_installed.as_deref().map(|s| s == "true");
    Ok(inner
        .world
        .locations
        .values()
        .filter(|l| want.is_none_or(|w| l.app_installed == w))
        .filter(|l| q.location_id.as_ref().is_none_or(|id| *id == l.id))
        .filter(|l| {
            q.query
                .as_ref()
                .is_none_or(|s| l.name.to_lowercase().contains(&s.to_lowercase()))
        })
        .map(|l| {
            json!({
                "_id": l.id,
                "name": l.name,
                "address": l.address,
                "isInstalled": l.app_installed,
                "installedAt": l.installed_at.map(super::state::iso),
            })
        })
        .collect())
}

/// GET /oauth/installedLocations (get-installed-location): `skip`/`limit` paging.
pub async fn installed_locations(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<InstalledQuery>,
) -> ApiResult {
    let matching = installed_matching(&app, &caller, &q)?;
    let skip = q
        .skip
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0usize);
    let limit = q
        .limit
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20usize)
        .clamp(1, 500);
    let count = matching.len();
    let page: Vec<Value> = matching.into_iter().skip(skip).take(limit).collect();
    ok(json!({"locations": page, "count": count, "installToFutureLocations": true}))
}

/// GET /oauth/installed-locations (v3): `pageSize`/`pageToken` and AIP-158 pagination.
pub async fn installed_locations_v3(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<InstalledQuery>,
) -> ApiResult {
    let matching = installed_matching(&app, &caller, &q)?;
    let size = q
        .page_size
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20usize)
        .clamp(1, 500);
    let offset = q
        .page_token
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0usize);
    let total = matching.len();
    let items: Vec<Value> = matching.into_iter().skip(offset).take(size).collect();
    let has_next = offset + items.len() < total;
    ok(json!({
        "items": items,
        "pagination": {
            "totalRecords": total,
            "hasNextPage": has_next,
            "hasPrevPage": offset > 0,
            "nextPageToken": if has_next { json!((offset + size).to_string()) } else { Value::Null },
            "prevPageToken": if offset > 0 { json!(offset.saturating_sub(size).to_string()) } else { Value::Null },
            "currentPageSize": items.len(),
            "estimatedTotalRecords": total,
        },
        "metadata": {"filterApplied": q.is_installed.is_some() || q.query.is_some(), "sortApplied": false},
        "installToFutureLocations": true,
    }))
}
