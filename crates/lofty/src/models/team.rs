//! Members, custom fields and lead pipelines.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{ListMeta, lenient};

/// A team member (`UserResponse`). Records elsewhere refer to `member_user_id`, not `id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct Member {
    /// Team-member record id (short; not what leads and tasks refer to).
    #[serde(deserialize_with = "lenient::opt_id")]
    pub id: Option<i64>,
    /// The user id used by `assignedUserId`, `creatorId`, ...: join on this one.
    #[serde(deserialize_with = "lenient::id")]
    pub member_user_id: i64,
    #[serde(deserialize_with = "lenient::opt_id")]
    pub team_id: Option<i64>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
    pub role: Option<i64>,
    pub role_name: Option<String>,
    pub is_admin: Option<bool>,
    pub status: Option<i64>,
    pub time_zone_id: Option<String>,
    #[serde(deserialize_with = "lenient::opt_id")]
    pub group_id: Option<i64>,
    pub group_name: Option<String>,
    /// Fields not modelled above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One page of `GET /v1.0/members`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct MemberPage {
    #[serde(rename = "_metadata", alias = "get_metadata")]
    pub meta: ListMeta,
    #[serde(deserialize_with = "lenient::list")]
    pub members: Vec<Member>,
}

/// Query of `GET /v1.0/members`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberQuery {
    /// Office / group ids.
    pub group_ids: Vec<i64>,
    pub offset: Option<u32>,
    /// Lofty's default is 25.
    pub limit: Option<u32>,
}

impl MemberQuery {
    /// The input of `lofty-list-members`.
    pub fn to_input(&self) -> Value {
        let mut m = Map::new();
        if !self.group_ids.is_empty() {
            m.insert("groupIds".into(), json!(self.group_ids));
        }
        if let Some(o) = self.offset {
            m.insert("offset".into(), json!(o));
        }
        if let Some(l) = self.limit {
            m.insert("limit".into(), json!(l));
        }
        Value::Object(m)
    }
}

/// A lead custom field definition (from `listCustomField`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct CustomField {
    pub attribute_name: String,
    pub attribute_type: Option<String>,
    pub value: Option<String>,
    /// Select options (`{"option":[...]}` as a string).
    pub params: Option<String>,
    /// Fields not modelled above (e.g. `id`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Custom field types Lofty supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomFieldType {
    Text,
    Number,
    Date,
    /// A date that recurs every year.
    AnniversaryDate,
    SingleSelect,
    MultiSelect,
    Percentage,
    Currency,
}

/// Body of `POST /v1.0/teamFeatures/custom-field`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateCustomField {
    pub attribute_name: String,
    pub attribute_type: CustomFieldType,
    /// Options of select fields, e.g. `{"option":["a","b"]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<String>,
}

/// A lead pipeline entry (a stage name leads can be in).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct Pipeline {
    #[serde(deserialize_with = "lenient::id")]
    pub id: i64,
    pub name: String,
}

/// One page of `GET /v1.0/teamFeatures/lead-pipelines`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct PipelinePage {
    #[serde(rename = "_metadata", alias = "get_metadata")]
    pub meta: ListMeta,
    #[serde(deserialize_with = "lenient::list")]
    pub pipelines: Vec<Pipeline>,
}

/// Query of `GET /v1.0/teamFeatures/lead-pipelines`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipelineQuery {
    /// Substring of the name.
    pub name: Option<String>,
    /// 0-based page.
    pub curr_page: Option<u32>,
    /// Lofty's default is 10.
    pub page_size: Option<u32>,
}

impl PipelineQuery {
    /// The input of `lofty-list-lead-pipelines`.
    pub fn to_input(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in [
            ("name", json!(self.name)),
            ("currPage", json!(self.curr_page)),
            ("pageSize", json!(self.page_size)),
        ] {
            if !v.is_null() {
                m.insert(k.to_owned(), v);
            }
        }
        Value::Object(m)
    }
}
