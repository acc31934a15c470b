//! Reading Lofty's webhook deliveries.
//!
//! Lofty posts thin, unsigned batches: `{"listId": 2, "teamId": 123, "updatedLead":
//! [{"leadId": ..., "updateTime": <epoch ms>}, ...], "createdLead": [...]}`. There is no
//! event type field and no signature: protect the callback URL with a secret path and
//! re-fetch each record through the API (a 404 means it is gone). Only `updatedLead`
//! is documented from live traffic; the other bucket names follow the same pattern, so
//! every array-valued key is read as a bucket.

use serde_json::{Map, Value};

use crate::models::EventList;

/// What happened to a record, from the bucket name's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// `created*` or `new*`.
    Created,
    /// `updated*` (and anything unrecognised: re-fetching is always safe).
    Updated,
    /// `deleted*`.
    Deleted,
    /// `finished*` (tasks, appointments).
    Finished,
}

impl ChangeKind {
    fn of(bucket: &str) -> Self {
        let lower = bucket.to_ascii_lowercase();
        if lower.starts_with("created") || lower.starts_with("new") {
            Self::Created
        } else if lower.starts_with("deleted") || lower.starts_with("removed") {
            Self::Deleted
        } else if lower.starts_with("finished") {
            Self::Finished
        } else {
            Self::Updated
        }
    }
}

/// One changed record of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The bucket it came in (`updatedLead`, `createdNote`, ...).
    pub bucket: String,
    pub kind: ChangeKind,
    /// The record's id (`leadId`, `noteId`, `taskId`, `timelineId`, ...).
    pub id: Option<i64>,
    /// The lead the record belongs to, when given.
    pub lead_id: Option<i64>,
    /// `updateTime`, epoch milliseconds (dedupe on `(list, id, update_time)`).
    pub update_time: Option<i64>,
    /// The entry as received.
    pub raw: Value,
}

/// A parsed delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookBatch {
    /// `listId`.
    pub list_id: i64,
    pub team_id: Option<i64>,
    pub changes: Vec<Change>,
}

impl WebhookBatch {
    /// The event list, if `listId` is one of the twelve.
    pub fn event_list(&self) -> Option<EventList> {
        EventList::from_id(self.list_id)
    }

    /// Ids of the changed records, in delivery order, without repeats.
    pub fn ids(&self) -> Vec<i64> {
        let mut out = Vec::new();
        for id in self.changes.iter().filter_map(|c| c.id) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }
}

/// Errors reading a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The body is not a JSON object.
    #[error("Lofty webhook body is not a JSON object: {0}")]
    NotAnObject(String),
    /// `listId` is missing or not an integer.
    #[error("Lofty webhook body has no integer listId")]
    NoListId,
    /// The delivery carries more changes than the receiver takes in one delivery.
    #[error(
        "this Lofty delivery carries {count} changes, more than the {cap} one delivery may carry"
    )]
    TooManyChanges { count: usize, cap: usize },
}

fn int(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Parses a delivery body.
pub fn parse(body: &[u8]) -> Result<WebhookBatch, WebhookError> {
    parse_capped(body, usize::MAX)
}

/// Parses a delivery body of at most `cap` changes: more is
/// [`WebhookError::TooManyChanges`], found by counting before any change is built.
pub fn parse_capped(body: &[u8], cap: usize) -> Result<WebhookBatch, WebhookError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::NotAnObject(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(WebhookError::NotAnObject("not an object".to_owned()));
    };
    let count: usize = map.values().filter_map(Value::as_array).map(Vec::len).sum();
    if count > cap {
        return Err(WebhookError::TooManyChanges { count, cap });
    }
    from_map(&map)
}

fn from_map(map: &Map<String, Value>) -> Result<WebhookBatch, WebhookError> {
    let list_id = int(map.get("listId")).ok_or(WebhookError::NoListId)?;
    let team_id = int(map.get("teamId"));
    let list = EventList::from_id(list_id);
    let mut changes = Vec::new();
    for (bucket, items) in map {
        let Value::Array(items) = items else { continue };
        let kind = ChangeKind::of(bucket);
        for item in items {
            let id = match item {
                Value::Object(o) => list
                    .and_then(|l| int(o.get(l.id_field())))
                    .or_else(|| {
                        // Any other `*Id` field, then the lead.
                        o.iter()
                            .filter(|(k, _)| {
                                k.ends_with("Id")
                                    && k.as_str() != "leadId"
                                    && k.as_str() != "teamId"
                            })
                            .find_map(|(_, v)| int(Some(v)))
                    })
                    .or_else(|| int(o.get("leadId"))),
                other => int(Some(other)),
            };
            changes.push(Change {
                bucket: bucket.clone(),
                kind,
                id,
                lead_id: int(item.get("leadId")),
                update_time: int(item.get("updateTime")),
                raw: item.clone(),
            });
        }
    }
    Ok(WebhookBatch {
        list_id,
        team_id,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_observed_lead_shape_and_guessed_buckets() {
        let body = br#"{"listId":2,"teamId":13233324,
            "updatedLead":[{"leadId":9007199254740993,"updateTime":1747040000000},
                           {"leadId":651095960136641,"updateTime":1747040000001}],
            "createdLead":[{"leadId":"651095960136642","updateTime":1747040000002}]}"#;
        let batch = parse(body).unwrap();
        assert_eq!(batch.event_list(), Some(EventList::LeadInfo));
        assert_eq!(batch.team_id, Some(13_233_324));
        assert_eq!(
            batch.ids(),
            [
                9_007_199_254_740_993,
                651_095_960_136_641,
                651_095_960_136_642
            ]
        );
        assert_eq!(batch.changes[0].kind, ChangeKind::Updated);
        assert_eq!(batch.changes[2].kind, ChangeKind::Created);
        assert_eq!(batch.changes[0].update_time, Some(1_747_040_000_000));

        let notes = parse(
            br#"{"listId":9,"teamId":1,"deletedNote":[{"noteId":5,"leadId":7,"updateTime":1}]}"#,
        )
        .unwrap();
        assert_eq!(notes.changes[0].id, Some(5));
        assert_eq!(notes.changes[0].lead_id, Some(7));
        assert_eq!(notes.changes[0].kind, ChangeKind::Deleted);
        let calls =
            parse(br#"{"listId":6,"teamId":1,"createdCall":[{"timelineId":8,"callId":3}]}"#)
                .unwrap();
        assert_eq!(calls.ids(), [8]);
        assert_eq!(
            parse(b"[1]").unwrap_err(),
            WebhookError::NotAnObject("not an object".into())
        );
        assert_eq!(
            parse(br#"{"teamId":1}"#).unwrap_err(),
            WebhookError::NoListId
        );
        // Counted across buckets, before anything is built.
        let three = br#"{"listId":2,"updatedLead":[1,2],"createdLead":[3]}"#;
        assert_eq!(parse_capped(three, 3).unwrap().changes.len(), 3);
        assert_eq!(
            parse_capped(three, 2).unwrap_err(),
            WebhookError::TooManyChanges { count: 3, cap: 2 }
        );
    }
}
