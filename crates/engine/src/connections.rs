//! Making and keeping connections: what the OAuth callback stores, agency installs
//! (one connection per installed location), INSTALL/UNINSTALL, Private Integration
//! Tokens, and health checks.

use ghl::models::{TokenResponse, UserType};
use ghl::{GhlClient, GhlConfig, GhlError, OAuthApp};
use secrecy::SecretString;
use serde::Serialize;
use store::{ConnectionStatus, NewConnection, NewJob, Store, StoreError, TokenSet};

use crate::tokens::{GhlApp, TokenError, TokenSource};

/// Connection id of a GHL location.
pub fn location_connection_id(location_id: &str) -> String {
    format!("ghl:{location_id}")
}

/// Connection id of a GHL agency (company).
pub fn agency_connection_id(company_id: &str) -> String {
    format!("ghl-agency:{company_id}")
}

/// Errors while connecting.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("GHL refused: {0}")]
    Ghl(#[from] GhlError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("{0}")]
    Invalid(String),
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

fn expires_at(store: &Store, expires_in: Option<u64>) -> Option<i64> {
    expires_in.map(|s| expiry(store.now(), s))
}

/// When a token that lives `expires_in` seconds from `now` (epoch ms) expires.
pub(crate) fn expiry(now: i64, expires_in: u64) -> i64 {
    now.saturating_add(
        i64::try_from(expires_in)
            .unwrap_or(i64::MAX / 2_000)
            .saturating_mul(1000),
    )
}

/// Stores what `/oauth/token` returned: a Location token becomes one connection; a
/// Company token becomes the agency connection plus one connection per installed
/// location. Returns the connection ids made or refreshed.
pub async fn store_oauth_tokens(
    store: &Store,
    app: &GhlApp,
    tokens: &TokenResponse,
) -> Result<Vec<String>, ConnectError> {
    let scopes = tokens.scope.clone().unwrap_or_default();
    let set = TokenSet {
        access: tokens.access_token.clone(),
        refresh: tokens.refresh_token.clone(),
        expires_at: expires_at(store, tokens.expires_in),
    };
    let company = tokens.user_type.as_deref() == Some("Company") || tokens.location_id.is_none();
    if !company {
        let location = tokens.location_id.clone().unwrap_or_default();
        let id = location_connection_id(&location);
        store
            .upsert_connection(&NewConnection {
                id: id.clone(),
                system: "ghl".to_owned(),
                kind: "oauth".to_owned(),
                location_id: Some(location),
                company_id: tokens.company_id.clone(),
                scopes,
            })
            .await?;
        store.put_tokens(&id, &set).await?;
        return Ok(vec![id]);
    }
    let company_id = tokens
        .company_id
        .clone()
        .ok_or_else(|| ConnectError::Invalid("a Company token without companyId".to_owned()))?;
    let agency = agency_connection_id(&company_id);
    store
        .upsert_connection(&NewConnection {
            id: agency.clone(),
            system: "ghl".to_owned(),
            kind: "oauth-agency".to_owned(),
            location_id: None,
            company_id: Some(company_id.clone()),
            scopes,
        })
        .await?;
    store.put_tokens(&agency, &set).await?;
    let mut ids = vec![agency];
    ids.extend(sync_agency(store, app, &company_id, &set.access).await?);
    Ok(ids)
}

/// Makes one connection per location where the app is installed, from the agency's
/// (fresh) token (`/oauth/installedLocations` + `/oauth/locationToken`).
pub async fn sync_agency(
    store: &Store,
    app: &GhlApp,
    company_id: &str,
    agency_token: &SecretString,
) -> Result<Vec<String>, ConnectError> {
    let oauth = oauth_app(app, "");
    let app_id = ghl::oauth::app_id(&app.client_id).to_owned();
    let mut ids = Vec::new();
    let mut skip = 0u32;
    loop {
        let page = oauth
            .installed_locations(
                agency_token,
                company_id,
                &app_id,
                Some(skip),
                Some(100),
                Some(true),
            )
            .await?;
        let n = u32::try_from(page.locations.len()).unwrap_or(0);
        for loc in &page.locations {
            ids.push(connect_location(store, &oauth, agency_token, company_id, &loc.id).await?);
        }
        skip += n;
        if n == 0 || u64::from(skip) >= page.count.unwrap_or(0) {
            break;
        }
    }
    Ok(ids)
}

/// Mints a location token from the agency token and stores the location's connection.
pub async fn connect_location(
    store: &Store,
    oauth: &OAuthApp,
    agency_token: &SecretString,
    company_id: &str,
    location_id: &str,
) -> Result<String, ConnectError> {
    let t = oauth
        .location_token(agency_token, company_id, location_id)
        .await?;
    let id = location_connection_id(location_id);
    store
        .upsert_connection(&NewConnection {
            id: id.clone(),
            system: "ghl".to_owned(),
            kind: "oauth".to_owned(),
            location_id: Some(location_id.to_owned()),
            company_id: Some(company_id.to_owned()),
            scopes: t.scope.clone().unwrap_or_default(),
        })
        .await?;
    store
        .put_tokens(
            &id,
            &TokenSet {
                access: t.access_token.clone(),
                refresh: t.refresh_token.clone(),
                expires_at: expires_at(store, t.expires_in),
            },
        )
        .await?;
    Ok(id)
}

/// INSTALL: a new (or re-installed) location of a connected agency gets its connection,
/// from the agency token that `tokens` keeps fresh.
pub async fn on_install(
    store: &Store,
    tokens: &TokenSource,
    app: &GhlApp,
    company_id: Option<&str>,
    location_id: Option<&str>,
) -> Result<Option<String>, ConnectError> {
    let (Some(company_id), Some(location_id)) = (company_id, location_id) else {
        return Ok(None);
    };
    let Some(agency) = store.connection(&agency_connection_id(company_id)).await? else {
        // A location install without an agency connection: the user connects it via OAuth.
        return Ok(None);
    };
    let agency_token = tokens.access_token(&agency).await?;
    let id = connect_location(
        store,
        &oauth_app(app, ""),
        &agency_token,
        company_id,
        location_id,
    )
    .await?;
    Ok(Some(id))
}

/// UNINSTALL: the location's connection is disabled; its data and queued jobs stay.
pub async fn on_uninstall(
    store: &Store,
    location_id: Option<&str>,
    at: &str,
) -> Result<Option<String>, ConnectError> {
    let Some(location_id) = location_id else {
        return Ok(None);
    };
    let id = location_connection_id(location_id);
    if store.connection(&id).await?.is_none() {
        return Ok(None);
    }
    let reason = format!(
        "the app was uninstalled from this location in GHL ({at}); data and queued jobs are kept until it is installed again"
    );
    store
        .set_connection_status(&id, ConnectionStatus::Disabled, Some(&reason))
        .await?;
    Ok(Some(id))
}

/// Stores a Private Integration Token connection for a location.
pub async fn connect_pit(
    store: &Store,
    location_id: &str,
    token: &SecretString,
    scopes: &str,
) -> Result<String, ConnectError> {
    let id = location_connection_id(location_id);
    store
        .upsert_connection(&NewConnection {
            id: id.clone(),
            system: "ghl".to_owned(),
            kind: "pit".to_owned(),
            location_id: Some(location_id.to_owned()),
            company_id: None,
            scopes: scopes.to_owned(),
        })
        .await?;
    store
        .put_tokens(
            &id,
            &TokenSet {
                access: token.clone(),
                refresh: None,
                expires_at: None,
            },
        )
        .await?;
    Ok(id)
}

/// Stores a Lofty connection made with a personal API key, after checking the key
/// with `GET /v1.0/me`. Returns the connection id `lofty:<member user id>`.
pub async fn connect_lofty_key(
    store: &Store,
    base_url: &url::Url,
    api_key: &SecretString,
) -> Result<String, ConnectError> {
    let client = lofty::LoftyClient::new(
        lofty::LoftyConfig::api_key(api_key.clone()).with_base_url(base_url.clone()),
    )
    .map_err(|e| ConnectError::Invalid(e.to_string()))?;
    let me = client
        .me()
        .await
        .map_err(|e| ConnectError::Invalid(format!("Lofty refused the API key: {e}")))?;
    let id = format!("lofty:{}", me.member_user_id);
    store
        .upsert_connection(&NewConnection {
            id: id.clone(),
            system: "lofty".to_owned(),
            kind: "api_key".to_owned(),
            location_id: None,
            company_id: me.team_id.map(|t| t.to_string()),
            scopes: String::new(),
        })
        .await?;
    store.put_secret(&id, "api_key", api_key).await?;
    store
        .put_secret(&id, "base_url", &SecretString::from(base_url.to_string()))
        .await?;
    store.enqueue(&lofty_subscribe_job(store, &id)).await?;
    Ok(id)
}

/// Stores a Lofty connection made through Lofty's OAuth consent: the member comes from
/// `GET /v1.0/me` with the new token. Returns `lofty:<member user id>`.
pub async fn store_lofty_oauth(
    store: &Store,
    base_url: &url::Url,
    tokens: &lofty::TokenResponse,
) -> Result<String, ConnectError> {
    let client = lofty::LoftyClient::new(
        lofty::LoftyConfig::oauth(tokens.access_token.clone()).with_base_url(base_url.clone()),
    )
    .map_err(|e| ConnectError::Invalid(e.to_string()))?;
    let me = client
        .me()
        .await
        .map_err(|e| ConnectError::Invalid(format!("Lofty refused the new token: {e}")))?;
    let id = format!("lofty:{}", me.member_user_id);
    store
        .upsert_connection(&NewConnection {
            id: id.clone(),
            system: "lofty".to_owned(),
            kind: "oauth".to_owned(),
            location_id: None,
            company_id: me.team_id.map(|t| t.to_string()),
            scopes: String::new(),
        })
        .await?;
    store
        .put_tokens(
            &id,
            &TokenSet {
                access: tokens.access_token.clone(),
                refresh: tokens.refresh_token.clone(),
                expires_at: expires_at(store, Some(tokens.expires_in)),
            },
        )
        .await?;
    store
        .put_secret(&id, "base_url", &SecretString::from(base_url.to_string()))
        .await?;
    store.enqueue(&lofty_subscribe_job(store, &id)).await?;
    Ok(id)
}

/// Where a Lytho tenant is and how to authenticate to it.
#[derive(Debug, Clone)]
pub struct LythoAccount {
    pub base_url: url::Url,
    pub token_url: url::Url,
    pub client_id: String,
    pub client_secret: SecretString,
}

/// Stores a Lytho connection (OAuth client credentials) after fetching a token with
/// them. Returns the connection id `lytho:<client id>`.
pub async fn connect_lytho(store: &Store, account: &LythoAccount) -> Result<String, ConnectError> {
    let client = lytho_client(account).map_err(|e| ConnectError::Invalid(e.to_string()))?;
    client
        .tokens()
        .access_token()
        .await
        .map_err(|e| ConnectError::Invalid(format!("Lytho refused the client credentials: {e}")))?;
    let id = format!("lytho:{}", account.client_id);
    let tenant = account
        .token_url
        .path_segments()
        .and_then(|mut s| s.nth(2).map(str::to_owned));
    store
        .upsert_connection(&NewConnection {
            id: id.clone(),
            system: "lytho".to_owned(),
            kind: "client_credentials".to_owned(),
            location_id: None,
            company_id: tenant,
            scopes: String::new(),
        })
        .await?;
    store
        .put_secret(
            &id,
            "client_id",
            &SecretString::from(account.client_id.clone()),
        )
        .await?;
    store
        .put_secret(&id, "client_secret", &account.client_secret)
        .await?;
    store
        .put_secret(
            &id,
            "token_url",
            &SecretString::from(account.token_url.to_string()),
        )
        .await?;
    store
        .put_secret(
            &id,
            "base_url",
            &SecretString::from(account.base_url.to_string()),
        )
        .await?;
    Ok(id)
}

fn lytho_client(account: &LythoAccount) -> Result<lytho::LythoClient, lytho::LythoError> {
    lytho::LythoClient::new(lytho::LythoConfig::with_urls(
        account.base_url.clone(),
        account.token_url.clone(),
        account.client_id.clone(),
        account.client_secret.clone(),
    ))
}

/// A Lofty client for a Lofty connection: its API key, or its OAuth token (refreshed
/// ahead of expiry through `tokens`).
pub async fn lofty_client(
    store: &Store,
    tokens: &TokenSource,
    conn: &store::Connection,
) -> Result<lofty::LoftyClient, ConnectError> {
    let base = parse_url(&secret_text(store, &conn.id, "base_url").await?)?;
    let config = if conn.kind == "oauth" {
        lofty::LoftyConfig::oauth(tokens.access_token(conn).await?)
    } else {
        let key = store.secret(&conn.id, "api_key").await?.ok_or_else(|| {
            ConnectError::Invalid(format!(
                "connection {} has no Lofty API key; connect it again",
                conn.id
            ))
        })?;
        lofty::LoftyConfig::api_key(key)
    };
    lofty::LoftyClient::new(config.with_base_url(base))
        .map_err(|e| ConnectError::Invalid(e.to_string()))
}

/// The Lofty event lists the recipes use: leads, notes, tasks, appointments.
pub const LOFTY_WEBHOOK_LISTS: [lofty::models::EventList; 4] = [
    lofty::models::EventList::LeadInfo,
    lofty::models::EventList::Note,
    lofty::models::EventList::Task,
    lofty::models::EventList::Appointment,
];

/// The callback URL of a Lofty connection's deliveries:
/// `<public_url>/webhooks/lofty/<key>`. It carries the connection's secret key.
pub async fn lofty_callback_url(
    store: &Store,
    public_url: &url::Url,
    connection_id: &str,
) -> Result<SecretString, ConnectError> {
    let key = store.webhook_key(connection_id).await?;
    let base = public_url.as_str().trim_end_matches('/');
    Ok(SecretString::from(format!(
        "{base}/webhooks/lofty/{}",
        secrecy::ExposeSecret::expose_secret(&key)
    )))
}

/// Job that subscribes a Lofty connection to [`LOFTY_WEBHOOK_LISTS`] (enqueued when
/// it is connected; it runs again on every reconnect and skips what exists).
pub fn lofty_subscribe_job(store: &Store, connection_id: &str) -> NewJob {
    NewJob::new(
        "lofty.subscribe",
        format!("lofty:subscribe:{connection_id}:{}", store.now()),
        serde_json::json!({ "connection": connection_id }),
    )
    .on_connection(connection_id)
}

async fn secret_text(store: &Store, id: &str, name: &str) -> Result<String, ConnectError> {
    let s = store.secret(id, name).await?.ok_or_else(|| {
        ConnectError::Invalid(format!("connection {id} has no {name}; connect it again"))
    })?;
    Ok(secrecy::ExposeSecret::expose_secret(&s).to_owned())
}

fn parse_url(text: &str) -> Result<url::Url, ConnectError> {
    url::Url::parse(text)
        .map_err(|e| ConnectError::Invalid(format!("stored URL {text} is invalid: {e}")))
}

/// Result of a health check.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub connection: String,
    pub ok: bool,
    pub detail: String,
}

/// A cheap authenticated call through the connection (refreshing if needed).
pub async fn healthcheck(
    store: &Store,
    tokens: &TokenSource,
    base_url: &url::Url,
    connection_id: &str,
) -> Health {
    let result = async {
        let conn = store
            .connection(connection_id)
            .await?
            .ok_or_else(|| ConnectError::Invalid(format!("no connection {connection_id}")))?;
        match conn.system.as_str() {
            "lofty" => {
                let client = lofty_client(store, tokens, &conn).await?;
                let me = client
                    .me()
                    .await
                    .map_err(|e| ConnectError::Invalid(format!("Lofty: {e}")))?;
                return Ok(format!(
                    "lofty {} member {} ok",
                    conn.kind, me.member_user_id
                ));
            }
            "lytho" => {
                let account = LythoAccount {
                    base_url: parse_url(&secret_text(store, &conn.id, "base_url").await?)?,
                    token_url: parse_url(&secret_text(store, &conn.id, "token_url").await?)?,
                    client_id: secret_text(store, &conn.id, "client_id").await?,
                    client_secret: SecretString::from(
                        secret_text(store, &conn.id, "client_secret").await?,
                    ),
                };
                let client =
                    lytho_client(&account).map_err(|e| ConnectError::Invalid(e.to_string()))?;
                client
                    .call("lytho-search-tasks", serde_json::json!({}))
                    .await
                    .map_err(|e| ConnectError::Invalid(format!("Lytho: {e}")))?;
                return Ok("lytho client_credentials ok".to_owned());
            }
            _ => {}
        }
        let token = tokens.access_token(&conn).await?;
        let client = GhlClient::new(GhlConfig::new(token).with_base_url(base_url.clone()))?;
        match (&conn.location_id, &conn.company_id) {
            (Some(loc), _) => {
                client
                    .call(
                        "get-contacts",
                        serde_json::json!({"locationId": loc, "limit": 1}),
                    )
                    .await?;
            }
            (None, Some(_)) => {
                // An agency token: its own refresh proves it works.
            }
            (None, None) => {
                return Err(ConnectError::Invalid(
                    "connection has no location or company".to_owned(),
                ));
            }
        }
        Ok::<_, ConnectError>(format!(
            "{} {} ok",
            conn.kind,
            conn.location_id.or(conn.company_id).unwrap_or_default()
        ))
    }
    .await;
    match result {
        Ok(detail) => Health {
            connection: connection_id.to_owned(),
            ok: true,
            detail,
        },
        Err(e) => Health {
            connection: connection_id.to_owned(),
            ok: false,
            detail: e.to_string(),
        },
    }
}

/// The `user_type` to ask for when exchanging a code.
pub fn user_type(company: bool) -> Option<UserType> {
    company.then_some(UserType::Company)
}
