//! Token sets: a connection's access and refresh token (sealed in the vault's
//! `secrets` rows) with their expiry (on the `connections` row), and the refresh
//! lease that lets exactly one worker in any process spend a single-use refresh
//! token, without holding a database lock across the call to the token endpoint.

use std::future::Future;
use std::time::Duration;

use secrecy::SecretString;

use crate::vault::{self, SECRET_UPSERT, Sealed};
use crate::{Result, Store, StoreError, ms};

/// Access and refresh token of a connection, as the vault holds them.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access: SecretString,
    pub refresh: Option<SecretString>,
    /// Epoch ms.
    pub expires_at: Option<i64>,
}

/// What a refresh attempt decided, under the connection's refresh lease.
#[derive(Debug)]
pub enum RefreshDecision {
    /// The current tokens are fine (another worker refreshed them meanwhile).
    Keep,
    /// Store these (the new refresh token is committed before anyone uses it).
    Replace(TokenSet),
    /// The server rejected the refresh token: the connection needs the user.
    Reject(String),
    /// A transient failure (network, 5xx): nothing changes, try again later.
    Fail(String),
}

impl Store {
    /// Reads the token set of a connection (no lock), in one query.
    pub async fn tokens(&self, connection_id: &str) -> Result<Option<TokenSet>> {
        // (expiry, secret name, key id, nonce, ciphertext)
        type Row = (Option<i64>, String, String, Vec<u8>, Vec<u8>);
        let rows: Vec<Row> = pool!(self, p => {
            sqlx::query_as(
                "SELECT c.token_expires_at, s.name, s.key_id, s.nonce, s.ciphertext FROM connections c \
                 JOIN secrets s ON s.connection_id = c.id AND s.name IN ('access_token', 'refresh_token') \
                 WHERE c.id = $1",
            )
            .bind(connection_id).fetch_all(p).await?
        });
        let (mut access, mut refresh, mut expires_at) = (None, None, None);
        let ring = self.keyring()?;
        for (expires, name, kid, nonce, ct) in rows {
            expires_at = expires;
            let value = ring.open(connection_id, &name, &kid, &nonce, &ct)?;
            if name == "access_token" {
                access = Some(value);
            } else {
                refresh = Some(value);
            }
        }
        Ok(access.map(|access| TokenSet {
            access,
            refresh,
            expires_at,
        }))
    }

    /// Stores a token set the user just granted (a connection made or re-made), in one
    /// transaction. The connection becomes active, and a refresh that is in flight loses
    /// its lease: its result (new tokens or a rejection of the old refresh token) is
    /// dropped, so it can neither overwrite these tokens nor mark the connection
    /// `needs_reauth` after the reconnect.
    pub async fn put_tokens(&self, connection_id: &str, tokens: &TokenSet) -> Result<()> {
        let sealed = self.seal_tokens(connection_id, tokens)?;
        let now = self.now();
        pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query(
                "UPDATE connections SET token_expires_at = $2, updated_at = $3, status = 'active', \
                 status_reason = NULL, refresh_lease_until = NULL, refresh_lease_owner = NULL WHERE id = $1",
            )
            .bind(connection_id).bind(tokens.expires_at).bind(now)
            .execute(&mut *tx).await?;
            for (name, (kid, nonce, ct)) in &sealed {
                sqlx::query(SECRET_UPSERT)
                    .bind(connection_id).bind(*name).bind(kid).bind(nonce).bind(ct).bind(now)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Seals the access token and, when present, the refresh token of a set.
    fn seal_tokens(
        &self,
        connection_id: &str,
        tokens: &TokenSet,
    ) -> Result<Vec<(&'static str, Sealed)>> {
        let ring = self.keyring()?;
        let mut sealed = vec![(
            "access_token",
            ring.seal(connection_id, "access_token", &tokens.access)?,
        )];
        if let Some(r) = &tokens.refresh {
            sealed.push((
                "refresh_token",
                ring.seal(connection_id, "refresh_token", r)?,
            ));
        }
        Ok(sealed)
    }

    /// Runs `decide` with the connection's current tokens while holding the
    /// connection's refresh lease, so only one refresh happens at a time across all
    /// workers and processes. The lease is a short claim on the connection row
    /// (taken and released in their own tiny transactions), so no database lock is
    /// held while `decide` calls the token endpoint. A [`RefreshDecision::Replace`]
    /// is committed before this returns, so the new refresh token is durable before
    /// the new access token is used.
    pub async fn refresh_tokens<F, Fut>(&self, connection_id: &str, decide: F) -> Result<TokenSet>
    where
        F: FnOnce(TokenSet) -> Fut,
        Fut: Future<Output = RefreshDecision>,
    {
        /// Longer than any token request (30 s timeout + 10 s connect).
        const LEASE: Duration = Duration::from_secs(60);
        let owner = vault::random_id();
        let waited_since = std::time::Instant::now();
        loop {
            let now = self.now();
            let taken: Option<(String, Option<String>)> = pool!(self, p => {
                sqlx::query_as(
                    "UPDATE connections SET refresh_lease_until = $2, refresh_lease_owner = $3 \
                     WHERE id = $1 AND (refresh_lease_until IS NULL OR refresh_lease_until < $4) \
                     RETURNING status, status_reason",
                )
                .bind(connection_id).bind(now + ms(LEASE)).bind(&owner).bind(now)
                .fetch_optional(p).await?
            });
            if let Some((status, reason)) = taken {
                if status != "active" {
                    self.release_refresh_lease(connection_id, &owner).await?;
                    return Err(StoreError::NeedsReauth {
                        id: connection_id.to_owned(),
                        reason: reason.unwrap_or(status),
                    });
                }
                break;
            }
            if self.connection(connection_id).await?.is_none() {
                return Err(StoreError::NoConnection(connection_id.to_owned()));
            }
            if waited_since.elapsed() > LEASE + Duration::from_secs(5) {
                return Err(StoreError::RefreshFailed {
                    id: connection_id.to_owned(),
                    reason: "another worker's token refresh did not finish".to_owned(),
                });
            }
            // Another worker is refreshing: its result is what we will read.
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let current = match self.tokens(connection_id).await {
            Ok(Some(t)) => t,
            Ok(None) => TokenSet {
                access: SecretString::from(String::new()),
                refresh: None,
                expires_at: None,
            },
            Err(e) => {
                self.release_refresh_lease(connection_id, &owner).await?;
                return Err(e);
            }
        };
        let kept = current.clone();
        let decision = decide(current).await;
        let now = self.now();
        match decision {
            RefreshDecision::Keep => {
                self.release_refresh_lease(connection_id, &owner).await?;
                Ok(kept)
            }
            RefreshDecision::Replace(new) => {
                let sealed = self.seal_tokens(connection_id, &new)?;
                let fenced = pool!(self, p => {
                    let mut tx = p.begin().await?;
                    let fenced = sqlx::query(
                        "UPDATE connections SET token_expires_at = $2, updated_at = $3, refresh_lease_until = NULL, \
                         refresh_lease_owner = NULL WHERE id = $1 AND refresh_lease_owner = $4",
                    )
                    .bind(connection_id).bind(new.expires_at).bind(now).bind(&owner)
                    .execute(&mut *tx).await?.rows_affected() == 1;
                    if fenced {
                        for (name, (kid, nonce, ct)) in &sealed {
                            sqlx::query(SECRET_UPSERT)
                                .bind(connection_id).bind(*name).bind(kid).bind(nonce).bind(ct).bind(now)
                                .execute(&mut *tx).await?;
                        }
                    }
                    tx.commit().await?;
                    fenced
                });
                if fenced {
                    Ok(new)
                } else {
                    self.tokens_after_reconnect(connection_id).await
                }
            }
            RefreshDecision::Reject(reason) => {
                let fenced = pool!(self, p => {
                    sqlx::query(
                        "UPDATE connections SET status = 'needs_reauth', status_reason = $2, updated_at = $3, \
                         refresh_lease_until = NULL, refresh_lease_owner = NULL WHERE id = $1 AND refresh_lease_owner = $4",
                    )
                    .bind(connection_id).bind(&reason).bind(now).bind(&owner)
                    .execute(p).await?.rows_affected() == 1
                });
                if fenced {
                    Err(StoreError::NeedsReauth {
                        id: connection_id.to_owned(),
                        reason,
                    })
                } else {
                    self.tokens_after_reconnect(connection_id).await
                }
            }
            RefreshDecision::Fail(reason) => {
                self.release_refresh_lease(connection_id, &owner).await?;
                Err(StoreError::RefreshFailed {
                    id: connection_id.to_owned(),
                    reason,
                })
            }
        }
    }

    /// The tokens a reconnect stored while a refresh was in flight (the refresh lost
    /// its lease to [`Store::put_tokens`]).
    async fn tokens_after_reconnect(&self, connection_id: &str) -> Result<TokenSet> {
        tracing::info!(connection = %connection_id, "a reconnect replaced the tokens during a refresh; its tokens are kept");
        self.tokens(connection_id)
            .await?
            .ok_or_else(|| StoreError::NoConnection(connection_id.to_owned()))
    }

    async fn release_refresh_lease(&self, connection_id: &str, owner: &str) -> Result<()> {
        pool!(self, p => {
            sqlx::query(
                "UPDATE connections SET refresh_lease_until = NULL, refresh_lease_owner = NULL \
                 WHERE id = $1 AND refresh_lease_owner = $2",
            )
            .bind(connection_id).bind(owner)
            .execute(p).await?;
        });
        Ok(())
    }
}
