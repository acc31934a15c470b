//! `ghlsync`: the command line. It parses arguments, sets up logging (always to
//! stderr, so stdout stays clean for JSON) and hands over to the libraries.

mod commands;

use ghlsync::config;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Keeps HighLevel (GHL) contacts in sync with Lofty and Lytho.
#[derive(Debug, Parser)]
#[command(name = "ghlsync", version, about, long_about = None)]
struct Cli {
    /// Configuration file (TOML); `./ghlsync.toml` is read when present.
    #[arg(long, global = true, env = "GHLSYNC_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start everything: server, worker, and the sandbox when no real GHL app is configured.
    Up(commands::up::Args),
    /// Serve the local API emulators and print one JSON line with their URLs and credentials.
    Sandbox(commands::sandbox::Args),
    /// Run one action of the catalog through a connection and print its JSON answer.
    Call(commands::call::Args),
    /// Every action and trigger: ids, schemas, scopes, examples.
    Catalog(commands::catalog::Args),
    /// The catalog's actions (same as `catalog --kind action`).
    #[command(hide = true)]
    Operations(commands::catalog::Args),
    /// Run queue workers against the configured database (SQLite or PostgreSQL).
    Worker(commands::worker::Args),
    /// Serve webhook intake and health endpoints.
    Serve(commands::admin::ServeArgs),
    /// Connect an account: GHL (OAuth or Private Integration Token), Lofty, Lytho.
    #[command(subcommand)]
    Connect(commands::connect::ConnectCommand),
    /// List connections: status, scopes, token expiry, last error (never secrets).
    Connections(commands::connect::ListArgs),
    /// Create or upgrade the database schema.
    Migrate,
    /// Manage the secrets vault.
    #[command(subcommand)]
    Vault(commands::admin::VaultCommand),
    /// Sync flows: list, show, enable, disable, recipes, schema.
    #[command(subcommand)]
    Flows(commands::flows::FlowsCommand),
    /// Every decision about a person (email) or a record (`system:type:id`).
    History(commands::flows::HistoryArgs),
    /// The latest decisions of every flow (or one).
    Runs(commands::flows::RunsArgs),
    /// What waits for a person: ambiguous matches, conflicts, deletes.
    #[command(subcommand)]
    Review(commands::flows::ReviewCommand),
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GHLSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let config = || config::Config::load(cli.config.as_deref());
        match cli.command {
            Command::Worker(args) => commands::worker::run(&config()?, args).await,
            Command::Serve(args) => commands::admin::serve(&config()?, &args).await,
            Command::Connect(cmd) => commands::connect::connect(&config()?, &cmd).await,
            Command::Connections(args) => commands::connect::list(&config()?, &args).await,
            Command::Migrate => commands::admin::migrate(&config()?).await,
            Command::Vault(cmd) => commands::admin::vault(&config()?, &cmd).await,
            Command::Bench(cmd) => commands::bench::run(&cmd).await,
            Command::Flows(cmd) => commands::flows::flows(&config()?, &cmd).await,
            Command::History(args) => commands::flows::history(&config()?, &args).await,
            Command::Runs(args) => commands::flows::runs(&config()?, &args).await,
            Command::Review(cmd) => commands::flows::review(&config()?, &cmd).await,
            Command::Up(args) => commands::up::run(&config()?, args).await,
            Command::Sandbox(args) => commands::sandbox::run(args).await,
            Command::Call(args) => commands::call::run(args, cli.config.as_deref()).await,
            Command::Catalog(args) => commands::catalog::run(&args),
            Command::Operations(mut args) => {
                args.kind = Some("action".to_owned());
                commands::catalog::run(&args)
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            commands::exit::code_of(&e)
        }
    }
}
