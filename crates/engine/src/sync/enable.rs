//! Switching a flow on: the file, the connections' systems and scopes checked first.

use domain::sync::{OnNone, Registry, Side, SyncFile};
use store::{FlowRow, Store, StoreError};

/// Why a flow cannot be enabled (each names the fix).
#[derive(Debug, thiserror::Error)]
pub enum EnableError {
    #[error("{0}")]
    File(#[from] domain::sync::SyncFileError),
    #[error("there is no recipe `{0}`; the recipes are: {1}")]
    NoRecipe(String, String),
    #[error("connection `{0}` does not exist (see `ghlsync connections`)")]
    NoConnection(String),
    #[error("connection `{id}` is a {system} connection, but the flow's {side} side is {object}")]
    WrongSystem {
        id: String,
        system: String,
        side: Side,
        object: String,
    },
    #[error(
        "connection `{id}` lacks the scope {scope}, which this flow's writes to GHL need (it has: {has}); reconnect with it: ghlsync connect ghl --scopes \"{wanted}\""
    )]
    MissingScope {
        id: String,
        scope: String,
        has: String,
        wanted: String,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Enables recipe or sync file `file` (TOML; id from its `[sync]`) between two
/// connections (ids or names). Checks the file, the connections' systems and the
/// scopes its writes need before anything is stored.
pub async fn enable(
    store: &Store,
    file: &str,
    left: &str,
    right: &str,
) -> Result<FlowRow, EnableError> {
    let parsed = SyncFile::parse("flow.toml", file)?;
    let spec = parsed.build(
        &format!("{}.toml", parsed.sync.id),
        file,
        &Registry::default(),
    )?;
    let mut ids = Vec::new();
    for (side, wanted) in [(Side::Left, left), (Side::Right, right)] {
        let conn = store
            .find_connection(wanted)
            .await?
            .ok_or_else(|| EnableError::NoConnection(wanted.to_owned()))?;
        let object = spec.object(side).name;
        let system = object.split('.').next().unwrap_or_default();
        if conn.system.as_str() != system {
            return Err(EnableError::WrongSystem {
                id: conn.id.clone(),
                system: conn.system.as_str().to_owned(),
                side,
                object: object.to_owned(),
            });
        }
        // Writes to GHL contacts need contacts.write (reads need contacts.readonly).
        let writes = spec.fields.iter().any(|f| f.toward(side.other()).is_some())
            || spec.on_none == OnNone::Create;
        if system == "ghl" {
            let mut needed = vec!["contacts.readonly"];
            if writes {
                needed.push("contacts.write");
            }
            let has: Vec<&str> = conn.scopes.split_whitespace().collect();
            if let Some(missing) = needed.iter().find(|s| !has.contains(s)) {
                let mut wanted: Vec<&str> = has.clone();
                for s in &needed {
                    if !wanted.contains(s) {
                        wanted.push(s);
                    }
                }
                return Err(EnableError::MissingScope {
                    id: conn.id.clone(),
                    scope: (*missing).to_owned(),
                    has: if has.is_empty() {
                        "none".to_owned()
                    } else {
                        has.join(" ")
                    },
                    wanted: wanted.join(" "),
                });
            }
        }
        ids.push(conn.id);
    }
    let row = FlowRow {
        id: spec.id.clone(),
        file: file.to_owned(),
        left_connection: ids[0].clone(),
        right_connection: ids[1].clone(),
        enabled: true,
        created_at: store.now(),
        updated_at: store.now(),
    };
    store.put_flow(&row).await?;
    Ok(row)
}

/// Enables a recipe that ships in the binary.
pub async fn enable_recipe(
    store: &Store,
    recipe: &str,
    left: &str,
    right: &str,
) -> Result<FlowRow, EnableError> {
    let text = domain::sync::recipes::source(recipe).ok_or_else(|| {
        EnableError::NoRecipe(
            recipe.to_owned(),
            domain::sync::recipes::RECIPES
                .iter()
                .map(|r| r.0)
                .collect::<Vec<_>>()
                .join(", "),
        )
    })?;
    enable(store, text, left, right).await
}
