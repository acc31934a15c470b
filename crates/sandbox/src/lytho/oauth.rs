//! The tenant's Keycloak token endpoint:
//! `POST /auth/realms/{tenant}/protocol/openid-connect/token` with the OAuth 2.0
//! client-credentials grant. The client authenticates with HTTP Basic
//! (`client_secret_basic`, what Lytho's docs show) or with `client_id` and
//! `client_secret` form fields (`client_secret_post`, which Keycloak also takes).
//! Answers use Keycloak's OAuth error shape `{error, error_description}`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Utc;
use rand::RngCore;
use serde_json::{Value, json};

use super::state::{Grant, Inner, Shared};

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [("cache-control", "no-store")],
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

const INVALID_CLIENT: &str = "Invalid client or Invalid client credentials";

/// `client_id:client_secret` from a Basic header (each part form-urlencoded, as
/// RFC 6749 section 2.3.1 asks).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

/// A token shaped like Keycloak's (a JWT: three base64url parts). Opaque to
/// clients; the emulator only looks it up.
fn mint(inner: &Inner, origin: &str, client_id: &str, ttl_secs: i64) -> String {
    let mut rng = rand::rng();
    let mut jti = [0u8; 16];
    rng.fill_bytes(&mut jti);
    let mut sig = [0u8; 32];
    rng.fill_bytes(&mut sig);
    let now = Utc::now().timestamp();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT","kid":"sandbox"}"#);
    let payload = json!({
        "exp": now + ttl_secs,
        "iat": now,
        "jti": URL_SAFE_NO_PAD.encode(jti),
        "iss": format!("{origin}/auth/realms/{}", inner.world.tenant),
        "aud": "account",
        "typ": "Bearer",
        "azp": client_id,
        "scope": "profile email",
        "clientId": client_id,
    });
    format!(
        "{header}.{}.{}",
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

/// POST /auth/realms/{tenant}/protocol/openid-connect/token
pub async fn token(
    State(shared): State<Arc<Shared>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = shared.lock();
    let reject = |inner: &mut Inner, status, error: &str, description: &str| {
        inner.rt.counters.token_rejected += 1;
        oauth_error(status, error, description)
    };
    if tenant != inner.world.tenant {
        inner.rt.counters.token_rejected += 1;
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "Realm does not exist", "error_description": "Realm does not exist"})),
        )
            .into_response();
    }
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return reject(
            &mut inner,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let Some(grant_type) = field("grant_type") else {
        return reject(
            &mut inner,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing form parameter: grant_type",
        );
    };
    let credentials = basic_credentials(&headers)
        .or_else(|| field("client_id").map(|id| (id, field("client_secret").unwrap_or_default())));
    let Some((client_id, secret)) = credentials else {
        return reject(
            &mut inner,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            INVALID_CLIENT,
        );
    };
    if client_id != inner.world.client_id {
        return reject(
            &mut inner,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            INVALID_CLIENT,
        );
    }
    if secret != inner.world.client_secret {
        return reject(
            &mut inner,
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            INVALID_CLIENT,
        );
    }
    if grant_type != "client_credentials" {
        return reject(
            &mut inner,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant_type",
        );
    }
    let ttl = i64::try_from(inner.rt.token_ttl.as_secs()).unwrap_or(300);
    let access = mint(&inner, &shared.origin, &client_id, ttl);
    let expires_at = Utc::now()
        + chrono::Duration::from_std(inner.rt.token_ttl).unwrap_or(chrono::Duration::minutes(5));
    inner.world.tokens.insert(
        access.clone(),
        Grant {
            client_id,
            expires_at,
            revoked: false,
        },
    );
    // Forget tokens long expired, so the map does not grow without bound.
    let horizon = Utc::now() - chrono::Duration::hours(1);
    inner.world.tokens.retain(|_, g| g.expires_at > horizon);
    inner.rt.counters.tokens_issued += 1;
    inner.rt.dirty = true;
    let body: Value = json!({
        "access_token": access,
        "expires_in": ttl,
        "refresh_expires_in": 0,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "scope": "profile email",
    });
    (
        StatusCode::OK,
        [("cache-control", "no-store"), ("pragma", "no-cache")],
        Json(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn basic_credentials_are_decoded() {
        let mut headers = HeaderMap::new();
        let raw = STANDARD.encode("wf-oa-abc:s%3Acret");
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Basic {raw}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("wf-oa-abc".to_owned(), "s:cret".to_owned()))
        );
        headers.insert("authorization", HeaderValue::from_static("Bearer x"));
        assert_eq!(basic_credentials(&headers), None);
    }
}
