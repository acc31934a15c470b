//! Admin authentication: a bearer token (for the CLI and scripts) or a session
//! cookie obtained by posting that token to `/login` (for the browser).
//!
//! A session cookie is `<expiry ms>.<session id>.<HMAC-SHA256>` keyed by the admin
//! token: any server instance sharing the token accepts it, it survives restarts,
//! and changing the admin token ends every session.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

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
#[derive(Debug)]
pub struct AdminAuth {
    token: SecretString,
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without leaking where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

impl AdminAuth {
    pub fn new(token: SecretString) -> Self {
        Self { token }
    }

    pub fn check_token(&self, candidate: &str) -> bool {
        same(candidate.as_bytes(), self.token.expose_secret().as_bytes())
    }

    fn sign(&self, expires: u128, id: &str) -> String {
        let message = format!("ghlsync-session.{expires}.{id}");
        hex(&hmac_sha256(
            self.token.expose_secret().as_bytes(),
            message.as_bytes(),
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
        (same(mac.as_bytes(), self.sign(expires, id).as_bytes()) && expires > now_ms())
            .then(|| id.to_owned())
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
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
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
