//! `POST /contacts/search`: request, filters, sort and answer.
//!
//! The spec leaves this body empty; the shape here follows HighLevel's issue tracker and
//! the published search guide: `locationId` and `pageLimit` are required (422 otherwise),
//! `pageLimit` is at most 500, `page` paging stops at 10,000 records, and deeper paging
//! uses the `searchAfter` cursor that every returned contact carries.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{Extra, nullable};
use super::contacts::Contact;

/// Largest `pageLimit` GHL accepts.
pub const MAX_PAGE_LIMIT: u32 = 500;

/// Deepest record reachable with `page` paging.
pub const MAX_PAGED_RECORDS: u64 = 10_000;

/// Body of `POST /contacts/search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    /// Location to search (required).
    pub location_id: String,
    /// 1-based page (standard paging; do not combine with `searchAfter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Page size (required, at most 500).
    pub page_limit: u32,
    /// Cursor: the `searchAfter` of the last contact of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_after: Option<Vec<Value>>,
    /// Filters, combined with AND.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<SearchFilter>,
    /// Sort order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sort: Vec<SearchSort>,
    /// Full-text query (at most 75 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

impl SearchRequest {
    /// A request for the first page of a location with the given page size.
    pub fn new(location_id: impl Into<String>, page_limit: u32) -> Self {
        Self {
            location_id: location_id.into(),
            page: None,
            page_limit,
            search_after: None,
            filters: Vec::new(),
            sort: Vec::new(),
            query: None,
        }
    }

    /// Adds a filter.
    #[must_use]
    pub fn filter(mut self, filter: SearchFilter) -> Self {
        self.filters.push(filter);
        self
    }

    /// Adds a sort key.
    #[must_use]
    pub fn sort_by(mut self, field: impl Into<String>, direction: SortDirection) -> Self {
        self.sort.push(SearchSort {
            field: field.into(),
            direction,
        });
        self
    }
}

/// One search filter: a condition, or a group of filters joined by AND/OR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum SearchFilter {
    /// `{group: "AND" | "OR", filters: [...]}`.
    Group {
        /// `AND` or `OR`.
        group: String,
        /// Members.
        filters: Vec<SearchFilter>,
    },
    /// `{field, operator, value}`.
    Condition {
        /// Field name (`email`, `phone`, `tags`, `dateUpdated`, `customFields.<id>`...).
        field: String,
        /// `eq`, `not_eq`, `contains`, `not_contains`, `exists`, `not_exists`, `range`, ...
        operator: String,
        /// Operand; omitted for `exists`/`not_exists`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<Value>,
    },
}

impl SearchFilter {
    /// `field operator value`.
    pub fn condition(
        field: impl Into<String>,
        operator: impl Into<String>,
        value: impl Into<Value>,
    ) -> Self {
        Self::Condition {
            field: field.into(),
            operator: operator.into(),
            value: Some(value.into()),
        }
    }

    /// `field eq value`.
    pub fn eq(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::condition(field, "eq", value)
    }

    /// All of the filters.
    pub fn all(filters: Vec<SearchFilter>) -> Self {
        Self::Group {
            group: "AND".to_owned(),
            filters,
        }
    }

    /// Any of the filters.
    pub fn any(filters: Vec<SearchFilter>) -> Self {
        Self::Group {
            group: "OR".to_owned(),
            filters,
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortDirection {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SearchSort {
    /// Field name.
    pub field: String,
    /// Direction.
    pub direction: SortDirection,
}

/// Answer of `POST /contacts/search`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct SearchResponse {
    /// The page.
    #[serde(deserialize_with = "nullable")]
    pub contacts: Vec<Contact>,
    /// Total matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Top-level cursor, if the server sends one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_after: Option<Vec<Value>>,
    /// Request trace id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Extra,
}

impl SearchResponse {
    /// The cursor for the next page: the last contact's `searchAfter`, else the top-level
    /// one.
    pub fn next_search_after(&self) -> Option<Vec<Value>> {
        self.contacts
            .last()
            .and_then(|c| c.search_after.clone())
            .or_else(|| self.search_after.clone())
            .filter(|cursor| !cursor.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_shape() {
        let req = SearchRequest::new("L1", 100)
            .filter(SearchFilter::eq("phone", "+18885550000"))
            .filter(SearchFilter::any(vec![
                SearchFilter::eq("email", "a@example.com"),
                SearchFilter::Condition {
                    field: "email".to_owned(),
                    operator: "exists".to_owned(),
                    value: None,
                },
            ]))
            .sort_by("dateAdded", SortDirection::Desc);
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(
            v,
            json!({
                "locationId": "L1", "pageLimit": 100,
                "filters": [
                    {"field": "phone", "operator": "eq", "value": "+18885550000"},
                    {"group": "OR", "filters": [
                        {"field": "email", "operator": "eq", "value": "a@example.com"},
                        {"field": "email", "operator": "exists"}
                    ]}
                ],
                "sort": [{"field": "dateAdded", "direction": "desc"}]
            })
        );
        let back: SearchRequest = serde_json::from_value(v).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn cursor_comes_from_last_contact() {
        let r: SearchResponse = serde_json::from_value(json!({
            "contacts": [{"id": "a", "searchAfter": [1, "a"]}, {"id": "b", "searchAfter": [2, "b"]}],
            "total": 9, "traceId": "t"
        }))
        .unwrap();
        assert_eq!(r.next_search_after(), Some(vec![json!(2), json!("b")]));
    }
}
