//! `ghlsync migrate`, `ghlsync vault rotate`, `ghlsync serve`.

use std::process::ExitCode;

use anyhow::Context;

use crate::config::Config;

/// `ghlsync migrate`: opening the store runs its migrations.
pub async fn migrate(config: &Config) -> anyhow::Result<ExitCode> {
    let store = config.open_store().await?;
    let stats = store.queue_stats().await?;
    let place = if config.store_options().is_postgres() {
        "PostgreSQL (GHLSYNC_DATABASE_URL)".to_owned()
    } else {
        format!("SQLite in {}", config.data_dir().display())
    };
    println!(
        "migrated {place}; {} queued, {} dead jobs",
        stats.queued, stats.dead
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Subcommand)]
pub enum VaultCommand {
    /// Re-encrypt every secret under a new master key. With a key file, a new key is
    /// generated and the old one kept in keys/; with GHLSYNC_MASTER_KEY, put the new
    /// key there and the old one in GHLSYNC_OLD_MASTER_KEYS first.
    Rotate,
}

pub async fn vault(config: &Config, cmd: &VaultCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        VaultCommand::Rotate => {
            let store = config.open_store().await?;
            let from_env =
                std::env::var(store::vault::MASTER_KEY_ENV).is_ok_and(|v| !v.trim().is_empty());
            let new = (!from_env).then(store::MasterKey::generate);
            let n = store
                .rotate_vault(new)
                .await
                .context("vault rotation failed; nothing was changed")?;
            println!(
                "re-encrypted {n} secrets under key {}",
                store.vault_key_id()?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (default from config, else 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
}

/// Builds the server state from the configuration.
pub async fn server_state(config: &Config) -> anyhow::Result<server::AppState> {
    let store = config.open_store().await?;
    let verifier = match &config.ghl.webhook_public_key {
        Some(pem) => ghl::WebhookVerifier::new(
            Some(
                ghl::webhook::Ed25519PublicKey::parse(pem)
                    .context("ghl.webhook_public_key is not an Ed25519 public key")?,
            ),
            None,
        ),
        None => ghl::WebhookVerifier::ghl(),
    };
    let admin = config.admin_token()?;
    Ok(
        server::AppState::new(store, verifier, admin.into(), config.oauth_settings()?)
            .with_lofty_oauth(config.lofty_oauth_settings()?),
    )
}

/// `ghlsync serve`: webhook intake, OAuth connect, admin API and page, health.
pub async fn serve(config: &Config, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let state = server_state(config).await?;
    let listen = args.listen.unwrap_or_else(|| config.listen());
    server::serve(
        listen,
        state,
        |addr| {
            println!(
                "{}",
                serde_json::json!({"listening": format!("http://{addr}")})
            );
            tracing::info!(%addr, "ServerStarted");
        },
        super::shutdown_signal(),
    )
    .await
    .with_context(|| format!("cannot serve on {listen}"))?;
    Ok(ExitCode::SUCCESS)
}
