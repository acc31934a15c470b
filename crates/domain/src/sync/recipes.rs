//! The sync files that ship in the binary (`crates/domain/recipes/*.toml`).

use super::file::{SyncFile, SyncFileError, SyncSpec};
use super::registry::Registry;

/// (id, file name, TOML) of every recipe.
pub const RECIPES: &[(&str, &str, &str)] = &[(
    "lofty-ghl-contacts",
    "lofty-ghl-contacts.toml",
    include_str!("../../recipes/lofty-ghl-contacts.toml"),
)];

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
