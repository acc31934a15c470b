//! Access tokens for connections: read from the vault, refreshed ahead of expiry
//! under the store's per-connection lock, and `needs_reauth` when GHL rejects the
//! refresh token.

use std::time::Duration;

use domain::System;
use ghl::{GhlError, OAuthApp};
use secrecy::{ExposeSecret, SecretString};
use store::{Connection, RefreshDecision, Store, StoreError, TokenSet};

use crate::apps::{GhlApp, expiry, oauth_app};

/// Hands out valid access tokens for connections.
#[derive(Debug, Clone)]
pub struct TokenSource {
    store: Store,
    app: Option<GhlApp>,
    /// The app's OAuth client, built once (one HTTP client for every refresh).
    oauth: Option<OAuthApp>,
    /// The Lofty vendor app, for refreshing Lofty OAuth connections.
    lofty: Option<lofty::OAuthApp>,
    /// Refresh when the token has less than this left.
    ahead: Duration,
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("connection {id} needs to be re-authorised: {reason}")]
    NeedsReauth { id: String, reason: String },
    #[error("token refresh failed, will retry: {0}")]
    Transient(String),
    #[error("{0}")]
    Store(StoreError),
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NeedsReauth { id, reason } => TokenError::NeedsReauth { id, reason },
            StoreError::RefreshFailed { reason, .. } => TokenError::Transient(reason),
            other => TokenError::Store(other),
        }
    }
}

impl TokenSource {
    pub fn new(store: Store, app: Option<GhlApp>, ahead: Duration) -> Self {
        let oauth = app.as_ref().map(|a| oauth_app(a, ""));
        Self {
            store,
            app,
            oauth,
            lofty: None,
            ahead,
        }
    }

    /// Also refreshes Lofty OAuth connections with this vendor app.
    #[must_use]
    pub fn with_lofty(mut self, app: Option<lofty::OAuthApp>) -> Self {
        self.lofty = app;
        self
    }

    /// Refreshes every active OAuth connection whose token expires within the
    /// refresh-ahead margin (GHL and Lofty), so idle connections stay alive too.
    /// Returns (refreshed, failed).
    pub async fn keep_alive(&self) -> Result<(usize, usize), StoreError> {
        let now = self.store.now();
        let (mut refreshed, mut failed) = (0, 0);
        for conn in self.store.connections().await? {
            let due = conn
                .token_expires_at
                .is_some_and(|t| t <= now + self.ahead_ms());
            if conn.status != store::ConnectionStatus::Active || !due || !conn.kind.refreshes() {
                continue;
            }
            match self.refresh(&conn, None).await {
                Ok(_) => refreshed += 1,
                Err(e) => {
                    failed += 1;
                    tracing::warn!(connection = %conn.id, error = %e, "ConnectionRefreshFailed");
                }
            }
        }
        Ok((refreshed, failed))
    }

    /// The marketplace app, when configured.
    pub fn app(&self) -> Option<&GhlApp> {
        self.app.as_ref()
    }

    fn ahead_ms(&self) -> i64 {
        i64::try_from(self.ahead.as_millis()).unwrap_or(i64::MAX)
    }

    /// A token for `conn` that is valid for at least the refresh-ahead margin.
    pub async fn access_token(&self, conn: &Connection) -> Result<SecretString, TokenError> {
        let tokens = self
            .store
            .tokens(&conn.id)
            .await?
            .ok_or_else(|| TokenError::NeedsReauth {
                id: conn.id.clone(),
                reason: "no token stored for this connection; connect it again".to_owned(),
            })?;
        let now = self.store.now();
        let fresh = tokens.expires_at.is_none_or(|t| t > now + self.ahead_ms());
        // Without an app to refresh with, a token still valid is used to the end.
        let still_valid = tokens.expires_at.is_none_or(|t| t > now);
        if fresh || tokens.refresh.is_none() || (still_valid && !self.can_refresh(conn)) {
            return Ok(tokens.access);
        }
        Ok(self.refresh(conn, None).await?.access)
    }

    /// Whether an app is configured to refresh this connection's tokens.
    fn can_refresh(&self, conn: &Connection) -> bool {
        match conn.system {
            System::Lofty => self.lofty.is_some(),
            System::Ghl | System::Lytho => self.oauth.is_some(),
        }
    }

    /// Refreshes under the connection's lock. With `stale`, refreshes only if the
    /// stored access token is still that one (after a 401); otherwise only if it is
    /// close to expiry. Someone else's refresh is reused, never repeated.
    pub async fn refresh(
        &self,
        conn: &Connection,
        stale: Option<&SecretString>,
    ) -> Result<TokenSet, TokenError> {
        if conn.system == System::Lofty {
            return self.refresh_lofty(conn).await;
        }
        let Some(oauth) = self.oauth.clone() else {
            return Err(TokenError::NeedsReauth {
                id: conn.id.clone(),
                reason: "the token expired and no GHL client_id/client_secret is configured to refresh it".to_owned(),
            });
        };
        let now = self.store.now();
        let ahead = self.ahead_ms();
        let stale = stale.map(|s| s.expose_secret().to_owned());
        let set = self
            .store
            .refresh_tokens(&conn.id, |current| async move {
                let still_stale = match &stale {
                    Some(old) => current.access.expose_secret() == old.as_str(),
                    None => current.expires_at.is_some_and(|t| t <= now + ahead),
                };
                if !still_stale {
                    return RefreshDecision::Keep;
                }
                let Some(refresh) = current.refresh.clone() else {
                    return RefreshDecision::Reject(
                        "no refresh token stored; connect again".to_owned(),
                    );
                };
                match oauth.refresh(&refresh, None).await {
                    Ok(t) => RefreshDecision::Replace(TokenSet {
                        access: t.access_token.clone(),
                        refresh: t.refresh_token.clone().or(Some(refresh)),
                        expires_at: Some(expiry(now, t.expires_in.unwrap_or(86_399))),
                    }),
                    Err(e) => {
                        wire::metrics::token_refresh_failed("ghl");
                        classify_refresh_error(&e)
                    }
                }
            })
            .await?;
        Ok(set)
    }
}

impl TokenSource {
    async fn refresh_lofty(&self, conn: &Connection) -> Result<TokenSet, TokenError> {
        let Some(app) = self.lofty.clone() else {
            return Err(TokenError::NeedsReauth {
                id: conn.id.clone(),
                reason: "the Lofty token expired and no Lofty client_id/client_secret is configured to refresh it".to_owned(),
            });
        };
        let now = self.store.now();
        let ahead = self.ahead_ms();
        let set = self
            .store
            .refresh_tokens(&conn.id, |current| async move {
                if current.expires_at.is_some_and(|t| t > now + ahead) {
                    return RefreshDecision::Keep;
                }
                let Some(refresh) = current.refresh.clone() else {
                    return RefreshDecision::Reject(
                        "no Lofty refresh token stored; connect again".to_owned(),
                    );
                };
                match app.refresh(&refresh).await {
                    Ok(t) => RefreshDecision::Replace(TokenSet {
                        access: t.access_token.clone(),
                        refresh: t.refresh_token.clone().or(Some(refresh)),
                        expires_at: Some(expiry(now, t.expires_in)),
                    }),
                    Err(e) => {
                        wire::metrics::token_refresh_failed("lofty");
                        match e.status() {
                            Some(s) if (400..500).contains(&s) && s != 429 => {
                                RefreshDecision::Reject(format!(
                                    "Lofty rejected the refresh token ({s}): {e}"
                                ))
                            }
                            _ => RefreshDecision::Fail(e.to_string()),
                        }
                    }
                }
            })
            .await?;
        Ok(set)
    }
}

/// A 4xx on the token endpoint means the refresh token is dead (only the user can
/// fix it); anything else is transient.
fn classify_refresh_error(e: &GhlError) -> RefreshDecision {
    match e.status() {
        Some(s) if (400..500).contains(&s) && s != 429 => RefreshDecision::Reject(format!(
            "GHL rejected the refresh token ({s}): {}",
            e.server_message().unwrap_or_default()
        )),
        _ => RefreshDecision::Fail(e.to_string()),
    }
}
