//! `ghlsync call <operation-id>`: run any GHL, Lofty or Lytho operation and print its
//! JSON answer; `ghlsync operations`: list the operations it knows.
//!
//! The operation id says which API: `lofty-...` and `lytho-...` ids go to those
//! clients, every other id is HighLevel's own `operationId`.

use std::process::ExitCode;

use anyhow::{Context, bail};
use ghl::{GhlClient, GhlConfig, RetryClass};
use secrecy::SecretString;
use serde_json::Value;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The operation id (see `ghlsync operations`).
    pub operation: String,
    /// Parameters and body as one JSON object: keys naming a path or query parameter
    /// fill it, the other keys form the body (or pass the body whole under "body").
    #[arg(long, default_value = "{}")]
    pub input: String,
    /// Base URL of the API (a sandbox prints its own). Env: GHLSYNC_GHL_BASE_URL,
    /// GHLSYNC_LOFTY_BASE_URL or GHLSYNC_LYTHO_BASE_URL by operation.
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
    /// Run it through a stored connection (its id or its name, see `ghlsync
    /// connections`): its credentials, base URL, scopes, token refresh and rate budget.
    /// Without it, the flags above say where and how.
    #[arg(long)]
    pub connection: Option<String>,
    /// Print the JSON answer on one line instead of pretty-printed.
    #[arg(long)]
    pub compact: bool,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// One JSON object per operation instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One row of the combined operation list.
struct Row {
    system: &'static str,
    id: &'static str,
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    version: &'static str,
    scope: Option<&'static str>,
}

fn all_operations() -> Vec<Row> {
    let ghl = ghl::OPERATIONS.iter().map(|o| Row {
        system: "ghl",
        id: o.id,
        method: o.method.as_str(),
        path: o.path,
        summary: o.summary,
        version: o.version,
        scope: o.scope,
    });
    let lofty = lofty::OPERATIONS.iter().map(|o| Row {
        system: "lofty",
        id: o.id,
        method: o.method.as_str(),
        path: o.path,
        summary: o.summary,
        version: "",
        scope: None,
    });
    let lytho = lytho::OPERATIONS.iter().map(|o| Row {
        system: "lytho",
        id: o.id,
        method: o.method.as_str(),
        path: o.path,
        summary: o.summary,
        version: "",
        scope: None,
    });
    ghl.chain(lofty).chain(lytho).collect()
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn url_of(given: Option<String>, var: &str, default: &str) -> anyhow::Result<url::Url> {
    let raw = given
        .or_else(|| env(var))
        .unwrap_or_else(|| default.to_owned());
    url::Url::parse(&raw).with_context(|| format!("--base-url is not a URL: {raw}"))
}

/// What a failed call reports: status, message, body, retry class.
struct Failure {
    message: String,
    body: Option<Value>,
    status: Option<u16>,
    class: RetryClass,
}

/// Runs `op` through the stored connection `name` (id or name).
async fn through_connection(
    config: &crate::config::Config,
    name: &str,
    op: &str,
    input: Value,
) -> anyhow::Result<Result<Value, Failure>> {
    let store = config.open_store().await?;
    let connectors = ghlsync::startup::connectors(config, store)?;
    let failed = |e: engine::ConnectorError| {
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
    };
    let connector = match connectors.open(name).await {
        Ok(c) => c,
        Err(e) => return Ok(Err(failed(e))),
    };
    let result = if lofty::operations::find(op).is_some() {
        match connector.into_lofty() {
            Ok(c) => c.client.call(op, input).await.map_err(Into::into),
            Err(e) => Err(e),
        }
    } else if lytho::operations::find(op).is_some() {
        match connector.into_lytho() {
            Ok(c) => c.client.call(op, input).await.map_err(Into::into),
            Err(e) => Err(e),
        }
    } else {
        match connector.into_ghl() {
            Ok(c) => c.call_id(op, input).await,
            Err(e) => Err(e),
        }
    };
    Ok(result.map_err(failed))
}

pub async fn run(args: Args, config: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let input: Value = serde_json::from_str(&args.input)
        .with_context(|| format!("--input is not valid JSON: {}", args.input))?;
    if !input.is_object() {
        bail!("--input must be a JSON object, like '{{\"contactId\":\"...\"}}'");
    }
    let op = args.operation.clone();
    let known = lofty::operations::find(&op).is_some()
        || lytho::operations::find(&op).is_some()
        || ghl::operations::find(&op).is_some();
    let result = if let (Some(name), true) = (&args.connection, known) {
        let config = crate::config::Config::load(config)?;
        through_connection(&config, name, &op, input).await?
    } else if let Some(o) = lofty::operations::find(&op) {
        let key = args.token.clone().or_else(|| env("GHLSYNC_LOFTY_API_KEY")).with_context(|| {
            format!("`{}` needs Lofty credentials: pass --token <API key> (or set GHLSYNC_LOFTY_API_KEY), or --token <OAuth token> --bearer", o.id)
        })?;
        let secret = SecretString::from(key);
        let config = if args.bearer {
            lofty::LoftyConfig::oauth(secret)
        } else {
            lofty::LoftyConfig::api_key(secret)
        };
        let client = lofty::LoftyClient::new(config.with_base_url(url_of(
            args.base_url.clone(),
            "GHLSYNC_LOFTY_BASE_URL",
            lofty::DEFAULT_BASE_URL,
        )?))?;
        client.call(o.id, input).await.map_err(|e| Failure {
            message: e.to_string(),
            body: e.api().map(|a| a.body.clone()),
            status: e.status(),
            class: e.retry_class(),
        })
    } else if let Some(o) = lytho::operations::find(&op) {
        let missing = |what: &str, var: &str| {
            format!("`{}` needs the Lytho {what}: pass it or set {var}", o.id)
        };
        let client_id = args
            .client_id
            .clone()
            .or_else(|| env("GHLSYNC_LYTHO_CLIENT_ID"))
            .with_context(|| missing("--client-id", "GHLSYNC_LYTHO_CLIENT_ID"))?;
        let secret = args
            .client_secret
            .clone()
            .or_else(|| env("GHLSYNC_LYTHO_CLIENT_SECRET"))
            .with_context(|| missing("--client-secret", "GHLSYNC_LYTHO_CLIENT_SECRET"))?;
        let token_url = args
            .token_url
            .clone()
            .or_else(|| env("GHLSYNC_LYTHO_TOKEN_URL"))
            .with_context(|| missing("--token-url", "GHLSYNC_LYTHO_TOKEN_URL"))?;
        let token_url = url::Url::parse(&token_url)
            .with_context(|| format!("--token-url is not a URL: {token_url}"))?;
        let base = url_of(
            args.base_url.clone(),
            "GHLSYNC_LYTHO_BASE_URL",
            lytho::client::default_base_url().as_str(),
        )?;
        let config =
            lytho::LythoConfig::with_urls(base, token_url, client_id, SecretString::from(secret));
        let client = lytho::LythoClient::new(config)?;
        client.call(o.id, input).await.map_err(|e| Failure {
            message: e.to_string(),
            body: None,
            status: e.status(),
            class: e.retry_class(),
        })
    } else if let Some(o) = ghl::operations::find(&op) {
        let token = match args.token.clone().or_else(|| env("GHLSYNC_GHL_TOKEN")) {
            Some(t) => SecretString::from(t),
            None if o.token == ghl::TokenKind::None => SecretString::from(String::new()),
            None => bail!(
                "`{}` needs a bearer token: pass --token or set GHLSYNC_GHL_TOKEN (a pit-... Private Integration Token or an OAuth access token)",
                o.id
            ),
        };
        let base = url_of(
            args.base_url.clone(),
            "GHLSYNC_GHL_BASE_URL",
            ghl::DEFAULT_BASE_URL,
        )?;
        let client = GhlClient::new(GhlConfig::new(token).with_base_url(base))?;
        client.execute(o, input).await.map_err(|e| Failure {
            message: e.to_string(),
            body: e.api().map(|a| a.body.clone()),
            status: e.status(),
            class: e.retry_class(),
        })
    } else {
        let close: Vec<&str> = all_operations()
            .into_iter()
            .map(|r| r.id)
            .filter(|id| id.contains(op.as_str()) || op.contains(id))
            .collect();
        let hint = if close.is_empty() {
            "run `ghlsync operations` to list them".to_owned()
        } else {
            format!("did you mean {}?", close.join(", "))
        };
        bail!("unknown operation `{op}`: {hint}");
    };
    match result {
        Ok(answer) => {
            let text = if args.compact {
                serde_json::to_string(&answer)?
            } else {
                serde_json::to_string_pretty(&answer)?
            };
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(f) => {
            eprintln!("error: {}", f.message);
            if let Some(body) = f.body.filter(|b| !b.is_null()) {
                eprintln!("{}", serde_json::to_string_pretty(&body)?);
            }
            Ok(ExitCode::from(exit_code(f.status, &f.class)))
        }
    }
}

/// 2: the request was wrong (4xx); 3: authentication (401/403); 4: rate limited;
/// 5: the server or the network failed.
fn exit_code(status: Option<u16>, class: &RetryClass) -> u8 {
    match (status, class) {
        (Some(401 | 403), _) | (_, RetryClass::Reauth) => 3,
        (Some(429), _) | (_, RetryClass::RetryAfter(_)) => 4,
        (Some(s), _) if s >= 500 => 5,
        (None, _) => 5,
        (Some(_), _) => 2,
    }
}

pub fn list(args: &ListArgs) -> anyhow::Result<ExitCode> {
    for r in all_operations() {
        if args.json {
            let line = serde_json::json!({
                "system": r.system,
                "id": r.id,
                "method": r.method,
                "path": r.path,
                "version": r.version,
                "scope": r.scope,
                "summary": r.summary,
            });
            println!("{line}");
        } else {
            println!(
                "{:<6} {:<38} {:<6} {:<52} {}",
                r.system, r.id, r.method, r.path, r.summary
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
