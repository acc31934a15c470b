//! Per-connection secret keys for webhook callback paths. Lofty signs nothing, so
//! its deliveries are authenticated by an unguessable key in the URL path: the key
//! is sealed in the vault (to build the URL again) and its SHA-256 indexes it.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::{Result, Store, vault};

const SECRET_NAME: &str = "webhook_key";

fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl Store {
    /// The connection's webhook key, made on first use (of two first uses at once,
    /// one key wins and both get it).
    pub async fn webhook_key(&self, connection_id: &str) -> Result<SecretString> {
        if let Some(key) = self.secret(connection_id, SECRET_NAME).await? {
            return Ok(key);
        }
        let key = SecretString::from(format!("{}{}", vault::random_id(), vault::random_id()));
        let (kid, nonce, ct) = self.keyring()?.seal(connection_id, SECRET_NAME, &key)?;
        let now = self.now();
        let made = pool!(self, p => {
            let mut tx = p.begin().await?;
            let made = sqlx::query(
                "INSERT INTO webhook_keys (key_hash, connection_id, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (connection_id) DO NOTHING",
            )
            .bind(hash(key.expose_secret())).bind(connection_id).bind(now)
            .execute(&mut *tx).await?.rows_affected() == 1;
            if made {
                sqlx::query(crate::vault::SECRET_UPSERT)
                    .bind(connection_id).bind(SECRET_NAME).bind(&kid).bind(&nonce).bind(&ct).bind(now)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            made
        });
        if made {
            return Ok(key);
        }
        self.secret(connection_id, SECRET_NAME)
            .await?
            .ok_or_else(|| crate::StoreError::NoConnection(connection_id.to_owned()))
    }

    /// The connection a webhook key belongs to. Read on the intake's connections, so
    /// a delivery never waits for one the workers hold.
    pub async fn webhook_key_owner(&self, key: &str) -> Result<Option<String>> {
        Ok(intake_pool!(self, p => {
            sqlx::query_scalar("SELECT connection_id FROM webhook_keys WHERE key_hash = $1")
                .bind(hash(key)).fetch_optional(p).await?
        }))
    }
}
