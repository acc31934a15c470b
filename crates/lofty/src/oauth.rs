//! Lofty's vendor OAuth 2.0 app.
//!
//! Users approve the app at `vendor-auth.html?clientId=...` and come back to the
//! redirect URI with `?code=...` (or `?error=access_denied`). The code is exchanged at
//! the token endpoint with the client authenticated by HTTP Basic, form-encoded, as
//! the two public vendor implementations do; `refresh_token` and `client_credentials`
//! (with the target user's API key as `customer_key`) use the same endpoint. Both
//! hosts are configurable because Lofty documents two token endpoints
//! ([`DEFAULT_TOKEN_URL`] from the help center, `https://api.lofty.com/oauth/token` from
//! the developer portal).
//!
//! Treat refresh tokens as single use: persist the new one before using the new access
//! token (the sandbox enforces it; Lofty does not document either way).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use url::Url;

use crate::error::{ApiError, LoftyError};

/// Consent page of the help-center flow.
pub const DEFAULT_AUTHORIZE_URL: &str = "https://crm.lofty.com/page/vendor-auth.html";
/// Token endpoint of the help-center flow.
pub const DEFAULT_TOKEN_URL: &str = "https://crm.lofty.com/api/user-web/oauth/token";
/// `expires_in` assumed when the token answer has none.
pub const DEFAULT_EXPIRES_IN: u64 = 3600;

fn secret<'de, D: Deserializer<'de>>(de: D) -> Result<SecretString, D::Error> {
    Ok(SecretString::from(String::deserialize(de)?))
}

fn opt_secret<'de, D: Deserializer<'de>>(de: D) -> Result<Option<SecretString>, D::Error> {
    Ok(Option::<String>::deserialize(de)?
        .filter(|s| !s.is_empty())
        .map(SecretString::from))
}

fn default_expires() -> u64 {
    DEFAULT_EXPIRES_IN
}

/// The token endpoint's answer. Tokens are [`SecretString`]s (redacted in `Debug`).
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    #[serde(deserialize_with = "secret")]
    pub access_token: SecretString,
    #[serde(default, deserialize_with = "opt_secret")]
    pub refresh_token: Option<SecretString>,
    #[serde(default)]
    pub token_type: Option<String>,
    /// Seconds until the access token expires.
    #[serde(default = "default_expires")]
    pub expires_in: u64,
}

/// A Lofty vendor app.
#[derive(Debug, Clone)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: SecretString,
    pub redirect_uri: String,
    /// Consent page (default [`DEFAULT_AUTHORIZE_URL`]).
    pub authorize_url: Url,
    /// Token endpoint (default [`DEFAULT_TOKEN_URL`]).
    pub token_url: Url,
    http: reqwest::Client,
}

impl OAuthApp {
    /// An app with the production endpoints and the workspace's HTTP client.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: SecretString,
        redirect_uri: impl Into<String>,
    ) -> Result<Self, LoftyError> {
        let http = wire::http::try_http_client(wire::http::DEFAULT_TIMEOUT)
            .map_err(|err| LoftyError::transport(None, err))?;
        Ok(Self {
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            // Valid literals: parsing cannot fail.
            authorize_url: Url::parse(DEFAULT_AUTHORIZE_URL).expect("valid authorize URL"),
            token_url: Url::parse(DEFAULT_TOKEN_URL).expect("valid token URL"),
            http,
        })
    }

    /// Uses another token endpoint (the developer-portal one, or the sandbox).
    #[must_use]
    pub fn with_token_url(mut self, url: Url) -> Self {
        self.token_url = url;
        self
    }

    /// Uses another consent page.
    #[must_use]
    pub fn with_authorize_url(mut self, url: Url) -> Self {
        self.authorize_url = url;
        self
    }

    /// Where to send the user; `state` comes back with the code.
    pub fn consent_url(&self, state: &str) -> Url {
        let mut url = self.authorize_url.clone();
        url.query_pairs_mut()
            .append_pair("clientId", &self.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("state", state);
        url
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<TokenResponse, LoftyError> {
        const OP: &str = "lofty-oauth-token";
        let resp = self
            .http
            .post(self.token_url.clone())
            .timeout(Duration::from_secs(30))
            .basic_auth(&self.client_id, Some(self.client_secret.expose_secret()))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(|e| LoftyError::transport(Some(OP), e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| LoftyError::transport(Some(OP), e))?;
        if !(200..300).contains(&status) {
            let mut err = ApiError::from_parts(status, &headers, &bytes);
            err.operation = Some(OP.to_owned());
            return Err(err.into());
        }
        serde_json::from_slice(&bytes).map_err(|e| LoftyError::decode(OP, e))
    }

    /// Exchanges an authorization code.
    pub async fn exchange_code(&self, code: &SecretString) -> Result<TokenResponse, LoftyError> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code.expose_secret()),
            ("redirect_uri", &self.redirect_uri),
            ("client_id", &self.client_id),
        ])
        .await
    }

    /// Refreshes; the answer carries a new refresh token to store.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<TokenResponse, LoftyError> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
        ])
        .await
    }

    /// Server-to-server: a token acting as the user whose API key is `customer_key`.
    pub async fn client_credentials(
        &self,
        customer_key: &SecretString,
    ) -> Result<TokenResponse, LoftyError> {
        self.token(&[
            ("grant_type", "client_credentials"),
            ("customer_key", customer_key.expose_secret()),
        ])
        .await
    }
}
