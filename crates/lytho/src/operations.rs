//! The static table of Lytho Workflow Open API v1 operations.
//!
//! Each [`Operation`] says how to call one endpoint: method, path template (relative
//! to the `/v1` base) with `{id}` placeholders, which input keys are path or query
//! parameters, query defaults, and whether it takes a JSON-Patch body.
//! [`LythoClient::call`](crate::LythoClient::call) and every typed method use this
//! table, so one place knows the wire shape of each endpoint.
//!
//! Ids read `lytho-<verb>-<noun>`: `lytho-get-task`, `lytho-get-tasks` (batch by
//! ids), `lytho-search-tasks`, `lytho-get-task-users`, `lytho-get-task-comments`,
//! `lytho-get-task-description(s)`, `lytho-get-task-files`,
//! `lytho-get-workrequest-deliverablefiles`, `lytho-patch-task`.
//!
//! Not in the table, because Lytho has no such endpoint: creating anything,
//! contacts, a global user list, appointments, writing comments, webhooks. User
//! preferences (`/preference`) are left out: their shape is undocumented and no
//! sync needs them.

pub use wire::Method;

/// The five item types, the `{type}` of Lytho's `/{type}/...` routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ItemType {
    /// `workrequest`
    WorkRequest,
    /// `task`
    Task,
    /// `project`
    Project,
    /// `proof`
    Proof,
    /// `campaign`
    Campaign,
}

impl ItemType {
    /// Every type.
    pub const ALL: [ItemType; 5] = [
        ItemType::WorkRequest,
        ItemType::Task,
        ItemType::Project,
        ItemType::Proof,
        ItemType::Campaign,
    ];

    /// The path segment and operation-id noun (`workrequest`, `task`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WorkRequest => "workrequest",
            Self::Task => "task",
            Self::Project => "project",
            Self::Proof => "proof",
            Self::Campaign => "campaign",
        }
    }

    /// Parses a path segment, ignoring case.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(text))
    }

    /// Work requests have no description endpoints, and their files are
    /// "deliverable files".
    pub fn has_description(self) -> bool {
        self != Self::WorkRequest
    }

    /// The operation of this type for an action (`None` when the type has none,
    /// like descriptions of work requests).
    pub fn operation(self, action: Action) -> Option<&'static Operation> {
        OPERATIONS
            .iter()
            .find(|op| op.item_type == self && op.action == action)
    }
}

impl std::fmt::Display for ItemType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an operation does, independent of the item type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `GET /{type}/{id}`
    Get,
    /// `GET /{type}?ids=&page=&pageSize=`
    GetMany,
    /// `GET /{type}/search`
    Search,
    /// `GET /{type}/{id}/users`
    Users,
    /// `GET /{type}/{id}/comments`
    Comments,
    /// `GET /{type}/{id}/description`
    Description,
    /// `GET /{type}/descriptions`
    Descriptions,
    /// `GET /{type}/{id}/files/urls` (`deliverablefiles/urls` for work requests)
    Files,
    /// `PATCH /{type}/{id}`
    Patch,
}

/// What kind of request body an operation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body.
    None,
    /// An RFC 6902 document (a JSON array) sent as `application/json-patch+json`.
    JsonPatch,
}

/// One Lytho endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// `lytho-<verb>-<noun>`, used as the action name.
    pub id: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Path template relative to the API base (`.../v1`), with `{id}` placeholders.
    pub path: &'static str,
    /// The item type the operation is about.
    pub item_type: ItemType,
    /// What it does.
    pub action: Action,
    /// Input keys filling placeholders of [`Operation::path`].
    pub path_params: &'static [&'static str],
    /// Input keys sent as query parameters (arrays repeat the key).
    pub query_params: &'static [&'static str],
    /// Query parameters sent with this value when the input has none. Lytho marks
    /// `page` and `pageSize` of batch gets required, with documented defaults.
    pub query_defaults: &'static [(&'static str, &'static str)],
    /// Body kind; the body is the input's `"body"` array.
    pub body: BodyKind,
    /// One line saying what the operation does.
    pub summary: &'static str,
}

impl Operation {
    /// Whether the operation only reads.
    pub fn is_read_only(&self) -> bool {
        self.method == Method::Get
    }
}

/// Finds an operation by id.
pub fn find(id: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.id == id)
}

const ID: &[&str] = &["id"];
const NONE: &[&str] = &[];
const NO_DEFAULTS: &[(&str, &str)] = &[];
const PAGE_DEFAULTS: &[(&str, &str)] = &[("page", "1"), ("pageSize", "10")];

#[allow(clippy::too_many_arguments)]
const fn row(
    id: &'static str,
    method: Method,
    path: &'static str,
    item_type: ItemType,
    action: Action,
    path_params: &'static [&'static str],
    query_params: &'static [&'static str],
    query_defaults: &'static [(&'static str, &'static str)],
    body: BodyKind,
    summary: &'static str,
) -> Operation {
    Operation {
        id,
        method,
        path,
        item_type,
        action,
        path_params,
        query_params,
        query_defaults,
        body,
        summary,
    }
}

const fn get(id: &'static str, path: &'static str, t: ItemType, s: &'static str) -> Operation {
    row(
        id,
        Method::Get,
        path,
        t,
        Action::Get,
        ID,
        NONE,
        NO_DEFAULTS,
        BodyKind::None,
        s,
    )
}

const fn get_many(id: &'static str, path: &'static str, t: ItemType, s: &'static str) -> Operation {
    row(
        id,
        Method::Get,
        path,
        t,
        Action::GetMany,
        NONE,
        &["ids", "page", "pageSize"],
        PAGE_DEFAULTS,
        BodyKind::None,
        s,
    )
}

const fn search(id: &'static str, path: &'static str, t: ItemType, s: &'static str) -> Operation {
    row(
        id,
        Method::Get,
        path,
        t,
        Action::Search,
        NONE,
        &["name", "isArchived", "operatorMode"],
        NO_DEFAULTS,
        BodyKind::None,
        s,
    )
}

const fn users(id: &'static str, path: &'static str, t: ItemType, s: &'static str) -> Operation {
    row(
        id,
        Method::Get,
        path,
        t,
        Action::Users,
        ID,
        NONE,
        NO_DEFAULTS,
        BodyKind::None,
        s,
    )
}

const fn comments(id: &'static str, path: &'static str, t: ItemType, s: &'static str) -> Operation {
    row(
        id,
        Method::Get,
        path,
        t,
        Action::Comments,
        ID,
        &["format", "page", "pageSize"],
        NO_DEFAULTS,
        BodyKind::None,
        s,
    )
}

const fn description(
    id: &'static str,
    path: &'static str,
    t: ItemType,
    s: &'static str,
) -> Operation {
    row(
        id,
        Method::Get,
        path,
        t,
        Action::Description,
        ID,
        &["format"],
        NO_DEFAULTS,
        BodyKind::None,
        s,
    )
}

const fn descriptions(
    id: &'static str,
    path: &'static str,
    t: ItemType,
    s: &'static str,
) -> Operation {
    row(
        id,
        Method::Get,
        path,
        t,
        Action::Descriptions,
        NONE,
        &["ids", "format", "page", "pageSize"],
        PAGE_DEFAULTS,
        BodyKind::None,
        s,
    )
}

const fn files(id: &'static str, path: &'static str, t: ItemType, s: &'static str) -> Operation {
    row(
        id,
        Method::Get,
        path,
        t,
        Action::Files,
        ID,
        NONE,
        NO_DEFAULTS,
        BodyKind::None,
        s,
    )
}

const fn patch(id: &'static str, path: &'static str, t: ItemType, s: &'static str) -> Operation {
    row(
        id,
        Method::Patch,
        path,
        t,
        Action::Patch,
        ID,
        NONE,
        NO_DEFAULTS,
        BodyKind::JsonPatch,
        s,
    )
}

use ItemType::{Campaign, Project, Proof, Task, WorkRequest};

/// Every operation the client knows (43).
pub static OPERATIONS: &[Operation] = &[
    // ---- work requests ----
    get(
        "lytho-get-workrequest",
        "/workrequest/{id}",
        WorkRequest,
        "Fetch one work request by id.",
    ),
    get_many(
        "lytho-get-workrequests",
        "/workrequest",
        WorkRequest,
        "Fetch work requests by ids, one page at a time (pageSize 10, 20 or 30).",
    ),
    search(
        "lytho-search-workrequests",
        "/workrequest/search",
        WorkRequest,
        "Find work request ids by name (partial) and archived flag.",
    ),
    users(
        "lytho-get-workrequest-users",
        "/workrequest/{id}/users",
        WorkRequest,
        "List the users on a work request.",
    ),
    comments(
        "lytho-get-workrequest-comments",
        "/workrequest/{id}/comments",
        WorkRequest,
        "List a work request's comments (html or plain), paged.",
    ),
    files(
        "lytho-get-workrequest-deliverablefiles",
        "/workrequest/{id}/deliverablefiles/urls",
        WorkRequest,
        "Pre-signed, expiring URLs of a work request's deliverable files.",
    ),
    patch(
        "lytho-patch-workrequest",
        "/workrequest/{id}",
        WorkRequest,
        "Update a work request with an RFC 6902 JSON Patch (409 when a test op fails).",
    ),
    // ---- tasks ----
    get(
        "lytho-get-task",
        "/task/{id}",
        Task,
        "Fetch one task by id.",
    ),
    get_many(
        "lytho-get-tasks",
        "/task",
        Task,
        "Fetch tasks by ids, one page at a time (pageSize 10, 20 or 30).",
    ),
    search(
        "lytho-search-tasks",
        "/task/search",
        Task,
        "Find task ids by name (partial) and archived flag.",
    ),
    users(
        "lytho-get-task-users",
        "/task/{id}/users",
        Task,
        "List the users on a task.",
    ),
    comments(
        "lytho-get-task-comments",
        "/task/{id}/comments",
        Task,
        "List a task's comments (html or plain), paged.",
    ),
    description(
        "lytho-get-task-description",
        "/task/{id}/description",
        Task,
        "Fetch a task's rich-text description (html or plain).",
    ),
    descriptions(
        "lytho-get-task-descriptions",
        "/task/descriptions",
        Task,
        "Fetch the descriptions of many tasks by ids, paged.",
    ),
    files(
        "lytho-get-task-files",
        "/task/{id}/files/urls",
        Task,
        "Pre-signed, expiring URLs of a task's files.",
    ),
    patch(
        "lytho-patch-task",
        "/task/{id}",
        Task,
        "Update a task with an RFC 6902 JSON Patch (409 when a test op fails).",
    ),
    // ---- projects ----
    get(
        "lytho-get-project",
        "/project/{id}",
        Project,
        "Fetch one project by id.",
    ),
    get_many(
        "lytho-get-projects",
        "/project",
        Project,
        "Fetch projects by ids, one page at a time (pageSize 10, 20 or 30).",
    ),
    search(
        "lytho-search-projects",
        "/project/search",
        Project,
        "Find project ids by name (partial) and archived flag.",
    ),
    users(
        "lytho-get-project-users",
        "/project/{id}/users",
        Project,
        "List the users on a project.",
    ),
    comments(
        "lytho-get-project-comments",
        "/project/{id}/comments",
        Project,
        "List a project's comments (html or plain), paged.",
    ),
    description(
        "lytho-get-project-description",
        "/project/{id}/description",
        Project,
        "Fetch a project's rich-text description (html or plain).",
    ),
    descriptions(
        "lytho-get-project-descriptions",
        "/project/descriptions",
        Project,
        "Fetch the descriptions of many projects by ids, paged.",
    ),
    files(
        "lytho-get-project-files",
        "/project/{id}/files/urls",
        Project,
        "Pre-signed, expiring URLs of a project's files.",
    ),
    patch(
        "lytho-patch-project",
        "/project/{id}",
        Project,
        "Update a project with an RFC 6902 JSON Patch (409 when a test op fails).",
    ),
    // ---- proofs ----
    get(
        "lytho-get-proof",
        "/proof/{id}",
        Proof,
        "Fetch one proof by id.",
    ),
    get_many(
        "lytho-get-proofs",
        "/proof",
        Proof,
        "Fetch proofs by ids, one page at a time (pageSize 10, 20 or 30).",
    ),
    search(
        "lytho-search-proofs",
        "/proof/search",
        Proof,
        "Find proof ids by name (partial) and archived flag.",
    ),
    users(
        "lytho-get-proof-users",
        "/proof/{id}/users",
        Proof,
        "List the users on a proof.",
    ),
    comments(
        "lytho-get-proof-comments",
        "/proof/{id}/comments",
        Proof,
        "List a proof's comments (html or plain), paged.",
    ),
    description(
        "lytho-get-proof-description",
        "/proof/{id}/description",
        Proof,
        "Fetch a proof's rich-text description (html or plain).",
    ),
    descriptions(
        "lytho-get-proof-descriptions",
        "/proof/descriptions",
        Proof,
        "Fetch the descriptions of many proofs by ids, paged.",
    ),
    files(
        "lytho-get-proof-files",
        "/proof/{id}/files/urls",
        Proof,
        "Pre-signed, expiring URLs of a proof's files.",
    ),
    patch(
        "lytho-patch-proof",
        "/proof/{id}",
        Proof,
        "Update a proof with an RFC 6902 JSON Patch (409 when a test op fails).",
    ),
    // ---- campaigns ----
    get(
        "lytho-get-campaign",
        "/campaign/{id}",
        Campaign,
        "Fetch one campaign by id.",
    ),
    get_many(
        "lytho-get-campaigns",
        "/campaign",
        Campaign,
        "Fetch campaigns by ids, one page at a time (pageSize 10, 20 or 30).",
    ),
    search(
        "lytho-search-campaigns",
        "/campaign/search",
        Campaign,
        "Find campaign ids by name (partial) and archived flag.",
    ),
    users(
        "lytho-get-campaign-users",
        "/campaign/{id}/users",
        Campaign,
        "List the users on a campaign.",
    ),
    comments(
        "lytho-get-campaign-comments",
        "/campaign/{id}/comments",
        Campaign,
        "List a campaign's comments (html or plain), paged.",
    ),
    description(
        "lytho-get-campaign-description",
        "/campaign/{id}/description",
        Campaign,
        "Fetch a campaign's rich-text description (html or plain).",
    ),
    descriptions(
        "lytho-get-campaign-descriptions",
        "/campaign/descriptions",
        Campaign,
        "Fetch the descriptions of many campaigns by ids, paged.",
    ),
    files(
        "lytho-get-campaign-files",
        "/campaign/{id}/files/urls",
        Campaign,
        "Pre-signed, expiring URLs of a campaign's files.",
    ),
    patch(
        "lytho-patch-campaign",
        "/campaign/{id}",
        Campaign,
        "Update a campaign with an RFC 6902 JSON Patch (409 when a test op fails).",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashSet};

    #[test]
    fn table_is_consistent() {
        assert_eq!(OPERATIONS.len(), 43);
        let mut ids = HashSet::new();
        let mut routes = HashSet::new();
        for op in OPERATIONS {
            assert!(ids.insert(op.id), "duplicate id {}", op.id);
            assert!(
                routes.insert((op.method, op.path)),
                "duplicate route {}",
                op.path
            );
            assert!(op.id.starts_with("lytho-"), "{}", op.id);
            let noun = op.item_type.as_str();
            assert!(op.id.contains(noun), "{} names its type", op.id);
            assert!(
                op.path.starts_with(&format!("/{noun}")),
                "{} path {}",
                op.id,
                op.path
            );
            let placeholders: BTreeSet<&str> = op
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            let declared: BTreeSet<&str> = op.path_params.iter().copied().collect();
            assert_eq!(placeholders, declared, "{}", op.id);
            for (k, _) in op.query_defaults {
                assert!(op.query_params.contains(k), "{} default {k}", op.id);
            }
            assert_eq!(op.body == BodyKind::JsonPatch, op.method == Method::Patch);
            assert!(!op.summary.is_empty());
            assert_eq!(find(op.id), Some(op));
        }
        // Every type has every action, except descriptions of work requests.
        for t in ItemType::ALL {
            for a in [
                Action::Get,
                Action::GetMany,
                Action::Search,
                Action::Users,
                Action::Comments,
                Action::Files,
                Action::Patch,
            ] {
                assert!(t.operation(a).is_some(), "{t} {a:?}");
            }
            for a in [Action::Description, Action::Descriptions] {
                assert_eq!(t.operation(a).is_some(), t.has_description(), "{t} {a:?}");
            }
        }
        assert_eq!(
            ItemType::Task.operation(Action::Search).map(|o| o.id),
            Some("lytho-search-tasks")
        );
        assert_eq!(ItemType::parse("WorkRequest"), Some(ItemType::WorkRequest));
        assert!(find("lytho-create-task").is_none());
    }
}
