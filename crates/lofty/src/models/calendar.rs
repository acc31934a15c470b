//! The V2 calendar: tasks and appointments named by composite string ids.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};

use super::lenient;

/// Whether a calendar entry is a task or an appointment.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum CalendarEntryType {
    Task,
    Appointment,
}

impl CalendarEntryType {
    fn suffix(self) -> &'static str {
        match self {
            Self::Task => "task",
            Self::Appointment => "appointment",
        }
    }
}

/// A composite calendar id, `"<taskId>-task"` or `"<taskId>-appointment"`.
///
/// Lofty requires the string back exactly as it gave it; parsing it keeps the task id
/// (usable with `/v2.0/tasks/{taskId}`) and the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CalendarId {
    /// The id in the shared task namespace.
    pub task_id: i64,
    pub kind: CalendarEntryType,
}

impl CalendarId {
    /// The id of an appointment.
    pub fn appointment(task_id: i64) -> Self {
        Self {
            task_id,
            kind: CalendarEntryType::Appointment,
        }
    }

    /// The id of a task.
    pub fn task(task_id: i64) -> Self {
        Self {
            task_id,
            kind: CalendarEntryType::Task,
        }
    }
}

impl fmt::Display for CalendarId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.task_id, self.kind.suffix())
    }
}

impl FromStr for CalendarId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("not a Lofty calendar id (`<id>-task` or `<id>-appointment`): {s:?}");
        let (id, suffix) = s.trim().rsplit_once('-').ok_or_else(bad)?;
        let kind = match suffix {
            "task" => CalendarEntryType::Task,
            "appointment" => CalendarEntryType::Appointment,
            _ => return Err(bad()),
        };
        let task_id = id.parse().map_err(|_| bad())?;
        Ok(Self { task_id, kind })
    }
}

impl schemars::JsonSchema for CalendarId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CalendarId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9]+-(task|appointment)$",
            "description": "A calendar entry id, `<taskId>-task` or `<taskId>-appointment`.",
        })
    }
}

impl Serialize for CalendarId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CalendarId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A calendar entry (`CalendarItemV2`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CalendarItem {
    pub id: CalendarId,
    /// TASK or APPOINTMENT.
    #[serde(rename = "type", default)]
    pub entry_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_id")]
    pub task_id: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_id")]
    pub lead_id: Option<i64>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub finished: Option<bool>,
    /// ISO 8601 with offset.
    #[serde(default)]
    pub start_at: Option<String>,
    #[serde(default)]
    pub end_at: Option<String>,
    #[serde(default)]
    pub start_at_ms: Option<i64>,
    #[serde(default)]
    pub end_at_ms: Option<i64>,
    #[serde(default)]
    pub time_zone_code: Option<String>,
    #[serde(default)]
    pub source_type: Option<i64>,
    /// Fields not modelled above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `data` of `GET /v2.0/calendar`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct CalendarPage {
    pub total: Option<i64>,
    /// 0-based.
    pub page: Option<i64>,
    pub page_size: Option<i64>,
    #[serde(deserialize_with = "lenient::list")]
    pub items: Vec<CalendarItem>,
}

/// Query of `GET /v2.0/calendar`; at least one of the time bounds is required.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarQuery {
    pub lead_id: Option<i64>,
    /// ISO 8601 with offset.
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub start_time_ms: Option<i64>,
    pub end_time_ms: Option<i64>,
    pub time_zone_code: Option<String>,
    /// Also return finished entries (Lofty's default: only open ones).
    pub include_finished: Option<bool>,
    /// 0-based page.
    pub page: Option<u32>,
    /// At most 500.
    pub page_size: Option<u32>,
    pub sort: Option<String>,
    pub desc: Option<bool>,
}

impl CalendarQuery {
    /// Entries starting between `from` and `to`.
    pub fn between(from: DateTime<FixedOffset>, to: DateTime<FixedOffset>) -> Self {
        Self {
            start_time: Some(from.to_rfc3339_opts(SecondsFormat::Secs, false)),
            end_time: Some(to.to_rfc3339_opts(SecondsFormat::Secs, false)),
            ..Self::default()
        }
    }

    /// The input of `lofty-list-calendar-events`.
    pub fn to_input(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in [
            ("leadId", json!(self.lead_id)),
            ("startTime", json!(self.start_time)),
            ("endTime", json!(self.end_time)),
            ("startTimeMs", json!(self.start_time_ms)),
            ("endTimeMs", json!(self.end_time_ms)),
            ("timeZoneCode", json!(self.time_zone_code)),
            ("includeFinished", json!(self.include_finished)),
            ("page", json!(self.page)),
            ("pageSize", json!(self.page_size)),
            ("sort", json!(self.sort)),
            ("desc", json!(self.desc)),
        ] {
            if !v.is_null() {
                m.insert(k.to_owned(), v);
            }
        }
        Value::Object(m)
    }
}

/// Body of `POST /v2.0/calendar`. Start and end must lie in the future.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateCalendarEvent {
    #[serde(rename = "type")]
    pub entry_type: CalendarEntryType,
    pub content: String,
    pub lead_id: i64,
    /// IANA zone, e.g. `America/Chicago`.
    pub time_zone_code: String,
    /// ISO 8601 with offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_at_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_at_ms: Option<i64>,
    /// Call, Email, Text or Other; required for tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_way: Option<String>,
    /// Agent or Assistant (tasks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_role: Option<String>,
    /// Where (appointments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl CreateCalendarEvent {
    /// An appointment from `start` to `end`.
    pub fn appointment(
        lead_id: i64,
        content: impl Into<String>,
        start: DateTime<FixedOffset>,
        end: DateTime<FixedOffset>,
        time_zone_code: impl Into<String>,
    ) -> Self {
        Self {
            entry_type: CalendarEntryType::Appointment,
            content: content.into(),
            lead_id,
            time_zone_code: time_zone_code.into(),
            start_at: Some(start.to_rfc3339_opts(SecondsFormat::Secs, false)),
            end_at: Some(end.to_rfc3339_opts(SecondsFormat::Secs, false)),
            start_at_ms: None,
            end_at_ms: None,
            task_way: None,
            assigned_role: None,
            address: None,
        }
    }

    /// A task (`task_way`: Call, Email, Text or Other) from `start` to `end`.
    pub fn task(
        lead_id: i64,
        content: impl Into<String>,
        task_way: impl Into<String>,
        start: DateTime<FixedOffset>,
        end: DateTime<FixedOffset>,
        time_zone_code: impl Into<String>,
    ) -> Self {
        Self {
            entry_type: CalendarEntryType::Task,
            task_way: Some(task_way.into()),
            assigned_role: Some("Agent".to_owned()),
            ..Self::appointment(lead_id, content, start, end, time_zone_code)
        }
    }
}

/// `data` of `POST /v2.0/calendar`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CalendarCreated {
    pub id: CalendarId,
    #[serde(rename = "type", default)]
    pub entry_type: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// Body of `PUT /v2.0/calendar/{id}`: only the fields set are changed; new times must
/// lie in the future.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateCalendarEvent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_at_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_at_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reminder_type: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reminder_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_ids_round_trip() {
        let id: CalendarId = "9007199254740993-appointment".parse().unwrap();
        assert_eq!(id, CalendarId::appointment(9_007_199_254_740_993));
        assert_eq!(id.to_string(), "9007199254740993-appointment");
        assert_eq!(
            serde_json::to_value(id).unwrap(),
            json!("9007199254740993-appointment")
        );
        assert!("12-meeting".parse::<CalendarId>().is_err());
        assert!("task".parse::<CalendarId>().is_err());
        assert!("x-task".parse::<CalendarId>().is_err());
    }
}
