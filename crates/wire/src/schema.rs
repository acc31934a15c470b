//! JSON Schemas of operation inputs and outputs, built from the clients' model types.
//!
//! Every client describes each operation's input as one flat JSON object (path and
//! query parameters beside the body's fields, as `call` takes them) and its output as
//! the answer's JSON. The model types derive [`schemars::JsonSchema`]; this module
//! turns them into those shapes: [`of`] for a type's own schema, [`Object`] to put
//! parameters and a body type's fields into one closed object, [`wrap`] for the
//! `{"contact": {...}}` envelopes, [`list`] for arrays. The schemas are JSON Schema
//! draft 2020-12 with their definitions under `$defs`.

use schemars::JsonSchema;
use serde_json::{Map, Value, json};

/// The JSON Schema dialect every schema here declares.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The schema of `T`, with its definitions under `$defs`.
///
/// Enums whose variants carry doc comments come out of schemars as a `oneOf` of
/// `const`s; those are folded into one `enum`, so a wrong value is answered with the
/// list of right ones.
pub fn of<T: JsonSchema>() -> Value {
    let mut schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    fold_const_choices(&mut schema);
    schema
}

/// Rewrites every `{"oneOf": [{"type": T, "const": a}, {"type": T, "const": b}]}` into
/// `{"type": T, "enum": [a, b]}` (same values accepted), keeping the first description.
fn fold_const_choices(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let folded =
                map.get("oneOf")
                    .and_then(Value::as_array)
                    .and_then(|choices| {
                        let ty = choices.first()?.get("type")?.clone();
                        let values: Option<Vec<Value>> = choices
                            .iter()
                            .map(|c| {
                                let same = c.get("type") == Some(&ty);
                                let only = c.as_object()?.keys().all(|k| {
                                    matches!(k.as_str(), "type" | "const" | "description")
                                });
                                (same && only).then(|| c.get("const").cloned()).flatten()
                            })
                            .collect();
                        Some((ty, values?))
                    });
            if let Some((ty, values)) = folded {
                map.remove("oneOf");
                map.insert("type".to_owned(), ty);
                map.insert("enum".to_owned(), Value::Array(values));
            }
            map.values_mut().for_each(fold_const_choices);
        }
        Value::Array(items) => items.iter_mut().for_each(fold_const_choices),
        _ => {}
    }
}

/// `schema` (an object's) with `fields` added to its `required` list: where an answer
/// always carries fields its lenient model does not insist on.
pub fn requiring(mut schema: Value, fields: &[&str]) -> Value {
    if let Some(obj) = schema.as_object_mut() {
        let list = obj
            .entry("required")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(list) = list.as_array_mut() {
            for f in fields {
                if !list.iter().any(|v| v == f) {
                    list.push(Value::from(*f));
                }
            }
        }
    }
    schema
}

/// The schema of any JSON value (an answer whose shape is not modelled).
pub fn any(description: &str) -> Value {
    json!({ "$schema": DIALECT, "description": description })
}

/// Takes the `$defs` out of `schema` (and its `$schema`), so it can sit inside another.
fn split_defs(mut schema: Value) -> (Value, Map<String, Value>) {
    let mut defs = Map::new();
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("$schema");
        if let Some(Value::Object(d)) = obj.remove("$defs") {
            defs = d;
        }
    }
    (schema, defs)
}

/// Puts `defs` (and the dialect) back on a root schema.
fn with_defs(mut schema: Value, defs: Map<String, Value>) -> Value {
    if let Some(obj) = schema.as_object_mut() {
        let mut root = Map::new();
        root.insert("$schema".to_owned(), Value::from(DIALECT));
        root.append(obj);
        if !defs.is_empty() {
            root.insert("$defs".to_owned(), Value::Object(defs));
        }
        return Value::Object(root);
    }
    schema
}

/// `{ key: <schema of T> }`, with `key` required: GHL's `{"contact": {...}}` answers.
pub fn wrap(key: &str, inner: Value) -> Value {
    Object::open().field(key, inner, true).build()
}

/// An array of `inner`.
pub fn list(inner: Value) -> Value {
    let (item, defs) = split_defs(inner);
    with_defs(json!({ "type": "array", "items": item }), defs)
}

/// `inner` or `null` (an answer that may hold nothing).
pub fn or_null(inner: Value) -> Value {
    let (item, defs) = split_defs(inner);
    with_defs(json!({ "anyOf": [item, { "type": "null" }] }), defs)
}

/// One operation as the catalog shows it, as each client describes its own.
#[derive(Debug, Clone)]
pub struct Description {
    /// The catalog id, `<system>.<noun>.<verb>`.
    pub id: String,
    /// A few words.
    pub title: String,
    /// JSON Schema of the input.
    pub input: Value,
    /// JSON Schema of the output.
    pub output: Value,
    /// An example input.
    pub example: Value,
}

impl Description {
    /// The five parts, in this order.
    pub fn new(
        id: impl Into<String>,
        title: impl Into<String>,
        input: Value,
        output: Value,
        example: Value,
    ) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            input,
            output,
            example,
        }
    }
}

/// An object built field by field: an operation's input (closed: a field not named
/// here is refused, as GHL refuses unknown properties with a 422) or an answer
/// (open: servers add fields).
#[derive(Debug, Clone)]
pub struct Object {
    properties: Map<String, Value>,
    required: Vec<String>,
    defs: Map<String, Value>,
    closed: bool,
    description: Option<String>,
}

impl Object {
    /// A closed object (an input).
    pub fn closed() -> Self {
        Self {
            properties: Map::new(),
            required: Vec::new(),
            defs: Map::new(),
            closed: true,
            description: None,
        }
    }

    /// An open object (an answer).
    pub fn open() -> Self {
        Self {
            closed: false,
            ..Self::closed()
        }
    }

    /// A sentence describing the whole object.
    pub fn describe(mut self, text: &str) -> Self {
        self.description = Some(text.to_owned());
        self
    }

    /// A field with the given schema (a root schema's `$defs` are kept).
    pub fn field(mut self, name: &str, schema: Value, required: bool) -> Self {
        let (schema, defs) = split_defs(schema);
        self.defs.extend(defs);
        self.properties.insert(name.to_owned(), schema);
        self.require(name, required)
    }

    fn require(mut self, name: &str, required: bool) -> Self {
        if required && !self.required.iter().any(|r| r == name) {
            self.required.push(name.to_owned());
        }
        self
    }

    /// A required, non-empty string: a path parameter (an id).
    pub fn path(self, name: &str, description: &str) -> Self {
        self.field(
            name,
            json!({ "type": "string", "minLength": 1, "description": description }),
            true,
        )
    }

    /// A string field.
    pub fn string(self, name: &str, required: bool, description: &str) -> Self {
        self.field(
            name,
            json!({ "type": "string", "description": description }),
            required,
        )
    }

    /// An integer field.
    pub fn integer(self, name: &str, required: bool, description: &str) -> Self {
        self.field(
            name,
            json!({ "type": "integer", "description": description }),
            required,
        )
    }

    /// A boolean field.
    pub fn boolean(self, name: &str, required: bool, description: &str) -> Self {
        self.field(
            name,
            json!({ "type": "boolean", "description": description }),
            required,
        )
    }

    /// A string field limited to `values`.
    pub fn one_of(self, name: &str, values: &[&str], required: bool, description: &str) -> Self {
        self.field(
            name,
            json!({ "type": "string", "enum": values, "description": description }),
            required,
        )
    }

    /// Every field of `T` (a struct), with its required list and definitions: a body
    /// type, or a query type.
    pub fn fields_of<T: JsonSchema>(self) -> Self {
        self.fields_from(of::<T>())
    }

    /// Every field of an object schema.
    pub fn fields_from(mut self, schema: Value) -> Self {
        let (schema, defs) = split_defs(schema);
        self.defs.extend(defs);
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                self.properties.insert(k.clone(), v.clone());
            }
        }
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for name in req.iter().filter_map(Value::as_str) {
                self = self.require(name, true);
            }
        }
        self
    }

    /// Marks fields required (where the API needs them though the model is lenient).
    pub fn requiring(mut self, names: &[&str]) -> Self {
        for name in names {
            self = self.require(name, true);
        }
        self
    }

    /// The schema.
    pub fn build(self) -> Value {
        let mut obj = Map::new();
        if let Some(d) = self.description {
            obj.insert("description".to_owned(), Value::from(d));
        }
        obj.insert("type".to_owned(), Value::from("object"));
        obj.insert("properties".to_owned(), Value::Object(self.properties));
        if !self.required.is_empty() {
            obj.insert("required".to_owned(), Value::from(self.required));
        }
        if self.closed {
            obj.insert("additionalProperties".to_owned(), Value::Bool(false));
        }
        with_defs(Value::Object(obj), self.defs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(JsonSchema)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Body {
        first_name: String,
        tags: Option<Vec<String>>,
        inner: Option<Inner>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Inner {
        on: bool,
    }

    #[test]
    fn input_puts_params_and_body_fields_in_one_closed_object() {
        let s = Object::closed()
            .path("contactId", "The contact")
            .fields_of::<Body>()
            .build();
        assert_eq!(s["$schema"], DIALECT);
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["required"], json!(["contactId", "firstName"]));
        assert!(s["properties"]["tags"].is_object());
        assert!(s["$defs"]["Inner"].is_object(), "{s}");
        assert!(s["properties"].get("$defs").is_none());
    }

    /// A choice of documented values.
    #[derive(JsonSchema)]
    #[serde(rename_all = "lowercase")]
    #[allow(dead_code)]
    enum Colour {
        /// Warm.
        Red,
        /// Cold.
        Blue,
    }

    #[test]
    fn documented_enum_variants_fold_into_one_enum() {
        let s = of::<Colour>();
        assert_eq!(s["enum"], json!(["red", "blue"]), "{s}");
        assert_eq!(s["type"], "string");
        assert!(s.get("oneOf").is_none());
        let r = requiring(of::<Inner>(), &["on", "off"]);
        assert_eq!(r["required"], json!(["on", "off"]));
    }

    #[test]
    fn wrap_and_list_keep_definitions_at_the_root() {
        let s = wrap("contact", of::<Body>());
        assert_eq!(s["required"], json!(["contact"]));
        assert!(s.get("additionalProperties").is_none());
        assert!(s["$defs"]["Inner"].is_object());
        assert!(s["properties"]["contact"].get("$schema").is_none());
        let l = list(of::<Inner>());
        assert_eq!(l["type"], "array");
        assert_eq!(l["items"]["required"], json!(["on"]));
    }
}
