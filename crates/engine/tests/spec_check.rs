//! The catalog held against the published specs: for every GHL and Lofty action, the
//! fields of its input (path and query parameters and the JSON body's top level),
//! which of them are required and their allowed values, and the required fields and
//! allowed values of its answer, compared with `../shared/ghl-spec/apps/*.json` and
//! `../shared/lofty-spec/openapi.json`. Every difference must be listed, with its
//! reason, in `crates/engine/src/catalog-deviations.toml`, and every line there must
//! still be a difference.
//!
//! In CI (`CI=true`) a missing `../shared` fails the test; elsewhere it skips.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use domain::catalog::{Difference, Entry, Kind, Side};
use serde_json::Value;

fn shared() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if dir.join("ghl-spec/apps").is_dir() && dir.join("lofty-spec/openapi.json").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} (with ghl-spec/ and lofty-spec/) is required in CI",
        dir.display()
    );
    println!("skipped: ../shared is not next to the workspace");
    None
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `v` with its `$ref`s followed inside `doc`.
fn resolve<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    let mut hops = 0;
    while let Some(r) = v.get("$ref").and_then(Value::as_str) {
        v = doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or(&Value::Null);
        hops += 1;
        assert!(hops < 32, "$ref cycle at {r}");
    }
    v
}

/// A property's schema without its `null` alternative (`anyOf [X, null]`, a one-part
/// `allOf`), resolved.
fn unwrap<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    let v = resolve(doc, v);
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(parts) = v.get(key).and_then(Value::as_array) {
            let real: Vec<&Value> = parts
                .iter()
                .filter(|p| p.get("type").and_then(Value::as_str) != Some("null"))
                .collect();
            if real.len() == 1 {
                return unwrap(doc, real[0]);
            }
        }
    }
    v
}

/// What the comparison looks at in one field.
#[derive(Debug, Default)]
struct Field {
    required: bool,
    /// The allowed values (of the field, or of its items), as sorted JSON text.
    values: Option<BTreeSet<String>>,
    /// The spec's prose, where many specs list the values (`` `Yes` or `No` ``).
    description: String,
    /// The spec marks it deprecated: the catalog need not offer it.
    deprecated: bool,
}

impl Field {
    fn of(doc: &Value, schema: &Value, required: bool) -> Self {
        let s = unwrap(doc, schema);
        let text = |v: &Value| {
            v.get("description")
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Field {
            required,
            values: values_of(doc, schema),
            description: text(schema).or_else(|| text(s)).unwrap_or_default(),
            deprecated: schema.get("deprecated") == Some(&Value::Bool(true))
                || s.get("deprecated") == Some(&Value::Bool(true)),
        }
    }

    /// Whether `ours` allows what this spec field allows: the same `enum`, or, where
    /// the spec gives none, each of our values named in its description.
    fn same_values(&self, ours: &Field) -> bool {
        match (&ours.values, &self.values) {
            (None, None) => true,
            (Some(o), None) => o.iter().all(|v| {
                let bare = v.trim_matches('"');
                self.description.contains(&format!("`{bare}`"))
                    || self
                        .description
                        .split(|c: char| {
                            !c.is_ascii_alphanumeric() && c != '_' && c != '+' && c != '-'
                        })
                        .any(|w| w == bare)
            }),
            (o, t) => o == t,
        }
    }
}

fn values_of(doc: &Value, schema: &Value) -> Option<BTreeSet<String>> {
    let outer = resolve(doc, schema);
    let s = unwrap(doc, schema);
    let list = outer
        .get("enum")
        .or_else(|| s.get("enum"))
        .or_else(|| unwrap(doc, s.get("items")?).get("enum"))?;
    Some(
        list.as_array()?
            .iter()
            .filter(|v| !v.is_null())
            .map(Value::to_string)
            .collect(),
    )
}

/// The top-level fields of an object schema (its `allOf` parts merged).
fn object_fields(doc: &Value, schema: &Value) -> BTreeMap<String, Field> {
    let s = resolve(doc, schema);
    let mut out = BTreeMap::new();
    if let Some(parts) = s.get("allOf").and_then(Value::as_array) {
        for p in parts {
            out.extend(object_fields(doc, p));
        }
    }
    let required: BTreeSet<&str> = s
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (name, p) in props {
            out.insert(
                name.clone(),
                Field::of(doc, p, required.contains(name.as_str())),
            );
        }
    }
    for name in required {
        out.entry(name.to_owned()).or_default().required = true;
    }
    out
}

/// A spec operation's input fields: path and query parameters, then the JSON body.
fn spec_input(doc: &Value, path: &str, item: &Value, op: &Value) -> BTreeMap<String, Field> {
    let mut out = BTreeMap::new();
    let params = [item.get("parameters"), op.get("parameters")];
    for p in params
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
    {
        let p = resolve(doc, p);
        let place = p["in"].as_str().unwrap_or_default();
        if place != "path" && place != "query" {
            continue;
        }
        let mut field = Field::of(doc, p.get("schema").unwrap_or(&Value::Null), false);
        field.required = place == "path" || p["required"] == Value::Bool(true);
        if field.description.is_empty() {
            field.description = p["description"].as_str().unwrap_or_default().to_owned();
        }
        field.deprecated |= p["deprecated"] == Value::Bool(true);
        out.insert(p["name"].as_str().unwrap_or_default().to_owned(), field);
    }
    // A `{name}` in the path is a required parameter even where the spec forgets to
    // declare it.
    for name in path
        .split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}'))
        .map(|(n, _)| n)
    {
        out.entry(name.to_owned()).or_default().required = true;
    }
    for kind in ["application~1json", "application~1x-www-form-urlencoded"] {
        if let Some(body) = op.pointer(&format!("/requestBody/content/{kind}/schema")) {
            out.extend(object_fields(doc, body));
        }
    }
    out
}

/// A spec operation's answer: the JSON schema of its first 2xx response.
fn spec_output(doc: &Value, op: &Value) -> BTreeMap<String, Field> {
    let Some(responses) = op.get("responses").and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    responses
        .iter()
        .filter(|(code, _)| code.starts_with('2'))
        .find_map(|(_, r)| {
            resolve(doc, r)
                .pointer("/content/application~1json/schema")
                .map(|s| object_fields(doc, s))
        })
        .unwrap_or_default()
}

type Found = BTreeSet<(String, Side, String, Difference)>;

fn compare(
    entry: &Entry,
    (spec_doc, path, item, op): (&Value, &str, &Value, &Value),
    found: &mut Found,
    fields: &mut usize,
) {
    let mut note = |side, field: &str, d| {
        found.insert((entry.id.clone(), side, field.to_owned(), d));
    };
    let ours = object_fields(&entry.input_schema, &entry.input_schema);
    let theirs = spec_input(spec_doc, path, item, op);
    for name in ours.keys().chain(theirs.keys()).collect::<BTreeSet<_>>() {
        *fields += 1;
        match (ours.get(name), theirs.get(name)) {
            (Some(_), None) => note(Side::Input, name, Difference::Extra),
            (None, Some(t)) if !t.deprecated => note(Side::Input, name, Difference::Missing),
            (None, Some(_)) => {}
            (Some(o), Some(t)) => {
                if o.required && !t.required {
                    note(Side::Input, name, Difference::Stricter);
                }
                if t.required && !o.required {
                    note(Side::Input, name, Difference::Looser);
                }
                if !t.same_values(o) {
                    note(Side::Input, name, Difference::Values);
                }
            }
            (None, None) => {}
        }
    }
    let ours = object_fields(&entry.output_schema, &entry.output_schema);
    let theirs = spec_output(spec_doc, op);
    for (name, t) in &theirs {
        *fields += 1;
        let o = ours.get(name);
        if t.required && !o.is_some_and(|o| o.required) {
            note(Side::Output, name, Difference::Looser);
        }
        if let Some(o) = o
            && o.values.is_some()
            && !t.same_values(o)
        {
            note(Side::Output, name, Difference::Values);
        }
    }
}

/// Every spec operation: (document index, path, method) -> (path item, operation),
/// by operationId.
fn index(docs: &[Value]) -> BTreeMap<String, Vec<(usize, String, String)>> {
    let mut out: BTreeMap<String, Vec<(usize, String, String)>> = BTreeMap::new();
    for (i, doc) in docs.iter().enumerate() {
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                    out.entry(id.to_owned()).or_default().push((
                        i,
                        path.clone(),
                        method.to_uppercase(),
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn ghl_and_lofty_entries_match_their_specs_or_say_why_not() {
    let Some(shared) = shared() else { return };
    let mut ghl_docs = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared.join("ghl-spec/apps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for f in &files {
        ghl_docs.push(read(f));
    }
    let lofty_docs = vec![read(&shared.join("lofty-spec/openapi.json"))];
    let systems = [
        ("ghl", index(&ghl_docs), &ghl_docs),
        ("lofty", index(&lofty_docs), &lofty_docs),
    ];

    let mut found = Found::new();
    let mut unmatched = Vec::new();
    let (mut checked, mut without_id, mut fields) = (0, 0, 0);
    for (system, by_id, docs) in &systems {
        for e in engine::catalog::catalog().filter(Some(system), Some(Kind::Action)) {
            let op = e.operation.as_ref().unwrap();
            let Some(id) = op.operation_id.as_deref() else {
                without_id += 1;
                continue;
            };
            let candidates = by_id.get(id).map(Vec::as_slice).unwrap_or_default();
            let hit = candidates
                .iter()
                .find(|(_, path, method)| *path == op.path && *method == op.method);
            let Some((i, path, method)) = hit else {
                unmatched.push(format!("{} ({id} {} {})", e.id, op.method, op.path));
                continue;
            };
            let doc = &docs[*i];
            let item = &doc["paths"][path];
            compare(
                e,
                (doc, path, item, &item[method.to_lowercase()]),
                &mut found,
                &mut fields,
            );
            checked += 1;
        }
    }
    assert!(
        unmatched.is_empty(),
        "no spec operation with this id, method and path: {unmatched:#?}"
    );

    let listed: Found = engine::catalog::deviations()
        .iter()
        .map(|d| (d.entry.clone(), d.side, d.field.clone(), d.difference))
        .collect();
    let show = |set: Vec<&(String, Side, String, Difference)>| {
        set.iter()
            .map(|(e, s, f, d)| format!("  {e} {s:?} `{f}`: {d:?} ({d})"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let unlisted: Vec<_> = found.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&found).collect();
    println!(
        "{checked} actions checked against their spec operation ({without_id} have no operationId), {fields} fields compared, {} deviations listed",
        listed.len()
    );
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "differences from the specs not in catalog-deviations.toml ({}):\n{}\nlines in catalog-deviations.toml that no longer differ ({}):\n{}",
        unlisted.len(),
        show(unlisted.clone()),
        stale.len(),
        show(stale.clone()),
    );
}
