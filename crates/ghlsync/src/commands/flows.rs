//! `ghlsync flows`, `history`, `runs` and `review`: switch sync flows on and off,
//! and see what they decided.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use serde_json::{Value, json};

use ghlsync::config::Config;

use super::exit::Fail;

#[derive(Debug, Subcommand)]
pub enum FlowsCommand {
    /// The flows: enabled or not, their connections, how many records they link.
    #[command(after_help = "Examples:\n  ghlsync flows list")]
    List {
        /// A JSON array on stdout.
        #[arg(long)]
        json: bool,
    },
    /// A flow's sync file (or a recipe's, before it is enabled).
    #[command(
        after_help = "Examples:\n  ghlsync flows show lofty-ghl-contacts   # a recipe, before it is enabled\n  ghlsync flows show my-flow"
    )]
    Show { id: String },
    /// Switch a recipe (or your own sync file) on between two connections.
    #[command(
        after_help = "Examples:\n  ghlsync flows enable lofty-ghl-contacts --ghl ghl:<location> --lofty lofty:<member>\n  ghlsync flows enable new-lead-call --file new-lead-call.toml --lofty lofty:<member> --ghl ghl:<location>\n  \n  A --file with a [flow] table is an action flow (a catalog trigger to a catalog\n  action, docs/FLOWS.md); one with [sync] is a two-way sync file (docs/SYNC.md)."
    )]
    Enable {
        /// A recipe id (`lofty-ghl-contacts`); see `ghlsync flows recipes`.
        id: String,
        /// The GHL connection (id or name).
        #[arg(long)]
        ghl: Option<String>,
        /// The Lofty connection (id or name).
        #[arg(long)]
        lofty: Option<String>,
        /// The Lytho connection (id or name).
        #[arg(long)]
        lytho: Option<String>,
        /// The left side's connection, for a sync file whose sides are not GHL/Lofty.
        #[arg(long)]
        left: Option<String>,
        #[arg(long)]
        right: Option<String>,
        /// Your own sync file instead of the recipe.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// Switch a flow off (its links and history stay).
    #[command(after_help = "Examples:\n  ghlsync flows disable lofty-ghl-contacts")]
    Disable { id: String },
    /// Backfill: page through both sides, pair what matches, create and update what
    /// is missing or different; resumes after a crash. `--dry-run` prints the plan.
    #[command(
        after_help = "Examples:\n  ghlsync flows run lofty-ghl-contacts --dry-run   # the backfill plan, nothing changed\n  ghlsync flows run lofty-ghl-contacts\n  ghlsync flows run by-hand --input '{\"name\":\"Ada\"}'          # an action flow on the manual trigger\n  ghlsync flows run new-lead-call --dry-run --event '{\"listId\":2,\"bucket\":\"createdLead\",\"leadId\":7}'"
    )]
    Run {
        id: String,
        /// Print what it would do per record; change nothing remote.
        #[arg(long)]
        dry_run: bool,
        /// An action flow on the manual trigger: the JSON to run it with.
        #[arg(long)]
        input: Option<String>,
        /// An action flow: run it on this event (shaped as its trigger's event,
        /// `ghlsync catalog <trigger>`), to try a mapping.
        #[arg(long, conflicts_with = "input")]
        event: Option<String>,
        /// The plan (or the decisions) as JSON.
        #[arg(long)]
        json: bool,
        /// Page through both sides again even if an earlier backfill finished.
        #[arg(long)]
        again: bool,
    },
    /// The recipes that ship in the binary.
    #[command(after_help = "Examples:\n  ghlsync flows recipes")]
    Recipes,
    /// The JSON Schema of sync files (for editors).
    #[command(after_help = "Examples:\n  ghlsync flows schema > sync-file.schema.json")]
    Schema,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// An email, or a record as `system:type:id` (`lofty:lead:42`).
    pub who: String,
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value_t = 500)]
    pub limit: i64,
}

#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    #[arg(long)]
    pub flow: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// What waits for a person.
    #[command(after_help = "Examples:\n  ghlsync review list\n  ghlsync review list --json")]
    List {
        #[arg(long)]
        json: bool,
    },
    /// Approve review N: a delete deletes the partner (or, held by a walk, runs
    /// the records as deleted); a match links (`--link`, or its only candidate) or
    /// creates; a conflict takes one side's values (`--take`).
    #[command(
        after_help = "Examples:\n  ghlsync review approve 12\n  ghlsync review approve 13 --take lofty\n  ghlsync review approve 14 --link ghl:contact:abc123"
    )]
    Approve {
        id: i64,
        /// The record to link, `system:type:id` (a match with several candidates).
        #[arg(long)]
        link: Option<String>,
        /// Whose values win a conflict: `ghl`, `lofty`, `left` or `right`.
        #[arg(long)]
        take: Option<String>,
    },
    /// Dismiss review N: a delete keeps the partner (the link goes); nothing
    /// else changes.
    #[command(after_help = "Examples:\n  ghlsync review dismiss 12")]
    Dismiss { id: i64 },
}

pub async fn flows(config: &Config, cmd: &FlowsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        FlowsCommand::Recipes => {
            for (id, file, _) in domain::sync::recipes::RECIPES {
                println!("{id}\t(crates/domain/recipes/{file})");
            }
            return Ok(ExitCode::SUCCESS);
        }
        FlowsCommand::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&domain::sync::SyncFile::json_schema())?
            );
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let store = config.open_store().await?;
    match cmd {
        FlowsCommand::List { json } => {
            let flows = store.flows().await?;
            let actions = store.action_flows().await?;
            if *json {
                let mut all = Vec::new();
                for f in &flows {
                    all.push(json!({
                        "id": f.id, "kind": "sync", "enabled": f.enabled,
                        "left_connection": f.left_connection, "right_connection": f.right_connection,
                        "linked": store.count_pairs(&f.id).await?,
                    }));
                }
                for f in &actions {
                    all.push(json!({
                        "id": f.id, "kind": "action", "enabled": f.enabled,
                        "trigger": f.trigger_id, "trigger_connection": f.trigger_connection,
                        "action": engine::actions::built(f).map(|b| b.action).ok(),
                        "action_connection": f.action_connection,
                    }));
                }
                println!("{}", serde_json::to_string_pretty(&all)?);
                return Ok(ExitCode::SUCCESS);
            }
            for f in &actions {
                println!(
                    "{:<24} {:<9} {} ({}) -> {} ({})",
                    f.id,
                    if f.enabled { "enabled" } else { "disabled" },
                    f.trigger_id,
                    f.trigger_connection.as_deref().unwrap_or("ghlsync"),
                    engine::actions::built(f)
                        .map(|b| b.action)
                        .unwrap_or_default(),
                    f.action_connection
                );
            }
            if flows.is_empty() && actions.is_empty() {
                println!(
                    "no flows yet: ghlsync flows enable lofty-ghl-contacts --ghl <connection> --lofty <connection>"
                );
            }
            for f in flows {
                let pairs = store.count_pairs(&f.id).await?;
                println!(
                    "{:<24} {:<9} {} <-> {}  ({pairs} linked)",
                    f.id,
                    if f.enabled { "enabled" } else { "disabled" },
                    f.left_connection,
                    f.right_connection
                );
            }
        }
        FlowsCommand::Show { id } => match store.flow(id).await? {
            Some(f) => print!("{}", f.file),
            None => match domain::sync::recipes::source(id) {
                None if let Some(f) = store.action_flow(id).await? => print!("{}", f.file),
                Some(text) => print!("{text}"),
                None => {
                    return Err(Fail::not_found(format!(
                        "no flow or recipe `{id}` (see `ghlsync flows list` and `ghlsync flows recipes`)"
                    )));
                }
            },
        },
        FlowsCommand::Enable {
            id,
            ghl,
            lofty,
            lytho,
            left,
            right,
            file,
        } => {
            let text = match file {
                Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
                None => domain::sync::recipes::source(id)
                    .with_context(|| format!("there is no recipe `{id}` (see `ghlsync flows recipes`), and no --file was given"))?
                    .to_owned(),
            };
            if domain::flow::FlowFile::looks_like(&text) {
                return enable_action_flow(&store, id, &text, [ghl, lofty, lytho], left, right)
                    .await;
            }
            let parsed = domain::sync::SyncFile::parse(&format!("{id}.toml"), &text)?;
            let pick = |object: &str, side: &Option<String>| -> anyhow::Result<String> {
                if let Some(s) = side {
                    return Ok(s.clone());
                }
                let by_system = match object.split('.').next() {
                    Some("ghl") => ghl,
                    Some("lofty") => lofty,
                    Some("lytho") => lytho,
                    _ => &None,
                };
                by_system.clone().with_context(|| {
                    format!(
                        "which connection is the {object} side? pass --{}",
                        object.split('.').next().unwrap_or("left")
                    )
                })
            };
            let l = pick(&parsed.sync.left, left)?;
            let r = pick(&parsed.sync.right, right)?;
            let connectors = ghlsync::startup::connectors(config, store.clone())?;
            let row = engine::sync::enable(&connectors, &text, &l, &r).await?;
            println!(
                "enabled {}: {} <-> {}",
                row.id, row.left_connection, row.right_connection
            );
            crate::hint!(
                "Changes now sync as they happen. See what it does: ghlsync runs --flow {}",
                row.id
            );
        }
        FlowsCommand::Disable { id } => {
            if !store.set_flow_enabled(id, false).await?
                && !store.set_action_flow_enabled(id, false).await?
            {
                return Err(Fail::not_found(format!(
                    "no flow `{id}` (see `ghlsync flows list`)"
                )));
            }
            println!("disabled {id}");
        }
        FlowsCommand::Run {
            id,
            dry_run,
            json,
            again,
            input,
            event,
        } => {
            if let Some(row) = store.action_flow(id).await? {
                return run_action_flow(
                    config,
                    &store,
                    &row,
                    input.as_deref(),
                    event.as_deref(),
                    *dry_run,
                )
                .await;
            }
            if input.is_some() || event.is_some() {
                return Err(Fail::usage(format!(
                    "`{id}` is not an action flow: --input and --event run action flows (`ghlsync flows list`)"
                )));
            }
            return run_flow(config, &store, id, *dry_run, *json, *again).await;
        }
        FlowsCommand::Recipes | FlowsCommand::Schema => unreachable!("handled above"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `flows enable --file <flow file>`: an action flow; the trigger's and the
/// action's connections come from the flag of their system (or --left for the
/// trigger, --right for the action).
async fn enable_action_flow(
    store: &store::Store,
    id: &str,
    text: &str,
    [ghl, lofty, lytho]: [&Option<String>; 3],
    left: &Option<String>,
    right: &Option<String>,
) -> anyhow::Result<ExitCode> {
    let file = format!("{id}.toml");
    let flow = domain::flow::FlowFile::parse(&file, text)
        .and_then(|f| f.build(&file, engine::catalog::catalog()))
        .map_err(|e| Fail::usage(e.to_string()))?;
    let of_system = |entry_id: &str| match entry_id.split('.').next() {
        Some("ghl") => ghl.clone(),
        Some("lofty") => lofty.clone(),
        Some("lytho") => lytho.clone(),
        _ => None,
    };
    let builtin = flow.trigger.starts_with("ghlsync.");
    let trigger_conn = if builtin {
        None
    } else {
        Some(
            left.clone()
                .or_else(|| of_system(&flow.trigger))
                .ok_or_else(|| {
                    Fail::usage(format!(
                        "whose events fire {}? pass --{} <connection>",
                        flow.trigger,
                        flow.trigger.split('.').next().unwrap_or("left")
                    ))
                })?,
        )
    };
    let action_conn = right
        .clone()
        .or_else(|| of_system(&flow.action))
        .ok_or_else(|| {
            Fail::usage(format!(
                "which connection runs {}? pass --{} <connection>",
                flow.action,
                flow.action.split('.').next().unwrap_or("right")
            ))
        })?;
    let row = engine::actions::enable(store, &file, text, trigger_conn.as_deref(), &action_conn)
        .await
        .map_err(|e| match e {
            engine::actions::EnableError::Store(e) => anyhow::Error::from(e),
            other => Fail::usage(other.to_string()),
        })?;
    println!(
        "enabled {}: {} ({}) -> {} ({})",
        row.id,
        row.trigger_id,
        row.trigger_connection.as_deref().unwrap_or("ghlsync"),
        flow.action,
        row.action_connection
    );
    crate::hint!(
        "Each {} event now runs {}. Try it: ghlsync flows run {} --dry-run --event '<json>'",
        flow.trigger,
        flow.action,
        row.id
    );
    Ok(ExitCode::SUCCESS)
}

/// `flows run <action flow>`: fires it now, on `--event` or (manual trigger)
/// `--input`, and prints the action's answer (the input, with `--dry-run`).
async fn run_action_flow(
    config: &Config,
    store: &store::Store,
    row: &store::ActionFlowRow,
    input: Option<&str>,
    event: Option<&str>,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let parse = |what: &str, text: &str| -> anyhow::Result<Value> {
        serde_json::from_str(text).map_err(|e| Fail::usage(format!("--{what} is not JSON: {e}")))
    };
    let event = match (event, input) {
        (Some(e), _) => parse("event", e)?,
        (None, input) if row.trigger_id == "ghlsync.trigger.manual" => {
            engine::actions::manual_event(
                input
                    .map(|i| parse("input", i))
                    .transpose()?
                    .unwrap_or(json!({})),
            )
        }
        (None, Some(_)) => {
            return Err(Fail::usage(format!(
                "flow `{}` fires on {}, not by hand: give --event '<json>' shaped as its event (`ghlsync catalog {}`)",
                row.id, row.trigger_id, row.trigger_id
            )));
        }
        (None, None) => {
            return Err(Fail::usage(format!(
                "give --event '<json>' shaped as the {} event (`ghlsync catalog {}` shows it)",
                row.trigger_id, row.trigger_id
            )));
        }
    };
    let connectors = ghlsync::startup::connectors(config, store.clone())?;
    match engine::actions::run_now(&connectors, row, &event, dry_run).await {
        Ok(engine::actions::Ran::Filtered) => {
            println!("the filter left this event out: nothing ran");
            Ok(ExitCode::SUCCESS)
        }
        Ok(engine::actions::Ran::Planned { input }) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({"dry_run": true, "input": input}))?
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(engine::actions::Ran::Done { answer, .. }) => {
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(engine::actions::RunError::Action(e)) => {
            eprintln!("error: {e}");
            let status = match &e {
                engine::ConnectorError::Ghl(g) => g.status(),
                engine::ConnectorError::Lofty(l) => l.status(),
                engine::ConnectorError::Lytho(l) => l.status(),
                _ => None,
            };
            let reauth = matches!(e.retry_class(), ghl::RetryClass::Reauth);
            Ok(super::exit::for_status(status, reauth).into())
        }
        Err(e @ engine::actions::RunError::Event(_)) => Err(Fail::usage(e.to_string())),
        Err(e) => Err(anyhow::anyhow!(e)),
    }
}

/// One history entry as JSON: the shape `history --json`, `runs --json` and the
/// dry-run plan share.
fn entry_json(h: &store::HistoryEntry) -> Value {
    let at = jiff::Timestamp::from_millisecond(h.at)
        .map_or_else(|_| h.at.to_string(), |t| t.to_string());
    json!({
        "at": at,
        "flow": h.flow,
        "source": h.source,
        "target": if h.target.is_empty() { Value::Null } else { Value::String(h.target.clone()) },
        "decision": h.decision,
        "reason": h.reason,
        "diffs": serde_json::from_str::<Value>(&h.diffs).unwrap_or(Value::Array(Vec::new())),
        "api_status": h.api_status,
        "api_message": h.api_message,
    })
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "(blank)".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_entries(entries: &[store::HistoryEntry], as_json: bool) -> anyhow::Result<()> {
    if as_json {
        let all: Vec<Value> = entries.iter().map(entry_json).collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    for h in entries {
        let e = entry_json(h);
        let target = e["target"]
            .as_str()
            .map(|t| format!(" -> {t}"))
            .unwrap_or_default();
        println!(
            "{}  {}  {:<8} {}{target}  {}",
            e["at"].as_str().unwrap_or(""),
            h.flow,
            h.decision,
            h.source,
            h.reason
        );
        for d in e["diffs"].as_array().into_iter().flatten() {
            if d.get("before").is_some() {
                println!(
                    "      {}: {} -> {}",
                    show(&d["field"]),
                    show(&d["before"]),
                    show(&d["after"])
                );
            } else {
                println!(
                    "      {}: left {} / right {}",
                    show(&d["field"]),
                    show(&d["left"]),
                    show(&d["right"])
                );
            }
        }
        if let (Some(status), msg) = (h.api_status, &h.api_message) {
            println!(
                "      API answered {status}{}",
                msg.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
            );
        }
    }
    Ok(())
}

pub async fn history(config: &Config, args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    let store = config.open_store().await?;
    let who = engine::sync::history_key(&args.who);
    let entries = store.history(&who, args.limit).await?;
    if entries.is_empty() && !args.json {
        println!("no history for {who}");
        return Ok(ExitCode::SUCCESS);
    }
    print_entries(&entries, args.json)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn runs(config: &Config, args: &RunsArgs) -> anyhow::Result<ExitCode> {
    let store = config.open_store().await?;
    let entries = store
        .runs(args.flow.as_deref().unwrap_or(""), args.limit)
        .await?;
    print_entries(&entries, args.json)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn review(config: &Config, cmd: &ReviewCommand) -> anyhow::Result<ExitCode> {
    let store = config.open_store().await?;
    match cmd {
        ReviewCommand::List { json } => {
            let open = store.reviews("open").await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&open)?);
            } else if open.is_empty() {
                println!("nothing waits for review");
            } else {
                for r in open {
                    println!("#{} {} {} {} {}", r.id, r.flow, r.kind, r.subject, r.detail);
                }
            }
        }
        ReviewCommand::Approve { id, link, take } => {
            let connectors = ghlsync::startup::connectors(config, store.clone())?;
            let choice = link.clone().or_else(|| take.clone());
            let done = engine::sync::review::settle(
                &connectors,
                *id,
                engine::sync::review::Decision::Approve(choice),
            )
            .await?;
            println!("review #{id} approved: {done}");
        }
        ReviewCommand::Dismiss { id } => {
            let connectors = ghlsync::startup::connectors(config, store.clone())?;
            let done = engine::sync::review::settle(
                &connectors,
                *id,
                engine::sync::review::Decision::Dismiss,
            )
            .await?;
            println!("review #{id} dismissed: {done}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress line: a bar on a terminal, one line per 10% in a log.
struct Progress {
    bar: indicatif::ProgressBar,
    what: String,
    total: u64,
    logged: u64,
    started: std::time::Instant,
}

impl Progress {
    fn new(what: &str, total: Option<u64>) -> Self {
        use std::io::IsTerminal;
        let bar = if std::io::stderr().is_terminal() && !super::quiet() {
            match total {
                Some(n) => indicatif::ProgressBar::new(n).with_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg:>12} [{bar:30}] {pos}/{len} ({per_sec}, ETA {eta})",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                ),
                None => indicatif::ProgressBar::new_spinner().with_style(
                    indicatif::ProgressStyle::with_template(
                        "{msg:>12} {spinner} {pos} records ({per_sec})",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                ),
            }
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.set_message(what.to_owned());
        Self {
            bar,
            what: what.to_owned(),
            total: total.unwrap_or(0),
            logged: 0,
            started: std::time::Instant::now(),
        }
    }

    fn set(&mut self, done: u64) {
        self.bar.set_position(done);
        if self.bar.is_hidden() {
            let step = if self.total > 0 {
                done * 10 / self.total.max(1)
            } else {
                done / 100
            };
            if step > self.logged || (self.total > 0 && done >= self.total && self.logged < 10) {
                self.logged = step;
                let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
                if self.total > 0 {
                    let eta = (self.total.saturating_sub(done)) as f64 / rate.max(0.001);
                    crate::hint!(
                        "{}: {done}/{} ({:.0}%), {rate:.0}/s, ETA {eta:.0} s",
                        self.what,
                        self.total,
                        done as f64 * 100.0 / self.total as f64
                    );
                } else {
                    crate::hint!("{}: {done} records, {rate:.0}/s", self.what);
                }
            }
        }
    }

    fn finish(&self, done: u64) {
        self.bar.finish_and_clear();
        crate::hint!(
            "{}: {done} done in {:.1} s",
            self.what,
            self.started.elapsed().as_secs_f64()
        );
    }
}

async fn run_flow(
    config: &Config,
    store: &store::Store,
    id: &str,
    dry_run: bool,
    as_json: bool,
    again: bool,
) -> anyhow::Result<ExitCode> {
    let row = store
        .flow(id)
        .await?
        .ok_or_else(|| Fail::not_found(format!("no flow `{id}`; enable it first: ghlsync flows enable {id} --ghl <connection> --lofty <connection>")))?;
    let spec = engine::sync::build(&row)?;
    let flow = engine::sync::Flow { row, spec };
    let connectors = ghlsync::startup::connectors(config, store.clone())?;
    if again {
        engine::sync::backfill::reset(store, id).await?;
    }
    for side in [domain::sync::Side::Left, domain::sync::Side::Right] {
        let mut p = Progress::new(&format!("read {}", flow.spec.object(side).name), None);
        let n = engine::sync::backfill::index_side(&connectors, &flow, side, |n| p.set(n)).await?;
        p.finish(n);
    }
    let ctx = engine::handlers::Context {
        connectors: connectors.clone(),
        public_url: None,
    };
    if dry_run {
        let plan = engine::sync::dry_run(&ctx, &flow)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
        print_entries(&plan, as_json)?;
        if !as_json {
            let count = |d: &str| plan.iter().filter(|h| h.decision == d).count();
            eprintln!(
                "dry run: {} create, {} update, {} skip, {} conflict, {} review; nothing was changed",
                count("create"),
                count("update"),
                count("skip"),
                count("conflict"),
                count("review")
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let queued = engine::sync::backfill::enqueue(store, &flow).await?;
    let worker =
        ghlsync::startup::worker(config, store.clone(), &ghlsync::WorkerOptions::default())?;
    let pending =
        "SELECT COUNT(*) FROM jobs WHERE kind = 'flow.run' AND status IN ('queued', 'running')";
    let total = u64::try_from(store.scalar_i64(pending).await?)
        .unwrap_or(0)
        .max(queued);
    let mut p = Progress::new("sync", Some(total));
    loop {
        let mut stats = engine::WorkerStats::default();
        let claimed = worker.tick(&mut stats).await?;
        let left = u64::try_from(store.scalar_i64(pending).await?).unwrap_or(0);
        p.set(total.saturating_sub(left));
        if left == 0 {
            break;
        }
        if claimed == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    p.finish(total);
    let entries = store.runs(id, 100_000).await?;
    if as_json {
        print_entries(&entries, true)?;
    } else {
        let count = |d: &str| entries.iter().filter(|h| h.decision == d).count();
        println!(
            "{id}: {} linked; history: {} create, {} update, {} skip, {} conflict, {} review, {} failed",
            store.count_pairs(id).await?,
            count("create"),
            count("update"),
            count("skip"),
            count("conflict"),
            count("review"),
            count("failed")
        );
    }
    Ok(ExitCode::SUCCESS)
}
