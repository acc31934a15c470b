//! `ghlsync up`: the one command a new user runs. Until the engine lands it starts
//! the sandbox on a fixed port and explains what it serves and how to call it.

use std::net::SocketAddr;
use std::process::ExitCode;

use sandbox::Sandbox;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the sandbox listens.
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    /// Contacts seeded per location.
    #[arg(long = "seed", default_value_t = 25)]
    pub contacts: usize,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sandbox_args = super::sandbox::Args {
        listen: args.listen,
        contacts: args.contacts,
        ..super::sandbox::Args::defaults()
    };
    let sandbox = Sandbox::start(sandbox_args.config()).await?;
    let info = sandbox.info().ghl.clone();
    let first = info.locations.first();
    let location = first.map(|l| l.id.as_str()).unwrap_or_default();
    let token = first.map(|l| l.token.as_str()).unwrap_or_default();
    eprintln!(
        "\nghlsync is up.\n\n\
         GHL sandbox (HighLevel API v2 emulator): {base}\n\
         \x20 company {company}, {n} locations, {contacts} contacts each\n\
         \x20 first location: {location}\n\
         \x20 its Private Integration Token (all scopes): {token}\n\n\
         Try it:\n\
         \x20 curl -s -H 'Authorization: Bearer {token}' -H 'Version: 2021-07-28' \\\n\
         \x20      '{base}/contacts/?locationId={location}&limit=2'\n\
         \x20 cargo run --release -- call get-contacts --base-url {base} --token {token} \\\n\
         \x20      --input '{{\"locationId\":\"{location}\",\"limit\":2}}'\n\n\
         The sync engine, admin UI and workers arrive with the next milestones (see docs/ARCHITECTURE.md).\n\
         Press Ctrl-C to stop.",
        base = info.base_url,
        company = info.company_id,
        n = info.locations.len(),
        contacts = args.contacts,
    );
    println!("{}", serde_json::to_string(sandbox.info())?);
    super::shutdown_signal().await;
    sandbox.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
