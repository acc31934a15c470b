//! `ghlsync admin ...`: the admin UI's accounts and the API tokens of scripts.
//! They act on the store directly (this host holds the database), so they work
//! with the server stopped.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use store::Role;

use super::exit::Fail;
use crate::config::Config;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    /// Changes things.
    Admin,
    /// Reads everything, changes nothing.
    Viewer,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Viewer => Role::Viewer,
        }
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Create an account (or give an existing one a new password and role; its
    /// sessions end). The password is read from stdin when it is not a terminal,
    /// else asked twice.
    #[command(
        after_help = "Examples:\n  ghlsync admin add-user ada --role admin\n  printf '%s\\n' \"$PASSWORD\" | ghlsync admin add-user ci --role viewer"
    )]
    AddUser {
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Remove an account and end its sessions.
    #[command(after_help = "Examples:\n  ghlsync admin remove-user ada")]
    RemoveUser { name: String },
    /// The accounts and their roles.
    #[command(after_help = "Examples:\n  ghlsync admin users\n  ghlsync admin users --json")]
    Users {
        #[arg(long)]
        json: bool,
    },
    /// API tokens for scripts (`Authorization: Bearer <token>`).
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  ghlsync admin token create --name deploy --role viewer\n  ghlsync admin token list\n  ghlsync admin token revoke deploy"
    )]
    Token(TokenCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once (only its hash is kept).
    #[command(after_help = "Examples:\n  ghlsync admin token create --name deploy --role viewer")]
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// The tokens: name, role, created, last used (never the token).
    #[command(after_help = "Examples:\n  ghlsync admin token list --json")]
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token.
    #[command(after_help = "Examples:\n  ghlsync admin token revoke deploy")]
    Revoke { name: String },
}

/// The new password: stdin when it is not a terminal, else asked twice.
fn read_new_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first =
            rpassword::prompt_password("Password: ").context("cannot read from the terminal")?;
        let again = rpassword::prompt_password("Password again: ")
            .context("cannot read from the terminal")?;
        if first != again {
            return Err(Fail::usage("the two passwords differ; nothing was changed"));
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

fn when(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

pub async fn run(config: &Config, cmd: &AdminCommand) -> anyhow::Result<ExitCode> {
    let store = config.open_store().await?;
    match cmd {
        AdminCommand::AddUser { name, role } => {
            let password = read_new_password()?;
            server::accounts::check_new(name, &password).map_err(Fail::usage)?;
            let hash = server::accounts::hash_password(&password).map_err(anyhow::Error::msg)?;
            let created = store.put_admin_user(name, (*role).into(), &hash).await?;
            println!(
                "{} account {name} ({})",
                if created { "created" } else { "updated" },
                Role::from(*role)
            );
            crate::hint!("Log in at {}/login", config.public_url());
        }
        AdminCommand::RemoveUser { name } => {
            if !store.delete_admin_user(name).await? {
                return Err(Fail::not_found(format!(
                    "no account named {name:?} (ghlsync admin users lists them)"
                )));
            }
            println!("removed account {name}; its sessions ended");
        }
        AdminCommand::Users { json } => {
            let users = store.admin_users().await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else if users.is_empty() {
                println!("no accounts yet: ghlsync admin add-user NAME --role admin");
            } else {
                println!("{:<32} {:<8} created", "name", "role");
                for u in users {
                    println!("{:<32} {:<8} {}", u.name, u.role, when(u.created_at));
                }
            }
        }
        AdminCommand::Token(TokenCommand::Create { name, role }) => {
            if name.trim().is_empty() {
                return Err(Fail::usage("--name must not be empty"));
            }
            let token = format!("ghs_{}", server::admin::random_token());
            if !store.create_api_token(name, (*role).into(), &token).await? {
                return Err(Fail::usage(format!(
                    "a token named {name:?} exists; revoke it first (ghlsync admin token revoke {name}) or pick another name"
                )));
            }
            println!("{token}");
            crate::hint!(
                "Token {name} ({}) created. It is shown only now: store it. Send it as `Authorization: Bearer <token>`.",
                Role::from(*role)
            );
        }
        AdminCommand::Token(TokenCommand::List { json }) => {
            let tokens = store.api_tokens().await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&json!(tokens))?);
            } else if tokens.is_empty() {
                println!("no API tokens: ghlsync admin token create --name N --role viewer");
            } else {
                println!("{:<24} {:<8} {:<22} last used", "name", "role", "created");
                for t in tokens {
                    println!(
                        "{:<24} {:<8} {:<22} {}",
                        t.name,
                        t.role,
                        when(t.created_at),
                        t.last_used_at.map_or_else(|| "never".to_owned(), when)
                    );
                }
            }
        }
        AdminCommand::Token(TokenCommand::Revoke { name }) => {
            if !store.delete_api_token(name).await? {
                return Err(Fail::not_found(format!(
                    "no token named {name:?} (ghlsync admin token list shows them)"
                )));
            }
            println!("revoked token {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
