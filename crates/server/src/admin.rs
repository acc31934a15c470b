//! Admin authentication: a bearer token (for the CLI and scripts) or a session
//! cookie obtained by posting that token to `/login` (for the browser).
//!
//! A session cookie is `<expiry ms>.<session id>.<HMAC-SHA256>` keyed by the admin
//! token: any server instance sharing the token accepts it, it survives restarts,
//! and changing the admin token ends every session.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};

use crate::AppState;
use crate::error::ApiError;

/// Cookie carrying the admin session.
pub const SESSION_COOKIE: &str = "ghlsync_session";
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admin {
    /// A browser session (its id).
    Session(String),
    /// A bearer-token caller (CLI).
    Bearer,
}

/// The admin token, which also signs session cookies.
pub struct AdminAuth {
    /// HMAC-SHA256 key of session cookies: the admin token itself, so every instance
    /// sharing the token accepts the cookie and a new token ends every session.
    signing: hmac::Key,
    /// A random per-process key: candidate tokens are compared through their MAC under
    /// it, so the comparison takes the same time wherever they differ.
    compare: hmac::Key,
    token_tag: hmac::Tag,
}

impl std::fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminAuth").finish_non_exhaustive()
    }
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

impl AdminAuth {
    pub fn new(token: SecretString) -> Self {
        let signing = hmac::Key::new(hmac::HMAC_SHA256, token.expose_secret().as_bytes());
        let mut random = [0u8; 32];
        rand::rng().fill_bytes(&mut random);
        let compare = hmac::Key::new(hmac::HMAC_SHA256, &random);
        let token_tag = hmac::sign(&compare, token.expose_secret().as_bytes());
        Self {
            signing,
            compare,
            token_tag,
        }
    }

    pub fn check_token(&self, candidate: &str) -> bool {
        hmac::verify(&self.compare, candidate.as_bytes(), self.token_tag.as_ref()).is_ok()
    }

    fn message(expires: u128, id: &str) -> String {
        format!("ghlsync-session.{expires}.{id}")
    }

    fn sign(&self, expires: u128, id: &str) -> String {
        hex::encode(hmac::sign(
            &self.signing,
            Self::message(expires, id).as_bytes(),
        ))
    }

    /// Opens a session for a correct token: the cookie value to set.
    pub fn login(&self, candidate: &str) -> Option<String> {
        if !self.check_token(candidate) {
            return None;
        }
        let expires = now_ms() + SESSION_TTL.as_millis();
        let id = random_token();
        let mac = self.sign(expires, &id);
        Some(format!("{expires}.{id}.{mac}"))
    }

    /// The session id in the request's cookie, if the cookie is ours and live.
    pub fn session(&self, headers: &HeaderMap) -> Option<String> {
        let cookies = headers.get("cookie")?.to_str().ok()?;
        let value = cookies
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == SESSION_COOKIE)
            .map(|(_, v)| v)?;
        let mut parts = value.splitn(3, '.');
        let (expires, id, mac) = (parts.next()?, parts.next()?, parts.next()?);
        let expires: u128 = expires.parse().ok()?;
        let mac = hex::decode(mac).ok()?;
        let genuine =
            hmac::verify(&self.signing, Self::message(expires, id).as_bytes(), &mac).is_ok();
        (genuine && expires > now_ms()).then(|| id.to_owned())
    }

    /// The caller, if authenticated by bearer token or session cookie.
    pub fn caller(&self, headers: &HeaderMap) -> Option<Admin> {
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if let Some(t) = bearer {
            return self.check_token(t.trim()).then_some(Admin::Bearer);
        }
        self.session(headers).map(Admin::Session)
    }
}

/// Whether the caller asked for JSON (the CLI, scripts).
pub fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"))
}

/// An authenticated admin: handlers that take this extractor run only for a caller
/// with the admin token (bearer) or a live session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminCaller(pub Admin);

/// Why an [`AdminCaller`] was refused: API callers (`/api/...`, `Accept: JSON`, a
/// bearer header) get a 401; a browser is sent to the login page and back.
#[derive(Debug)]
pub enum AdminRejection {
    Unauthorized,
    Login { next: String },
}

impl IntoResponse for AdminRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized => ApiError::unauthorized().into_response(),
            Self::Login { next } => {
                // Encoded for a query value; slashes stay readable.
                let next = url::form_urlencoded::byte_serialize(next.as_bytes())
                    .collect::<String>()
                    .replace("%2F", "/");
                Redirect::to(&format!("/login?next={next}")).into_response()
            }
        }
    }
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = AdminRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(admin) = state.admin.caller(&parts.headers) {
            return Ok(Self(admin));
        }
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |u| u.0.clone());
        let api = uri.path().starts_with("/api/")
            || wants_json(&parts.headers)
            || parts.headers.contains_key("authorization");
        if api {
            Err(AdminRejection::Unauthorized)
        } else {
            let next = uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
            Err(AdminRejection::Login { next })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "cookie",
            HeaderValue::from_str(&format!("other=1; {SESSION_COOKIE}={value}")).unwrap(),
        );
        h
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        let mac = hmac::sign(&key, b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn session_cookies_are_signed_by_the_admin_token() {
        let auth = AdminAuth::new(SecretString::from("admin-token".to_owned()));
        assert_eq!(auth.login("wrong"), None);
        let cookie = auth.login("admin-token").unwrap();
        assert!(!cookie.contains("admin-token"));
        let id = auth.session(&with_cookie(&cookie)).expect("a live session");
        assert_eq!(
            auth.caller(&with_cookie(&cookie)),
            Some(Admin::Session(id.clone()))
        );
        // Another instance with the same token accepts it.
        let twin = AdminAuth::new(SecretString::from("admin-token".to_owned()));
        assert_eq!(twin.session(&with_cookie(&cookie)), Some(id.clone()));
        // A new admin token ends it.
        let rotated = AdminAuth::new(SecretString::from("new-token".to_owned()));
        assert_eq!(rotated.session(&with_cookie(&cookie)), None);
        // Tampering: a later expiry, another id, a cut MAC.
        let (expires, rest) = cookie.split_once('.').unwrap();
        let later = format!("{}.{rest}", expires.parse::<u128>().unwrap() + 1);
        assert_eq!(auth.session(&with_cookie(&later)), None);
        let other_id = cookie.replacen(&id, &random_token(), 1);
        assert!(auth.check_token("admin-token") && !auth.check_token("admin-tokeN"));
        assert!(!auth.check_token("") && !auth.check_token("admin-token "));
        assert_eq!(auth.session(&with_cookie(&other_id)), None);
        assert_eq!(
            auth.session(&with_cookie(&cookie[..cookie.len() - 2])),
            None
        );
        // Expired.
        let past = 1_000u128;
        let stale = format!("{past}.{id}.{}", auth.sign(past, &id));
        assert_eq!(auth.session(&with_cookie(&stale)), None);
    }
}
