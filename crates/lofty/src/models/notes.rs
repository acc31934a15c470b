//! Notes on leads.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lenient;

/// A note (`NoteResponse`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, rename_all = "camelCase")]
pub struct Note {
    /// The timeline entry carrying the note (not the note id).
    #[serde(deserialize_with = "lenient::opt_id")]
    pub id: Option<i64>,
    /// The id to use with `GET/PUT/DELETE /v1.0/notes/{noteId}`.
    #[serde(deserialize_with = "lenient::id")]
    pub note_id: i64,
    #[serde(deserialize_with = "lenient::id")]
    pub lead_id: i64,
    pub content: String,
    pub is_pin: Option<bool>,
    pub system_note: Option<bool>,
    pub delete_flag: Option<bool>,
    #[serde(deserialize_with = "lenient::opt_id")]
    pub creator_id: Option<i64>,
    pub creator_name: Option<String>,
    #[serde(deserialize_with = "lenient::opt_id")]
    pub last_editor_id: Option<i64>,
    pub last_editor_name: Option<String>,
    /// `yyyy-MM-dd HH:mm:ss` in UTC.
    pub create_time: Option<String>,
    /// `yyyy-MM-dd HH:mm:ss` in UTC.
    pub last_update: Option<String>,
    /// Fields not modelled above.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of `POST /v1.0/notes` and `PUT /v1.0/notes/{id}`: all three fields are required
/// (Lofty answers 400 when `isPin` is missing); content is cut to 2000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteInput {
    pub lead_id: i64,
    pub content: String,
    pub is_pin: bool,
}

impl NoteInput {
    /// An unpinned note.
    pub fn new(lead_id: i64, content: impl Into<String>) -> Self {
        Self {
            lead_id,
            content: content.into(),
            is_pin: false,
        }
    }
}
