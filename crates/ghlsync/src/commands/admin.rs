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
    #[command(after_help = "Examples:\n  ghlsync vault rotate")]
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

/// `ghlsync serve`: webhook intake, OAuth connect, admin API and page, health.
pub async fn serve(config: &Config, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let options = ghlsync::AppOptions {
        listen: args.listen,
        run_worker: false,
        ..ghlsync::AppOptions::default()
    };
    let app = ghlsync::Application::build(config, options).await?;
    let json_logs =
        std::env::var("GHLSYNC_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    if json_logs {
        // Logs are collected: the one-time link (a credential) stays out of them.
        if app.store().admin_user_count().await? == 0 {
            tracing::warn!(
                "NoAdminAccount: create one on this host with `ghlsync admin add-user NAME --role admin` (the setup link is printed only without GHLSYNC_LOG_FORMAT=json)"
            );
        }
    } else if let Some(link) = app.setup_link().await? {
        eprintln!(
            "No admin account yet: create the first at {link} (works once, for 24 hours), or on this host: ghlsync admin add-user NAME --role admin"
        );
    }
    println!(
        "{}",
        serde_json::json!({"listening": format!("http://{}", app.address())})
    );
    app.run_until_stopped(super::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
