//! The sync file: one TOML file per object pair (`ghl.contact` <-> `lofty.lead`),
//! the same model the UI edits. [`SyncFile::parse`] reads it, [`SyncFile::build`]
//! checks it against the [`Registry`] and compiles it into a [`SyncSpec`], the form
//! the runner uses. Errors name the file, the line, the field and the fix.
//!
//! ```toml
//! [sync]
//! id = "lofty-ghl-contacts"
//! left = "ghl.contact"
//! right = "lofty.lead"
//!
//! [match]                         # first pairing only; then the link rules
//! keys = [{ left = "email", right = "emails[*]", normalize = ["email_normalise"] }]
//! on_none = "create"              # create | skip | review
//!
//! [defaults]
//! direction = "both"              # both | to_right | to_left | none
//! conflict = "newest"             # newest | left | right | left_unless_blank | right_unless_blank | review
//! blank = "ignore"                # ignore | clear
//!
//! [[field]]
//! left = "firstName"
//! right = "firstName"
//! transforms = ["trim"]
//!
//! [deletes]
//! left = "unlink"                 # unlink | review | delete | tag:<name>
//! right = "review"
//! ```

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::expr::Expr;
use super::path::Path;
use super::registry::{ObjectType, Registry};
use super::transform::{Chain, Tables, TransformSpec};

/// One of the two sides of a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Left,
    Right,
}

impl Side {
    pub fn other(self) -> Self {
        match self {
            Self::Left => Self::Right,
            Self::Right => Self::Left,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Right => "right",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way a field flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Both,
    ToRight,
    ToLeft,
    None,
}

/// Who wins when a field changed on both sides since the last sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictRule {
    /// The side whose record changed last.
    Newest,
    Left,
    Right,
    LeftUnlessBlank,
    RightUnlessBlank,
    /// Nobody: a person decides (review queue).
    Review,
}

/// Whether a blank source value clears the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlankPolicy {
    /// A blank never overwrites a value.
    Ignore,
    /// A blank clears the other side.
    Clear,
}

/// How a list-valued field is merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArrayMode {
    /// The list is one value.
    Replace,
    /// A set: each side gets the union (nothing is removed); GHL tags.
    Union,
    /// New items are added at the end (order kept, nothing removed).
    Append,
}

/// What to do when first-time matching finds nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnNone {
    Create,
    Skip,
    Review,
}

/// What to do when several records match: only `review` (never a guess).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnAmbiguous {
    Review,
}

/// What a record deleted on one side does to its partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeletePolicy {
    /// Forget the link; the partner stays.
    Unlink,
    /// Tag the partner (and unlink).
    Tag(String),
    /// A person approves or dismisses it.
    Review,
    /// Delete the partner too (opt-in).
    Delete,
}

impl DeletePolicy {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "unlink" => Some(Self::Unlink),
            "review" => Some(Self::Review),
            "delete" => Some(Self::Delete),
            _ => s
                .strip_prefix("tag:")
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| Self::Tag(t.to_owned())),
        }
    }
}

impl fmt::Display for DeletePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unlink => f.write_str("unlink"),
            Self::Tag(t) => write!(f, "tag:{t}"),
            Self::Review => f.write_str("review"),
            Self::Delete => f.write_str("delete"),
        }
    }
}

/// `[sync]`: the two object types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncSection {
    /// Unique id (`lofty-ghl-contacts`): what `ghlsync flows` commands take.
    pub id: String,
    /// A human name.
    #[serde(default)]
    pub name: Option<String>,
    /// The left object type, e.g. `ghl.contact`.
    pub left: String,
    /// The right object type, e.g. `lofty.lead`.
    pub right: String,
    /// Bumped when the mapping changes (history and shadows record it).
    #[serde(default = "one")]
    pub version: u32,
}

fn one() -> u32 {
    1
}

/// One key of first-time matching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchKeySpec {
    pub left: String,
    pub right: String,
    /// Applied to both sides before comparing (e.g. `email_normalise`,
    /// `{ fn = "phone_e164", region = "US" }`).
    #[serde(default)]
    pub normalize: Vec<TransformSpec>,
}

/// `[match]`: first-time pairing only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchSection {
    /// Tried in order: the first key that finds anyone decides.
    pub keys: Vec<MatchKeySpec>,
    #[serde(default = "create")]
    pub on_none: OnNone,
    #[serde(default = "review")]
    pub on_ambiguous: OnAmbiguous,
}

impl Default for MatchSection {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            on_none: create(),
            on_ambiguous: review(),
        }
    }
}

fn create() -> OnNone {
    OnNone::Create
}
fn review() -> OnAmbiguous {
    OnAmbiguous::Review
}

/// `[defaults]`: what a `[[field]]` does unless it says otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default = "both")]
    pub direction: Direction,
    #[serde(default = "newest")]
    pub conflict: ConflictRule,
    #[serde(default = "ignore")]
    pub blank: BlankPolicy,
}

fn both() -> Direction {
    Direction::Both
}
fn newest() -> ConflictRule {
    ConflictRule::Newest
}
fn ignore() -> BlankPolicy {
    BlankPolicy::Ignore
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            direction: both(),
            conflict: newest(),
            blank: ignore(),
        }
    }
}

/// `[[field]]`: one mapped field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Names the field in history and shadows (default: the left path).
    #[serde(default)]
    pub name: Option<String>,
    pub left: String,
    pub right: String,
    #[serde(default)]
    pub direction: Option<Direction>,
    #[serde(default)]
    pub conflict: Option<ConflictRule>,
    #[serde(default)]
    pub blank: Option<BlankPolicy>,
    /// Left to right (for `to_left`, right to left).
    #[serde(default)]
    pub transforms: Vec<TransformSpec>,
    /// Right to left, for a two-way field whose transforms cannot be undone.
    #[serde(default)]
    pub inverse: Option<Vec<TransformSpec>>,
    /// A minijinja expression run before `transforms`, with `value` and `record`
    /// (e.g. `(record.firstName ~ " " ~ record.lastName) | trim`). One-way unless
    /// `inverse` is given.
    #[serde(default)]
    pub expr: Option<String>,
    #[serde(default)]
    pub array: Option<ArrayMode>,
}

/// `[deletes]`: per side, what a delete there does to the partner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletesSection {
    /// `unlink`, `review`, `delete` (opt-in) or `tag:<name>`.
    #[serde(default = "unlink")]
    pub left: String,
    #[serde(default = "unlink")]
    pub right: String,
}

fn unlink() -> String {
    "unlink".to_owned()
}

impl Default for DeletesSection {
    fn default() -> Self {
        Self {
            left: unlink(),
            right: unlink(),
        }
    }
}

/// How `[custom_fields]` pairs the accounts' own fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomPairing {
    /// Every custom field whose key is the same on both sides (compared by
    /// [`custom_key`]: `contact.lead_score` and `Lead Score` are both `lead_score`).
    ByKey,
    /// Only the custom fields a `[[field]]` names.
    None,
}

fn by_key() -> CustomPairing {
    CustomPairing::ByKey
}

/// `[custom_fields]`: the accounts' own fields, paired by key. They are read from
/// the connected accounts when the flow is enabled (into `[accounts]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldsSection {
    #[serde(default = "by_key")]
    pub pair: CustomPairing,
    #[serde(default)]
    pub direction: Option<Direction>,
    #[serde(default)]
    pub conflict: Option<ConflictRule>,
    #[serde(default)]
    pub blank: Option<BlankPolicy>,
    /// Keys (as [`custom_key`] gives them) left out of the pairing.
    #[serde(default)]
    pub except: Vec<String>,
}

/// One custom field of a connected account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountField {
    /// Its key (GHL `contact.pincode`; Lofty: its name).
    pub key: String,
    /// What a record names it by (GHL: its id; Lofty: its name).
    pub select: String,
}

/// `[accounts]`: the custom fields of the connected accounts, written by
/// `ghlsync flows enable` (enable again after adding a field).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountsSection {
    #[serde(default)]
    pub left: Vec<AccountField>,
    #[serde(default)]
    pub right: Vec<AccountField>,
    /// Values every record this flow creates on the left gets (found in the
    /// account when the flow is enabled: a GHL appointment's calendar).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub left_create: BTreeMap<String, String>,
    /// The same for the right (a Lofty appointment's time zone).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub right_create: BTreeMap<String, String>,
}

/// The line that starts what `ghlsync flows enable` appends to a sync file.
pub const ACCOUNTS_MARKER: &str = "# --- [accounts]: the connected accounts' custom fields, written by `ghlsync flows enable` ---";

impl AccountsSection {
    /// `text` with this section as its `[accounts]` (one written earlier replaced).
    pub fn write_into(&self, text: &str) -> String {
        let base = text
            .find(ACCOUNTS_MARKER)
            .map_or(text, |at| &text[..at])
            .trim_end();
        // JSON strings are TOML basic strings (the same escapes).
        let q = |v: &str| serde_json::to_string(v).unwrap_or_default();
        let list = |fields: &[AccountField]| {
            fields
                .iter()
                .map(|f| format!("  {{ key = {}, select = {} }},\n", q(&f.key), q(&f.select)))
                .collect::<String>()
        };
        let table = |name: &str, values: &BTreeMap<String, String>| {
            if values.is_empty() {
                return String::new();
            }
            let items: Vec<String> = values
                .iter()
                .map(|(k, v)| format!("{} = {}", q(k), q(v)))
                .collect();
            format!("{name} = {{ {} }}\n", items.join(", "))
        };
        format!(
            "{base}\n\n{ACCOUNTS_MARKER}\n[accounts]\nleft = [\n{}]\nright = [\n{}]\n{}{}",
            list(&self.left),
            list(&self.right),
            table("left_create", &self.left_create),
            table("right_create", &self.right_create),
        )
    }
}

/// A custom field's key as pairing compares it: lower case, GHL's model prefix
/// (`contact.`) dropped, every run of other characters one `_`.
pub fn custom_key(key: &str) -> String {
    let key = key.trim();
    let key = key.split_once('.').map_or(key, |(prefix, rest)| {
        if prefix.eq_ignore_ascii_case("contact") {
            rest
        } else {
            key
        }
    });
    let mut out = String::new();
    for c in key.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_owned()
}

/// `[parent]`: the records of this sync are children (tasks, notes) of a record
/// another flow links (a contact). A child is synced only once its parent is
/// linked, and is created on the other side under the parent's partner; it is
/// never matched (it exists on the other side only if this flow made it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParentSection {
    /// The flow whose links are the parents (`lofty-ghl-contacts`).
    pub flow: String,
    /// The left record's field naming its parent (`contactId`).
    pub left: String,
    /// The right record's field naming its parent (`leadId`).
    pub right: String,
    /// What a child does when the other side cannot create its partner (Lytho
    /// creates nothing): nothing (the default: it is skipped, saying so), or
    /// `newest_open`: it is linked to the newest open record under the parent's
    /// partner that nothing else of this flow is linked to, and writes to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<Attach>,
}

/// `[parent] attach`: where a child goes when its partner cannot be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Attach {
    /// The newest open record (not completed, not archived) under the parent's
    /// partner that is not linked yet.
    NewestOpen,
}

/// `[filter]`: which records of each side the flow syncs. Each is a minijinja
/// condition on `record` (the record as its API gives it); a record for which it
/// is false is skipped, with the condition in its history. For example
/// `left = "'lytho' not in (record.tags or [])"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterSection {
    /// The condition a left record must meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left: Option<String>,
    /// The condition a right record must meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right: Option<String>,
}

/// A sync file as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncFile {
    pub sync: SyncSection,
    /// First-time matching (not for a child sync: see `[parent]`).
    #[serde(rename = "match", default)]
    pub matching: MatchSection,
    #[serde(default)]
    pub parent: Option<ParentSection>,
    #[serde(default)]
    pub filter: FilterSection,
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(rename = "field", default)]
    pub fields: Vec<FieldSpec>,
    /// Named lookup tables: `[tables.sources]` `web = "Website"`.
    #[serde(default)]
    pub tables: BTreeMap<String, BTreeMap<String, Value>>,
    #[serde(default)]
    pub deletes: DeletesSection,
    #[serde(default)]
    pub custom_fields: Option<CustomFieldsSection>,
    #[serde(default)]
    pub accounts: Option<AccountsSection>,
}

/// A sync file that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct SyncFileError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// One compiled field rule.
#[derive(Debug, Clone)]
pub struct FieldRule {
    pub name: String,
    pub left: Path,
    pub right: Path,
    pub direction: Direction,
    pub conflict: ConflictRule,
    pub blank: BlankPolicy,
    pub array: ArrayMode,
    /// Left value to right value, when it flows right.
    pub to_right: Option<Chain>,
    /// Right value to left value, when it flows left.
    pub to_left: Option<Chain>,
}

impl FieldRule {
    pub fn path(&self, side: Side) -> &Path {
        match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
    }
    /// The chain that maps a `from` value to the other side, if it flows that way.
    pub fn toward(&self, from: Side) -> Option<&Chain> {
        match from {
            Side::Left => self.to_right.as_ref(),
            Side::Right => self.to_left.as_ref(),
        }
    }
}

/// One compiled match key.
#[derive(Debug, Clone)]
pub struct MatchKey {
    /// `email`, `phone`, ... (the left path).
    pub name: String,
    pub left: Path,
    pub right: Path,
    pub normalize: Chain,
}

/// A built `[parent]`.
#[derive(Debug, Clone)]
pub struct Parent {
    /// The flow whose links are the parents.
    pub flow: String,
    pub left: Path,
    pub right: Path,
    /// Where a child goes when its partner cannot be created.
    pub attach: Option<Attach>,
}

impl Parent {
    pub fn path(&self, side: Side) -> &Path {
        match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
    }
}

/// A built sync file: what the runner uses.
#[derive(Debug, Clone)]
pub struct SyncSpec {
    pub id: String,
    pub name: String,
    pub version: u32,
    pub left: ObjectType,
    pub right: ObjectType,
    pub keys: Vec<MatchKey>,
    pub on_none: OnNone,
    pub fields: Vec<FieldRule>,
    pub deletes_left: DeletePolicy,
    pub deletes_right: DeletePolicy,
    /// A child sync's parent.
    pub parent: Option<Parent>,
    /// `[filter] left`: the condition a left record must meet to be synced.
    pub filter_left: Option<Expr>,
    /// `[filter] right`.
    pub filter_right: Option<Expr>,
    /// Values every record created on the left gets (`[accounts] left_create`).
    pub create_left: BTreeMap<String, String>,
    /// The same for the right.
    pub create_right: BTreeMap<String, String>,
}

impl SyncSpec {
    pub fn object(&self, side: Side) -> &ObjectType {
        match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
    }
    /// Values every record this flow creates on `side` gets.
    pub fn create_values(&self, side: Side) -> &BTreeMap<String, String> {
        match side {
            Side::Left => &self.create_left,
            Side::Right => &self.create_right,
        }
    }
    /// Whether a record of `side` passes the flow's `[filter]` (`Err`: the
    /// condition failed to run, and says why). No filter: every record passes.
    pub fn passes(&self, side: Side, record: &Value) -> Result<bool, String> {
        let filter = match side {
            Side::Left => &self.filter_left,
            Side::Right => &self.filter_right,
        };
        filter.as_ref().map_or(Ok(true), |f| f.test(record))
    }
    /// The `[filter]` condition of `side`, as written.
    pub fn filter_source(&self, side: Side) -> Option<&str> {
        match side {
            Side::Left => self.filter_left.as_ref(),
            Side::Right => self.filter_right.as_ref(),
        }
        .map(Expr::source)
    }
    /// What a delete on `side` does to the partner.
    pub fn on_delete(&self, side: Side) -> &DeletePolicy {
        match side {
            Side::Left => &self.deletes_left,
            Side::Right => &self.deletes_right,
        }
    }
}

/// The line (1-based) of the `n`-th line of `text` that starts with `header`.
fn line_of(text: &str, header: &str, n: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with(header))
        .nth(n)
        .map_or(1, |(i, _)| i + 1)
}

impl SyncFile {
    /// Parses the TOML of a sync file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, SyncFileError> {
        toml::from_str(text).map_err(|e| SyncFileError {
            file: file.to_owned(),
            line: e.span().map_or(1, |s| {
                text[..s.start.min(text.len())].lines().count().max(1)
            }),
            message: e.message().trim().to_owned(),
        })
    }

    /// Parses and builds.
    pub fn load(file: &str, text: &str, registry: &Registry) -> Result<SyncSpec, SyncFileError> {
        Self::parse(file, text)?.build(file, text, registry)
    }

    /// The JSON Schema of the file (for editors and the UI).
    pub fn json_schema() -> Value {
        serde_json::to_value(schemars::schema_for!(SyncFile)).unwrap_or(Value::Null)
    }

    /// Checks the file against `registry` and compiles it. `text` is the file's
    /// source, to point errors at their line.
    pub fn build(
        &self,
        file: &str,
        text: &str,
        registry: &Registry,
    ) -> Result<SyncSpec, SyncFileError> {
        let err = |line: usize, message: String| SyncFileError {
            file: file.to_owned(),
            line,
            message,
        };
        let sync_line = line_of(text, "[sync]", 0);
        let object = |name: &str| {
            registry.get(name).cloned().ok_or_else(|| {
                err(
                    sync_line,
                    format!(
                        "`{name}` is not an object type; known: {}",
                        registry.names().join(", ")
                    ),
                )
            })
        };
        let (left, right) = (object(&self.sync.left)?, object(&self.sync.right)?);
        if self.sync.id.trim().is_empty() || self.sync.id.contains(char::is_whitespace) {
            return Err(err(
                sync_line,
                format!(
                    "id `{}` must be one word, e.g. lofty-ghl-contacts",
                    self.sync.id
                ),
            ));
        }
        let tables: Tables = self.tables.clone();
        let accounts = self.accounts.clone().unwrap_or_default();
        let account = |object: &ObjectType| {
            if std::ptr::eq(object, &left) {
                &accounts.left
            } else {
                &accounts.right
            }
        };
        let path = |line: usize, p: &str, object: &ObjectType, write: bool, what: &str| {
            let p = resolve_custom(p, object, account(object))
                .map_err(|m| err(line, format!("{what}: {m}")))?;
            let parsed: Path = p
                .parse()
                .map_err(|e: super::PathError| err(line, format!("{what}: {e}")))?;
            let Some(def) = object.field(parsed.root()) else {
                let known: Vec<&str> = object.fields.iter().map(|f| f.name).collect();
                return Err(err(
                    line,
                    format!(
                        "{what}: `{}` has no field `{}`; its fields are: {}",
                        object.name,
                        parsed.root(),
                        known.join(", ")
                    ),
                ));
            };
            if write && !def.writable {
                return Err(err(
                    line,
                    format!(
                        "{what}: `{}.{}` is set by {} itself and cannot be written; make the field flow the other way (direction = \"to_{}\")",
                        object.name,
                        def.name,
                        object.name.split('.').next().unwrap_or("the system"),
                        if std::ptr::eq(object, &left) {
                            "right"
                        } else {
                            "left"
                        },
                    ),
                ));
            }
            Ok((parsed, def.kind))
        };

        let match_line = line_of(text, "[match]", 0);
        let parent = match &self.parent {
            None if self.matching.keys.is_empty() => {
                return Err(err(
                    match_line,
                    "[match] needs at least one key (e.g. email)".to_owned(),
                ));
            }
            None => None,
            Some(p) => {
                let line = line_of(text, "[parent]", 0);
                if !self.matching.keys.is_empty() {
                    return Err(err(
                        match_line,
                        "a child sync ([parent]) is never matched: its records are created under the linked parent; remove [match]".to_owned(),
                    ));
                }
                if p.flow.trim().is_empty() || p.flow == self.sync.id {
                    return Err(err(
                        line,
                        format!(
                            "[parent] flow = \"{}\" must name another flow (e.g. lofty-ghl-contacts)",
                            p.flow
                        ),
                    ));
                }
                let (l, _) = path(line, &p.left, &left, false, "[parent] left")?;
                let (r, _) = path(line, &p.right, &right, false, "[parent] right")?;
                Some(Parent {
                    flow: p.flow.clone(),
                    left: l,
                    right: r,
                    attach: p.attach,
                })
            }
        };
        let mut keys = Vec::new();
        for k in &self.matching.keys {
            let (l, _) = path(match_line, &k.left, &left, false, "match key")?;
            let (r, _) = path(match_line, &k.right, &right, false, "match key")?;
            let normalize = Chain::compile(&k.normalize, &tables)
                .map_err(|e| err(match_line, format!("match key `{}`: {e}", k.left)))?;
            keys.push(MatchKey {
                name: l.root().to_owned(),
                left: l,
                right: r,
                normalize,
            });
        }

        let mut fields: Vec<FieldRule> = Vec::new();
        for (i, spec) in self.fields.iter().enumerate() {
            let line = line_of(text, "[[field]]", i);
            let name = spec.name.clone().unwrap_or_else(|| spec.left.clone());
            let what = format!("field `{name}`");
            if fields.iter().any(|f| f.name == name) {
                return Err(err(
                    line,
                    format!("{what} is mapped twice; give one of them another `name`"),
                ));
            }
            let direction = spec.direction.unwrap_or(self.defaults.direction);
            let writes_left = matches!(direction, Direction::Both | Direction::ToLeft);
            let writes_right = matches!(direction, Direction::Both | Direction::ToRight);
            let (l, lkind) = path(line, &spec.left, &left, writes_left, &what)?;
            let (r, rkind) = path(line, &spec.right, &right, writes_right, &what)?;
            let array = spec.array.unwrap_or(ArrayMode::Replace);
            if array != ArrayMode::Replace {
                let many = |p: &Path, kind: super::registry::FieldKind| {
                    p.is_many() || (kind.is_list() && p.steps().len() == 1)
                };
                // A one-way field needs a list where it writes: what it reads may
                // be mapped to one (an expression giving a tag).
                let lists = match direction {
                    Direction::ToLeft => many(&l, lkind),
                    Direction::ToRight => many(&r, rkind),
                    _ => many(&l, lkind) && many(&r, rkind),
                };
                if !lists {
                    let mode = if array == ArrayMode::Union {
                        "union"
                    } else {
                        "append"
                    };
                    return Err(err(
                        line,
                        format!(
                            "{what}: array = \"{mode}\" needs a list on both sides, or where a one-way field writes (`tags`, `emails[*]`, `tags[*].tagName`)"
                        ),
                    ));
                }
            }
            let mut specs = spec.transforms.clone();
            if let Some(e) = &spec.expr {
                let mut args = BTreeMap::new();
                args.insert("expr".to_owned(), Value::String(e.clone()));
                specs.insert(
                    0,
                    TransformSpec::Call {
                        name: "expr".to_owned(),
                        args,
                    },
                );
            }
            let transforms =
                Chain::compile(&specs, &tables).map_err(|e| err(line, format!("{what}: {e}")))?;
            let inverse = spec
                .inverse
                .as_ref()
                .map(|i| Chain::compile(i, &tables))
                .transpose()
                .map_err(|e| err(line, format!("{what}: inverse: {e}")))?;
            let (to_right, to_left) = match direction {
                Direction::Both => {
                    let back = match inverse {
                        Some(inv) => inv,
                        None => transforms.inverse().map_err(|t| {
                            err(
                                line,
                                format!(
                                    "{what} is two-way but `{t}` cannot be undone: add `inverse = [...]` (how a right value becomes a left one), or set `direction = \"to_right\"`"
                                ),
                            )
                        })?,
                    };
                    (Some(transforms), Some(back))
                }
                Direction::ToRight => (Some(transforms), None),
                Direction::ToLeft => (None, Some(transforms)),
                Direction::None => (None, None),
            };
            fields.push(FieldRule {
                name,
                left: l,
                right: r,
                direction,
                conflict: spec.conflict.unwrap_or(self.defaults.conflict),
                blank: spec.blank.unwrap_or(self.defaults.blank),
                array,
                to_right,
                to_left,
            });
        }
        if let Some(cf) = &self.custom_fields
            && cf.pair == CustomPairing::ByKey
            && let (Some(ls), Some(rs)) = (left.custom, right.custom)
        {
            let direction = cf.direction.unwrap_or(self.defaults.direction);
            for l in &accounts.left {
                let k = custom_key(&l.key);
                if k.is_empty() || cf.except.iter().any(|e| custom_key(e) == k) {
                    continue;
                }
                let Some(r) = accounts.right.iter().find(|r| custom_key(&r.key) == k) else {
                    continue;
                };
                let (lp, rp) = (ls.path(&l.select), rs.path(&r.select));
                let name = format!("custom.{k}");
                if fields.iter().any(|f| {
                    f.name == name || f.left.to_string() == lp || f.right.to_string() == rp
                }) {
                    continue;
                }
                let line = line_of(text, "[custom_fields]", 0);
                let parse = |p: &str| {
                    p.parse::<Path>()
                        .map_err(|e| err(line, format!("custom field `{k}`: {e}")))
                };
                let identity =
                    || Chain::compile(&[], &tables).map_err(|e| err(line, e.to_string()));
                let (to_right, to_left) = match direction {
                    Direction::Both => (Some(identity()?), Some(identity()?)),
                    Direction::ToRight => (Some(identity()?), None),
                    Direction::ToLeft => (None, Some(identity()?)),
                    Direction::None => (None, None),
                };
                fields.push(FieldRule {
                    name,
                    left: parse(&lp)?,
                    right: parse(&rp)?,
                    direction,
                    conflict: cf.conflict.unwrap_or(self.defaults.conflict),
                    blank: cf.blank.unwrap_or(self.defaults.blank),
                    array: ArrayMode::Replace,
                    to_right,
                    to_left,
                });
            }
        }
        let deletes_line = line_of(text, "[deletes]", 0);
        let delete = |s: &str, side: &str| {
            DeletePolicy::parse(s.trim()).ok_or_else(|| {
                err(
                    deletes_line,
                    format!(
                        "[deletes] {side} = \"{s}\": expected unlink, review, delete or tag:<name>"
                    ),
                )
            })
        };
        let filter_line = line_of(text, "[filter]", 0);
        let filter = |source: &Option<String>, side: &str| {
            source
                .as_deref()
                .map(|s| {
                    Expr::compile(s).map_err(|e| {
                        err(
                            filter_line,
                            format!("[filter] {side}: {e}; write a condition on `record`, e.g. \"'lytho' not in (record.tags or [])\""),
                        )
                    })
                })
                .transpose()
        };
        let (filter_left, filter_right) = (
            filter(&self.filter.left, "left")?,
            filter(&self.filter.right, "right")?,
        );
        Ok(SyncSpec {
            id: self.sync.id.clone(),
            name: self
                .sync
                .name
                .clone()
                .unwrap_or_else(|| self.sync.id.clone()),
            version: self.sync.version,
            keys,
            on_none: self.matching.on_none,
            fields,
            deletes_left: delete(&self.deletes.left, "left")?,
            deletes_right: delete(&self.deletes.right, "right")?,
            parent,
            filter_left,
            filter_right,
            create_left: accounts.left_create.clone(),
            create_right: accounts.right_create.clone(),
            left,
            right,
        })
    }
}

/// A path that names a custom field by key (`customFields[key=contact.pincode].value`)
/// on an object type whose records name them otherwise (GHL reads give ids only),
/// rewritten to what the records use, from the account's fields.
fn resolve_custom(
    p: &str,
    object: &ObjectType,
    account: &[AccountField],
) -> Result<String, String> {
    let Some(shape) = object.custom else {
        return Ok(p.to_owned());
    };
    let prefix = format!("{}[key=", shape.list);
    let Some(rest) = p.trim().strip_prefix(&prefix) else {
        return Ok(p.to_owned());
    };
    if shape.by == "key" {
        return Ok(p.to_owned());
    }
    let Some((key, tail)) = rest.split_once(']') else {
        return Ok(p.to_owned());
    };
    let key = key.trim().trim_matches('"');
    if account.is_empty() {
        return Err(format!(
            "{} records name custom fields by {}, not by key `{key}`: enable the flow with `ghlsync flows enable`, which reads the account's custom fields",
            object.name, shape.by
        ));
    }
    match account.iter().find(|f| f.key == key) {
        Some(f) => Ok(format!("{}[{}={}]{tail}", shape.list, shape.by, f.select)),
        None => Err(format!(
            "the connected account has no custom field with key `{key}`; its keys are: {} (add it in {}, then enable the flow again)",
            account
                .iter()
                .map(|f| f.key.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            object.name.split('.').next().unwrap_or("the system"),
        )),
    }
}
