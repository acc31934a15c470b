//! Admin accounts (`admin_users`), their sessions (`admin_sessions`), API tokens
//! (`api_tokens`) and the one-time setup link (`admin_setup`).
//!
//! Session ids, API tokens and setup tokens are kept only as SHA-256 hashes (they
//! are long random strings, so a fast hash is enough); a stolen database opens no
//! session. Passwords arrive here already hashed (Argon2id, by the server crate).

use sha2::{Digest, Sha256};

use crate::{Result, Store};

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// What an account or token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Changes things.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Admin => "admin",
        }
    }

    /// `admin` or `viewer`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "viewer" => Some(Self::Viewer),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An admin account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AdminUser {
    pub name: String,
    pub role: Role,
    /// The Argon2id PHC string; never serialised.
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A live session, with its account's current role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub user: String,
    pub role: Role,
    /// The session's CSRF token (sent back with every form and state-changing call).
    pub csrf: String,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

/// An API token (without the token).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiToken {
    pub name: String,
    pub role: Role,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

fn role_of(s: &str) -> Role {
    // An unknown role in the database reads as the lesser one.
    Role::parse(s).unwrap_or(Role::Viewer)
}

impl Store {
    /// How many admin accounts exist.
    pub async fn admin_user_count(&self) -> Result<i64> {
        Ok(
            pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM admin_users").fetch_one(p).await?),
        )
    }

    /// Creates the account, or gives an existing one a new password and role (its
    /// sessions end). True when it was created.
    pub async fn put_admin_user(
        &self,
        name: &str,
        role: Role,
        password_hash: &str,
    ) -> Result<bool> {
        let now = self.now();
        let created = pool!(self, p => {
            let mut tx = p.begin().await?;
            let existed: Option<String> = sqlx::query_scalar("SELECT name FROM admin_users WHERE name = $1")
                .bind(name).fetch_optional(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO admin_users (name, role, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
                 ON CONFLICT (name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash, updated_at = excluded.updated_at",
            )
            .bind(name).bind(role.as_str()).bind(password_hash).bind(now)
            .execute(&mut *tx).await?;
            sqlx::query("DELETE FROM admin_sessions WHERE user_name = $1").bind(name).execute(&mut *tx).await?;
            tx.commit().await?;
            existed.is_none()
        });
        Ok(created)
    }

    /// Creates the first account, only while there is none (the setup link). False
    /// when an account already exists.
    pub async fn create_first_admin(&self, name: &str, password_hash: &str) -> Result<bool> {
        let now = self.now();
        let made = pool!(self, p => {
            let mut tx = p.begin().await?;
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM admin_users").fetch_one(&mut *tx).await?;
            if n == 0 {
                sqlx::query("INSERT INTO admin_users (name, role, password_hash, created_at, updated_at) VALUES ($1, 'admin', $2, $3, $3)")
                    .bind(name).bind(password_hash).bind(now).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM admin_setup").execute(&mut *tx).await?;
            }
            tx.commit().await?;
            n == 0
        });
        Ok(made)
    }

    pub async fn admin_user(&self, name: &str) -> Result<Option<AdminUser>> {
        let row: Option<(String, String, String, i64, i64)> = pool!(self, p => sqlx::query_as(
            "SELECT name, role, password_hash, created_at, updated_at FROM admin_users WHERE name = $1",
        ).bind(name).fetch_optional(p).await?);
        Ok(row.map(|r| AdminUser {
            name: r.0,
            role: role_of(&r.1),
            password_hash: r.2,
            created_at: r.3,
            updated_at: r.4,
        }))
    }

    /// Every account, by name.
    pub async fn admin_users(&self) -> Result<Vec<AdminUser>> {
        let rows: Vec<(String, String, i64, i64)> = pool!(self, p => sqlx::query_as(
            "SELECT name, role, created_at, updated_at FROM admin_users ORDER BY name",
        ).fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .map(|r| AdminUser {
                name: r.0,
                role: role_of(&r.1),
                password_hash: String::new(),
                created_at: r.2,
                updated_at: r.3,
            })
            .collect())
    }

    /// Removes an account and ends its sessions; false when there was none.
    pub async fn delete_admin_user(&self, name: &str) -> Result<bool> {
        let gone = pool!(self, p => {
            let mut tx = p.begin().await?;
            let n = sqlx::query("DELETE FROM admin_users WHERE name = $1").bind(name).execute(&mut *tx).await?.rows_affected();
            sqlx::query("DELETE FROM admin_sessions WHERE user_name = $1").bind(name).execute(&mut *tx).await?;
            tx.commit().await?;
            n == 1
        });
        Ok(gone)
    }

    /// Opens a session (`id` is the cookie's random value) until `expires_at`.
    pub async fn create_session(
        &self,
        id: &str,
        user: &str,
        csrf: &str,
        expires_at: i64,
    ) -> Result<()> {
        let now = self.now();
        pool!(self, p => {
            sqlx::query(
                "INSERT INTO admin_sessions (id_hash, user_name, csrf, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $4, $5)",
            )
            .bind(hash(id)).bind(user).bind(csrf).bind(now).bind(expires_at)
            .execute(p).await?;
        });
        Ok(())
    }

    /// The session of a cookie value, with its account's role; `None` when unknown
    /// or its account is gone. Expiry is the caller's to judge.
    pub async fn session(&self, id: &str) -> Result<Option<SessionRow>> {
        let row: Option<(String, String, String, i64, i64)> = pool!(self, p => sqlx::query_as(
            "SELECT s.user_name, u.role, s.csrf, s.last_seen_at, s.expires_at FROM admin_sessions s \
             JOIN admin_users u ON u.name = s.user_name WHERE s.id_hash = $1",
        ).bind(hash(id)).fetch_optional(p).await?);
        Ok(row.map(|r| SessionRow {
            user: r.0,
            role: role_of(&r.1),
            csrf: r.2,
            last_seen_at: r.3,
            expires_at: r.4,
        }))
    }

    /// Marks a session as used now.
    pub async fn touch_session(&self, id: &str) -> Result<()> {
        let now = self.now();
        pool!(self, p => {
            sqlx::query("UPDATE admin_sessions SET last_seen_at = $1 WHERE id_hash = $2")
                .bind(now).bind(hash(id)).execute(p).await?;
        });
        Ok(())
    }

    /// Ends a session (logout), and drops every session past `stale_before`.
    pub async fn end_session(&self, id: &str, stale_before: i64) -> Result<()> {
        let now = self.now();
        pool!(self, p => {
            sqlx::query("DELETE FROM admin_sessions WHERE id_hash = $1 OR expires_at < $2 OR last_seen_at < $3")
                .bind(hash(id)).bind(now).bind(stale_before).execute(p).await?;
        });
        Ok(())
    }

    /// Stores a new API token; false when the name is taken.
    pub async fn create_api_token(&self, name: &str, role: Role, token: &str) -> Result<bool> {
        let now = self.now();
        let n = pool!(self, p => sqlx::query(
            "INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
        ).bind(name).bind(role.as_str()).bind(hash(token)).bind(now).execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// The token's name and role, marking it used; `None` for an unknown token.
    pub async fn use_api_token(&self, token: &str) -> Result<Option<(String, Role)>> {
        let now = self.now();
        let h = hash(token);
        let row: Option<(String, String)> = pool!(self, p => {
            let row: Option<(String, String)> = sqlx::query_as("SELECT name, role FROM api_tokens WHERE token_hash = $1")
                .bind(&h).fetch_optional(p).await?;
            if row.is_some() {
                sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2").bind(now).bind(&h).execute(p).await?;
            }
            row
        });
        Ok(row.map(|r| (r.0, role_of(&r.1))))
    }

    pub async fn api_tokens(&self) -> Result<Vec<ApiToken>> {
        let rows: Vec<(String, String, i64, Option<i64>)> = pool!(self, p => sqlx::query_as(
            "SELECT name, role, created_at, last_used_at FROM api_tokens ORDER BY name",
        ).fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .map(|r| ApiToken {
                name: r.0,
                role: role_of(&r.1),
                created_at: r.2,
                last_used_at: r.3,
            })
            .collect())
    }

    /// Revokes a token; false when there was none.
    pub async fn delete_api_token(&self, name: &str) -> Result<bool> {
        let n = pool!(self, p => sqlx::query("DELETE FROM api_tokens WHERE name = $1").bind(name).execute(p).await?.rows_affected());
        Ok(n == 1)
    }

    /// Replaces the setup link with a new one, valid until `expires_at`.
    pub async fn put_setup_token(&self, token: &str, expires_at: i64) -> Result<()> {
        pool!(self, p => {
            let mut tx = p.begin().await?;
            sqlx::query("DELETE FROM admin_setup").execute(&mut *tx).await?;
            sqlx::query("INSERT INTO admin_setup (token_hash, expires_at) VALUES ($1, $2)")
                .bind(hash(token)).bind(expires_at).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Whether `token` is the live setup link.
    pub async fn setup_token_valid(&self, token: &str) -> Result<bool> {
        let now = self.now();
        let n: i64 = pool!(self, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM admin_setup WHERE token_hash = $1 AND expires_at > $2",
        ).bind(hash(token)).bind(now).fetch_one(p).await?);
        Ok(n == 1)
    }
}
