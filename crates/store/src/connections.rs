//! Connections: the accounts ghlsync talks to (a GHL location or agency, a Lofty
//! member, a Lytho tenant), one `connections` row each. A row holds what is not
//! secret: system, kind, status and why, scopes, token expiry, the API base URL and
//! a unique human name, so the UI and the CLI can say "Acme Realty" instead of
//! `ghl:loc:3kd9...`. Credentials live in the [`vault`](crate::vault); the token set
//! and its refresh lease in [`tokens`](crate::tokens) (same row, other columns).

use std::collections::HashSet;

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use domain::{AuthKind, System};

use crate::{Result, Store, StoreError};

/// Status of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Active,
    /// Only the user can fix it (refresh rejected, token revoked); its jobs wait.
    NeedsReauth,
    /// Turned off (uninstalled); data and jobs are kept.
    Disabled,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::NeedsReauth => "needs_reauth",
            Self::Disabled => "disabled",
        }
    }

    /// Reads `connections.status`. A value this version does not know is an error:
    /// taking it for `active` would run the jobs of a connection someone stopped.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "active" => Ok(Self::Active),
            "needs_reauth" => Ok(Self::NeedsReauth),
            "disabled" => Ok(Self::Disabled),
            _ => Err(StoreError::UnknownValue {
                table: "connections",
                column: "status",
                value: s.to_owned(),
            }),
        }
    }
}

/// A connected account (GHL location or agency, Lofty, Lytho). Its secrets live in the vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub id: String,
    /// A human name, unique among connections: what the UI shows and what
    /// [`Store::find_connection`] accepts in place of the id.
    pub name: String,
    /// `ghl`, `lofty` or `lytho`.
    pub system: System,
    /// `oauth`, `oauth-agency`, `pit`, `api_key`, `client_credentials`.
    pub kind: AuthKind,
    pub location_id: Option<String>,
    pub company_id: Option<String>,
    /// The API base URL this connection talks to (Lofty and Lytho: it differs per
    /// sandbox and tenant); `None` when the client's configured default applies.
    /// Not a secret, so a plain column (it used to be a vault secret named `base_url`).
    pub base_url: Option<String>,
    pub status: ConnectionStatus,
    /// Why the status is what it is (the server's message for `needs_reauth`).
    pub status_reason: Option<String>,
    /// Space-separated scopes.
    pub scopes: String,
    /// When the current access token expires (epoch ms), if it does.
    pub token_expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What to create or update in `connections`.
#[derive(Debug, Clone)]
pub struct NewConnection {
    pub id: String,
    /// The name wanted (e.g. the location's name). `None` (or blank) names a new
    /// connection after its id and keeps an existing connection's name. A name
    /// another connection has gets ` (2)`, ` (3)`... appended.
    pub name: Option<String>,
    pub system: System,
    pub kind: AuthKind,
    pub location_id: Option<String>,
    pub company_id: Option<String>,
    /// The API base URL; written as given (`None` clears it), like the other fields.
    pub base_url: Option<String>,
    pub scopes: String,
}

impl NewConnection {
    /// A connection with no location, company, scopes, base URL or wanted name.
    pub fn new(id: impl Into<String>, system: System, kind: AuthKind) -> Self {
        Self {
            id: id.into(),
            name: None,
            system,
            kind,
            location_id: None,
            company_id: None,
            base_url: None,
            scopes: String::new(),
        }
    }
}

/// Reads a closed-set column (`system`, `kind`): a value this version does not know
/// is an error naming it, never a guess.
pub(crate) fn known<T: std::str::FromStr>(column: &'static str, value: &str) -> Result<T> {
    value.parse().map_err(|_| StoreError::UnknownValue {
        table: "connections",
        column,
        value: value.to_owned(),
    })
}

/// Name of the vault secret that held a connection's base URL before the column.
const BASE_URL_SECRET: &str = "base_url";

/// Builds a [`Connection`] from a row (either backend).
macro_rules! connection {
    ($r:expr) => {{
        let r = &$r;
        let status: String = r.try_get("status")?;
        let system: String = r.try_get("system")?;
        let kind: String = r.try_get("kind")?;
        Connection {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            system: $crate::connections::known("system", &system)?,
            kind: $crate::connections::known("kind", &kind)?,
            location_id: r.try_get("location_id")?,
            company_id: r.try_get("company_id")?,
            base_url: r.try_get("base_url")?,
            status: ConnectionStatus::parse(&status)?,
            status_reason: r.try_get("status_reason")?,
            scopes: r.try_get("scopes")?,
            token_expires_at: r.try_get("token_expires_at")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
        }
    }};
}

/// Whether `name` is `wanted` or `wanted` made unique (`wanted (2)`, `wanted (3)`...).
fn is_form_of(name: &str, wanted: &str) -> bool {
    name == wanted
        || name
            .strip_prefix(wanted)
            .and_then(|rest| rest.strip_prefix(" ("))
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n >= 2)
}

impl Store {
    /// Creates or updates a connection (status back to active). See
    /// [`NewConnection::name`] for how its name is chosen.
    pub async fn upsert_connection(&self, c: &NewConnection) -> Result<Connection> {
        let wanted = c.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let mut attempts = 0;
        loop {
            let name = self.pick_name(&c.id, wanted).await?;
            match self.write_connection(c, &name).await {
                // Another upsert took the name between our pick and our write: the
                // unique index refused ours, so pick again.
                Err(StoreError::Db(sqlx::Error::Database(e)))
                    if e.is_unique_violation() && attempts < 8 =>
                {
                    attempts += 1;
                }
                written => {
                    written?;
                    break;
                }
            }
        }
        self.connection(&c.id)
            .await?
            .ok_or_else(|| StoreError::NoConnection(c.id.clone()))
    }

    /// The name connection `id` gets: its current one unless a different name is
    /// wanted, else the wanted name (or the id) made unique among the others.
    async fn pick_name(&self, id: &str, wanted: Option<&str>) -> Result<String> {
        let current: Option<String> = pool!(self, p => {
            sqlx::query_scalar("SELECT name FROM connections WHERE id = $1")
                .bind(id).fetch_optional(p).await?
        });
        let base = match (current, wanted) {
            (Some(name), None) => return Ok(name),
            (Some(name), Some(w)) if is_form_of(&name, w) => return Ok(name),
            (_, w) => w.unwrap_or(id),
        };
        // The names others hold that could collide: `base` and `base (...`.
        let prefix = format!("{base} (");
        let prefix_len = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
        let taken: HashSet<String> = pool!(self, p => {
            sqlx::query_scalar(
                "SELECT name FROM connections WHERE id <> $1 AND (name = $2 OR substr(name, 1, $3) = $4)",
            )
            .bind(id).bind(base).bind(prefix_len).bind(&prefix)
            .fetch_all(p).await?
        })
        .into_iter()
        .collect();
        if !taken.contains(base) {
            return Ok(base.to_owned());
        }
        Ok((2u64..)
            .map(|n| format!("{base} ({n})"))
            .find(|candidate| !taken.contains(candidate))
            .unwrap_or_else(|| format!("{base} ({id})")))
    }

    async fn write_connection(&self, c: &NewConnection, name: &str) -> Result<()> {
        let now = self.now();
        pool!(self, p => {
            sqlx::query(
                "INSERT INTO connections (id, name, system, kind, location_id, company_id, base_url, status, scopes, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $9) \
                 ON CONFLICT (id) DO UPDATE SET name = $2, system = $3, kind = $4, location_id = $5, company_id = $6, \
                 base_url = $7, status = 'active', status_reason = NULL, scopes = $8, updated_at = $9",
            )
            .bind(&c.id).bind(name).bind(c.system.as_str()).bind(c.kind.as_str()).bind(&c.location_id).bind(&c.company_id)
            .bind(&c.base_url).bind(&c.scopes).bind(now)
            .execute(p).await?;
        });
        Ok(())
    }

    pub async fn connection(&self, id: &str) -> Result<Option<Connection>> {
        pool!(self, p => {
            let row = sqlx::query("SELECT * FROM connections WHERE id = $1").bind(id).fetch_optional(p).await?;
            Ok(match row { Some(r) => Some(connection!(r)), None => None })
        })
    }

    /// The connection whose id is `id_or_name`, else the one with that name (what a
    /// user types: `--connection "Acme Realty"` or `--connection ghl:loc:abc`).
    pub async fn find_connection(&self, id_or_name: &str) -> Result<Option<Connection>> {
        if let Some(c) = self.connection(id_or_name).await? {
            return Ok(Some(c));
        }
        pool!(self, p => {
            let row = sqlx::query("SELECT * FROM connections WHERE name = $1").bind(id_or_name).fetch_optional(p).await?;
            Ok(match row { Some(r) => Some(connection!(r)), None => None })
        })
    }

    pub async fn connections(&self) -> Result<Vec<Connection>> {
        pool!(self, p => {
            let rows = sqlx::query("SELECT * FROM connections ORDER BY id").fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(connection!(r));
            }
            Ok(out)
        })
    }

    /// Sets a connection's status and the reason shown to the user.
    pub async fn set_connection_status(
        &self,
        id: &str,
        status: ConnectionStatus,
        reason: Option<&str>,
    ) -> Result<()> {
        let now = self.now();
        pool!(self, p => {
            sqlx::query("UPDATE connections SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1")
                .bind(id).bind(status.as_str()).bind(reason).bind(now)
                .execute(p).await?;
        });
        Ok(())
    }

    /// Moves base URLs kept as vault secrets (before the `base_url` column existed)
    /// into the column, deleting each secret in the same transaction; runs when the
    /// store opens, and finds nothing to do once they are moved. A secret whose
    /// connection row is gone, or which the loaded keys cannot open, stays put.
    pub(crate) async fn move_base_url_secrets(&self) -> Result<()> {
        let rows: Vec<(String, String, Vec<u8>, Vec<u8>)> = pool!(self, p => {
            sqlx::query_as("SELECT connection_id, key_id, nonce, ciphertext FROM secrets WHERE name = $1")
                .bind(BASE_URL_SECRET).fetch_all(p).await?
        });
        for (id, kid, nonce, ct) in rows {
            let opened = self
                .keyring()?
                .open(&id, BASE_URL_SECRET, &kid, &nonce, &ct);
            let url = match opened {
                Ok(url) => url,
                Err(e) => {
                    tracing::warn!(connection = %id, error = %e, "the base_url secret cannot be opened; it stays in the vault");
                    continue;
                }
            };
            let moved = pool!(self, p => {
                let mut tx = p.begin().await?;
                let moved = sqlx::query("UPDATE connections SET base_url = $2 WHERE id = $1")
                    .bind(&id).bind(url.expose_secret())
                    .execute(&mut *tx).await?.rows_affected() == 1;
                if moved {
                    sqlx::query("DELETE FROM secrets WHERE connection_id = $1 AND name = $2")
                        .bind(&id).bind(BASE_URL_SECRET)
                        .execute(&mut *tx).await?;
                }
                tx.commit().await?;
                moved
            });
            if moved {
                tracing::info!(connection = %id, "ConnectionBaseUrlMoved");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::is_form_of;

    #[test]
    fn unique_forms_of_a_name_are_recognised() {
        assert!(is_form_of("Acme", "Acme"));
        assert!(is_form_of("Acme (2)", "Acme"));
        assert!(is_form_of("Acme (17)", "Acme"));
        assert!(
            !is_form_of("Acme (1)", "Acme"),
            "the first one has no suffix"
        );
        assert!(!is_form_of("Acme (x)", "Acme"));
        assert!(!is_form_of("Acme Realty", "Acme"));
        assert!(!is_form_of("Acme", "Acme (2)"));
    }
}
