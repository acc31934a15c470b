//! The vendor OAuth server: `GET /page/vendor-auth.html` (consent, approved at once)
//! and the token endpoint, served at both documented paths (`/oauth/token` and
//! `/api/user-web/oauth/token`).
//!
//! The token endpoint takes a form or JSON body, with the client authenticated by
//! `Authorization: Basic base64(client_id:client_secret)` or by `client_id` +
//! `client_secret` fields. Grants: `authorization_code` (`code`, `redirect_uri` must
//! match the one the code was issued for), `refresh_token` (single use: each refresh
//! returns a new refresh token), and `client_credentials` with `customer_key` (the
//! target user's personal API key). Answers `{access_token, refresh_token, token_type,
//! expires_in}`; failures are RFC 6749 `{error, error_description}`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query as AxumQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use serde_json::{Value, json};

use super::App;
use super::state::{Inner, OAuthGrant, now_ms};

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// A random opaque token with a prefix.
pub fn mint(inner: &mut Inner, prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    inner.rt.rng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

/// Issues an access + refresh token pair for `grant`; returns the token response.
pub fn issue(inner: &mut Inner, grant: &OAuthGrant) -> Value {
    let ttl = inner.rt.access_token_ttl_secs;
    let access = mint(inner, "lofty-at-");
    let refresh = mint(inner, "lofty-rt-");
    let expires = now_ms() + i64::try_from(ttl.saturating_mul(1000)).unwrap_or(i64::MAX / 2);
    let access_grant = OAuthGrant {
        expires_ms: Some(expires),
        used: false,
        revoked: false,
        ..grant.clone()
    };
    inner.world.tokens.insert(access.clone(), access_grant);
    inner.world.refresh_tokens.insert(
        refresh.clone(),
        OAuthGrant {
            expires_ms: None,
            used: false,
            revoked: false,
            ..grant.clone()
        },
    );
    inner.rt.dirty = true;
    json!({
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": ttl,
    })
}

/// `GET /page/vendor-auth.html?clientId=..&redirect_uri=..&state=..`: the account
/// owner approves at once; redirects with `code` and `state`.
pub async fn consent(
    State(app): State<App>,
    AxumQuery(q): AxumQuery<HashMap<String, String>>,
) -> Response {
    let client = q.get("clientId").or_else(|| q.get("client_id"));
    let mut inner = app.shared.lock();
    if client != Some(&inner.world.app.client_id) {
        return (StatusCode::BAD_REQUEST, "Unknown clientId").into_response();
    }
    let Some(redirect) = q.get("redirect_uri").filter(|r| url::Url::parse(r).is_ok()) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri is required").into_response();
    };
    let code = mint(&mut inner, "lofty-code-");
    let admin = inner.world.admin().member_user_id;
    inner.world.codes.insert(
        code.clone(),
        OAuthGrant {
            member_user_id: admin,
            apis: None,
            expires_ms: Some(now_ms() + 600_000),
            revoked: false,
            used: false,
            redirect_uri: Some(redirect.clone()),
        },
    );
    inner.rt.dirty = true;
    let Ok(mut target) = url::Url::parse(redirect) else {
        return (StatusCode::BAD_REQUEST, "bad redirect_uri").into_response();
    };
    target.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = q.get("state") {
        target.query_pairs_mut().append_pair("state", state);
    }
    Redirect::to(target.as_str()).into_response()
}

/// Fields of a form or JSON token request.
fn fields(headers: &HeaderMap, body: &[u8]) -> HashMap<String, String> {
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if json {
        serde_json::from_slice::<serde_json::Map<String, Value>>(body)
            .map(|m| {
                m.into_iter()
                    .filter_map(|(k, v)| match v {
                        Value::String(s) => Some((k, s)),
                        Value::Null => None,
                        other => Some((k, other.to_string())),
                    })
                    .collect()
            })
            .unwrap_or_default()
    } else {
        serde_urlencoded::from_bytes(body).unwrap_or_default()
    }
}

/// `client_id`/`client_secret` from Basic auth or the body.
fn client(headers: &HeaderMap, f: &HashMap<String, String>) -> Option<(String, String)> {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())));
    basic.or_else(|| Some((f.get("client_id")?.clone(), f.get("client_secret")?.clone())))
}

/// `POST /oauth/token` and `POST /api/user-web/oauth/token`.
pub async fn token(
    State(app): State<App>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let f = fields(&headers, &body);
    let mut inner = app.shared.lock();
    let app_creds = (
        inner.world.app.client_id.clone(),
        inner.world.app.client_secret.clone(),
    );
    match client(&headers, &f) {
        Some(c) if c == app_creds => {}
        _ => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed.",
            );
        }
    }
    let now = now_ms();
    let grant = match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let code = f.get("code").cloned().unwrap_or_default();
            let Some(g) = inner.world.codes.get_mut(&code) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Unknown code.");
            };
            if g.used || g.revoked || g.expires_ms.is_some_and(|t| t <= now) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The code is expired or was already used.",
                );
            }
            if g.redirect_uri.is_some() && g.redirect_uri.as_ref() != f.get("redirect_uri") {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri does not match.",
                );
            }
            g.used = true;
            g.clone()
        }
        Some("refresh_token") => {
            let token = f.get("refresh_token").cloned().unwrap_or_default();
            let Some(g) = inner.world.refresh_tokens.get_mut(&token) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Unknown refresh token.",
                );
            };
            if g.used || g.revoked {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The refresh token was already used or revoked.",
                );
            }
            g.used = true;
            g.clone()
        }
        Some("client_credentials") => {
            let key = f.get("customer_key").cloned().unwrap_or_default();
            match inner.world.api_keys.get(&key) {
                Some(k) if !k.revoked => OAuthGrant {
                    member_user_id: k.member_user_id,
                    apis: None,
                    expires_ms: None,
                    revoked: false,
                    used: false,
                    redirect_uri: None,
                },
                _ => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "customer_key is not a valid API key.",
                    );
                }
            }
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code, refresh_token or client_credentials.",
            );
        }
    };
    let out = issue(&mut inner, &grant);
    (StatusCode::OK, Json(out)).into_response()
}
