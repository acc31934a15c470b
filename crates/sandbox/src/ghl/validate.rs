//! Request-body validation the way GHL's NestJS `ValidationPipe` does it:
//! unknown properties are rejected ("property X should not exist"), required ones
//! must be present, and types are checked; every problem is reported at once in a
//! 422 `message` array.

use serde_json::{Map, Value};

use super::http::ApiError;

/// The type a DTO property must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Email,
    Bool,
    Num,
    StrArray,
    Array,
    Object,
    /// String, or null (e.g. `businessId` in bulk business, `dateOfBirth`).
    NullableStr,
    /// Anything (undocumented or polymorphic fields).
    Any,
}

/// One property of a DTO.
#[derive(Debug, Clone, Copy)]
pub struct Prop {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

pub const fn opt(name: &'static str, kind: Kind) -> Prop {
    Prop {
        name,
        kind,
        required: false,
    }
}

pub const fn req(name: &'static str, kind: Kind) -> Prop {
    Prop {
        name,
        kind,
        required: true,
    }
}

/// Checks `body` against `props`; returns the object on success.
pub fn check(body: &Value, props: &[Prop]) -> Result<Map<String, Value>, ApiError> {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::unprocessable(vec![
            "request body must be a JSON object".to_owned(),
        ]));
    };
    let mut messages = Vec::new();
    for key in obj.keys() {
        if !props.iter().any(|p| p.name == key) {
            messages.push(format!("property {key} should not exist"));
        }
    }
    for p in props {
        match obj.get(p.name) {
            None | Some(Value::Null) if p.required => {
                messages.push(format!("{} should not be empty", p.name));
                if let Some(m) = type_message(p) {
                    messages.push(m);
                }
            }
            None => {}
            Some(v) => {
                if !fits(p.kind, v)
                    && let Some(m) = type_message(p)
                {
                    messages.push(m);
                }
            }
        }
    }
    if messages.is_empty() {
        Ok(obj.clone())
    } else {
        Err(ApiError::unprocessable(messages))
    }
}

fn fits(kind: Kind, v: &Value) -> bool {
    match kind {
        Kind::Str => v.is_string() || v.is_null(),
        Kind::NullableStr => v.is_string() || v.is_null(),
        Kind::Email => v.is_null() || v.as_str().is_some_and(|s| s.is_empty() || is_email(s)),
        Kind::Bool => v.is_boolean(),
        Kind::Num => v.is_number(),
        Kind::StrArray => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        Kind::Array => v.is_array(),
        Kind::Object => v.is_object() || v.is_null(),
        Kind::Any => true,
    }
}

fn type_message(p: &Prop) -> Option<String> {
    let n = p.name;
    Some(match p.kind {
        Kind::Str | Kind::NullableStr => format!("{n} must be a string"),
        Kind::Email => format!("{n} must be an email"),
        Kind::Bool => format!("{n} must be a boolean value"),
        Kind::Num => format!("{n} must be a number conforming to the specified constraints"),
        Kind::StrArray => format!("each value in {n} must be a string"),
        Kind::Array => format!("{n} must be an array"),
        Kind::Object => format!("{n} must be an object"),
        Kind::Any => return None,
    })
}

/// A plain `local@domain.tld` check, as class-validator's `isEmail` roughly does.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.contains(char::is_whitespace)
}

/// Phone numbers are stored in E.164; 10-digit numbers are taken as US (+1).
pub fn normalize_phone(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return None;
    }
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 7 || digits.len() > 15 {
        return Some(trimmed.to_owned());
    }
    if trimmed.starts_with('+') {
        Some(format!("+{digits}"))
    } else if digits.len() == 10 {
        Some(format!("+1{digits}"))
    } else {
        // 11 digits starting with 1 (North America) and anything longer already
        // carry their country code.
        Some(format!("+{digits}"))
    }
}

/// Contact properties shared by create, update and upsert.
const CONTACT_COMMON: &[Prop] = &[
    opt("firstName", Kind::Str),
    opt("lastName", Kind::Str),
    opt("name", Kind::Str),
    opt("email", Kind::Email),
    opt("phone", Kind::Str),
    opt("address1", Kind::Str),
    opt("city", Kind::Str),
    opt("state", Kind::Str),
    opt("postalCode", Kind::Str),
    opt("website", Kind::Str),
    opt("timezone", Kind::Str),
    opt("dnd", Kind::Bool),
    opt("dndSettings", Kind::Object),
    opt("inboundDndSettings", Kind::Object),
    opt("tags", Kind::StrArray),
    opt("customFields", Kind::Array),
    opt("source", Kind::Str),
    opt("dateOfBirth", Kind::NullableStr),
    opt("country", Kind::Str),
    opt("assignedTo", Kind::Str),
];

fn with(extra: &[Prop]) -> Vec<Prop> {
    CONTACT_COMMON.iter().chain(extra).copied().collect()
}

/// CreateContactDto.
pub fn create_contact() -> Vec<Prop> {
    with(&[
        req("locationId", Kind::Str),
        opt("gender", Kind::Str),
        opt("companyName", Kind::Str),
    ])
}

/// UpdateContactDto (no locationId, gender or companyName).
pub fn update_contact() -> Vec<Prop> {
    with(&[])
}

/// UpsertContactDto.
pub fn upsert_contact() -> Vec<Prop> {
    with(&[
        req("locationId", Kind::Str),
        opt("gender", Kind::Str),
        opt("companyName", Kind::Str),
        opt("createNewIfDuplicateAllowed", Kind::Bool),
    ])
}
