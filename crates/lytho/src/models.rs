//! Serde models of Lytho Workflow requests and answers.
//!
//! The documented item schema is `{accountId, id, name, archived, dueDate,
//! completedDate}` and the user schema `{accountId, id, firstName, lastName, email,
//! userStatusType}`. Everything else Lytho sends is kept in `extra` maps, so
//! nothing is lost. The list envelopes are not documented: [`Page`] and
//! [`SearchResult`] accept a bare array or an object holding the array under a
//! usual key (`items`, `data`, `results`, `content`, `value`, or `ids` for search).
//!
//! Dates stay strings (Lytho's API is ASP.NET and may send them with or without an
//! offset); the `*_at` helpers parse them.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Unknown fields of an answer, kept verbatim.
pub type Extra = Map<String, Value>;

/// An item id (`int32` in Lytho's docs).
pub type ItemId = i32;

/// Parses a Lytho date-time: RFC 3339, or without an offset (taken as UTC).
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc())
}

/// A work request, task, project, proof or campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkItem {
    /// The tenant's account.
    #[serde(default)]
    pub account_id: Option<i32>,
    pub id: ItemId,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub due_date: Option<String>,
    /// Set when the item is completed.
    #[serde(default)]
    pub completed_date: Option<String>,
    /// Not in Lytho's published schema; read when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date: Option<String>,
    /// Last change. Not in Lytho's published schema (see `docs/LYTHO.md`); the
    /// poller relies on it when present and reports items without it every time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Documented names for the five types (one model serves all of them).
pub type WorkRequest = WorkItem;
/// See [`WorkItem`].
pub type Task = WorkItem;
/// See [`WorkItem`].
pub type Project = WorkItem;
/// See [`WorkItem`].
pub type Proof = WorkItem;
/// See [`WorkItem`].
pub type Campaign = WorkItem;

impl WorkItem {
    /// `modifiedDate`, parsed.
    pub fn modified_at(&self) -> Option<DateTime<Utc>> {
        self.modified_date.as_deref().and_then(parse_date)
    }

    /// `dueDate`, parsed.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        self.due_date.as_deref().and_then(parse_date)
    }

    /// `completedDate`, parsed.
    pub fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.completed_date.as_deref().and_then(parse_date)
    }

    /// Whether the item is completed (it has a `completedDate`).
    pub fn is_completed(&self) -> bool {
        self.completed_date.is_some()
    }
}

/// `userStatusType`: 0 Disabled, 1 Active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(from = "i64", into = "i64")]
pub enum UserStatus {
    /// 0
    Disabled,
    /// 1
    Active,
    /// A value the docs do not list.
    Other(i64),
}

impl From<i64> for UserStatus {
    fn from(v: i64) -> Self {
        match v {
            0 => Self::Disabled,
            1 => Self::Active,
            other => Self::Other(other),
        }
    }
}

impl From<UserStatus> for i64 {
    fn from(v: UserStatus) -> Self {
        match v {
            UserStatus::Disabled => 0,
            UserStatus::Active => 1,
            UserStatus::Other(n) => n,
        }
    }
}

/// A user on an item (`GET /{type}/{id}/users`). The only people Lytho's API
/// exposes: there are no contacts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(default)]
    pub account_id: Option<i32>,
    pub id: i32,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub user_status_type: Option<UserStatus>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl User {
    /// Whether the user is active (unknown status counts as active).
    pub fn is_active(&self) -> bool {
        !matches!(self.user_status_type, Some(UserStatus::Disabled))
    }
}

/// A comment on an item (the closest thing Lytho has to notes; read-only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub id: i32,
    #[serde(default)]
    pub user_id: Option<i32>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    /// The text, as HTML or plain text depending on `format`.
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub created_date: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Comment {
    /// `createdDate`, parsed.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.created_date.as_deref().and_then(parse_date)
    }
}

/// The rich-text description of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Description {
    pub id: i32,
    #[serde(default)]
    pub description: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A pre-signed file URL (documented schema); `url` stops working at
/// `url_expiration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileUrl {
    #[serde(default)]
    pub file_version_name: String,
    pub file_id: i32,
    #[serde(default)]
    pub file_version_id: Option<i32>,
    pub url: String,
    #[serde(default)]
    pub url_expiration: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
    /// Items in all pages, when the server says.
    pub total_count: Option<u64>,
}

const LIST_KEYS: &[&str] = &["items", "data", "results", "content", "value"];
const TOTAL_KEYS: &[&str] = &["totalCount", "total", "totalItems", "count"];

fn number(map: &Map<String, Value>, keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|k| map.get(*k)?.as_u64())
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Page<T> {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = Value::deserialize(de)?;
        let (list, map) = match value {
            Value::Array(items) => (items, Map::new()),
            Value::Object(mut map) => {
                let list = LIST_KEYS
                    .iter()
                    .find_map(|k| match map.remove(*k) {
                        Some(Value::Array(items)) => Some(items),
                        _ => None,
                    })
                    .ok_or_else(|| D::Error::custom("no list of items in the page"))?;
                (list, map)
            }
            Value::Null => (Vec::new(), Map::new()),
            other => return Err(D::Error::custom(format!("unexpected page: {other}"))),
        };
        let items = list
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<Vec<T>, _>>()
            .map_err(D::Error::custom)?;
        let small = |keys: &[&str]| number(&map, keys).and_then(|n| u32::try_from(n).ok());
        Ok(Self {
            items,
            page: small(&["page", "pageNumber"]),
            page_size: small(&["pageSize"]),
            total_count: number(&map, TOTAL_KEYS),
        })
    }
}

/// The ids a search matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchResult {
    pub ids: Vec<ItemId>,
    pub total_count: Option<u64>,
}

impl<'de> Deserialize<'de> for SearchResult {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = Value::deserialize(de)?;
        let (list, total) = match value {
            Value::Array(items) => (items, None),
            Value::Object(mut map) => {
                let total = number(&map, TOTAL_KEYS);
                let list = std::iter::once("ids")
                    .chain(LIST_KEYS.iter().copied())
                    .find_map(|k| match map.remove(k) {
                        Some(Value::Array(items)) => Some(items),
                        _ => None,
                    })
                    .ok_or_else(|| D::Error::custom("no list of ids in the search result"))?;
                (list, total)
            }
            Value::Null => (Vec::new(), None),
            other => {
                return Err(D::Error::custom(format!(
                    "unexpected search result: {other}"
                )));
            }
        };
        let ids = list
            .iter()
            .map(|v| {
                let n = v.as_i64().or_else(|| v.get("id").and_then(Value::as_i64));
                n.and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| D::Error::custom(format!("not an item id: {v}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            ids,
            total_count: total,
        })
    }
}

/// `pageSize`: Lytho takes only 10, 20 or 30.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(into = "u32", try_from = "u32")]
pub enum PageSize {
    /// 10 (Lytho's default)
    #[default]
    Ten,
    /// 20
    Twenty,
    /// 30
    Thirty,
}

impl PageSize {
    pub fn get(self) -> u32 {
        match self {
            Self::Ten => 10,
            Self::Twenty => 20,
            Self::Thirty => 30,
        }
    }
}

impl From<PageSize> for u32 {
    fn from(v: PageSize) -> Self {
        v.get()
    }
}

impl TryFrom<u32> for PageSize {
    type Error = String;
    fn try_from(v: u32) -> Result<Self, Self::Error> {
        match v {
            10 => Ok(Self::Ten),
            20 => Ok(Self::Twenty),
            30 => Ok(Self::Thirty),
            other => Err(format!("page size {other} is not one of 10, 20, 30")),
        }
    }
}

/// `format` of comments and descriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Rich text (the default).
    Html,
    /// Tags stripped.
    Plain,
}

/// How search filters combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(into = "u8", try_from = "u8")]
pub enum OperatorMode {
    /// 1: any filter matches.
    Or,
    /// 2: all filters match.
    And,
}

impl From<OperatorMode> for u8 {
    fn from(v: OperatorMode) -> Self {
        match v {
            OperatorMode::Or => 1,
            OperatorMode::And => 2,
        }
    }
}

impl TryFrom<u8> for OperatorMode {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        match v {
            1 => Ok(Self::Or),
            2 => Ok(Self::And),
            other => Err(format!("operatorMode {other} is not 1 (Or) or 2 (And)")),
        }
    }
}

/// Filters of `GET /{type}/search`. No filter matches every item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchQuery {
    /// Part of the name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_archived: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator_mode: Option<OperatorMode>,
}

/// Paging and format of comment lists.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub struct CommentsQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<PageSize>,
}

/// One RFC 6902 operation of a `PATCH`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum PatchOp {
    /// Add a member or array element (replaces an existing member).
    Add { path: String, value: Value },
    /// Remove the target.
    Remove { path: String },
    /// Replace the target, which must exist.
    Replace { path: String, value: Value },
    /// Move `from` to `path`.
    Move { from: String, path: String },
    /// Copy `from` to `path`.
    Copy { from: String, path: String },
    /// Fail the whole patch (409) unless the target equals `value`.
    Test { path: String, value: Value },
}

impl PatchOp {
    pub fn add(path: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::Add {
            path: path.into(),
            value: value.into(),
        }
    }
    pub fn remove(path: impl Into<String>) -> Self {
        Self::Remove { path: path.into() }
    }
    pub fn replace(path: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::Replace {
            path: path.into(),
            value: value.into(),
        }
    }
    pub fn move_to(from: impl Into<String>, path: impl Into<String>) -> Self {
        Self::Move {
            from: from.into(),
            path: path.into(),
        }
    }
    pub fn copy_to(from: impl Into<String>, path: impl Into<String>) -> Self {
        Self::Copy {
            from: from.into(),
            path: path.into(),
        }
    }
    pub fn test(path: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::Test {
            path: path.into(),
            value: value.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_keep_unknown_fields_and_parse_dates() {
        let item: WorkItem = serde_json::from_value(json!({
            "accountId": 1, "id": 5, "name": "A", "archived": false,
            "dueDate": "2026-01-12T09:00:00", "completedDate": null,
            "modifiedDate": "2026-01-05T09:05:00.000Z", "priority": 3
        }))
        .unwrap();
        assert_eq!(item.extra["priority"], 3);
        assert_eq!(
            item.due_at().unwrap().to_rfc3339(),
            "2026-01-12T09:00:00+00:00"
        );
        assert!(item.modified_at().is_some());
        assert!(!item.is_completed());
    }

    #[test]
    fn pages_in_several_envelopes() {
        let p: Page<i32> =
            serde_json::from_value(json!({"items":[1,2],"page":1,"pageSize":10,"totalCount":12}))
                .unwrap();
        assert_eq!((p.items.len(), p.total_count), (2, Some(12)));
        let p: Page<i32> = serde_json::from_value(json!([1, 2, 3])).unwrap();
        assert_eq!((p.items.len(), p.total_count), (3, None));
        let p: Page<i32> = serde_json::from_value(json!({"data":[4],"total":1})).unwrap();
        assert_eq!(p.items, vec![4]);
        assert!(serde_json::from_value::<Page<i32>>(json!({"nope":1})).is_err());
        let s: SearchResult = serde_json::from_value(json!({"ids":[3,1],"totalCount":2})).unwrap();
        assert_eq!(s.ids, vec![3, 1]);
        let s: SearchResult = serde_json::from_value(json!([{"id":7},{"id":8}])).unwrap();
        assert_eq!(s.ids, vec![7, 8]);
    }

    #[test]
    fn request_models_serialize_as_lytho_expects() {
        assert_eq!(
            serde_json::to_value(PatchOp::replace("/name", "X")).unwrap(),
            json!({"op":"replace","path":"/name","value":"X"})
        );
        assert_eq!(
            serde_json::to_value(PatchOp::move_to("/a", "/b")).unwrap(),
            json!({"op":"move","from":"/a","path":"/b"})
        );
        assert_eq!(
            serde_json::to_value(SearchQuery {
                name: Some("x".to_owned()),
                is_archived: Some(false),
                operator_mode: Some(OperatorMode::Or),
            })
            .unwrap(),
            json!({"name":"x","isArchived":false,"operatorMode":1})
        );
        assert_eq!(PageSize::try_from(20), Ok(PageSize::Twenty));
        assert!(PageSize::try_from(15).is_err());
        let u: User = serde_json::from_value(json!({"id":1,"userStatusType":0})).unwrap();
        assert!(!u.is_active());
    }
}
