//! Action flows: any catalog trigger to any catalog action. A flow file names the
//! trigger, an optional filter on its event, the action, and the mapping that fills
//! the action's input from the event. [`FlowFile::build`] checks the mapping against
//! both entries' schemas, so a flow that cannot work is refused when it is written,
//! not when its first event comes.
//!
//! ```toml
//! [flow]
//! id = "new-lead-call"
//! trigger = "lofty.trigger.lead_create"
//! action = "lofty.tasks.create"
//! filter = "record.leadId > 0"       # optional: a condition on the event (`record`)
//!
//! [trigger]                          # the trigger's settings, if it has any
//!
//! [input]                            # each input field of the action, from:
//! leadId = { from = "leadId" }       #   a field of the event (a path),
//! type = { value = "Call" }          #   a fixed value,
//! content = { expr = "'Call lead ' ~ record.leadId" }   # or an expression
//! ```
//!
//! A `from` may add `transforms` (the sync file's: `["trim", "email_normalise"]`).
//! A number or boolean mapped into a text input is sent as text; any other type
//! that cannot match is an error naming the input.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::catalog::{Catalog, Entry, Kind};
use crate::sync::expr::Expr;
use crate::sync::{Chain, Path, TransformSpec};

/// `[flow]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowSection {
    /// The flow's id: lowercase letters, digits and `-`.
    pub id: String,
    /// A catalog trigger id (`ghlsync catalog --kind trigger`).
    pub trigger: String,
    /// A catalog action id (`ghlsync catalog --kind action`).
    pub action: String,
    /// A condition on the event (`record`): the action runs only when it is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// What the flow is for (shown in lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Where one input field of the action comes from: exactly one of `from`, `value`,
/// `expr`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// A path into the event (`contactId`, `tags[0]`, `appointment.startTime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Transforms applied to the `from` value, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<TransformSpec>,
    /// A fixed value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// A minijinja expression over the event (`record`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
}

/// A flow file as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    pub flow: FlowSection,
    /// The trigger's settings (a schedule's `every_secs`, `at`, `timezone`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub trigger: Map<String, Value>,
    /// The action's input, field by field.
    #[serde(default)]
    pub input: BTreeMap<String, InputSpec>,
}

/// Why a flow file was refused: the file, the place in it, what is wrong and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FlowError {
    pub file: String,
    /// `[flow] trigger`, `[input] contactId`, ...
    pub place: String,
    pub message: String,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.place.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.place, self.message)
        }
    }
}

/// How one input is filled at run time.
#[derive(Debug, Clone)]
enum Source {
    From { path: Path, chain: Chain },
    Value(Value),
    Expr(Expr),
}

#[derive(Debug, Clone)]
struct Input {
    name: String,
    source: Source,
    /// The action takes text here and the source may give a number or a boolean.
    as_text: bool,
}

/// A checked flow, ready to run.
#[derive(Debug, Clone)]
pub struct ActionFlow {
    pub id: String,
    pub trigger: String,
    pub action: String,
    /// The trigger's settings, checked against its input schema.
    pub settings: Value,
    pub description: Option<String>,
    filter: Option<Expr>,
    inputs: Vec<Input>,
}

impl FlowFile {
    /// Reads a flow file (TOML); `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, FlowError> {
        toml::from_str(text).map_err(|e| FlowError {
            file: file.to_owned(),
            place: String::new(),
            message: e.to_string().trim().replace('\n', " "),
        })
    }

    /// Whether `text` is a flow file (a `[flow]` table) rather than a sync file.
    pub fn looks_like(text: &str) -> bool {
        text.lines().any(|l| l.trim() == "[flow]")
    }

    /// Checks the flow against the catalog and compiles it.
    pub fn build(&self, file: &str, catalog: &Catalog) -> Result<ActionFlow, FlowError> {
        let fail = |place: &str, message: String| FlowError {
            file: file.to_owned(),
            place: place.to_owned(),
            message,
        };
        let f = &self.flow;
        if f.id.is_empty()
            || !f
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(fail(
                "[flow] id",
                format!(
                    "`{}` is not a flow id: use lowercase letters, digits and `-`",
                    f.id
                ),
            ));
        }
        let find = |place: &str, id: &str, kind: Kind| -> Result<&Entry, FlowError> {
            let entry = catalog.find(id).ok_or_else(|| {
                let close = catalog.suggest(id);
                fail(
                    place,
                    format!(
                        "`{id}` is not in the catalog{}; `ghlsync catalog --kind {kind}` lists them",
                        if close.is_empty() {
                            String::new()
                        } else {
                            format!(" (did you mean {}?)", close.join(", "))
                        }
                    ),
                )
            })?;
            if entry.kind != kind {
                return Err(fail(
                    place,
                    format!(
                        "`{id}` is {} {}, not {kind}",
                        article(entry.kind),
                        entry.kind
                    ),
                ));
            }
            Ok(entry)
        };
        let trigger = find("[flow] trigger", &f.trigger, Kind::Trigger)?;
        let action = find("[flow] action", &f.action, Kind::Action)?;

        let settings = Value::Object(self.trigger.clone());
        let problems = crate::catalog::validate(&trigger.input_schema, &settings)
            .map_err(|e| fail("[trigger]", e.to_string()))?;
        if let Some(p) = problems.first() {
            return Err(fail(
                "[trigger]",
                format!(
                    "{} ({}: {})",
                    p.message,
                    trigger.id,
                    describe_fields(&trigger.input_schema)
                ),
            ));
        }
        let filter = match &f.filter {
            Some(src) => Some(Expr::compile(src).map_err(|e| fail("[flow] filter", e))?),
            None => None,
        };

        let root = &action.input_schema;
        let fields = properties(root);
        let mut inputs = Vec::new();
        for (name, spec) in &self.input {
            let place = format!("[input] {name}");
            let Some(target) = fields.get(name.as_str()) else {
                return Err(fail(
                    &place,
                    format!(
                        "`{name}` is not an input of {} (its inputs: {})",
                        action.id,
                        names(&fields)
                    ),
                ));
            };
            let want = types_of(root, target);
            let (source, got) = match (&spec.from, &spec.value, &spec.expr) {
                (Some(path), None, None) => {
                    let parsed: Path = path
                        .parse()
                        .map_err(|e: crate::sync::PathError| fail(&place, e.to_string()))?;
                    let found =
                        resolve_path(&trigger.output_schema, &parsed).map_err(|missing| {
                            fail(
                                &place,
                                format!(
                                    "the event of {} has no field `{missing}` (its fields: {})",
                                    trigger.id,
                                    names(&properties(&trigger.output_schema))
                                ),
                            )
                        })?;
                    let chain = Chain::compile(&spec.transforms, &BTreeMap::new())
                        .map_err(|e| fail(&place, e.to_string()))?;
                    let got = if chain.is_empty() {
                        types_of(&trigger.output_schema, &found)
                    } else {
                        Types::Any
                    };
                    (
                        Source::From {
                            path: parsed,
                            chain,
                        },
                        got,
                    )
                }
                (None, Some(v), None) if spec.transforms.is_empty() => {
                    (Source::Value(v.clone()), Types::of_value(v))
                }
                (None, None, Some(src)) if spec.transforms.is_empty() => {
                    let e = Expr::compile(src).map_err(|e| fail(&place, e))?;
                    (Source::Expr(e), Types::Any)
                }
                _ => {
                    return Err(fail(
                        &place,
                        "give exactly one of `from` (a field of the event), `value` or `expr`; `transforms` go with `from`".to_owned(),
                    ));
                }
            };
            let as_text = match want.accepts(&got) {
                Fit::Yes => false,
                Fit::AsText => true,
                Fit::No => {
                    return Err(fail(
                        &place,
                        format!(
                            "{} takes {want} here, but {} gives {got}",
                            action.id,
                            match &spec.from {
                                Some(p) => format!("`{p}` of the {} event", trigger.id),
                                None => "the value".to_owned(),
                            }
                        ),
                    ));
                }
            };
            inputs.push(Input {
                name: name.clone(),
                source,
                as_text,
            });
        }
        let required: Vec<&str> = root
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(missing) = required.iter().find(|r| !self.input.contains_key(**r)) {
            return Err(fail(
                &format!("[input] {missing}"),
                format!(
                    "{} requires `{missing}` and the flow does not fill it: add `{missing} = {{ from = \"...\" }}` (a field of the {} event: {}) or `{{ value = ... }}`",
                    action.id,
                    trigger.id,
                    names(&properties(&trigger.output_schema))
                ),
            ));
        }
        Ok(ActionFlow {
            id: f.id.clone(),
            trigger: trigger.id.clone(),
            action: action.id.clone(),
            settings,
            description: f.description.clone(),
            filter,
            inputs,
        })
    }

    /// The JSON Schema of flow files (for editors).
    pub fn json_schema() -> Value {
        serde_json::to_value(schemars::schema_for!(FlowFile)).unwrap_or(Value::Null)
    }
}

fn article(kind: Kind) -> &'static str {
    match kind {
        Kind::Action => "an",
        Kind::Trigger => "a",
    }
}

impl ActionFlow {
    /// Whether the event passes the flow's filter (no filter: always).
    pub fn passes(&self, event: &Value) -> Result<bool, String> {
        match &self.filter {
            Some(f) => f.test(event),
            None => Ok(true),
        }
    }

    /// The action's input for `event`. A `from` that finds nothing leaves its input
    /// out (the action's own validation then names a required one).
    pub fn input_for(&self, event: &Value) -> Result<Value, String> {
        let mut out = Map::new();
        for input in &self.inputs {
            let v = match &input.source {
                Source::Value(v) => v.clone(),
                Source::Expr(e) => e
                    .eval(&Value::Null, event)
                    .map_err(|e| format!("input `{}`: {e}", input.name))?,
                Source::From { path, chain } => {
                    let v = path.get(event);
                    if v.is_null() {
                        continue;
                    }
                    match chain.apply(v, event) {
                        Ok(v) => v,
                        Err(crate::sync::ChainError::Skip(_)) => continue,
                        Err(crate::sync::ChainError::Fail(why)) => {
                            return Err(format!("input `{}`: {why}", input.name));
                        }
                    }
                }
            };
            let v = match v {
                Value::Number(n) if input.as_text => Value::String(n.to_string()),
                Value::Bool(b) if input.as_text => Value::String(b.to_string()),
                other => other,
            };
            out.insert(input.name.clone(), v);
        }
        Ok(Value::Object(out))
    }
}

/// The `properties` of an object schema (following a root `$ref`).
fn properties(schema: &Value) -> BTreeMap<&str, &Value> {
    let s = deref(schema, schema);
    s.get("properties")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

fn names(fields: &BTreeMap<&str, &Value>) -> String {
    if fields.is_empty() {
        return "none".to_owned();
    }
    fields.keys().copied().collect::<Vec<_>>().join(", ")
}

fn describe_fields(schema: &Value) -> String {
    let f = properties(schema);
    if f.is_empty() {
        "it takes no settings".to_owned()
    } else {
        format!("its settings: {}", names(&f))
    }
}

/// `v` with `$ref`s (into the root's `$defs`) followed and a `null` alternative
/// (`anyOf [X, null]`) dropped.
fn deref<'a>(root: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..16 {
        if let Some(r) = v.get("$ref").and_then(Value::as_str) {
            v = root
                .pointer(r.trim_start_matches('#'))
                .unwrap_or(&Value::Null);
            continue;
        }
        let real: Vec<&Value> = ["anyOf", "oneOf"]
            .iter()
            .filter_map(|k| v.get(*k).and_then(Value::as_array))
            .flatten()
            .filter(|p| p.get("type").and_then(Value::as_str) != Some("null"))
            .collect();
        if real.len() == 1 && v.get("properties").is_none() {
            v = real[0];
            continue;
        }
        break;
    }
    v
}

/// The schema a path reaches in `root`, or the first step that is not there.
fn resolve_path(root: &Value, path: &Path) -> Result<Value, String> {
    use crate::sync::path::Step;
    let mut at = deref(root, root);
    for step in path.steps() {
        at = match step {
            Step::Key(k) => match at.get("properties").and_then(|p| p.get(k)) {
                Some(s) => deref(root, s),
                // A value of any shape (`{}`, an object without listed fields):
                // what is inside is known only at run time.
                None if at.get("properties").is_none()
                    && at.get("additionalProperties") != Some(&Value::Bool(false))
                    && types_of(root, at) != Types::Some(BTreeSet::from(["string"])) =>
                {
                    return Ok(Value::Object(Map::new()));
                }
                None => return Err(k.clone()),
            },
            Step::Index(_) | Step::Each | Step::Select { .. } => match at.get("items") {
                Some(s) => deref(root, s),
                None => return Err(path.to_string()),
            },
        };
    }
    Ok(at.clone())
}

/// The JSON types a schema allows.
#[derive(Debug, Clone, PartialEq)]
enum Types {
    Any,
    Some(BTreeSet<&'static str>),
}

enum Fit {
    Yes,
    AsText,
    No,
}

const JSON_TYPES: [&str; 7] = [
    "string", "integer", "number", "boolean", "array", "object", "null",
];

fn type_name(t: &str) -> Option<&'static str> {
    JSON_TYPES.iter().copied().find(|n| *n == t)
}

fn types_of(root: &Value, schema: &Value) -> Types {
    let s = deref(root, schema);
    let mut out = BTreeSet::new();
    match s.get("type") {
        Some(Value::String(t)) => out.extend(type_name(t)),
        Some(Value::Array(ts)) => {
            out.extend(ts.iter().filter_map(Value::as_str).filter_map(type_name))
        }
        _ => {
            let consts = s
                .get("enum")
                .and_then(Value::as_array)
                .cloned()
                .or_else(|| s.get("const").map(|c| vec![c.clone()]));
            match consts {
                Some(values) => {
                    for v in &values {
                        if let Types::Some(t) = Types::of_value(v) {
                            out.extend(t);
                        }
                    }
                }
                None => return Types::Any,
            }
        }
    }
    if out.is_empty() {
        Types::Any
    } else {
        Types::Some(out)
    }
}

impl Types {
    fn of_value(v: &Value) -> Self {
        let t = match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        Self::Some(BTreeSet::from([t]))
    }

    /// Whether a value of `got` fits here.
    fn accepts(&self, got: &Types) -> Fit {
        let (Types::Some(want), Types::Some(got)) = (self, got) else {
            return Fit::Yes;
        };
        let got: BTreeSet<&str> = got.iter().copied().filter(|t| *t != "null").collect();
        if got.is_empty() {
            return Fit::Yes;
        }
        let fits = |t: &str| want.contains(t) || (t == "integer" && want.contains("number"));
        if got.iter().all(|t| fits(t)) {
            return Fit::Yes;
        }
        let scalar = |t: &str| matches!(t, "integer" | "number" | "boolean");
        if want.contains("string") && got.iter().all(|t| fits(t) || scalar(t)) {
            return Fit::AsText;
        }
        if got.iter().any(|t| fits(t)) {
            // Some of the source's types fit: let the action's validation judge
            // each value.
            return Fit::Yes;
        }
        Fit::No
    }
}

impl fmt::Display for Types {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Types::Any => f.write_str("any value"),
            Types::Some(t) => {
                let t: Vec<&str> = t.iter().copied().filter(|t| *t != "null").collect();
                f.write_str(&t.join(" or "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Entry, OperationRef, TriggerRef, Via};
    use serde_json::json;

    fn catalog() -> Catalog {
        let trigger = Entry {
            id: "lofty.trigger.lead_create".into(),
            system: "lofty".into(),
            kind: Kind::Trigger,
            title: "Lead created".into(),
            description: "test entry".into(),
            input_schema: json!({"type": "object", "properties": {}, "additionalProperties": false}),
            output_schema: json!({"type": "object", "properties": {
                "leadId": {"type": "integer"}, "bucket": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "owner": {"$ref": "#/$defs/Owner"}},
                "$defs": {"Owner": {"type": "object", "properties": {"email": {"type": ["string", "null"]}}}}}),
            scopes: vec![],
            operation: None,
            trigger: Some(TriggerRef {
                via: Via::Webhook,
                event: "createdLead".into(),
            }),
            example: json!({}),
            aliases: vec![],
        };
        let action = Entry {
            id: "ghl.tasks.create".into(),
            system: "ghl".into(),
            kind: Kind::Action,
            title: "Create a task".into(),
            description: "test entry".into(),
            input_schema: json!({"type": "object", "properties": {
                "contactId": {"type": "string"}, "title": {"type": "string"},
                "completed": {"type": "boolean"}, "due": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                "required": ["contactId", "title"], "additionalProperties": false}),
            output_schema: json!({}),
            scopes: vec![],
            operation: Some(OperationRef {
                method: "POST".into(),
                path: "/t".into(),
                operation_id: None,
            }),
            trigger: None,
            example: json!({}),
            aliases: vec![],
        };
        Catalog::new(vec![trigger, action]).unwrap()
    }

    fn build(input: &str) -> Result<ActionFlow, FlowError> {
        let text = format!(
            "[flow]\nid = \"t\"\ntrigger = \"lofty.trigger.lead_create\"\naction = \"ghl.tasks.create\"\nfilter = \"record.bucket == 'createdLead'\"\n[input]\n{input}"
        );
        FlowFile::parse("t.toml", &text)?.build("t.toml", &catalog())
    }

    #[test]
    fn a_mapping_fills_the_input_from_the_event() {
        let flow = build(
            "contactId = { from = \"leadId\" }\ntitle = { expr = \"'Call ' ~ record.leadId\" }\ndue = { from = \"owner.email\", transforms = [\"trim\"] }\ncompleted = { value = false }",
        )
        .unwrap();
        let event = json!({"leadId": 42, "bucket": "createdLead", "owner": {"email": " a@b.co "}});
        assert!(flow.passes(&event).unwrap());
        assert!(!flow.passes(&json!({"bucket": "updatedLead"})).unwrap());
        assert_eq!(
            flow.input_for(&event).unwrap(),
            json!({"contactId": "42", "title": "Call 42", "due": "a@b.co", "completed": false}),
            "the number goes as text where the action takes text"
        );
    }

    #[test]
    fn build_names_what_cannot_work() {
        let err = build("contactId = { from = \"leadId\" }").unwrap_err();
        assert_eq!(err.place, "[input] title");
        assert!(err.message.contains("requires `title`"), "{err}");
        let err = build("contactId = { from = \"tags\" }\ntitle = { value = \"x\" }").unwrap_err();
        assert_eq!(err.place, "[input] contactId");
        assert!(
            err.message.contains("takes string here, but `tags`"),
            "{err}"
        );
        let err = build("contactId = { from = \"nope\" }\ntitle = { value = \"x\" }").unwrap_err();
        assert!(
            err.message.contains("has no field `nope`") && err.message.contains("leadId"),
            "{err}"
        );
        let err = build(
            "contactId = { from = \"leadId\" }\ntitle = { value = 3 }\nextra = { value = 1 }",
        )
        .unwrap_err();
        assert!(err.message.contains("`extra` is not an input"), "{err}");
        let err = build("contactId = { from = \"leadId\" }\ntitle = { value = [1] }").unwrap_err();
        assert!(
            err.message
                .contains("takes string here, but the value gives array"),
            "{err}"
        );
        let err = build("contactId = { from = \"leadId\", value = 1 }\ntitle = { value = \"x\" }")
            .unwrap_err();
        assert!(err.message.contains("exactly one of"), "{err}");
        let text =
            "[flow]\nid = \"t\"\ntrigger = \"ghl.tasks.create\"\naction = \"ghl.tasks.create\"\n";
        let err = FlowFile::parse("t.toml", text)
            .unwrap()
            .build("t.toml", &catalog())
            .unwrap_err();
        assert!(err.message.contains("is an action, not trigger"), "{err}");
        let text = "[flow]\nid = \"t\"\ntrigger = \"lofty.trigger.lead_creat\"\naction = \"ghl.tasks.create\"\n";
        let err = FlowFile::parse("t.toml", text)
            .unwrap()
            .build("t.toml", &catalog())
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("did you mean lofty.trigger.lead_create"),
            "{err}"
        );
    }
}
