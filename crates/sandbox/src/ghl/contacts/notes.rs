//! A contact's notes (`/contacts/{contactId}/notes`): what a note adds to the shared
//! [`SubResource`] handlers (its fields, and `NoteUpdate` on every update).

use chrono::Utc;
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::sub_resource::SubResource;
use crate::ghl::state::{Location, Note, iso};
use crate::ghl::validate::{Kind, Prop, opt, req};

impl SubResource for Note {
    const NAME: &'static str = "Note";
    const ONE: &'static str = "note";
    const MANY: &'static str = "notes";
    const USER_FIELD: &'static str = "userId";
    const DTO: &'static [Prop] = &[
        opt("userId", Kind::Str),
        req("body", Kind::Str),
        opt("title", Kind::Str),
        opt("color", Kind::Str),
        opt("pinned", Kind::Bool),
    ];

    fn stored(loc: &mut Location) -> &mut IndexMap<String, Self> {
        &mut loc.notes
    }

    fn contact_id(&self) -> &str {
        &self.contact_id
    }

    fn json(&self) -> Value {
        self.to_json()
    }

    fn webhook(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("body".into(), json!(self.body));
        m.insert("contactId".into(), json!(self.contact_id));
        m.insert("dateAdded".into(), json!(iso(self.date_added)));
        m
    }

    fn from_input(id: String, contact_id: String, input: &Map<String, Value>) -> Self {
        let text = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_owned);
        Note {
            id,
            contact_id,
            body: input["body"].as_str().unwrap_or_default().to_owned(),
            user_id: text("userId"),
            title: text("title"),
            color: text("color"),
            pinned: input
                .get("pinned")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            date_added: Utc::now(),
        }
    }

    fn created_events(&self) -> &'static [&'static str] {
        &["NoteCreate"]
    }

    fn apply(&mut self, input: &Map<String, Value>) -> &'static [&'static str] {
        if let Some(v) = input.get("body").and_then(Value::as_str) {
            v.clone_into(&mut self.body);
        }
        if let Some(v) = input.get("userId") {
            self.user_id = v.as_str().map(str::to_owned);
        }
        if let Some(v) = input.get("title") {
            self.title = v.as_str().map(str::to_owned);
        }
        if let Some(v) = input.get("color") {
            self.color = v.as_str().map(str::to_owned);
        }
        if let Some(v) = input.get("pinned").and_then(Value::as_bool) {
            self.pinned = v;
        }
        &["NoteUpdate"]
    }
}
