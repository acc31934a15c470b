//! The OAuth apps ghlsync acts as: HighLevel's marketplace app (to refresh GHL tokens,
//! exchange codes and mint location tokens) and Lofty's vendor app. Both the token
//! code and the connect code use them; neither owns them.

use ghl::OAuthApp;
use secrecy::SecretString;

/// The marketplace app credentials used to refresh GHL OAuth tokens.
#[derive(Debug, Clone)]
pub struct GhlApp {
    pub client_id: String,
    pub client_secret: SecretString,
    pub api_base: url::Url,
}

/// The OAuth app as an [`OAuthApp`] pointed at the configured API host.
pub fn oauth_app(app: &GhlApp, redirect_uri: &str) -> OAuthApp {
    OAuthApp::new(
        app.client_id.clone(),
        app.client_secret.clone(),
        redirect_uri.to_owned(),
    )
    .with_api_base(app.api_base.clone())
}

/// When a token that lives `expires_in` seconds from `now` (epoch ms) expires.
pub fn expiry(now: i64, expires_in: u64) -> i64 {
    now.saturating_add(
        i64::try_from(expires_in)
            .unwrap_or(i64::MAX / 2_000)
            .saturating_mul(1000),
    )
}
