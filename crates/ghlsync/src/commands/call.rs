//! `ghlsync call <operation-id>`: run any GHL operation and print its JSON answer;
//! `ghlsync operations`: list the operations it knows.

use std::process::ExitCode;

use anyhow::{Context, bail};
use ghl::{GhlClient, GhlConfig, GhlError, OPERATIONS};
use secrecy::SecretString;
use serde_json::Value;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The operation, by HighLevel's operationId (see `ghlsync operations`).
    pub operation: String,
    /// Parameters and body as one JSON object: keys naming a path or query parameter
    /// fill it, the other keys form the body (or pass the body whole under "body").
    #[arg(long, default_value = "{}")]
    pub input: String,
    /// Base URL of the API (the sandbox prints its own).
    #[arg(long, env = "GHLSYNC_GHL_BASE_URL", default_value = ghl::DEFAULT_BASE_URL)]
    pub base_url: String,
    /// Bearer token: a Private Integration Token or an OAuth access token.
    #[arg(long, env = "GHLSYNC_GHL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
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

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(op) = ghl::operations::find(&args.operation) else {
        let close: Vec<&str> = OPERATIONS
            .iter()
            .map(|o| o.id)
            .filter(|id| id.contains(&args.operation) || args.operation.contains(id))
            .collect();
        let hint = if close.is_empty() {
            "run `ghlsync operations` to list them".to_owned()
        } else {
            format!("did you mean {}?", close.join(", "))
        };
        bail!("unknown operation `{}`: {hint}", args.operation);
    };
    let input: Value = serde_json::from_str(&args.input)
        .with_context(|| format!("--input is not valid JSON: {}", args.input))?;
    if !input.is_object() {
        bail!("--input must be a JSON object, like '{{\"contactId\":\"...\"}}'");
    }
    let base_url = url::Url::parse(&args.base_url)
        .with_context(|| format!("--base-url is not a URL: {}", args.base_url))?;
    let token = match args.token {
        Some(t) if !t.is_empty() => SecretString::from(t),
        _ if op.token == ghl::TokenKind::None => SecretString::from(String::new()),
        _ => bail!(
            "`{}` needs a bearer token: pass --token or set GHLSYNC_GHL_TOKEN (a pit-... Private Integration Token or an OAuth access token)",
            op.id
        ),
    };
    let client = GhlClient::new(GhlConfig::new(token).with_base_url(base_url))?;
    match client.execute(op, input).await {
        Ok(answer) => {
            let text = if args.compact {
                serde_json::to_string(&answer)?
            } else {
                serde_json::to_string_pretty(&answer)?
            };
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            if let GhlError::Api(api) = &e
                && !api.body.is_null()
            {
                eprintln!("{}", serde_json::to_string_pretty(&api.body)?);
            }
            Ok(ExitCode::from(exit_code(&e)))
        }
    }
}

/// 2: the request was wrong (4xx); 3: authentication (401/403); 4: rate limited;
/// 5: the server or the network failed.
fn exit_code(e: &GhlError) -> u8 {
    match e.status() {
        Some(401 | 403) => 3,
        Some(429) => 4,
        Some(s) if s >= 500 => 5,
        Some(_) => 2,
        None => 5,
    }
}

pub fn list(args: &ListArgs) -> anyhow::Result<ExitCode> {
    for op in OPERATIONS {
        if args.json {
            let line = serde_json::json!({
                "id": op.id,
                "method": op.method.as_str(),
                "path": op.path,
                "version": op.version,
                "scope": op.scope,
                "family": op.family,
                "summary": op.summary,
                "deprecated": op.deprecated,
            });
            println!("{line}");
        } else {
            println!(
                "{:<38} {:<6} {:<52} {}",
                op.id,
                op.method.as_str(),
                op.path,
                op.summary
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
