//! `ghlsync dead-letters` and `ghlsync replay`: the jobs that gave up, and putting
//! them back in the queue once their cause is fixed.

use std::process::ExitCode;

use serde_json::{Value, json};

use ghlsync::config::Config;

use super::exit::Fail;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ghlsync dead-letters
  ghlsync dead-letters --json --limit 500 | jq '.[].last_error'")]
pub struct DeadLettersArgs {
    /// A JSON array on stdout.
    #[arg(long)]
    pub json: bool,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ghlsync replay 42            # one dead letter, by the id `dead-letters` shows
  ghlsync replay --kind flow.run
  ghlsync replay --dead        # every dead letter

A replayed job starts again with its attempts reset; fix its cause first (reconnect
the connection, correct the flow) or it dies again.")]
#[group(required = true, multiple = false)]
pub struct ReplayArgs {
    /// The job's id.
    pub job: Option<i64>,
    /// Every dead letter of this kind (`flow.run`, `lofty.change`, ...).
    #[arg(long)]
    pub kind: Option<String>,
    /// Every dead letter.
    #[arg(long)]
    pub dead: bool,
}

fn json_of(j: &store::Job) -> Value {
    json!({
        "id": j.id,
        "kind": j.kind,
        "queue": j.queue,
        "connection": j.connection_id,
        "attempts": j.attempts,
        "last_error": j.last_error,
        "payload": j.payload,
    })
}

pub async fn dead_letters(config: &Config, args: &DeadLettersArgs) -> anyhow::Result<ExitCode> {
    let store = config.open_store().await?;
    let dead = store.dead_letters(args.limit.max(1)).await?;
    if args.json {
        let all: Vec<Value> = dead.iter().map(json_of).collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(ExitCode::SUCCESS);
    }
    if dead.is_empty() {
        println!("no dead letters");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>8}  {:<16} {:<24} {:>8}  last error",
        "id", "kind", "connection", "attempts"
    );
    for j in &dead {
        println!(
            "{:>8}  {:<16} {:<24} {:>8}  {}",
            j.id,
            j.kind,
            j.connection_id.as_deref().unwrap_or("-"),
            j.attempts,
            j.last_error.as_deref().unwrap_or("")
        );
    }
    crate::hint!("Fix the cause, then: ghlsync replay <id> (or --kind K, or --dead for all)");
    Ok(ExitCode::SUCCESS)
}

pub async fn replay(config: &Config, args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let store = config.open_store().await?;
    let filter = match (&args.job, &args.kind, args.dead) {
        (Some(id), _, _) => {
            let job = store.job(*id).await?.ok_or_else(|| {
                Fail::not_found(format!(
                    "there is no job {id}: `ghlsync dead-letters` lists the dead ones"
                ))
            })?;
            if job.status != store::JobStatus::Dead {
                return Err(Fail::usage(format!(
                    "job {id} is not a dead letter (it is {}): only dead letters are replayed",
                    job.status.as_str()
                )));
            }
            store::ReplayFilter::One(*id)
        }
        (None, Some(kind), _) => {
            if engine::jobs::JobKind::ALL
                .iter()
                .all(|k| k.as_str() != kind)
            {
                let known: Vec<&str> = engine::jobs::JobKind::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect();
                return Err(Fail::usage(format!(
                    "`{kind}` is not a job kind (kinds: {})",
                    known.join(", ")
                )));
            }
            store::ReplayFilter::Kind(kind.clone())
        }
        (None, None, true) => store::ReplayFilter::All,
        (None, None, false) => return Err(Fail::usage("name a job, --kind K, or --dead")),
    };
    let n = store.replay(&filter).await?;
    println!("replayed {n} job{}", if n == 1 { "" } else { "s" });
    if n > 0 {
        crate::hint!("They run when a worker is up (`ghlsync up` or `ghlsync worker`).");
    }
    Ok(ExitCode::SUCCESS)
}
