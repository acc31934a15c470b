//! `ghlsync`: the command line. It parses arguments, sets up logging (always to
//! stderr, so stdout stays clean for JSON) and hands over to the libraries.

mod commands;

use ghlsync::config;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Keeps HighLevel (GHL) contacts in sync with Lofty and Lytho.
#[derive(Debug, Parser)]
#[command(
    name = "ghlsync",
    version,
    about,
    long_about = None,
    after_help = "\
Examples:
  ghlsync up                      # server, worker and the sandbox: start here
  ghlsync catalog --system ghl    # what can be called
  ghlsync call ghl.contacts.search --connection <name> --input '{\"locationId\":\"...\",\"pageLimit\":10}'

Exit codes: 0 ok, 1 failure, 2 bad usage or input, 3 needs (re)authentication or a
scope, 4 not found, 5 rate limited or the server failed: try later (docs/CLI.md)."
)]
struct Cli {
    /// Configuration file (TOML); `./ghlsync.toml` is read when present.
    #[arg(long, global = true, env = "GHLSYNC_CONFIG")]
    config: Option<PathBuf>,
    /// More log detail on stderr (-v debug, -vv trace); GHLSYNC_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
    /// Only errors on stderr: no hints, progress or info logs.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start everything: server, worker, and the sandbox when no real GHL app is configured.
    #[command(
        after_help = "Examples:\n  ghlsync up\n  ghlsync up --seed 1000          # a bigger sandbox\n  ghlsync up --no-sandbox         # real accounts (docs/GOING-LIVE.md)"
    )]
    Up(commands::up::Args),
    /// Serve the local API emulators and print one JSON line with their URLs and credentials.
    #[command(
        after_help = "Examples:\n  ghlsync sandbox\n  ghlsync sandbox --listen 127.0.0.1:9000 --seed 50   # 50 contacts per location"
    )]
    Sandbox(commands::sandbox::Args),
    /// Run one action of the catalog through a connection and print its JSON answer.
    Call(commands::call::Args),
    /// Every action and trigger: ids, schemas, scopes, examples.
    Catalog(commands::catalog::Args),
    /// The catalog's actions (same as `catalog --kind action`).
    #[command(hide = true)]
    Operations(commands::catalog::Args),
    /// Run queue workers against the configured database (SQLite or PostgreSQL).
    #[command(
        after_help = "Examples:\n  ghlsync worker\n  ghlsync worker --exit-when-idle   # drain the queue, then stop"
    )]
    Worker(commands::worker::Args),
    /// Serve webhook intake and health endpoints.
    #[command(after_help = "Examples:\n  ghlsync serve\n  ghlsync serve --listen 0.0.0.0:8080")]
    Serve(commands::admin::ServeArgs),
    /// Connect an account: GHL (OAuth or Private Integration Token), Lofty, Lytho.
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  ghlsync connect ghl\n  ghlsync connect lofty\n  ghlsync connect lytho --tenant acme --client-id wf-oa-..."
    )]
    Connect(commands::connect::ConnectCommand),
    /// List connections: status, scopes, token expiry, last error (never secrets).
    #[command(
        after_help = "Examples:\n  ghlsync connections\n  ghlsync connections --check --json\n  ghlsync connections rotate \"Lofty Alex Agent\""
    )]
    Connections(commands::connect::ListArgs),
    /// Create or upgrade the database schema.
    #[command(after_help = "Examples:\n  ghlsync migrate")]
    Migrate,
    /// Admin accounts (the UI's logins, with roles) and API tokens for scripts.
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  ghlsync admin add-user ada --role admin\n  ghlsync admin token create --name deploy --role viewer"
    )]
    Admin(commands::accounts::AdminCommand),
    /// Manage the secrets vault.
    #[command(subcommand)]
    #[command(after_help = "Examples:\n  ghlsync vault rotate")]
    Vault(commands::admin::VaultCommand),
    /// Sync flows: list, show, enable, disable, recipes, schema.
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  ghlsync flows list\n  ghlsync flows enable lofty-ghl-contacts --ghl <connection> --lofty <connection>"
    )]
    Flows(commands::flows::FlowsCommand),
    /// Every decision about a person (email) or a record (`system:type:id`).
    #[command(
        after_help = "Examples:\n  ghlsync history ada@example.com\n  ghlsync history lofty:lead:42 --json"
    )]
    History(commands::flows::HistoryArgs),
    /// The latest decisions of every flow (or one).
    #[command(
        after_help = "Examples:\n  ghlsync runs\n  ghlsync runs --flow lofty-ghl-contacts --json --limit 200"
    )]
    Runs(commands::flows::RunsArgs),
    /// What waits for a person: ambiguous matches, conflicts, deletes.
    #[command(subcommand)]
    #[command(after_help = "Examples:\n  ghlsync review list\n  ghlsync review approve 12")]
    Review(commands::flows::ReviewCommand),
    /// The jobs that gave up (dead letters), newest first, with their last error.
    DeadLetters(commands::queue::DeadLettersArgs),
    /// Put dead letters back in the queue: one, a kind, or all.
    Replay(commands::queue::ReplayArgs),
    /// Shell completions: `ghlsync completions bash > /etc/bash_completion.d/ghlsync`.
    #[command(
        after_help = "Examples:\n  ghlsync completions bash > ~/.local/share/bash-completion/completions/ghlsync\n  ghlsync completions zsh > ~/.zfunc/_ghlsync\n  ghlsync completions fish > ~/.config/fish/completions/ghlsync.fish"
    )]
    Completions { shell: clap_complete::Shell },
    /// Benchmarks that print figures.
    #[command(subcommand)]
    #[command(after_help = "Examples:\n  ghlsync bench queue --json")]
    Bench(commands::bench::BenchCommand),
}

/// Logs go to stderr: `GHLSYNC_LOG` if set, else by `-q` / `-v`; colour only on a
/// terminal, and never with `NO_COLOR`; one JSON object per line with
/// `GHLSYNC_LOG_FORMAT=json` (each server request's lines carry its request id).
fn init_logging(verbose: u8, quiet: bool, bench: bool) {
    use std::io::IsTerminal;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        // A benchmark's engine logs every request at info: that would be measured.
        (false, 0) if bench => "warn",
        (false, 0) => "info,sqlx=warn",
        (false, 1) => "debug,sqlx=warn,hyper=info,h2=info",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GHLSYNC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let json = std::env::var("GHLSYNC_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.with_ansi(colour).init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    commands::set_quiet(cli.quiet);
    init_logging(
        cli.verbose,
        cli.quiet,
        matches!(cli.command, Command::Bench(_)),
    );
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
            Command::Admin(cmd) => commands::accounts::run(&config()?, &cmd).await,
            Command::Bench(cmd) => commands::bench::run(&cmd).await,
            Command::Flows(cmd) => commands::flows::flows(&config()?, &cmd).await,
            Command::History(args) => commands::flows::history(&config()?, &args).await,
            Command::Runs(args) => commands::flows::runs(&config()?, &args).await,
            Command::Review(cmd) => commands::flows::review(&config()?, &cmd).await,
            Command::Up(args) => commands::up::run(&config()?, args).await,
            Command::Sandbox(args) => commands::sandbox::run(args).await,
            Command::Call(args) => commands::call::run(args, cli.config.as_deref()).await,
            Command::Catalog(args) => commands::catalog::run(&args),
            Command::DeadLetters(args) => commands::queue::dead_letters(&config()?, &args).await,
            Command::Replay(args) => commands::queue::replay(&config()?, &args).await,
            Command::Completions { shell } => {
                use clap::CommandFactory;
                clap_complete::generate(
                    shell,
                    &mut Cli::command(),
                    "ghlsync",
                    &mut std::io::stdout(),
                );
                Ok(ExitCode::SUCCESS)
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every command and subcommand's `--help` ends with examples.
    #[test]
    fn every_command_has_an_example() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let here = format!("{path} {}", cmd.get_name());
            let help = cmd
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            if !cmd.is_hide_set() && cmd.get_name() != "help" && !help.contains("ghlsync ") {
                missing.push(here.trim().to_owned());
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &here, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "no example in --help: {missing:?}");
        Cli::command().debug_assert();
    }

    /// Splits an example line as a shell would (quotes, a `#` comment, and
    /// anything after a redirect or a pipe dropped).
    fn shell_words(line: &str) -> Vec<String> {
        let (mut words, mut word, mut quote, mut any) = (Vec::new(), String::new(), None, false);
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.push(c),
                (None, '\'' | '"') => {
                    quote = Some(c);
                    any = true;
                }
                (None, '#') if word.is_empty() => break,
                (None, c) if c.is_whitespace() => {
                    if any || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    any = false;
                }
                (None, c) => word.push(c),
            }
        }
        if any || !word.is_empty() {
            words.push(word);
        }
        let end = words
            .iter()
            .position(|w| matches!(w.as_str(), ">" | "|" | "<" | "&&"))
            .unwrap_or(words.len());
        words.truncate(end);
        words
    }

    /// Every example in every `--help` parses: a renamed flag or a missing value
    /// shows up here, not in front of a user.
    #[test]
    fn every_example_parses() {
        fn walk(cmd: &clap::Command, bad: &mut Vec<String>, seen: &mut usize) {
            let help = cmd
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            // A line ending in `\` goes on on the next one; two spaces start
            // a description column.
            let joined = help
                .split("\\\n")
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ");
            for line in joined.lines() {
                let line = line.trim();
                let line = line.split("  ").next().unwrap_or(line);
                if !line.starts_with("ghlsync ") && line != "ghlsync" {
                    continue;
                }
                // Placeholders stand for a value the user has.
                let filled = line.replace("<id>", "42").replace("<name>", "x");
                *seen += 1;
                if let Err(e) = Cli::try_parse_from(shell_words(&filled)) {
                    bad.push(format!("{line}: {}", e.kind()));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, bad, seen);
            }
        }
        let (mut bad, mut seen) = (Vec::new(), 0);
        walk(&Cli::command(), &mut bad, &mut seen);
        assert!(seen > 50, "examples found: {seen}");
        assert!(
            bad.is_empty(),
            "examples that do not parse:\n{}",
            bad.join("\n")
        );
    }
}
