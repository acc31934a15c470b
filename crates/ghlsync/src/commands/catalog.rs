//! `ghlsync catalog`: every action and trigger, as a table or JSON; one entry in
//! full with its schemas and example.

use std::process::ExitCode;

use domain::catalog::{Entry, Kind};
use serde_json::Value;

use super::exit::Fail;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  ghlsync catalog                              every action and trigger
  ghlsync catalog --system ghl --kind trigger  GHL's webhook triggers
  ghlsync catalog ghl.contacts.upsert          one entry: schemas, scopes, example
  ghlsync catalog --json | jq length           the whole catalog as a JSON array")]
pub struct Args {
    /// Show this one entry in full (its catalog id or operation id).
    pub id: Option<String>,
    /// Only this system: ghl, lofty, lytho or ghlsync.
    #[arg(long, value_parser = ["ghl", "lofty", "lytho", "ghlsync"])]
    pub system: Option<String>,
    /// Only actions or only triggers.
    #[arg(long, value_parser = ["action", "trigger"])]
    pub kind: Option<String>,
    /// A JSON array of the entries (every field) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The whole catalog as Markdown (how docs/CATALOG.md is made).
    #[arg(long, conflicts_with_all = ["json", "id"])]
    pub markdown: bool,
}

fn how(e: &Entry) -> String {
    match (&e.operation, &e.trigger) {
        (Some(op), _) => format!("{} {}", op.method, op.path),
        (None, Some(t)) if t.event.is_empty() => format!("{:?}", t.via).to_lowercase(),
        (None, Some(t)) => format!("{} {}", format!("{:?}", t.via).to_lowercase(), t.event),
        (None, None) => String::new(),
    }
}

/// One entry in full, for people.
fn show(e: &Entry) -> anyhow::Result<String> {
    let mut out = format!(
        "{}  ({} {})\n{}\n\n{}\n",
        e.id, e.system, e.kind, e.title, e.description
    );
    out.push_str(&format!("\n{}\n", how(e)));
    if let Some(op) = e.operation.as_ref().and_then(|o| o.operation_id.as_ref()) {
        out.push_str(&format!("operationId: {op}\n"));
    }
    if !e.scopes.is_empty() {
        out.push_str(&format!("needs: {}\n", e.scopes.join(", ")));
    }
    if !e.aliases.is_empty() {
        out.push_str(&format!("also called: {}\n", e.aliases.join(", ")));
    }
    let fields = |schema: &Value| -> String {
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut lines = Vec::new();
        if let Some(props) = schema["properties"].as_object() {
            for (name, p) in props {
                let ty = p["type"]
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| {
                        p["type"].as_array().map(|t| {
                            t.iter()
                                .filter_map(Value::as_str)
                                .filter(|t| *t != "null")
                                .collect::<Vec<_>>()
                                .join("|")
                        })
                    })
                    .unwrap_or_else(|| "object".to_owned());
                let mark = if required.contains(&name.as_str()) {
                    "*"
                } else {
                    " "
                };
                let doc = p["description"]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("");
                lines.push(format!("  {mark} {name:<28} {ty:<10} {doc}"));
            }
        }
        lines.join("\n")
    };
    let (inp, outp) = match e.kind {
        Kind::Action => ("input (* required)", "output"),
        Kind::Trigger => ("settings", "event (* always present)"),
    };
    out.push_str(&format!("\n{inp}:\n{}\n", fields(&e.input_schema)));
    out.push_str(&format!("\n{outp}:\n{}\n", fields(&e.output_schema)));
    if e.kind == Kind::Action {
        out.push_str(&format!(
            "\nexample:\n  ghlsync call {} --connection <name> --input '{}'\n",
            e.id,
            serde_json::to_string(&e.example)?
        ));
    }
    out.push_str("\n(`--json` prints the full JSON Schemas)\n");
    Ok(out)
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let catalog = engine::catalog::catalog();
    if args.markdown {
        print!("{}", domain::catalog::markdown(catalog));
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(id) = &args.id {
        let entry = catalog.find(id).ok_or_else(|| {
            let close = catalog.suggest(id);
            Fail::not_found(if close.is_empty() {
                format!("no catalog entry `{id}`: `ghlsync catalog` lists them")
            } else {
                format!(
                    "no catalog entry `{id}`: did you mean {}?",
                    close.join(", ")
                )
            })
        })?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(entry)?);
        } else {
            print!("{}", show(entry)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let kind = args.kind.as_deref().map(|k| {
        if k == "trigger" {
            Kind::Trigger
        } else {
            Kind::Action
        }
    });
    let entries: Vec<&Entry> = catalog.filter(args.system.as_deref(), kind).collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    let width = entries.iter().map(|e| e.id.len()).max().unwrap_or(10);
    let title_w = entries
        .iter()
        .map(|e| e.title.len())
        .max()
        .unwrap_or(10)
        .min(48);
    for e in &entries {
        println!(
            "{:<width$}  {:<7}  {:<title_w$}  {}",
            e.id,
            e.kind,
            e.title,
            how(e)
        );
    }
    let actions = entries.iter().filter(|e| e.kind == Kind::Action).count();
    crate::hint!(
        "{} entries: {actions} actions, {} triggers. `ghlsync catalog <id>` shows one in full.",
        entries.len(),
        entries.len() - actions
    );
    Ok(ExitCode::SUCCESS)
}
