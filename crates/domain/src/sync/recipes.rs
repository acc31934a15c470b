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
];

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
}
