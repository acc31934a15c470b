//! V2 tasks (and appointments, which share the task id namespace).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::lenient;

/// `type` of a V2 task; `Appointment` creates an appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum TaskType {
    Call,
    Email,
    Text,
    Other,
    Appointment,
}

/// Who a task is assigned to, relative to the lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum AssignedRole {
    Agent,
    Assistant,
}

/// A task or appointment (`TaskResponseV2`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct Task {
    #[serde(deserialize_with = "lenient::id")]
    pub id: i64,
    #[serde(deserialize_with = "lenient::id")]
    pub lead_id: i64,
    pub content: Option<String>,
    /// Call, Email, Text, Other or Appointment.
    #[serde(rename = "type")]
    pub task_type: Option<String>,
    /// ISO 8601 (Lofty writes `2026-03-01T15:00:00GMT`).
    pub start_at: Option<String>,
    /// The deadline of a task, the end of an appointment.
    pub end_at: Option<String>,
    pub time_zone_code: Option<String>,
    pub all_day: Option<bool>,
    pub finish_flag: Option<bool>,
    pub overdue_flag: Option<bool>,
    pub finish_time: Option<String>,
    pub create_time: Option<String>,
    pub last_update: Option<String>,
    pub assigned_role: Option<String>,
    #[serde(deserialize_with = "lenient::opt_id")]
    pub assigned_user_id: Option<i64>,
    pub assigned_user: Option<String>,
    #[serde(deserialize_with = "lenient::opt_id")]
    pub creator_id: Option<i64>,
    pub address: Option<String>,
    pub lead_name: Option<String>,
    pub lead_email: Option<String>,
    pub lead_phone: Option<String>,
    /// Fields not modelled above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Task {
    /// Whether the task is completed.
    pub fn is_finished(&self) -> bool {
        self.finish_flag.unwrap_or(false)
    }

    /// Whether this is an appointment rather than a task.
    pub fn is_appointment(&self) -> bool {
        self.task_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("Appointment"))
    }
}

/// Body of `POST /v2.0/tasks`. Lofty requires `content`, `assignedRole`, `leadId` and
/// `endAt` (the deadline) besides `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateTask {
    #[serde(rename = "type")]
    pub task_type: TaskType,
    pub content: String,
    pub lead_id: i64,
    pub assigned_role: AssignedRole,
    /// ISO 8601 with offset, e.g. `2026-03-01T16:00:00-08:00`.
    pub end_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl CreateTask {
    /// A task for the lead's agent, due at `end_at`.
    pub fn new(
        lead_id: i64,
        task_type: TaskType,
        content: impl Into<String>,
        end_at: impl Into<String>,
    ) -> Self {
        Self {
            task_type,
            content: content.into(),
            lead_id,
            assigned_role: AssignedRole::Agent,
            end_at: end_at.into(),
            start_at: None,
            time_zone_code: None,
            address: None,
        }
    }
}

/// Body of `PUT /v2.0/tasks/{id}`: at least one of content, start, end or address.
/// Completion goes through finish / unfinish instead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateTask {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// Query of `GET /v2.0/tasks/my-tasks`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MyTasksQuery {
    /// Whose tasks (the caller when unset).
    pub user_id: Option<i64>,
    /// Cursor: the last task id of the previous page (0 = from the start).
    pub current_id: Option<i64>,
    /// Page size, 1..=100 (Lofty's default is 10).
    pub limit: Option<u32>,
    pub time_zone_code: Option<String>,
}

impl MyTasksQuery {
    /// The input of `lofty-list-my-tasks`.
    pub fn to_input(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in [
            ("userId", json!(self.user_id)),
            ("currentId", json!(self.current_id)),
            ("limit", json!(self.limit)),
            ("timeZoneCode", json!(self.time_zone_code)),
        ] {
            if !v.is_null() {
                m.insert(k.to_owned(), v);
            }
        }
        Value::Object(m)
    }
}
