//! What the catalog says about each Lytho operation: its catalog id
//! (`lytho.<type>s.<verb>`), a title, the JSON Schemas of its input and output (built
//! from the model types in [`crate::models`]), and an example input.
//!
//! The input is the flat object [`LythoClient::call`](crate::LythoClient::call) takes:
//! path and query parameters, and for a `PATCH` the JSON Patch document under
//! `"body"`. Lytho ids are integers; in the examples `"{taskId}"` and the like stand
//! for ids of the caller's tenant.

use serde_json::{Value, json};
use wire::schema::{Object, list, of};

use crate::models::{
    Comment, Description as ItemDescription, FileUrl, Page, PatchOp, SearchResult, User, WorkItem,
};
use crate::operations::{Action, ItemType, Operation};

pub use wire::schema::Description;

fn page_size() -> Value {
    json!({"type": "integer", "enum": [10, 20, 30], "description": "Page size: 10, 20 or 30 (default 10)."})
}

fn format() -> Value {
    json!({"type": "string", "enum": ["html", "plain"], "description": "Rich text (default) or tags stripped."})
}

fn ids() -> Value {
    json!({"type": "array", "items": {"type": "integer"}, "minItems": 1, "description": "Item ids."})
}

/// The catalog's view of `op` (every row of the table has one).
pub fn describe(op: &Operation) -> Description {
    let noun = op.item_type.as_str();
    let one = || Object::closed().integer("id", true, &format!("The {noun}'s id."));
    let placeholder = format!("{{{noun}Id}}");
    let (verb, title, input, output, example) = match op.action {
        Action::Get => (
            "get",
            format!("Get a {noun}"),
            one().build(),
            of::<WorkItem>(),
            json!({"id": placeholder}),
        ),
        Action::GetMany => (
            "get_many",
            format!("Get {noun}s by id"),
            Object::closed()
                .field("ids", ids(), true)
                .integer("page", false, "Page number, from 1 (default 1).")
                .field("pageSize", page_size(), false)
                .build(),
            of::<Page<WorkItem>>(),
            json!({"ids": [placeholder], "page": 1, "pageSize": 30}),
        ),
        Action::Search => (
            "search",
            format!("Search {noun}s"),
            Object::closed()
                .string("name", false, "Part of the name.")
                .boolean("isArchived", false, "Archived or not.")
                .field(
                    "operatorMode",
                    json!({"type": "integer", "enum": [1, 2], "description": "1: any filter matches; 2: all must."}),
                    false,
                )
                .build(),
            of::<SearchResult>(),
            json!({"isArchived": false}),
        ),
        Action::Users => (
            "list_users",
            format!("List the people on a {noun}"),
            one().build(),
            list(of::<User>()),
            json!({"id": placeholder}),
        ),
        Action::Comments => (
            "list_comments",
            format!("List a {noun}'s comments"),
            one()
                .field("format", format(), false)
                .integer("page", false, "Page number, from 1.")
                .field("pageSize", page_size(), false)
                .build(),
            of::<Page<Comment>>(),
            json!({"id": placeholder, "format": "plain"}),
        ),
        Action::Description => (
            "get_description",
            format!("Get a {noun}'s description"),
            one().field("format", format(), false).build(),
            of::<ItemDescription>(),
            json!({"id": placeholder}),
        ),
        Action::Descriptions => (
            "get_descriptions",
            format!("Get the descriptions of {noun}s by id"),
            Object::closed()
                .field("ids", ids(), true)
                .field("format", format(), false)
                .integer("page", false, "Page number, from 1 (default 1).")
                .field("pageSize", page_size(), false)
                .build(),
            of::<Page<ItemDescription>>(),
            json!({"ids": [placeholder]}),
        ),
        Action::Files => (
            "list_files",
            format!("List a {noun}'s file download URLs"),
            one().build(),
            list(of::<FileUrl>()),
            json!({"id": placeholder}),
        ),
        Action::Patch => (
            "patch",
            format!("Change a {noun} (JSON Patch)"),
            one()
                .field(
                    "body",
                    {
                        let mut ops = list(of::<PatchOp>());
                        ops["minItems"] = json!(1);
                        ops["description"] = json!(
                            "RFC 6902 operations on /name, /dueDate, /completedDate, /archived or /description; a `test` first makes the change conditional (409 when it fails)."
                        );
                        ops
                    },
                    true,
                )
                .build(),
            of::<WorkItem>(),
            json!({"id": placeholder, "body": [{"op": "replace", "path": "/dueDate", "value": "2027-01-15T10:00:00Z"}]}),
        ),
    };
    Description::new(
        format!("lytho.{noun}s.{verb}"),
        title,
        input,
        output,
        example,
    )
}

/// One polling trigger as the catalog shows it.
#[derive(Debug, Clone)]
pub struct Trigger {
    /// The catalog id, `lytho.trigger.<type>_modified`.
    pub id: String,
    /// The item type polled.
    pub item_type: ItemType,
    /// A few words.
    pub title: String,
    /// When it fires and what to know.
    pub description: String,
    /// JSON Schema of the event: the item as read.
    pub output: Value,
}

/// A polling trigger per item type: Lytho sends no webhooks.
pub fn triggers() -> Vec<Trigger> {
    ItemType::ALL
        .into_iter()
        .map(|t| Trigger {
            id: format!("lytho.trigger.{t}_modified"),
            item_type: t,
            title: format!("{} created or changed", capitalised(t.as_str())),
            description: format!(
                "Fires for each {t} whose modifiedDate moved since the last poll (every `[worker] lytho_poll_every_secs`, 60 s by default). Lytho has no webhooks; a poll costs 1 + ceil(items / 30) requests, and an item without modifiedDate is reported on every poll."
            ),
            output: of::<WorkItem>(),
        })
        .collect()
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OPERATIONS;

    #[test]
    fn every_operation_has_its_own_id_and_its_parameters() {
        let mut seen = std::collections::BTreeSet::new();
        for op in OPERATIONS {
            let d = describe(op);
            assert!(seen.insert(d.id.clone()), "{} twice", d.id);
            let props = d.input["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for key in props.keys() {
                let known = op.path_params.contains(&key.as_str())
                    || op.query_params.contains(&key.as_str())
                    || key == "body";
                assert!(known, "{}: `{key}` is not a parameter", op.id);
            }
            for p in op.path_params {
                assert!(props.contains_key(*p), "{}: {p} missing", op.id);
            }
        }
        assert_eq!(seen.len(), OPERATIONS.len());
    }

    #[test]
    fn one_polling_trigger_per_item_type() {
        let ids: Vec<String> = triggers().into_iter().map(|t| t.id).collect();
        assert_eq!(ids.len(), 5);
        assert!(ids.contains(&"lytho.trigger.task_modified".to_owned()));
        assert!(ids.contains(&"lytho.trigger.workrequest_modified".to_owned()));
    }
}
