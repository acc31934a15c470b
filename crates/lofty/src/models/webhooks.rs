//! Webhook subscriptions and the 12 event lists.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::lenient;

/// The event lists a subscription can follow (`listId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventList {
    /// 1: agent created or updated.
    AgentInfo,
    /// 2: lead created, updated or deleted.
    LeadInfo,
    /// 3: site activity (browse, favorite, search).
    LeadActivity,
    /// 4: listing alert changed.
    ListingAlert,
    /// 5: transaction created, updated or deleted.
    Transaction,
    /// 6: manual and logged calls.
    Call,
    /// 7: manual and logged emails.
    Email,
    /// 8: manual and logged texts.
    Text,
    /// 9: note created, updated or deleted.
    Note,
    /// 10: task created, updated, finished or deleted.
    Task,
    /// 11: appointment created, updated, finished or deleted.
    Appointment,
    /// 12: lead pipeline stage changed.
    PipelineChange,
}

impl EventList {
    /// All twelve, by `listId`.
    pub const ALL: [Self; 12] = [
        Self::AgentInfo,
        Self::LeadInfo,
        Self::LeadActivity,
        Self::ListingAlert,
        Self::Transaction,
        Self::Call,
        Self::Email,
        Self::Text,
        Self::Note,
        Self::Task,
        Self::Appointment,
        Self::PipelineChange,
    ];

    /// Lofty's `listId` (1..=12).
    pub fn id(self) -> u8 {
        match self {
            Self::AgentInfo => 1,
            Self::LeadInfo => 2,
            Self::LeadActivity => 3,
            Self::ListingAlert => 4,
            Self::Transaction => 5,
            Self::Call => 6,
            Self::Email => 7,
            Self::Text => 8,
            Self::Note => 9,
            Self::Task => 10,
            Self::Appointment => 11,
            Self::PipelineChange => 12,
        }
    }

    /// The list with this `listId`.
    pub fn from_id(id: i64) -> Option<Self> {
        Self::ALL.iter().copied().find(|l| i64::from(l.id()) == id)
    }

    /// Lofty's name of the list.
    pub fn name(self) -> &'static str {
        match self {
            Self::AgentInfo => "Agent Info",
            Self::LeadInfo => "Lead Info",
            Self::LeadActivity => "Lead Activity",
            Self::ListingAlert => "Listing Alert",
            Self::Transaction => "Transaction",
            Self::Call => "Call",
            Self::Email => "Email",
            Self::Text => "Text",
            Self::Note => "Note",
            Self::Task => "Task",
            Self::Appointment => "Appointment",
            Self::PipelineChange => "Pipeline Change",
        }
    }

    /// The field naming the changed record in this list's payload entries.
    pub fn id_field(self) -> &'static str {
        match self {
            Self::AgentInfo => "userId",
            Self::Transaction => "transactionId",
            Self::Call | Self::Email | Self::Text => "timelineId",
            Self::Note => "noteId",
            Self::Task | Self::Appointment => "taskId",
            Self::LeadInfo | Self::LeadActivity | Self::ListingAlert | Self::PipelineChange => {
                "leadId"
            }
        }
    }
}

impl schemars::JsonSchema for EventList {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EventList".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let ids: Vec<u8> = Self::ALL.iter().map(|l| l.id()).collect();
        let names: Vec<String> = Self::ALL
            .iter()
            .map(|l| format!("{} {}", l.id(), l.name()))
            .collect();
        schemars::json_schema!({
            "type": "integer",
            "enum": ids,
            "description": format!("Lofty's event list (listId): {}", names.join(", ")),
        })
    }
}

impl Serialize for EventList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.id())
    }
}

impl<'de> Deserialize<'de> for EventList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = lenient::id(d)?;
        Self::from_id(id).ok_or_else(|| serde::de::Error::custom(format!("unknown listId {id}")))
    }
}

/// A webhook subscription (`WebhookResponse`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct WebhookSubscription {
    #[serde(deserialize_with = "lenient::id")]
    pub subscribe_id: i64,
    #[serde(deserialize_with = "lenient::opt_id")]
    pub team_id: Option<i64>,
    /// The event list (`listId`, 1..=12).
    #[serde(deserialize_with = "lenient::id")]
    pub list_id: i64,
    #[serde(deserialize_with = "lenient::opt_id")]
    pub vendor_id: Option<i64>,
    pub callback_url: String,
    /// Most events per delivery.
    pub limit: Option<i64>,
    /// 0: assignment-based recipients, 1: ownership-based.
    pub permission_mode: Option<i64>,
    /// Fields not modelled above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl WebhookSubscription {
    /// The event list, if the id is one of the twelve.
    pub fn event_list(&self) -> Option<EventList> {
        EventList::from_id(self.list_id)
    }
}

/// Body of `POST /v1.0/webhook`. The callback must be HTTPS (the field is `callbackUrl`;
/// `url` is refused with 20049).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateWebhook {
    pub list_id: EventList,
    pub callback_url: String,
    /// Most events per delivery, 1..=5000 (Lofty's default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// 0 (default): leads assigned to the subscriber (or all for owners/admins);
    /// 1: also leads in the subscriber's ownership scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = [0, 1]))]
    pub permission_mode: Option<u8>,
}

impl CreateWebhook {
    /// A subscription with Lofty's defaults.
    pub fn new(list: EventList, callback_url: impl Into<String>) -> Self {
        Self {
            list_id: list,
            callback_url: callback_url.into(),
            limit: None,
            permission_mode: None,
        }
    }
}
