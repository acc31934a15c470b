//! OAuth connect flows (`connect_flows`): the `state` handed to the consent page, who
//! started it, and how it ended. Kept in the database so the callback can reach any
//! server instance and survive a restart. The state and the session are stored as
//! SHA-256 hashes: a database reader cannot complete or watch someone else's flow.
//! Named "connect flows" to keep "flow" for sync flows (trigger, mapping, action).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Result, Store, ms};

/// Where a connect flow stands.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ConnectFlowStatus {
    Pending,
    /// The callback arrived and is being processed.
    InProgress,
    Connected {
        connections: Vec<String>,
    },
    Failed {
        error: String,
    },
}

/// A connect flow as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectFlow {
    /// The system it was issued for (`ghl`, `lofty`).
    pub system: String,
    /// Hash of the admin session that started it; `None` for the CLI (bearer token).
    pub session_hash: Option<String>,
    pub status: ConnectFlowStatus,
    /// Epoch ms, store clock.
    pub created_at: i64,
}

impl ConnectFlow {
    /// Whether `session` (the caller's session id, if any) is the one that started it.
    pub fn started_by(&self, session: Option<&str>) -> bool {
        match &self.session_hash {
            None => true,
            Some(h) => session.is_some_and(|s| *h == hash(s)),
        }
    }
}

fn hash(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

fn status_name(s: &ConnectFlowStatus) -> &'static str {
    match s {
        ConnectFlowStatus::Pending => "pending",
        ConnectFlowStatus::InProgress => "in_progress",
        ConnectFlowStatus::Connected { .. } => "connected",
        ConnectFlowStatus::Failed { .. } => "failed",
    }
}

impl Store {
    /// Records a new pending flow; flows older than `keep` are deleted on the way.
    pub async fn begin_connect_flow(
        &self,
        state: &str,
        system: &str,
        session: Option<&str>,
        keep: Duration,
    ) -> Result<()> {
        let now = self.now();
        let pending = serde_json::to_string(&ConnectFlowStatus::Pending)?;
        pool!(self, p => {
            sqlx::query("DELETE FROM connect_flows WHERE created_at < $1")
                .bind(now - ms(keep)).execute(p).await?;
            sqlx::query(
                "INSERT INTO connect_flows (state_hash, system, session_hash, status, outcome, created_at, updated_at) \
                 VALUES ($1, $2, $3, 'pending', $4, $5, $5)",
            )
            .bind(hash(state)).bind(system).bind(session.map(hash)).bind(&pending).bind(now)
            .execute(p).await?;
        });
        Ok(())
    }

    /// The flow of `state`, if there is one.
    pub async fn connect_flow(&self, state: &str) -> Result<Option<ConnectFlow>> {
        let row: Option<(String, Option<String>, String, i64)> = pool!(self, p => {
            sqlx::query_as(
                "SELECT system, session_hash, outcome, created_at FROM connect_flows WHERE state_hash = $1",
            )
            .bind(hash(state)).fetch_optional(p).await?
        });
        row.map(|(system, session_hash, outcome, created_at)| {
            Ok(ConnectFlow {
                system,
                session_hash,
                status: serde_json::from_str(&outcome)?,
                created_at,
            })
        })
        .transpose()
    }

    /// Moves a pending flow to in-progress, atomically: of two callbacks with the
    /// same state, only one gets `true`.
    pub async fn take_connect_flow(&self, state: &str) -> Result<bool> {
        let now = self.now();
        let outcome = serde_json::to_string(&ConnectFlowStatus::InProgress)?;
        let taken = pool!(self, p => {
            sqlx::query(
                "UPDATE connect_flows SET status = 'in_progress', outcome = $2, updated_at = $3 \
                 WHERE state_hash = $1 AND status = 'pending'",
            )
            .bind(hash(state)).bind(&outcome).bind(now)
            .execute(p).await?.rows_affected()
        });
        Ok(taken == 1)
    }

    /// Records how a flow ended.
    pub async fn finish_connect_flow(&self, state: &str, status: &ConnectFlowStatus) -> Result<()> {
        let now = self.now();
        let outcome = serde_json::to_string(status)?;
        pool!(self, p => {
            sqlx::query(
                "UPDATE connect_flows SET status = $2, outcome = $3, updated_at = $4 WHERE state_hash = $1",
            )
            .bind(hash(state)).bind(status_name(status)).bind(&outcome).bind(now)
            .execute(p).await?;
        });
        Ok(())
    }
}
