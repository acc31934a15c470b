//! A contact's tasks (`/contacts/{contactId}/tasks`): what a task adds to the shared
//! [`SubResource`] handlers (its fields, the due-date check, `TaskComplete` when one
//! becomes done), and the `…/completed` shortcut only tasks have.

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::TwoIds;
use super::sub_resource::{self, SubResource};
use crate::ghl::App;
use crate::ghl::body::Body;
use crate::ghl::http::{ApiError, ApiResult, Caller};
use crate::ghl::state::{Location, Task, iso};
use crate::ghl::validate::{Kind, Prop, opt, req};

fn check_date(value: Option<&Value>, name: &str) -> Result<(), ApiError> {
    if let Some(s) = value.and_then(Value::as_str)
        && DateTime::parse_from_rfc3339(s).is_err()
    {
        return Err(ApiError::unprocessable(vec![format!(
            "{name} must be a valid ISO 8601 date string"
        )]));
    }
    Ok(())
}

impl SubResource for Task {
    const NAME: &'static str = "Task";
    const ONE: &'static str = "task";
    const MANY: &'static str = "tasks";
    const USER_FIELD: &'static str = "assignedTo";
    const DTO: &'static [Prop] = &[
        req("title", Kind::Str),
        opt("body", Kind::Str),
        req("dueDate", Kind::Str),
        req("completed", Kind::Bool),
        opt("assignedTo", Kind::Str),
    ];

    fn stored(loc: &mut Location) -> &mut IndexMap<String, Self> {
        &mut loc.tasks
    }

    fn contact_id(&self) -> &str {
        &self.contact_id
    }

    fn json(&self) -> Value {
        self.to_json()
    }

    fn webhook(&self) -> Map<String, Value> {
        let mut m = Map::new();
        for (k, v) in [
            ("id", json!(self.id)),
            ("assignedTo", json!(self.assigned_to)),
            ("body", json!(self.body)),
            ("contactId", json!(self.contact_id)),
            ("title", json!(self.title)),
            ("dateAdded", json!(iso(self.date_added))),
            ("dueDate", json!(self.due_date)),
        ] {
            m.insert(k.into(), v);
        }
        m
    }

    fn check(input: &Map<String, Value>) -> Result<(), ApiError> {
        check_date(input.get("dueDate"), "dueDate")
    }

    fn from_input(id: String, contact_id: String, input: &Map<String, Value>) -> Self {
        Task {
            id,
            contact_id,
            title: input["title"].as_str().unwrap_or_default().to_owned(),
            body: input.get("body").and_then(Value::as_str).map(str::to_owned),
            assigned_to: input
                .get("assignedTo")
                .and_then(Value::as_str)
                .map(str::to_owned),
            due_date: input["dueDate"].as_str().unwrap_or_default().to_owned(),
            completed: input["completed"].as_bool().unwrap_or(false),
            date_added: Utc::now(),
        }
    }

    fn created_events(&self) -> &'static [&'static str] {
        if self.completed {
            &["TaskCreate", "TaskComplete"]
        } else {
            &["TaskCreate"]
        }
    }

    fn apply(&mut self, input: &Map<String, Value>) -> &'static [&'static str] {
        let was_completed = self.completed;
        if let Some(v) = input.get("title").and_then(Value::as_str) {
            v.clone_into(&mut self.title);
        }
        if let Some(v) = input.get("body") {
            self.body = v.as_str().map(str::to_owned);
        }
        if let Some(v) = input.get("dueDate").and_then(Value::as_str) {
            v.clone_into(&mut self.due_date);
        }
        if let Some(v) = input.get("completed").and_then(Value::as_bool) {
            self.completed = v;
        }
        if let Some(v) = input.get("assignedTo") {
            self.assigned_to = v.as_str().map(str::to_owned);
        }
        if self.completed && !was_completed {
            &["TaskComplete"]
        } else {
            &[]
        }
    }
}

/// PUT /contacts/{contactId}/tasks/{taskId}/completed (update-task-completed): an
/// update whose DTO is `completed` alone.
pub(super) async fn complete_task(
    State(app): State<App>,
    caller: Caller,
    Path(ids): TwoIds,
    Body(body): Body,
) -> ApiResult {
    let dto = [req("completed", Kind::Bool)];
    sub_resource::write::<Task>(&app, &caller, &ids, &body, &dto)
}
