//! Helpers shared by the models: lenient deserializers and the generic success body.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Unknown fields of a response, kept verbatim.
pub type Extra = Map<String, Value>;

/// Deserializes `null` (or a missing field, with `#[serde(default)]`) as `T::default()`.
pub(crate) fn nullable<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

/// Accepts a string, number or boolean and keeps it as text; `null` is `None`.
///
/// Used for fields whose JSON type GHL is inconsistent about (times that are sometimes
/// strings and sometimes epoch numbers, dates of birth).
pub(crate) fn lenient_string<'de, D>(de: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Option::<Value>::deserialize(de)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(other) => Some(other.to_string()),
    })
}

/// Body of the "it worked" answers: `{succeded}` (GHL's spelling, most v2 endpoints),
/// `{succeeded}` (calendars) or `{success}` (bulk business).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct SuccessResponse {
    /// GHL's misspelled flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub succeded: Option<bool>,
    /// Correctly spelled flag (calendars).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<bool>,
    /// Flag used by some bulk endpoints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

impl SuccessResponse {
    /// Whether the server reported success. A 2xx without any flag counts as success.
    pub fn is_success(&self) -> bool {
        self.succeded
            .or(self.succeeded)
            .or(self.success)
            .unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_spellings() {
        let a: SuccessResponse = serde_json::from_str(r#"{"succeded":true}"#).unwrap();
        let b: SuccessResponse = serde_json::from_str(r#"{"succeeded":false}"#).unwrap();
        let c: SuccessResponse = serde_json::from_str(r#"{"success":true,"ids":[]}"#).unwrap();
        assert!(a.is_success());
        assert!(!b.is_success());
        assert!(c.is_success());
        assert!(c.extra.contains_key("ids"));
    }
}
