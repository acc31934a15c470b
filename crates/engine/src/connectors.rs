//! Connectors: a stored connection opened for use. One closed enum
//! ([`Connector::Ghl`], [`Connector::Lofty`], [`Connector::Lytho`]), each holding the
//! typed client for its connection, so the flow runner says "the client for
//! connection X" in one call ([`Connectors::open`]) and never compares system names.
//!
//! [`Connectors`] is what opening needs, built once per worker: the store, the
//! [`TokenSource`] (refresh ahead of expiry), the one HTTP client, the per-process
//! rate governor and the shared per-location budget that sits in front of it. Every
//! GHL client it hands out paces through both.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::{AuthKind, System};
use ghl::{GhlClient, GhlConfig, GhlError, Governor, Operation, RetryClass};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;
use store::{Connection, ConnectionStatus, Failure, Store, StoreError};

use crate::budget::SharedBudget;
use crate::connections::LythoAccount;
use crate::tokens::{TokenError, TokenSource};

/// Why a connection cannot be used (or a call through it failed), with what the queue
/// should do about it.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("connection {0} does not exist")]
    Unknown(String),
    #[error("connection {id} is {status}")]
    Inactive { id: String, status: &'static str },
    #[error("connection {id} is a {system} connection, not {wanted}")]
    WrongSystem {
        id: String,
        system: System,
        wanted: System,
    },
    #[error("unknown GHL operation `{0}`")]
    UnknownOperation(String),
    /// The engine cannot do this with this connection (names what).
    #[error("{0}")]
    Unsupported(String),
    #[error("connection {id}: {problem}; connect it again")]
    Broken { id: String, problem: String },
    #[error("`{op}` needs {scope}; connection {id} has {has}")]
    MissingScope {
        op: String,
        scope: String,
        id: String,
        has: String,
    },
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Ghl(#[from] GhlError),
    #[error("Lofty: {0}")]
    Lofty(#[from] lofty::LoftyError),
    #[error("Lytho: {0}")]
    Lytho(#[from] lytho::LythoError),
}

impl ConnectorError {
    /// What the queue does with a job that failed this way.
    pub fn failure(&self) -> Failure {
        failure_of(self.retry_class())
    }

    /// The retry class of this error (the queue's [`Failure`] follows from it).
    /// Whether the answer began and broke off before it was read: the request may
    /// have been applied (see [`wire::TransportKind::Body`]).
    pub fn answer_broke_off(&self) -> bool {
        matches!(
            self,
            Self::Ghl(ghl::GhlError::Transport(t))
            | Self::Lofty(lofty::LoftyError::Transport(t))
            | Self::Lytho(lytho::LythoError::Transport(t))
                if t.kind() == wire::TransportKind::Body
        )
    }

    /// The connection that needs the user before this can succeed.
    pub fn waits_for(&self) -> Option<&str> {
        match self {
            Self::Inactive { id, .. } | Self::Token(TokenError::NeedsReauth { id, .. }) => Some(id),
            _ => None,
        }
    }

    pub fn retry_class(&self) -> RetryClass {
        match self {
            Self::Unknown(_)
            | Self::UnknownOperation(_)
            | Self::Unsupported(_)
            | Self::WrongSystem { .. }
            | Self::Broken { .. }
            | Self::MissingScope { .. } => RetryClass::GiveUp,
            Self::Inactive { .. } => RetryClass::Reauth,
            Self::Token(TokenError::NeedsReauth { .. }) => RetryClass::Reauth,
            Self::Token(_) | Self::Store(_) => RetryClass::Retry,
            Self::Ghl(e) => e.retry_class(),
            Self::Lofty(e) => e.retry_class(),
            Self::Lytho(e) => e.retry_class(),
        }
    }
}

/// The queue's failure for a client's retry class.
pub fn failure_of(class: RetryClass) -> Failure {
    match class {
        RetryClass::RetryAfter(d) => Failure::RetryAfter(d),
        RetryClass::Retry => Failure::Retry,
        RetryClass::Reauth => Failure::Reauth,
        RetryClass::GiveUp => Failure::GiveUp,
    }
}

/// A stored connection, opened.
#[derive(Debug, Clone)]
pub enum Connector {
    /// Boxed: a GHL client with its token source is much larger than the others.
    Ghl(Box<GhlConnector>),
    Lofty(LoftyConnector),
    Lytho(LythoConnector),
}

/// A GHL location (or agency) connection with its client.
#[derive(Debug, Clone)]
pub struct GhlConnector {
    pub connection: Connection,
    client: GhlClient,
    token: SecretString,
    tokens: TokenSource,
}

/// A Lofty connection with its client (API key or OAuth token).
#[derive(Debug, Clone)]
pub struct LoftyConnector {
    pub connection: Connection,
    pub client: lofty::LoftyClient,
}

/// A Lytho tenant connection with its client (which caches its own token).
#[derive(Debug, Clone)]
pub struct LythoConnector {
    pub connection: Connection,
    pub client: lytho::LythoClient,
}

/// Result of a health check.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub connection: String,
    pub ok: bool,
    pub detail: String,
}

impl Connector {
    pub fn connection(&self) -> &Connection {
        match self {
            Self::Ghl(c) => &c.connection,
            Self::Lofty(c) => &c.connection,
            Self::Lytho(c) => &c.connection,
        }
    }

    pub fn system(&self) -> System {
        self.connection().system
    }

    /// A cheap authenticated call through the connection.
    pub async fn healthcheck(&self) -> Result<String, ConnectorError> {
        match self {
            Self::Ghl(c) => {
                let conn = &c.connection;
                match (&conn.location_id, &conn.company_id) {
                    (Some(loc), _) => {
                        c.call_id(
                            "get-contacts",
                            serde_json::json!({"locationId": loc, "limit": 1}),
                        )
                        .await?;
                        Ok(format!("{} {loc} ok", conn.kind))
                    }
                    // An agency token: its own refresh (when opening) proves it works.
                    (None, Some(company)) => Ok(format!("{} {company} ok", conn.kind)),
                    (None, None) => Err(ConnectorError::Broken {
                        id: conn.id.clone(),
                        problem: "it has no location or company".to_owned(),
                    }),
                }
            }
            Self::Lofty(c) => {
                let me = c.client.me().await?;
                Ok(format!(
                    "lofty {} member {} ok",
                    c.connection.kind, me.member_user_id
                ))
            }
            Self::Lytho(c) => {
                c.client
                    .call("lytho-search-tasks", serde_json::json!({}))
                    .await?;
                Ok("lytho client_credentials ok".to_owned())
            }
        }
    }

    /// The GHL connector, or an error naming the connection's real system.
    pub fn into_ghl(self) -> Result<GhlConnector, ConnectorError> {
        match self {
            Self::Ghl(c) => Ok(*c),
            other => Err(wrong_system(other.connection(), System::Ghl)),
        }
    }

    pub fn into_lofty(self) -> Result<LoftyConnector, ConnectorError> {
        match self {
            Self::Lofty(c) => Ok(c),
            other => Err(wrong_system(other.connection(), System::Lofty)),
        }
    }

    pub fn into_lytho(self) -> Result<LythoConnector, ConnectorError> {
        match self {
            Self::Lytho(c) => Ok(c),
            other => Err(wrong_system(other.connection(), System::Lytho)),
        }
    }
}

fn wrong_system(conn: &Connection, wanted: System) -> ConnectorError {
    ConnectorError::WrongSystem {
        id: conn.id.clone(),
        system: conn.system,
        wanted,
    }
}

impl GhlConnector {
    /// The client (paced by the shared budget and the governor).
    pub fn client(&self) -> &GhlClient {
        &self.client
    }

    /// Runs one operation by id.
    pub async fn call_id(&self, op_id: &str, input: Value) -> Result<Value, ConnectorError> {
        let op = ghl::operations::find(op_id)
            .ok_or_else(|| ConnectorError::UnknownOperation(op_id.to_owned()))?;
        self.call(op, input).await
    }

    /// Runs one operation, after checking the connection's scopes (no call is made
    /// when one is missing). A refused OAuth token is refreshed once (unless another
    /// worker already did) and the call retried; a refused Private Integration Token
    /// has nothing to refresh, so GHL's answer (its reason) is the error.
    pub async fn call(&self, op: &Operation, input: Value) -> Result<Value, ConnectorError> {
        let conn = &self.connection;
        if let Some(scope) = op.scope
            && !conn.scopes.split_whitespace().any(|s| s == scope)
        {
            return Err(ConnectorError::MissingScope {
                op: op.id.to_owned(),
                scope: scope.to_owned(),
                id: conn.id.clone(),
                has: display_scopes(&conn.scopes),
            });
        }
        match self.client.execute(op, input.clone()).await {
            Err(e) if matches!(e.retry_class(), RetryClass::Reauth) && conn.kind.refreshes() => {
                let fresh = self.tokens.refresh(conn, Some(&self.token)).await?;
                let client = self.client.with_token(fresh.access);
                client.execute(op, input).await.map_err(|e| {
                    if matches!(e.retry_class(), RetryClass::Reauth) {
                        tracing::warn!(connection = %conn.id, "GHL refused the connection's token after a refresh");
                    }
                    ConnectorError::Ghl(e)
                })
            }
            other => Ok(other?),
        }
    }
}

fn display_scopes(scopes: &str) -> String {
    if scopes.trim().is_empty() {
        "no scopes".to_owned()
    } else {
        scopes.replace(' ', ", ")
    }
}

/// Opens connections. Cheap to clone; one per worker.
#[derive(Debug, Clone)]
pub struct Connectors {
    store: Store,
    tokens: TokenSource,
    http: reqwest::Client,
    /// How long one GHL or Lofty call may take (the clients set it per request).
    http_timeout: std::time::Duration,
    governor: Arc<Governor>,
    budget: SharedBudget,
    /// Where GHL connections stored without a base URL go.
    default_ghl_base: url::Url,
    /// Lytho clients by (connection, row version): each caches its tenant token.
    lytho: Arc<Mutex<HashMap<(String, i64), lytho::LythoClient>>>,
    /// Lofty pacers by connection: every client of a credential waits out the rate
    /// window its `X-RateLimit-*` headers announce (Lofty's budget is per
    /// credential: 100 or 500 a minute for apps, reported 10 for personal keys).
    lofty_pacers: Arc<Mutex<HashMap<String, Arc<lofty::Pacer>>>>,
    /// The GHL calendar new appointments are booked on, by location id (`*`: any
    /// location), from the config's `[ghl.calendars]`: an id or a name.
    ghl_calendars: Arc<std::collections::BTreeMap<String, String>>,
}

impl Connectors {
    /// Calls give up after `timeout` (default [`wire::http::DEFAULT_TIMEOUT`]).
    #[must_use]
    pub fn with_http_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    pub fn new(store: Store, tokens: TokenSource, default_ghl_base: url::Url) -> Self {
        Self {
            budget: SharedBudget::new(store.clone()),
            store,
            tokens,
            http: wire::http::default_http_client(),
            http_timeout: wire::http::DEFAULT_TIMEOUT,
            governor: Arc::new(Governor::new()),
            default_ghl_base,
            lytho: Arc::default(),
            lofty_pacers: Arc::default(),
            ghl_calendars: Arc::default(),
        }
    }

    /// With the GHL calendars appointments are booked on (location id, or `*`,
    /// to a calendar id or name).
    pub fn with_ghl_calendars(
        mut self,
        calendars: std::collections::BTreeMap<String, String>,
    ) -> Self {
        self.ghl_calendars = Arc::new(calendars);
        self
    }

    /// The configured calendars: location (or `*`) to calendar id or name.
    pub fn ghl_calendars(&self) -> &std::collections::BTreeMap<String, String> {
        &self.ghl_calendars
    }

    /// The calendar configured for a location (its own entry, else `*`).
    pub fn ghl_calendar(&self, location: &str) -> Option<&str> {
        self.ghl_calendars
            .get(location)
            .or_else(|| self.ghl_calendars.get("*"))
            .map(String::as_str)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn tokens(&self) -> &TokenSource {
        &self.tokens
    }

    pub fn budget(&self) -> &SharedBudget {
        &self.budget
    }

    /// Opens the connection with this id or name.
    pub async fn open(&self, id_or_name: &str) -> Result<Connector, ConnectorError> {
        let conn = self
            .store
            .find_connection(id_or_name)
            .await?
            .ok_or_else(|| ConnectorError::Unknown(id_or_name.to_owned()))?;
        self.open_connection(conn).await
    }

    /// Opens a connection read from the store. Only an active connection opens.
    pub async fn open_connection(&self, conn: Connection) -> Result<Connector, ConnectorError> {
        if conn.status != ConnectionStatus::Active {
            return Err(ConnectorError::Inactive {
                id: conn.id.clone(),
                status: conn.status.as_str(),
            });
        }
        match conn.system {
            System::Ghl => self
                .open_ghl(conn)
                .await
                .map(|c| Connector::Ghl(Box::new(c))),
            System::Lofty => self.open_lofty(conn).await.map(Connector::Lofty),
            System::Lytho => self.open_lytho(conn).await.map(Connector::Lytho),
        }
    }

    async fn open_ghl(&self, conn: Connection) -> Result<GhlConnector, ConnectorError> {
        let token = self.tokens.access_token(&conn).await?;
        let base = match &conn.base_url {
            Some(text) => parse_url(&conn, text)?,
            None => self.default_ghl_base.clone(),
        };
        let mut config = GhlConfig::new(token.clone())
            .with_base_url(base)
            .with_timeout(self.http_timeout);
        if let Some(loc) = &conn.location_id {
            config = config.with_location(loc.clone());
        }
        let client = GhlClient::with_http(config, self.http.clone())
            .with_gate(Arc::new(self.budget.clone()))
            .with_governor(self.governor.clone());
        Ok(GhlConnector {
            connection: conn,
            client,
            token,
            tokens: self.tokens.clone(),
        })
    }

    async fn open_lofty(&self, conn: Connection) -> Result<LoftyConnector, ConnectorError> {
        let base = self.base_url(&conn)?;
        let config = if conn.kind == AuthKind::Oauth {
            lofty::LoftyConfig::oauth(self.tokens.access_token(&conn).await?)
        } else {
            let key = self
                .store
                .secret(&conn.id, "api_key")
                .await?
                .ok_or_else(|| ConnectorError::Broken {
                    id: conn.id.clone(),
                    problem: "it has no Lofty API key".to_owned(),
                })?;
            lofty::LoftyConfig::api_key(key)
        };
        let pacer = self
            .lofty_pacers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(conn.id.clone())
            .or_default()
            .clone();
        let config = config.with_base_url(base).with_timeout(self.http_timeout);
        let client =
            lofty::LoftyClient::with_http(config, self.http.clone()).with_shared_pacing(pacer);
        Ok(LoftyConnector {
            connection: conn,
            client,
        })
    }

    async fn open_lytho(&self, conn: Connection) -> Result<LythoConnector, ConnectorError> {
        let key = (conn.id.clone(), conn.updated_at);
        let cached = self
            .lytho
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(client) = cached {
            return Ok(LythoConnector {
                connection: conn,
                client,
            });
        }
        let account = LythoAccount {
            base_url: self.base_url(&conn)?,
            token_url: parse_url(&conn, &self.secret_text(&conn, "token_url").await?)?,
            client_id: self.secret_text(&conn, "client_id").await?,
            client_secret: SecretString::from(self.secret_text(&conn, "client_secret").await?),
        };
        let client = account.client()?;
        let mut cache = self
            .lytho
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.retain(|(id, _), _| *id != conn.id);
        cache.insert(key, client.clone());
        drop(cache);
        Ok(LythoConnector {
            connection: conn,
            client,
        })
    }

    fn base_url(&self, conn: &Connection) -> Result<url::Url, ConnectorError> {
        let text = conn
            .base_url
            .as_deref()
            .ok_or_else(|| ConnectorError::Broken {
                id: conn.id.clone(),
                problem: "it has no base URL".to_owned(),
            })?;
        parse_url(conn, text)
    }

    async fn secret_text(&self, conn: &Connection, name: &str) -> Result<String, ConnectorError> {
        let secret =
            self.store
                .secret(&conn.id, name)
                .await?
                .ok_or_else(|| ConnectorError::Broken {
                    id: conn.id.clone(),
                    problem: format!("it has no {name}"),
                })?;
        Ok(secret.expose_secret().to_owned())
    }

    /// Opens the connection and makes a cheap authenticated call through it.
    pub async fn healthcheck(&self, id_or_name: &str) -> Health {
        let result = async {
            let connector = self.open(id_or_name).await?;
            let detail = connector.healthcheck().await?;
            Ok::<_, ConnectorError>((connector.connection().id.clone(), detail))
        }
        .await;
        match result {
            Ok((connection, detail)) => Health {
                connection,
                ok: true,
                detail,
            },
            Err(e) => Health {
                connection: id_or_name.to_owned(),
                ok: false,
                detail: e.to_string(),
            },
        }
    }
}

fn parse_url(conn: &Connection, text: &str) -> Result<url::Url, ConnectorError> {
    url::Url::parse(text).map_err(|e| ConnectorError::Broken {
        id: conn.id.clone(),
        problem: format!("its stored URL {text} is invalid: {e}"),
    })
}
