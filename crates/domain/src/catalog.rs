//! The catalog registry: every action (something a flow or a person does) and every
//! trigger (something that starts a flow) of the connected systems, as data.
//!
//! The entries themselves are assembled where the clients are visible (the engine's
//! `catalog` module, from each client's operation table and model types) and handed
//! in here; this module owns their shape, the id grammar, lookup by id or alias, and
//! checking a JSON value against an entry's schema.
//!
//! # Id grammar
//!
//! An id is three dot-separated segments of lowercase ASCII letters, digits and
//! underscores, each starting with a letter:
//!
//! - an action is `<system>.<noun>.<verb>`: `ghl.contacts.upsert`, `lofty.leads.create`;
//! - a trigger is `<system>.trigger.<event>`: `ghl.trigger.contact_create`,
//!   `lytho.trigger.task_modified`.
//!
//! `<system>` is `ghl`, `lofty`, `lytho`, or `ghlsync` for the triggers ghlsync fires
//! itself (schedule, manual). An action's noun is never `trigger`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The system segment of the triggers ghlsync fires itself.
pub const BUILTIN: &str = "ghlsync";

/// Whether an entry is something done or something that starts a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Something a flow or a person does (one API call).
    Action,
    /// Something that starts a flow (a webhook, a poll, a schedule, a click).
    Trigger,
}

impl Kind {
    /// `action` or `trigger`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Action => "action",
            Self::Trigger => "trigger",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for Kind {
    type Err = crate::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "action" => Ok(Self::Action),
            "trigger" => Ok(Self::Trigger),
            other => Err(crate::UnknownName {
                what: "kind",
                value: other.to_owned(),
                expected: "action, trigger".to_owned(),
            }),
        }
    }
}

/// The HTTP request an action sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationRef {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path template relative to the API base, with `{param}` placeholders.
    pub path: String,
    /// The spec's `operationId` (GHL and Lofty; Lytho's spec has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
}

/// How a trigger fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// A webhook the system posts to ghlsync's intake.
    Webhook,
    /// ghlsync asks the system for changes on an interval.
    Poll,
    /// A clock (`every` seconds or a daily time).
    Schedule,
    /// A person runs it (`ghlsync flows run`, the admin UI).
    Manual,
}

/// What starts a trigger: the channel and the event name on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerRef {
    /// The channel.
    pub via: Via,
    /// The event as the system names it: GHL's webhook `type` (`ContactCreate`),
    /// Lofty's event list (`lead.create`), Lytho's item type (`task`); empty for
    /// schedule and manual.
    pub event: String,
}

/// Where an entry knowingly differs from its system's published spec, because the
/// real API does (the spec's contact search body is empty, the API answers 422
/// without `locationId`): listed in `catalog-deviations.toml`, shown in the entry's
/// description, and read by the test that holds the catalog against the specs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deviation {
    /// The entry's id.
    pub entry: String,
    /// `input` or `output`.
    pub side: Side,
    /// The field (top level of the input or output).
    pub field: String,
    /// How the catalog differs.
    pub difference: Difference,
    /// Why, with the source: what the API does, who reported it.
    pub why: String,
}

/// An entry's input or its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// What is sent.
    Input,
    /// What comes back.
    Output,
}

/// How a field of the catalog differs from the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Difference {
    /// The catalog requires a field the spec leaves optional.
    Stricter,
    /// The spec requires a field the catalog leaves optional.
    Looser,
    /// The catalog accepts a field the spec does not list.
    Extra,
    /// The spec lists a field the catalog does not accept.
    Missing,
    /// The allowed values differ.
    Values,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Stricter => "required here, optional in the spec",
            Self::Looser => "optional here, required in the spec",
            Self::Extra => "accepted here, not in the spec",
            Self::Missing => "in the spec, not accepted here",
            Self::Values => "other allowed values than the spec's",
        })
    }
}

/// One action or trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The id (see the module docs for its grammar).
    pub id: String,
    /// `ghl`, `lofty`, `lytho`, or `ghlsync`.
    pub system: String,
    /// Action or trigger.
    pub kind: Kind,
    /// A few words, sentence case.
    pub title: String,
    /// What it does, what it needs, and what a user should know (limits, deviations).
    pub description: String,
    /// JSON Schema of the input (an action's parameters and body; a trigger's
    /// settings).
    pub input_schema: Value,
    /// JSON Schema of the output (an action's answer; a trigger's event).
    pub output_schema: Value,
    /// The GHL OAuth scopes needed, or the Lofty API family.
    pub scopes: Vec<String>,
    /// For actions: the request sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<OperationRef>,
    /// For triggers: how it fires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<TriggerRef>,
    /// An example input. Strings like `{contactId}` stand for ids of your account.
    pub example: Value,
    /// Other ids accepted for this entry (the operation ids of earlier versions).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub aliases: Vec<String>,
}

/// An id that breaks the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("catalog id `{id}` {problem}")]
pub struct IdError {
    /// The id.
    pub id: String,
    /// What is wrong, as a phrase.
    pub problem: String,
}

/// Checks `id` against the grammar for an entry of `system` and `kind`.
pub fn check_id(id: &str, system: &str, kind: Kind) -> Result<(), IdError> {
    let fail = |problem: String| {
        Err(IdError {
            id: id.to_owned(),
            problem,
        })
    };
    let parts: Vec<&str> = id.split('.').collect();
    if parts.len() != 3 {
        return fail(format!(
            "has {} segments; it needs three: {}",
            parts.len(),
            match kind {
                Kind::Action => "<system>.<noun>.<verb>",
                Kind::Trigger => "<system>.trigger.<event>",
            }
        ));
    }
    for part in &parts {
        let mut chars = part.chars();
        let starts = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        if !starts || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return fail(format!(
                "has the segment `{part}`: segments are lowercase letters, digits and `_`, starting with a letter"
            ));
        }
    }
    if parts[0] != system {
        return fail(format!(
            "starts with `{}`, not its system `{system}`",
            parts[0]
        ));
    }
    match (kind, parts[1] == "trigger") {
        (Kind::Trigger, false) => {
            fail("is a trigger: its middle segment must be `trigger`".to_owned())
        }
        (Kind::Action, true) => {
            fail("is an action: only triggers have `trigger` as the middle segment".to_owned())
        }
        _ => Ok(()),
    }
}

/// A catalog that breaks a rule (duplicate id, bad id, entry without its parts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// An id or alias names two entries.
    #[error("catalog id or alias `{0}` names two entries")]
    Duplicate(String),
    /// An id breaks the grammar.
    #[error(transparent)]
    Id(#[from] IdError),
    /// An entry lacks something its kind needs.
    #[error("catalog entry `{id}` {problem}")]
    Incomplete {
        /// The entry.
        id: String,
        /// What is missing.
        problem: &'static str,
    },
}

/// Every entry, checked: unique ids and aliases, ids in the grammar, actions with an
/// operation, triggers with a trigger ref.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entries: Vec<Entry>,
    by_name: BTreeMap<String, usize>,
}

impl Catalog {
    /// Checks and indexes `entries` (kept in the given order).
    pub fn new(entries: Vec<Entry>) -> Result<Self, CatalogError> {
        let mut by_name = BTreeMap::new();
        for (i, e) in entries.iter().enumerate() {
            check_id(&e.id, &e.system, e.kind)?;
            let incomplete = |problem| CatalogError::Incomplete {
                id: e.id.clone(),
                problem,
            };
            match e.kind {
                Kind::Action if e.operation.is_none() => {
                    return Err(incomplete("is an action without an operation"));
                }
                Kind::Trigger if e.trigger.is_none() => {
                    return Err(incomplete("is a trigger without a trigger ref"));
                }
                _ => {}
            }
            if e.title.is_empty() || e.description.is_empty() {
                return Err(incomplete("has no title or description"));
            }
            if !e.input_schema.is_object() || !e.output_schema.is_object() {
                return Err(incomplete("lacks an input or output schema"));
            }
            for name in std::iter::once(&e.id).chain(&e.aliases) {
                if by_name.insert(name.clone(), i).is_some() {
                    return Err(CatalogError::Duplicate(name.clone()));
                }
            }
        }
        Ok(Self { entries, by_name })
    }

    /// Every entry, in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry with this id or alias.
    pub fn find(&self, name: &str) -> Option<&Entry> {
        self.by_name.get(name).map(|&i| &self.entries[i])
    }

    /// Entries of one system and/or kind.
    pub fn filter<'a>(
        &'a self,
        system: Option<&'a str>,
        kind: Option<Kind>,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| {
            system.is_none_or(|s| e.system == s) && kind.is_none_or(|k| e.kind == k)
        })
    }

    /// Up to five ids close to an unknown `name`: sharing a segment or a substring.
    pub fn suggest(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        let words: Vec<&str> = name
            .split(['.', '-', '_'])
            .filter(|w| w.len() > 2)
            .collect();
        let mut scored: Vec<(usize, &str)> = self
            .by_name
            .iter()
            .filter_map(|(n, &i)| {
                let hits = words.iter().filter(|w| n.contains(**w)).count()
                    + usize::from(n.contains(name.as_str()));
                (hits > 0).then_some((hits, self.entries[i].id.as_str()))
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let mut out: Vec<&str> = Vec::new();
        for (_, id) in scored {
            if !out.contains(&id) {
                out.push(id);
            }
            if out.len() == 5 {
                break;
            }
        }
        out
    }
}

/// The catalog as a Markdown page (`docs/CATALOG.md` is this, generated; a test fails
/// when the file is stale).
pub fn markdown(catalog: &Catalog) -> String {
    let mut out = String::new();
    let count = |k| catalog.filter(None, Some(k)).count();
    out.push_str("# Catalog\n\n");
    out.push_str("<!-- Generated from the registry by `ghlsync catalog --markdown > docs/CATALOG.md`; do not edit by hand. -->\n\n");
    out.push_str(&format!(
        "{} entries: {} actions and {} triggers. Run an action with `ghlsync call <id> --connection <name> --input '<json>'` \
(`--dry-run` shows the request and sends nothing); `ghlsync catalog <id>` shows one entry with its fields, \
`ghlsync catalog --json` every field and JSON Schema. Ids read `<system>.<noun>.<verb>` for actions and \
`<system>.trigger.<event>` for triggers; the operation ids of earlier versions (`get-contact`) are accepted too.\n\n",
        catalog.entries().len(),
        count(Kind::Action),
        count(Kind::Trigger)
    ));
    out.push_str("In the examples, strings like `{contactId}` stand for ids of your account (numbers for Lofty and Lytho).\n\n");
    let systems = [
        ("ghl", "HighLevel (GHL)"),
        ("lofty", "Lofty"),
        ("lytho", "Lytho"),
        (BUILTIN, "ghlsync (built-in triggers)"),
    ];
    for (system, name) in systems {
        for kind in [Kind::Action, Kind::Trigger] {
            let entries: Vec<&Entry> = catalog.filter(Some(system), Some(kind)).collect();
            if entries.is_empty() {
                continue;
            }
            let plural = match kind {
                Kind::Action => "actions",
                Kind::Trigger => "triggers",
            };
            out.push_str(&format!("## {name}: {} {plural}\n\n", entries.len()));
            for e in entries {
                out.push_str(&format!("### `{}`: {}\n\n", e.id, e.title));
                out.push_str(&format!("{}\n\n", e.description.replace('\n', " ")));
                if let Some(op) = &e.operation {
                    out.push_str(&format!("- Request: `{} {}`", op.method, op.path));
                    if let Some(id) = &op.operation_id {
                        out.push_str(&format!(" (operationId `{id}`)"));
                    }
                    out.push('\n');
                }
                if let Some(t) = &e.trigger {
                    let via = match t.via {
                        Via::Webhook => "webhook",
                        Via::Poll => "poll",
                        Via::Schedule => "schedule",
                        Via::Manual => "manual",
                    };
                    if t.event.is_empty() {
                        out.push_str(&format!("- Fires by: {via}\n"));
                    } else {
                        out.push_str(&format!("- Fires by: {via}, event `{}`\n", t.event));
                    }
                }
                if !e.scopes.is_empty() {
                    out.push_str(&format!("- Needs: `{}`\n", e.scopes.join("`, `")));
                }
                if !e.aliases.is_empty() {
                    out.push_str(&format!("- Also: `{}`\n", e.aliases.join("`, `")));
                }
                let fields = |schema: &Value| -> String {
                    let required: Vec<&str> = schema["required"]
                        .as_array()
                        .map(|r| r.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    schema["properties"]
                        .as_object()
                        .map(|p| {
                            p.keys()
                                .map(|k| {
                                    if required.contains(&k.as_str()) {
                                        format!("`{k}`*")
                                    } else {
                                        format!("`{k}`")
                                    }
                                })
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default()
                };
                let (i, o) = match kind {
                    Kind::Action => ("Input", "Output"),
                    Kind::Trigger => ("Settings", "Event"),
                };
                let input = fields(&e.input_schema);
                if !input.is_empty() {
                    out.push_str(&format!("- {i} (* required): {input}\n"));
                }
                let output = fields(&e.output_schema);
                if !output.is_empty() {
                    out.push_str(&format!("- {o}: {output}\n"));
                }
                if kind == Kind::Action {
                    out.push_str(&format!(
                        "- Example: `ghlsync call {} --connection <name> --input '{}'`\n",
                        e.id,
                        serde_json::to_string(&e.example).unwrap_or_default()
                    ));
                }
                out.push('\n');
            }
        }
    }
    out
}

/// One way a value breaks a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON Pointer to the value (`/contactId`, `/tags/0`; empty for the whole).
    pub path: String,
    /// What was expected, in the validator's words.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// A schema that is not a valid JSON Schema (a bug in the entry, not in the input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON Schema: {0}")]
pub struct SchemaError(pub String);

/// A compiled schema, to check many values against.
pub struct Checker(jsonschema::Validator);

impl fmt::Debug for Checker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Checker")
    }
}

impl Checker {
    /// Compiles `schema` (draft 2020-12 unless it says otherwise; no remote `$ref`).
    pub fn new(schema: &Value) -> Result<Self, SchemaError> {
        jsonschema::options()
            .should_validate_formats(false)
            .build(schema)
            .map(Self)
            .map_err(|e| SchemaError(e.to_string()))
    }

    /// Every way `value` breaks the schema (empty when it fits).
    pub fn problems(&self, value: &Value) -> Vec<Problem> {
        self.0
            .iter_errors(value)
            .map(|e| Problem {
                path: e.instance_path().as_str().to_owned(),
                message: e.to_string(),
            })
            .collect()
    }
}

/// Checks `value` against `schema`: every problem, or nothing.
pub fn validate(schema: &Value, value: &Value) -> Result<Vec<Problem>, SchemaError> {
    Ok(Checker::new(schema)?.problems(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(id: &str, system: &str, kind: Kind) -> Entry {
        Entry {
            id: id.to_owned(),
            system: system.to_owned(),
            kind,
            title: "T".to_owned(),
            description: "D".to_owned(),
            input_schema: json!({"type": "object"}),
            output_schema: json!({"type": "object"}),
            scopes: vec![],
            operation: (kind == Kind::Action).then(|| OperationRef {
                method: "GET".to_owned(),
                path: "/x".to_owned(),
                operation_id: None,
            }),
            trigger: (kind == Kind::Trigger).then(|| TriggerRef {
                via: Via::Manual,
                event: String::new(),
            }),
            example: json!({}),
            aliases: vec![],
        }
    }

    #[test]
    fn grammar() {
        assert!(check_id("ghl.contacts.upsert", "ghl", Kind::Action).is_ok());
        assert!(check_id("ghl.trigger.contact_create", "ghl", Kind::Trigger).is_ok());
        assert!(check_id("ghlsync.trigger.schedule", BUILTIN, Kind::Trigger).is_ok());
        let e = check_id("ghl.contacts", "ghl", Kind::Action).unwrap_err();
        assert!(e.problem.contains("<system>.<noun>.<verb>"), "{e}");
        let e = check_id("ghl.Contacts.get", "ghl", Kind::Action).unwrap_err();
        assert!(e.problem.contains("`Contacts`"), "{e}");
        let e = check_id("lofty.leads.get", "ghl", Kind::Action).unwrap_err();
        assert!(e.problem.contains("not its system"), "{e}");
        assert!(check_id("ghl.trigger.get", "ghl", Kind::Action).is_err());
        assert!(check_id("ghl.contacts.create", "ghl", Kind::Trigger).is_err());
        assert!(check_id("ghl.contacts.get-one", "ghl", Kind::Action).is_err());
    }

    #[test]
    fn lookup_by_id_and_alias_and_duplicates() {
        let mut a = entry("ghl.contacts.get", "ghl", Kind::Action);
        a.aliases = vec!["get-contact".to_owned()];
        let t = entry("ghl.trigger.contact_create", "ghl", Kind::Trigger);
        let c = Catalog::new(vec![a.clone(), t]).unwrap();
        assert_eq!(c.find("get-contact").unwrap().id, "ghl.contacts.get");
        assert_eq!(c.find("ghl.contacts.get").unwrap().id, "ghl.contacts.get");
        assert!(c.find("contacts.get").is_none());
        assert_eq!(c.filter(None, Some(Kind::Trigger)).count(), 1);
        assert_eq!(c.filter(Some("lofty"), None).count(), 0);
        assert_eq!(c.suggest("get-contacts"), vec!["ghl.contacts.get"]);
        let dup = Catalog::new(vec![a.clone(), a]).unwrap_err();
        assert_eq!(dup, CatalogError::Duplicate("ghl.contacts.get".to_owned()));
        let mut bare = entry("ghl.contacts.list", "ghl", Kind::Action);
        bare.operation = None;
        assert!(matches!(
            Catalog::new(vec![bare]),
            Err(CatalogError::Incomplete { .. })
        ));
    }

    #[test]
    fn problems_name_the_field_and_what_was_expected() {
        let schema = json!({
            "type": "object",
            "properties": {"contactId": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["contactId"],
            "additionalProperties": false
        });
        assert!(
            validate(&schema, &json!({"contactId": "a"}))
                .unwrap()
                .is_empty()
        );
        let p = validate(&schema, &json!({"limit": "ten", "colour": 1})).unwrap();
        let text: Vec<String> = p.iter().map(ToString::to_string).collect();
        assert!(
            text.iter()
                .any(|t| t.contains("contactId") && t.contains("required")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("/limit") && t.contains("integer")),
            "{text:?}"
        );
        assert!(text.iter().any(|t| t.contains("colour")), "{text:?}");
        assert!(validate(&json!({"type": 7}), &json!({})).is_err());
    }
}
