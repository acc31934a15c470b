//! OAuth 2.0 client credentials against the tenant's Keycloak realm.
//!
//! Lytho issues a client id (`wf-oa-...`) and secret per tenant ("Account Settings >
//! Open API"). The token URL is tenant-specific:
//! `https://login.us-1.lytho.us/auth/realms/{tenant}/protocol/openid-connect/token`.
//! The client authenticates with HTTP Basic and posts `grant_type=client_credentials`
//! as a form; the answer is Keycloak's `{access_token, expires_in, token_type, ...}`.
//! There is no refresh token: a new token is simply requested.
//!
//! [`TokenProvider`] caches the token and fetches a new one shortly before it
//! expires (60 s before, or half the lifetime for short-lived tokens), and again when
//! the API rejects the cached one with 401. Concurrent callers share one fetch: the
//! cache sits behind an async mutex held across the token request (never a `std`
//! mutex across `.await`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::error::{ApiError, LythoError};

/// Keycloak host of Lytho Workflow (US).
pub const DEFAULT_AUTH_BASE: &str = "https://login.us-1.lytho.us";

/// How long before expiry a cached token is replaced.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Operation name used in errors of the token endpoint.
pub const TOKEN_OPERATION: &str = "lytho-token";

/// The token URL of a tenant on Lytho's production Keycloak.
pub fn token_url_for(tenant: &str) -> Result<Url, LythoError> {
    let mut url = Url::parse(DEFAULT_AUTH_BASE)
        .map_err(|e| LythoError::InvalidInput(format!("auth base: {e}")))?;
    url.path_segments_mut()
        .map_err(|()| LythoError::InvalidInput("auth base cannot have a path".to_owned()))?
        .extend([
            "auth",
            "realms",
            tenant,
            "protocol",
            "openid-connect",
            "token",
        ]);
    Ok(url)
}

/// What the token endpoint needs.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    /// The tenant's token URL.
    pub token_url: Url,
    /// `wf-oa-...`.
    pub client_id: String,
    /// Shown once in Lytho's settings; never logged.
    pub client_secret: SecretString,
}

/// The token endpoint's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    #[serde(deserialize_with = "secret")]
    pub access_token: SecretString,
    /// Lifetime in seconds.
    #[serde(default)]
    pub expires_in: u64,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

fn secret<'de, D: Deserializer<'de>>(de: D) -> Result<SecretString, D::Error> {
    Ok(SecretString::from(String::deserialize(de)?))
}

#[derive(Debug)]
struct Cached {
    token: SecretString,
    /// When to fetch a new one (before `expires_at`).
    refresh_at: Instant,
}

/// Fetches and caches client-credentials tokens. Share one per connection (it is
/// `Send + Sync`; the client holds it in an `Arc`).
#[derive(Debug)]
pub struct TokenProvider {
    http: reqwest::Client,
    credentials: ClientCredentials,
    timeout: Duration,
    margin: Duration,
    cache: Mutex<Option<Cached>>,
    fetches: AtomicU64,
}

impl TokenProvider {
    /// A provider using `http` (from [`wire::http`]) with a per-request timeout.
    pub fn new(credentials: ClientCredentials, http: reqwest::Client, timeout: Duration) -> Self {
        Self {
            http,
            credentials,
            timeout,
            margin: DEFAULT_REFRESH_MARGIN,
            cache: Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    /// Replaces tokens this long before they expire (capped at half the lifetime).
    #[must_use]
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.credentials.client_id
    }

    /// The token URL.
    pub fn token_url(&self) -> &Url {
        &self.credentials.token_url
    }

    /// How many tokens this provider fetched.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// A valid access token: the cached one, or a new one when there is none or it
    /// is about to expire.
    pub async fn access_token(&self) -> Result<SecretString, LythoError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let fresh = self.store(&mut cache).await?;
        Ok(fresh)
    }

    /// Called after the API answered 401 to `rejected`: fetches a new token unless
    /// another caller already replaced it, and returns the token to retry with.
    pub async fn renew_after_rejection(
        &self,
        rejected: &SecretString,
    ) -> Result<SecretString, LythoError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && c.token.expose_secret() != rejected.expose_secret()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        self.store(&mut cache).await
    }

    /// Forgets the cached token (the next call fetches one).
    pub async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }

    async fn store(&self, cache: &mut Option<Cached>) -> Result<SecretString, LythoError> {
        let started = Instant::now();
        let resp = self.fetch().await?;
        let lifetime = Duration::from_secs(resp.expires_in);
        let margin = self.margin.min(lifetime / 2);
        let token = resp.access_token.clone();
        *cache = Some(Cached {
            token: resp.access_token,
            refresh_at: started + lifetime.saturating_sub(margin),
        });
        Ok(token)
    }

    /// Requests a new token from the endpoint (no cache involved).
    pub async fn fetch(&self) -> Result<TokenResponse, LythoError> {
        let c = &self.credentials;
        let resp = self
            .http
            .post(c.token_url.clone())
            .timeout(self.timeout)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .basic_auth(&c.client_id, Some(c.client_secret.expose_secret()))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map_err(|e| LythoError::transport(Some(TOKEN_OPERATION), e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| LythoError::transport(Some(TOKEN_OPERATION), e))?;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(status = status.as_u16(), "LythoTokenFetched");
        if !status.is_success() {
            let mut err = ApiError::from_parts(status.as_u16(), &headers, &bytes);
            err.operation = Some(TOKEN_OPERATION.to_owned());
            return Err(LythoError::Token(Box::new(err)));
        }
        let token: TokenResponse =
            serde_json::from_slice(&bytes).map_err(|e| LythoError::decode(TOKEN_OPERATION, e))?;
        if token.access_token.expose_secret().is_empty() {
            return Err(LythoError::decode(TOKEN_OPERATION, "empty access_token"));
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_token_url() {
        assert_eq!(
            token_url_for("acme").unwrap().as_str(),
            "https://login.us-1.lytho.us/auth/realms/acme/protocol/openid-connect/token"
        );
        assert_eq!(
            token_url_for("a/b").unwrap().path(),
            "/auth/realms/a%2Fb/protocol/openid-connect/token"
        );
    }
}
