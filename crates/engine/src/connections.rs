//! Making connections: what the OAuth callbacks store, agency installs (one
//! connection per installed location), INSTALL/UNINSTALL, Private Integration Tokens,
//! Lofty API keys and OAuth, Lytho client credentials.
//!
//! This module only *stores* connections from credentials it is handed (and checks
//! them once). Using a stored connection (its client, its health) is
//! [`crate::connectors`]; keeping its tokens fresh is [`crate::tokens`].

use domain::{AuthKind, System};
use ghl::models::{TokenResponse, UserType};
use ghl::{GhlError, OAuthApp};
use secrecy::SecretString;
use store::{ConnectionStatus, NewConnection, Store, StoreError, TokenSet};

use crate::apps::{GhlApp, expiry, oauth_app};
use crate::jobs::{Job, LoftySubscribe};

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
    Invalid(String),
}

fn expires_at(store: &Store, expires_in: Option<u64>) -> Option<i64> {
    expires_in.map(|s| expiry(store.now(), s))
}

/// A GHL location connection's row.
fn ghl_location(
    location_id: &str,
    company_id: Option<&str>,
    kind: AuthKind,
    scopes: &str,
    base_url: &url::Url,
    name: Option<&str>,
) -> NewConnection {
    NewConnection {
        id: location_connection_id(location_id),
        system: System::Ghl,
        kind,
        location_id: Some(location_id.to_owned()),
        company_id: company_id.map(str::to_owned),
        scopes: scopes.to_owned(),
        base_url: Some(base_url.to_string()),
        name: Some(name.map_or_else(|| format!("GHL location {location_id}"), str::to_owned)),
    }
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
        let row = ghl_location(
            &location,
            tokens.company_id.as_deref(),
            AuthKind::Oauth,
            &scopes,
            &app.api_base,
            None,
        );
        store.upsert_connection(&row).await?;
        store.put_tokens(&row.id, &set).await?;
        return Ok(vec![row.id]);
    }
    let company_id = tokens
        .company_id
        .clone()
        .ok_or_else(|| ConnectError::Invalid("a Company token without companyId".to_owned()))?;
    let agency = agency_connection_id(&company_id);
    store
        .upsert_connection(&NewConnection {
            id: agency.clone(),
            system: System::Ghl,
            kind: AuthKind::OauthAgency,
            location_id: None,
            company_id: Some(company_id.clone()),
            scopes,
            base_url: Some(app.api_base.to_string()),
            name: Some(format!("GHL agency {company_id}")),
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
            let location = Location {
                company_id,
                location_id: &loc.id,
                name: Some(&loc.name),
            };
            ids.push(connect_location(store, app, &oauth, agency_token, &location).await?);
        }
        skip += n;
        if n == 0 || u64::from(skip) >= page.count.unwrap_or(0) {
            break;
        }
    }
    Ok(ids)
}

/// A location of an agency.
#[derive(Debug, Clone, Copy)]
pub struct Location<'a> {
    pub company_id: &'a str,
    pub location_id: &'a str,
    /// Its name in GHL, when known (it names the connection).
    pub name: Option<&'a str>,
}

/// Mints a location token from the agency token and stores the location's connection.
pub async fn connect_location(
    store: &Store,
    app: &GhlApp,
    oauth: &OAuthApp,
    agency_token: &SecretString,
    location: &Location<'_>,
) -> Result<String, ConnectError> {
    let t = oauth
        .location_token(agency_token, location.company_id, location.location_id)
        .await?;
    let row = ghl_location(
        location.location_id,
        Some(location.company_id),
        AuthKind::Oauth,
        t.scope.as_deref().unwrap_or_default(),
        &app.api_base,
        location.name,
    );
    store.upsert_connection(&row).await?;
    store
        .put_tokens(
            &row.id,
            &TokenSet {
                access: t.access_token.clone(),
                refresh: t.refresh_token.clone(),
                expires_at: expires_at(store, t.expires_in),
            },
        )
        .await?;
    Ok(row.id)
}

/// INSTALL: a new (or re-installed) location of a connected agency gets its
/// connection, from the agency's (fresh) token. `None` when the agency is not
/// connected (a location install is connected by the user through OAuth).
pub async fn on_install(
    store: &Store,
    app: &GhlApp,
    agency_token: &SecretString,
    company_id: &str,
    location_id: &str,
) -> Result<String, ConnectError> {
    let location = Location {
        company_id,
        location_id,
        name: None,
    };
    connect_location(store, app, &oauth_app(app, ""), agency_token, &location).await
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
    base_url: &url::Url,
    location_id: &str,
    token: &SecretString,
    scopes: &str,
) -> Result<String, ConnectError> {
    let row = ghl_location(location_id, None, AuthKind::Pit, scopes, base_url, None);
    store.upsert_connection(&row).await?;
    store
        .put_tokens(
            &row.id,
            &TokenSet {
                access: token.clone(),
                refresh: None,
                expires_at: None,
            },
        )
        .await?;
    Ok(row.id)
}

/// A Lofty member's connection row: `lofty:<member user id>`, named after the member.
fn lofty_member(me: &lofty::models::Member, kind: AuthKind, base_url: &url::Url) -> NewConnection {
    let person = [me.first_name.as_deref(), me.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let who = if person.is_empty() {
        me.email
            .clone()
            .unwrap_or_else(|| format!("member {}", me.member_user_id))
    } else {
        person
    };
    NewConnection {
        id: format!("lofty:{}", me.member_user_id),
        system: System::Lofty,
        kind,
        location_id: None,
        company_id: me.team_id.map(|t| t.to_string()),
        scopes: String::new(),
        base_url: Some(base_url.to_string()),
        name: Some(format!("Lofty {who}")),
    }
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
    let row = lofty_member(&me, AuthKind::ApiKey, base_url);
    store.upsert_connection(&row).await?;
    store.put_secret(&row.id, "api_key", api_key).await?;
    enqueue_subscribe(store, &row.id).await?;
    Ok(row.id)
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
    let row = lofty_member(&me, AuthKind::Oauth, base_url);
    store.upsert_connection(&row).await?;
    store
        .put_tokens(
            &row.id,
            &TokenSet {
                access: tokens.access_token.clone(),
                refresh: tokens.refresh_token.clone(),
                expires_at: expires_at(store, Some(tokens.expires_in)),
            },
        )
        .await?;
    enqueue_subscribe(store, &row.id).await?;
    Ok(row.id)
}

/// Subscribes a Lofty connection's webhooks (again on every reconnect; the job skips
/// what exists).
async fn enqueue_subscribe(store: &Store, connection: &str) -> Result<(), StoreError> {
    let job = Job::from(LoftySubscribe {
        connection: connection.to_owned(),
        requested_at: store.now(),
    });
    store.enqueue(&job.into_new_job()).await?;
    Ok(())
}

/// Where a Lytho tenant is and how to authenticate to it.
#[derive(Debug, Clone)]
pub struct LythoAccount {
    pub base_url: url::Url,
    pub token_url: url::Url,
    pub client_id: String,
    pub client_secret: SecretString,
}

impl LythoAccount {
    /// The tenant, from the token URL (`.../oauth/<tenant>/token` style paths).
    pub fn tenant(&self) -> Option<String> {
        self.token_url
            .path_segments()
            .and_then(|mut s| s.nth(2).map(str::to_owned))
    }

    pub fn client(&self) -> Result<lytho::LythoClient, lytho::LythoError> {
        lytho::LythoClient::new(lytho::LythoConfig::with_urls(
            self.base_url.clone(),
            self.token_url.clone(),
            self.client_id.clone(),
            self.client_secret.clone(),
        ))
    }
}

/// Stores a Lytho connection (OAuth client credentials) after fetching a token with
/// them. Returns the connection id `lytho:<client id>`.
pub async fn connect_lytho(store: &Store, account: &LythoAccount) -> Result<String, ConnectError> {
    let client = account
        .client()
        .map_err(|e| ConnectError::Invalid(e.to_string()))?;
    client
        .tokens()
        .access_token()
        .await
        .map_err(|e| ConnectError::Invalid(format!("Lytho refused the client credentials: {e}")))?;
    let id = format!("lytho:{}", account.client_id);
    let tenant = account.tenant();
    store
        .upsert_connection(&NewConnection {
            id: id.clone(),
            system: System::Lytho,
            kind: AuthKind::ClientCredentials,
            location_id: None,
            company_id: tenant.clone(),
            scopes: String::new(),
            base_url: Some(account.base_url.to_string()),
            name: Some(format!(
                "Lytho {}",
                tenant.as_deref().unwrap_or(&account.client_id)
            )),
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
    Ok(id)
}

/// The `user_type` to ask for when exchanging a code.
pub fn user_type(company: bool) -> Option<UserType> {
    company.then_some(UserType::Company)
}

/// What a rotation replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub connection: String,
    /// Which credential: `Private Integration Token`, `API key`, `client secret`.
    pub credential: &'static str,
    /// What the check of the new credential answered.
    pub checked: String,
}

/// Replaces a connection's long-lived credential in place: a GHL Private Integration
/// Token, a Lofty API key or a Lytho client secret. The new one is tried first (a
/// cheap authenticated call, for the same location, member or tenant); only when it
/// works is the old one dropped, and a connection waiting for reauth is active
/// again (its held jobs run). OAuth connections have no such credential: their
/// tokens refresh themselves, and a new consent is `connect ghl` / `connect lofty`.
pub async fn rotate(
    store: &Store,
    id_or_name: &str,
    secret: &SecretString,
) -> Result<Rotated, ConnectError> {
    let conn = store.find_connection(id_or_name).await?.ok_or_else(|| {
        ConnectError::Invalid(format!(
            "no connection {id_or_name:?} (ghlsync connections lists them)"
        ))
    })?;
    let base = |default: url::Url| {
        conn.base_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .unwrap_or(default)
    };
    let (credential, checked) = match (conn.system, conn.kind) {
        (System::Ghl, AuthKind::Pit) => {
            let location = conn
                .location_id
                .clone()
                .ok_or_else(|| ConnectError::Invalid(format!("{} has no location", conn.id)))?;
            let client = ghl::GhlClient::new(
                ghl::GhlConfig::new(secret.clone())
                    .with_base_url(base(ghl::client::default_base_url()))
                    .with_location(location.clone()),
            )?;
            client
                .call("get-contacts", serde_json::json!({"locationId": location, "limit": 1}))
                .await
                .map_err(|e| {
                    ConnectError::Invalid(format!(
                        "GHL refused the new token for location {location}; the old one is kept: {e}"
                    ))
                })?;
            store
                .put_tokens(
                    &conn.id,
                    &TokenSet {
                        access: secret.clone(),
                        refresh: None,
                        expires_at: None,
                    },
                )
                .await?;
            (
                "Private Integration Token",
                format!("location {location} answered"),
            )
        }
        (System::Lofty, AuthKind::ApiKey) => {
            let client = lofty::LoftyClient::new(
                lofty::LoftyConfig::api_key(secret.clone())
                    .with_base_url(base(lofty::client::default_base_url())),
            )
            .map_err(|e| ConnectError::Invalid(e.to_string()))?;
            let me = client.me().await.map_err(|e| {
                ConnectError::Invalid(format!(
                    "Lofty refused the new API key; the old one is kept: {e}"
                ))
            })?;
            if format!("lofty:{}", me.member_user_id) != conn.id {
                return Err(ConnectError::Invalid(format!(
                    "the new API key belongs to Lofty member {}, not to {}; the old one is kept (connect that member with `ghlsync connect lofty`)",
                    me.member_user_id, conn.id
                )));
            }
            store.put_secret(&conn.id, "api_key", secret).await?;
            ("API key", format!("member {} answered", me.member_user_id))
        }
        (System::Lytho, AuthKind::ClientCredentials) => {
            let id = conn.id.as_str();
            let stored = |name: &'static str| async move {
                store.secret(id, name).await?.ok_or_else(|| {
                    ConnectError::Invalid(format!("{id} has no stored {name}; connect it again"))
                })
            };
            let client_id = stored("client_id").await?;
            let token_url = stored("token_url").await?;
            let account = LythoAccount {
                base_url: base(lytho::client::default_base_url()),
                token_url: url::Url::parse(secrecy::ExposeSecret::expose_secret(&token_url))
                    .map_err(|e| ConnectError::Invalid(format!("{}'s token URL: {e}", conn.id)))?,
                client_id: secrecy::ExposeSecret::expose_secret(&client_id).to_owned(),
                client_secret: secret.clone(),
            };
            let client = account
                .client()
                .map_err(|e| ConnectError::Invalid(e.to_string()))?;
            client.tokens().access_token().await.map_err(|e| {
                ConnectError::Invalid(format!(
                    "Lytho refused the new client secret; the old one is kept: {e}"
                ))
            })?;
            store.put_secret(&conn.id, "client_secret", secret).await?;
            ("client secret", "a token was issued".to_owned())
        }
        (system, kind) => {
            return Err(ConnectError::Invalid(format!(
                "{} is a {system} {kind} connection: it has no long-lived credential to rotate (its tokens refresh themselves); to consent again, run `ghlsync connect {system}`",
                conn.id
            )));
        }
    };
    if conn.status != ConnectionStatus::Active {
        store
            .set_connection_status(&conn.id, ConnectionStatus::Active, None)
            .await?;
    }
    Ok(Rotated {
        connection: conn.id,
        credential,
        checked,
    })
}
