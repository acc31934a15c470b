//! Editing a sync file's mapping in place (the admin UI's mapping editor): the
//! `[[field]]` rules, `[filter]` and `[defaults]` are rewritten, everything else
//! (comments, `[match]`, `[deletes]`, a rule's `inverse` or `expr`, the
//! `[accounts]` that enabling wrote) stays as it was. The result is the same kind
//! of file the CLI takes, and is checked the same way.

use serde::{Deserialize, Serialize};
use toml_edit::{DocumentMut, Item, Table};

use super::file::{ACCOUNTS_MARKER, ConflictRule, Direction, SyncFile};
use super::transform::TransformSpec;

/// One field rule as the editor shows and sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldEdit {
    /// The index of the `[[field]]` this row edits (its other keys and comments
    /// are kept); `None` for a new rule.
    #[serde(default)]
    pub from: Option<usize>,
    pub left: String,
    pub right: String,
    /// `None`: the file's `[defaults]`.
    #[serde(default)]
    pub direction: Option<Direction>,
    #[serde(default)]
    pub conflict: Option<ConflictRule>,
    /// The transforms as [`transforms_text`] writes them: `trim, lower` or
    /// `trim, { fn = "truncate", max = 80 }`.
    #[serde(default)]
    pub transforms: String,
}

/// A mapping as the editor shows and sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingEdit {
    pub fields: Vec<FieldEdit>,
    /// `[filter] left` (empty: none).
    #[serde(default)]
    pub filter_left: String,
    #[serde(default)]
    pub filter_right: String,
    pub direction: Direction,
    pub conflict: ConflictRule,
}

/// Why an edit cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("the sync file does not parse as TOML: {0}")]
    Toml(String),
    #[error(
        "field rule {row}: the transforms `{text}` are not a list of transforms ({why}); write names separated by commas (`trim, lower`) or calls like `{{ fn = \"truncate\", max = 80 }}`"
    )]
    Transforms {
        row: usize,
        text: String,
        why: String,
    },
    #[error("field rule {row}: both sides need a field (left `{left}`, right `{right}`)")]
    Incomplete {
        row: usize,
        left: String,
        right: String,
    },
    #[error("the edited file is not a valid sync file: {0}")]
    Invalid(String),
}

/// The mapping of `file`, as the editor shows it.
pub fn mapping_of(file: &SyncFile) -> MappingEdit {
    MappingEdit {
        fields: file
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| FieldEdit {
                from: Some(i),
                left: f.left.clone(),
                right: f.right.clone(),
                direction: f.direction,
                conflict: f.conflict,
                transforms: transforms_text(&f.transforms),
            })
            .collect(),
        filter_left: file.filter.left.clone().unwrap_or_default(),
        filter_right: file.filter.right.clone().unwrap_or_default(),
        direction: file.defaults.direction,
        conflict: file.defaults.conflict,
    }
}

/// Transforms as one line: names bare, calls as TOML inline tables.
pub fn transforms_text(list: &[TransformSpec]) -> String {
    list.iter()
        .map(|t| match t {
            TransformSpec::Name(n) => n.clone(),
            TransformSpec::Call { name, args } => {
                let mut table = toml_edit::InlineTable::new();
                table.insert("fn", name.as_str().into());
                for (k, v) in args {
                    if let Some(v) = toml_value(v) {
                        table.insert(k, v);
                    }
                }
                table.fmt();
                table.to_string().trim().to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn toml_value(v: &serde_json::Value) -> Option<toml_edit::Value> {
    use serde_json::Value as J;
    Some(match v {
        J::String(s) => s.as_str().into(),
        J::Bool(b) => (*b).into(),
        J::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64()?.into(),
        },
        J::Array(items) => {
            let mut a = toml_edit::Array::new();
            for i in items {
                a.push(toml_value(i)?);
            }
            a.into()
        }
        J::Object(map) => {
            let mut t = toml_edit::InlineTable::new();
            for (k, v) in map {
                t.insert(k, toml_value(v)?);
            }
            t.into()
        }
        J::Null => return None,
    })
}

/// The transforms of `text` (see [`FieldEdit::transforms`]) as a TOML array.
fn parse_transforms(
    row: usize,
    text: &str,
    tables: &super::transform::Tables,
) -> Result<Option<toml_edit::Array>, EditError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let fail = |why: String| EditError::Transforms {
        row,
        text: text.to_owned(),
        why,
    };
    // Bare names (`trim, lower`) are quoted; anything else must be TOML already.
    let quoted: Vec<String> = split_top_level(text)
        .into_iter()
        .map(|part| {
            let part = part.trim();
            if !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                format!("\"{part}\"")
            } else {
                part.to_owned()
            }
        })
        .collect();
    let snippet = format!("t = [{}]", quoted.join(", "));
    let doc: DocumentMut = snippet.parse().map_err(|e| fail(first_line(&e)))?;
    let parsed: toml::Table = toml::from_str(&snippet).map_err(|e| fail(first_line(&e)))?;
    let specs: Vec<TransformSpec> = parsed
        .get("t")
        .cloned()
        .map(|v| v.try_into())
        .transpose()
        .map_err(|e: toml::de::Error| fail(first_line(&e)))?
        .unwrap_or_default();
    for s in &specs {
        super::transform::Transform::compile(s, tables).map_err(|e| fail(e.to_string()))?;
    }
    doc.get("t")
        .and_then(Item::as_array)
        .cloned()
        .map(Some)
        .ok_or_else(|| fail("not a list".to_owned()))
}

fn first_line(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("invalid")
        .to_owned()
}

/// Splits at commas outside braces, brackets and quotes.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0);
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '{' | '[') => depth += 1,
            (None, '}' | ']') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn snake<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn set_or_remove(table: &mut Table, key: &str, value: Option<String>) {
    match value.filter(|v| !v.trim().is_empty()) {
        Some(v) => {
            table.insert(key, toml_edit::value(v));
        }
        None => {
            table.remove(key);
        }
    }
}

/// `text` with `edit` as its mapping. `[sync] version` goes up by one when the
/// mapping changed. The result is parsed as a sync file before it is returned.
pub fn apply(text: &str, edit: &MappingEdit) -> Result<String, EditError> {
    let (base, accounts) = match text.find(ACCOUNTS_MARKER) {
        Some(at) => (&text[..at], &text[at..]),
        None => (text, ""),
    };
    let before =
        SyncFile::parse("flow.toml", text).map_err(|e| EditError::Invalid(e.to_string()))?;
    let mut doc: DocumentMut = base.parse().map_err(|e| EditError::Toml(first_line(&e)))?;

    let defaults = doc
        .entry("defaults")
        .or_insert_with(toml_edit::table)
        .as_table_mut()
        .ok_or_else(|| EditError::Invalid("[defaults] is not a table".to_owned()))?;
    defaults.insert("direction", toml_edit::value(snake(&edit.direction)));
    defaults.insert("conflict", toml_edit::value(snake(&edit.conflict)));

    let filter_empty = {
        let filter = doc
            .entry("filter")
            .or_insert_with(toml_edit::table)
            .as_table_mut()
            .ok_or_else(|| EditError::Invalid("[filter] is not a table".to_owned()))?;
        set_or_remove(filter, "left", Some(edit.filter_left.trim().to_owned()));
        set_or_remove(filter, "right", Some(edit.filter_right.trim().to_owned()));
        filter.is_empty()
    };
    if filter_empty {
        doc.remove("filter");
    }

    let existing: Vec<Table> = doc
        .get("field")
        .and_then(Item::as_array_of_tables)
        .map(|a| a.iter().cloned().collect())
        .unwrap_or_default();
    let mut fields = toml_edit::ArrayOfTables::new();
    for (i, f) in edit.fields.iter().enumerate() {
        let row = i + 1;
        let (left, right) = (f.left.trim(), f.right.trim());
        if left.is_empty() || right.is_empty() {
            return Err(EditError::Incomplete {
                row,
                left: left.to_owned(),
                right: right.to_owned(),
            });
        }
        let mut table = f
            .from
            .and_then(|at| existing.get(at).cloned())
            .unwrap_or_default();
        table.insert("left", toml_edit::value(left));
        table.insert("right", toml_edit::value(right));
        set_or_remove(&mut table, "direction", f.direction.map(|d| snake(&d)));
        set_or_remove(&mut table, "conflict", f.conflict.map(|c| snake(&c)));
        match parse_transforms(row, &f.transforms, &before.tables)? {
            Some(list) => {
                table.insert("transforms", toml_edit::value(list));
            }
            None => {
                table.remove("transforms");
            }
        }
        fields.push(table);
    }
    doc.remove("field");
    if !fields.is_empty() {
        doc.insert("field", Item::ArrayOfTables(fields));
    }

    let mut out = doc.to_string();
    let after = SyncFile::parse("flow.toml", &format!("{out}{accounts}"))
        .map_err(|e| EditError::Invalid(e.to_string()))?;
    let mut unchanged = after;
    unchanged.sync.version = before.sync.version;
    if unchanged != before {
        let version = i64::from(before.sync.version) + 1;
        let mut doc: DocumentMut = out.parse().map_err(|e| EditError::Toml(first_line(&e)))?;
        if let Some(sync) = doc.get_mut("sync").and_then(Item::as_table_mut) {
            sync.insert("version", toml_edit::value(version));
        }
        out = doc.to_string();
    }
    if !accounts.is_empty() && !out.ends_with("\n\n") {
        out = format!("{}\n\n", out.trim_end());
    }
    Ok(format!("{out}{accounts}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::Registry;

    fn recipe() -> &'static str {
        crate::sync::recipes::source("lofty-ghl-contacts").unwrap()
    }

    #[test]
    fn an_unchanged_mapping_writes_the_same_file() {
        let text = recipe();
        let file = SyncFile::parse("r.toml", text).unwrap();
        let out = apply(text, &mapping_of(&file)).unwrap();
        assert_eq!(SyncFile::parse("r.toml", &out).unwrap(), file);
        assert!(
            out.contains("# Tags are a set on both sides"),
            "comments kept"
        );
    }

    #[test]
    fn a_changed_rule_is_written_kept_comments_and_version_bumped() {
        let text = recipe();
        let file = SyncFile::parse("r.toml", text).unwrap();
        let mut edit = mapping_of(&file);
        let source = edit.fields.iter_mut().find(|f| f.left == "source").unwrap();
        source.direction = Some(Direction::ToRight);
        source.conflict = Some(ConflictRule::Left);
        source.transforms = "trim, upper, { fn = \"truncate\", max = 40 }".to_owned();
        edit.fields.retain(|f| f.left != "lastName");
        edit.fields.push(FieldEdit {
            left: "customFields[id=pin123].value".to_owned(),
            right: "customAttributes[attributeName=Pincode].value".to_owned(),
            ..FieldEdit::default()
        });
        edit.filter_left = String::new();
        edit.conflict = ConflictRule::Right;
        let out = apply(text, &edit).unwrap();
        let after = SyncFile::parse("r.toml", &out).unwrap();
        assert_eq!(after.sync.version, file.sync.version + 1);
        assert_eq!(after.defaults.conflict, ConflictRule::Right);
        assert_eq!(after.filter.left, None);
        let rule = after.fields.iter().find(|f| f.left == "source").unwrap();
        assert_eq!(rule.direction, Some(Direction::ToRight));
        assert_eq!(rule.conflict, Some(ConflictRule::Left));
        assert_eq!(
            transforms_text(&rule.transforms),
            "trim, upper, { fn = \"truncate\", max = 40 }"
        );
        assert!(!after.fields.iter().any(|f| f.left == "lastName"));
        // The phone rule's `inverse` (not in the editor) is kept.
        let phone = after.fields.iter().find(|f| f.left == "phone").unwrap();
        assert!(phone.inverse.is_some());
        assert!(
            out.contains("# GHL keeps E.164"),
            "a rule's comment stays with it"
        );
        SyncFile::load("r.toml", &out, &Registry::default()).unwrap();
    }

    #[test]
    fn accounts_written_by_enabling_stay_last() {
        let accounts = crate::sync::AccountsSection {
            left: vec![crate::sync::AccountField {
                key: "contact.lead_score".into(),
                select: "abc".into(),
            }],
            ..Default::default()
        };
        let text = accounts.write_into(recipe());
        let file = SyncFile::parse("r.toml", &text).unwrap();
        let mut edit = mapping_of(&file);
        edit.fields.push(FieldEdit {
            left: "companyName".into(),
            right: "companyName".into(),
            ..FieldEdit::default()
        });
        let out = apply(&text, &edit).unwrap();
        let marker = out.find(ACCOUNTS_MARKER).unwrap();
        assert!(out[..marker].contains("left = \"companyName\""), "{out}");
        let after = SyncFile::parse("r.toml", &out).unwrap();
        assert_eq!(after.accounts, file.accounts);
        // Enabling again replaces what follows the marker: the new rule survives.
        let again = SyncFile::parse("r.toml", &accounts.write_into(&out)).unwrap();
        assert!(again.fields.iter().any(|f| f.left == "companyName"));
    }

    #[test]
    fn bad_input_names_the_row_and_the_fix() {
        let text = recipe();
        let file = SyncFile::parse("r.toml", text).unwrap();
        let mut edit = mapping_of(&file);
        edit.fields[1].transforms = "trim, shout".to_owned();
        let e = apply(text, &edit).unwrap_err().to_string();
        assert!(
            e.starts_with("field rule 2: the transforms `trim, shout`"),
            "{e}"
        );
        let mut edit = mapping_of(&file);
        edit.fields[0].right = " ".to_owned();
        let e = apply(text, &edit).unwrap_err().to_string();
        assert!(e.contains("field rule 1: both sides need a field"), "{e}");
    }
}
