//! `ghlsync up`: the one command a new user runs. It starts the server (webhook
//! intake, OAuth connect, admin page) and a queue worker on the configured store;
//! when no real GHL app is configured it also starts the sandbox and points
//! everything at it, so the whole loop works on a laptop with no accounts.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use sandbox::Sandbox;
use serde_json::json;

use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the sandbox's GHL emulator listens (Lofty and Lytho take the next two ports).
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub sandbox_listen: SocketAddr,
    /// Contacts seeded per location.
    #[arg(long = "seed", default_value_t = 25)]
    pub contacts: usize,
    /// Never start the sandbox, even without real credentials.
    #[arg(long)]
    pub no_sandbox: bool,
}

pub async fn run(config: &Config, args: Args) -> anyhow::Result<ExitCode> {
    // A previous sandbox run's endpoints do not count as real credentials.
    let _ = std::fs::remove_file(config.data_dir().join(crate::config::SANDBOX_OVERLAY));
    let mut config = crate::config::Config::load_without_overlay(config);
    let sandbox = if config.ghl.client_id.is_none() && !args.no_sandbox {
        let sandbox_args = super::sandbox::Args {
            listen: args.sandbox_listen,
            contacts: args.contacts,
            state_file: Some(config.data_dir().join("sandbox-state.json")),
            ..super::sandbox::Args::defaults()
        };
        store::create_data_dir(&config.data_dir())?;
        let sbx = Sandbox::start(sandbox_args.config()).await?;
        let ghl = &sbx.info().ghl;
        config.ghl.base_url = Some(ghl.base_url.clone());
        config.ghl.auth_base = Some(ghl.base_url.clone());
        config.ghl.client_id = Some(ghl.client_id.clone());
        config.ghl.client_secret = Some(ghl.client_secret.clone());
        config.ghl.webhook_public_key = Some(ghl.webhook_public_key.clone());
        let lofty = &sbx.info().lofty;
        let lytho = &sbx.info().lytho;
        let sandbox_lytho = crate::config::SandboxLytho {
            base_url: lytho.base_url.clone(),
            token_url: lytho.token_url.clone(),
            client_id: lytho.client_id.clone(),
        };
        config.write_sandbox_overlay(&config.ghl, &lofty.base_url, &sandbox_lytho)?;
        config.lofty.base_url = Some(lofty.base_url.clone());
        config.lofty.client_id = Some(lofty.client_id.clone());
        config.lofty.client_secret = Some(lofty.client_secret.clone());
        config.lofty.token_url = Some(lofty.token_url.clone());
        config.lofty.authorize_url = Some(format!("{}/page/vendor-auth.html", lofty.base_url));
        Some(sbx)
    } else {
        None
    };
    let app = ghlsync::Application::build(&config, ghlsync::AppOptions::default()).await?;
    let store = app.store().clone();
    let addr = app.address();
    let public = app.public_url();
    if let Some(sbx) = &sandbox {
        // The sandbox sends its signed webhooks to our intake, at the bound address.
        let url = format!("{}/_sandbox/webhooks", sbx.ghl_base_url());
        wire::http::default_http_client()
            .post(url)
            .json(&json!({"url": format!("{public}/webhooks/ghl")}))
            .send()
            .await
            .context("cannot register the webhook target with the sandbox")?;
    }
    let synced = match &sandbox {
        Some(sbx) => Some(sync_out_of_the_box(app.worker().connectors(), sbx).await?),
        None => None,
    };
    let admin_file = config.data_dir().join("admin.token");
    let setup = app.setup_link().await?;
    let worker_id = app.worker().id().to_owned();
    let mut line = json!({
        "server": {"url": format!("http://{addr}"), "admin_token_file": admin_file, "store": store.backend_name()},
    });
    if let Some(sbx) = &sandbox {
        line["sandbox"] = serde_json::to_value(sbx.info())?;
    }
    println!("{line}");
    eprintln!(
        "\nghlsync is up.\n\n\
         \x20 server        http://{addr}   (admin UI; {})\n\
         \x20 webhooks      http://{addr}/webhooks/ghl, http://{addr}/webhooks/lofty/<key per connection>\n\
         \x20 store         {} in {}\n\
         \x20 worker        {}\n{}\n\
         Connect a GHL location:   cargo run --release -- connect ghl\n\
         Connect Lofty (API key):  cargo run --release -- connect lofty\n\
         Connect Lytho:            cargo run --release -- connect lytho   (asks the client secret)\n\
         List connections:         cargo run --release -- connections\n\
         Press Ctrl-C to stop.",
        match &setup {
            Some(link) => format!("create the first admin account, once, at {link}"),
            None => format!("log in at {public}/login"),
        },
        store.backend_name(),
        config.data_dir().display(),
        worker_id,
        match &sandbox {
            Some(sbx) => format!(
                "\x20 sandbox       GHL {}  Lofty {}  Lytho {}  (no real accounts configured; see docs/SANDBOX.md)\n",
                sbx.info().ghl.base_url,
                sbx.info().lofty.base_url,
                sbx.info().lytho.base_url
            ),
            None => String::new(),
        },
    );
    if let Some(what) = synced {
        eprintln!("\n{what}");
        // The backfill pages through both sides once (a checkpoint remembers it), then
        // the worker pairs, creates and updates; webhooks take over after that.
        let connectors = app.worker().connectors().clone();
        let (progress_store, since) = (store.clone(), store.now());
        tokio::spawn(async move { progress(&progress_store, since).await });
        tokio::spawn(async move {
            for (recipe, _) in UP_FLOWS {
                if let Err(e) = backfill(&connectors, recipe).await {
                    tracing::error!(error = %e, "BackfillFailed: run `ghlsync flows run {recipe}` to resume it");
                }
            }
        });
    }
    let served = app.run_until_stopped(super::shutdown_signal()).await;
    if let Some(sbx) = sandbox {
        sbx.shutdown().await;
    }
    served?;
    Ok(ExitCode::SUCCESS)
}

/// With the sandbox: connects the sandbox's first GHL location (a Private
/// Integration Token with every scope the recipes need; a connection made earlier
/// with fewer is reconnected) and its Lofty account, and switches on each of
/// [`UP_FLOWS`] not on yet. Run again, it changes nothing. Returns what it says
/// on stderr.
async fn sync_out_of_the_box(
    connectors: &engine::Connectors,
    sbx: &Sandbox,
) -> anyhow::Result<String> {
    let store = connectors.store();
    let mut missing = Vec::new();
    for (recipe, _) in UP_FLOWS {
        if store.flow(recipe).await?.is_none() {
            missing.push(*recipe);
        }
    }
    let info = sbx.info();
    let location = info
        .ghl
        .locations
        .first()
        .context("the sandbox has no GHL location")?;
    let ghl_base = url::Url::parse(&info.ghl.base_url)?;
    let has_scopes = match store.flow(UP_FLOWS[0].0).await? {
        Some(flow) => store
            .connection(&flow.left_connection)
            .await?
            .is_some_and(|c| {
                UP_SCOPES
                    .split_whitespace()
                    .all(|s| c.scopes.split_whitespace().any(|h| h == s))
            }),
        None => false,
    };
    if missing.is_empty() && has_scopes {
        return Ok(format!(
            "Syncs {} are on (as before); `ghlsync runs` shows what they do.",
            up_recipes().join(", ")
        ));
    }
    let ghl = engine::connections::connect_pit(
        store,
        &ghl_base,
        &location.id,
        &secrecy::SecretString::from(location.token.clone()),
        UP_SCOPES,
    )
    .await
    .context("cannot connect the sandbox's GHL location")?;
    let lofty_base = url::Url::parse(&info.lofty.base_url)?;
    let lofty = engine::connections::connect_lofty_key(
        store,
        &lofty_base,
        &secrecy::SecretString::from(info.lofty.api_key.clone()),
    )
    .await
    .context("cannot connect the sandbox's Lofty account")?;
    let lytho = engine::connections::connect_lytho(
        store,
        &engine::connections::LythoAccount {
            base_url: url::Url::parse(&info.lytho.base_url)?,
            token_url: url::Url::parse(&info.lytho.token_url)?,
            client_id: info.lytho.client_id.clone(),
            client_secret: secrecy::SecretString::from(info.lytho.client_secret.clone()),
        },
    )
    .await
    .context("cannot connect the sandbox's Lytho tenant")?;
    // Lofty appointments are booked in GHL on the location's first calendar,
    // unless the config names one.
    let calendar = sbx.ghl().with_world(|w| {
        w.locations
            .get(&location.id)
            .and_then(|l| l.calendars.first())
            .map(|c| c.id.clone())
    });
    let mut calendars = connectors.ghl_calendars().clone();
    if let Some(id) = calendar {
        calendars.entry("*".to_owned()).or_insert(id);
    }
    let connectors = connectors.clone().with_ghl_calendars(calendars);
    for recipe in &missing {
        let right = match UP_FLOWS.iter().find(|(r, _)| r == recipe) {
            Some((_, domain::System::Lytho)) => &lytho,
            _ => &lofty,
        };
        engine::sync::enable_recipe(&connectors, recipe, &ghl, right).await?;
    }
    Ok(format!(
        "Connected the sandbox's GHL location {ghl} (scopes: {UP_SCOPES}), Lofty account {lofty} and Lytho tenant {lytho}; switched on {}:\n\
         a lead created or changed in Lofty is created or updated in GHL, a GHL contact's changes reach its lead,\n\
         the tasks, notes and appointments of linked people sync, and the people on Lytho's work items become\n\
         GHL contacts (tagged lytho) with their tasks and comments (Lytho is polled every minute);\n\
         GHL appointments and notes of those people reach their newest open Lytho task (due date, description).\n\
         See it work: ghlsync runs --flow lofty-ghl-contacts   and   ghlsync history <email>",
        if missing.is_empty() {
            "nothing new (the connection was reconnected with more scopes)".to_owned()
        } else {
            missing.join(", ")
        }
    ))
}

/// The recipes `up` switches on with the sandbox, parents first, with the system
/// of their right side (the left is GHL). `ghl-lytho-tasks` is left off: it
/// replaces `lytho-ghl-tasks` rather than running beside it (see docs/RECIPES.md).
const UP_FLOWS: &[(&str, domain::System)] = &[
    ("lofty-ghl-contacts", domain::System::Lofty),
    ("lofty-ghl-tasks", domain::System::Lofty),
    ("lofty-ghl-notes", domain::System::Lofty),
    ("ghl-lofty-appointments", domain::System::Lofty),
    ("lofty-ghl-appointments", domain::System::Lofty),
    ("lytho-ghl-contacts", domain::System::Lytho),
    ("lytho-ghl-tasks", domain::System::Lytho),
    ("lytho-ghl-comments", domain::System::Lytho),
    ("ghl-lytho-appointments", domain::System::Lytho),
    ("ghl-lytho-notes", domain::System::Lytho),
];

fn up_recipes() -> Vec<&'static str> {
    UP_FLOWS.iter().map(|(r, _)| *r).collect()
}

/// What `up`'s GHL connection may do: contacts, their custom fields, the
/// location's task search (GHL's `TaskCreate` comes without its contact), and
/// its calendars and their events (appointments both ways).
const UP_SCOPES: &str = "contacts.readonly contacts.write locations/customFields.readonly locations/tasks.readonly calendars.readonly calendars/events.readonly calendars/events.write";

/// Pages both sides of `flow` (resuming from its checkpoints) and enqueues its
/// records for the running worker.
async fn backfill(connectors: &engine::Connectors, flow: &str) -> anyhow::Result<()> {
    let store = connectors.store();
    let Some(row) = store.flow(flow).await? else {
        return Ok(());
    };
    let flow = engine::sync::Flow {
        spec: engine::sync::build(&row)?,
        row,
    };
    let mut counts = Vec::new();
    for side in [domain::sync::Side::Left, domain::sync::Side::Right] {
        counts.push(engine::sync::backfill::index_side(connectors, &flow, side, |_| {}).await?);
    }
    let queued = engine::sync::backfill::enqueue(store, &flow).await?;
    if queued > 0 {
        crate::hint!(
            "Backfill of {}: {} {} and {} {} read; {queued} records queued for pairing (ghlsync runs --flow {} shows them).",
            flow.row.id,
            counts[0],
            flow.spec.left.name,
            counts[1],
            flow.spec.right.name,
            flow.row.id
        );
    }
    Ok(())
}

/// One line per recipe on stderr with what it did since `since` (created, updated,
/// skipped, conflicts, failed), every few seconds while something happens.
async fn progress(store: &store::Store, since: i64) {
    let mut last = String::new();
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        let Ok(counts) = store.decision_counts(since).await else {
            continue;
        };
        let lines = progress_lines(&counts);
        if lines != last {
            eprint!("{lines}");
            last = lines;
        }
    }
}

/// The progress lines of [`UP_FLOWS`] from `(flow, decision, count)`.
fn progress_lines(counts: &[(String, String, i64)]) -> String {
    let mut out = String::new();
    for (recipe, _) in UP_FLOWS {
        let mut n = [0i64; 5];
        for (_, decision, count) in counts.iter().filter(|c| c.0 == *recipe) {
            let slot = match decision.as_str() {
                "create" => 0,
                "update" | "delete" => 1,
                "conflict" | "review" => 3,
                "failed" => 4,
                // skip, echo, wait
                _ => 2,
            };
            n[slot] += count;
        }
        out.push_str(&format!(
            "{recipe:<24} created {:>5}  updated {:>5}  skipped {:>5}  conflicts {:>3}  failed {:>3}\n",
            n[0], n[1], n[2], n[3], n[4]
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_has_a_line_per_recipe_with_its_counts() {
        let c = |f: &str, d: &str, n: i64| (f.to_owned(), d.to_owned(), n);
        let lines = progress_lines(&[
            c("lofty-ghl-contacts", "create", 12),
            c("lofty-ghl-contacts", "echo", 7),
            c("lofty-ghl-contacts", "skip", 3),
            c("lofty-ghl-tasks", "update", 2),
            c("lofty-ghl-tasks", "conflict", 1),
            c("lofty-ghl-notes", "failed", 4),
        ]);
        let lines: Vec<&str> = lines.lines().collect();
        assert_eq!(lines.len(), UP_FLOWS.len());
        assert_eq!(
            lines[0],
            "lofty-ghl-contacts       created    12  updated     0  skipped    10  conflicts   0  failed   0"
        );
        assert!(
            lines[1].starts_with("lofty-ghl-tasks")
                && lines[1].contains("updated     2")
                && lines[1].contains("conflicts   1")
        );
        assert!(lines[2].ends_with("failed   4"));
    }
}
