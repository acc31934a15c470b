//! `ghlsync connect ghl|lofty|lytho` and `ghlsync connections`.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use secrecy::SecretString;
use serde_json::Value;

use crate::config::Config;

#[derive(Debug, clap::Subcommand)]
pub enum ConnectCommand {
    /// Connect HighLevel: OAuth through the running server (default), or a Private
    /// Integration Token with --pit.
    #[command(
        after_help = "Examples:\n  ghlsync connect ghl                 # OAuth: opens the consent URL, waits for the callback\n  ghlsync connect ghl --agency\n  ghlsync connect ghl --pit --location-id <location> --scopes \"contacts.readonly contacts.write\""
    )]
    Ghl(GhlArgs),
    /// Connect Lofty with a personal API key (asked on the terminal, not echoed).
    #[command(
        after_help = "Examples:\n  ghlsync connect lofty               # asks for the API key\n  echo \"$LOFTY_KEY\" | ghlsync connect lofty"
    )]
    Lofty(LoftyArgs),
    /// Connect Lytho with OAuth client credentials (the secret is asked, not echoed).
    #[command(
        after_help = "Examples:\n  ghlsync connect lytho --tenant acme --client-id wf-oa-...   # asks for the secret"
    )]
    Lytho(LythoArgs),
}

#[derive(Debug, clap::Args)]
pub struct LoftyArgs {
    /// Lofty API base (default: lofty.base_url / GHLSYNC_LOFTY_BASE_URL, the sandbox's
    /// under `ghlsync up`, else https://api.lofty.com).
    #[arg(long)]
    pub base_url: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LythoArgs {
    /// Your Lytho tenant (builds the production token URL).
    #[arg(long)]
    pub tenant: Option<String>,
    /// The tenant's token URL, instead of --tenant (sandboxes print theirs; under
    /// `ghlsync up` the sandbox's is the default).
    #[arg(long, env = "GHLSYNC_LYTHO_TOKEN_URL")]
    pub token_url: Option<String>,
    /// Workflow Open API base (env GHLSYNC_LYTHO_BASE_URL).
    #[arg(long, env = "GHLSYNC_LYTHO_BASE_URL")]
    pub base_url: Option<String>,
    /// OAuth client id (env GHLSYNC_LYTHO_CLIENT_ID; the sandbox's under `ghlsync up`).
    #[arg(long, env = "GHLSYNC_LYTHO_CLIENT_ID")]
    pub client_id: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct GhlArgs {
    /// Install for an agency: one connection per sub-account where the app is installed.
    #[arg(long)]
    pub agency: bool,
    /// Connect with a Private Integration Token (asked on the terminal, not echoed;
    /// or read from stdin when it is not a terminal).
    #[arg(long)]
    pub pit: bool,
    /// Location (sub-account) id the Private Integration Token belongs to.
    #[arg(long, requires = "pit")]
    pub location_id: Option<String>,
    /// Scopes the Private Integration Token was created with (space-separated).
    #[arg(
        long,
        default_value = "contacts.readonly contacts.write",
        requires = "pit"
    )]
    pub scopes: String,
    /// The running server (default: the configured public URL).
    #[arg(long)]
    pub server: Option<String>,
    /// How long to wait for the consent to finish.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ListArgs {
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also run each connection's health check (a cheap authenticated call).
    #[arg(long)]
    pub check: bool,
    #[command(subcommand)]
    pub command: Option<ConnectionsCommand>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ConnectionsCommand {
    /// Replace a connection's credential in place (a GHL Private Integration Token, a
    /// Lofty API key or a Lytho client secret), read from stdin when it is not a
    /// terminal. The new one is tried first; the old one is dropped only when it works.
    #[command(
        after_help = "Examples:\n  ghlsync connections rotate \"GHL location abc123\"\n  printf '%s\\n' \"$NEW_KEY\" | ghlsync connections rotate lofty:12345"
    )]
    Rotate {
        /// The connection's id or name.
        connection: String,
    },
}

async fn rotate(config: &Config, connection: &str) -> anyhow::Result<ExitCode> {
    let store = config.open_store().await?;
    let Some(conn) = store.find_connection(connection).await? else {
        return Err(super::exit::Fail::not_found(format!(
            "no connection {connection:?} (ghlsync connections lists them)"
        )));
    };
    let prompt = match (conn.system, conn.kind) {
        (domain::System::Ghl, domain::AuthKind::Pit) => "New Private Integration Token (pit-...): ",
        (domain::System::Lofty, domain::AuthKind::ApiKey) => "New Lofty API key: ",
        (domain::System::Lytho, domain::AuthKind::ClientCredentials) => "New Lytho client secret: ",
        (system, kind) => {
            return Err(super::exit::Fail::usage(format!(
                "{} is a {system} {kind} connection: it has no long-lived credential to rotate (its tokens refresh themselves); to consent again, run `ghlsync connect {system}`",
                conn.id
            )));
        }
    };
    let secret = read_secret(prompt)?;
    match engine::connections::rotate(&store, &conn.id, &secret).await {
        Ok(r) => {
            println!(
                "rotated the {} of {} ({}); the old one is no longer used",
                r.credential, r.connection, r.checked
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(engine::connections::ConnectError::Store(e)) => Err(e.into()),
        Err(e) => Err(super::exit::Fail::auth(e.to_string())),
    }
}

pub async fn connect(config: &Config, cmd: &ConnectCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConnectCommand::Ghl(args) if args.pit => connect_pit(config, args).await,
        ConnectCommand::Ghl(args) => connect_oauth(config, args).await,
        ConnectCommand::Lofty(args) => {
            let base = args
                .base_url
                .as_deref()
                .or(config.lofty.base_url.as_deref())
                .unwrap_or(lofty::DEFAULT_BASE_URL);
            let base = url::Url::parse(base)
                .with_context(|| format!("the Lofty base URL is not a URL: {base}"))?;
            let key = read_secret("Lofty API key: ")?;
            let store = config.open_store().await?;
            match engine::connections::connect_lofty_key(&store, &base, &key).await {
                Ok(id) => {
                    println!("connected {id} (Lofty API key)");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("not connected: {e}");
                    Ok(ExitCode::from(3))
                }
            }
        }
        ConnectCommand::Lytho(args) => {
            // Under `ghlsync up` (and nothing given), the sandbox's tenant.
            let sandbox = config
                .sandbox_lytho
                .as_ref()
                .filter(|_| args.tenant.is_none() && args.token_url.is_none());
            let token_url = match (&args.token_url, &args.tenant, sandbox) {
                (Some(u), _, _) => {
                    url::Url::parse(u).with_context(|| format!("--token-url is not a URL: {u}"))?
                }
                (None, Some(t), _) => lytho::auth::token_url_for(t)?,
                (None, None, Some(s)) => url::Url::parse(&s.token_url)?,
                (None, None, None) => {
                    return Err(super::exit::Fail::usage(
                        "pass --tenant <your Lytho tenant> or --token-url <URL>",
                    ));
                }
            };
            let base_url = match (&args.base_url, sandbox) {
                (Some(b), _) => {
                    url::Url::parse(b).with_context(|| format!("--base-url is not a URL: {b}"))?
                }
                (None, Some(s)) => url::Url::parse(&s.base_url)?,
                (None, None) => lytho::client::default_base_url(),
            };
            let Some(client_id) = args
                .client_id
                .clone()
                .or_else(|| sandbox.map(|s| s.client_id.clone()))
            else {
                return Err(super::exit::Fail::usage(
                    "pass --client-id <your Lytho OAuth client id> (or set GHLSYNC_LYTHO_CLIENT_ID)",
                ));
            };
            let client_secret = read_secret("Lytho client secret: ")?;
            let account = engine::connections::LythoAccount {
                base_url,
                token_url,
                client_id,
                client_secret,
            };
            let store = config.open_store().await?;
            match engine::connections::connect_lytho(&store, &account).await {
                Ok(id) => {
                    println!("connected {id} (Lytho client credentials)");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("not connected: {e}");
                    Ok(ExitCode::from(3))
                }
            }
        }
    }
}

fn read_secret(prompt: &str) -> anyhow::Result<SecretString> {
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).context("cannot read from the terminal")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read stdin")?;
        line
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(super::exit::Fail::usage("nothing was entered"));
    }
    Ok(SecretString::from(value))
}

async fn connect_pit(config: &Config, args: &GhlArgs) -> anyhow::Result<ExitCode> {
    let Some(location) = &args.location_id else {
        return Err(super::exit::Fail::usage(
            "--pit needs --location-id <sub-account id> (the location the token was created in)",
        ));
    };
    let token = read_secret("Private Integration Token (pit-...): ")?;
    let store = config.open_store().await?;
    let id = engine::connections::connect_pit(
        &store,
        &config.ghl_base_url()?,
        location,
        &token,
        &args.scopes,
    )
    .await?;
    let health = ghlsync::startup::connectors(config, store.clone())?
        .healthcheck(&id)
        .await;
    if health.ok {
        println!(
            "connected {id} (Private Integration Token, scopes: {})",
            args.scopes
        );
        Ok(ExitCode::SUCCESS)
    } else {
        store
            .set_connection_status(
                &id,
                store::ConnectionStatus::NeedsReauth,
                Some(&health.detail),
            )
            .await?;
        eprintln!("stored {id}, but GHL refused the token: {}", health.detail);
        Ok(ExitCode::from(3))
    }
}

async fn connect_oauth(config: &Config, args: &GhlArgs) -> anyhow::Result<ExitCode> {
    let server = args.server.clone().unwrap_or_else(|| config.public_url());
    let admin = config.admin_token()?;
    let http = ghl::http::default_http_client();
    let url = format!(
        "{server}/connect/ghl{}",
        if args.agency {
            "?user_type=company"
        } else {
            ""
        }
    );
    let resp = http
        .get(&url)
        .header("accept", "application/json")
        .bearer_auth(&admin)
        .send()
        .await
        .with_context(|| format!("cannot reach the ghlsync server at {server}: start it with `ghlsync serve` (or `ghlsync up`)"))?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!(
            "the server refused to start the connection ({status}): {}",
            body["error"].as_str().unwrap_or("see its logs")
        );
    }
    let authorize = body["authorize_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let status_url = format!(
        "{server}{}",
        body["status_url"].as_str().unwrap_or_default()
    );
    eprintln!(
        "Open this URL to choose the {} and allow access:\n\n  {authorize}\n",
        if args.agency { "agency" } else { "location" }
    );
    if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        let _ = std::process::Command::new("xdg-open")
            .arg(&authorize)
            .spawn();
    }
    crate::hint!("Waiting for GHL to call back (Ctrl-C to give up)...");
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Ok(resp) = http.get(&status_url).bearer_auth(&admin).send().await else {
            continue;
        };
        let flow: Value = resp.json().await.unwrap_or(Value::Null);
        match flow["status"].as_str() {
            Some("connected") => {
                let ids: Vec<&str> = flow["connections"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                println!("connected: {}", ids.join(", "));
                return Ok(ExitCode::SUCCESS);
            }
            Some("failed") => {
                eprintln!(
                    "the connection failed: {}",
                    flow["error"].as_str().unwrap_or("unknown error")
                );
                return Ok(ExitCode::FAILURE);
            }
            _ => {}
        }
    }
    eprintln!(
        "no answer from GHL within {} s; run `ghlsync connect ghl` again",
        args.timeout_secs
    );
    Ok(ExitCode::FAILURE)
}

/// `ghlsync connections`: status, scopes, expiry and last error; never secrets.
pub async fn list(config: &Config, args: &ListArgs) -> anyhow::Result<ExitCode> {
    if let Some(ConnectionsCommand::Rotate { connection }) = &args.command {
        return rotate(config, connection).await;
    }
    let store = config.open_store().await?;
    let connections = store.connections().await?;
    let connectors = ghlsync::startup::connectors(config, store.clone())?;
    let mut health = Vec::new();
    if args.check {
        for c in &connections {
            health.push(connectors.healthcheck(&c.id).await);
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({"connections": connections, "health": health})
        );
        return Ok(ExitCode::SUCCESS);
    }
    if connections.is_empty() {
        println!("no connections yet: run `ghlsync connect ghl`");
        return Ok(ExitCode::SUCCESS);
    }
    let now = store.now();
    println!(
        "{:<34} {:<36} {:<18} {:<13} {:<14} scopes / last error",
        "connection", "name", "kind", "status", "token expires"
    );
    for c in &connections {
        let expiry = match c.token_expires_at {
            None => "never".to_owned(),
            Some(t) if t <= now => "expired".to_owned(),
            Some(t) => format!("in {}s", (t - now) / 1000),
        };
        println!(
            "{:<34} {:<36} {:<18} {:<13} {:<14} {}",
            c.id,
            c.name,
            c.kind,
            c.status.as_str(),
            expiry,
            c.scopes
        );
        if let Some(reason) = &c.status_reason {
            println!("{:<34} last error: {reason}", "");
        }
    }
    for h in &health {
        println!(
            "check {}: {} {}",
            h.connection,
            if h.ok { "ok" } else { "FAILED" },
            h.detail
        );
    }
    Ok(ExitCode::SUCCESS)
}
