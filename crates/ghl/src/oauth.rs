//! The HighLevel marketplace OAuth 2.0 app.
//!
//! [`OAuthApp`] holds the app's credentials and builds the consent URL
//! (`{auth_base}/v2/oauth/chooselocation?...`), exchanges authorization codes, refreshes
//! tokens, mints location tokens from agency tokens and lists installed locations. The
//! HTTP calls go through [`GhlClient`] and the [operations table](crate::operations), so
//! they share its error handling.
//!
//! Refresh tokens are **single use**: every refresh returns a new refresh token and the
//! old one stops working. Callers must persist the new one before using the new access
//! token, and must never refresh the same token twice concurrently (the store serialises
//! refreshes; this module does not).

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::client::{GhlClient, GhlConfig};
use crate::error::GhlError;
use crate::models::{
    GrantType, InstalledLocations, InstalledLocationsQuery, LocationTokenResponse, TokenRequest,
    TokenResponse, UserType,
};

/// Consent host of the HighLevel marketplace.
pub const DEFAULT_AUTH_BASE: &str = "https://marketplace.gohighlevel.com";

/// Consent host for white-label agencies.
pub const WHITE_LABEL_AUTH_BASE: &str = "https://marketplace.leadconnectorhq.com";

/// The app id of a marketplace client id: the part before the first `-`
/// (`<24-hex app id>-<suffix>`).
pub fn app_id(client_id: &str) -> &str {
    client_id.split('-').next().unwrap_or(client_id)
}

/// A marketplace OAuth app.
#[derive(Debug, Clone)]
pub struct OAuthApp {
    /// Client id from the marketplace.
    pub client_id: String,
    /// Client secret.
    pub client_secret: SecretString,
    /// Redirect URI registered for the app.
    pub redirect_uri: String,
    /// Where users consent (default [`DEFAULT_AUTH_BASE`]).
    pub auth_base: Url,
    /// API base for the token endpoints (default [`crate::DEFAULT_BASE_URL`]).
    pub api_base: Url,
    /// Timeout of the token calls.
    pub timeout: Duration,
    http: reqwest::Client,
}

impl OAuthApp {
    /// An app with the production hosts.
    ///
    /// # Panics
    ///
    /// If the TLS backend cannot be initialised (see [`crate::http::http_client`]).
    pub fn new(
        client_id: impl Into<String>,
        client_secret: SecretString,
        redirect_uri: impl Into<String>,
    ) -> Self {
        let timeout = crate::http::DEFAULT_TIMEOUT;
        Self {
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            // Valid literals: parsing cannot fail.
            auth_base: Url::parse(DEFAULT_AUTH_BASE).expect("valid auth base"),
            api_base: crate::client::default_base_url(),
            timeout,
            http: crate::http::http_client(timeout),
        }
    }

    /// Uses another consent host (white label, sandbox).
    #[must_use]
    pub fn with_auth_base(mut self, auth_base: Url) -> Self {
        self.auth_base = auth_base;
        self
    }

    /// Uses the white-label consent host.
    #[must_use]
    pub fn white_label(self) -> Self {
        // Valid literal: parsing cannot fail.
        self.with_auth_base(Url::parse(WHITE_LABEL_AUTH_BASE).expect("valid auth base"))
    }

    /// Uses another API host (sandbox).
    #[must_use]
    pub fn with_api_base(mut self, api_base: Url) -> Self {
        self.api_base = api_base;
        self
    }

    /// Shares an HTTP client from the [`http`](crate::http) factory.
    #[must_use]
    pub fn with_http(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// The app id (client id before the first `-`).
    pub fn app_id(&self) -> &str {
        app_id(&self.client_id)
    }

    /// The consent URL to send a user to. `scopes` are joined with spaces.
    pub fn authorize_url(&self, scopes: &[&str], state: &str) -> Url {
        let mut url = self.auth_base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend(["v2", "oauth", "chooselocation"]);
        }
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", &self.redirect_uri)
                .append_pair("client_id", &self.client_id)
                .append_pair("scope", &scopes.join(" "));
            if !state.is_empty() {
                query.append_pair("state", state);
            }
        }
        url
    }

    fn client(&self, token: SecretString) -> GhlClient {
        let config = GhlConfig {
            base_url: self.api_base.clone(),
            token,
            timeout: self.timeout,
            location_id: None,
        };
        GhlClient::with_http(config, self.http.clone())
    }

    fn token_request(&self, grant_type: GrantType, user_type: Option<UserType>) -> TokenRequest {
        TokenRequest {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            grant_type,
            code: None,
            refresh_token: None,
            user_type,
            // Only the code exchange needs to repeat the redirect URI.
            redirect_uri: (grant_type == GrantType::AuthorizationCode)
                .then(|| self.redirect_uri.clone()),
        }
    }

    /// Exchanges the `code` of the OAuth callback for tokens.
    pub async fn exchange_code(
        &self,
        code: &str,
        user_type: Option<UserType>,
    ) -> Result<TokenResponse, GhlError> {
        let mut req = self.token_request(GrantType::AuthorizationCode, user_type);
        req.code = Some(SecretString::from(code));
        self.client(SecretString::default())
            .get_access_token(&req)
            .await
    }

    /// Exchanges a refresh token (single use) for new tokens.
    pub async fn refresh(
        &self,
        refresh_token: &SecretString,
        user_type: Option<UserType>,
    ) -> Result<TokenResponse, GhlError> {
        let mut req = self.token_request(GrantType::RefreshToken, user_type);
        req.refresh_token = Some(refresh_token.clone());
        self.client(SecretString::default())
            .get_access_token(&req)
            .await
    }

    /// Mints a location token from an agency token (`POST /oauth/locationToken`).
    pub async fn location_token(
        &self,
        agency_token: &SecretString,
        company_id: &str,
        location_id: &str,
    ) -> Result<LocationTokenResponse, GhlError> {
        self.client(agency_token.clone())
            .location_token(company_id, location_id)
            .await
    }

    /// One page of the locations where the app is (or can be) installed.
    pub async fn installed_locations(
        &self,
        agency_token: &SecretString,
        company_id: &str,
        app_id: &str,
        skip: Option<u32>,
        limit: Option<u32>,
        is_installed: Option<bool>,
    ) -> Result<InstalledLocations, GhlError> {
        let query = InstalledLocationsQuery {
            company_id: company_id.to_owned(),
            app_id: app_id.to_owned(),
            skip,
            limit,
            is_installed,
            ..Default::default()
        };
        self.client(agency_token.clone())
            .installed_locations(&query)
            .await
    }

    /// A [`GhlClient`] acting with an agency token (for paging installed locations).
    pub fn agency_client(&self, agency_token: &SecretString) -> GhlClient {
        self.client(agency_token.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_id_is_prefix() {
        assert_eq!(
            app_id("685b47db98d007215e2760c0-mcblfc4t"),
            "685b47db98d007215e2760c0"
        );
        assert_eq!(app_id("plain"), "plain");
    }

    #[test]
    fn authorize_url_shape() {
        let app = OAuthApp::new(
            "abc-def",
            SecretString::from("s"),
            "https://sync.example.com/oauth/callback/ghl",
        );
        let url = app.authorize_url(&["contacts.readonly", "contacts.write"], "st8");
        assert_eq!(
            url.as_str(),
            "https://marketplace.gohighlevel.com/v2/oauth/chooselocation?response_type=code\
             &redirect_uri=https%3A%2F%2Fsync.example.com%2Foauth%2Fcallback%2Fghl\
             &client_id=abc-def&scope=contacts.readonly+contacts.write&state=st8"
        );
        let wl = app.white_label().authorize_url(&["contacts.readonly"], "");
        assert!(
            wl.as_str()
                .starts_with("https://marketplace.leadconnectorhq.com/v2/oauth/chooselocation?")
        );
        assert!(!wl.as_str().contains("state="));
        assert!(!format!("{wl:?}").is_empty());
    }
}
