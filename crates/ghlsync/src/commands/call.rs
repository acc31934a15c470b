//! `ghlsync call <action>`: run any action of the catalog (a GHL, Lofty or Lytho
//! operation) and print its JSON answer.
//!
//! The input is checked against the action's schema first: a problem is named by
//! field and nothing is sent. Through `--connection` the call uses a stored
//! connection (tokens, refresh, scopes, rate budget); `--dry-run` prints the request
//! instead, secrets redacted.

use std::process::ExitCode;

use anyhow::Context;
use domain::catalog::{Entry, Kind};
use ghl::{GhlClient, GhlConfig, RetryClass};

use super::exit::{self, Fail};
use secrecy::SecretString;
use serde_json::Value;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ghlsync call ghl.contacts.get --connection sandbox-location --input '{\"contactId\":\"abc123\"}'
  ghlsync call ghl.contacts.upsert --connection sandbox-location --dry-run \\
      --input '{\"locationId\":\"loc1\",\"email\":\"ana@example.com\"}'
  ghlsync call lofty.leads.list --connection sandbox-lofty --input '{\"limit\":5}'
  ghlsync call get-contact --base-url http://127.0.0.1:8080 --token pit-... --input '{\"contactId\":\"abc123\"}'

The input is validated against the action's schema before anything is sent
(`ghlsync catalog <id>` shows it). Exit codes: 0 ok, 1 failure, 2 bad input or a 4xx,
3 authentication or a missing scope, 4 not found, 5 rate limited or the server failed.")]
pub struct Args {
    /// The action: its catalog id (`ghlsync catalog --kind action`) or its operation id.
    pub action: String,
    /// Parameters and body as one JSON object: keys naming a path or query parameter
    /// fill it, the other keys form the body (or pass the body whole under "body").
    #[arg(long, default_value = "{}")]
    pub input: String,
    /// Run it through a stored connection (its id or its name, see `ghlsync
    /// connections`): its credentials, base URL, scopes, token refresh and rate budget.
    /// Without it, the flags below say where and how.
    #[arg(long)]
    pub connection: Option<String>,
    /// Print the request that would be sent (secrets redacted) and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the JSON answer on one line instead of pretty-printed.
    #[arg(long)]
    pub compact: bool,
    /// Base URL of the API (a sandbox prints its own). Env: GHLSYNC_GHL_BASE_URL,
    /// GHLSYNC_LOFTY_BASE_URL or GHLSYNC_LYTHO_BASE_URL by action.
    #[arg(long)]
    pub base_url: Option<String>,
    /// GHL: a Private Integration Token or OAuth access token (env GHLSYNC_GHL_TOKEN).
    /// Lofty: an API key (env GHLSYNC_LOFTY_API_KEY), or an OAuth token with --bearer.
    #[arg(long)]
    pub token: Option<String>,
    /// Lofty: send --token as an OAuth `Bearer` token instead of `token <key>`.
    #[arg(long)]
    pub bearer: bool,
    /// Lytho: OAuth client id (env GHLSYNC_LYTHO_CLIENT_ID).
    #[arg(long)]
    pub client_id: Option<String>,
    /// Lytho: OAuth client secret (env GHLSYNC_LYTHO_CLIENT_SECRET).
    #[arg(long)]
    pub client_secret: Option<String>,
    /// Lytho: the tenant's token URL (env GHLSYNC_LYTHO_TOKEN_URL).
    #[arg(long)]
    pub token_url: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn url_of(given: Option<String>, var: &str, default: &str) -> anyhow::Result<url::Url> {
    let raw = given
        .or_else(|| env(var))
        .unwrap_or_else(|| default.to_owned());
    url::Url::parse(&raw).map_err(|e| Fail::usage(format!("--base-url is not a URL ({e}): {raw}")))
}

/// What a failed call reports: status, message, body, retry class.
struct Failure {
    message: String,
    body: Option<Value>,
    status: Option<u16>,
    class: RetryClass,
}

/// The action named `name` (catalog id or operation id), or a not-found error that
/// suggests close ids.
pub fn resolve(name: &str) -> anyhow::Result<&'static Entry> {
    let catalog = engine::catalog::catalog();
    let Some(entry) = catalog.find(name) else {
        let close = catalog.suggest(name);
        let hint = if close.is_empty() {
            "`ghlsync catalog --kind action` lists them".to_owned()
        } else {
            format!("did you mean {}?", close.join(", "))
        };
        return Err(Fail::not_found(format!("unknown action `{name}`: {hint}")));
    };
    if entry.kind != Kind::Action {
        return Err(Fail::usage(format!(
            "`{}` is a trigger, not an action: triggers start flows (see `ghlsync flows`); `ghlsync catalog --kind action` lists what `call` runs",
            entry.id
        )));
    }
    Ok(entry)
}

/// Parses `--input` and checks it against the action's input schema: every problem,
/// by field, before anything is sent.
pub fn checked_input(entry: &Entry, raw: &str) -> anyhow::Result<Value> {
    let input: Value = serde_json::from_str(raw)
        .map_err(|e| Fail::usage(format!("--input is not valid JSON ({e}): {raw}")))?;
    if !input.is_object() {
        return Err(Fail::usage(
            "--input must be a JSON object, like '{\"contactId\":\"...\"}'",
        ));
    }
    let problems = domain::catalog::validate(&entry.input_schema, &input)
        .map_err(|e| anyhow::anyhow!("the catalog schema of `{}` is broken: {e}", entry.id))?;
    if problems.is_empty() {
        return Ok(input);
    }
    let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
    Err(Fail::usage(format!(
        "--input does not fit `{}` (nothing was sent):\n{}\n`ghlsync catalog {}` shows its fields and an example",
        entry.id,
        lines.join("\n"),
        entry.id
    )))
}

/// The client operation id behind an action.
fn operation_id(entry: &Entry) -> &str {
    engine::catalog::operation_id(entry)
}

/// Refuses a connection of another system, or one missing a scope the action needs,
/// before any request.
fn check_connection(entry: &Entry, conn: &store::Connection) -> anyhow::Result<()> {
    if conn.system.as_str() != entry.system {
        return Err(Fail::usage(format!(
            "connection `{}` is a {} connection; `{}` needs a {} connection (`ghlsync connections` lists them)",
            conn.name, conn.system, entry.id, entry.system
        )));
    }
    if conn.status != store::ConnectionStatus::Active {
        return Err(Fail::auth(format!(
            "connection `{}` is {}{}: connect it again (`ghlsync connect {} ...`)",
            conn.name,
            conn.status.as_str(),
            conn.status_reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            conn.system
        )));
    }
    if entry.system == "ghl" {
        let granted: Vec<&str> = conn.scopes.split_whitespace().collect();
        if let Some(missing) = entry.scopes.iter().find(|s| !granted.contains(&s.as_str())) {
            return Err(Fail::auth(format!(
                "`{}` needs the scope {missing}; connection `{}` has {}. To add it: {}",
                entry.id,
                conn.name,
                if granted.is_empty() {
                    "none".to_owned()
                } else {
                    granted.join(", ")
                },
                engine::sync::add_scopes_hint(
                    conn,
                    &[granted.clone(), vec![missing.as_str()]].concat().join(" ")
                )
            )));
        }
    }
    Ok(())
}

fn preview(entry: &Entry, base: &url::Url, input: Value, bearer: bool) -> anyhow::Result<Value> {
    let op = operation_id(entry);
    let shown = match entry.system.as_str() {
        "lofty" => lofty::client::preview(
            base,
            lofty::operations::find(op).context("no Lofty op")?,
            input,
            bearer,
        )
        .map_err(|e| Fail::usage(e.to_string()))?,
        "lytho" => lytho::client::preview(
            base,
            lytho::operations::find(op).context("no Lytho op")?,
            input,
        )
        .map_err(|e| Fail::usage(e.to_string()))?,
        _ => ghl::client::preview(base, ghl::operations::find(op).context("no GHL op")?, input)
            .map_err(|e| Fail::usage(e.to_string()))?,
    };
    let mut out = shown.to_json();
    out["action"] = Value::from(entry.id.as_str());
    Ok(out)
}

/// Runs `entry` through the stored connection `conn`.
async fn through_connection(
    config: &crate::config::Config,
    store: store::Store,
    conn: &store::Connection,
    entry: &Entry,
    input: Value,
) -> anyhow::Result<Result<Value, Failure>> {
    let connectors = ghlsync::startup::connectors(config, store)?;
    // A 429 was not carried out, so it is safe to send again: wait as the server
    // asks, up to a minute in all (a running sync may be using the same account).
    let mut waited = std::time::Duration::ZERO;
    let result = loop {
        let result = engine::catalog::call(&connectors, conn.clone(), entry, input.clone()).await;
        let wait = match &result {
            Err(e) => match e.retry_class() {
                RetryClass::RetryAfter(wait) => wait.max(std::time::Duration::from_secs(1)),
                _ => break result,
            },
            Ok(_) => break result,
        };
        if waited + wait > std::time::Duration::from_secs(60) {
            break result;
        }
        crate::hint!(
            "{} is rate limiting this account; sending again in {} s",
            entry.system,
            wait.as_secs()
        );
        tokio::time::sleep(wait).await;
        waited += wait;
    };
    Ok(result.map_err(|e| {
        let (body, status) = match &e {
            engine::ConnectorError::Ghl(g) => (g.api().map(|a| a.body.clone()), g.status()),
            engine::ConnectorError::Lofty(l) => (l.api().map(|a| a.body.clone()), l.status()),
            engine::ConnectorError::Lytho(l) => (None, l.status()),
            _ => (None, None),
        };
        Failure {
            message: e.to_string(),
            body,
            status,
            class: e.retry_class(),
        }
    }))
}

fn print_json(value: &Value, compact: bool) -> anyhow::Result<()> {
    let text = if compact {
        serde_json::to_string(value)?
    } else {
        serde_json::to_string_pretty(value)?
    };
    println!("{text}");
    Ok(())
}

pub async fn run(args: Args, config: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let entry = resolve(&args.action)?;
    let input = checked_input(entry, &args.input)?;
    let op = operation_id(entry).to_owned();
    let result = if let Some(name) = &args.connection {
        let config = crate::config::Config::load(config)?;
        let store = config.open_store().await?;
        let conn = store.find_connection(name).await?.ok_or_else(|| {
            Fail::not_found(format!(
                "connection `{name}` does not exist: `ghlsync connections` lists them, `ghlsync connect ghl|lofty|lytho` adds one"
            ))
        })?;
        check_connection(entry, &conn)?;
        if args.dry_run {
            let default = match entry.system.as_str() {
                "lofty" => lofty::DEFAULT_BASE_URL.to_owned(),
                "lytho" => lytho::client::default_base_url().to_string(),
                _ => config.ghl_base_url()?.to_string(),
            };
            let base = url_of(conn.base_url.clone(), "", &default)?;
            let bearer = conn.kind == domain::AuthKind::Oauth;
            print_json(&preview(entry, &base, input, bearer)?, args.compact)?;
            return Ok(ExitCode::SUCCESS);
        }
        through_connection(&config, store, &conn, entry, input).await?
    } else if entry.system == "lofty" {
        let base = url_of(
            args.base_url.clone(),
            "GHLSYNC_LOFTY_BASE_URL",
            lofty::DEFAULT_BASE_URL,
        )?;
        if args.dry_run {
            print_json(&preview(entry, &base, input, args.bearer)?, args.compact)?;
            return Ok(ExitCode::SUCCESS);
        }
        let key = args.token.clone().or_else(|| env("GHLSYNC_LOFTY_API_KEY")).ok_or_else(|| {
            Fail::auth(format!("`{}` needs Lofty credentials: pass --connection <name>, or --token <API key> (or set GHLSYNC_LOFTY_API_KEY), or --token <OAuth token> --bearer", entry.id))
        })?;
        let secret = SecretString::from(key);
        let lc = if args.bearer {
            lofty::LoftyConfig::oauth(secret)
        } else {
            lofty::LoftyConfig::api_key(secret)
        };
        let client = lofty::LoftyClient::new(lc.with_base_url(base))?;
        client.call(&op, input).await.map_err(|e| Failure {
            message: e.to_string(),
            body: e.api().map(|a| a.body.clone()),
            status: e.status(),
            class: e.retry_class(),
        })
    } else if entry.system == "lytho" {
        let base = url_of(
            args.base_url.clone(),
            "GHLSYNC_LYTHO_BASE_URL",
            lytho::client::default_base_url().as_str(),
        )?;
        if args.dry_run {
            print_json(&preview(entry, &base, input, true)?, args.compact)?;
            return Ok(ExitCode::SUCCESS);
        }
        let missing = |what: &str, var: &str| {
            Fail::auth(format!(
                "`{}` needs the Lytho {what}: pass it or set {var} (or use --connection <name>)",
                entry.id
            ))
        };
        let client_id = args
            .client_id
            .clone()
            .or_else(|| env("GHLSYNC_LYTHO_CLIENT_ID"))
            .ok_or_else(|| missing("--client-id", "GHLSYNC_LYTHO_CLIENT_ID"))?;
        let secret = args
            .client_secret
            .clone()
            .or_else(|| env("GHLSYNC_LYTHO_CLIENT_SECRET"))
            .ok_or_else(|| missing("--client-secret", "GHLSYNC_LYTHO_CLIENT_SECRET"))?;
        let token_url = args
            .token_url
            .clone()
            .or_else(|| env("GHLSYNC_LYTHO_TOKEN_URL"))
            .ok_or_else(|| missing("--token-url", "GHLSYNC_LYTHO_TOKEN_URL"))?;
        let token_url = url::Url::parse(&token_url)
            .map_err(|e| Fail::usage(format!("--token-url is not a URL ({e}): {token_url}")))?;
        let config =
            lytho::LythoConfig::with_urls(base, token_url, client_id, SecretString::from(secret));
        let client = lytho::LythoClient::new(config)?;
        client.call(&op, input).await.map_err(|e| Failure {
            message: e.to_string(),
            body: None,
            status: e.status(),
            class: e.retry_class(),
        })
    } else {
        let o = ghl::operations::find(&op).context("catalog action without a GHL operation")?;
        let base = url_of(
            args.base_url.clone(),
            "GHLSYNC_GHL_BASE_URL",
            ghl::DEFAULT_BASE_URL,
        )?;
        if args.dry_run {
            print_json(&preview(entry, &base, input, true)?, args.compact)?;
            return Ok(ExitCode::SUCCESS);
        }
        let token = match args.token.clone().or_else(|| env("GHLSYNC_GHL_TOKEN")) {
            Some(t) => SecretString::from(t),
            None if o.token == ghl::TokenKind::None => SecretString::from(String::new()),
            None => {
                return Err(Fail::auth(format!(
                    "`{}` needs a bearer token: pass --connection <name>, or --token (or set GHLSYNC_GHL_TOKEN) with a pit-... Private Integration Token or an OAuth access token",
                    entry.id
                )));
            }
        };
        let client = GhlClient::new(GhlConfig::new(token).with_base_url(base))?;
        client.execute(o, input).await.map_err(|e| Failure {
            message: e.to_string(),
            body: e.api().map(|a| a.body.clone()),
            status: e.status(),
            class: e.retry_class(),
        })
    };
    match result {
        Ok(answer) => {
            print_json(&answer, args.compact)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(f) => {
            eprintln!("error: {}", f.message);
            if let Some(body) = f.body.filter(|b| !b.is_null()) {
                eprintln!("{}", serde_json::to_string_pretty(&body)?);
            }
            let reauth = matches!(f.class, RetryClass::Reauth);
            Ok(exit::for_status(f.status, reauth).into())
        }
    }
}
