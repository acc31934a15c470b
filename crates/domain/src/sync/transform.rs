//! The built-in transforms: pure, typed functions of one mapped value (and, for
//! `coalesce` and `concat`, other fields of the same record).
//!
//! In a sync file a transform is a name (`"trim"`) or a call
//! (`{ fn = "phone_e164", region = "US" }`). [`Transform::compile`] checks the
//! arguments once; [`Chain::apply`] runs a list. String transforms applied to an
//! array apply to each item (tags). A blank value passes through every transform
//! unchanged except `default` and `coalesce`.
//!
//! Each transform says what undoes it ([`Transform::inverse`]): a *normaliser*
//! (trim, case, phone, email) is its own inverse (a two-way field normalises both
//! ways, and normalising twice changes nothing); an exact pair (to_number/to_text, split/join,
//! parse_date/format_date, a one-to-one lookup) has its partner; the rest (truncate,
//! default, concat, regex, ...) lose information, and a two-way field using them
//! needs an explicit `inverse`.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::path::Path;
use super::value::{is_blank, same, set_items};
use crate::contact::{Email, Phone};

/// A transform as written in a sync file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TransformSpec {
    /// A transform without arguments: `"trim"`.
    Name(String),
    /// A transform with arguments: `{ fn = "truncate", max = 80 }`. Every call may
    /// set `on_error`: `skip_field` (default), `keep`, `blank` or `fail`.
    Call {
        #[serde(rename = "fn")]
        name: String,
        #[serde(flatten)]
        args: BTreeMap<String, Value>,
    },
}

impl TransformSpec {
    pub fn name(&self) -> &str {
        match self {
            Self::Name(n) | Self::Call { name: n, .. } => n,
        }
    }
}

/// What happens when a transform cannot handle a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// The field is not written this time (the history says why). The default.
    SkipField,
    /// The value goes on unchanged.
    Keep,
    /// The value becomes blank.
    Blank,
    /// The whole record fails.
    Fail,
}

/// Which part of a full name `split_name` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamePart {
    First,
    Last,
}

/// What `lookup` gives for a value the table lacks.
#[derive(Debug, Clone, PartialEq)]
pub enum Missing {
    /// The value itself.
    Keep,
    /// Blank.
    Blank,
    /// This value.
    Value(Value),
}

/// A compiled transform.
#[derive(Debug, Clone)]
pub enum Transform {
    Trim,
    Lower,
    Upper,
    TitleCase,
    CollapseSpaces,
    StripHtml,
    /// HTML to plain text, a line per block (exactly undone by `text_to_html` on
    /// what it produces).
    HtmlToText,
    /// Plain text to HTML, a paragraph per line.
    TextToHtml,
    Truncate(usize),
    Default(Value),
    Coalesce(Vec<Path>),
    Concat {
        paths: Vec<Path>,
        sep: String,
    },
    Split(String),
    SplitName(NamePart),
    Join(String),
    PhoneE164(Option<String>),
    PhoneNational(Option<String>),
    EmailNormalise,
    /// Text (in `format`, else RFC 3339, a date, or epoch ms) to an RFC 3339 UTC
    /// timestamp; a time without offset is read in `tz` (default UTC).
    ParseDate {
        format: Option<String>,
        tz: String,
    },
    /// A timestamp to text in `format`, in `tz` (default UTC).
    FormatDate {
        format: String,
        tz: String,
    },
    /// A timestamp to RFC 3339 with the offset of `tz`.
    ToTimezone(String),
    ToNumber,
    ToText,
    ToBool,
    Lookup {
        table: String,
        entries: Vec<(String, Value)>,
        missing: Missing,
    },
    RegexReplace {
        pattern: String,
        re: regex::Regex,
        with: String,
    },
    RegexExtract {
        pattern: String,
        re: regex::Regex,
        group: usize,
    },
    SetAdd(Vec<Value>),
    SetRemove(Vec<Value>),
    SetUnion(Path),
    /// A sandboxed expression (see [`super::expr`]).
    Expr(super::expr::Expr),
}

/// What undoes a transform.
#[derive(Debug, Clone)]
pub enum Inverse {
    /// Itself: it normalises (applying it again changes nothing).
    Normaliser,
    /// This transform.
    Exact(Transform),
    /// Nothing can: information is lost.
    Lossy,
}

/// Why a transform could not be compiled (names the transform and the fix).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transform `{name}`: {reason}")]
pub struct TransformError {
    pub name: String,
    pub reason: String,
}

/// The names `compile` knows, for messages and the docs.
pub const BUILTINS: &[&str] = &[
    "trim",
    "lower",
    "upper",
    "title_case",
    "collapse_spaces",
    "strip_html",
    "truncate",
    "default",
    "coalesce",
    "concat",
    "split",
    "split_name",
    "join",
    "phone_e164",
    "phone_national",
    "email_normalise",
    "parse_date",
    "format_date",
    "to_timezone",
    "to_number",
    "to_text",
    "to_bool",
    "lookup",
    "regex_replace",
    "regex_extract",
    "set_add",
    "set_remove",
    "set_union",
    "expr",
];

/// Named lookup tables of a sync file: table -> (from, to).
pub type Tables = BTreeMap<String, BTreeMap<String, Value>>;

struct Args<'a> {
    name: &'a str,
    args: &'a BTreeMap<String, Value>,
}

impl Args<'_> {
    fn fail(&self, reason: impl Into<String>) -> TransformError {
        TransformError {
            name: self.name.to_owned(),
            reason: reason.into(),
        }
    }
    fn text(&self, key: &str) -> Result<Option<String>, TransformError> {
        match self.args.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.fail(format!("`{key}` must be text, not {other}"))),
        }
    }
    fn need_text(&self, key: &str) -> Result<String, TransformError> {
        self.text(key)?
            .ok_or_else(|| self.fail(format!("needs `{key}`")))
    }
    fn paths(&self, key: &str) -> Result<Vec<Path>, TransformError> {
        let list = match self.args.get(key) {
            Some(Value::Array(items)) => items.clone(),
            Some(Value::String(s)) => vec![Value::String(s.clone())],
            _ => return Err(self.fail(format!("needs `{key}`, a list of field paths"))),
        };
        list.iter()
            .map(|p| {
                p.as_str()
                    .ok_or_else(|| self.fail(format!("`{key}` holds field paths (text)")))?
                    .parse::<Path>()
                    .map_err(|e| self.fail(e.to_string()))
            })
            .collect()
    }
    fn values(&self, key: &str) -> Result<Vec<Value>, TransformError> {
        match self.args.get(key) {
            Some(Value::Array(items)) => Ok(items.clone()),
            Some(one) => Ok(vec![one.clone()]),
            None => Err(self.fail(format!("needs `{key}`"))),
        }
    }
    fn tz(&self) -> Result<String, TransformError> {
        let tz = self.text("tz")?.unwrap_or_else(|| "UTC".to_owned());
        jiff::tz::TimeZone::get(&tz).map_err(|_| {
            self.fail(format!(
                "`{tz}` is not an IANA time zone (e.g. America/New_York)"
            ))
        })?;
        Ok(tz)
    }
    fn region(&self) -> Result<Option<String>, TransformError> {
        let region = self.text("region")?;
        if let Some(r) = &region {
            Phone::parse("+14155550123", Some(r)).map_err(|e| self.fail(e.to_string()))?;
        }
        Ok(region)
    }
    fn regex(&self) -> Result<(String, regex::Regex), TransformError> {
        let pattern = self.need_text("pattern")?;
        let re = regex::Regex::new(&pattern)
            .map_err(|e| self.fail(format!("`{pattern}` is not a regular expression: {e}")))?;
        Ok((pattern, re))
    }
}

impl Transform {
    /// Compiles a transform of a sync file; `tables` are the file's lookup tables.
    pub fn compile(
        spec: &TransformSpec,
        tables: &Tables,
    ) -> Result<(Self, OnError), TransformError> {
        let empty = BTreeMap::new();
        let (name, args) = match spec {
            TransformSpec::Name(n) => (n.as_str(), &empty),
            TransformSpec::Call { name, args } => (name.as_str(), args),
        };
        let a = Args { name, args };
        let on_error = match a.text("on_error")?.as_deref() {
            None | Some("skip_field") => OnError::SkipField,
            Some("keep") => OnError::Keep,
            Some("blank") => OnError::Blank,
            Some("fail") => OnError::Fail,
            Some(other) => {
                return Err(a.fail(format!(
                    "on_error = `{other}`: expected skip_field, keep, blank or fail"
                )));
            }
        };
        let t = match name {
            "trim" => Self::Trim,
            "lower" => Self::Lower,
            "upper" => Self::Upper,
            "title_case" => Self::TitleCase,
            "collapse_spaces" => Self::CollapseSpaces,
            "strip_html" => Self::StripHtml,
            "html_to_text" => Self::HtmlToText,
            "text_to_html" => Self::TextToHtml,
            "truncate" => Self::Truncate(
                args.get("max")
                    .and_then(Value::as_u64)
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| a.fail("needs `max`, a positive number of characters"))?,
            ),
            "default" => Self::Default(
                args.get("value")
                    .cloned()
                    .ok_or_else(|| a.fail("needs `value`"))?,
            ),
            "coalesce" => Self::Coalesce(a.paths("paths")?),
            "concat" => Self::Concat {
                paths: a.paths("paths")?,
                sep: a.text("sep")?.unwrap_or_else(|| " ".to_owned()),
            },
            "split" => Self::Split(a.text("sep")?.unwrap_or_else(|| ",".to_owned())),
            "join" => Self::Join(a.text("sep")?.unwrap_or_else(|| ",".to_owned())),
            "split_name" => Self::SplitName(match a.need_text("part")?.as_str() {
                "first" => NamePart::First,
                "last" => NamePart::Last,
                other => return Err(a.fail(format!("part = `{other}`: expected first or last"))),
            }),
            "phone_e164" => Self::PhoneE164(a.region()?),
            "phone_national" => Self::PhoneNational(a.region()?),
            "email_normalise" | "email_normalize" => Self::EmailNormalise,
            "parse_date" => Self::ParseDate {
                format: a.text("format")?,
                tz: a.tz()?,
            },
            "format_date" => Self::FormatDate {
                format: a.need_text("format")?,
                tz: a.tz()?,
            },
            "to_timezone" => Self::ToTimezone({
                a.need_text("tz")?;
                a.tz()?
            }),
            "to_number" => Self::ToNumber,
            "to_text" => Self::ToText,
            "to_bool" => Self::ToBool,
            "lookup" => {
                let table = a.need_text("table")?;
                let entries = tables
                    .get(&table)
                    .ok_or_else(|| {
                        a.fail(format!(
                            "there is no table `{table}` (add a [tables.{table}] section)"
                        ))
                    })?
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let missing = match args.get("default") {
                    None => Missing::Keep,
                    Some(Value::String(s)) if s == "keep" => Missing::Keep,
                    Some(Value::String(s)) if s == "blank" => Missing::Blank,
                    Some(v) => Missing::Value(v.clone()),
                };
                Self::Lookup {
                    table,
                    entries,
                    missing,
                }
            }
            "regex_replace" => {
                let (pattern, re) = a.regex()?;
                Self::RegexReplace {
                    pattern,
                    re,
                    with: a.text("with")?.unwrap_or_default(),
                }
            }
            "regex_extract" => {
                let (pattern, re) = a.regex()?;
                let group = args
                    .get("group")
                    .and_then(Value::as_u64)
                    .and_then(|g| usize::try_from(g).ok())
                    .unwrap_or(usize::from(re.captures_len() > 1));
                if group >= re.captures_len() {
                    return Err(a.fail(format!("`{pattern}` has no group {group}")));
                }
                Self::RegexExtract { pattern, re, group }
            }
            "set_add" => Self::SetAdd(a.values("values")?),
            "set_remove" => Self::SetRemove(a.values("values")?),
            "expr" => Self::Expr(
                super::expr::Expr::compile(&a.need_text("expr")?).map_err(|e| a.fail(e))?,
            ),
            "set_union" => Self::SetUnion(
                a.paths("path")?
                    .into_iter()
                    .next()
                    .ok_or_else(|| a.fail("needs `path`"))?,
            ),
            other => {
                return Err(a.fail(format!(
                    "`{other}` is not a transform; the built-ins are: {}",
                    BUILTINS.join(", ")
                )));
            }
        };
        Ok((t, on_error))
    }

    /// Its name in a sync file.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Trim => "trim",
            Self::Lower => "lower",
            Self::Upper => "upper",
            Self::TitleCase => "title_case",
            Self::CollapseSpaces => "collapse_spaces",
            Self::StripHtml => "strip_html",
            Self::HtmlToText => "html_to_text",
            Self::TextToHtml => "text_to_html",
            Self::Truncate(_) => "truncate",
            Self::Default(_) => "default",
            Self::Coalesce(_) => "coalesce",
            Self::Concat { .. } => "concat",
            Self::Split(_) => "split",
            Self::SplitName(_) => "split_name",
            Self::Join(_) => "join",
            Self::PhoneE164(_) => "phone_e164",
            Self::PhoneNational(_) => "phone_national",
            Self::EmailNormalise => "email_normalise",
            Self::ParseDate { .. } => "parse_date",
            Self::FormatDate { .. } => "format_date",
            Self::ToTimezone(_) => "to_timezone",
            Self::ToNumber => "to_number",
            Self::ToText => "to_text",
            Self::ToBool => "to_bool",
            Self::Lookup { .. } => "lookup",
            Self::RegexReplace { .. } => "regex_replace",
            Self::RegexExtract { .. } => "regex_extract",
            Self::SetAdd(_) => "set_add",
            Self::SetRemove(_) => "set_remove",
            Self::SetUnion(_) => "set_union",
            Self::Expr(_) => "expr",
        }
    }

    /// What undoes it (see the module docs).
    pub fn inverse(&self) -> Inverse {
        match self {
            Self::Trim
            | Self::Lower
            | Self::Upper
            | Self::TitleCase
            | Self::CollapseSpaces
            | Self::PhoneE164(_)
            | Self::PhoneNational(_)
            | Self::EmailNormalise
            | Self::ToTimezone(_) => Inverse::Normaliser,
            // Without a format, a time in any form becomes RFC 3339 in UTC: the
            // same instant written the same way, whatever the side wrote.
            Self::ParseDate { format: None, .. } => Inverse::Normaliser,
            Self::HtmlToText => Inverse::Exact(Self::TextToHtml),
            Self::TextToHtml => Inverse::Exact(Self::HtmlToText),
            Self::ToNumber => Inverse::Exact(Self::ToText),
            Self::ToText => Inverse::Exact(Self::ToNumber),
            Self::Split(sep) => Inverse::Exact(Self::Join(sep.clone())),
            Self::Join(sep) => Inverse::Exact(Self::Split(sep.clone())),
            Self::ParseDate {
                format: Some(format),
                tz,
            } => Inverse::Exact(Self::FormatDate {
                format: format.clone(),
                tz: tz.clone(),
            }),
            Self::FormatDate { format, tz } => Inverse::Exact(Self::ParseDate {
                format: Some(format.clone()),
                tz: tz.clone(),
            }),
            Self::Lookup { table, entries, .. } => {
                let mut reversed: Vec<(String, Value)> = Vec::new();
                for (k, v) in entries {
                    let Value::String(to) = v else {
                        return Inverse::Lossy;
                    };
                    if reversed.iter().any(|(r, _)| r == to) {
                        return Inverse::Lossy;
                    }
                    reversed.push((to.clone(), Value::String(k.clone())));
                }
                Inverse::Exact(Self::Lookup {
                    table: format!("{table} (reversed)"),
                    entries: reversed,
                    missing: Missing::Keep,
                })
            }
            _ => Inverse::Lossy,
        }
    }

    /// Applies it to `v`; `record` is the record `v` was read from. `Err` says why
    /// the value cannot be transformed.
    pub fn apply(&self, v: Value, record: &Value) -> Result<Value, String> {
        match self {
            Self::Expr(e) => return e.eval(&v, record),
            Self::Default(d) => return Ok(if is_blank(&v) { d.clone() } else { v }),
            Self::Coalesce(paths) => {
                if !is_blank(&v) {
                    return Ok(v);
                }
                return Ok(paths
                    .iter()
                    .map(|p| p.get(record))
                    .find(|x| !is_blank(x))
                    .unwrap_or(Value::Null));
            }
            Self::Concat { paths, sep } => {
                let parts: Vec<String> = std::iter::once(v)
                    .chain(paths.iter().map(|p| p.get(record)))
                    .filter(|x| !is_blank(x))
                    .map(|x| text(&x))
                    .collect();
                return Ok(if parts.is_empty() {
                    Value::Null
                } else {
                    Value::String(parts.join(sep))
                });
            }
            Self::SetAdd(values) => {
                let mut items = set_items(&v);
                for x in values {
                    if !items.iter().any(|i| same(i, x, false)) {
                        items.push(x.clone());
                    }
                }
                return Ok(Value::Array(items));
            }
            Self::SetRemove(values) => {
                let items = set_items(&v)
                    .into_iter()
                    .filter(|i| !values.iter().any(|x| same(i, x, false)))
                    .collect();
                return Ok(Value::Array(items));
            }
            Self::SetUnion(path) => {
                let mut items = set_items(&v);
                for x in set_items(&path.get(record)) {
                    if !items.iter().any(|i| same(i, &x, false)) {
                        items.push(x);
                    }
                }
                return Ok(Value::Array(items));
            }
            Self::Join(sep) => {
                return match v {
                    list if is_blank(&list) => Ok(Value::Null),
                    Value::Array(items) => Ok(Value::String(
                        items
                            .iter()
                            .map(|x| if x.is_null() { String::new() } else { text(x) })
                            .collect::<Vec<_>>()
                            .join(sep),
                    )),
                    Value::Object(_) => Err("an object is not a list to join".to_owned()),
                    Value::Null => Ok(Value::Null),
                    one => Ok(Value::String(text(&one))),
                };
            }
            _ => {}
        }
        if is_blank(&v) {
            return Ok(v);
        }
        if let Value::Array(items) = v {
            if let Self::Split(_) = self {
                // Each item's text, split.
                let mut out = Vec::new();
                for x in items {
                    if let Value::Array(parts) = self.apply_one(Value::String(text(&x)))? {
                        out.extend(parts);
                    }
                }
                return Ok(Value::Array(out));
            }
            return items
                .into_iter()
                .map(|x| self.apply(x, record))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array);
        }
        self.apply_one(v)
    }

    fn apply_one(&self, v: Value) -> Result<Value, String> {
        let s = text(&v);
        let out = |t: String| Ok(Value::String(t));
        match self {
            Self::Trim => out(s.trim().to_owned()),
            Self::Lower => out(s.to_lowercase()),
            Self::Upper => out(s.to_uppercase()),
            Self::TitleCase => out(title_case(&s)),
            Self::CollapseSpaces => out(s.split_whitespace().collect::<Vec<_>>().join(" ")),
            Self::StripHtml => out(strip_html(&s)),
            Self::HtmlToText => out(super::html::html_to_text(&s)),
            Self::TextToHtml => out(super::html::text_to_html(&s)),
            Self::Truncate(max) => out(s.chars().take(*max).collect()),
            // Exactly undone by `join` (add `trim` after it to trim the parts).
            Self::Split(sep) => Ok(Value::Array(
                s.split(sep.as_str())
                    .map(|p| Value::String(p.to_owned()))
                    .collect(),
            )),
            Self::SplitName(part) => {
                let s = s.trim();
                let (first, last) = match s.rsplit_once(char::is_whitespace) {
                    Some((f, l)) => (f.trim(), l.trim()),
                    None => (s, ""),
                };
                let pick = match part {
                    NamePart::First => first,
                    NamePart::Last => last,
                };
                Ok(if pick.is_empty() {
                    Value::Null
                } else {
                    Value::String(pick.to_owned())
                })
            }
            Self::PhoneE164(region) => Phone::parse(&s, region.as_deref())
                .map(|p| Value::String(p.e164().to_owned()))
                .map_err(|e| e.to_string()),
            Self::PhoneNational(region) => Phone::parse(&s, region.as_deref())
                .map(|p| Value::String(p.national()))
                .map_err(|e| e.to_string()),
            Self::EmailNormalise => Email::parse(&s)
                .map(|e| Value::String(e.match_key()))
                .map_err(|e| e.to_string()),
            Self::ParseDate { format, tz } => {
                parse_instant(&v, format.as_deref(), tz).map(|t| Value::String(t.to_string()))
            }
            Self::FormatDate { format, tz } => {
                let t = parse_instant(&v, None, "UTC")?;
                let zoned = t.in_tz(tz).map_err(|e| e.to_string())?;
                jiff::fmt::strtime::format(format, &zoned)
                    .map(Value::String)
                    .map_err(|e| format!("cannot format `{s}` as `{format}`: {e}"))
            }
            Self::ToTimezone(tz) => {
                let t = parse_instant(&v, None, "UTC")?;
                let zoned = t.in_tz(tz).map_err(|e| e.to_string())?;
                out(zoned
                    .timestamp()
                    .display_with_offset(zoned.offset())
                    .to_string())
            }
            Self::ToNumber => match &v {
                Value::Number(_) => Ok(v),
                _ => {
                    let clean: String = s.trim().chars().filter(|c| *c != ',').collect();
                    if let Ok(i) = clean.parse::<i64>() {
                        return Ok(Value::from(i));
                    }
                    clean
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(Value::Number)
                        .ok_or_else(|| format!("`{s}` is not a number"))
                }
            },
            Self::ToText => out(s),
            Self::ToBool => match &v {
                Value::Bool(_) => Ok(v),
                Value::Number(n) => Ok(Value::Bool(n.as_f64() != Some(0.0))),
                _ => match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "yes" | "y" | "1" | "on" => Ok(Value::Bool(true)),
                    "false" | "no" | "n" | "0" | "off" => Ok(Value::Bool(false)),
                    _ => Err(format!("`{s}` is not yes/no")),
                },
            },
            Self::Lookup {
                entries, missing, ..
            } => Ok(entries
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(s.trim()))
                .map(|(_, to)| to.clone())
                .unwrap_or_else(|| match missing {
                    Missing::Keep => v.clone(),
                    Missing::Blank => Value::Null,
                    Missing::Value(d) => d.clone(),
                })),
            Self::RegexReplace { re, with, .. } => {
                out(re.replace_all(&s, with.as_str()).into_owned())
            }
            Self::RegexExtract { re, group, .. } => Ok(re
                .captures(&s)
                .and_then(|c| c.get(*group))
                .map_or(Value::Null, |m| Value::String(m.as_str().to_owned()))),
            Self::Default(_)
            | Self::Coalesce(_)
            | Self::Concat { .. }
            | Self::Join(_)
            | Self::SetAdd(_)
            | Self::SetRemove(_)
            | Self::SetUnion(_)
            | Self::Expr(_) => unreachable!("handled in apply"),
        }
    }
}

impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value as text (strings as they are, others as JSON).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = c.is_whitespace() || c == '-' || c == '\'';
    }
    out
}

fn strip_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Epoch ms of a time in any form `parse_date` reads (UTC where none is given).
pub fn instant_ms(v: &Value) -> Option<i64> {
    parse_instant(v, None, "UTC")
        .ok()
        .map(|t| t.as_millisecond())
}

/// An instant from epoch ms, RFC 3339, a date (midnight in `tz`), a date-time
/// without offset (in `tz`), or text in `format`.
fn parse_instant(v: &Value, format: Option<&str>, tz: &str) -> Result<jiff::Timestamp, String> {
    if let Value::Number(n) = v {
        let ms = n
            .as_i64()
            .ok_or_else(|| format!("{n} is not epoch milliseconds"))?;
        return jiff::Timestamp::from_millisecond(ms).map_err(|e| e.to_string());
    }
    let s = text(v);
    let s = s.trim();
    if let Some(format) = format {
        let parsed = jiff::fmt::strtime::BrokenDownTime::parse(format, s)
            .map_err(|e| format!("`{s}` does not match `{format}`: {e}"))?;
        if let Ok(t) = parsed.to_timestamp() {
            return Ok(t);
        }
        let dt = parsed
            .to_datetime()
            .or_else(|_| {
                parsed
                    .to_date()
                    .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
            })
            .map_err(|e| format!("`{s}` as `{format}`: {e}"))?;
        return dt
            .in_tz(tz)
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string());
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
        return dt
            .in_tz(tz)
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string());
    }
    if let Ok(ms) = s.parse::<i64>() {
        return jiff::Timestamp::from_millisecond(ms).map_err(|e| e.to_string());
    }
    // Lofty writes `2026-03-01T15:00:00GMT` and `2026-03-01 15:00:00` (UTC).
    let civil = s.strip_suffix("GMT").unwrap_or(s).replacen(' ', "T", 1);
    if let Ok(dt) = civil.parse::<jiff::civil::DateTime>() {
        let zone = if civil.len() < s.len() { "UTC" } else { tz };
        return dt
            .in_tz(zone)
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string());
    }
    Err(format!(
        "`{s}` is not a date or time (expected RFC 3339, YYYY-MM-DD, epoch ms, or set `format`)"
    ))
}

/// A list of transforms, run in order.
#[derive(Debug, Clone, Default)]
pub struct Chain(pub Vec<(Transform, OnError)>);

/// Why a chain did not give a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// The field is not written this time.
    Skip(String),
    /// The record fails.
    Fail(String),
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Skip(r) | Self::Fail(r) => f.write_str(r),
        }
    }
}

impl Chain {
    pub fn compile(specs: &[TransformSpec], tables: &Tables) -> Result<Self, TransformError> {
        specs
            .iter()
            .map(|s| Transform::compile(s, tables))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether it reads other fields of the record (an expression, `coalesce`,
    /// `concat`, `set_union`), not only the value.
    pub fn reads_record(&self) -> bool {
        self.0.iter().any(|(t, _)| {
            matches!(
                t,
                Transform::Expr(_)
                    | Transform::Coalesce(_)
                    | Transform::Concat { .. }
                    | Transform::SetUnion(_)
            )
        })
    }

    pub fn apply(&self, mut v: Value, record: &Value) -> Result<Value, ChainError> {
        for (t, on_error) in &self.0 {
            v = match t.apply(v.clone(), record) {
                Ok(x) => x,
                Err(reason) => {
                    let reason = format!("{t}: {reason}");
                    match on_error {
                        OnError::SkipField => return Err(ChainError::Skip(reason)),
                        OnError::Fail => return Err(ChainError::Fail(reason)),
                        OnError::Keep => v,
                        OnError::Blank => Value::Null,
                    }
                }
            };
        }
        Ok(v)
    }

    /// The chain that maps the other way: the inverses in reverse order (a
    /// normaliser normalises both ways). `Err` names the first transform nothing
    /// undoes.
    pub fn inverse(&self) -> Result<Self, &'static str> {
        let mut out = Vec::new();
        for (t, on_error) in self.0.iter().rev() {
            match t.inverse() {
                Inverse::Normaliser => out.push((t.clone(), *on_error)),
                Inverse::Exact(inv) => out.push((inv, *on_error)),
                Inverse::Lossy => return Err(t.name()),
            }
        }
        Ok(Self(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(spec: Value) -> Transform {
        let spec: TransformSpec = serde_json::from_value(spec).unwrap();
        let mut tables = Tables::new();
        tables.insert(
            "sources".to_owned(),
            [
                ("web".to_owned(), json!("Website")),
                ("zillow".to_owned(), json!("Zillow")),
            ]
            .into_iter()
            .collect(),
        );
        Transform::compile(&spec, &tables).unwrap().0
    }

    fn run(spec: Value, v: Value) -> Result<Value, String> {
        let record = json!({"firstName": "Ann", "lastName": "Lee", "email": "", "alt": "x@y.io", "extra": ["b", "c"]});
        t(spec).apply(v, &record)
    }

    #[test]
    fn text_transforms() {
        assert_eq!(run(json!("trim"), json!("  a b ")).unwrap(), json!("a b"));
        assert_eq!(run(json!("lower"), json!("AbC")).unwrap(), json!("abc"));
        assert_eq!(run(json!("upper"), json!("abc")).unwrap(), json!("ABC"));
        assert_eq!(
            run(json!("title_case"), json!("mary-ann o'neil")).unwrap(),
            json!("Mary-Ann O'Neil")
        );
        assert_eq!(
            run(json!("collapse_spaces"), json!(" a \n  b ")).unwrap(),
            json!("a b")
        );
        assert_eq!(
            run(
                json!("strip_html"),
                json!("<p>Hi&nbsp;<b>there</b> &amp; you</p>")
            )
            .unwrap(),
            json!("Hi there & you")
        );
        assert_eq!(
            run(json!({"fn": "truncate", "max": 3}), json!("abcdef")).unwrap(),
            json!("abc")
        );
        assert_eq!(
            run(
                json!({"fn": "regex_replace", "pattern": "[^0-9]", "with": ""}),
                json!("(555) 12-3")
            )
            .unwrap(),
            json!("555123")
        );
        assert_eq!(
            run(
                json!({"fn": "regex_extract", "pattern": "#(\\d+)"}),
                json!("order #42 ok")
            )
            .unwrap(),
            json!("42")
        );
        // Arrays: item by item.
        assert_eq!(
            run(json!("trim"), json!([" a", "b "])).unwrap(),
            json!(["a", "b"])
        );
    }

    #[test]
    fn structure_transforms() {
        assert_eq!(
            run(json!({"fn": "default", "value": "n/a"}), json!("")).unwrap(),
            json!("n/a")
        );
        assert_eq!(
            run(
                json!({"fn": "coalesce", "paths": ["email", "alt"]}),
                json!(null)
            )
            .unwrap(),
            json!("x@y.io")
        );
        assert_eq!(
            run(json!({"fn": "concat", "paths": ["lastName"]}), json!("Ann")).unwrap(),
            json!("Ann Lee")
        );
        assert_eq!(
            run(json!({"fn": "split", "sep": ";"}), json!("a; b;c")).unwrap(),
            json!(["a", " b", "c"])
        );
        assert_eq!(
            run(json!({"fn": "join", "sep": ", "}), json!(["a", "b"])).unwrap(),
            json!("a, b")
        );
        assert_eq!(
            run(
                json!({"fn": "split_name", "part": "first"}),
                json!("Mary Ann Lee")
            )
            .unwrap(),
            json!("Mary Ann")
        );
        assert_eq!(
            run(
                json!({"fn": "split_name", "part": "last"}),
                json!("Mary Ann Lee")
            )
            .unwrap(),
            json!("Lee")
        );
        assert_eq!(
            run(json!({"fn": "split_name", "part": "last"}), json!("Cher")).unwrap(),
            json!(null)
        );
        assert_eq!(
            run(json!({"fn": "set_add", "values": ["x"]}), json!(["a", "x"])).unwrap(),
            json!(["a", "x"])
        );
        assert_eq!(
            run(
                json!({"fn": "set_remove", "values": ["a"]}),
                json!(["a", "b"])
            )
            .unwrap(),
            json!(["b"])
        );
        assert_eq!(
            run(
                json!({"fn": "set_union", "path": "extra"}),
                json!(["a", "b"])
            )
            .unwrap(),
            json!(["a", "b", "c"])
        );
        assert_eq!(
            run(json!({"fn": "lookup", "table": "sources"}), json!("WEB")).unwrap(),
            json!("Website")
        );
        assert_eq!(
            run(json!({"fn": "lookup", "table": "sources"}), json!("other")).unwrap(),
            json!("other")
        );
        assert_eq!(
            run(
                json!({"fn": "lookup", "table": "sources", "default": "blank"}),
                json!("other")
            )
            .unwrap(),
            json!(null)
        );
    }

    #[test]
    fn typed_transforms() {
        assert_eq!(
            run(
                json!({"fn": "phone_e164", "region": "US"}),
                json!("(415) 555-0123")
            )
            .unwrap(),
            json!("+14155550123")
        );
        assert_eq!(
            run(
                json!({"fn": "phone_national", "region": "US"}),
                json!("+14155550123")
            )
            .unwrap(),
            json!("(415) 555-0123")
        );
        assert!(run(json!({"fn": "phone_e164", "region": "US"}), json!("12")).is_err());
        assert_eq!(
            run(json!("email_normalise"), json!(" Ann@Example.COM ")).unwrap(),
            json!("ann@example.com")
        );
        assert_eq!(
            run(json!("to_number"), json!("1,250.5")).unwrap(),
            json!(1250.5)
        );
        assert_eq!(run(json!("to_number"), json!("42")).unwrap(), json!(42));
        assert!(run(json!("to_number"), json!("lots")).is_err());
        assert_eq!(run(json!("to_text"), json!(42)).unwrap(), json!("42"));
        assert_eq!(run(json!("to_bool"), json!("Yes")).unwrap(), json!(true));
        assert_eq!(
            run(
                json!({"fn": "parse_date", "format": "%Y-%m-%dT%H:%M:%SGMT"}),
                json!("2026-12-01T10:30:00GMT")
            )
            .unwrap(),
            json!("2026-12-01T10:30:00Z")
        );
        assert_eq!(
            run(json!("parse_date"), json!(1_764_585_000_000_i64)).unwrap(),
            json!("2025-12-01T10:30:00Z")
        );
        assert_eq!(
            run(
                json!({"fn": "parse_date", "tz": "America/New_York"}),
                json!("2026-07-01T09:00:00")
            )
            .unwrap(),
            json!("2026-07-01T13:00:00Z")
        );
        assert_eq!(
            run(
                json!({"fn": "format_date", "format": "%d/%m/%Y %H:%M", "tz": "Europe/Paris"}),
                json!("2026-12-01T10:30:00Z")
            )
            .unwrap(),
            json!("01/12/2026 11:30")
        );
        assert_eq!(
            run(
                json!({"fn": "to_timezone", "tz": "Asia/Tokyo"}),
                json!("2026-12-01T10:30:00Z")
            )
            .unwrap(),
            json!("2026-12-01T19:30:00+09:00")
        );
        // Blanks pass through.
        assert_eq!(
            run(json!({"fn": "phone_e164", "region": "US"}), json!("")).unwrap(),
            json!("")
        );
    }

    #[test]
    fn bad_calls_name_the_fix() {
        let tables = Tables::new();
        for (spec, why) in [
            (
                json!("trimm"),
                "is not a transform; the built-ins are: trim",
            ),
            (json!({"fn": "truncate"}), "needs `max`"),
            (
                json!({"fn": "lookup", "table": "nope"}),
                "add a [tables.nope] section",
            ),
            (
                json!({"fn": "phone_e164", "region": "XX"}),
                "not an ISO 3166 country",
            ),
            (
                json!({"fn": "format_date", "format": "%Y", "tz": "Mars/Base"}),
                "not an IANA time zone",
            ),
            (
                json!({"fn": "regex_replace", "pattern": "("}),
                "not a regular expression",
            ),
            (
                json!({"fn": "trim", "on_error": "explode"}),
                "expected skip_field",
            ),
        ] {
            let spec: TransformSpec = serde_json::from_value(spec).unwrap();
            let err = Transform::compile(&spec, &tables).unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn inverses() {
        let chain = |specs: Value| {
            let specs: Vec<TransformSpec> = serde_json::from_value(specs).unwrap();
            let mut tables = Tables::new();
            tables.insert(
                "t".to_owned(),
                [("a".to_owned(), json!("A")), ("b".to_owned(), json!("A"))]
                    .into_iter()
                    .collect(),
            );
            Chain::compile(&specs, &tables).unwrap()
        };
        let names = |c: Chain| c.0.iter().map(|(t, _)| t.name()).collect::<Vec<_>>();
        // Normalisers normalise both ways; exact pairs swap; in reverse order.
        assert_eq!(
            names(chain(json!(["trim", "lower"])).inverse().unwrap()),
            ["lower", "trim"]
        );
        assert_eq!(
            names(chain(json!(["trim", "to_number"])).inverse().unwrap()),
            ["to_text", "trim"]
        );
        assert_eq!(
            chain(json!([{"fn": "truncate", "max": 2}]))
                .inverse()
                .unwrap_err(),
            "truncate"
        );
        // A lookup that maps two values to one cannot be undone.
        assert_eq!(
            chain(json!([{"fn": "lookup", "table": "t"}]))
                .inverse()
                .unwrap_err(),
            "lookup"
        );
    }

    #[test]
    fn on_error_policies() {
        let chain = |on_error: &str| {
            let spec: TransformSpec =
                serde_json::from_value(json!({"fn": "to_number", "on_error": on_error})).unwrap();
            Chain::compile(&[spec], &Tables::new()).unwrap()
        };
        let r = json!({});
        assert!(matches!(
            chain("skip_field").apply(json!("x"), &r),
            Err(ChainError::Skip(_))
        ));
        assert!(matches!(
            chain("fail").apply(json!("x"), &r),
            Err(ChainError::Fail(_))
        ));
        assert_eq!(chain("keep").apply(json!("x"), &r).unwrap(), json!("x"));
        assert_eq!(chain("blank").apply(json!("x"), &r).unwrap(), Value::Null);
    }
}
