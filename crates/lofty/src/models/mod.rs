//! Serde models of Lofty requests and answers.
//!
//! - Ids are 64-bit integers (`i64`), decoded straight from the JSON number (never
//!   through `f64`) and also accepted as numeric strings, which some Lofty answers use.
//! - Answers keep every field Lofty sends: known ones are typed, the rest land in an
//!   `extra` map, so nothing is lost when Lofty adds a field.
//! - Request bodies serialize only the fields that are set (`None` is not sent), because
//!   Lofty's updates are partial: an absent field is left alone.
//! - Times stay strings as Lofty sends them (four formats, see [`crate::time`]).

pub mod calendar;
pub mod leads;
pub mod notes;
pub mod tasks;
pub mod team;
pub mod webhooks;

pub use calendar::{
    CalendarCreated, CalendarEntryType, CalendarId, CalendarItem, CalendarPage, CalendarQuery,
    CreateCalendarEvent, UpdateCalendarEvent,
};
pub use leads::{
    CreateLead, CustomAttribute, Lead, LeadDetails, LeadFamilyMember, LeadPage, LeadQuery, LeadTag,
    LeadTransaction, OwnershipScope, UpdateLead,
};
pub use notes::{Note, NoteInput};
pub use tasks::{AssignedRole, CreateTask, MyTasksQuery, Task, TaskType, UpdateTask};
pub use team::{
    CreateCustomField, CustomField, CustomFieldType, Member, MemberPage, MemberQuery, Pipeline,
    PipelinePage, PipelineQuery,
};
pub use webhooks::{CreateWebhook, EventList, WebhookSubscription};

use serde::{Deserialize, Serialize};

/// Lofty's list metadata, `_metadata` on the wire (the spec's schema misnames it
/// `get_metadata`, which is accepted too).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct ListMeta {
    /// What the list holds (`leads`, `members`, ...).
    pub collection: Option<String>,
    /// Page size used.
    pub limit: Option<i64>,
    /// Index of the first element of the page.
    pub offset: Option<i64>,
    /// Matching elements before paging.
    pub total: Option<i64>,
    /// Cursor for the next page (leads).
    pub scroll_id: Option<String>,
}

/// `{message}` answers of task and calendar writes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct Message {
    /// Lofty's result message (e.g. "Operation successful").
    pub message: Option<String>,
}

/// Lenient decoders for Lofty's values.
pub(crate) mod lenient {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize, schemars::JsonSchema)]
    #[serde(untagged)]
    enum Id {
        Signed(i64),
        Text(String),
    }

    fn parse<E: serde::de::Error>(id: Id) -> Result<i64, E> {
        match id {
            Id::Signed(n) => Ok(n),
            Id::Text(s) => s
                .trim()
                .parse()
                .map_err(|_| E::custom(format!("not an integer id: {s:?}"))),
        }
    }

    /// A 64-bit id given as a JSON number or a numeric string.
    pub fn id<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        parse(Id::deserialize(d)?)
    }

    /// An optional id (`null` and `""` are `None`).
    pub fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<Id>::deserialize(d)? {
            None => Ok(None),
            Some(Id::Text(s)) if s.trim().is_empty() => Ok(None),
            Some(id) => parse(id).map(Some),
        }
    }

    /// A list that Lofty may send as `null`.
    pub fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_above_2_pow_53_survive() {
        // 2^53 + 1 cannot be represented as f64.
        let raw =
            r#"{"leadId": 9007199254740993, "leadUserId": "9007199254740995", "firstName": "Ava"}"#;
        let lead: Lead = serde_json::from_str(raw).unwrap();
        assert_eq!(lead.lead_id, 9_007_199_254_740_993);
        assert_eq!(lead.lead_user_id, Some(9_007_199_254_740_995));
        let back = serde_json::to_string(&lead).unwrap();
        assert!(back.contains("9007199254740993"), "{back}");
        assert!(serde_json::from_value::<Lead>(json!({"leadId": "x"})).is_err());
    }

    #[test]
    fn metadata_alias() {
        let page: LeadPage =
            serde_json::from_value(json!({"get_metadata": {"total": 3}, "leads": null})).unwrap();
        assert_eq!(page.meta.total, Some(3));
        assert!(page.leads.is_empty());
    }
}
