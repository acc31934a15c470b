//! Calendar events (appointments). These endpoints use `Version: 2021-04-15`.

use serde::{Deserialize, Serialize};

use super::common::{Extra, lenient_string, nullable};

/// An appointment (calendar event), as returned by the calendars endpoints and by
/// `GET /contacts/{contactId}/appointments`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct Appointment {
    /// Event id.
    pub id: String,
    /// Calendar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar_id: Option<String>,
    /// Location.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    /// Contact the appointment is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    /// Calendar group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `new`, `confirmed`, `cancelled`, `showed`, `noshow`, `invalid` (and `active`,
    /// `completed` in some answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appointment_status: Option<String>,
    /// Event status (contact appointment lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Assigned user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_user_id: Option<String>,
    /// Users on the event.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Address or meeting link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Meeting location type (`custom`, `zoom`, `gmeet`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meeting_location_type: Option<String>,
    /// Start (ISO 8601 or `YYYY-MM-DD hh:mm:ss`, as GHL sent it).
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time: Option<String>,
    /// End.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_time: Option<String>,
    /// Recurring series member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_recurring: Option<bool>,
    /// Recurrence rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rrule: Option<String>,
    /// Series master, for recurring events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_event_id: Option<String>,
    /// Creation time.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub date_added: Option<String>,
    /// Last update time.
    #[serde(
        deserialize_with = "lenient_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub date_updated: Option<String>,
    /// Everything else (`assignedResources`, `createdBy`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Body of `POST /calendars/events/appointments`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateAppointment {
    /// Calendar (required).
    pub calendar_id: String,
    /// Location (required).
    pub location_id: String,
    /// Contact (required).
    pub contact_id: String,
    /// Start, ISO 8601 with offset (required).
    pub start_time: String,
    /// End, ISO 8601 with offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `custom`, `zoom`, `gmeet`, `phone`, `address`, `ms_teams` or `google`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["custom", "zoom", "gmeet", "phone", "address", "ms_teams", "google"]))]
    pub meeting_location_type: Option<String>,
    /// Id of the configured meeting location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_location_id: Option<String>,
    /// Use `address` instead of the calendar's configured location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_location_config: Option<bool>,
    /// `new`, `confirmed`, `cancelled`, `showed`, `noshow` or `invalid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["new", "confirmed", "cancelled", "showed", "noshow", "invalid"]))]
    pub appointment_status: Option<String>,
    /// Assigned user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_user_id: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Address or meeting link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Book outside the calendar's date range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_date_range: Option<bool>,
    /// Send notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_notify: Option<bool>,
    /// Book even if the slot is not free.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_free_slot_validation: Option<bool>,
    /// Recurrence rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rrule: Option<String>,
}

/// Body of `PUT /calendars/events/appointments/{eventId}`: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EditAppointment {
    /// Move to another calendar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_id: Option<String>,
    /// New start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// New end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `custom`, `zoom`, `gmeet`, `phone`, `address`, `ms_teams` or `google`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["custom", "zoom", "gmeet", "phone", "address", "ms_teams", "google"]))]
    pub meeting_location_type: Option<String>,
    /// Id of the configured meeting location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meeting_location_id: Option<String>,
    /// Use `address` instead of the calendar's configured location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_location_config: Option<bool>,
    /// `new`, `confirmed`, `cancelled`, `showed`, `noshow` or `invalid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["new", "confirmed", "cancelled", "showed", "noshow", "invalid"]))]
    pub appointment_status: Option<String>,
    /// Assigned user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_user_id: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Address or meeting link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Book outside the calendar's date range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_date_range: Option<bool>,
    /// Send notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_notify: Option<bool>,
    /// Book even if the slot is not free.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_free_slot_validation: Option<bool>,
    /// Recurrence rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rrule: Option<String>,
}

/// Query of `GET /calendars/events`: a location, a time window in epoch millis, and one
/// of calendar, user or group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CalendarEventsQuery {
    /// Location (required).
    pub location_id: String,
    /// Window start, epoch millis (required).
    pub start_time: i64,
    /// Window end, epoch millis (required).
    pub end_time: i64,
    /// Calendar filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_id: Option<String>,
    /// User filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Group filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
}

/// A calendar of a location (`CalendarDTO`, the fields the product uses).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Calendar {
    /// Calendar id.
    pub id: String,
    /// Its name as the location shows it.
    #[serde(default)]
    pub name: String,
    /// The location it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    /// The group it is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Active (true) or draft.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
}
