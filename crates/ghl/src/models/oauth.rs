//! OAuth token bodies and installed-location lists.
//!
//! Token fields are [`SecretString`]: their `Debug` prints `[REDACTED]`, and reading them
//! needs an explicit `expose_secret()`. [`TokenResponse`] is therefore not `Serialize`;
//! store tokens through the vault, field by field.

use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};

use super::common::{Extra, nullable};

/// `user_type` of the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum UserType {
    /// Agency-level token.
    Company,
    /// Sub-account (location) token.
    Location,
}

impl UserType {
    /// Wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Company => "Company",
            Self::Location => "Location",
        }
    }
}

/// `grant_type` of the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// Exchange an authorization code.
    AuthorizationCode,
    /// Exchange a refresh token (single use: store the new one).
    RefreshToken,
    /// Client credentials.
    ClientCredentials,
}

impl GrantType {
    /// Wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
        }
    }
}

/// Form of `POST /oauth/token`. Secrets are exposed only when the form is encoded.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// App client id.
    pub client_id: String,
    /// App client secret.
    pub client_secret: SecretString,
    /// Grant.
    pub grant_type: GrantType,
    /// Authorization code (authorization_code grant).
    pub code: Option<SecretString>,
    /// Refresh token (refresh_token grant).
    pub refresh_token: Option<SecretString>,
    /// Token type to request.
    pub user_type: Option<UserType>,
    /// Redirect URI used in the consent step.
    pub redirect_uri: Option<String>,
}

fn secret<'de, D: Deserializer<'de>>(de: D) -> Result<SecretString, D::Error> {
    Ok(SecretString::from(String::deserialize(de)?))
}

fn opt_secret<'de, D: Deserializer<'de>>(de: D) -> Result<Option<SecretString>, D::Error> {
    Ok(Option::<String>::deserialize(de)?
        .filter(|s| !s.is_empty())
        .map(SecretString::from))
}

fn empty_secret() -> SecretString {
    SecretString::from(String::new())
}

/// Answer of `POST /oauth/token`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct TokenResponse {
    /// Access token (about 24 h).
    #[serde(deserialize_with = "secret")]
    #[schemars(with = "String")]
    pub access_token: SecretString,
    /// `Bearer`.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Lifetime in seconds (86399 in practice).
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// The new refresh token. Refresh tokens are single use: always store this one.
    #[serde(default, deserialize_with = "opt_secret")]
    #[schemars(with = "Option<String>")]
    pub refresh_token: Option<SecretString>,
    /// Granted scopes, space separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// `Location` or `Company`.
    #[serde(default, rename = "userType")]
    pub user_type: Option<String>,
    /// Location of a sub-account token.
    #[serde(default, rename = "locationId")]
    pub location_id: Option<String>,
    /// Company (agency).
    #[serde(default, rename = "companyId")]
    pub company_id: Option<String>,
    /// Locations approved in a bulk install.
    #[serde(default, rename = "approvedLocations", deserialize_with = "nullable")]
    pub approved_locations: Vec<String>,
    /// User who installed.
    #[serde(default, rename = "userId")]
    pub user_id: Option<String>,
    /// Marketplace plan.
    #[serde(default, rename = "planId")]
    pub plan_id: Option<String>,
    /// Installed on several locations at once.
    #[serde(default, rename = "isBulkInstallation")]
    pub is_bulk_installation: Option<bool>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

impl TokenResponse {
    /// Space-separated scopes as a list.
    pub fn scopes(&self) -> Vec<&str> {
        self.scope
            .as_deref()
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default()
    }
}

/// Answer of `POST /oauth/locationToken`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct LocationTokenResponse {
    /// Sub-account access token.
    #[serde(deserialize_with = "secret", default = "empty_secret")]
    #[schemars(with = "String")]
    pub access_token: SecretString,
    /// `Bearer`.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Lifetime in seconds.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// Refresh token (real answers carry one though the v2 spec omits it).
    #[serde(default, deserialize_with = "opt_secret")]
    #[schemars(with = "Option<String>")]
    pub refresh_token: Option<SecretString>,
    /// Granted scopes, space separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// Location.
    #[serde(default, rename = "locationId")]
    pub location_id: Option<String>,
    /// Marketplace plan.
    #[serde(default, rename = "planId")]
    pub plan_id: Option<String>,
    /// User.
    #[serde(default, rename = "userId")]
    pub user_id: Option<String>,
    /// App.
    #[serde(default, rename = "appId")]
    pub app_id: Option<String>,
    /// App version.
    #[serde(default, rename = "versionId")]
    pub version_id: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Query of `GET /oauth/installedLocations`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstalledLocationsQuery {
    /// Agency (required).
    pub company_id: String,
    /// App id (required): the part of the client id before the first `-`.
    pub app_id: String,
    /// Offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<u32>,
    /// Page size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Installed (true) or installable (false) locations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_installed: Option<bool>,
    /// Free-text filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// App version filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Trial filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_trial: Option<bool>,
    /// Plan filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    /// One location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
}

/// Answer of `GET /oauth/installedLocations`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct InstalledLocations {
    /// The page.
    #[serde(deserialize_with = "nullable")]
    pub locations: Vec<InstalledLocation>,
    /// Total.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// App installs itself on new locations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install_to_future_locations: Option<bool>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One location in [`InstalledLocations`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct InstalledLocation {
    /// Location id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Name.
    pub name: String,
    /// Address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Whether the app is installed there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_installed: Option<bool>,
    /// Installed app version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Install time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed_at: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn token_response_hides_tokens_in_debug() {
        let raw = r#"{"access_token":"at-123","token_type":"Bearer","expires_in":86399,
            "refresh_token":"rt-456","scope":"contacts.readonly contacts.write",
            "userType":"Location","locationId":"L1","companyId":"C1","userId":"U1",
            "approvedLocations":null,"isBulkInstallation":false,"traceId":"t"}"#;
        let t: TokenResponse = serde_json::from_str(raw).unwrap();
        assert_eq!(t.access_token.expose_secret(), "at-123");
        assert_eq!(t.refresh_token.as_ref().unwrap().expose_secret(), "rt-456");
        assert_eq!(t.scopes(), vec!["contacts.readonly", "contacts.write"]);
        assert_eq!(t.location_id.as_deref(), Some("L1"));
        assert!(t.extra.contains_key("traceId"));
        let debug = format!("{t:?}");
        assert!(
            !debug.contains("at-123") && !debug.contains("rt-456"),
            "{debug}"
        );
    }

    #[test]
    fn installed_locations_parse() {
        let raw = r#"{"locations":[{"_id":"L1","name":"Shop","address":"1 Main St","isInstalled":true}],"count":1}"#;
        let r: InstalledLocations = serde_json::from_str(raw).unwrap();
        assert_eq!(r.locations[0].id, "L1");
        assert_eq!(r.locations[0].is_installed, Some(true));
    }
}
