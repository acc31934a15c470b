//! The catalog, assembled: every action of the three clients' operation tables and
//! every trigger (GHL webhooks, Lofty webhook changes, Lytho polls, and ghlsync's own
//! schedule and manual triggers), as [`domain::catalog::Entry`]s.
//!
//! The clients describe their own operations and events (`ghl::catalog`,
//! `lofty::catalog`, `lytho::catalog`); this module, which sees all three, turns
//! those descriptions into one checked [`Catalog`]. It is built once per process.

use std::sync::OnceLock;

use domain::catalog::{BUILTIN, Catalog, Deviation, Entry, Kind, OperationRef, TriggerRef, Via};
use serde_json::{Value, json};
use wire::schema::Object;

/// The catalog (built on first use; a broken catalog is a bug, caught by the tests).
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| match Catalog::new(entries()) {
        Ok(c) => c,
        Err(e) => panic!("the built-in catalog is inconsistent: {e}"),
    })
}

/// An action entry (the parts in the order the clients give them).
#[allow(clippy::too_many_arguments)]
fn action(
    id: &str,
    system: &str,
    title: &str,
    description: String,
    (input, output, example): (Value, Value, Value),
    scopes: Vec<String>,
    operation: OperationRef,
    alias: &str,
) -> Entry {
    Entry {
        id: id.to_owned(),
        system: system.to_owned(),
        kind: Kind::Action,
        title: title.to_owned(),
        description,
        input_schema: input,
        output_schema: output,
        scopes,
        operation: Some(operation),
        trigger: None,
        example,
        aliases: vec![alias.to_owned()],
    }
}

/// A trigger entry.
#[allow(clippy::too_many_arguments)]
fn trigger(
    id: &str,
    system: &str,
    title: &str,
    description: String,
    (input, output): (Value, Value),
    scopes: Vec<String>,
    via: Via,
    event: &str,
) -> Entry {
    Entry {
        id: id.to_owned(),
        system: system.to_owned(),
        kind: Kind::Trigger,
        title: title.to_owned(),
        description,
        input_schema: input,
        output_schema: output,
        scopes,
        operation: None,
        trigger: Some(TriggerRef {
            via,
            event: event.to_owned(),
        }),
        example: json!({}),
        aliases: Vec::new(),
    }
}

/// The settings of a webhook trigger: none (the intake receives every event).
fn no_settings() -> Value {
    Object::closed()
        .describe("No settings: the events arrive at ghlsync's webhook intake.")
        .build()
}

fn ghl_actions() -> impl Iterator<Item = Entry> {
    ghl::OPERATIONS.iter().filter_map(|op| {
        let d = ghl::catalog::describe(op.id)?;
        let mut description = op.summary.to_owned();
        if op.deprecated {
            description.push_str(" Deprecated by HighLevel.");
        }
        if op.token == ghl::TokenKind::Agency {
            description.push_str(" Needs an agency (company) token.");
        }
        Some(action(
            &d.id,
            "ghl",
            &d.title,
            description,
            (d.input, d.output, d.example),
            op.scope.map(str::to_owned).into_iter().collect(),
            OperationRef {
                method: op.method.as_str().to_owned(),
                path: op.path.to_owned(),
                operation_id: Some(op.id.to_owned()),
            },
            op.id,
        ))
    })
}

fn lofty_actions() -> impl Iterator<Item = Entry> {
    lofty::OPERATIONS.iter().filter_map(|op| {
        let d = lofty::catalog::describe(op.id)?;
        Some(action(
            &d.id,
            "lofty",
            &d.title,
            format!("{}.", op.summary.trim_end_matches('.')),
            (d.input, d.output, d.example),
            vec![op.family.to_owned()],
            OperationRef {
                method: op.method.as_str().to_owned(),
                path: op.path.to_owned(),
                operation_id: op.spec_id.map(str::to_owned),
            },
            op.id,
        ))
    })
}

fn lytho_actions() -> impl Iterator<Item = Entry> {
    lytho::OPERATIONS.iter().map(|op| {
        let d = lytho::catalog::describe(op);
        action(
            &d.id,
            "lytho",
            &d.title,
            format!("{}.", op.summary.trim_end_matches('.')),
            (d.input, d.output, d.example),
            Vec::new(),
            OperationRef {
                method: op.method.as_str().to_owned(),
                path: op.path.to_owned(),
                operation_id: None,
            },
            op.id,
        )
    })
}

fn triggers() -> Vec<Entry> {
    let mut out = Vec::new();
    for t in ghl::catalog::triggers() {
        out.push(trigger(
            t.id,
            "ghl",
            t.title,
            t.description.to_owned(),
            (no_settings(), t.output),
            t.scope.map(str::to_owned).into_iter().collect(),
            Via::Webhook,
            t.event,
        ));
    }
    for t in lofty::catalog::triggers() {
        out.push(trigger(
            t.id,
            "lofty",
            t.title,
            t.description,
            (no_settings(), t.output),
            vec!["webhooks".to_owned()],
            Via::Webhook,
            t.bucket,
        ));
    }
    for t in lytho::catalog::triggers() {
        out.push(trigger(
            &t.id,
            "lytho",
            &t.title,
            t.description,
            (
                Object::closed()
                    .describe(
                        "No settings: the worker polls every `[worker] lytho_poll_every_secs`.",
                    )
                    .build(),
                t.output,
            ),
            Vec::new(),
            Via::Poll,
            t.item_type.as_str(),
        ));
    }
    out.push(trigger(
        "ghlsync.trigger.schedule",
        BUILTIN,
        "On a schedule",
        "Fires on a clock: every `every_secs` seconds (at least 60), or daily at `at` (HH:MM) in `timezone` (IANA, default UTC). The event says when it fired.".to_owned(),
        (
            Object::closed()
                .field("every_secs", json!({"type": "integer", "minimum": 60, "description": "Interval in seconds."}), false)
                .field("at", json!({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "description": "Daily time, HH:MM."}), false)
                .string("timezone", false, "IANA time zone of `at` (default UTC).")
                .build(),
            Object::open()
                .string("firedAt", true, "When it fired (RFC 3339, UTC).")
                .build(),
        ),
        Vec::new(),
        Via::Schedule,
        "",
    ));
    out.push(trigger(
        "ghlsync.trigger.manual",
        BUILTIN,
        "Run by hand",
        "Fires when a person runs the flow (`ghlsync flows run <flow> --input '<json>'`, or the admin UI). The event holds the JSON they gave.".to_owned(),
        (
            Object::closed().build(),
            Object::open()
                .string("firedAt", true, "When it was run (RFC 3339, UTC).")
                .field("input", json!({"description": "The JSON given when running it."}), false)
                .build(),
        ),
        Vec::new(),
        Via::Manual,
        "",
    ));
    out
}

/// Every entry, actions first (GHL, Lofty, Lytho), then triggers; each entry's
/// description ends with its [`deviations`] from the spec.
pub fn entries() -> Vec<Entry> {
    let mut all: Vec<Entry> = ghl_actions()
        .chain(lofty_actions())
        .chain(lytho_actions())
        .chain(triggers())
        .collect();
    for d in deviations() {
        if let Some(e) = all.iter_mut().find(|e| e.id == d.entry) {
            let side = match d.side {
                domain::catalog::Side::Input => "input",
                domain::catalog::Side::Output => "output",
            };
            e.description.push_str(&format!(
                " Differs from the spec: {side} `{}` is {}. {}",
                d.field, d.difference, d.why
            ));
        }
    }
    all
}

/// The client operation behind an action (its first alias, the operation id the
/// clients know it by).
pub fn operation_id(entry: &Entry) -> &str {
    entry
        .aliases
        .first()
        .map_or(entry.id.as_str(), String::as_str)
}

/// Runs the action `entry` with `input` (checked against its input schema by the
/// caller) through the stored connection `conn`: its tokens, refresh and rate budget.
/// The answer is the action's JSON.
pub async fn call(
    connectors: &crate::Connectors,
    conn: store::Connection,
    entry: &Entry,
    input: Value,
) -> Result<Value, crate::ConnectorError> {
    let op = operation_id(entry);
    if entry.kind != Kind::Action {
        return Err(crate::ConnectorError::Unsupported(format!(
            "`{}` is a trigger, not an action",
            entry.id
        )));
    }
    let connector = connectors.open_connection(conn).await?;
    match entry.system.as_str() {
        "lofty" => Ok(connector.into_lofty()?.client.call(op, input).await?),
        "lytho" => Ok(connector.into_lytho()?.client.call(op, input).await?),
        _ => connector.into_ghl()?.call_id(op, input).await,
    }
}

/// One firing of a catalog trigger: the trigger's id and the event, shaped as the
/// trigger's output schema describes.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerEvent {
    pub trigger: String,
    /// The event's identity at its source (GHL's `webhookId`; a Lofty change's list,
    /// bucket, record and update time; a Lytho item's id and `modifiedDate`): the
    /// same event routed twice is one job.
    pub key: String,
    pub payload: Value,
}

/// The trigger event a (verified) GHL webhook body is: the trigger whose event is
/// its `type`; none for a type the catalog does not offer.
pub fn ghl_events(body: &Value) -> Vec<TriggerEvent> {
    let Some(kind) = body.get("type").and_then(Value::as_str) else {
        return Vec::new();
    };
    trigger_of("ghl", kind)
        .map(|t| TriggerEvent {
            trigger: t.id.clone(),
            key: body
                .get("webhookId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            payload: body.clone(),
        })
        .into_iter()
        .collect()
}

/// The trigger of `system` whose event is `event` (GHL's webhook `type`, Lofty's
/// bucket, Lytho's item type).
pub fn trigger_of(system: &str, event: &str) -> Option<&'static Entry> {
    catalog()
        .entries()
        .iter()
        .find(|e| e.system == system && e.trigger.as_ref().is_some_and(|t| t.event == event))
}

/// The trigger events of a Lofty delivery: one per change in a (list, bucket) the
/// catalog offers, each `{listId, teamId, bucket, <record id>, leadId, updateTime}`.
/// A change without an update time is keyed by `delivery` (the journal's id for the
/// delivery), so it fires once per delivery. Only triggers `wanted` accepts are built.
pub fn lofty_events(
    batch: &lofty::webhook::WebhookBatch,
    delivery: &str,
    wanted: impl Fn(&str) -> bool,
) -> Vec<TriggerEvent> {
    static LISTS: OnceLock<Vec<(i64, &'static str, &'static str)>> = OnceLock::new();
    let lists = LISTS.get_or_init(|| {
        lofty::catalog::triggers()
            .into_iter()
            .map(|t| (i64::from(t.list.id()), t.bucket, t.id))
            .collect()
    });
    batch
        .changes
        .iter()
        .filter_map(|c| {
            let (_, _, id) = lists
                .iter()
                .find(|(list, bucket, _)| *list == batch.list_id && *bucket == c.bucket)?;
            if !wanted(id) {
                return None;
            }
            let mut payload = match &c.raw {
                Value::Object(m) => m.clone(),
                _ => serde_json::Map::new(),
            };
            payload.insert("listId".to_owned(), json!(batch.list_id));
            if let Some(team) = batch.team_id {
                payload.insert("teamId".to_owned(), json!(team));
            }
            payload.insert("bucket".to_owned(), json!(c.bucket));
            let version = c
                .update_time
                .map_or_else(|| delivery.to_owned(), |t| t.to_string());
            Some(TriggerEvent {
                trigger: (*id).to_owned(),
                key: format!(
                    "{}:{}:{}:{version}",
                    batch.list_id,
                    c.bucket,
                    c.id.map(|i| i.to_string()).unwrap_or_default()
                ),
                payload: Value::Object(payload),
            })
        })
        .collect()
}

/// The trigger events of a Lytho poll: one per changed item of `kind`.
pub fn lytho_events(kind: lytho::ItemType, items: &[lytho::WorkItem]) -> Vec<TriggerEvent> {
    let id = format!("lytho.trigger.{kind}_modified");
    items
        .iter()
        .map(|item| {
            let payload = serde_json::to_value(item).unwrap_or(Value::Null);
            TriggerEvent {
                trigger: id.clone(),
                key: format!("{kind}:{}:{}", item.id, payload["modifiedDate"]),
                payload,
            }
        })
        .collect()
}

/// Where the catalog knowingly differs from the published specs because the real API
/// does (`catalog-deviations.toml`; the spec-check test reads the same list).
pub fn deviations() -> &'static [Deviation] {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        deviation: Vec<Deviation>,
    }
    static LIST: OnceLock<Vec<Deviation>> = OnceLock::new();
    LIST.get_or_init(
        || match toml::from_str::<File>(include_str!("catalog-deviations.toml")) {
            Ok(f) => f.deviation,
            Err(e) => panic!("catalog-deviations.toml does not parse: {e}"),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::catalog::Checker;

    #[test]
    fn the_catalog_is_whole_and_consistent() {
        let c = catalog();
        let actions = c.filter(None, Some(Kind::Action)).count();
        let triggers = c.filter(None, Some(Kind::Trigger)).count();
        assert_eq!(
            actions,
            ghl::OPERATIONS.len() + lofty::OPERATIONS.len() + lytho::OPERATIONS.len()
        );
        assert!(actions + triggers >= 126, "{actions} + {triggers}");
        assert_eq!(c.find("get-contact").unwrap().id, "ghl.contacts.get");
        assert_eq!(c.find("lofty-get-lead").unwrap().id, "lofty.leads.get");
        assert_eq!(c.find("lytho-patch-task").unwrap().id, "lytho.tasks.patch");
        for e in c.entries() {
            for (what, schema) in [("input", &e.input_schema), ("output", &e.output_schema)] {
                if let Err(err) = Checker::new(schema) {
                    panic!("{} {what} schema: {err}", e.id);
                }
            }
        }
    }

    /// `../shared/ghl-spec/apps/<file>` (CI must have it; elsewhere the test skips).
    fn ghl_spec(file: &str) -> Option<Value> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/ghl-spec/apps")
            .join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(serde_json::from_str(&text).unwrap()),
            Err(_) => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "{} is required in CI",
                    path.display()
                );
                println!("skipped: ../shared is not next to the workspace");
                None
            }
        }
    }

    #[test]
    fn ghl_entries_cover_every_operation_of_the_contacts_spec() {
        let Some(spec) = ghl_spec("contacts.json") else {
            return;
        };
        let ours: std::collections::BTreeSet<&str> = catalog()
            .filter(Some("ghl"), Some(Kind::Action))
            .filter_map(|e| e.operation.as_ref()?.operation_id.as_deref())
            .collect();
        let mut theirs = Vec::new();
        for item in spec["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                if let Some(id) = op["operationId"].as_str() {
                    theirs.push(id.to_owned());
                }
            }
        }
        assert_eq!(theirs.len(), 32, "contacts.json has 32 operations");
        let missing: Vec<&String> = theirs
            .iter()
            .filter(|id| !ours.contains(id.as_str()))
            .collect();
        assert!(missing.is_empty(), "not in the catalog: {missing:?}");
    }

    #[test]
    fn docs_catalog_md_is_the_generated_page() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/CATALOG.md");
        let want = domain::catalog::markdown(catalog());
        if std::env::var("GHLSYNC_BLESS").as_deref() == Ok("1") {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/CATALOG.md is stale: run `cargo run -- catalog --markdown > docs/CATALOG.md` (or this test with GHLSYNC_BLESS=1)"
        );
    }

    #[test]
    fn every_example_fits_its_input_schema_once_ids_are_filled() {
        let mut bad = Vec::new();
        for e in catalog().entries() {
            let example = fill(&e.example, e.system != "ghl");
            let problems = domain::catalog::validate(&e.input_schema, &example).unwrap();
            if !problems.is_empty() {
                bad.push(format!("{}: {example} -> {problems:?}", e.id));
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }

    /// Placeholders as a user would fill them: ids are numbers for Lofty and Lytho.
    fn fill(v: &Value, numeric: bool) -> Value {
        match v {
            Value::String(s) if s.starts_with('{') && s.ends_with('}') => {
                if !numeric {
                    json!("x1")
                } else if s == "{calendarId}" {
                    json!("1-task")
                } else if s == "{memberEmail}" {
                    json!("agent@example.com")
                } else {
                    json!(7)
                }
            }
            Value::Array(a) => Value::Array(a.iter().map(|i| fill(i, numeric)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), fill(v, numeric)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}
