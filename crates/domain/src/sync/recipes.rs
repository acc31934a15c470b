//! The sync files that ship in the binary (`crates/domain/recipes/*.toml`).

use super::file::{SyncFile, SyncFileError, SyncSpec};
use super::registry::Registry;

/// (id, file name, TOML) of every recipe.
pub const RECIPES: &[(&str, &str, &str)] = &[
    (
        "lofty-ghl-contacts",
        "lofty-ghl-contacts.toml",
        include_str!("../../recipes/lofty-ghl-contacts.toml"),
    ),
    (
        "lofty-ghl-tasks",
        "lofty-ghl-tasks.toml",
        include_str!("../../recipes/lofty-ghl-tasks.toml"),
    ),
    (
        "lofty-ghl-notes",
        "lofty-ghl-notes.toml",
        include_str!("../../recipes/lofty-ghl-notes.toml"),
    ),
    (
        "ghl-lofty-appointments",
        "ghl-lofty-appointments.toml",
        include_str!("../../recipes/ghl-lofty-appointments.toml"),
    ),
    (
        "lofty-ghl-appointments",
        "lofty-ghl-appointments.toml",
        include_str!("../../recipes/lofty-ghl-appointments.toml"),
    ),
    (
        "lytho-ghl-contacts",
        "lytho-ghl-contacts.toml",
        include_str!("../../recipes/lytho-ghl-contacts.toml"),
    ),
    (
        "lytho-ghl-tasks",
        "lytho-ghl-tasks.toml",
        include_str!("../../recipes/lytho-ghl-tasks.toml"),
    ),
    (
        "ghl-lytho-tasks",
        "ghl-lytho-tasks.toml",
        include_str!("../../recipes/ghl-lytho-tasks.toml"),
    ),
    (
        "ghl-lytho-appointments",
        "ghl-lytho-appointments.toml",
        include_str!("../../recipes/ghl-lytho-appointments.toml"),
    ),
    (
        "ghl-lytho-notes",
        "ghl-lytho-notes.toml",
        include_str!("../../recipes/ghl-lytho-notes.toml"),
    ),
    (
        "lytho-ghl-comments",
        "lytho-ghl-comments.toml",
        include_str!("../../recipes/lytho-ghl-comments.toml"),
    ),
];

/// What each recipe cannot do, shown where it is switched on (docs/RECIPES.md
/// says more): (id, limits).
pub const LIMITS: &[(&str, &[&str])] = &[
    (
        "lofty-ghl-contacts",
        &[
            "GHL contacts tagged `lytho` are left out by its [filter] (edit it to sync them).",
            "Custom fields pair by key and are read when the flow is enabled: enable it again after adding one.",
        ],
    ),
    (
        "lofty-ghl-tasks",
        &[
            "GHL sends no webhook when a task is edited or reopened: such changes reach Lofty on the next task walk (every 5 minutes by default).",
            "A task waits for its contact to be linked by lofty-ghl-contacts.",
        ],
    ),
    (
        "lofty-ghl-notes",
        &[
            "Lofty cuts notes at 2,000 characters: a longer GHL note becomes several Lofty notes marked [k/n].",
            "GHL's note webhooks carry no update time: the event's time stands in for it.",
        ],
    ),
    (
        "ghl-lofty-appointments",
        &[
            "Lofty refuses appointments in the past: such a GHL appointment is skipped (once, saying so).",
            "One way: a change made to the Lofty copy is not carried back.",
        ],
    ),
    (
        "lofty-ghl-appointments",
        &[
            "A GHL appointment needs a calendar: the location's first one unless `[ghl.calendars]` names one.",
            "One way: a change made to the GHL copy is not carried back.",
        ],
    ),
    (
        "lytho-ghl-contacts",
        &[
            "Lytho has no contacts API and sends no webhooks: its people are read by polling (every 60 s by default).",
            "Lytho creates nothing: one way, into GHL (tagged `lytho`).",
        ],
    ),
    (
        "lytho-ghl-tasks",
        &[
            "Lytho sends no webhooks: changes arrive by polling (every 60 s by default).",
            "Lytho creates nothing: a GHL task is never created in Lytho; only completion goes back.",
        ],
    ),
    (
        "ghl-lytho-tasks",
        &[
            "Replaces lytho-ghl-tasks (disable that one first).",
            "Lytho creates nothing: GHL's title, due date and completion are written back to tasks Lytho made.",
        ],
    ),
    (
        "ghl-lytho-appointments",
        &[
            "Lytho has no calendar: a GHL appointment sets the due date of its person's newest open Lytho task.",
        ],
    ),
    (
        "ghl-lytho-notes",
        &[
            "Lytho has no notes and its comments are read-only: a GHL note is written into its person's newest open Lytho task's description.",
        ],
    ),
    (
        "lytho-ghl-comments",
        &["Lytho's comments are read-only: one way, Lytho comments become GHL notes."],
    ),
];

/// What recipe `id` cannot do (empty for a file that is not a recipe).
pub fn limits(id: &str) -> &'static [&'static str] {
    LIMITS.iter().find(|l| l.0 == id).map_or(&[], |l| l.1)
}

/// The TOML of recipe `id`.
pub fn source(id: &str) -> Option<&'static str> {
    RECIPES.iter().find(|r| r.0 == id).map(|r| r.2)
}

/// Recipe `id`, built against `registry`.
pub fn load(id: &str, registry: &Registry) -> Option<Result<SyncSpec, SyncFileError>> {
    RECIPES
        .iter()
        .find(|r| r.0 == id)
        .map(|(_, file, text)| SyncFile::load(file, text, registry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recipe_names_its_limits() {
        for (id, _, _) in RECIPES {
            assert!(!limits(id).is_empty(), "recipe {id} has no limits listed");
        }
        assert_eq!(LIMITS.len(), RECIPES.len());
    }

    #[test]
    fn every_recipe_builds_and_children_name_a_shipped_parent() {
        let registry = Registry::default();
        for (id, _, _) in RECIPES {
            let spec = load(id, &registry)
                .expect("listed")
                .unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(spec.id, *id);
            if let Some(parent) = &spec.parent {
                assert!(
                    RECIPES.iter().any(|r| r.0 == parent.flow),
                    "{id}: parent {} is not a recipe",
                    parent.flow
                );
                assert!(spec.keys.is_empty(), "{id}: a child is never matched");
            }
        }
    }

    #[test]
    fn a_child_sync_may_not_also_match() {
        let text = source("lofty-ghl-tasks").unwrap().replace(
            "[parent]",
            "[match]\nkeys = [{ left = \"title\", right = \"content\" }]\n\n[parent]",
        );
        let err = SyncFile::load("t.toml", text.as_str(), &Registry::default()).unwrap_err();
        assert!(err.message.contains("never matched"), "{err}");
        let text = source("lofty-ghl-tasks")
            .unwrap()
            .replace("right = \"leadId\"", "right = \"noSuchField\"");
        let err = SyncFile::load("t.toml", text.as_str(), &Registry::default()).unwrap_err();
        assert!(err.message.contains("[parent] right"), "{err}");
        assert!(err.message.contains("leadId"), "names the fields: {err}");
    }

    #[test]
    fn the_lofty_recipe_leaves_the_lytho_team_out_and_a_filter_names_its_line() {
        use serde_json::json;
        let registry = Registry::default();
        let lofty = load("lofty-ghl-contacts", &registry).unwrap().unwrap();
        let tagged = json!({"email": "ann@example.com", "tags": ["vip", "lytho"]});
        let other = json!({"email": "bo@example.com", "tags": ["vip"]});
        let untagged = json!({"email": "cy@example.com"});
        assert_eq!(lofty.passes(crate::sync::Side::Left, &tagged), Ok(false));
        assert_eq!(lofty.passes(crate::sync::Side::Left, &other), Ok(true));
        assert_eq!(lofty.passes(crate::sync::Side::Left, &untagged), Ok(true));
        // No right filter: every Lofty lead passes.
        assert_eq!(lofty.passes(crate::sync::Side::Right, &tagged), Ok(true));
        let text = source("lofty-ghl-contacts")
            .unwrap()
            .replace("not in (record.tags or [])", "not in (record.tags or [)");
        let err = SyncFile::load("c.toml", text.as_str(), &registry).unwrap_err();
        let line = text.lines().position(|l| l == "[filter]").unwrap() + 1;
        assert_eq!(err.line, line, "{err}");
        assert!(err.message.contains("[filter] left"), "{err}");
    }

    #[test]
    fn lytho_recipes_tag_the_people_say_who_commented_and_can_archive_on_completion() {
        use serde_json::json;
        let registry = Registry::default();
        let contacts = load("lytho-ghl-contacts", &registry).unwrap().unwrap();
        let user = json!({"id": 7, "email": "ann@example.com", "firstName": "Ann", "lastName": "Lee", "active": true});
        let plan = crate::sync::plan(&contacts, &json!({}), &user, None, Default::default());
        let left = plan.patch(crate::sync::Side::Left);
        assert_eq!(left.get("tags"), Some(&json!(["lytho"])), "{left:?}");
        assert_eq!(left.get("firstName"), Some(&json!("Ann")));
        assert!(plan.patch(crate::sync::Side::Right).is_empty(), "one way");

        let comments = load("lytho-ghl-comments", &registry).unwrap().unwrap();
        let comment = json!({"id": "task-1-2", "itemType": "task", "itemName": "Brochure <v2>",
            "comment": "<p>Looks good</p>", "firstName": "Bo", "lastName": null, "users": [{"id": 7}]});
        let plan = crate::sync::plan(&comments, &json!({}), &comment, None, Default::default());
        assert_eq!(
            plan.patch(crate::sync::Side::Left).get("body"),
            Some(&json!(
                "<p>Bo on Lytho task \"Brochure &lt;v2&gt;\":</p><p>Looks good</p>"
            ))
        );
        let parent = comments.parent.as_ref().unwrap();
        assert_eq!(
            parent.path(crate::sync::Side::Right).get(&comment),
            json!(7)
        );

        // The archive rule, switched on: completion reaches both Lytho fields.
        let text = source("lytho-ghl-tasks")
            .unwrap()
            .replace("# [[field]]\n# name", "[[field]]\nname")
            .replace(
                "# left = \"completed\"\n# right = \"archived\"\n# direction",
                "left = \"completed\"\nright = \"archived\"\ndirection",
            );
        let tasks = SyncFile::load("t.toml", &text, &registry).unwrap();
        let ghl = json!({"id": "t1", "title": "Brochure", "completed": true});
        let lytho = json!({"id": 5, "name": "Brochure", "completed": false, "archived": false});
        let shadow_plan = crate::sync::plan(&tasks, &ghl, &lytho, None, Default::default());
        let right = shadow_plan.patch(crate::sync::Side::Right);
        assert_eq!(right.get("completed"), Some(&json!(true)), "{right:?}");
        assert_eq!(right.get("archived"), Some(&json!(true)), "{right:?}");
    }
}
