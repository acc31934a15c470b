//! The webhook events GHL posts to an app (the payloads of HighLevel's "Webhook
//! Events" docs), as typed models: what a flow's GHL trigger hands on.
//!
//! Every event carries `type` and `locationId`; contact, note and task events carry
//! the record's fields beside its `id`, appointment events nest the appointment under
//! `appointment`. Fields not named here are kept in `extra`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::models::Extra;

/// `ContactCreate`, `ContactUpdate`, `ContactDelete`, `ContactTagUpdate`,
/// `ContactDndUpdate`: the contact as it is after the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactEvent {
    /// The event name.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The location (sub-account).
    pub location_id: String,
    /// The contact's id.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_added: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
    /// Global do-not-disturb.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnd: Option<bool>,
    /// Per-channel do-not-disturb (`ContactDndUpdate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnd_settings: Option<Value>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Value>,
    /// `{id, value}` pairs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_fields: Vec<Value>,
    /// Everything else (`webhookId`, `timestamp`, `appId`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `NoteCreate`, `NoteUpdate`, `NoteDelete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub location_id: String,
    /// The note's id.
    pub id: String,
    /// The contact the note is on.
    pub contact_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_added: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `TaskCreate`, `TaskComplete`, `TaskDelete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub location_id: String,
    /// The task's id.
    pub id: String,
    /// The contact the task is on. HighLevel documents it, but its tracker reports
    /// `TaskCreate` events that carry neither `contactId` nor `body`: read the task
    /// (or search tasks by id) when it is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_added: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The appointment inside an `Appointment*` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventAppointment {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// `new`, `confirmed`, `cancelled`, `showed`, `noshow`, `invalid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_added: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_updated: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `AppointmentCreate`, `AppointmentUpdate`, `AppointmentDelete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppointmentEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub location_id: String,
    pub appointment: EventAppointment,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `INSTALL` (HighLevel's `AppInstall`): the app was installed at a location or
/// agency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppInstall {
    #[serde(rename = "type")]
    pub event_type: String,
    pub app_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_whitelabel_company: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whitelabel_details: Option<Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `UNINSTALL` (HighLevel's `AppUninstall`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppUninstall {
    #[serde(rename = "type")]
    pub event_type: String,
    pub app_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}
