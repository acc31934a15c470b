//! Admin authentication: a bearer token (for the CLI and scripts) or a session
//! cookie obtained by posting that token to `/login` (for the browser).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

/// Cookie carrying the admin session id.
pub const SESSION_COOKIE: &str = "ghlsync_session";
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admin {
    /// A browser session (its id).
    Session(String),
    /// A bearer-token caller (CLI).
    Bearer,
}

/// The admin token and live sessions.
#[derive(Debug)]
pub struct AdminAuth {
    token: SecretString,
    sessions: Mutex<HashMap<String, Instant>>,
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without leaking where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl AdminAuth {
    pub fn new(token: SecretString) -> Self {
        Self {
            token,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    pub fn check_token(&self, candidate: &str) -> bool {
        same(candidate.as_bytes(), self.token.expose_secret().as_bytes())
    }

    /// Opens a session for a correct token.
    pub fn login(&self, candidate: &str) -> Option<String> {
        if !self.check_token(candidate) {
            return None;
        }
        let id = random_token();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, t| t.elapsed() < SESSION_TTL);
        sessions.insert(id.clone(), Instant::now());
        Some(id)
    }

    /// The session id in the request's cookie, if it is live.
    pub fn session(&self, headers: &HeaderMap) -> Option<String> {
        let cookies = headers.get("cookie")?.to_str().ok()?;
        let id = cookies
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == SESSION_COOKIE)
            .map(|(_, v)| v.to_owned())?;
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions
            .get(&id)
            .filter(|t| t.elapsed() < SESSION_TTL)
            .map(|_| id)
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
